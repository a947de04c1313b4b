import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FacegateEvent } from '../events.js';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { GrayImage } from '../vision/image.js';
import { MIGRATIONS } from './migrations.js';
import {
  GalleryInputError,
  validateCrop,
  validateEmbedding,
  validateModelId,
  validatePersonId,
  validatePersonName,
} from './validate.js';

export { GalleryInputError } from './validate.js';

/**
 * The device's one SQLite database (WAL): people, their faces (normalised gray crops, so
 * a new model can re-embed everyone), embeddings per model id, seen request nonces,
 * processed request transactions, the event outbox and the audit log.
 *
 * Every write that changes the gallery runs in ONE SQL transaction with
 * `synchronous=FULL`, so when a method returns the change survives a power cut; a bad
 * input throws `GalleryInputError` before anything is written.
 *
 * Consumers declare narrow ports (e.g. `EventOutbox` in src/mqtt, `NonceStore` in
 * src/enrollment) that this class satisfies structurally; the method names here are the
 * contract.
 */

/** One face of an enrollment: the normalised crop and its embedding by `modelId`. */
export interface EnrollFace {
  /** Aligned, preprocessed gray face, at least MIN_CROP_SIZE on each side. */
  readonly crop: GrayImage;
  readonly embedding: Float32Array;
}

export interface EnrollRequest {
  /** Person id: letters, digits, '.', '_' and '-', 1..64 characters (the folder name on import). */
  readonly id: string;
  /** Display name shown in events (defaults to the id). */
  readonly name?: string;
  /** Model that made the embeddings. */
  readonly modelId: string;
  /** 1..MAX_FACES_PER_PERSON faces. */
  readonly faces: readonly EnrollFace[];
}

export interface EnrollOptions {
  /** true (default): the person's previous faces are replaced; false: the new ones are added. */
  readonly replace?: boolean;
  /**
   * Stores the request's response under its transaction id in the SAME SQL transaction,
   * so a retried request is answered from `getTransaction` and never applied twice.
   */
  readonly transaction?: { readonly id: string; readonly response: (result: EnrollResult) => unknown };
}

export interface EnrollResult {
  /** Gallery version after this change (increases by one per enroll/remove). */
  readonly version: number;
  readonly personId: string;
  readonly name: string;
  /** Faces the person has now. */
  readonly faces: number;
  /** True when the person existed before. */
  readonly updated: boolean;
}

export interface RemoveOptions {
  readonly transaction?: { readonly id: string; readonly response: (result: RemoveResult) => unknown };
}

export interface RemoveResult {
  readonly version: number;
  readonly personId: string;
  /** False when no such person was enrolled (the version is then unchanged). */
  readonly removed: boolean;
}

export interface PersonSummary {
  readonly id: string;
  readonly name: string;
  readonly createdMs: number;
  readonly updatedMs: number;
  readonly faces: number;
}

/** One stored embedding, as the matcher loads them. */
export interface EmbeddingRow {
  readonly faceId: number;
  readonly personId: string;
  readonly personName: string;
  readonly vector: Float32Array;
}

/** A stored face crop, for re-embedding with another model. */
export interface StoredCrop {
  readonly faceId: number;
  readonly personId: string;
  readonly crop: GrayImage;
}

export interface OutboxEntry {
  /** Position in the outbox; strictly increasing in append order. */
  readonly seq: number;
  readonly event: FacegateEvent;
}

export interface AuditEntry {
  readonly seq: number;
  readonly tsMs: number;
  readonly kind: string;
  readonly detail: unknown;
}

export interface GalleryStoreOptions {
  readonly clock?: Clock;
  /** How long records are kept; pruned at open and every 1000 outbox appends. */
  readonly retention?: Partial<RetentionDays>;
}

export interface RetentionDays {
  /** Events already delivered to the broker (unsent ones are never pruned). */
  readonly sentEvents: number;
  /** Stored responses of processed requests (a retry after this is processed again). */
  readonly transactions: number;
  /** The local audit log. */
  readonly audit: number;
}

export const DEFAULT_RETENTION_DAYS: RetentionDays = { sentEvents: 7, transactions: 30, audit: 365 };

export const MAX_FACES_PER_PERSON = 32;

export class GalleryStore {
  private readonly db: Database.Database;
  private readonly log: Logger;
  private readonly clock: Clock;
  private nonceInsertsSincePrune = 0;
  private outboxAppendsSincePrune = 0;
  private readonly retention: RetentionDays;
  private readonly statements = new Map<string, Database.Statement>();

  /** Opens (creating if needed) the database at `path` (':memory:' for throwaway use) and migrates it. */
  constructor(path: string, logger: Logger, options: GalleryStoreOptions = {}) {
    this.log = logger.child({ module: 'gallery' });
    this.clock = options.clock ?? systemClock;
    this.retention = { ...DEFAULT_RETENTION_DAYS, ...options.retention };
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
      // FULL: a commit is on disk before the enroll call returns (the request is acked after it).
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
      this.pruneExpired();
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /** A prepared statement, compiled once per SQL text. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  /** Current schema version (SQLite `user_version`). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  journalMode(): string {
    return String(this.db.pragma('journal_mode', { simple: true }));
  }

  private migrate(): void {
    const current = this.schemaVersion();
    if (current > MIGRATIONS.length) {
      throw new Error(
        `gallery database schema version ${current} is newer than this program (${MIGRATIONS.length}); refusing to touch it`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      const apply = this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]);
        this.db.pragma(`user_version = ${v + 1}`);
      });
      apply();
      this.log.info({ schemaVersion: v + 1 }, 'gallery schema migrated');
    }
  }

  // ---------------------------------------------------------------- people

  /** Gallery version: bumped by every enroll and remove (reported in MQTT state). */
  version(): number {
    const row = this.sql(`SELECT value FROM meta WHERE key = 'gallery_version'`).get() as
      { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  private bumpVersion(): number {
    const next = this.version() + 1;
    this.sql(
      `INSERT INTO meta(key, value) VALUES ('gallery_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    ).run(String(next));
    return next;
  }

  /** Enrolls (or re-enrolls) a person with all faces in one transaction. Throws GalleryInputError on bad input. */
  enroll(request: EnrollRequest, options: EnrollOptions = {}): EnrollResult {
    const personId = validatePersonId(request.id);
    const name = validatePersonName(request.name ?? request.id);
    const modelId = validateModelId(request.modelId);
    if (!Array.isArray(request.faces) || request.faces.length === 0) {
      throw new GalleryInputError('an enrollment needs at least one face');
    }
    if (request.faces.length > MAX_FACES_PER_PERSON) {
      throw new GalleryInputError(
        `at most ${MAX_FACES_PER_PERSON} faces per person, got ${request.faces.length}`,
      );
    }
    // Validate everything before the transaction: bad input never reaches the database.
    const faces = request.faces.map((face, i) => ({
      crop: validateCrop(face?.crop, `face ${i}`),
      embedding: validateEmbedding(face?.embedding, `face ${i}`),
    }));
    const dim = faces[0].embedding.length;
    if (faces.some((f) => f.embedding.length !== dim)) {
      throw new GalleryInputError('all embeddings of one enrollment must have the same dimension');
    }
    const existingDim = this.sql(`SELECT dim FROM embeddings WHERE model_id = ? LIMIT 1`).get(modelId) as
      { dim: number } | undefined;
    if (existingDim && existingDim.dim !== dim) {
      throw new GalleryInputError(
        `model ${modelId} embeddings have ${existingDim.dim} dimensions, got ${dim}`,
      );
    }
    if (options.transaction) validateTransactionId(options.transaction.id);
    const replace = options.replace ?? true;
    const now = this.clock.nowMs();

    const run = this.db.transaction((): EnrollResult => {
      const existing = this.sql(`SELECT id FROM people WHERE id = ?`).get(personId);
      if (existing) {
        this.sql(`UPDATE people SET name = ?, updated_ms = ? WHERE id = ?`).run(name, now, personId);
        if (replace) this.sql(`DELETE FROM faces WHERE person_id = ?`).run(personId);
      } else {
        this.sql(`INSERT INTO people(id, name, created_ms, updated_ms) VALUES (?, ?, ?, ?)`).run(
          personId,
          name,
          now,
          now,
        );
      }
      const insertFace = this.sql(
        `INSERT INTO faces(person_id, crop_width, crop_height, crop, created_ms) VALUES (?, ?, ?, ?, ?)`,
      );
      const insertEmbedding = this.sql(
        `INSERT INTO embeddings(face_id, model_id, dim, vector) VALUES (?, ?, ?, ?)`,
      );
      for (const face of faces) {
        const info = insertFace.run(
          personId,
          face.crop.width,
          face.crop.height,
          Buffer.from(face.crop.data),
          now,
        );
        insertEmbedding.run(Number(info.lastInsertRowid), modelId, dim, float32ToBuffer(face.embedding));
      }
      const count = (
        this.sql(`SELECT COUNT(*) AS n FROM faces WHERE person_id = ?`).get(personId) as { n: number }
      ).n;
      if (count > MAX_FACES_PER_PERSON) {
        throw new GalleryInputError(
          `person ${personId} would have ${count} faces (max ${MAX_FACES_PER_PERSON})`,
        );
      }
      const version = this.bumpVersion();
      const result: EnrollResult = { version, personId, name, faces: count, updated: Boolean(existing) };
      this.insertAudit(now, 'enrolled', { personId, name, faces: faces.length, modelId, version, replace });
      if (options.transaction)
        this.insertTransaction(options.transaction.id, options.transaction.response(result), now);
      return result;
    });
    const result = run();
    this.log.info({ personId, faces: result.faces, version: result.version }, 'person enrolled');
    return result;
  }

  /** Removes a person with all faces and embeddings, in one transaction. */
  remove(personId: string, options: RemoveOptions = {}): RemoveResult {
    const id = validatePersonId(personId);
    if (options.transaction) validateTransactionId(options.transaction.id);
    const now = this.clock.nowMs();
    const run = this.db.transaction((): RemoveResult => {
      const info = this.sql(`DELETE FROM people WHERE id = ?`).run(id);
      const removed = info.changes > 0;
      const version = removed ? this.bumpVersion() : this.version();
      const result: RemoveResult = { version, personId: id, removed };
      if (removed) this.insertAudit(now, 'removed', { personId: id, version });
      if (options.transaction)
        this.insertTransaction(options.transaction.id, options.transaction.response(result), now);
      return result;
    });
    const result = run();
    if (result.removed) this.log.info({ personId: id, version: result.version }, 'person removed');
    return result;
  }

  listPeople(): PersonSummary[] {
    const rows = this.sql(
      `SELECT p.id, p.name, p.created_ms, p.updated_ms, COUNT(f.id) AS faces
           FROM people p LEFT JOIN faces f ON f.person_id = p.id
          GROUP BY p.id ORDER BY p.id`,
    ).all() as { id: string; name: string; created_ms: number; updated_ms: number; faces: number }[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdMs: r.created_ms,
      updatedMs: r.updated_ms,
      faces: r.faces,
    }));
  }

  getPerson(personId: string): PersonSummary | undefined {
    return this.listPeople().find((p) => p.id === personId);
  }

  /** Numbers for the MQTT state and metrics. */
  stats(): { people: number; faces: number; version: number } {
    const people = (this.sql(`SELECT COUNT(*) AS n FROM people`).get() as { n: number }).n;
    const faces = (this.sql(`SELECT COUNT(*) AS n FROM faces`).get() as { n: number }).n;
    return { people, faces, version: this.version() };
  }

  /** All embeddings made by `modelId`, ordered by person then face (for the matcher). */
  loadEmbeddings(modelId: string): EmbeddingRow[] {
    const rows = this.sql(
      `SELECT e.face_id, f.person_id, p.name, e.vector
           FROM embeddings e JOIN faces f ON f.id = e.face_id JOIN people p ON p.id = f.person_id
          WHERE e.model_id = ? ORDER BY f.person_id, e.face_id`,
    ).all(modelId) as { face_id: number; person_id: string; name: string; vector: Buffer }[];
    return rows.map((r) => ({
      faceId: r.face_id,
      personId: r.person_id,
      personName: r.name,
      vector: bufferToFloat32(r.vector),
    }));
  }

  /** Crops of faces that have no embedding by `modelId` yet (re-embedding after a model change). */
  cropsMissingEmbedding(modelId: string): StoredCrop[] {
    const rows = this.sql(
      `SELECT f.id, f.person_id, f.crop_width, f.crop_height, f.crop FROM faces f
          WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.face_id = f.id AND e.model_id = ?)
          ORDER BY f.id`,
    ).all(modelId) as {
      id: number;
      person_id: string;
      crop_width: number;
      crop_height: number;
      crop: Buffer;
    }[];
    return rows.map((r) => ({
      faceId: r.id,
      personId: r.person_id,
      crop: { width: r.crop_width, height: r.crop_height, data: new Uint8Array(r.crop) },
    }));
  }

  /** Stores re-computed embeddings (one transaction). Faces removed in the meantime are skipped. */
  putEmbeddings(modelId: string, embeddings: readonly { faceId: number; vector: Float32Array }[]): number {
    const model = validateModelId(modelId);
    const checked = embeddings.map((e, i) => ({
      faceId: e.faceId,
      vector: validateEmbedding(e.vector, `embedding ${i}`),
    }));
    const insert = this.sql(
      `INSERT OR REPLACE INTO embeddings(face_id, model_id, dim, vector)
       SELECT id, ?, ?, ? FROM faces WHERE id = ?`,
    );
    const run = this.db.transaction(() => {
      let n = 0;
      for (const e of checked)
        n += insert.run(model, e.vector.length, float32ToBuffer(e.vector), e.faceId).changes;
      return n;
    });
    return run();
  }

  /** Drops embeddings of models other than `keepModelId` (after a successful re-embedding). */
  dropOtherModels(keepModelId: string): number {
    return this.sql(`DELETE FROM embeddings WHERE model_id <> ?`).run(keepModelId).changes;
  }

  // ---------------------------------------------------------------- nonces

  /**
   * Remembers a request nonce until `expiresAtMs` (wall clock). Returns false when the
   * nonce was already seen (a replay). Expired nonces are pruned now and then.
   */
  rememberNonce(nonce: string, expiresAtMs: number): boolean {
    if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 256) {
      throw new GalleryInputError('nonce must be a string of 1..256 characters');
    }
    if (!Number.isFinite(expiresAtMs)) throw new GalleryInputError('nonce expiry must be a finite time');
    if (++this.nonceInsertsSincePrune >= 100) {
      this.nonceInsertsSincePrune = 0;
      this.pruneNonces();
    }
    const info = this.sql(`INSERT OR IGNORE INTO nonces(nonce, expires_ms) VALUES (?, ?)`).run(
      nonce,
      Math.round(expiresAtMs),
    );
    return info.changes === 1;
  }

  /** Deletes nonces whose expiry has passed; returns how many. */
  pruneNonces(nowMs: number = this.clock.nowMs()): number {
    return this.sql(`DELETE FROM nonces WHERE expires_ms < ?`).run(nowMs).changes;
  }

  // ---------------------------------------------------------------- idempotency

  /** The stored response of an already processed request transaction, or undefined. */
  getTransaction(transactionId: string): unknown {
    const row = this.sql(`SELECT response FROM transactions WHERE id = ?`).get(transactionId) as
      { response: string } | undefined;
    return row ? JSON.parse(row.response) : undefined;
  }

  /** Stores a request's response (first write wins; returns false if the id was already stored). */
  putTransaction(transactionId: string, response: unknown): boolean {
    validateTransactionId(transactionId);
    return this.insertTransaction(transactionId, response, this.clock.nowMs());
  }

  /** Deletes processed-transaction records older than `olderThanMs` (wall clock). */
  pruneTransactions(olderThanMs: number): number {
    return this.sql(`DELETE FROM transactions WHERE created_ms < ?`).run(olderThanMs).changes;
  }

  private insertTransaction(id: string, response: unknown, now: number): boolean {
    const json = JSON.stringify(response ?? null);
    return (
      this.sql(`INSERT OR IGNORE INTO transactions(id, response, created_ms) VALUES (?, ?, ?)`).run(
        id,
        json,
        now,
      ).changes === 1
    );
  }

  // ---------------------------------------------------------------- outbox

  /** Appends an event to the outbox (durably); returns its sequence number. Duplicate ids are ignored. */
  appendOutbox(event: FacegateEvent): number {
    if (!event || typeof event.id !== 'string' || typeof event.type !== 'string') {
      throw new GalleryInputError('an outbox event needs a string id and type');
    }
    const payload = JSON.stringify(event);
    if (++this.outboxAppendsSincePrune >= 1000) {
      this.outboxAppendsSincePrune = 0;
      this.pruneExpired();
    }
    const info = this.sql(`INSERT OR IGNORE INTO outbox(event_id, payload, created_ms) VALUES (?, ?, ?)`).run(
      event.id,
      payload,
      this.clock.nowMs(),
    );
    if (info.changes === 1) return Number(info.lastInsertRowid);
    return (this.sql(`SELECT seq FROM outbox WHERE event_id = ?`).get(event.id) as { seq: number }).seq;
  }

  /** The oldest unsent events, in append order. */
  pendingOutbox(limit = 100): OutboxEntry[] {
    const rows = this.sql(`SELECT seq, payload FROM outbox WHERE sent_ms IS NULL ORDER BY seq LIMIT ?`).all(
      Math.max(1, Math.floor(limit)),
    ) as { seq: number; payload: string }[];
    return rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.payload) as FacegateEvent }));
  }

  /** Marks outbox entries as delivered (after the broker acknowledged them). */
  markSent(seqs: number | readonly number[]): void {
    const list = typeof seqs === 'number' ? [seqs] : seqs;
    const update = this.sql(`UPDATE outbox SET sent_ms = ? WHERE seq = ? AND sent_ms IS NULL`);
    const now = this.clock.nowMs();
    this.db.transaction(() => {
      for (const seq of list) update.run(now, seq);
    })();
  }

  outboxPendingCount(): number {
    return (this.sql(`SELECT COUNT(*) AS n FROM outbox WHERE sent_ms IS NULL`).get() as { n: number }).n;
  }

  /** Deletes delivered events older than `olderThanMs`; unsent ones are kept. */
  pruneOutbox(olderThanMs: number): number {
    return this.sql(`DELETE FROM outbox WHERE sent_ms IS NOT NULL AND sent_ms < ?`).run(olderThanMs).changes;
  }

  // ---------------------------------------------------------------- audit

  /** Appends to the local audit log (who was let in, enrollments, rejected requests...). */
  appendAudit(kind: string, detail: unknown): number {
    if (typeof kind !== 'string' || kind.length === 0 || kind.length > 64) {
      throw new GalleryInputError('audit kind must be a string of 1..64 characters');
    }
    return this.insertAudit(this.clock.nowMs(), kind, detail);
  }

  /** The newest audit entries, newest first. */
  listAudit(limit = 100): AuditEntry[] {
    const rows = this.sql(`SELECT seq, ts_ms, kind, detail FROM audit ORDER BY seq DESC LIMIT ?`).all(
      Math.max(1, Math.floor(limit)),
    ) as { seq: number; ts_ms: number; kind: string; detail: string }[];
    return rows.map((r) => ({ seq: r.seq, tsMs: r.ts_ms, kind: r.kind, detail: JSON.parse(r.detail) }));
  }

  /** Deletes audit entries older than `olderThanMs`. */
  pruneAudit(olderThanMs: number): number {
    return this.sql(`DELETE FROM audit WHERE ts_ms < ?`).run(olderThanMs).changes;
  }

  private insertAudit(now: number, kind: string, detail: unknown): number {
    const info = this.sql(`INSERT INTO audit(ts_ms, kind, detail) VALUES (?, ?, ?)`).run(
      now,
      kind,
      JSON.stringify(detail ?? null),
    );
    return Number(info.lastInsertRowid);
  }

  // ---------------------------------------------------------------- maintenance

  /** Deletes expired nonces and records older than their retention; returns the counts. */
  pruneExpired(nowMs: number = this.clock.nowMs()): {
    nonces: number;
    sentEvents: number;
    transactions: number;
    audit: number;
  } {
    const day = 86_400_000;
    const counts = {
      nonces: this.pruneNonces(nowMs),
      sentEvents: this.pruneOutbox(nowMs - this.retention.sentEvents * day),
      transactions: this.pruneTransactions(nowMs - this.retention.transactions * day),
      audit: this.pruneAudit(nowMs - this.retention.audit * day),
    };
    if (Object.values(counts).some((n) => n > 0)) this.log.info(counts, 'pruned old gallery records');
    return counts;
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

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function validateTransactionId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
    throw new GalleryInputError('transaction id must be a string of 1..128 characters');
  }
}

function float32ToBuffer(v: Float32Array): Buffer {
  return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

function bufferToFloat32(b: Buffer): Float32Array {
  // Copy: the Buffer's offset in its pool need not be 4-byte aligned.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
