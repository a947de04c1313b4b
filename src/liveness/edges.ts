import type { Box } from '../vision/image.js';
import type { EdgeLine } from './line-finder.js';

/**
 * The straight edges of a sheet or a screen around a face (signal 4 of issue #13), from
 * the line segments found in a ring around the face box (LineFinder). Pure functions over
 * one track's frames; thresholds are arguments (config `access.liveness`).
 *
 * Two cues, both in face-box units (distance from the box centre / box width or height):
 *
 * - **framing**: segments beside the face — a near-vertical one left or right of it, a
 *   near-horizontal one above or below it, each at 0.6–1.8 face sizes from the centre and
 *   running alongside the face for ≥ 40 % of its extent. A phone screen, a monitor bezel
 *   or a paper border frames the face on 3–4 sides; a room behind a person can frame it
 *   too (a door frame, a shelf), so framing alone is weak evidence.
 * - **moving with the face**: the paper's edge or the screen's bezel is fixed to the
 *   face it shows, so when the face moves in the image, the segment moves with it (its
 *   face-relative position stays); a door frame behind a real person stays where it is
 *   in the image. Each frame is compared with the earlier frame of the track (last 2 s)
 *   whose face box differs most; every framing segment of that frame is predicted both
 *   ways (face-rigid, image-static) and counted as a `rigid` or a `static` vote when this
 *   frame has a segment of the same side at one prediction and not at the other. The two
 *   predictions must be ≥ minShift face sizes apart for the vote to count.
 */

export type Side = 'left' | 'right' | 'top' | 'bottom';
export const SIDES: readonly Side[] = ['left', 'right', 'top', 'bottom'];

/** A framing segment: its side and its position across that side, in image pixels. */
export interface FramingLine {
  readonly side: Side;
  /** x of a left/right segment, y of a top/bottom one (its midpoint), px. */
  readonly position: number;
}

export interface EdgeGeometry {
  /** Closest and farthest distance of a framing segment from the face centre (face sizes). */
  readonly ringInner: number;
  readonly ringOuter: number;
  /** Largest angle from the vertical (left/right) or horizontal (top/bottom), degrees. */
  readonly maxTiltDeg: number;
  /** Part of the face's extent the segment must run alongside (0..1). */
  readonly minOverlap: number;
}

export const EDGE_GEOMETRY: EdgeGeometry = {
  ringInner: 0.6,
  ringOuter: 1.8,
  maxTiltDeg: 20,
  minOverlap: 0.4,
};

/** The image region searched for segments around `box` (the ring's outer square). */
export function ringRegion(box: Box, geometry: EdgeGeometry = EDGE_GEOMETRY): Box {
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const hw = geometry.ringOuter * box.width;
  const hh = geometry.ringOuter * box.height;
  return { x: cx - hw, y: cy - hh, width: 2 * hw, height: 2 * hh };
}

function overlap(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(Math.max(a0, a1), b1) - Math.max(Math.min(a0, a1), b0));
}

/** The segments of `lines` that frame the face in `box` (see the module comment). */
export function framingLines(
  box: Box,
  lines: readonly EdgeLine[],
  geometry: EdgeGeometry = EDGE_GEOMETRY,
): FramingLine[] {
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const tan = Math.tan((geometry.maxTiltDeg * Math.PI) / 180);
  const out: FramingLine[] = [];
  for (const l of lines) {
    const dx = Math.abs(l.x2 - l.x1);
    const dy = Math.abs(l.y2 - l.y1);
    if (dx <= tan * dy) {
      const x = (l.x1 + l.x2) / 2;
      const u = (x - cx) / box.width;
      const along = overlap(l.y1, l.y2, box.y, box.y + box.height) / box.height;
      if (along < geometry.minOverlap) continue;
      if (u <= -geometry.ringInner && u >= -geometry.ringOuter) out.push({ side: 'left', position: x });
      else if (u >= geometry.ringInner && u <= geometry.ringOuter) out.push({ side: 'right', position: x });
    } else if (dy <= tan * dx) {
      const y = (l.y1 + l.y2) / 2;
      const v = (y - cy) / box.height;
      const along = overlap(l.x1, l.x2, box.x, box.x + box.width) / box.width;
      if (along < geometry.minOverlap) continue;
      if (v <= -geometry.ringInner && v >= -geometry.ringOuter) out.push({ side: 'top', position: y });
      else if (v >= geometry.ringInner && v <= geometry.ringOuter) out.push({ side: 'bottom', position: y });
    }
  }
  return out;
}

export interface EdgeOptions {
  /** Face-rigid and image-static predictions must differ by this many face sizes for a vote. */
  readonly minShift: number;
  /** Frames of the track kept for the comparison (ms). */
  readonly windowMs: number;
}

export const DEFAULT_EDGE_OPTIONS: EdgeOptions = { minShift: 0.1, windowMs: 2000 };

export interface EdgeResult {
  /** Frames with a line search. */
  readonly frames: number;
  /** Frames framed on ≥ 2 sides / on ≥ 3 sides. */
  readonly framed2: number;
  readonly framed3: number;
  /** Votes per side over the track: the segment moved with the face / stayed in the image. */
  readonly rigid: Readonly<Record<Side, number>>;
  readonly static: Readonly<Record<Side, number>>;
}

interface EdgeFrame {
  readonly timestampMs: number;
  readonly box: Box;
  readonly lines: readonly FramingLine[];
}

const zero = (): Record<Side, number> => ({ left: 0, right: 0, top: 0, bottom: 0 });

/**
 * The edge evidence of one track, one frame at a time. Cost per frame: O(segments × the
 * frames in the window) for choosing the comparison frame, O(segments²) for the votes.
 */
export class EdgeAccumulator {
  private readonly history: EdgeFrame[] = [];
  private frames = 0;
  private framed2 = 0;
  private framed3 = 0;
  private readonly rigid = zero();
  private readonly still = zero();

  constructor(
    private readonly options: EdgeOptions = DEFAULT_EDGE_OPTIONS,
    private readonly geometry: EdgeGeometry = EDGE_GEOMETRY,
  ) {}

  /** One frame: the face box and the segments found in its ring (image coordinates). */
  add(timestampMs: number, box: Box, lines: readonly EdgeLine[]): void {
    if (!(box.width > 0 && box.height > 0)) return;
    const framing = framingLines(box, lines, this.geometry);
    this.frames++;
    const sides = new Set(framing.map((f) => f.side)).size;
    if (sides >= 2) this.framed2++;
    if (sides >= 3) this.framed3++;
    const ref = this.farthest(box, timestampMs);
    if (ref) this.vote(ref, { timestampMs, box, lines: framing });
    this.history.push({ timestampMs, box, lines: framing });
  }

  result(): EdgeResult {
    return {
      frames: this.frames,
      framed2: this.framed2,
      framed3: this.framed3,
      rigid: { ...this.rigid },
      static: { ...this.still },
    };
  }

  /** The earlier frame (within the window) whose face box differs most from `box`. */
  private farthest(box: Box, nowMs: number): EdgeFrame | null {
    while (this.history.length > 0 && nowMs - this.history[0].timestampMs > this.options.windowMs)
      this.history.shift();
    let best: EdgeFrame | null = null;
    let bestD = 0;
    for (const f of this.history) {
      if (f.lines.length === 0) continue;
      const d = boxShift(f.box, box);
      if (d > bestD) {
        bestD = d;
        best = f;
      }
    }
    return best;
  }

  private vote(ref: EdgeFrame, now: EdgeFrame): void {
    for (const l of ref.lines) {
      const horizontalSide = l.side === 'left' || l.side === 'right';
      const c0 = horizontalSide ? ref.box.x + ref.box.width / 2 : ref.box.y + ref.box.height / 2;
      const s0 = horizontalSide ? ref.box.width : ref.box.height;
      const c1 = horizontalSide ? now.box.x + now.box.width / 2 : now.box.y + now.box.height / 2;
      const s1 = horizontalSide ? now.box.width : now.box.height;
      const rigid = c1 + ((l.position - c0) / s0) * s1;
      const still = l.position;
      const sep = Math.abs(rigid - still);
      if (sep < this.options.minShift * s1) continue;
      const tol = Math.min(0.4 * sep, 0.1 * s1);
      let dRigid = Infinity;
      let dStill = Infinity;
      for (const m of now.lines) {
        if (m.side !== l.side) continue;
        dRigid = Math.min(dRigid, Math.abs(m.position - rigid));
        dStill = Math.min(dStill, Math.abs(m.position - still));
      }
      if (dRigid <= tol && dRigid < dStill) this.rigid[l.side]++;
      else if (dStill <= tol && dStill < dRigid) this.still[l.side]++;
    }
  }
}

/** How far two face boxes are apart: centre shift and size change, in face sizes. */
function boxShift(a: Box, b: Box): number {
  const s = (a.width + b.width) / 2;
  const dx = (a.x + a.width / 2 - (b.x + b.width / 2)) / s;
  const dy = (a.y + a.height / 2 - (b.y + b.height / 2)) / s;
  const ds = Math.abs(a.width - b.width) / s;
  return Math.hypot(dx, dy) + ds;
}

export interface EdgeVerdictOptions {
  /** Votes a side needs (rigid) before it counts as moving with the face. */
  readonly minVotes: number;
  /** Sides that must move with the face for the `edges_move_with_face` artefact. */
  readonly minSides: number;
}

/**
 * Sides whose segments moved with the face: ≥ minVotes rigid votes and at least three
 * times as many rigid as static votes (a background line that happened to line up once
 * does not count).
 */
export function sidesMovingWithFace(r: EdgeResult, minVotes: number): Side[] {
  return SIDES.filter((s) => r.rigid[s] >= minVotes && r.rigid[s] >= 3 * r.static[s]);
}
