/**
 * Hardware seams of the door. Real drivers (onoff, gpiod, mqtt) and the simulated one
 * implement these; tests drive fakes of the GPIO lines underneath the real drivers.
 */

/** The door strike/magnet relay. "Locked" is the safe state every way out returns to. */
export interface Relay {
  readonly name: string;
  /** Claims the output and drives it to LOCKED (called once at start-up). */
  start(): Promise<void>;
  /** Energises the strike (door unlocked) until lock() is called. */
  unlock(): Promise<void>;
  /** Releases the strike (door locked). Safe to call any number of times. */
  lock(): Promise<void>;
  /**
   * Best-effort synchronous lock for crash paths (process 'exit', uncaught errors) where
   * no await is possible. Never throws.
   */
  lockSync(): void;
  /** Locks, then releases the output. */
  close(): Promise<void>;
  /** What this process last drove the relay to. */
  readonly unlocked: boolean;
}

/** A digital input (door contact, request-to-exit button), active-low already applied. */
export interface DigitalInput {
  readonly name: string;
  /** Claims the line and reads its first value. */
  start(): Promise<void>;
  /** Last known state: true = active (door open / button pressed). */
  read(): boolean;
  /** Calls `listener` with every change of the active state; returns an unsubscribe function. */
  onChange(listener: (active: boolean) => void): () => void;
  close(): Promise<void>;
}

/** The small piece of the MQTT client the mqtt relay needs (app.ts adapts the real client). */
export interface RelayPublisher {
  /**
   * Whether the client is connected now. An unlock is refused while it is false: a
   * command queued offline would open the door whenever the broker came back.
   */
  readonly connected?: boolean;
  /**
   * Must reject (not queue) when the message cannot be sent now. `expiresInSeconds`: a
   * command that must not be carried out later (an unlock): never queued, sent with that
   * MQTT 5 message expiry, withdrawn when not acknowledged in time.
   */
  publish(
    topic: string,
    payload: string,
    options?: { qos?: 0 | 1 | 2; retain?: boolean; expiresInSeconds?: number },
  ): Promise<void>;
}

/** A set of listeners, for inputs. */
export class ChangeListeners {
  private readonly listeners = new Set<(active: boolean) => void>();

  add(listener: (active: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(active: boolean): void {
    for (const l of [...this.listeners]) l(active);
  }

  clear(): void {
    this.listeners.clear();
  }
}
