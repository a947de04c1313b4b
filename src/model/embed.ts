import * as tf from '@tensorflow/tfjs';
import type { GrayImage } from '../vision/image.js';
import { l2Normalize } from './network.js';
import { facesToTensor } from './normalize.js';

/**
 * Embeds faces with a sister network in inference mode, `batchSize` at a time. Every
 * intermediate tensor is released (tf.tidy + dispose), so a daemon calling this for
 * every frame keeps a flat tensor count.
 */
export async function embedFaces(
  model: tf.LayersModel,
  faces: readonly GrayImage[],
  inputSize: number,
  batchSize = 32,
  unitLength = false,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let start = 0; start < faces.length; start += batchSize) {
    const chunk = faces.slice(start, start + batchSize);
    const emb = tf.tidy(() => {
      const x = facesToTensor(chunk, inputSize);
      const raw = model.predict(x, { batchSize }) as tf.Tensor2D;
      return unitLength ? (l2Normalize(raw) as tf.Tensor2D) : raw;
    });
    try {
      const data = (await emb.data()) as Float32Array;
      const dim = emb.shape[1];
      for (let i = 0; i < chunk.length; i++) out.push(data.slice(i * dim, (i + 1) * dim));
    } finally {
      emb.dispose();
    }
  }
  return out;
}

export function euclidean(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`embedding sizes differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}
