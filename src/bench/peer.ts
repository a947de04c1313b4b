import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import type * as FaceApi from '@vladmandic/face-api';
import type { FacegateConfig } from '../config/schema.js';
import { chooseBackend } from '../model/backend.js';
import { faceApiModelDir } from '../training/peer-faceapi.js';
import type { Logger } from '../util/log.js';
import type { GrayImage } from '../vision/image.js';
import type { ApproachScript } from './approaches.js';
import type { ProcessProbe } from './real-path.js';

/**
 * face-api.js's own pipelines, timed on the bench's frames (issue #14): Tiny Face Detector at
 * input size 416 and SSD MobileNet v1 (minConfidence 0.5, face-api.js defaults), each
 * followed by the 68-point landmark net and the ResNet-34 descriptor for every face found
 * (`detectAllFaces(...).withFaceLandmarks().withFaceDescriptors()`). Loaded from
 * `@vladmandic/face-api`'s node-wasm build and `model/` folder, on the same @tensorflow/tfjs
 * engine and backend facegate used in the same process.
 */

export interface PeerRow {
  readonly name: string;
  readonly ms_per_frame: number;
  readonly cpu_ms_per_frame: number;
  /** Share of the frames in which a face was found (a pipeline that finds none is cheap but useless). */
  readonly face_frames: number;
  /** This row's ms per frame ÷ facegate's (the throughput phase of the same run). */
  readonly facegate_speedup?: number;
}

export interface PeerReport {
  readonly frames: number;
  readonly backend: string;
  readonly rows: readonly PeerRow[];
}

export interface PeerOptions {
  readonly config: FacegateConfig;
  readonly script: ApproachScript;
  /** Frames each pipeline runs (spread evenly over the script, so the same share have a face). */
  readonly frames: number;
  /** facegate's ms and CPU ms per frame on the same kind of frames (throughput phase). */
  readonly facegate: {
    readonly msPerFrame: number;
    readonly cpuMsPerFrame: number;
    readonly faceFrames: number;
  };
  readonly logger: Logger;
  readonly probe: ProcessProbe;
}

const requireHere = createRequire(import.meta.url);

/** [h, w, 3] int32, the gray value in all three channels. */
function toRgbTensor(image: GrayImage): tf.Tensor3D {
  return tf.tidy(() => tf.tile(tf.tensor3d(image.data, [image.height, image.width, 1], 'int32'), [1, 1, 3]));
}

/** Times Tiny-416 and SSD (each + landmarks + descriptor) over frames picked evenly from the script. */
export async function runPeer(o: PeerOptions): Promise<PeerReport> {
  await chooseBackend(o.config.model.tfBackend, o.logger);
  const api = requireHere('@vladmandic/face-api/dist/face-api.node-wasm.js') as typeof FaceApi;
  if ((api.tf as unknown as typeof tf).engine() !== tf.engine())
    throw new Error('@vladmandic/face-api loaded a second TensorFlow.js: the comparison would not be fair');
  const dir = faceApiModelDir();
  for (const net of [
    api.nets.tinyFaceDetector,
    api.nets.ssdMobilenetv1,
    api.nets.faceLandmark68Net,
    api.nets.faceRecognitionNet,
  ])
    if (!net.isLoaded) await net.loadFromDisk(dir);
  const step = Math.max(1, Math.floor(o.script.length / o.frames));
  const images = Array.from({ length: o.frames }, (_, i) => o.script.render((i * step) % o.script.length));
  const pipelines: [string, FaceApi.TinyFaceDetectorOptions | FaceApi.SsdMobilenetv1Options][] = [
    ['face-api.js Tiny-416 + landmarks + descriptor', new api.TinyFaceDetectorOptions({ inputSize: 416 })],
    ['face-api.js SSD + landmarks + descriptor', new api.SsdMobilenetv1Options({ minConfidence: 0.5 })],
  ];
  const rows: PeerRow[] = [
    {
      name: 'facegate',
      ms_per_frame: o.facegate.msPerFrame,
      cpu_ms_per_frame: o.facegate.cpuMsPerFrame,
      face_frames: o.facegate.faceFrames,
    },
  ];
  for (const [name, options] of pipelines) {
    const run = async (image: GrayImage) => {
      const input = toRgbTensor(image);
      try {
        const found = await api
          .detectAllFaces(input as unknown as FaceApi.TNetInput, options)
          .withFaceLandmarks()
          .withFaceDescriptors();
        return found.length > 0 ? 1 : 0;
      } finally {
        input.dispose();
      }
    };
    for (const image of images.slice(0, 3)) await run(image); // warm-up: kernels compiled, weights uploaded
    let faces = 0;
    const c0 = o.probe.cpuUs();
    const t0 = performance.now();
    for (const image of images) faces += await run(image);
    const ms = (performance.now() - t0) / images.length;
    const cpu = (o.probe.cpuUs() - c0) / 1000 / images.length;
    rows.push({
      name,
      ms_per_frame: Math.round(ms * 10) / 10,
      cpu_ms_per_frame: Math.round(cpu * 10) / 10,
      face_frames: Math.round((faces / images.length) * 100) / 100,
      facegate_speedup: Math.round((ms / o.facegate.msPerFrame) * 10) / 10,
    });
  }
  return { frames: images.length, backend: tf.getBackend(), rows };
}
