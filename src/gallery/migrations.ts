import { PERSON_ACCESS_MIGRATION } from './person-access.js';

/**
 * THE migration chain of the one gallery database, applied in order by
 * `GalleryDatabase` (src/gallery/database.ts), each in its own transaction; SQLite
 * `user_version` records how many ran.
 *
 * To change the schema: APPEND an entry at the end (never edit or reorder a released one;
 * a database that ran it will not run it again). One entry per change, named for what it
 * adds (e.g. "people: validity and suspension", "faces: template quality"). The tables
 * belong to the modules beside this file: people/faces/embeddings → people.ts,
 * nonces/transactions → requests.ts, outbox → outbox.ts, audit → audit.ts, meta → database.ts.
 */
export interface Migration {
  /** What the step adds, for the log and for reviewers. */
  readonly name: string;
  /** SQL run in one transaction; may hold several statements. */
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'the first schema',
    sql: `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE people (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
  );
  -- A face is the normalised gray crop; embeddings hang off it per model id.
  CREATE TABLE faces (
    id          INTEGER PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    crop_width  INTEGER NOT NULL CHECK (crop_width >= 64),
    crop_height INTEGER NOT NULL CHECK (crop_height >= 64),
    crop        BLOB NOT NULL CHECK (length(crop) = crop_width * crop_height),
    created_ms  INTEGER NOT NULL
  );
  CREATE INDEX faces_person ON faces(person_id);
  CREATE TABLE embeddings (
    face_id  INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    dim      INTEGER NOT NULL CHECK (dim > 0),
    vector   BLOB NOT NULL CHECK (length(vector) = 4 * dim),
    PRIMARY KEY (face_id, model_id)
  );
  CREATE INDEX embeddings_model ON embeddings(model_id);
  CREATE TABLE nonces (
    nonce      TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
  );
  CREATE INDEX nonces_expiry ON nonces(expires_ms);
  CREATE TABLE transactions (
    id         TEXT PRIMARY KEY,
    response   TEXT NOT NULL,
    created_ms INTEGER NOT NULL
  );
  CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL UNIQUE,
    payload    TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    sent_ms    INTEGER
  );
  CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_ms IS NULL;
  CREATE TABLE audit (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms  INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    detail TEXT NOT NULL
  );
  `,
  },
  {
    name: 'people: validity, suspension and access groups (existing people in "default"); door schedules',
    sql: PERSON_ACCESS_MIGRATION,
  },
  // Append new migrations here.
];
