/**
 * Events are the product's public record (MQTT `<base>/events`, the local audit log).
 * Producers build a body; the sink stamps `id`, `ts` and `device` and stores it in the
 * outbox before anything is published, so no event is lost while the broker is away.
 */
export type EventType =
  | 'access_granted'
  | 'access_denied'
  | 'unknown_face'
  | 'door_forced'
  | 'door_held_open'
  | 'enrolled'
  | 'removed'
  | 'rejected_request'
  | 'error';

export interface EventBody {
  readonly type: EventType;
  /** Type-specific fields (person, score, margin, frames, reason, ...), JSON-serialisable. */
  readonly [field: string]: unknown;
}

export interface FacegateEvent extends EventBody {
  /** Unique id (UUID v4). */
  readonly id: string;
  /** ISO-8601 UTC time of the event. */
  readonly ts: string;
  readonly device: string;
}

/** Where components send events; implemented by the outbox-backed publisher in app.ts. */
export interface EventSink {
  emit(body: EventBody): FacegateEvent;
}

/**
 * The durable queue events wait in until the broker has them (the outbox pattern).
 * `SqliteEventOutbox` (src/gallery/outbox.ts) is the device's; `MemoryEventOutbox`
 * (src/mqtt/event-publisher.ts) is for tests and tools. Both pass the one contract suite
 * in test/contracts/event-outbox.ts.
 */
export interface EventOutbox {
  /**
   * Stores the event durably (committed when this returns) and returns its sequence
   * number; sequence numbers increase in append order. An event whose `id` is already
   * queued is not queued twice: its first sequence number is returned.
   */
  appendOutbox(event: FacegateEvent): number;
  /** The oldest unsent events, in sequence order, at most `limit`. */
  pendingOutbox(limit: number): readonly { readonly seq: number; readonly event: FacegateEvent }[];
  /** The broker has these events (PUBACK): they will not be sent again. One call per batch of acks. */
  markSent(seqs: readonly number[]): void;
}
