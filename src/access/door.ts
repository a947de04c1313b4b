import type { EventSink } from '../events.js';
import type { DigitalInput, Relay } from '../gpio/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { MAX_PULSE_MS, MIN_PULSE_MS } from './config.js';

/**
 * The door: one relay pulse per unlock, the door contact and the request-to-exit button.
 *
 * - Fail-secure: the relay is driven to locked in start(), at the end of every pulse, in
 *   stop() and by lockSync() (crash handlers).
 * - Door contact: opening while locked (and after the grace period) is `door_forced`;
 *   open longer than heldOpenSeconds is `door_held_open`; closing during a pulse relocks
 *   at once (no tailgating on the rest of the pulse).
 * - Exit button: press = unlock pulse (source exit_button).
 * - Every unlock leaves one trace: a face unlock's is the `access_granted` event its
 *   caller (the live loop's actuator) emits with the outcome; every other source (exit
 *   button, signed remote request, Home Assistant) gets one `door_unlocked` event here,
 *   naming the source and its details, with `unlockFailed` when the relay did not move.
 */

/** Timer functions, handed in so tests advance time by hand. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A relay call that takes longer than this has failed (a hung tool, a broker away). */
export const RELAY_TIMEOUT_MS = 5000;

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface DoorOptions {
  readonly pulseMs: number;
  readonly heldOpenSeconds: number;
  readonly openGraceMs: number;
}

export interface DoorDeps {
  readonly relay: Relay;
  readonly contact?: DigitalInput | null;
  readonly exitButton?: DigitalInput | null;
  readonly events: EventSink;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timers?: Timers;
}

/** What opened the door (the `source` of its trace event). */
export type UnlockSource = 'face' | 'exit_button' | 'remote' | 'home_assistant';

/** The older spelling of a source (`access_granted` = face). */
export type UnlockReason = 'access_granted' | 'exit_button' | 'remote' | 'home_assistant';

/** One unlock and who asked for it, for the log and the trace event. */
export interface UnlockRequest {
  readonly source: UnlockSource;
  /** face: the person granted. */
  readonly personId?: string;
  /** remote: the signed request's transaction and key id. */
  readonly transaction?: string;
  readonly keyId?: string;
  /** remote: the reason given by the admin. */
  readonly reason?: string;
}

/** Whether the relay moved; `error` says why not. */
export type UnlockOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

function toRequest(request: UnlockRequest | UnlockReason): UnlockRequest {
  if (typeof request !== 'string') return request;
  return { source: request === 'access_granted' ? 'face' : request };
}

export interface DoorState {
  readonly locked: boolean;
  /** Door contact: true open, false closed, null without a contact. */
  readonly open: boolean | null;
  /** Unlock pulses since start. */
  readonly unlocks: number;
}

export class Door {
  private readonly log: Logger;
  private readonly timers: Timers;
  private readonly pulseMs: number;
  private relockTimer: unknown = null;
  private heldTimer: unknown = null;
  private lockedAtMs = -Infinity;
  private openedDuringPulse = false;
  private unlocks = 0;
  private started = false;
  /** Relay operations run one after another, never interleaved. */
  private queue: Promise<void> = Promise.resolve();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly stateListeners = new Set<(state: DoorState) => void>();

  constructor(
    private readonly options: DoorOptions,
    private readonly deps: DoorDeps,
  ) {
    this.log = deps.logger.child({ module: 'door' });
    this.timers = deps.timers ?? systemTimers;
    // Bounded whatever the caller passes: a strike is never held open for minutes.
    this.pulseMs = Math.min(MAX_PULSE_MS, Math.max(MIN_PULSE_MS, Math.round(options.pulseMs)));
  }

  /** Drives the relay to locked, then starts the inputs. */
  async start(): Promise<void> {
    await this.deps.relay.start();
    await this.deps.relay.lock();
    this.lockedAtMs = this.deps.clock.monotonicMs();
    this.started = true;
    const { contact, exitButton } = this.deps;
    if (contact) {
      await contact.start();
      this.unsubscribe.push(contact.onChange((open) => this.onContact(open)));
      if (contact.read()) this.startHeldTimer();
    }
    if (exitButton) {
      await exitButton.start();
      this.unsubscribe.push(
        exitButton.onChange((pressed) => {
          if (pressed) void this.unlock({ source: 'exit_button' });
        }),
      );
    }
    this.log.info({ relay: this.deps.relay.name, pulseMs: this.pulseMs }, 'door locked and ready');
  }

  /**
   * One unlock pulse (a second unlock during a pulse extends it). Never throws: resolves
   * with whether the relay moved. Sources other than `face` get their `door_unlocked`
   * event here (see the class comment).
   */
  unlock(request: UnlockRequest | UnlockReason): Promise<UnlockOutcome> {
    const req = toRequest(request);
    if (!this.started) {
      const outcome: UnlockOutcome = { ok: false, error: 'door is not running' };
      this.log.warn({ ...req }, 'unlock refused: the door is not running');
      this.trace(req, outcome);
      return Promise.resolve(outcome);
    }
    let outcome: UnlockOutcome = { ok: false, error: 'unlock did not run' };
    return this.enqueue(async () => {
      this.clearRelock();
      const wasUnlocked = this.deps.relay.unlocked;
      try {
        await this.withTimeout(this.deps.relay.unlock(), RELAY_TIMEOUT_MS, 'relay unlock');
      } catch (err) {
        outcome = { ok: false, error: (err as Error).message };
        this.log.error({ err, ...req }, 'relay failed to unlock');
        this.deps.events.emit({
          type: 'error',
          source: 'door',
          message: `relay failed to unlock: ${(err as Error).message}`,
        });
        await this.lockRelay();
        return;
      }
      outcome = { ok: true };
      if (!wasUnlocked) {
        this.unlocks++;
        this.openedDuringPulse = this.deps.contact?.read() ?? false;
      }
      this.log.info({ ...req, pulseMs: this.pulseMs }, 'door unlocked');
      this.relockTimer = this.timers.setTimeout(() => {
        this.relockTimer = null;
        void this.enqueue(() => this.lockRelay());
      }, this.pulseMs);
      this.notify();
    }).then(() => {
      this.trace(req, outcome);
      return outcome;
    });
  }

  /** The one `door_unlocked` event of a non-face unlock (a face's is its `access_granted`). */
  private trace(req: UnlockRequest, outcome: UnlockOutcome): void {
    if (req.source === 'face') return;
    try {
      this.deps.events.emit({
        type: 'door_unlocked',
        source: req.source,
        ...(req.reason !== undefined ? { reason: req.reason } : {}),
        ...(req.transaction !== undefined ? { transaction: req.transaction } : {}),
        ...(req.keyId !== undefined ? { keyId: req.keyId } : {}),
        ...(outcome.ok ? {} : { unlockFailed: outcome.error }),
      });
    } catch (err) {
      this.log.error({ err, ...req }, 'could not record the unlock event');
    }
  }

  /** Locks now (ends a pulse early). */
  lock(): Promise<void> {
    return this.enqueue(async () => {
      this.clearRelock();
      await this.lockRelay();
    });
  }

  /** Synchronous best-effort lock for crash handlers. */
  lockSync(): void {
    this.clearRelock();
    this.deps.relay.lockSync();
  }

  state(): DoorState {
    return {
      locked: !this.deps.relay.unlocked,
      open: this.deps.contact ? this.deps.contact.read() : null,
      unlocks: this.unlocks,
    };
  }

  /** Called on every lock/unlock/open/close (MQTT state, Home Assistant lock entity). */
  onStateChange(listener: (state: DoorState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Locks the relay and releases inputs. Always leaves the relay locked (or logged why not). */
  async stop(): Promise<void> {
    this.started = false;
    this.clearRelock();
    this.clearHeldTimer();
    for (const off of this.unsubscribe.splice(0)) off();
    // Let a running relay operation finish, but never wait on a hung one to lock.
    await this.withTimeout(this.queue, RELAY_TIMEOUT_MS, 'pending relay operation').catch(() => undefined);
    try {
      await this.withTimeout(this.deps.relay.lock(), RELAY_TIMEOUT_MS, 'relay lock');
    } catch (err) {
      this.log.error({ err }, 'relay failed to lock on stop; trying the synchronous path');
      this.deps.relay.lockSync();
    }
    try {
      await this.withTimeout(this.deps.relay.close(), RELAY_TIMEOUT_MS, 'relay close');
    } catch (err) {
      this.log.error({ err }, 'relay close failed');
    }
    for (const input of [this.deps.contact, this.deps.exitButton]) {
      if (input) await input.close().catch((err: unknown) => this.log.warn({ err }, 'input close failed'));
    }
    this.log.info('door stopped, relay locked');
  }

  private onContact(open: boolean): void {
    const now = this.deps.clock.monotonicMs();
    if (open) {
      const authorised = this.deps.relay.unlocked || now - this.lockedAtMs <= this.options.openGraceMs;
      if (this.deps.relay.unlocked) this.openedDuringPulse = true;
      if (!authorised) {
        this.log.warn('door opened without an unlock');
        this.deps.events.emit({ type: 'door_forced' });
      }
      this.startHeldTimer();
    } else {
      this.clearHeldTimer();
      if (this.deps.relay.unlocked && this.openedDuringPulse) {
        // The person went through and the door shut: relock now, not at the end of the pulse.
        this.log.info('door closed during the pulse; relocking early');
        void this.lock();
      }
    }
    this.notify();
  }

  private startHeldTimer(): void {
    this.clearHeldTimer();
    const seconds = this.options.heldOpenSeconds;
    this.heldTimer = this.timers.setTimeout(() => {
      this.heldTimer = null;
      this.log.warn({ seconds }, 'door held open');
      this.deps.events.emit({ type: 'door_held_open', seconds });
    }, seconds * 1000);
  }

  private clearHeldTimer(): void {
    if (this.heldTimer !== null) this.timers.clearTimeout(this.heldTimer);
    this.heldTimer = null;
  }

  private clearRelock(): void {
    if (this.relockTimer !== null) this.timers.clearTimeout(this.relockTimer);
    this.relockTimer = null;
  }

  private async lockRelay(): Promise<void> {
    const wasUnlocked = this.deps.relay.unlocked;
    try {
      await this.withTimeout(this.deps.relay.lock(), RELAY_TIMEOUT_MS, 'relay lock');
    } catch (err) {
      this.log.error({ err }, 'relay failed to lock; trying the synchronous path');
      this.deps.events.emit({
        type: 'error',
        source: 'door',
        message: `relay failed to lock: ${(err as Error).message}`,
      });
      this.deps.relay.lockSync();
    }
    this.lockedAtMs = this.deps.clock.monotonicMs();
    this.openedDuringPulse = false;
    if (wasUnlocked) {
      this.log.info('door locked');
      this.notify();
    }
  }

  private withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: unknown = null;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.timers.setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => this.timers.clearTimeout(timer));
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.queue
      .then(op, op)
      .catch((err: unknown) => this.log.error({ err }, 'door operation failed'));
    this.queue = next;
    return next;
  }

  private notify(): void {
    const state = this.state();
    for (const l of [...this.stateListeners]) {
      try {
        l(state);
      } catch (err) {
        this.log.error({ err }, 'door state listener failed');
      }
    }
  }
}
