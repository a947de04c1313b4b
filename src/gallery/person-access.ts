import type Database from 'better-sqlite3';
import { ACCESS_GROUP_PATTERN as GROUP_NAME_PATTERN } from '../identity.js';
import type { PersonAccess } from '../access/rules.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { AuditLog } from './audit.js';
import { GalleryInputError } from './errors.js';
import type { RequestLog, TransactionRecord } from './requests.js';
import { validatePersonId, validateTransactionId } from './validate.js';

/**
 * The credential side of a person (columns of `people` added by migration 2) and the
 * door's stored schedules (table `door_schedules`): validity, suspension and access
 * groups change without photos; the schedules of a signed `set_schedules` override the
 * config's. `PersonAccessRepository` is the concern module on the one database handle;
 * `applyAccessPatch` also runs inside people.ts's enrollment transaction.
 */

/** Migration 2: people get validity, suspension and groups; existing people land in `default`. */
export const PERSON_ACCESS_MIGRATION = `
  ALTER TABLE people ADD COLUMN valid_from_ms INTEGER;
  ALTER TABLE people ADD COLUMN valid_until_ms INTEGER;
  ALTER TABLE people ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1));
  -- JSON list of access group names. Existing people (and new ones enrolled without
  -- groups) are in "default", which an upgraded door's default config admits at all times.
  ALTER TABLE people ADD COLUMN access_groups TEXT NOT NULL DEFAULT '["default"]'
    CHECK (json_valid(access_groups) AND json_type(access_groups) = 'array');
  -- The door's schedules from the last signed set_schedules (one row), overriding the config.
  CREATE TABLE door_schedules (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    spec       TEXT NOT NULL CHECK (json_valid(spec)),
    updated_ms INTEGER NOT NULL,
    kid        TEXT
  );
`;

export const MAX_GROUPS_PER_PERSON = 32;

/** Prepared statements by SQL text (GalleryDatabase satisfies it). */
export interface SqlSource {
  sql(text: string): Database.Statement;
}

/** A change to a person's credential; absent fields stay as they are, null clears a bound. */
export interface PersonAccessPatch {
  readonly groups?: readonly string[];
  readonly validFromMs?: number | null;
  readonly validUntilMs?: number | null;
  readonly suspended?: boolean;
}

export interface AccessRow {
  valid_from_ms: number | null;
  valid_until_ms: number | null;
  suspended: number;
  access_groups: string;
}

export const ACCESS_COLUMNS = ['valid_from_ms', 'valid_until_ms', 'suspended', 'access_groups'] as const;
const COLUMNS = ACCESS_COLUMNS.join(', ');

/** Validates a patch before anything is written. @throws GalleryInputError */
export function validateAccessPatch(patch: PersonAccessPatch): PersonAccessPatch {
  if (patch === null || typeof patch !== 'object')
    throw new GalleryInputError('access patch must be an object');
  if (patch.groups !== undefined) {
    const g = patch.groups;
    if (!Array.isArray(g) || g.length > MAX_GROUPS_PER_PERSON)
      throw new GalleryInputError(`groups must be a list of at most ${MAX_GROUPS_PER_PERSON} names`);
    for (const name of g) {
      if (typeof name !== 'string' || !GROUP_NAME_PATTERN.test(name))
        throw new GalleryInputError(
          `group ${JSON.stringify(name)?.slice(0, 70)} is not 1..64 letters, digits, '.', '_' or '-'`,
        );
    }
    if (new Set(g).size !== g.length) throw new GalleryInputError('groups must not repeat a name');
  }
  for (const key of ['validFromMs', 'validUntilMs'] as const) {
    const v = patch[key];
    if (v !== undefined && v !== null && !Number.isSafeInteger(v))
      throw new GalleryInputError(`${key} must be integer milliseconds or null`);
  }
  if (patch.suspended !== undefined && typeof patch.suspended !== 'boolean')
    throw new GalleryInputError('suspended must be a boolean');
  return patch;
}

export function rowToAccess(row: AccessRow): PersonAccess {
  let groups: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.access_groups);
    if (Array.isArray(parsed)) groups = parsed.filter((g): g is string => typeof g === 'string');
  } catch {
    // The CHECK constraint keeps it valid JSON; a damaged value means no groups (fails closed).
  }
  return {
    suspended: row.suspended === 1,
    validFromMs: row.valid_from_ms,
    validUntilMs: row.valid_until_ms,
    groups,
  };
}

/**
 * Applies a patch to the person's row (inside the caller's transaction) and returns the
 * resulting record, or undefined when the person does not exist.
 * @throws GalleryInputError when the result would have validFrom at or after validUntil
 */
export function applyAccessPatch(
  db: SqlSource,
  personId: string,
  patch: PersonAccessPatch,
  nowMs: number,
): PersonAccess | undefined {
  const row = db.sql(`SELECT ${COLUMNS} FROM people WHERE id = ?`).get(personId) as AccessRow | undefined;
  if (!row) return undefined;
  const before = rowToAccess(row);
  const next: PersonAccess = {
    suspended: patch.suspended ?? before.suspended,
    validFromMs: patch.validFromMs !== undefined ? patch.validFromMs : before.validFromMs,
    validUntilMs: patch.validUntilMs !== undefined ? patch.validUntilMs : before.validUntilMs,
    groups: patch.groups ?? before.groups,
  };
  if (next.validFromMs !== null && next.validUntilMs !== null && next.validFromMs >= next.validUntilMs)
    throw new GalleryInputError('validFrom must be before validUntil');
  db.sql(
    `UPDATE people SET valid_from_ms = ?, valid_until_ms = ?, suspended = ?, access_groups = ?, updated_ms = ? WHERE id = ?`,
  ).run(
    next.validFromMs,
    next.validUntilMs,
    next.suspended ? 1 : 0,
    JSON.stringify(next.groups),
    nowMs,
    personId,
  );
  return next;
}

export function readAccess(db: SqlSource, personId: string): PersonAccess | undefined {
  const row = db.sql(`SELECT ${COLUMNS} FROM people WHERE id = ?`).get(personId) as AccessRow | undefined;
  return row ? rowToAccess(row) : undefined;
}

/** The stored set_schedules override: its spec (validated when stored) or undefined. */
export interface StoredSchedules {
  readonly spec: unknown;
  readonly updatedMs: number;
  readonly kid: string | null;
}

export function readSchedules(db: SqlSource): StoredSchedules | undefined {
  const row = db.sql(`SELECT spec, updated_ms, kid FROM door_schedules WHERE id = 1`).get() as
    { spec: string; updated_ms: number; kid: string | null } | undefined;
  return row ? { spec: JSON.parse(row.spec) as unknown, updatedMs: row.updated_ms, kid: row.kid } : undefined;
}

/** Stores (or with `spec === null` deletes) the override; returns whether a row changed. */
export function writeSchedules(db: SqlSource, spec: unknown, nowMs: number, kid: string | null): boolean {
  if (spec === null) return db.sql(`DELETE FROM door_schedules WHERE id = 1`).run().changes > 0;
  db.sql(
    `INSERT INTO door_schedules(id, spec, updated_ms, kid) VALUES (1, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET spec = excluded.spec, updated_ms = excluded.updated_ms, kid = excluded.kid`,
  ).run(JSON.stringify(spec), nowMs, kid);
  return true;
}

export interface UpdateAccessResult {
  readonly personId: string;
  /** False when no such person is enrolled (nothing changed). */
  readonly found: boolean;
  readonly name: string;
  readonly access: PersonAccess | null;
}

/**
 * People's credentials and the door's stored schedules (tables `people` access columns,
 * `door_schedules`). Every change runs in ONE SQL transaction with its audit row and, for
 * a request, its stored response.
 */
export class PersonAccessRepository {
  private readonly log: Logger;

  constructor(
    private readonly db: SqlSource & { transaction<T>(fn: () => T): T },
    private readonly deps: {
      readonly clock: Clock;
      readonly logger: Logger;
      readonly audit: AuditLog;
      readonly requests: RequestLog;
    },
  ) {
    this.log = deps.logger.child({ module: 'gallery' });
  }

  /** A person's credential (validity, suspension, groups), or undefined when not enrolled. */
  personAccess(personId: string): PersonAccess | undefined {
    return readAccess(this.db, personId);
  }

  /**
   * Changes a person's validity / suspension / groups (no photos). An unknown person
   * changes nothing (`found: false`); the gallery version is not bumped (no face changed).
   * @throws GalleryInputError on a bad patch (nothing is written)
   */
  updatePersonAccess(
    personId: string,
    patch: PersonAccessPatch,
    options: { readonly transaction?: TransactionRecord<UpdateAccessResult> } = {},
  ): UpdateAccessResult {
    const id = validatePersonId(personId);
    const checked = validateAccessPatch(patch);
    if (options.transaction) validateTransactionId(options.transaction.id);
    const now = this.deps.clock.nowMs();
    const result = this.db.transaction((): UpdateAccessResult => {
      const access = applyAccessPatch(this.db, id, checked, now);
      const row = this.db.sql(`SELECT name FROM people WHERE id = ?`).get(id) as { name: string } | undefined;
      const result: UpdateAccessResult = {
        personId: id,
        found: access !== undefined,
        name: row?.name ?? id,
        access: access ?? null,
      };
      if (access) this.deps.audit.append('person_updated', { personId: id, patch: checked, access }, now);
      if (options.transaction)
        this.deps.requests.putTransaction(options.transaction.id, options.transaction.response(result), now);
      return result;
    });
    if (result.found) this.log.info({ personId: id, access: result.access }, 'person access updated');
    return result;
  }

  /** The door schedules stored by the last `set_schedules` (they override the config), or undefined. */
  storedSchedules(): StoredSchedules | undefined {
    return readSchedules(this.db);
  }

  /**
   * Stores the door's schedules (validated by the caller: src/access/protocol.ts), or
   * removes the override with `spec === null`.
   */
  setStoredSchedules(
    spec: unknown,
    options: { readonly transaction?: TransactionRecord<{ changed: boolean }>; readonly kid?: string } = {},
  ): { changed: boolean } {
    if (options.transaction) validateTransactionId(options.transaction.id);
    const now = this.deps.clock.nowMs();
    return this.db.transaction(() => {
      const result = { changed: writeSchedules(this.db, spec, now, options.kid ?? null) };
      this.deps.audit.append(
        spec === null ? 'schedules_reset' : 'schedules_set',
        { spec, kid: options.kid ?? null },
        now,
      );
      if (options.transaction)
        this.deps.requests.putTransaction(options.transaction.id, options.transaction.response(result), now);
      return result;
    });
  }
}
