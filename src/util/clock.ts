/** Time, handed in so policies and timeouts can be tested with a fake clock. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (for event timestamps and token expiry). */
  nowMs(): number;
  /** Monotonic milliseconds (for intervals; never jumps with NTP). */
  monotonicMs(): number;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
};
