import type { Frame } from './frame-source.js';
import type { GrayImage } from '../vision/image.js';

/**
 * Holds only the newest frame. Producers `put` as fast as the camera delivers; a consumer's
 * `next()` gets the newest frame it has not seen, or waits for one. An unread frame is
 * replaced (dropped) by a newer one, so a slow consumer never builds a queue. Shared by all
 * frame sources.
 */
export class LatestFrameSlot {
  private latest: Frame | undefined;
  private lastTakenSeq = 0;
  private seq = 0;
  private waiters: { resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];
  private closedWith: Error | undefined;

  /** Stores a new frame (seq = previous + 1) and wakes waiting consumers. */
  put(image: GrayImage, timestampMs: number): Frame {
    if (this.closedWith) throw this.closedWith;
    this.seq += 1;
    const frame: Frame = { image, timestampMs, seq: this.seq };
    this.latest = frame;
    const waiting = this.waiters;
    this.waiters = [];
    if (waiting.length > 0) this.lastTakenSeq = frame.seq;
    for (const w of waiting) w.resolve(frame);
    return frame;
  }

  /** The newest frame not yet returned; waits if there is none. Rejects after `close`. */
  next(): Promise<Frame> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const latest = this.latest;
    if (latest && latest.seq > this.lastTakenSeq) {
      this.lastTakenSeq = latest.seq;
      return Promise.resolve(latest);
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Number of frames put so far (the last seq). */
  get produced(): number {
    return this.seq;
  }

  /** True when a consumer is blocked in `next()` (lets paced-by-consumer sources produce on demand). */
  get hasWaiters(): boolean {
    return this.waiters.length > 0;
  }

  /** Ends the slot: pending and future `next()` calls reject with `reason`. */
  close(reason: Error = new Error('frame source stopped')): void {
    if (this.closedWith) return;
    this.closedWith = reason;
    this.latest = undefined;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.reject(reason);
  }

  /** Re-opens a closed slot (a source that is started again); seq keeps counting up. */
  reopen(): void {
    this.closedWith = undefined;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }
}
