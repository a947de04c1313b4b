import type { GrayImage } from '../vision/image.js';

/** One camera frame, in gray, with a monotonic capture time (ms, from `Clock.monotonicMs`). */
export interface Frame {
  readonly image: GrayImage;
  readonly timestampMs: number;
  /** Increases by one per frame the source produced (gaps = frames dropped as stale). */
  readonly seq: number;
}

/**
 * A camera. Sources never queue: `next()` resolves with the newest frame that the caller
 * has not seen yet, waiting if there is none; older unseen frames are dropped.
 */
export interface FrameSource {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves with the newest unseen frame; rejects once the source is stopped. */
  next(): Promise<Frame>;
}
