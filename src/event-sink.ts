import type { EventBody, EventSink, FacegateEvent } from './events.js';
import type { Clock } from './util/clock.js';
import type { Logger } from './util/log.js';

/**
 * The daemon's one event sink: each event goes to the outbox-backed publisher, which
 * stores it with its audit row in one SQL transaction (and sends it to MQTT). Until the gallery database is open (a relay fault during start-up)
 * and after it closed, events can only be logged: they are stamped `id: "unstored"`.
 */
export class AppEventSink implements EventSink {
  private store: EventSink | null = null;
  private readonly listeners = new Set<(event: FacegateEvent) => void>();
  private readonly log: Logger;

  constructor(
    private readonly deviceId: string,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    this.log = logger.child({ module: 'events' });
  }

  /** From now on events are stored and audited (`store`: the outbox-backed EventPublisher). */
  attach(store: EventSink): void {
    this.store = store;
  }

  /** Back to logging only (the database is closing). */
  detach(): void {
    this.store = null;
  }

  /** Calls `listener` with every event after it was stored (the live view); returns an unsubscribe function. */
  onEvent(listener: (event: FacegateEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(body: EventBody): FacegateEvent {
    const event = this.record(body);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.log.warn({ err }, 'event listener failed');
      }
    }
    return event;
  }

  private record(body: EventBody): FacegateEvent {
    if (this.store) return this.store.emit(body);
    const event: FacegateEvent = {
      ...body,
      id: 'unstored',
      ts: new Date(this.clock.nowMs()).toISOString(),
      device: this.deviceId,
    };
    this.log.warn({ event }, 'event while the gallery database is not open: logged only');
    return event;
  }
}
