import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { PublishOptions } from './connection.js';

/** What the daemon reports on `<base>/state` (the app builds it from the door, gallery, model and loop). */
export interface DeviceState {
  door: {
    locked: boolean;
    /** Door contact: true open, false closed, null when there is no contact. */
    open: boolean | null;
    /** Unlock pulses since start. */
    unlocks: number;
  };
  gallery: { people: number; faces: number; version: number };
  model: { id: string };
  /** Frames processed per second, recent average. */
  fps: number;
}

/** The JSON published retained on `<base>/state` (contract version `v`). */
export interface StateMessage extends DeviceState {
  v: 1;
  ts: string;
}

export interface StateTransport {
  readonly connected: boolean;
  readonly topics: { readonly state: string };
  publish(topic: string, payload: string, options?: PublishOptions): Promise<void>;
  onConnect(listener: () => void): () => void;
}

export interface StatePublisherOptions {
  transport: StateTransport;
  provider: () => DeviceState;
  clock: Clock;
  logger: Logger;
  /** How often the state is checked and published when it changed. */
  intervalMs: number;
}

/**
 * Publishes `<base>/state` (retained, QoS 1): on every connect, when `refresh()` is called
 * (door changes), and every `intervalMs` if anything changed. fps is rounded to 0.1 so
 * noise alone does not republish.
 */
export class StatePublisher {
  private readonly opts: StatePublisherOptions;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastPublished: string | null = null;

  constructor(options: StatePublisherOptions) {
    this.opts = options;
    this.log = options.logger.child({ module: 'state' });
  }

  start(): void {
    if (this.timer) return;
    this.unsubscribe = this.opts.transport.onConnect(() => this.publish(true));
    this.timer = setInterval(() => this.publish(false), Math.max(100, this.opts.intervalMs));
    this.timer.unref();
    this.publish(true);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Publishes now if the state changed (call it on door changes, enrollments). */
  refresh(): void {
    this.publish(false);
  }

  /** The message that would be published now. */
  current(): StateMessage {
    const s = this.opts.provider();
    return {
      v: 1,
      ts: new Date(this.opts.clock.nowMs()).toISOString(),
      door: { locked: s.door.locked, open: s.door.open, unlocks: s.door.unlocks },
      gallery: { people: s.gallery.people, faces: s.gallery.faces, version: s.gallery.version },
      model: { id: s.model.id },
      fps: Math.round(s.fps * 10) / 10,
    };
  }

  private publish(force: boolean): void {
    if (!this.opts.transport.connected) return;
    let message: StateMessage;
    try {
      message = this.current();
    } catch (err) {
      this.log.error({ err }, 'state provider failed');
      return;
    }
    const { ts: _ts, ...comparable } = message;
    const key = JSON.stringify(comparable);
    if (!force && key === this.lastPublished) return;
    this.lastPublished = key;
    this.opts.transport
      .publish(this.opts.transport.topics.state, JSON.stringify(message), { qos: 1, retain: true })
      .catch((err: Error) => {
        this.lastPublished = null; // try again next time
        this.log.warn({ err: err.message }, 'could not publish state');
      });
  }
}
