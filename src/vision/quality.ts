import type { Box, GrayImage } from './image.js';
import type { QualityConfig } from './config.js';
import { resampleRect } from './preprocess.js';

/** Why a detected face does not go on to recognition (used verbatim in events and logs). */
export type RejectReason = 'too_small' | 'outside_zone' | 'blurry' | 'too_many_faces';

export interface AcceptedFace {
  readonly box: Box;
  readonly sharpness: number;
}

export interface RejectedFace {
  readonly box: Box;
  readonly reason: RejectReason;
  /** Human-readable detail, e.g. "42 px < 48 px". */
  readonly detail: string;
}

export interface QualityResult {
  /** Largest first, at most `maxFaces`. */
  readonly accepted: AcceptedFace[];
  readonly rejected: RejectedFace[];
}

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

function validate(config: QualityConfig): void {
  const z = config.doorZone;
  for (const [k, v] of Object.entries({ ...z, minFaceFraction: config.minFaceFraction })) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`quality ${k} must be in 0..1, got ${v}`);
  }
  if (!Number.isInteger(config.maxFaces) || config.maxFaces < 0)
    throw new RangeError('quality maxFaces must be a natural number');
  if (!(config.minSharpness >= 0)) throw new RangeError('quality minSharpness must be >= 0');
}

/**
 * The quality gate between detection and recognition. Faces are taken largest first; each
 * is checked for size, door zone (its centre) and sharpness; the first `maxFaces` that pass
 * are accepted and any further passing faces are rejected as `too_many_faces`.
 */
export class QualityGate {
  constructor(private readonly config: QualityConfig) {
    validate(config);
  }

  assess(image: GrayImage, boxes: readonly Box[]): QualityResult {
    const c = this.config;
    const accepted: AcceptedFace[] = [];
    const rejected: RejectedFace[] = [];
    const minWidth = Math.max(c.minFacePixels, c.minFaceFraction * image.width);
    const zx0 = c.doorZone.x * image.width;
    const zy0 = c.doorZone.y * image.height;
    const zx1 = zx0 + c.doorZone.width * image.width;
    const zy1 = zy0 + c.doorZone.height * image.height;
    const ordered = [...boxes].sort((a, b) => b.width * b.height - a.width * a.height);
    for (const box of ordered) {
      if (box.width < minWidth) {
        rejected.push({ box, reason: 'too_small', detail: `${box.width} px < ${Math.ceil(minWidth)} px` });
        continue;
      }
      const cx = box.x + box.width / 2;
      const cy = box.y + box.height / 2;
      if (cx < zx0 || cx > zx1 || cy < zy0 || cy > zy1) {
        rejected.push({
          box,
          reason: 'outside_zone',
          detail: `centre (${Math.round(cx)}, ${Math.round(cy)}) outside the door zone`,
        });
        continue;
      }
      if (accepted.length >= c.maxFaces) {
        rejected.push({ box, reason: 'too_many_faces', detail: `more than ${c.maxFaces} face(s) in view` });
        continue;
      }
      const sharpness = c.minSharpness > 0 ? faceSharpness(image, box) : Number.NaN;
      if (c.minSharpness > 0 && sharpness < c.minSharpness) {
        rejected.push({
          box,
          reason: 'blurry',
          detail: `sharpness ${sharpness.toFixed(1)} < ${c.minSharpness}`,
        });
        continue;
      }
      accepted.push({ box, sharpness });
    }
    return { accepted, rejected };
  }
}
