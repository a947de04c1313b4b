import { randomUUID } from 'node:crypto';
import type { EventBody, EventOutbox, EventSink, FacegateEvent } from '../events.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

export type { EventOutbox } from '../events.js';

/** The part of `MqttConnection` the publisher uses (narrow, so tests can see what it needs). */
export interface EventTransport {
  readonly connected: boolean;
  readonly topics: { readonly events: string };
  publish(topic: string, payload: string, options: { qos: 1 }): Promise<void>;
  onConnect(listener: () => void): () => void;
}

export interface EventPublisherOptions {
  deviceId: string;
  outbox: EventOutbox;
  transport: EventTransport;
  clock: Clock;
  logger: Logger;
  /** Events read from the outbox per drain step. */
  batchSize?: number;
  /** Most QoS 1 events in flight at once. */
  maxInFlight?: number;
  /** Pause before resending after the broker refused or dropped an event. */
  retryMs?: number;
}

/**
 * `EventSink` backed by the outbox: `emit` stamps id/ts/device and stores the event
 * before anything else (synchronously), then the publisher sends pending events to
 * `<base>/events` with QoS 1 in outbox order and marks each sent on PUBACK. After a
 * reconnect (or a restart) everything still pending goes out, oldest first.
 *
 * Delivery is at-least-once: an event whose PUBACK was lost in a crash is sent again with
 * the same `id`, so consumers de-duplicate by `id`.
 */
export class EventPublisher implements EventSink {
  private readonly opts: Required<EventPublisherOptions>;
  private readonly log: Logger;
  /** Highest sequence number handed to the client since the last (re)connect. */
  private submittedUpTo = -Infinity;
  private inFlight = 0;
  /** Acknowledged by the broker, not yet marked sent in the outbox. */
  private readonly acked: number[] = [];
  private flushScheduled = false;
  /** After a refusal, one event at a time until one gets through, so retries keep their order. */
  private cautious = false;
  private pumping = false;
  private started = false;
  private unsubscribe: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(options: EventPublisherOptions) {
    this.opts = { batchSize: 100, maxInFlight: 20, retryMs: 5000, ...options };
    this.log = options.logger.child({ module: 'events' });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.opts.transport.onConnect(() => {
      // In-flight QoS 1 messages are re-sent by mqtt.js itself before 'connect'; we resume
      // after the highest one we submitted. After a restart that is everything pending.
      this.pump();
    });
    this.pump();
  }

  stop(): void {
    this.started = false;
    this.flushAcks(); // record what the broker already has before the database closes
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  emit(body: EventBody): FacegateEvent {
    const event: FacegateEvent = {
      ...body,
      id: randomUUID(),
      ts: new Date(this.opts.clock.nowMs()).toISOString(),
      device: this.opts.deviceId,
    };
    try {
      // Durable first: committed before anything goes on the network.
      this.opts.outbox.appendOutbox(event);
    } catch (err) {
      // Never throw into the door or the live loop over a full disk or a closed database:
      // log it and send this one event without a durable copy (best effort).
      this.log.error({ err, type: event.type, id: event.id }, 'could not store the event in the outbox');
      if (this.started && this.opts.transport.connected) {
        this.opts.transport
          .publish(this.opts.transport.topics.events, JSON.stringify(event), { qos: 1 })
          .catch(() => {
            this.log.error({ id: event.id }, 'event lost: not stored and not published');
          });
      }
      return event;
    }
    this.pump();
    return event;
  }

  private pump(): void {
    if (!this.started || this.pumping) return;
    this.pumping = true;
    try {
      const window = this.cautious ? 1 : this.opts.maxInFlight;
      while (this.opts.transport.connected && this.inFlight < window) {
        const batch = this.opts.outbox
          .pendingOutbox(this.opts.batchSize + this.inFlight + this.acked.length)
          .filter((p) => p.seq > this.submittedUpTo)
          .slice(0, window - this.inFlight);
        if (batch.length === 0) break;
        for (const { seq, event } of batch) this.send(seq, event);
      }
    } catch (err) {
      this.log.error({ err }, 'reading the event outbox failed');
    } finally {
      this.pumping = false;
    }
  }

  private flushAcks(): void {
    this.flushScheduled = false;
    const seqs = this.acked.splice(0);
    if (seqs.length > 0) {
      try {
        this.opts.outbox.markSent(seqs);
      } catch (err) {
        // They stay pending and are sent again after a restart (same ids): at-least-once.
        this.log.error({ err, count: seqs.length }, 'marking events sent failed');
      }
    }
    this.pump();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || !this.started) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, this.opts.retryMs);
    this.retryTimer.unref();
  }

  private send(seq: number, event: FacegateEvent): void {
    this.submittedUpTo = seq;
    this.inFlight++;
    this.opts.transport.publish(this.opts.transport.topics.events, JSON.stringify(event), { qos: 1 }).then(
      () => {
        this.inFlight--;
        this.cautious = false;
        this.acked.push(seq);
        // Acks that arrive together are committed in one transaction (one fsync, not one per event).
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flushAcks());
        }
      },
      (err: Error) => {
        this.inFlight--;
        // Not delivered (client ended, or the broker refused it, e.g. an ACL): resend from
        // here on the next pump, at the latest after a pause (no hot loop on a refusal).
        this.submittedUpTo = Math.min(this.submittedUpTo, seq - 1);
        this.cautious = true;
        this.log.warn({ err: err.message, seq }, 'event publish failed; will retry');
        this.scheduleRetry();
      },
    );
  }
}

/** An `EventOutbox` in memory: for tests and tools without a database (events are lost on exit). */
export class MemoryEventOutbox implements EventOutbox {
  private nextSeq = 1;
  private readonly events = new Map<number, FacegateEvent>();
  /** Event id → sequence number, for every event ever appended (like the SQLite outbox's UNIQUE id). */
  private readonly seqById = new Map<string, number>();

  appendOutbox(event: FacegateEvent): number {
    const known = this.seqById.get(event.id);
    if (known !== undefined) return known;
    const seq = this.nextSeq++;
    this.events.set(seq, event);
    this.seqById.set(event.id, seq);
    return seq;
  }

  pendingOutbox(limit: number): { seq: number; event: FacegateEvent }[] {
    const out: { seq: number; event: FacegateEvent }[] = [];
    for (const [seq, event] of this.events) {
      if (out.length >= limit) break;
      out.push({ seq, event });
    }
    return out;
  }

  markSent(seqs: readonly number[]): void {
    for (const seq of seqs) this.events.delete(seq);
  }

  get size(): number {
    return this.events.size;
  }
}
