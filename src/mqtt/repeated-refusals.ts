import { createHash } from 'node:crypto';

/**
 * Remembers which request payloads were refused recently, so the same bytes delivered
 * again (a retained request on every reconnect, a QoS 1/2 re-delivery, an admin
 * re-publish) are answered again but reported ONCE: one `rejected_request` event and audit
 * row, not one per delivery (field case "retained request": 440 rows in 6 minutes).
 *
 * Bounded: at most `capacity` payload digests (least recently seen evicted), each for
 * `windowMs`; after that window a repeat counts as new and is reported again.
 */
export class RepeatedRefusals {
  private readonly seen = new Map<string, number>();
  private repeats = 0;

  constructor(
    private readonly nowMs: () => number,
    private readonly windowMs = 10 * 60_000,
    private readonly capacity = 1024,
  ) {}

  /**
   * True when this payload with this refusal code was not reported within the window (so
   * the caller reports it now); false for a repeat (answer, but do not report again).
   */
  shouldReport(payload: Uint8Array, code: string): boolean {
    const key = `${code}:${createHash('sha256').update(payload).digest('base64url')}`;
    const now = this.nowMs();
    const at = this.seen.get(key);
    this.seen.delete(key);
    if (at !== undefined && now - at < this.windowMs) {
      this.seen.set(key, at); // keep the first report's time: a steady stream is reported once a window
      this.repeats++;
      return false;
    }
    this.seen.set(key, now);
    if (this.seen.size > this.capacity) this.seen.delete(this.seen.keys().next().value as string);
    return true;
  }

  /** Refusals answered but not reported again since start. */
  get repeated(): number {
    return this.repeats;
  }
}
