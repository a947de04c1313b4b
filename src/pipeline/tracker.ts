import type { Box } from '../vision/image.js';

/**
 * Face tracks: follows faces from frame to frame by box overlap, so evidence about one
 * person standing at the door (liveness, votes, a decision already taken) can be kept per
 * face rather than per frame.
 *
 * Method: greedy intersection-over-union association (as in the IOU tracker of Bochinski,
 * Eiselein and Sikora, AVSS 2017): every new box is paired with the unmatched live track
 * whose last box overlaps it most, best pairs first, when IoU >= `minIou`. A box with no
 * partner starts a new track; a track not seen for more than `maxGapMs` ends. Track ids
 * increase and are never reused within one tracker.
 */

export interface TrackerOptions {
  /** Lowest IoU (0..1) for a box to continue a track. Default 0.3. */
  readonly minIou?: number;
  /** A track unseen for longer than this (ms, frame time) ends. Default 1000. */
  readonly maxGapMs?: number;
}

export interface TrackState {
  readonly trackId: number;
  /** The last box seen for this track. */
  readonly box: Box;
  /** Frame time (ms) of the first and of the last box. */
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
  /** Frames in which the track had a box. */
  readonly frames: number;
}

export interface TrackUpdate {
  /** The track id of each input box, same order as the input. */
  readonly trackIds: readonly number[];
  /** Tracks that started with this frame. */
  readonly started: readonly number[];
  /** Tracks that ended (gap longer than maxGapMs) as of this frame. */
  readonly ended: readonly TrackState[];
}

export const DEFAULT_MIN_IOU = 0.3;
export const DEFAULT_MAX_GAP_MS = 1000;

/** Intersection over union of two boxes (0 when they do not overlap or one is empty). */
export function iou(a: Box, b: Box): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

export class FaceTracker {
  private readonly minIou: number;
  private readonly maxGapMs: number;
  private readonly tracks = new Map<number, TrackState>();
  private nextId = 1;
  private lastMs = -Infinity;

  constructor(options: TrackerOptions = {}) {
    this.minIou = options.minIou ?? DEFAULT_MIN_IOU;
    this.maxGapMs = options.maxGapMs ?? DEFAULT_MAX_GAP_MS;
    if (!(this.minIou > 0 && this.minIou <= 1))
      throw new RangeError(`minIou must be in (0, 1], got ${this.minIou}`);
    if (!(this.maxGapMs >= 0 && Number.isFinite(this.maxGapMs)))
      throw new RangeError(`maxGapMs must be a finite number >= 0, got ${this.maxGapMs}`);
  }

  /** Live tracks (not yet ended). */
  get active(): readonly TrackState[] {
    return [...this.tracks.values()];
  }

  /**
   * One frame's boxes in (frame time in ms, non-decreasing; an earlier time throws),
   * their track ids out. Call it for every processed frame, also with no boxes, so tracks end.
   */
  update(timestampMs: number, boxes: readonly Box[]): TrackUpdate {
    if (!Number.isFinite(timestampMs)) throw new RangeError('timestampMs must be finite');
    if (timestampMs < this.lastMs)
      throw new RangeError(`frame time went backwards (${timestampMs} < ${this.lastMs})`);
    this.lastMs = timestampMs;

    const ended: TrackState[] = [];
    for (const track of this.tracks.values()) {
      if (timestampMs - track.lastSeenMs > this.maxGapMs) {
        ended.push(track);
        this.tracks.delete(track.trackId);
      }
    }

    const pairs: { box: number; track: number; overlap: number }[] = [];
    boxes.forEach((box, i) => {
      for (const track of this.tracks.values()) {
        const overlap = iou(box, track.box);
        if (overlap >= this.minIou) pairs.push({ box: i, track: track.trackId, overlap });
      }
    });
    pairs.sort((a, b) => b.overlap - a.overlap || a.track - b.track);

    const trackIds: number[] = new Array<number>(boxes.length).fill(0);
    const usedTracks = new Set<number>();
    for (const p of pairs) {
      if (trackIds[p.box] !== 0 || usedTracks.has(p.track)) continue;
      trackIds[p.box] = p.track;
      usedTracks.add(p.track);
    }
    const started: number[] = [];
    boxes.forEach((box, i) => {
      const id = trackIds[i];
      if (id !== 0) {
        const t = this.tracks.get(id)!;
        this.tracks.set(id, { ...t, box, lastSeenMs: timestampMs, frames: t.frames + 1 });
        return;
      }
      const trackId = this.nextId++;
      trackIds[i] = trackId;
      started.push(trackId);
      this.tracks.set(trackId, {
        trackId,
        box,
        firstSeenMs: timestampMs,
        lastSeenMs: timestampMs,
        frames: 1,
      });
    });
    return { trackIds, started, ended };
  }

  /** Ends every track (e.g. after the camera restarted). */
  reset(): readonly TrackState[] {
    const all = [...this.tracks.values()];
    this.tracks.clear();
    return all;
  }
}
