import type { Box, FaceRegion, GrayImage } from './image.js';
import type { QualityConfig } from './config.js';
import { resampleRect } from './preprocess.js';

/** Why a detected face does not go on to recognition (used verbatim in events and logs). */
export type RejectReason = 'too_small' | 'outside_zone' | 'too_many_faces';

/** Why an accepted face is `poor`: recognised, but its vote cannot open the door. */
export type PoorReason = 'blurry';

/**
 * `ok`: recognised and may vote for a person. `poor`: recognised (the person at the door is
 * still that person) but its vote is inconclusive (`poor_quality`).
 */
export type FaceQuality = 'ok' | 'poor';

export interface AcceptedFace {
  /** The face as detected; the cropper adds landmarks. */
  readonly region: FaceRegion;
  readonly quality: FaceQuality;
  /** Empty for `ok`; why it is `poor` otherwise. */
  readonly reasons: readonly PoorReason[];
  /** Focus measure (NaN when the sharpness check is off). */
  readonly sharpness: number;
  /** Human-readable detail for a `poor` face, e.g. "sharpness 12.0 < 40". */
  readonly detail?: string;
}

export interface RejectedFace {
  readonly box: Box;
  readonly reason: RejectReason;
  /** Human-readable detail, e.g. "42 px < 48 px". */
  readonly detail: string;
}

export interface QualityResult {
  /** Largest first, at most `maxFaces`, each marked `ok` or `poor`. */
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
 * is checked for size and door zone (its centre); the first `maxFaces` that pass are
 * accepted and any further ones are rejected as `too_many_faces`. An accepted face that is
 * blurry is marked `poor` (recognised, but it cannot open the door); the others `ok`.
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
        accepted.push({
          region: { box },
          quality: 'poor',
          reasons: ['blurry'],
          sharpness,
          detail: `sharpness ${sharpness.toFixed(1)} < ${c.minSharpness}`,
        });
        continue;
      }
      accepted.push({ region: { box }, quality: 'ok', reasons: [], sharpness });
    }
    return { accepted, rejected };
  }
}
