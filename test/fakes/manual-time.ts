import type { Timers } from '../../src/access/door.js';
import type { Clock } from '../../src/util/clock.js';

/** A clock and timers that move only when the test says so. */
export class ManualTime implements Clock, Timers {
  private now = 1_000_000;
  private wall = Date.UTC(2026, 0, 1);
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  nowMs(): number {
    return this.wall + this.now;
  }

  monotonicMs(): number {
    return this.now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.pending) if (t.at <= end && t.at < nextAt) [nextId, nextAt] = [id, t.at];
      if (nextId < 0) break;
      const t = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      this.now = t.at;
      t.fn();
    }
    this.now = end;
  }

  get pendingTimers(): number {
    return this.pending.size;
  }
}

/** Lets queued promise callbacks run (door operations are async). */
export async function flush(): Promise<void> {
  // Real timers too: drivers wait a few ms for their tools (gpioset settle time).
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setTimeout(r, 2));
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}
