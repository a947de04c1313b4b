import type { PersonAccess } from '../access/rules.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { GrayImage } from '../vision/image.js';
import type { AuditLog } from './audit.js';
import type { GalleryDatabase } from './database.js';
import { GalleryInputError } from './errors.js';
import {
  ACCESS_COLUMNS,
  applyAccessPatch,
  rowToAccess,
  validateAccessPatch,
  type AccessRow,
  type PersonAccessPatch,
} from './person-access.js';
import type { RequestLog, TransactionRecord } from './requests.js';
import {
  validateCrop,
  validateEmbedding,
  validateModelId,
  validatePersonId,
  validatePersonName,
  validateTransactionId,
} from './validate.js';

/** One face of an enrollment: the normalised crop and its embedding by `modelId`. */
export interface EnrollFace {
  /** Aligned, preprocessed gray face, at least MIN_CROP_SIZE on each side. */
  readonly crop: GrayImage;
  readonly embedding: Float32Array;
}

export interface EnrollRequest {
  /** Person id: the rule in src/identity.ts (the folder name on import). */
  readonly id: string;
  /** Display name shown in events (defaults to the id); the rule in src/identity.ts. */
  readonly name?: string;
  /** Model that made the embeddings. */
  readonly modelId: string;
  /** 1..MAX_FACES_PER_PERSON faces. */
  readonly faces: readonly EnrollFace[];
  /**
   * Groups / validity to set with the enrollment (person-access.ts). Absent fields: a new
   * person gets no validity bounds and the `default` group, an existing person keeps theirs.
   */
  readonly access?: PersonAccessPatch;
}

export interface EnrollOptions {
  /** true (default): the person's previous faces are replaced; false: the new ones are added. */
  readonly replace?: boolean;
  /**
   * Stores the request's response under its transaction id in the SAME SQL transaction,
   * so a retried request is answered from `getTransaction` and never applied twice.
   */
  readonly transaction?: TransactionRecord<EnrollResult>;
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
  /** The person's credential after the enrollment. */
  readonly access: PersonAccess;
}

export interface RemoveOptions {
  readonly transaction?: TransactionRecord<RemoveResult>;
}

export interface RemoveResult {
  readonly version: number;
  readonly personId: string;
  /** False when no such person was enrolled (the version is then unchanged). */
  readonly removed: boolean;
}

export interface PersonSummary extends PersonAccess {
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

export const MAX_FACES_PER_PERSON = 32;

/**
 * People and their face templates (tables `people`, `faces`, `embeddings`, and the
 * `gallery_version` in `meta`): each face is the normalised gray crop, so a new model can
 * re-embed everyone, with one embedding per model id. Every change runs in ONE SQL
 * transaction together with its audit row and, for a request, its stored response; bad
 * input throws GalleryInputError before anything is written.
 */
export class PeopleRepository {
  private readonly log: Logger;

  constructor(
    private readonly db: GalleryDatabase,
    private readonly deps: {
      readonly clock: Clock;
      readonly logger: Logger;
      readonly audit: AuditLog;
      readonly requests: RequestLog;
    },
  ) {
    this.log = deps.logger.child({ module: 'gallery' });
  }

  /** Gallery version: bumped by every enroll and remove (reported in MQTT state). */
  version(): number {
    const row = this.db.sql(`SELECT value FROM meta WHERE key = 'gallery_version'`).get() as
      { value: string } | undefined;
    return row ? Number(row.value) : 0;
  }

  private bumpVersion(): number {
    const next = this.version() + 1;
    this.db
      .sql(
        `INSERT INTO meta(key, value) VALUES ('gallery_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      )
      .run(String(next));
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
    const existingDim = this.db.sql(`SELECT dim FROM embeddings WHERE model_id = ? LIMIT 1`).get(modelId) as
      { dim: number } | undefined;
    if (existingDim && existingDim.dim !== dim) {
      throw new GalleryInputError(
        `model ${modelId} embeddings have ${existingDim.dim} dimensions, got ${dim}`,
      );
    }
    if (options.transaction) validateTransactionId(options.transaction.id);
    const access = request.access ? validateAccessPatch(request.access) : {};
    const replace = options.replace ?? true;
    const now = this.deps.clock.nowMs();

    const result = this.db.transaction((): EnrollResult => {
      const existing = this.db.sql(`SELECT id FROM people WHERE id = ?`).get(personId);
      if (existing) {
        this.db.sql(`UPDATE people SET name = ?, updated_ms = ? WHERE id = ?`).run(name, now, personId);
        if (replace) this.db.sql(`DELETE FROM faces WHERE person_id = ?`).run(personId);
      } else {
        this.db
          .sql(`INSERT INTO people(id, name, created_ms, updated_ms) VALUES (?, ?, ?, ?)`)
          .run(personId, name, now, now);
      }
      const insertFace = this.db.sql(
        `INSERT INTO faces(person_id, crop_width, crop_height, crop, created_ms) VALUES (?, ?, ?, ?, ?)`,
      );
      const insertEmbedding = this.db.sql(
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
        this.db.sql(`SELECT COUNT(*) AS n FROM faces WHERE person_id = ?`).get(personId) as { n: number }
      ).n;
      if (count > MAX_FACES_PER_PERSON) {
        throw new GalleryInputError(
          `person ${personId} would have ${count} faces (max ${MAX_FACES_PER_PERSON})`,
        );
      }
      // Validity and groups in the same transaction as the faces: never a face without its rules.
      const personAccess = applyAccessPatch(this.db, personId, access, now) as PersonAccess;
      const version = this.bumpVersion();
      const result: EnrollResult = {
        version,
        personId,
        name,
        faces: count,
        updated: Boolean(existing),
        access: personAccess,
      };
      this.deps.audit.append(
        'enrolled',
        { personId, name, faces: faces.length, modelId, version, replace },
        now,
      );
      if (options.transaction)
        this.deps.requests.putTransaction(options.transaction.id, options.transaction.response(result), now);
      return result;
    });
    this.log.info({ personId, faces: result.faces, version: result.version }, 'person enrolled');
    return result;
  }

  /**
   * Adds templates (faces with their embeddings by `modelId`) to an ENROLLED person, keeping
   * their name and other faces, in one transaction (e.g. walk-up photos from the door camera).
   * At most MAX_FACES_PER_PERSON faces per person in total.
   *
   * @throws GalleryInputError when the person is not enrolled, a face is bad, or the limit would be passed.
   */
  addTemplates(personId: string, modelId: string, faces: readonly EnrollFace[]): EnrollResult {
    const id = validatePersonId(personId);
    // Nested transaction (a savepoint): the person cannot vanish between the lookup and the insert.
    return this.db.transaction((): EnrollResult => {
      const row = this.db.sql(`SELECT name FROM people WHERE id = ?`).get(id) as { name: string } | undefined;
      if (!row) throw new GalleryInputError(`person ${id} is not enrolled`);
      return this.enroll({ id, name: row.name, modelId, faces }, { replace: false });
    });
  }

  /** Removes a person with all faces and embeddings, in one transaction. */
  remove(personId: string, options: RemoveOptions = {}): RemoveResult {
    const id = validatePersonId(personId);
    if (options.transaction) validateTransactionId(options.transaction.id);
    const now = this.deps.clock.nowMs();
    const result = this.db.transaction((): RemoveResult => {
      const info = this.db.sql(`DELETE FROM people WHERE id = ?`).run(id);
      const removed = info.changes > 0;
      const version = removed ? this.bumpVersion() : this.version();
      const result: RemoveResult = { version, personId: id, removed };
      if (removed) this.deps.audit.append('removed', { personId: id, version }, now);
      if (options.transaction)
        this.deps.requests.putTransaction(options.transaction.id, options.transaction.response(result), now);
      return result;
    });
    if (result.removed) this.log.info({ personId: id, version: result.version }, 'person removed');
    return result;
  }

  listPeople(): PersonSummary[] {
    const rows = this.db
      .sql(
        `SELECT p.id, p.name, p.created_ms, p.updated_ms, COUNT(f.id) AS faces,
                ${ACCESS_COLUMNS.map((c) => `p.${c}`).join(', ')}
           FROM people p LEFT JOIN faces f ON f.person_id = p.id
          GROUP BY p.id ORDER BY p.id`,
      )
      .all() as ({
      id: string;
      name: string;
      created_ms: number;
      updated_ms: number;
      faces: number;
    } & AccessRow)[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdMs: r.created_ms,
      updatedMs: r.updated_ms,
      faces: r.faces,
      ...rowToAccess(r),
    }));
  }

  getPerson(personId: string): PersonSummary | undefined {
    return this.listPeople().find((p) => p.id === personId);
  }

  /** Numbers for the MQTT state and metrics. */
  stats(): { people: number; faces: number; version: number } {
    const people = (this.db.sql(`SELECT COUNT(*) AS n FROM people`).get() as { n: number }).n;
    const faces = (this.db.sql(`SELECT COUNT(*) AS n FROM faces`).get() as { n: number }).n;
    return { people, faces, version: this.version() };
  }

  /** All embeddings made by `modelId`, ordered by person then face (for the matcher). */
  loadEmbeddings(modelId: string): EmbeddingRow[] {
    const rows = this.db
      .sql(
        `SELECT e.face_id, f.person_id, p.name, e.vector
           FROM embeddings e JOIN faces f ON f.id = e.face_id JOIN people p ON p.id = f.person_id
          WHERE e.model_id = ? ORDER BY f.person_id, e.face_id`,
      )
      .all(modelId) as { face_id: number; person_id: string; name: string; vector: Buffer }[];
    return rows.map((r) => ({
      faceId: r.face_id,
      personId: r.person_id,
      personName: r.name,
      vector: bufferToFloat32(r.vector),
    }));
  }

  /** Crops of faces that have no embedding by `modelId` yet (re-embedding after a model change). */
  cropsMissingEmbedding(modelId: string): StoredCrop[] {
    const rows = this.db
      .sql(
        `SELECT f.id, f.person_id, f.crop_width, f.crop_height, f.crop FROM faces f
          WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.face_id = f.id AND e.model_id = ?)
          ORDER BY f.id`,
      )
      .all(modelId) as {
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
    const insert = this.db.sql(
      `INSERT OR REPLACE INTO embeddings(face_id, model_id, dim, vector)
       SELECT id, ?, ?, ? FROM faces WHERE id = ?`,
    );
    return this.db.transaction(() => {
      let n = 0;
      for (const e of checked)
        n += insert.run(model, e.vector.length, float32ToBuffer(e.vector), e.faceId).changes;
      return n;
    });
  }

  /** Drops embeddings of models other than `keepModelId` (after a successful re-embedding). */
  dropOtherModels(keepModelId: string): number {
    return this.db.sql(`DELETE FROM embeddings WHERE model_id <> ?`).run(keepModelId).changes;
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
