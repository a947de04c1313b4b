import type { Box, GrayImage } from './image.js';
import { resampleRect } from './preprocess.js';

/** Side of the normalised patch sharpness is measured on (independent of face size). */
export const SHARPNESS_PATCH = 64;

/**
 * Focus measure: variance of the 4-neighbour Laplacian of the face box resampled to 64x64
 * and stretched to zero mean / unit-ish contrast (std 50), so the number depends on blur,
 * not on how big or how bright the face is. In-focus faces score in the hundreds; a face
 * smeared by motion or out of focus scores a few tens.
 */
export function faceSharpness(image: GrayImage, box: Box): number {
  const patch = resampleRect(image, box, SHARPNESS_PATCH, SHARPNESS_PATCH);
  const n = SHARPNESS_PATCH;
  const d = patch.data;
  let sum = 0;
  let sumSq = 0;
  for (const v of d) {
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / d.length;
  const std = Math.sqrt(Math.max(0, sumSq / d.length - mean * mean));
  if (std < 1) return 0; // a flat patch has no detail at all
  const gain = 50 / std;
  let lsum = 0;
  let lsumSq = 0;
  let count = 0;
  for (let y = 1; y < n - 1; y++) {
    for (let x = 1; x < n - 1; x++) {
      const i = y * n + x;
      const lap = (d[i - 1] + d[i + 1] + d[i - n] + d[i + n] - 4 * d[i]) * gain;
      lsum += lap;
      lsumSq += lap * lap;
      count++;
    }
  }
  const lmean = lsum / count;
  return lsumSq / count - lmean * lmean;
}
