import type { ModelConfig } from '../model/config.js';
import type { AlignmentFallback } from '../vision/face-cropper.js';
import type { Box, FaceRegion } from '../vision/image.js';

/**
 * Messages between the live loop's FaceWorker (main thread) and the face worker thread
 * (face-worker-thread.ts). Plain structured-clone data; frame pixels are copied into one of
 * the client's reused SharedArrayBuffer slots (no allocation, no clone per frame), the
 * embeddings come back as one transferred buffer.
 */

/** workerData: what the worker loads (the same folders the daemon's own model and cropper come from). */
export interface FaceWorkerInit {
  readonly model: ModelConfig;
  /** vision.landmarks.model */
  readonly landmarkDir: string;
  /** The model id the main thread loaded: the worker refuses to run with other weights. */
  readonly expectModelId: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export interface EncodeRequest {
  readonly type: 'encode';
  readonly id: number;
  readonly width: number;
  readonly height: number;
  /** The frame's pixels in the first width x height bytes (the client's slot; untouched until the reply). */
  readonly pixels: SharedArrayBuffer;
  readonly faces: readonly Box[];
}

/** One face as the FaceCropper cut it (the model input stays in the worker). */
export interface EncodedCrop {
  readonly region: FaceRegion;
  readonly alignment: 'landmarks' | 'box';
  readonly fallback?: AlignmentFallback;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly modelId: string; readonly backend: string }
  | { readonly type: 'fatal'; readonly error: string }
  | {
      readonly type: 'encoded';
      readonly id: number;
      readonly crops: readonly EncodedCrop[];
      /** One buffer of crops.length x dimension float32 (transferred). */
      readonly embeddings: ArrayBuffer;
      readonly dimension: number;
      /** Wall ms of the crop (landmarks + alignment) and of the embedding, in the worker. */
      readonly alignMs: number;
      readonly embedMs: number;
      /** tf.memory().numTensors in the worker after this request. */
      readonly tensors: number;
    }
  | {
      readonly type: 'failed';
      readonly id: number;
      readonly stage: 'align' | 'embed';
      readonly error: string;
    };
