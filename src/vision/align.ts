import { createGrayImage, type EyePair, type GrayImage, type Point } from './image.js';

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
 * Most samples per output pixel and axis: beyond 4 (a face shrunk more than 4x), each of the
 * 4x4 bilinear samples already averages a 2x2 neighbourhood; 8x8 cost four times as much
 * (5 ms CPU per canonical chip of a large face in a photo) for no measurable gain.
 */
const MAX_SUBSAMPLES = 4;

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
  const sub = Math.min(MAX_SUBSAMPLES, Math.max(1, Math.ceil(scale)));
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

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Least-squares similarity transform (rotation, uniform scale, shift; no reflection) that
 * maps the `from` points onto the `to` points: to ≈ [a -b; b a] · from + t. Umeyama's
 * closed form (IEEE PAMI 13(4), 1991) specialised to 2-D, where it is a complex-number
 * regression on the centred points. Throws on fewer than two points or coincident `from`.
 */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): SimilarityTransform {
  if (from.length !== to.length || from.length < 2)
    throw new RangeError('similarity fit needs two equally long lists of at least two points');
  const n = from.length;
  let fx = 0;
  let fy = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i].x;
    fy += from[i].y;
    tx += to[i].x;
    ty += to[i].y;
  }
  fx /= n;
  fy /= n;
  tx /= n;
  ty /= n;
  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i].x - fx;
    const py = from[i].y - fy;
    const qx = to[i].x - tx;
    const qy = to[i].y - ty;
    dot += px * qx + py * qy;
    cross += px * qy - py * qx;
    norm += px * px + py * py;
  }
  if (!(norm > 1e-9)) throw new RangeError('similarity fit: the source points coincide');
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: tx - (a * fx - b * fy), ty: ty - (b * fx + a * fy) };
}

/** Applies a transform to a point (output → source for the transforms used by warpSimilarity). */
export function applySimilarity(t: SimilarityTransform, p: Point): Point {
  return { x: t.a * p.x - t.b * p.y + t.tx, y: t.b * p.x + t.a * p.y + t.ty };
}

/** Rotation (degrees, clockwise in image coordinates) and scale of a transform. */
export function similarityAngleScale(t: SimilarityTransform): { angleDeg: number; scale: number } {
  return { angleDeg: (Math.atan2(t.b, t.a) * 180) / Math.PI, scale: Math.hypot(t.a, t.b) };
}
