import { applySimilarity, fitSimilarity, warpSimilarity, type SimilarityTransform } from './align.js';
import type { Box, GrayImage, Point } from './image.js';
import {
  DLIB_MEAN_FACE_17_67,
  DLIB_MEAN_FACE_FIVE,
  FIVE_POINT_NAMES,
  fiveToArray,
  type FaceLandmarks,
  type FivePoints,
} from './landmarks.js';
import { equalizeHistogram, resampleRect, type PreprocessOptions } from './preprocess.js';

/**
 * Crop geometries a model can declare (what its input must look like):
 *
 * - `aligned`: a face chip in dlib's `get_face_chip_details` geometry — the landmarks
 *   mapped by a least-squares similarity transform onto dlib's mean face (`fit`: which
 *   points; see ChipFit), with `padding`
 *   (dlib's meaning: the chip spans the unit template square grown by `padding` on each
 *   side) and `size` pixels a side. dlib_face_recognition_resnet_model_v1 (face-api.js's
 *   recognition net) was trained on size 150, padding 0.25.
 * - `box`: the detector box with margins (models trained on Olivetti-like crops: `scratch`).
 */
export interface AlignedGeometry {
  readonly kind: 'aligned';
  readonly size: number;
  readonly padding: number;
  readonly template: 'dlib-mean-face';
  readonly equalize: boolean;
  /** Which landmarks the similarity is fitted to; absent = `five` (models stored before `dlib-33`). */
  readonly fit?: ChipFit;
}

/**
 * The points a chip's similarity transform is fitted to:
 * - `dlib-33`: what dlib's `get_face_chip_details` fits for a 68-point face (and so the chips
 *   dlib_face_recognition_resnet_model_v1 was trained on): iBUG points 27–54 and 60–64 — nose,
 *   eyes, outer mouth and upper inner lip; not the jaw, the eyebrows or the lower lip (they
 *   move with expression). 33 points average out the noise of each one. Falls back to `five`
 *   when the landmarks have no 68 points.
 * - `five`: eye centres, nose tip, mouth corners (what a 5-point landmark model gives).
 */
export type ChipFit = 'dlib-33' | 'five';

/**
 * iBUG indices dlib's get_face_chip_details fits for a 68-point shape (dlib,
 * dlib/image_transforms/interpolation.h: it skips 0–16 (jaw), 17–26 (eyebrows), 55–59 and
 * 65–67 (lower lip)).
 */
export const DLIB_FIT_POINTS: readonly number[] = [
  ...Array.from({ length: 28 }, (_, i) => 27 + i),
  60,
  61,
  62,
  63,
  64,
];

export interface BoxGeometry extends PreprocessOptions {
  readonly kind: 'box';
}

export type CropGeometry = AlignedGeometry | BoxGeometry;

/** The face-api.js / dlib ResNet's input: dlib's 150x150 chip, padding 0.25, not equalised. */
export const DLIB_CHIP_150: AlignedGeometry = {
  kind: 'aligned',
  size: 150,
  padding: 0.25,
  template: 'dlib-mean-face',
  equalize: false,
  fit: 'dlib-33',
};

/**
 * The canonical chip a gallery stores: the same template with generous padding (0.6), so a
 * later model with another padding/size can be cut from it without the original photo.
 * 220 px at padding 0.6 holds the 150 px padding-0.25 chip at 1:1 scale.
 */
export const CANONICAL_CHIP: AlignedGeometry = {
  kind: 'aligned',
  size: 220,
  padding: 0.6,
  template: 'dlib-mean-face',
  equalize: false,
};

export function validateGeometry(g: CropGeometry): void {
  if (!Number.isInteger(g.size) || g.size < 8 || g.size > 512)
    throw new RangeError(`crop size must be an integer in 8..512, got ${g.size}`);
  if (g.kind === 'aligned') {
    if (g.template !== 'dlib-mean-face') throw new RangeError(`unknown chip template ${String(g.template)}`);
    if (!(g.padding >= 0 && g.padding <= 2))
      throw new RangeError(`chip padding must be in 0..2, got ${g.padding}`);
    if (g.fit !== undefined && g.fit !== 'dlib-33' && g.fit !== 'five')
      throw new RangeError(`unknown chip fit ${String(g.fit)}: expected dlib-33 or five`);
  } else if (g.kind !== 'box') {
    throw new RangeError(`unknown crop geometry ${String((g as { kind?: unknown }).kind)}`);
  }
}

/** Where the template's five points lie in a chip of this geometry (pixels). */
export function templateInChip(g: { size: number; padding: number }): FivePoints {
  const f = (q: Point): Point => ({
    x: ((g.padding + q.x) / (1 + 2 * g.padding)) * g.size,
    y: ((g.padding + q.y) / (1 + 2 * g.padding)) * g.size,
  });
  const t = DLIB_MEAN_FACE_FIVE;
  return {
    leftEye: f(t.leftEye),
    rightEye: f(t.rightEye),
    nose: f(t.nose),
    mouthLeft: f(t.mouthLeft),
    mouthRight: f(t.mouthRight),
  };
}

/** chip pixel → image pixel transform that puts `five` (image) on the template. */
export function chipTransform(five: FivePoints, g: { size: number; padding: number }): SimilarityTransform {
  return fitSimilarity(fiveToArray(templateInChip(g)), fiveToArray(five));
}

/** Where dlib's mean face puts iBUG point `i` (17..67) in a chip of this geometry (pixels). */
export function templatePointInChip(i: number, g: { size: number; padding: number }): Point {
  const q = DLIB_MEAN_FACE_17_67[i - 17];
  if (q === undefined) throw new RangeError(`dlib's mean face has no iBUG point ${i}`);
  return {
    x: ((g.padding + q.x) / (1 + 2 * g.padding)) * g.size,
    y: ((g.padding + q.y) / (1 + 2 * g.padding)) * g.size,
  };
}

/**
 * chip pixel → image pixel transform for a face's landmarks, fitted as `fit` says: `dlib-33`
 * on DLIB_FIT_POINTS when there are 68 points (least squares, as dlib's
 * get_face_chip_details), otherwise on the five points.
 */
export function chipTransformFor(
  landmarks: FaceLandmarks,
  g: { size: number; padding: number },
  fit: ChipFit = 'five',
): SimilarityTransform {
  if (fit === 'dlib-33' && landmarks.points.length === 68) {
    return fitSimilarity(
      DLIB_FIT_POINTS.map((i) => templatePointInChip(i, g)),
      DLIB_FIT_POINTS.map((i) => landmarks.points[i]),
    );
  }
  return chipTransform(landmarks.five, g);
}

/** The aligned chip of a face (not equalised). */
export function cutChip(image: GrayImage, five: FivePoints, g: { size: number; padding: number }): GrayImage {
  return warpSimilarity(image, chipTransform(five, g), g.size, g.size);
}

/** Maps five image points into a chip through its transform (image → chip). */
export function fiveInChip(five: FivePoints, t: SimilarityTransform): FivePoints {
  const n = t.a * t.a + t.b * t.b;
  const inv = (p: Point): Point => {
    const dx = p.x - t.tx;
    const dy = p.y - t.ty;
    return { x: (t.a * dx + t.b * dy) / n, y: (-t.b * dx + t.a * dy) / n };
  };
  const out: Record<string, Point> = {};
  for (const k of FIVE_POINT_NAMES) out[k] = inv(five[k]);
  return out as unknown as FivePoints;
}

/**
 * A model input cut from a canonical chip: both are aligned on the same template, so the
 * model's chip is a centred square of the canonical one (resampled to the model's size).
 */
export function modelInputFromChip(chip: GrayImage, from: AlignedGeometry, to: AlignedGeometry): GrayImage {
  if (chip.width !== from.size || chip.height !== from.size)
    throw new RangeError(`chip must be ${from.size}x${from.size}, got ${chip.width}x${chip.height}`);
  if (to.padding > from.padding) throw new RangeError('cannot cut a wider chip from a narrower one');
  // The unit template square spans [p, 1+p] / (1+2p) of a chip side.
  const side = ((1 + 2 * to.padding) / (1 + 2 * from.padding)) * from.size;
  const offset = ((from.padding - to.padding) / (1 + 2 * from.padding)) * from.size;
  const out = resampleRect(chip, { x: offset, y: offset, width: side, height: side }, to.size, to.size);
  return to.equalize ? equalizeHistogram(out) : out;
}

/** Image point of a chip point (for overlays and tests). */
export function chipToImage(t: SimilarityTransform, p: Point): Point {
  return applySimilarity(t, p);
}

/**
 * Where the five points of a typical upright face sit inside a Haar face box (fractions of
 * the box): the fallback when no landmarks are available or they are implausible — the crop
 * is then framed like an aligned one but not levelled. Measured: mean of the landmark
 * model's five points relative to the Haar box over the 49 ORL s36–s40 photos.
 */
export const TYPICAL_FIVE_IN_HAAR_BOX: FivePoints = {
  leftEye: { x: 0.291, y: 0.387 },
  rightEye: { x: 0.682, y: 0.388 },
  nose: { x: 0.481, y: 0.592 },
  mouthLeft: { x: 0.327, y: 0.78 },
  mouthRight: { x: 0.651, y: 0.783 },
};

export function fiveFromBox(box: Box, typical: FivePoints = TYPICAL_FIVE_IN_HAAR_BOX): FivePoints {
  const f = (q: Point): Point => ({ x: box.x + q.x * box.width, y: box.y + q.y * box.height });
  return {
    leftEye: f(typical.leftEye),
    rightEye: f(typical.rightEye),
    nose: f(typical.nose),
    mouthLeft: f(typical.mouthLeft),
    mouthRight: f(typical.mouthRight),
  };
}
