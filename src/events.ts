/**
 * Events are the product's public record (MQTT `<base>/events`, the local audit log):
 * contract v1 in docs/mqtt.md. Each event type is ONE interface below; `EventBody` is their
 * discriminated union, so a producer that sends a wrong shape gets a compile error.
 * Producers build a body; the sink stamps `id`, `ts` and `device` and stores it in the
 * outbox before anything is published, so no event is lost while the broker is away.
 *
 * To add an event type: add its interface, add it to `EventBody`, add its fields to
 * `EVENT_FIELDS` (the compiler checks the two agree) and document it in docs/mqtt.md
 * (test/events-docs.test.ts checks the page against `EVENT_FIELDS`).
 */

/** A person as events name them. */
export interface EventPerson {
  readonly id: string;
  readonly name: string;
}

/** A person's credential state as access events show it (docs/access.md). */
export interface EventPersonState extends EventPerson {
  readonly suspended: boolean;
  readonly groups: readonly string[];
  /** ISO-8601 instants, present when set. */
  readonly validFrom?: string;
  readonly validUntil?: string;
}

/** Why a recognised-looking face did not open the door. */
export type DenyReason =
  | 'below_accept_threshold'
  | 'margin_too_small'
  | 'not_confirmed'
  | 'poor_quality'
  /** access.liveness on: no live verdict within access.liveness.maxDecisionSeconds. */
  | 'liveness_undecided';

/** The liveness verdict of a face track, as events carry it (access.liveness on). */
export interface LivenessEvidence {
  readonly verdict: 'live' | 'spoof' | 'undecided';
  /** e.g. non_planar_motion, blink, planar_motion, no_motion, no_landmarks. */
  readonly reasons: readonly string[];
  /** The signals' numbers, e.g. planar_residual, motion, moving_frames, frames. */
  readonly scores: Readonly<Record<string, number>>;
}

/** Why the door's access rules refused a person the policy confirmed (src/access/rules.ts). */
export type AccessRefusal =
  'suspended' | 'not_yet_valid' | 'expired' | 'not_allowed_here' | 'outside_schedule' | 'clock_unsynced';

/** A gallery person was confirmed over enough frames; the door was told to open. */
export interface AccessGrantedEvent {
  readonly type: 'access_granted';
  /** Who; with their credential state once the access rules reviewed the grant. */
  readonly person: EventPerson | EventPersonState;
  /** The person's suspension (false here), top-level for Home Assistant attributes. */
  readonly suspended?: boolean;
  /** The access group that admitted the person on this door. */
  readonly group?: string;
  /** Best similarity among the confirming frames, 0..1. */
  readonly score: number;
  /** Smallest lead over the runner-up person among the confirming frames. */
  readonly margin: number;
  /** Confirming frames (>= access.confirmFrames). */
  readonly frames: number;
  /** Set when the relay could not be driven: the door did NOT open. */
  readonly unlockFailed?: string;
  /** access.liveness on: the live verdict that allowed the grant. */
  readonly liveness?: LivenessEvidence;
  /** Set when some confirming faces were not aligned on their own landmarks: the reasons. */
  readonly alignmentFallback?: readonly string[];
}

/** A face came close to someone but not close enough (or not for long enough) to open. */
export interface AccessDeniedEvent {
  readonly type: 'access_denied';
  /** Best similarity seen in the window, 0..1. */
  readonly score: number;
  /** Who came closest (the matcher's best person), for the audit log. */
  readonly closest: EventPerson | null;
  readonly reason: DenyReason | AccessRefusal;
  readonly frames: number;
  /** Set for the access rules' reasons: the recognised person, named, with their state. */
  readonly person?: EventPersonState;
  /** With `person`: their suspension, top-level for Home Assistant attributes. */
  readonly suspended?: boolean;
  /** reason liveness_undecided: the last verdict of the waiting face. */
  readonly liveness?: LivenessEvidence;
  /** Set when some faces in the window were not aligned on their own landmarks: the reasons. */
  readonly alignmentFallback?: readonly string[];
}

/** access.liveness on: a face track looks like a presentation attack (photo, screen); nothing unlocks. */
export interface SpoofSuspectedEvent {
  readonly type: 'spoof_suspected';
  /** Who the face looks like, when it matched an enrolled person (>= unknownThreshold); else null. */
  readonly person: EventPerson | null;
  /** Best similarity of the face, 0..1 (0 with an empty gallery). */
  readonly score: number;
  /** The face track (one event per track). */
  readonly trackId: number;
  readonly reasons: readonly string[];
  readonly scores: Readonly<Record<string, number>>;
}

/** A face that matches nobody in the gallery. */
export interface UnknownFaceEvent {
  readonly type: 'unknown_face';
  readonly score: number;
  readonly frames: number;
  /** Quality-gate reasons seen in the window (e.g. too_small, blurry). */
  readonly quality: readonly string[];
  /** Set when some of the unknown faces were not aligned on their own landmarks: the reasons. */
  readonly alignmentFallback?: readonly string[];
}

/** What opened the door in a `door_unlocked` event (a face's unlock is its `access_granted`). */
export type DoorUnlockSource = 'exit_button' | 'remote' | 'home_assistant';

/** The door was unlocked by something other than a face: its one trace. */
export interface DoorUnlockedEvent {
  readonly type: 'door_unlocked';
  readonly source: DoorUnlockSource;
  /** remote: the admin's reason. */
  readonly reason?: string;
  /** remote: the signed request's transaction. */
  readonly transaction?: string;
  /** remote: id of the admin key that signed it. */
  readonly keyId?: string;
  /** Set when the relay could not be driven: the door did NOT open. */
  readonly unlockFailed?: string;
}

/** The door contact opened while the relay was locked. */
export interface DoorForcedEvent {
  readonly type: 'door_forced';
}

/** The door has stood open longer than door.heldOpenSeconds. */
export interface DoorHeldOpenEvent {
  readonly type: 'door_held_open';
  readonly seconds: number;
}

/** A signed `enroll` request was applied. */
export interface EnrolledEvent {
  readonly type: 'enrolled';
  readonly person: string;
  readonly name: string;
  /** Faces the person has now. */
  readonly faces: number;
  /** Templates added to an enrolled person (walk-up enrollment); absent for a photo enrollment. */
  readonly added?: number;
  /** Set when a duplicate face was enrolled on purpose (`allowDuplicate`, identical twins). */
  readonly duplicateOf?: {
    readonly person: string;
    readonly name: string;
    readonly similarity: number;
    readonly threshold: number;
  };
  /** Gallery version after the change. */
  readonly version: number;
  readonly transaction: string;
  /** Key id of the admin key that signed the request. */
  readonly kid: string;
}

/** A signed `remove` request removed a person. */
export interface RemovedEvent {
  readonly type: 'removed';
  readonly person: string;
  readonly version: number;
  readonly transaction: string;
  readonly kid: string;
}

/** A signed `update_person` changed a person's credential (no photos). */
export interface PersonUpdatedEvent {
  readonly type: 'person_updated';
  readonly person: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly suspended: boolean;
  /** ISO-8601 instants, null when unbounded. */
  readonly validFrom: string | null;
  readonly validUntil: string | null;
  readonly transaction: string;
  readonly kid: string;
}

/** A signed `set_schedules` stored (or with `reset`, removed) the door's schedules override. */
export interface SchedulesSetEvent {
  readonly type: 'schedules_set';
  readonly reset: boolean;
  /** False when a reset found no override. */
  readonly changed: boolean;
  /** The schedules in effect now: source, time zone, groups (absent without access rules). */
  readonly schedules?: {
    readonly source: 'config' | 'set_schedules';
    readonly since?: string;
    readonly timeZone: string;
    readonly groups: readonly string[];
    readonly error?: string;
  };
  readonly transaction: string;
  readonly kid: string;
}

/** A request was refused (bad signature, replay, unknown command, busy, too large...). */
export interface RejectedRequestEvent {
  readonly type: 'rejected_request';
  readonly cmd: string;
  /** The error code of the response (docs/enrollment.md, docs/mqtt.md). */
  readonly code: string;
  readonly reason: string;
  /** The request's transaction when it could be read, else null. */
  readonly transaction: string | null;
  /** Signed commands only: whether the signature verified (false: the sender is unknown). */
  readonly verified?: boolean;
  /** What the admin can do about it (enrollment photo refusals, duplicate_face). */
  readonly hint?: string;
  /** Machine-readable facts: measured value and limit, the duplicated person (JSON). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Which part of the daemon an `error` event comes from. */
export type ErrorSource = 'door' | 'live-loop';

/** A component failed at run time (the daemon keeps running; details in the device log). */
export interface ErrorEvent {
  readonly type: 'error';
  readonly source: ErrorSource;
  /** What went wrong, for people. */
  readonly message: string;
  /** Live-loop only: the pipeline stage that failed (capture, detect, embed, decide...). */
  readonly stage?: string;
  /** @deprecated v1 alias of `source`, still sent by the producers that sent it before. */
  readonly component?: ErrorSource;
  /** @deprecated v1 alias of `message`, still sent by the producers that sent it before. */
  readonly reason?: string;
}

/** What producers hand to `EventSink.emit`: exactly one of the event types. */
export type EventBody =
  | AccessGrantedEvent
  | AccessDeniedEvent
  | UnknownFaceEvent
  | DoorUnlockedEvent
  | SpoofSuspectedEvent
  | DoorForcedEvent
  | DoorHeldOpenEvent
  | EnrolledEvent
  | RemovedEvent
  | PersonUpdatedEvent
  | SchedulesSetEvent
  | RejectedRequestEvent
  | ErrorEvent;

export type EventType = EventBody['type'];

/** The body of one event type. */
export type EventBodyOf<T extends EventType> = Extract<EventBody, { type: T }>;

/** Fields every published event has. */
export interface EventEnvelope {
  /** Unique id (UUID v4): consumers de-duplicate on it. */
  readonly id: string;
  /** ISO-8601 UTC time of the event. */
  readonly ts: string;
  readonly device: string;
}

/** A published event: one body plus the envelope. */
export type FacegateEvent = EventBody & EventEnvelope;

type Presence<T, K extends keyof T> = object extends Pick<T, K> ? 'optional' : 'required';
type FieldsOf<B> = {
  readonly [K in Exclude<keyof B, 'type'>]-?: Presence<B, K>;
};
// A type without fields gets Record<string, never>: `{}` alone would accept any extra key.
type FieldTable = {
  readonly [T in EventType]: [Exclude<keyof EventBodyOf<T>, 'type'>] extends [never]
    ? Record<string, never>
    : FieldsOf<EventBodyOf<T>>;
};

/**
 * The type-specific fields of every event type at run time (beside the envelope and
 * `type`), each `required` or `optional`. `satisfies FieldTable` makes the compiler
 * refuse a missing field, an extra one or a wrong presence, so this list IS the union.
 * Its key order is the order of `EVENT_TYPES`.
 */
export const EVENT_FIELDS = {
  access_granted: {
    person: 'required',
    score: 'required',
    margin: 'required',
    frames: 'required',
    unlockFailed: 'optional',
    suspended: 'optional',
    group: 'optional',
    liveness: 'optional',
    alignmentFallback: 'optional',
  },
  access_denied: {
    score: 'required',
    closest: 'required',
    reason: 'required',
    frames: 'required',
    person: 'optional',
    suspended: 'optional',
    liveness: 'optional',
    alignmentFallback: 'optional',
  },
  unknown_face: { score: 'required', frames: 'required', quality: 'required', alignmentFallback: 'optional' },
  door_unlocked: {
    source: 'required',
    reason: 'optional',
    transaction: 'optional',
    keyId: 'optional',
    unlockFailed: 'optional',
  },
  spoof_suspected: {
    person: 'required',
    score: 'required',
    trackId: 'required',
    reasons: 'required',
    scores: 'required',
  },
  door_forced: {},
  door_held_open: { seconds: 'required' },
  enrolled: {
    person: 'required',
    name: 'required',
    faces: 'required',
    added: 'optional',
    duplicateOf: 'optional',
    version: 'required',
    transaction: 'required',
    kid: 'required',
  },
  removed: { person: 'required', version: 'required', transaction: 'required', kid: 'required' },
  person_updated: {
    person: 'required',
    name: 'required',
    groups: 'required',
    suspended: 'required',
    validFrom: 'required',
    validUntil: 'required',
    transaction: 'required',
    kid: 'required',
  },
  schedules_set: {
    reset: 'required',
    changed: 'required',
    schedules: 'optional',
    transaction: 'required',
    kid: 'required',
  },
  rejected_request: {
    cmd: 'required',
    code: 'required',
    reason: 'required',
    transaction: 'required',
    verified: 'optional',
    hint: 'optional',
    details: 'optional',
  },
  error: {
    source: 'required',
    message: 'required',
    stage: 'optional',
    component: 'optional',
    reason: 'optional',
  },
} as const satisfies FieldTable;

/** Every event type, in a stable order (Home Assistant's `event_types`). */
export const EVENT_TYPES = Object.keys(EVENT_FIELDS) as EventType[];

/** The envelope fields, at run time. */
export const ENVELOPE_FIELDS = ['id', 'type', 'ts', 'device'] as const;

/** Where components send events; implemented by the outbox-backed `EventPublisher`. */
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
