import type { Clock } from '../util/clock.js';
import type { GalleryDatabase } from './database.js';
import { GalleryInputError } from './errors.js';

export interface AuditEntry {
  readonly seq: number;
  readonly tsMs: number;
  readonly kind: string;
  readonly detail: unknown;
}

/**
 * The local audit log (table `audit`): who was let in, enrollments, removals, rejected
 * requests; one row per event plus the gallery's own changes. Append-only; pruned by age.
 */
export class AuditLog {
  constructor(
    private readonly db: GalleryDatabase,
    private readonly clock: Clock,
  ) {}

  /**
   * Appends an entry stamped with the clock's wall time; joins the caller's transaction
   * when called inside one. Returns its sequence number.
   * @throws GalleryInputError when `kind` is not 1..64 characters.
   */
  append(kind: string, detail: unknown, nowMs: number = this.clock.nowMs()): number {
    if (typeof kind !== 'string' || kind.length === 0 || kind.length > 64) {
      throw new GalleryInputError('audit kind must be a string of 1..64 characters');
    }
    const info = this.db
      .sql(`INSERT INTO audit(ts_ms, kind, detail) VALUES (?, ?, ?)`)
      .run(nowMs, kind, JSON.stringify(detail ?? null));
    return Number(info.lastInsertRowid);
  }

  /** The newest entries, newest first. */
  list(limit = 100): AuditEntry[] {
    const rows = this.db
      .sql(`SELECT seq, ts_ms, kind, detail FROM audit ORDER BY seq DESC LIMIT ?`)
      .all(Math.max(1, Math.floor(limit))) as { seq: number; ts_ms: number; kind: string; detail: string }[];
    return rows.map((r) => ({ seq: r.seq, tsMs: r.ts_ms, kind: r.kind, detail: JSON.parse(r.detail) }));
  }

  /** Deletes entries older than `olderThanMs` (wall clock); returns how many. */
  prune(olderThanMs: number): number {
    return this.db.sql(`DELETE FROM audit WHERE ts_ms < ?`).run(olderThanMs).changes;
  }
}
