import type { PersonAccess } from '../access/rules.js';
import type { EventOutbox, FacegateEvent } from '../events.js';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { AuditLog, type AuditEntry } from './audit.js';
import { GalleryDatabase } from './database.js';
import { SqliteEventOutbox, type OutboxEntry } from './outbox.js';
import {
  PeopleRepository,
  type EmbeddingRow,
  type EnrollFace,
  type EnrollOptions,
  type EnrollRequest,
  type EnrollResult,
  type PersonSummary,
  type RemoveOptions,
  type RemoveResult,
  type StoredCrop,
} from './people.js';
import {
  PersonAccessRepository,
  type PersonAccessPatch,
  type StoredSchedules,
  type UpdateAccessResult,
} from './person-access.js';
import { RequestLog, type TransactionRecord } from './requests.js';
import {
  DAY_MS,
  DEFAULT_RETENTION_DAYS,
  OUTBOX_PRUNE_EVERY_APPENDS,
  type RetentionDays,
} from './retention.js';

export { GalleryInputError, GallerySchemaError } from './errors.js';
export type { AuditEntry } from './audit.js';
export type { OutboxEntry } from './outbox.js';
export {
  MAX_FACES_PER_PERSON,
  type EmbeddingRow,
  type EnrollFace,
  type EnrollOptions,
  type EnrollRequest,
  type EnrollResult,
  type PersonSummary,
  type RemoveOptions,
  type RemoveResult,
  type StoredCrop,
} from './people.js';
export { DEFAULT_RETENTION_DAYS, type RetentionDays } from './retention.js';
export type { PersonAccessPatch, StoredSchedules, UpdateAccessResult } from './person-access.js';

export interface GalleryStoreOptions {
  readonly clock?: Clock;
  /** How long records are kept; pruned at open and every 1000 outbox appends. */
  readonly retention?: Partial<RetentionDays>;
}

/**
 * The device's one SQLite database, opened once, with one module per concern on the one
 * handle:
 *
 * - `people`   (people.ts)   people, face crops, embeddings per model, the gallery version
 * - `access`   (person-access.ts) people's validity, suspension, groups; stored door schedules
 * - `requests` (requests.ts) nonces and processed request transactions
 * - `outbox`   (outbox.ts)   events waiting for the broker
 * - `audit`    (audit.ts)    the local audit log
 *
 * plus `database` (database.ts: WAL, migrations, the transaction helper). Consumers declare
 * narrow ports (`EventOutbox` in src/events.ts, `EnrollmentStore` in src/enrollment,
 * `CropStore`/`MatcherSource` in src/pipeline) that this class satisfies structurally
 * through the delegating methods below; new code may take the concern module it needs.
 *
 * Every write that changes the gallery runs in ONE SQL transaction with
 * `synchronous=FULL`, so when a method returns the change survives a power cut; a bad
 * input throws `GalleryInputError` before anything is written.
 */
export class GalleryStore {
  readonly database: GalleryDatabase;
  readonly people: PeopleRepository;
  readonly access: PersonAccessRepository;
  readonly requests: RequestLog;
  readonly audit: AuditLog;
  /** The plain outbox: events only. */
  readonly outbox: SqliteEventOutbox;
  /**
   * The daemon's outbox: each appended event gets its audit row in the same SQL
   * transaction (give this one to the EventPublisher).
   */
  readonly auditedOutbox: EventOutbox;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly retention: RetentionDays;

  /** Opens (creating if needed) the database at `path` (':memory:' for throwaway use) and migrates it. */
  constructor(path: string, logger: Logger, options: GalleryStoreOptions = {}) {
    this.log = logger.child({ module: 'gallery' });
    this.clock = options.clock ?? systemClock;
    this.retention = { ...DEFAULT_RETENTION_DAYS, ...options.retention };
    this.database = new GalleryDatabase(path, logger);
    try {
      const clock = this.clock;
      this.audit = new AuditLog(this.database, clock);
      this.requests = new RequestLog(this.database, clock);
      this.people = new PeopleRepository(this.database, {
        clock,
        logger,
        audit: this.audit,
        requests: this.requests,
      });
      this.access = new PersonAccessRepository(this.database, {
        clock,
        logger,
        audit: this.audit,
        requests: this.requests,
      });
      const outboxOptions = { onPruneDue: () => this.pruneExpired(), pruneEvery: OUTBOX_PRUNE_EVERY_APPENDS };
      this.outbox = new SqliteEventOutbox(this.database, clock, outboxOptions);
      this.auditedOutbox = new SqliteEventOutbox(this.database, clock, {
        ...outboxOptions,
        audit: this.audit,
      });
      this.pruneExpired();
    } catch (err) {
      this.database.close();
      throw err;
    }
  }

  // ------------------------------------------------------------ database

  /** Current schema version (SQLite `user_version`). */
  schemaVersion(): number {
    return this.database.schemaVersion();
  }

  journalMode(): string {
    return this.database.journalMode();
  }

  /** `PRAGMA integrity_check` + foreign keys: an empty list means the database is sound. */
  integrityCheck(): string[] {
    return this.database.integrityCheck();
  }

  /** Writes the WAL back into the main file (e.g. before a backup). */
  checkpoint(): void {
    this.database.checkpoint();
  }

  close(): void {
    this.database.close();
  }

  // ------------------------------------------------------------ people

  version(): number {
    return this.people.version();
  }
  enroll(request: EnrollRequest, options: EnrollOptions = {}): EnrollResult {
    return this.people.enroll(request, options);
  }
  /** Adds templates to an ENROLLED person, keeping name and other faces (walk-up enrollment). */
  addTemplates(personId: string, modelId: string, faces: readonly EnrollFace[]): EnrollResult {
    return this.people.addTemplates(personId, modelId, faces);
  }
  remove(personId: string, options: RemoveOptions = {}): RemoveResult {
    return this.people.remove(personId, options);
  }
  listPeople(): PersonSummary[] {
    return this.people.listPeople();
  }
  getPerson(personId: string): PersonSummary | undefined {
    return this.people.getPerson(personId);
  }
  stats(): { people: number; faces: number; version: number } {
    return this.people.stats();
  }
  loadEmbeddings(modelId: string): EmbeddingRow[] {
    return this.people.loadEmbeddings(modelId);
  }
  cropsMissingEmbedding(modelId: string): StoredCrop[] {
    return this.people.cropsMissingEmbedding(modelId);
  }
  putEmbeddings(modelId: string, embeddings: readonly { faceId: number; vector: Float32Array }[]): number {
    return this.people.putEmbeddings(modelId, embeddings);
  }
  dropOtherModels(keepModelId: string): number {
    return this.people.dropOtherModels(keepModelId);
  }

  // ------------------------------------------------------------ access (docs/access.md)

  personAccess(personId: string): PersonAccess | undefined {
    return this.access.personAccess(personId);
  }
  updatePersonAccess(
    personId: string,
    patch: PersonAccessPatch,
    options: { readonly transaction?: TransactionRecord<UpdateAccessResult> } = {},
  ): UpdateAccessResult {
    return this.access.updatePersonAccess(personId, patch, options);
  }
  storedSchedules(): StoredSchedules | undefined {
    return this.access.storedSchedules();
  }
  setStoredSchedules(
    spec: unknown,
    options: { readonly transaction?: TransactionRecord<{ changed: boolean }>; readonly kid?: string } = {},
  ): { changed: boolean } {
    return this.access.setStoredSchedules(spec, options);
  }

  // ------------------------------------------------------------ requests

  rememberNonce(nonce: string, expiresAtMs: number): boolean {
    return this.requests.rememberNonce(nonce, expiresAtMs);
  }
  pruneNonces(nowMs: number = this.clock.nowMs()): number {
    return this.requests.pruneNonces(nowMs);
  }
  getTransaction(transactionId: string): unknown {
    return this.requests.getTransaction(transactionId);
  }
  putTransaction(transactionId: string, response: unknown): boolean {
    return this.requests.putTransaction(transactionId, response);
  }
  pruneTransactions(olderThanMs: number): number {
    return this.requests.pruneTransactions(olderThanMs);
  }

  // ------------------------------------------------------------ outbox (plain: no audit row)

  appendOutbox(event: FacegateEvent): number {
    return this.outbox.appendOutbox(event);
  }
  pendingOutbox(limit = 100): OutboxEntry[] {
    return this.outbox.pendingOutbox(limit);
  }
  markSent(seqs: number | readonly number[]): void {
    this.outbox.markSent(seqs);
  }
  outboxPendingCount(): number {
    return this.outbox.pendingCount();
  }
  pruneOutbox(olderThanMs: number): number {
    return this.outbox.prune(olderThanMs);
  }

  // ------------------------------------------------------------ audit

  appendAudit(kind: string, detail: unknown): number {
    return this.audit.append(kind, detail);
  }
  listAudit(limit = 100): AuditEntry[] {
    return this.audit.list(limit);
  }
  pruneAudit(olderThanMs: number): number {
    return this.audit.prune(olderThanMs);
  }

  // ------------------------------------------------------------ maintenance

  /** Deletes expired nonces and records older than their retention (src/gallery/retention.ts); returns the counts. */
  pruneExpired(nowMs: number = this.clock.nowMs()): {
    nonces: number;
    sentEvents: number;
    transactions: number;
    audit: number;
  } {
    const counts = {
      nonces: this.requests.pruneNonces(nowMs),
      sentEvents: this.outbox.prune(nowMs - this.retention.sentEvents * DAY_MS),
      transactions: this.requests.pruneTransactions(nowMs - this.retention.transactions * DAY_MS),
      audit: this.audit.prune(nowMs - this.retention.audit * DAY_MS),
    };
    if (Object.values(counts).some((n) => n > 0)) this.log.info(counts, 'pruned old gallery records');
    return counts;
  }
}
