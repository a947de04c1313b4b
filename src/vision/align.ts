import { createGrayImage, type Box, type EyePair, type GrayImage, type Point } from './image.js';

/**
 * Eye alignment: a similarity warp (rotation, uniform scale, shift) that puts the two eye
 * centres of a face at fixed positions of a square output, so every face reaches the
 * network level, the same size and in the same place, whatever the head tilt or distance.
 *
 * Coordinates are continuous pixel coordinates: pixel (i, j) covers [i, i+1) x [j, j+1),
 * so its centre is (i + 0.5, j + 0.5) (a detector box centre is x + width / 2).
 */
export interface AlignTarget {
  /** Output side in pixels. */
  readonly size: number;
  /** Where the eye on the image's left goes, as fractions of `size` (x right, y down). */
  readonly leftEye: Point;
  /** Where the eye on the image's right goes, as fractions of `size`. */
  readonly rightEye: Point;
}

/** Maps output pixel coordinates to source coordinates: src = [a -b; b a] · out + [tx ty]. */
export interface SimilarityTransform {
  readonly a: number;
  readonly b: number;
  readonly tx: number;
  readonly ty: number;
}

export function validateAlignTarget(target: AlignTarget): void {
  if (!Number.isInteger(target.size) || target.size < 8 || target.size > 1024) {
    throw new RangeError(`align size must be an integer in 8..1024, got ${target.size}`);
  }
  for (const p of [target.leftEye, target.rightEye]) {
    if (!(p.x >= 0 && p.x <= 1 && p.y >= 0 && p.y <= 1))
      throw new RangeError('align eye targets must be fractions in 0..1');
  }
  if (!(target.rightEye.x - target.leftEye.x > 0.05)) {
    throw new RangeError('align target: the right eye must lie to the right of the left eye');
  }
}

/** The transform taking the target eye positions (output) onto the found eyes (source). */
export function eyeAlignTransform(eyes: EyePair, target: AlignTarget): SimilarityTransform {
  const qlx = target.leftEye.x * target.size;
  const qly = target.leftEye.y * target.size;
  const qrx = target.rightEye.x * target.size;
  const qry = target.rightEye.y * target.size;
  const dqx = qrx - qlx;
  const dqy = qry - qly;
  const dex = eyes.right.x - eyes.left.x;
  const dey = eyes.right.y - eyes.left.y;
  const dq2 = dqx * dqx + dqy * dqy;
  if (!(Math.hypot(dex, dey) > 1e-3)) throw new RangeError('eyes coincide: cannot align');
  // Complex division z = de / dq gives the rotation + scale: src = z * out + t.
  const a = (dex * dqx + dey * dqy) / dq2;
  const b = (dey * dqx - dex * dqy) / dq2;
  return { a, b, tx: eyes.left.x - (a * qlx - b * qly), ty: eyes.left.y - (b * qlx + a * qly) };
}

/** Where a source point lands in the output (the inverse transform; for tests and overlays). */
export function toOutput(t: SimilarityTransform, p: Point): Point {
  const dx = p.x - t.tx;
  const dy = p.y - t.ty;
  const n = t.a * t.a + t.b * t.b;
  return { x: (t.a * dx + t.b * dy) / n, y: (-t.b * dx + t.a * dy) / n };
}

/**
 * Renders `outW` x `outH` pixels through `t` with bilinear sampling. When the warp shrinks
 * (more than one source pixel per output pixel) each output pixel averages a grid of
 * samples, as preprocess's resampleRect does, so distant faces do not alias. Pixels that
 * fall outside the source repeat its border.
 */
export function warpSimilarity(
  image: GrayImage,
  t: SimilarityTransform,
  outW: number,
  outH: number,
): GrayImage {
  const scale = Math.hypot(t.a, t.b);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError('degenerate alignment transform');
  const sub = Math.min(8, Math.max(1, Math.ceil(scale)));
  const norm = 1 / (sub * sub);
  const { width: w, height: h, data } = image;
  const out = new Uint8Array(outW * outH);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      let acc = 0;
      for (let sy = 0; sy < sub; sy++) {
        const qy = oy + (sy + 0.5) / sub;
        for (let sx = 0; sx < sub; sx++) {
          const qx = ox + (sx + 0.5) / sub;
          // Source position of this sample, shifted to pixel-centre indexing.
          const fx = t.a * qx - t.b * qy + t.tx - 0.5;
          const fy = t.b * qx + t.a * qy + t.ty - 0.5;
          const x0 = Math.floor(fx);
          const y0 = Math.floor(fy);
          const tx = fx - x0;
          const ty = fy - y0;
          const xa = clamp(x0, 0, w - 1);
          const xb = clamp(x0 + 1, 0, w - 1);
          const ya = clamp(y0, 0, h - 1) * w;
          const yb = clamp(y0 + 1, 0, h - 1) * w;
          const top = data[ya + xa] * (1 - tx) + data[ya + xb] * tx;
          const bottom = data[yb + xa] * (1 - tx) + data[yb + xb] * tx;
          acc += top * (1 - ty) + bottom * ty;
        }
      }
      out[oy * outW + ox] = Math.round(acc * norm);
    }
  }
  return createGrayImage(outW, outH, out);
}

/** Rotate and scale `image` so `eyes` land on the target positions; returns size x size. */
export function alignFace(image: GrayImage, eyes: EyePair, target: AlignTarget): GrayImage {
  validateAlignTarget(target);
  return warpSimilarity(image, eyeAlignTransform(eyes, target), target.size, target.size);
}

/**
 * Where the eyes of a typical upright face sit inside a Haar face box (fractions of the
 * box: the mean over the 348 ORL faces where both the face and the eyes were found). Used when the eye cascades find
 * nothing, so the fallback crop is framed like an aligned one (but not levelled).
 */
export const TYPICAL_EYES_IN_HAAR_BOX = {
  left: { x: 0.28, y: 0.385 },
  right: { x: 0.72, y: 0.385 },
} as const;

/** The eye positions a face box implies when the eyes themselves were not found. */
export function eyesFromBox(
  box: Box,
  typical: { left: Point; right: Point } = TYPICAL_EYES_IN_HAAR_BOX,
): EyePair {
  return {
    left: { x: box.x + typical.left.x * box.width, y: box.y + typical.left.y * box.height },
    right: { x: box.x + typical.right.x * box.width, y: box.y + typical.right.y * box.height },
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
