import type { Point } from '../vision/image.js';
import { applyHomography, fitHomography, homographyResidual, rmsMotion } from './geometry.js';

/**
 * Liveness signals computed over one face track: from its 68 landmarks (iBUG 300-W order)
 * and from its eyelid readings (src/liveness/eyelids.ts).
 * Pure functions over the track's history; the thresholds are arguments (config
 * `access.liveness`), the defaults are in src/liveness/config.ts.
 */

export interface LandmarkSample {
  /** Frame time, ms. */
  readonly timestampMs: number;
  /** 68 points, iBUG order, image coordinates. */
  readonly points: readonly Point[];
}

/** Landmarks used as the face-size scale: outer eye corners (36, 45). */
const OUTER_LEFT = 36;
const OUTER_RIGHT = 45;
/** Mouth corners (48, 54): the lower end of the face's vertical measure. */
const MOUTH_LEFT = 48;
const MOUTH_RIGHT = 54;

function dist(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/** Outer-eye-corner distance: the face-size unit for motion and residuals. */
export function faceScale(points: readonly Point[]): number {
  return dist(points[OUTER_LEFT], points[OUTER_RIGHT]);
}

/**
 * The face's vertical extent over its width: the distance from the eye line (outer corners)
 * to the mouth corners' midpoint, measured square to that line, over the outer-corner
 * distance (~0.8–1.0 for a frontal face). A sheet tipped back foreshortens eye openings and
 * this measure alike, so dividing one by the other leaves a blink, not a tilt.
 */
export function faceAspect(points: readonly Point[]): number {
  const a = points[OUTER_LEFT];
  const b = points[OUTER_RIGHT];
  const width = dist(a, b);
  if (!(width > 0)) return Number.NaN;
  const mx = (points[MOUTH_LEFT].x + points[MOUTH_RIGHT].x) / 2;
  const my = (points[MOUTH_LEFT].y + points[MOUTH_RIGHT].y) / 2;
  return Math.abs((mx - a.x) * (b.y - a.y) - (my - a.y) * (b.x - a.x)) / (width * width);
}

/** One frame's eyelid opening for the blink signal. */
export interface OpennessSample {
  /** Frame time, ms. */
  readonly timestampMs: number;
  /** Which eye was read (EyelidReader reads the wider one); a blink is judged per eye. */
  readonly side: 'left' | 'right';
  /** Lid opening / eye width, divided by faceAspect (tilt-free). */
  readonly openness: number;
  /** Lid opening / eye width as read (absent: judged on `openness` alone). */
  readonly raw?: number;
}

/** An eyelid reading made tilt-free with the face's 68 landmarks (see faceAspect). */
export function eyeOpennessSample(
  timestampMs: number,
  points: readonly Point[],
  reading: { readonly side: 'left' | 'right'; readonly openness: number },
): OpennessSample {
  return {
    timestampMs,
    side: reading.side,
    openness: reading.openness / faceAspect(points),
    raw: reading.openness,
  };
}

export interface BlinkOptions {
  /** A frame is "closed" when its openness is at most this fraction of the track's open level. */
  readonly closedRatio: number;
  /** The eye must be open (>= reopenRatio of the open level) within this time before and after, ms. */
  readonly maxBlinkMs: number;
  readonly reopenRatio: number;
}

export const DEFAULT_BLINK: BlinkOptions = { closedRatio: 0.5, maxBlinkMs: 800, reopenRatio: 0.8 };

export interface BlinkResult {
  readonly blinked: boolean;
  /** Open level: the 80th percentile openness of the eye's frames. */
  readonly openLevel: number;
  /** Lowest openness / open level seen (1 = never lower than open). */
  readonly minRatio: number;
}

/**
 * A blink: open → closed → open again, the open frames within maxBlinkMs on both sides of
 * the closed one, all of the same eye. A frame is closed when its opening is at most
 * closedRatio of the eye's open level (its 80th percentile) both as read and divided by the
 * face's height: the first alone dips when a sheet is tipped back, the second alone when
 * the 68 landmarks glitch on one frame (scripts/liveness-noise-floor.ts); a blink lowers
 * both. Open again means >= reopenRatio of the open level (tilt-free). Both sides of the dip
 * must be seen, so a face that keeps its eyes shut (or a photo with shut eyes) is not a
 * blink. Samples with a non-finite opening are skipped. The rule follows Soukupová & Čech,
 * "Real-Time Eye Blink Detection using Facial Landmarks" (CVWW 2016), on an eyelid model's
 * opening instead of the 68 points.
 */
export function detectBlink(
  samples: readonly OpennessSample[],
  options: Partial<BlinkOptions> = {},
): BlinkResult {
  const o = { ...DEFAULT_BLINK, ...options };
  let best: BlinkResult = { blinked: false, openLevel: 0, minRatio: 1 };
  for (const side of ['left', 'right'] as const) {
    const eye = samples.filter((s) => s.side === side && Number.isFinite(s.openness));
    const r = blinkOfOneEye(eye, o);
    if (r.blinked && !best.blinked) best = r;
    else if (r.blinked === best.blinked && r.minRatio < best.minRatio) best = r;
  }
  return best;
}

function percentile80(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(0.8 * (sorted.length - 1))];
}

function blinkOfOneEye(samples: readonly OpennessSample[], o: BlinkOptions): BlinkResult {
  if (samples.length < 3) return { blinked: false, openLevel: 0, minRatio: 1 };
  const v = samples.map((s) => s.openness);
  const open = percentile80(v);
  if (!(open > 0)) return { blinked: false, openLevel: 0, minRatio: 1 };
  const raws = samples.map((s) => s.raw);
  const hasRaw = raws.every((r) => r !== undefined && Number.isFinite(r));
  const rawOpen = hasRaw ? percentile80(raws as number[]) : 0;
  // Per frame: the higher of the two ratios (closed only when both are low).
  const ratio = v.map((x, i) => (hasRaw && rawOpen > 0 ? Math.max(x / open, raws[i]! / rawOpen) : x / open));
  let minRatio = 1;
  let blinked = false;
  for (let i = 1; i < v.length - 1; i++) {
    minRatio = Math.min(minRatio, ratio[i]);
    if (ratio[i] > o.closedRatio || blinked) continue;
    const t = samples[i].timestampMs;
    let before = false;
    let after = false;
    for (let j = i - 1; j >= 0 && t - samples[j].timestampMs <= o.maxBlinkMs; j--)
      if (v[j] >= o.reopenRatio * open) before = true;
    for (let j = i + 1; j < v.length && samples[j].timestampMs - t <= o.maxBlinkMs; j++)
      if (v[j] >= o.reopenRatio * open) after = true;
    blinked = before && after;
  }
  return { blinked, openLevel: open, minRatio };
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
  /**
   * Median over moving frames of the face-parts residual (expressionResidual / face scale):
   * brows and mouth against one homography fitted to the eye corners and nose alone. NaN
   * without moving frames.
   */
  readonly expression: number;
}

/** iBUG 68: the face's rigid part — the four eye corners and the nose (27..35). */
const RIGID_PART = [36, 39, 42, 45, 27, 28, 29, 30, 31, 32, 33, 34, 35] as const;
/** iBUG 68: the parts an expression or speech moves — brows (17..26) and lips (outer 48/51/54/57, inner 60/62/64/66). */
const MOVING_PARTS = [17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 48, 51, 54, 57, 60, 62, 64, 66] as const;

/**
 * How far the brows and lips moved against the rigid part of the face (pixels, RMS): one
 * homography is fitted from `ref` to `cur` on the eye corners and the nose only, and the
 * brow and lip points are compared with where it carries them. A sheet — flat or bent —
 * carries its printed brows and lips with its printed eyes and nose up to the fit's noise
 * and the sheet's bending (rigidly moved photos ≤ 0.021 face scales, sheets curled round a
 * quarter of the face width ≤ 0.040; scripts/liveness-noise-floor.ts); speech, a smile or
 * raised brows move them. A whole-face fit (homographyResidual over all
 * 68 points) dilutes this: the fit bends towards the moving points and 50 rigid ones
 * average it down (a talking face, liveness-dev d10: 0.035 reached after 5.3 s, this
 * measure ~0.077 over the clip).
 * NaN when the fit is degenerate.
 */
export function expressionResidual(ref: readonly Point[], cur: readonly Point[]): number {
  const h = fitHomography(
    RIGID_PART.map((i) => ref[i]),
    RIGID_PART.map((i) => cur[i]),
  );
  if (!h) return Number.NaN;
  let sum = 0;
  for (const i of MOVING_PARTS) {
    const p = applyHomography(h, ref[i]);
    sum += (p.x - cur[i].x) ** 2 + (p.y - cur[i].y) ** 2;
  }
  return Math.sqrt(sum / MOVING_PARTS.length);
}

/**
 * Motion a flat object cannot make. For each frame, one homography is fitted from the
 * reference frame's landmarks (PlanarAccumulator: the medoid of the track's first frames)
 * to this frame's; a sheet of paper or a phone moved in the hand is a plane, so one
 * homography explains its landmarks up to landmark noise, while a head that turns (depth:
 * nose against cheeks) or changes expression leaves a residual; and the face-parts residual
 * (expressionResidual) of the same frame. All are divided by the face scale (outer eye
 * corners), so the numbers do not depend on distance.
 */
export function planarMotion(
  samples: readonly LandmarkSample[],
  options: PlanarOptions = DEFAULT_PLANAR,
): PlanarResult {
  if (samples.length < 2) return { movingFrames: 0, residual: Number.NaN, motion: 0, expression: Number.NaN };
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
  private readonly expressions: number[] = [];

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
      expression: median(this.expressions.filter(Number.isFinite)),
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
    this.expressions.push(expressionResidual(ref, points) / this.scale);
    if (this.residuals.length > this.maxFrames) {
      this.residuals.shift();
      this.motions.shift();
      this.expressions.shift();
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
