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
