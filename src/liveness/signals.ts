import type { Point } from '../vision/image.js';
import { fitHomography, homographyResidual, rmsMotion } from './geometry.js';

/**
 * Liveness signals computed from the 68 landmarks (iBUG 300-W order) of one face track.
 * Pure functions over the track's history; the thresholds are arguments (config
 * `access.liveness`), the defaults are in src/liveness/config.ts.
 */

export interface LandmarkSample {
  /** Frame time, ms. */
  readonly timestampMs: number;
  /** 68 points, iBUG order, image coordinates. */
  readonly points: readonly Point[];
}

/** iBUG 68 indices: eye on the image's left 36..41, on the image's right 42..47. */
const EYES = [
  [36, 37, 38, 39, 40, 41],
  [42, 43, 44, 45, 46, 47],
] as const;
/** Landmarks used as the face-size scale: outer eye corners (36, 45). */
const OUTER_LEFT = 36;
const OUTER_RIGHT = 45;

function dist(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/**
 * Eye aspect ratio (Soukupová & Čech, "Real-Time Eye Blink Detection using Facial
 * Landmarks", CVWW 2016): (|p2−p6| + |p3−p5|) / (2·|p1−p4|), averaged over both eyes.
 * About 0.25–0.35 for an open eye, towards 0.1 when closed.
 */
export function eyeAspectRatio(points: readonly Point[]): number {
  if (points.length < 68) throw new RangeError(`need 68 landmarks, got ${points.length}`);
  let sum = 0;
  for (const e of EYES) {
    const [p1, p2, p3, p4, p5, p6] = e.map((i) => points[i]);
    const width = dist(p1, p4);
    sum += width > 0 ? (dist(p2, p6) + dist(p3, p5)) / (2 * width) : 0;
  }
  return sum / EYES.length;
}

/** Outer-eye-corner distance: the face-size unit for motion and residuals. */
export function faceScale(points: readonly Point[]): number {
  return dist(points[OUTER_LEFT], points[OUTER_RIGHT]);
}

export interface BlinkOptions {
  /** A frame is "closed" when its EAR is at most this fraction of the track's open level. */
  readonly closedRatio: number;
  /** The eye must open again (>= reopenRatio of the open level) within this time, ms. */
  readonly maxBlinkMs: number;
  readonly reopenRatio: number;
}

export const DEFAULT_BLINK: BlinkOptions = { closedRatio: 0.7, maxBlinkMs: 800, reopenRatio: 0.9 };

export interface BlinkResult {
  readonly blinked: boolean;
  /** Open level: the 80th percentile EAR of the track. */
  readonly openEar: number;
  /** Lowest EAR / open level seen (1 = never lower than open). */
  readonly minRatio: number;
}

/**
 * A blink: open → closed (EAR <= closedRatio·open) → open again within maxBlinkMs. Both
 * sides of the dip must be seen, so a face that keeps its eyes shut (or a photo with shut
 * eyes) is not a blink. The open level is relative to the track, so it works for narrow
 * and wide eyes alike.
 */
export function detectBlink(
  samples: readonly LandmarkSample[],
  options: BlinkOptions = DEFAULT_BLINK,
): BlinkResult {
  if (samples.length < 3) return { blinked: false, openEar: 0, minRatio: 1 };
  const ear = samples.map((s) => eyeAspectRatio(s.points));
  const sorted = [...ear].sort((a, b) => a - b);
  const open = sorted[Math.floor(0.8 * (sorted.length - 1))];
  if (open <= 0) return { blinked: false, openEar: 0, minRatio: 1 };
  let minRatio = 1;
  let blinked = false;
  for (let i = 1; i < ear.length - 1; i++) {
    const r = ear[i] / open;
    minRatio = Math.min(minRatio, r);
    if (r > options.closedRatio || blinked) continue;
    const t = samples[i].timestampMs;
    let before = false;
    let after = false;
    for (let j = i - 1; j >= 0 && t - samples[j].timestampMs <= options.maxBlinkMs; j--)
      if (ear[j] >= options.reopenRatio * open) before = true;
    for (let j = i + 1; j < ear.length && samples[j].timestampMs - t <= options.maxBlinkMs; j++)
      if (ear[j] >= options.reopenRatio * open) after = true;
    blinked = before && after;
  }
  return { blinked, openEar: open, minRatio };
}

export interface PlanarOptions {
  /** Landmark motion (RMS after removing the mean shift, / face scale) for a frame to count. */
  readonly minMotion: number;
  /** Frames that moved at least minMotion needed before the signal says anything. */
  readonly minMovingFrames: number;
}

export const DEFAULT_PLANAR: PlanarOptions = { minMotion: 0.04, minMovingFrames: 3 };

export interface PlanarResult {
  /** Frames whose landmarks moved at least minMotion against the reference frame. */
  readonly movingFrames: number;
  /** Median over moving frames of (homography residual / face scale); NaN without moving frames. */
  readonly residual: number;
  /** Median over moving frames of (motion / face scale). */
  readonly motion: number;
}

/**
 * Motion a flat object cannot make. For each frame, one homography is fitted from the
 * reference frame's landmarks (PlanarAccumulator: the medoid of the track's first frames)
 * to this frame's; a sheet of paper or a phone moved in the hand is a plane, so one
 * homography explains its landmarks up to landmark noise, while a head that turns (depth:
 * nose against cheeks) or changes expression leaves a residual. Both are divided by the
 * face scale (outer eye corners), so the numbers do not depend on distance.
 */
export function planarMotion(
  samples: readonly LandmarkSample[],
  options: PlanarOptions = DEFAULT_PLANAR,
): PlanarResult {
  if (samples.length < 2) return { movingFrames: 0, residual: Number.NaN, motion: 0 };
  const acc = new PlanarAccumulator(samples[0].points, options);
  for (let i = 1; i < samples.length; i++) acc.add(samples[i].points);
  return acc.result();
}

/**
 * planarMotion computed incrementally: the reference is fixed once chosen and each frame's
 * fit is done once when it arrives, so a long track costs one homography fit per frame
 * (the live loop's liveness stage), not one per frame of its history.
 *
 * The reference is the medoid of the track's first REFERENCE_CANDIDATES frames: the one
 * whose landmarks one homography maps best onto the others (least summed residual). With
 * the first frame as the reference, one bad set of landmarks there (a landmarker glitch)
 * made every later frame of a flat photo look non-planar — seen once in 40 rigidly moved
 * ORL photos (scripts/liveness-noise-floor.ts: median residual 0.22 against a typical
 * 0.012). No verdict can come earlier anyway (spoof needs 3 moving frames besides the
 * reference). Still one reference: the median residual is not biased either way.
 */
export class PlanarAccumulator {
  private readonly pending: (readonly Point[])[] = [];
  private ref: readonly Point[] | null = null;
  private scale = 0;
  private readonly residuals: number[] = [];
  private readonly motions: number[] = [];

  constructor(
    first: readonly Point[],
    private readonly options: PlanarOptions = DEFAULT_PLANAR,
    /** Most moving frames kept (the oldest are dropped). */
    private readonly maxFrames = 200,
  ) {
    this.pending.push(first);
  }

  add(points: readonly Point[]): void {
    if (this.ref) {
      this.fit(points);
      return;
    }
    this.pending.push(points);
    if (this.pending.length < REFERENCE_CANDIDATES) return;
    const ref = medoid(this.pending);
    this.ref = ref;
    this.scale = faceScale(ref);
    for (const p of this.pending) if (p !== ref) this.fit(p);
    this.pending.length = 0;
  }

  result(): PlanarResult {
    return {
      movingFrames: this.residuals.length,
      residual: median(this.residuals),
      motion: median(this.motions),
    };
  }

  private fit(points: readonly Point[]): void {
    const ref = this.ref;
    if (!ref || !(this.scale > 0)) return;
    const motion = rmsMotion(ref, points) / this.scale;
    if (motion < this.options.minMotion) return;
    const h = fitHomography(ref, points);
    if (!h) return;
    this.residuals.push(homographyResidual(h, ref, points) / this.scale);
    this.motions.push(motion);
    if (this.residuals.length > this.maxFrames) {
      this.residuals.shift();
      this.motions.shift();
    }
  }
}

/** Frames of a track among which the planar reference is chosen (the first ones). */
export const REFERENCE_CANDIDATES = 4;

/** The landmark set one homography maps best onto all the others (least summed residual / scale). */
function medoid(sets: readonly (readonly Point[])[]): readonly Point[] {
  let best = sets[0];
  let bestCost = Infinity;
  for (const a of sets) {
    const scale = faceScale(a);
    if (!(scale > 0)) continue;
    let cost = 0;
    for (const b of sets) {
      if (a === b) continue;
      const h = fitHomography(a, b);
      cost += h ? homographyResidual(h, a, b) / scale : Infinity;
    }
    if (cost < bestCost) {
      bestCost = cost;
      best = a;
    }
  }
  return best;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
