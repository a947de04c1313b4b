import type { EventOutbox, FacegateEvent } from '../events.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from './audit.js';
import type { GalleryDatabase } from './database.js';
import { GalleryInputError } from './errors.js';

export interface OutboxEntry {
  /** Position in the outbox; strictly increasing in append order. */
  readonly seq: number;
  readonly event: FacegateEvent;
}

export interface SqliteEventOutboxOptions {
  /**
   * When set, every appended event also gets its audit row (kind = event type, detail =
   * the event) in the SAME SQL transaction: an event is never published without its
   * audit record, nor audited without being queued.
   */
  readonly audit?: AuditLog;
  /** Called after every `pruneEvery` appends (the store prunes all expired records). */
  readonly onPruneDue?: () => void;
  readonly pruneEvery?: number;
}

/**
 * The durable `EventOutbox` (table `outbox`): events wait here until the broker
 * acknowledged them; delivered ones are pruned after their retention, unsent ones never.
 * Duplicate event ids are stored once (the first append's sequence number is returned).
 */
export class SqliteEventOutbox implements EventOutbox {
  private appendsSincePrune = 0;

  constructor(
    private readonly db: GalleryDatabase,
    private readonly clock: Clock,
    private readonly options: SqliteEventOutboxOptions = {},
  ) {}

  /**
   * Appends an event (committed when this returns); returns its sequence number.
   * @throws GalleryInputError when the event has no string id and type.
   */
  appendOutbox(event: FacegateEvent): number {
    if (!event || typeof event.id !== 'string' || typeof event.type !== 'string') {
      throw new GalleryInputError('an outbox event needs a string id and type');
    }
    const payload = JSON.stringify(event);
    if (this.options.onPruneDue && ++this.appendsSincePrune >= (this.options.pruneEvery ?? 1000)) {
      this.appendsSincePrune = 0;
      this.options.onPruneDue();
    }
    const now = this.clock.nowMs();
    const { audit } = this.options;
    return this.db.transaction(() => {
      const info = this.db
        .sql(`INSERT OR IGNORE INTO outbox(event_id, payload, created_ms) VALUES (?, ?, ?)`)
        .run(event.id, payload, now);
      if (info.changes === 1) {
        audit?.append(event.type, event, now);
        return Number(info.lastInsertRowid);
      }
      return (this.db.sql(`SELECT seq FROM outbox WHERE event_id = ?`).get(event.id) as { seq: number }).seq;
    });
  }

  /** The oldest unsent events, in append order. */
  pendingOutbox(limit = 100): OutboxEntry[] {
    const rows = this.db
      .sql(`SELECT seq, payload FROM outbox WHERE sent_ms IS NULL ORDER BY seq LIMIT ?`)
      .all(Math.max(1, Math.floor(limit))) as { seq: number; payload: string }[];
    return rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.payload) as FacegateEvent }));
  }

  /** Marks entries as delivered (after the broker acknowledged them), in one transaction. */
  markSent(seqs: number | readonly number[]): void {
    const list = typeof seqs === 'number' ? [seqs] : seqs;
    const update = this.db.sql(`UPDATE outbox SET sent_ms = ? WHERE seq = ? AND sent_ms IS NULL`);
    const now = this.clock.nowMs();
    this.db.transaction(() => {
      for (const seq of list) update.run(now, seq);
    });
  }

  pendingCount(): number {
    return (this.db.sql(`SELECT COUNT(*) AS n FROM outbox WHERE sent_ms IS NULL`).get() as { n: number }).n;
  }

  /** Deletes delivered events older than `olderThanMs`; unsent ones are kept. */
  prune(olderThanMs: number): number {
    return this.db.sql(`DELETE FROM outbox WHERE sent_ms IS NOT NULL AND sent_ms < ?`).run(olderThanMs)
      .changes;
  }
}
