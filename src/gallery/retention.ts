/**
 * How long the gallery database keeps each kind of record, in ONE place (the store prunes
 * at open, every 1000 outbox appends and on the daemon's hourly housekeeping).
 * People, faces and embeddings are never pruned; unsent events are never pruned.
 */
export interface RetentionDays {
  /** Events already delivered to the broker (consumers de-duplicate by id within this window). */
  readonly sentEvents: number;
  /** Stored responses of processed requests (a retry after this is processed again). */
  readonly transactions: number;
  /** The local audit log. */
  readonly audit: number;
}

export const DEFAULT_RETENTION_DAYS: RetentionDays = { sentEvents: 7, transactions: 30, audit: 365 };

/**
 * Nonces are kept until their request's expiry (the signed `exp` plus the allowed clock
 * skew, computed by the verifier): a replay after that is refused as `expired` anyway.
 * Expired nonces are pruned every this many inserts and on housekeeping.
 */
export const NONCE_PRUNE_EVERY_INSERTS = 100;

/** Outbox appends between two full prunes (a busy door does not wait for the hourly pass). */
export const OUTBOX_PRUNE_EVERY_APPENDS = 1000;

/** How often the daemon prunes expired records while it runs. */
export const HOUSEKEEPING_INTERVAL_MS = 3600 * 1000;

export const DAY_MS = 86_400_000;
