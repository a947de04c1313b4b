import { createGrayImage, type GrayImage } from '../vision/image.js';
import { equalizeHistogram } from '../vision/preprocess.js';
import type { Rng } from '../model/rng.js';

/** Ranges of the random changes applied to training faces (0 disables one). */
export interface AugmentOptions {
  /** Max shift in pixels along each axis. */
  readonly shift: number;
  /** Max rotation in degrees. */
  readonly rotateDeg: number;
  /** Max relative zoom (0.05 = ±5%). */
  readonly zoom: number;
  /** Max brightness change: a global gain and a left-right/top-bottom light gradient. */
  readonly brightness: number;
  /** Probability of a horizontal mirror (faces are nearly symmetric). */
  readonly flip: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = {
  shift: 3,
  rotateDeg: 8,
  zoom: 0.06,
  brightness: 0.25,
  flip: 0.5,
};
export const NO_AUGMENT: AugmentOptions = { shift: 0, rotateDeg: 0, zoom: 0, brightness: 0, flip: 0 };

/**
 * A randomly shifted/rotated/zoomed/relit copy of a preprocessed face. Lighting changes are
 * followed by the same histogram equalisation preprocessFace applies, so augmented faces
 * stay in the distribution live faces have (equalised), only with different local light.
 */
export function augmentFace(face: GrayImage, rng: Rng, o: AugmentOptions = DEFAULT_AUGMENT): GrayImage {
  const { width: w, height: h, data } = face;
  const angle = (rng.uniform(-o.rotateDeg, o.rotateDeg) * Math.PI) / 180;
  const scale = 1 + rng.uniform(-o.zoom, o.zoom);
  const dx = rng.uniform(-o.shift, o.shift);
  const dy = rng.uniform(-o.shift, o.shift);
  const flip = rng.next() < o.flip;
  const gain = 1 + rng.uniform(-o.brightness, o.brightness);
  const gx = rng.uniform(-o.brightness, o.brightness);
  const gy = rng.uniform(-o.brightness, o.brightness) * 0.5;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Inverse map: output pixel → source position (rotation/zoom about the centre).
      const ux = (flip ? w - 1 - x : x) - cx - dx;
      const uy = y - cy - dy;
      const sx = cos * ux + sin * uy + cx;
      const sy = -sin * ux + cos * uy + cy;
      const v = bilinear(data, w, h, sx, sy);
      const light = gain * (1 + gx * ((x - cx) / w) * 2 + gy * ((y - cy) / h) * 2);
      out[y * w + x] = Math.max(0, Math.min(255, Math.round(v * light)));
    }
  }
  const img = createGrayImage(w, h, out);
  return o.brightness > 0 ? equalizeHistogram(img) : img;
}

function bilinear(data: Uint8Array, w: number, h: number, x: number, y: number): number {
  const xc = Math.max(0, Math.min(w - 1, x));
  const yc = Math.max(0, Math.min(h - 1, y));
  const x0 = Math.floor(xc);
  const y0 = Math.floor(yc);
  const x1 = Math.min(w - 1, x0 + 1);
  const y1 = Math.min(h - 1, y0 + 1);
  const tx = xc - x0;
  const ty = yc - y0;
  const top = data[y0 * w + x0] * (1 - tx) + data[y0 * w + x1] * tx;
  const bottom = data[y1 * w + x0] * (1 - tx) + data[y1 * w + x1] * tx;
  return top * (1 - ty) + bottom * ty;
}
