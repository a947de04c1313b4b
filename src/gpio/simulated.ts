import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { ChangeListeners, type DigitalInput, type Relay } from './types.js';

export interface SimulatedPulse {
  /** Monotonic ms when the relay was energised. */
  readonly unlockedAtMs: number;
  /** Monotonic ms when it was released; null while still unlocked. */
  lockedAtMs: number | null;
}

/**
 * A relay that only logs ("relay unlocked" / "relay locked" at info level, with
 * `relay: 'simulated'`) and records its pulses, for the laptop demo and tests.
 */
export class SimulatedRelay implements Relay {
  readonly name = 'simulated';
  readonly pulses: SimulatedPulse[] = [];
  private isUnlocked = false;
  private readonly log: Logger;

  constructor(
    logger: Logger,
    private readonly clock: Clock,
  ) {
    this.log = logger.child({ module: 'relay', relay: 'simulated' });
  }

  get unlocked(): boolean {
    return this.isUnlocked;
  }

  async start(): Promise<void> {
    this.lockSync();
  }

  async unlock(): Promise<void> {
    if (this.isUnlocked) return;
    this.isUnlocked = true;
    this.pulses.push({ unlockedAtMs: this.clock.monotonicMs(), lockedAtMs: null });
    this.log.info({ pulse: this.pulses.length }, 'relay unlocked');
  }

  async lock(): Promise<void> {
    this.lockSync();
  }

  lockSync(): void {
    if (!this.isUnlocked) return;
    this.isUnlocked = false;
    const pulse = this.pulses[this.pulses.length - 1];
    if (pulse && pulse.lockedAtMs === null) pulse.lockedAtMs = this.clock.monotonicMs();
    this.log.info({ pulse: this.pulses.length }, 'relay locked');
  }

  async close(): Promise<void> {
    this.lockSync();
  }
}

/** An input that changes only when told to (`set`): a button or contact for demos and tests. */
export class SimulatedInput implements DigitalInput {
  private value: boolean;
  private readonly listeners = new ChangeListeners();

  constructor(
    readonly name: string,
    initial = false,
  ) {
    this.value = initial;
  }

  async start(): Promise<void> {}

  read(): boolean {
    return this.value;
  }

  onChange(listener: (active: boolean) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Drives the simulated line (true = door open / button pressed). */
  set(active: boolean): void {
    if (active === this.value) return;
    this.value = active;
    this.listeners.emit(active);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
