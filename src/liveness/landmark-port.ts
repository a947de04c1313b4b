import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { LandmarkPort } from './evaluate-run.js';

/**
 * INTERIM landmarks for `evaluate --liveness` until the live path's landmarker (#9.1, align)
 * is in main: face-api.js's 68-point net from `@vladmandic/face-api` (already a dependency;
 * its node-wasm build, which brings its own TF.js module instance) on the square around the
 * Haar box. Evaluation only; the daemon takes its landmarks from the FaceCropper.
 */
interface FaceApiLandmarks {
  readonly positions: readonly { readonly _x: number; readonly _y: number }[];
  readonly imageWidth: number;
  readonly imageHeight: number;
}

interface FaceApiModule {
  FaceLandmark68Net: new () => {
    loadFromWeightMap(map: tf.NamedTensorMap): void;
    detectLandmarks(input: unknown): Promise<FaceApiLandmarks>;
  };
  tf: typeof tf;
}

export async function loadInterimLandmarkPort(): Promise<LandmarkPort> {
  const require = createRequire(import.meta.url);
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  await faceapi.tf.ready();
  const dir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const manifest = JSON.parse(
    await readFile(path.join(dir, 'face_landmark_68_model-weights_manifest.json'), 'utf8'),
  ) as { weights: tf.io.WeightsManifestEntry[] }[];
  const bin = await readFile(path.join(dir, 'face_landmark_68_model.bin'));
  const net = new faceapi.FaceLandmark68Net();
  net.loadFromWeightMap(
    faceapi.tf.io.decodeWeights(
      bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      manifest[0].weights,
    ),
  );
  const ftf = faceapi.tf;
  return async (image, boxes) => {
    const out = [];
    for (const b of boxes) {
      const side = Math.max(b.width, b.height) * 1.1;
      const x0 = Math.max(0, Math.round(b.x + b.width / 2 - side / 2));
      const y0 = Math.max(0, Math.round(b.y + b.height / 2 - side / 2));
      const w = Math.min(image.width - x0, Math.round(side));
      const h = Math.min(image.height - y0, Math.round(side));
      if (w < 8 || h < 8) {
        out.push(null);
        continue;
      }
      const crop = ftf.tidy(() =>
        ftf
          .tile(
            ftf.slice(
              ftf.tensor3d(image.data, [image.height, image.width, 1], 'int32'),
              [y0, x0, 0],
              [h, w, 1],
            ),
            [1, 1, 3],
          )
          .cast('float32'),
      );
      try {
        const lm = await net.detectLandmarks(crop);
        out.push(
          lm.positions.map((p) => ({
            x: x0 + (p._x * w) / lm.imageWidth,
            y: y0 + (p._y * h) / lm.imageHeight,
          })),
        );
      } finally {
        crop.dispose();
      }
    }
    return out;
  };
}
