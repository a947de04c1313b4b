import type { Embedder } from '../../src/model/embedder.js';
import { createGrayImage, type Box, type GrayImage } from '../../src/vision/image.js';
import { DEFAULT_PREPROCESS, type PreprocessOptions } from '../../src/vision/preprocess.js';

/**
 * A face path small enough for in-process app tests, through the REAL quality gate and
 * FaceCropper (box geometry): each "person" is a textured square of their own brightness in the
 * middle of the frame; the fake detector finds that square; the fake embedder turns a
 * crop into [mean brightness / 10, 1]. Strangers are brightness levels nobody enrolled.
 */

/** Where the fake face sits in a 320x240 frame (centred, 120 px: passes the default quality gate). */
export const FAKE_FACE_BOX: Box = { x: 100, y: 60, width: 120, height: 120 };

/** Plain crop (no margins, no equalisation) so the crop keeps the face's brightness. */
export const FAKE_FACE_PREPROCESS: PreprocessOptions = {
  ...DEFAULT_PREPROCESS,
  size: 8,
  marginX: 0,
  marginTop: 0,
  marginBottom: 0,
  equalize: false,
};

/**
 * A 320x240 frame; with `level` (16..239) a face of that mean brightness at FAKE_FACE_BOX,
 * without: an empty scene. Pixel 0 is 1 when there is a face, 0 otherwise (the detector's cue).
 */
export function fakeFaceFrame(level: number | null, width = 320, height = 240): GrayImage {
  const data = new Uint8Array(width * height);
  let s = 987654321;
  const rand = (): number => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s >>> 24;
  };
  for (let i = 0; i < data.length; i++) data[i] = 100 + (rand() % 40);
  if (level !== null) {
    const b = FAKE_FACE_BOX;
    for (let y = b.y; y < b.y + b.height; y++) {
      for (let x = b.x; x < b.x + b.width; x++) {
        // ±15 around the level: sharp texture, mean = level
        data[y * width + x] = level - 15 + (rand() % 31);
      }
    }
  }
  data[0] = level === null ? 0 : 1;
  return createGrayImage(width, height, data);
}

/** Finds FAKE_FACE_BOX on frames whose pixel 0 is non-zero. */
export class FakeFaceDetector {
  readonly name = 'fake-face-detector';
  calls = 0;
  stopped = false;
  async detect(image: GrayImage): Promise<Box[]> {
    this.calls++;
    return image.data[0] === 0 ? [] : [{ ...FAKE_FACE_BOX }];
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/** The embedding a face of `level` gets (what to enroll for that person). */
export function fakeEmbeddingFor(level: number): Float32Array {
  return Float32Array.of(level / 10, 1);
}

/** [mean brightness / 10, 1]: the same person embeds the same, two levels 50 apart are far apart. */
export class BrightnessEmbedder implements Embedder {
  readonly modelId = 'fake-brightness-v1';
  readonly dimension = 2;
  readonly inputSize = FAKE_FACE_PREPROCESS.size;
  /** The crop it declares: the plain box crop (the FaceCropper cuts it; no landmarks). */
  readonly crop = { kind: 'box' as const, ...FAKE_FACE_PREPROCESS };
  readonly head = { weight: -10, bias: 5 };
  disposed = false;
  batches = 0;
  async embed(faces: readonly GrayImage[]): Promise<Float32Array[]> {
    this.batches++;
    return faces.map((f) => {
      let sum = 0;
      for (const v of f.data) sum += v;
      return Float32Array.of(sum / f.data.length / 10, 1);
    });
  }
  dispose(): void {
    this.disposed = true;
  }
}

/** A 64x64 stored crop for enrolling a fake person straight into a GalleryStore. */
export function fakeCrop(level: number): GrayImage {
  return createGrayImage(64, 64, new Uint8Array(64 * 64).fill(level));
}
