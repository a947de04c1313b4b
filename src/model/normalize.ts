import * as tf from '@tensorflow/tfjs';
import type { GrayImage } from '../vision/image.js';

/**
 * THE input normalisation of the network, used by training, evaluation and the embedder:
 * 8-bit gray (already histogram-equalised by preprocessFace) mapped to [-1, 1].
 */
export function pixelToInput(v: number): number {
  return v / 127.5 - 1;
}

/** Faces (each size x size) → a [n, size, size, 1] float tensor. Caller disposes. */
export function facesToTensor(faces: readonly GrayImage[], size: number): tf.Tensor4D {
  const plane = size * size;
  const buf = new Float32Array(faces.length * plane);
  faces.forEach((face, i) => {
    if (face.width !== size || face.height !== size) {
      throw new RangeError(`face ${i} is ${face.width}x${face.height}, the model takes ${size}x${size}`);
    }
    if (face.data.length !== plane)
      throw new RangeError(`face ${i} has ${face.data.length} bytes, expected ${plane}`);
    const off = i * plane;
    for (let p = 0; p < plane; p++) buf[off + p] = pixelToInput(face.data[p]);
  });
  return tf.tensor4d(buf, [faces.length, size, size, 1]);
}

/** Recorded in model.json so a loader can tell which normalisation the weights expect. */
export const NORMALIZATION = 'gray/127.5-1';
