import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../util/log.js';
import { GallerySchemaError } from './errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';

/**
 * THE one SQLite handle of the device (WAL, `synchronous=FULL`, foreign keys on) and its
 * one migration chain. The concern modules (people.ts, requests.ts, outbox.ts, audit.ts)
 * each take this object and keep to their own tables; a write that spans concerns (an
 * enrollment with its audit row and stored response, an event with its audit row) runs in
 * ONE `transaction()`.
 */
export class GalleryDatabase {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  /**
   * Opens (creating the folder and file if needed) the database at `path` (':memory:' for
   * throwaway use) and runs the migrations it has not run yet.
   * @throws GallerySchemaError when the file comes from a newer program (it is not touched).
   */
  constructor(path: string, logger: Logger, migrations: readonly Migration[] = MIGRATIONS) {
    const log = logger.child({ module: 'gallery' });
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
      // FULL: a commit is on disk before the enroll call returns (the request is acked after it).
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      this.migrate(migrations, log);
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /** A prepared statement, compiled once per SQL text. */
  sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Runs `fn` in one SQL transaction: everything or nothing. Nested calls become
   * savepoints, so a concern module may wrap its own writes and still join a caller's.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Current schema version (SQLite `user_version` = migrations run). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  journalMode(): string {
    return String(this.db.pragma('journal_mode', { simple: true }));
  }

  /** `PRAGMA integrity_check` + foreign keys: an empty list means the database is sound. */
  integrityCheck(): string[] {
    const rows = this.db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((m) => m !== 'ok');
    const fk = this.db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[];
    for (const f of fk)
      problems.push(`foreign key: ${f.table} row ${f.rowid} points to a missing ${f.parent}`);
    return problems;
  }

  /** Writes the WAL back into the main file (e.g. before a backup). */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private migrate(migrations: readonly Migration[], log: Logger): void {
    const current = this.schemaVersion();
    if (current > migrations.length) {
      throw new GallerySchemaError(
        `gallery database schema version ${current} is newer than this program (${migrations.length}); refusing to touch it`,
      );
    }
    for (let v = current; v < migrations.length; v++) {
      this.transaction(() => {
        this.db.exec(migrations[v].sql);
        this.db.pragma(`user_version = ${v + 1}`);
      });
      log.info({ schemaVersion: v + 1, migration: migrations[v].name }, 'gallery schema migrated');
    }
  }
}
