import { createGrayImage, type Box, type FaceRegion, type GrayImage } from './image.js';

/**
 * The box crop of a face (models trained on box crops: `scratch`). Aligned models get their
 * chip from THE FaceCropper (src/vision/face-cropper.ts), which calls this for box geometries,
 * so training data, enrollment photos and live frames are cut the same way.
 */
export interface PreprocessOptions {
  /** Output side in pixels (the model's input size). */
  readonly size: number;
  /** Extra width added on each side of the detector box, as a fraction of its width. */
  readonly marginX: number;
  /** Extra height added above the box, as a fraction of its height. */
  readonly marginTop: number;
  /** Extra height added below the box, as a fraction of its height. */
  readonly marginBottom: number;
  /** Global histogram equalisation: evens out door lighting (and matches training). */
  readonly equalize: boolean;
}

/**
 * Margins that make a Haar box framed like the Olivetti crops the model trains on (brows to
 * chin, hair and ears trimmed): the Haar box is cut 17.5% from the top; the width follows
 * from the square (marginX only matters while it is above -0.0875). Tuned by a grid search
 * comparing the 400 ORL 92x112 originals run through the detector with their Olivetti 64x64
 * versions: mean correlation 0.758 (zero margins 0.373, the earlier +0.1/+0.1 guess 0.234).
 * Guarded by test/vision/preprocess-orl.test.ts; numbers in docs/vision.md.
 */
export const DEFAULT_PREPROCESS: PreprocessOptions = {
  size: 64,
  marginX: -0.1,
  marginTop: -0.175,
  marginBottom: 0,
  equalize: true,
};

/** The crop rectangle (possibly partly outside the image) for a detector box. */
export function cropRectFor(box: Box, options: PreprocessOptions): Box {
  const x = box.x - box.width * options.marginX;
  const y = box.y - box.height * options.marginTop;
  const width = box.width * (1 + 2 * options.marginX);
  const height = box.height * (1 + options.marginTop + options.marginBottom);
  // Square output: widen the shorter side around the centre so faces keep their shape.
  const side = Math.max(width, height);
  return { x: x + (width - side) / 2, y: y + (height - side) / 2, width: side, height: side };
}

/**
 * Cut the face out of `image` and return a `size` x `size` normalised gray face.
 * `face === null` means the whole image already is a face crop (training sets).
 */
export function preprocessFace(
  image: GrayImage,
  face: FaceRegion | null,
  options: PreprocessOptions = DEFAULT_PREPROCESS,
): GrayImage {
  validateOptions(options);
  const rect =
    face === null ? { x: 0, y: 0, width: image.width, height: image.height } : cropRectFor(face.box, options);
  const out = resampleRect(image, rect, options.size, options.size);
  return options.equalize ? equalizeHistogram(out) : out;
}

function validateOptions(options: PreprocessOptions): void {
  if (!Number.isInteger(options.size) || options.size < 8 || options.size > 512) {
    throw new RangeError(`preprocess size must be an integer in 8..512, got ${options.size}`);
  }
  for (const key of ['marginX', 'marginTop', 'marginBottom'] as const) {
    const v = options[key];
    if (!Number.isFinite(v) || v < -0.4 || v > 2)
      throw new RangeError(`preprocess ${key} out of range: ${v}`);
  }
}

/**
 * Resample the rectangle `rect` of `image` to `outW` x `outH`. Each output pixel averages
 * a grid of bilinear samples (supersampling when shrinking), so a face shrunk from 300 px
 * looks like one shrunk from 90 px; pixels outside the image repeat the border.
 */
export function resampleRect(image: GrayImage, rect: Box, outW: number, outH: number): GrayImage {
  if (!(rect.width > 0 && rect.height > 0)) throw new RangeError('crop rectangle is empty');
  const out = new Uint8Array(outW * outH);
  const stepX = rect.width / outW;
  const stepY = rect.height / outH;
  const subX = Math.max(1, Math.ceil(stepX));
  const subY = Math.max(1, Math.ceil(stepY));
  const norm = 1 / (subX * subY);
  const { width: w, height: h, data } = image;
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      let acc = 0;
      for (let sy = 0; sy < subY; sy++) {
        const fy = rect.y + (oy + (sy + 0.5) / subY) * stepY - 0.5;
        const y0 = Math.floor(fy);
        const ty = fy - y0;
        const ya = clamp(y0, 0, h - 1) * w;
        const yb = clamp(y0 + 1, 0, h - 1) * w;
        for (let sx = 0; sx < subX; sx++) {
          const fx = rect.x + (ox + (sx + 0.5) / subX) * stepX - 0.5;
          const x0 = Math.floor(fx);
          const tx = fx - x0;
          const xa = clamp(x0, 0, w - 1);
          const xb = clamp(x0 + 1, 0, w - 1);
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

/** Global histogram equalisation with the same mapping as OpenCV's equalizeHist. */
export function equalizeHistogram(image: GrayImage): GrayImage {
  const hist = new Uint32Array(256);
  for (const v of image.data) hist[v]++;
  const total = image.data.length;
  let first = 0;
  while (first < 256 && hist[first] === 0) first++;
  if (first === 256 || hist[first] === total)
    return createGrayImage(image.width, image.height, image.data.slice());
  const lut = new Uint8Array(256);
  const scale = 255 / (total - hist[first]);
  let cumulative = 0;
  for (let v = first + 1; v < 256; v++) {
    cumulative += hist[v];
    lut[v] = Math.min(255, Math.max(0, Math.round(cumulative * scale)));
  }
  const out = new Uint8Array(total);
  for (let i = 0; i < total; i++) out[i] = lut[image.data[i]];
  return createGrayImage(image.width, image.height, out);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
