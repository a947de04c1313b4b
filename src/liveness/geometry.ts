import { createGrayImage, type GrayImage, type Point } from '../vision/image.js';

/**
 * Plane-to-plane geometry for the liveness signals: a homography fitted to point pairs by
 * the normalised direct linear transform (Hartley & Zisserman, "Multiple View Geometry",
 * 2nd ed., algorithm 4.2), solved as linear least squares with h33 = 1.
 */

/** Row-major 3x3 homography. */
export type Homography = readonly [number, number, number, number, number, number, number, number, number];

export function applyHomography(h: Homography, p: Point): Point {
  const w = h[6] * p.x + h[7] * p.y + h[8];
  return { x: (h[0] * p.x + h[1] * p.y + h[2]) / w, y: (h[3] * p.x + h[4] * p.y + h[5]) / w };
}

/** Similarity that moves the points' centroid to 0 and their mean distance to sqrt(2). */
function normaliser(points: readonly Point[]): { s: number; cx: number; cy: number } {
  let cx = 0;
  let cy = 0;
  for (const p of points) {
    cx += p.x;
    cy += p.y;
  }
  cx /= points.length;
  cy /= points.length;
  let d = 0;
  for (const p of points) d += Math.hypot(p.x - cx, p.y - cy);
  d /= points.length;
  return { s: d > 0 ? Math.SQRT2 / d : 1, cx, cy };
}

/**
 * The homography mapping `from[i]` onto `to[i]` in the least-squares sense (algebraic
 * error on normalised points). Needs >= 4 pairs; returns null when they are degenerate
 * (all on a line, repeated points).
 */
export function fitHomography(from: readonly Point[], to: readonly Point[]): Homography | null {
  if (from.length !== to.length) throw new RangeError('point lists differ in length');
  if (from.length < 4) return null;
  const nf = normaliser(from);
  const nt = normaliser(to);
  // Normal equations AᵀA h = Aᵀb of the 2n x 8 system (h33 = 1).
  const ata = new Float64Array(64);
  const atb = new Float64Array(8);
  const row = new Float64Array(8);
  const add = (b: number): void => {
    for (let i = 0; i < 8; i++) {
      atb[i] += row[i] * b;
      for (let j = 0; j < 8; j++) ata[i * 8 + j] += row[i] * row[j];
    }
  };
  for (let k = 0; k < from.length; k++) {
    const x = (from[k].x - nf.cx) * nf.s;
    const y = (from[k].y - nf.cy) * nf.s;
    const u = (to[k].x - nt.cx) * nt.s;
    const v = (to[k].y - nt.cy) * nt.s;
    row.set([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    add(u);
    row.set([0, 0, 0, x, y, 1, -v * x, -v * y]);
    add(v);
  }
  const hn = solve8(ata, atb);
  if (!hn) return null;
  // H = Tto⁻¹ · Hn · Tfrom
  const tf = [nf.s, 0, -nf.s * nf.cx, 0, nf.s, -nf.s * nf.cy, 0, 0, 1];
  const tinv = [1 / nt.s, 0, nt.cx, 0, 1 / nt.s, nt.cy, 0, 0, 1];
  const m = mul3(tinv, mul3([...hn, 1], tf));
  if (!m.every(Number.isFinite) || Math.abs(m[8]) < 1e-12) return null;
  return m.map((x) => x / m[8]) as unknown as Homography;
}

/** Root-mean-square distance between `to[i]` and `h(from[i])`. */
export function homographyResidual(h: Homography, from: readonly Point[], to: readonly Point[]): number {
  let sum = 0;
  for (let i = 0; i < from.length; i++) {
    const p = applyHomography(h, from[i]);
    sum += (p.x - to[i].x) ** 2 + (p.y - to[i].y) ** 2;
  }
  return Math.sqrt(sum / from.length);
}

/** Root-mean-square displacement between two point sets after removing their mean shift. */
export function rmsMotion(a: readonly Point[], b: readonly Point[]): number {
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < a.length; i++) {
    dx += b[i].x - a[i].x;
    dy += b[i].y - a[i].y;
  }
  dx /= a.length;
  dy /= a.length;
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (b[i].x - a[i].x - dx) ** 2 + (b[i].y - a[i].y - dy) ** 2;
  return Math.sqrt(sum / a.length);
}

function mul3(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return out;
}

/** Gaussian elimination with partial pivoting on an 8x8 system; null when singular. */
function solve8(a: Float64Array, b: Float64Array): number[] | null {
  const n = 8;
  const m = Float64Array.from(a);
  const r = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(m[i * n + c]) > Math.abs(m[p * n + c])) p = i;
    if (Math.abs(m[p * n + c]) < 1e-10) return null;
    if (p !== c) {
      for (let j = 0; j < n; j++) [m[c * n + j], m[p * n + j]] = [m[p * n + j], m[c * n + j]];
      [r[c], r[p]] = [r[p], r[c]];
    }
    for (let i = c + 1; i < n; i++) {
      const f = m[i * n + c] / m[c * n + c];
      if (f === 0) continue;
      for (let j = c; j < n; j++) m[i * n + j] -= f * m[c * n + j];
      r[i] -= f * r[c];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = r[i];
    for (let j = i + 1; j < n; j++) s -= m[i * n + j] * x[j];
    x[i] = s / m[i * n + i];
  }
  return x;
}

/** The inverse of a homography (adjugate / determinant); throws when it is singular. */
export function invertHomography(m: Homography): Homography {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!(Math.abs(det) > 1e-15)) throw new RangeError('homography is singular');
  const r = [
    A,
    -(b * i - c * h),
    b * f - c * e,
    B,
    a * i - c * g,
    -(a * f - c * d),
    C,
    -(a * h - b * g),
    a * e - b * d,
  ];
  return r.map((x) => x / det) as unknown as Homography;
}

/**
 * `src` seen through the homography `h` (src → dst pixel coordinates) over `background`
 * (same size as the output), bilinear: a flat sheet moved in front of a camera. Used to
 * make rigid-motion sequences (tests, scripts/liveness-noise-floor.ts).
 */
export function warpGray(src: GrayImage, h: Homography, background: GrayImage): GrayImage {
  const inv = invertHomography(h);
  const out = createGrayImage(background.width, background.height, Uint8Array.from(background.data));
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const p = applyHomography(inv, { x, y });
      if (p.x < 0 || p.y < 0 || p.x >= src.width - 1 || p.y >= src.height - 1) continue;
      const x0 = Math.floor(p.x);
      const y0 = Math.floor(p.y);
      const fx = p.x - x0;
      const fy = p.y - y0;
      const k = y0 * src.width + x0;
      const v =
        src.data[k] * (1 - fx) * (1 - fy) +
        src.data[k + 1] * fx * (1 - fy) +
        src.data[k + src.width] * (1 - fx) * fy +
        src.data[k + src.width + 1] * fx * fy;
      out.data[y * out.width + x] = Math.round(v);
    }
  }
  return out;
}
