import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/gallery/migrations.js';
import { GalleryInputError, GalleryStore, type EnrollFace } from '../../src/gallery/store.js';
import { silentLogger } from '../../src/util/log.js';
import { ManualTime } from '../fakes/manual-time.js';

// The credential side of the gallery on a real SQLite file: migration 2 from a database
// written by the previous release, update without photos, the stored schedules override.
const dirs: string[] = [];
const stores: GalleryStore[] = [];
function dbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-access-'));
  dirs.push(dir);
  return join(dir, 'facegate.db');
}
function open(path: string): GalleryStore {
  const s = new GalleryStore(path, silentLogger(), { clock: new ManualTime() });
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function face(seed: number): EnrollFace {
  const data = new Uint8Array(64 * 64).map((_, i) => (i * 7 + seed) & 255);
  return {
    crop: { width: 64, height: 64, data },
    embedding: new Float32Array(8).map((_, i) => Math.sin(seed + i)),
  };
}

describe('gallery migration 2: validity, suspension, groups', () => {
  it('a database of the previous release keeps its people, now without limits in group "default"', () => {
    const path = dbPath();
    mkdirSync(dirname(path), { recursive: true });
    // Exactly what the previous release wrote: schema 1 and one person with a face.
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0].sql);
    raw.pragma('user_version = 1');
    raw.prepare(`INSERT INTO people(id, name, created_ms, updated_ms) VALUES ('alice', 'Alice', 1, 1)`).run();
    raw
      .prepare(
        `INSERT INTO faces(person_id, crop_width, crop_height, crop, created_ms) VALUES ('alice', 64, 64, ?, 1)`,
      )
      .run(Buffer.alloc(64 * 64));
    raw.close();

    const s = open(path);
    expect(s.schemaVersion()).toBe(MIGRATIONS.length);
    expect(s.personAccess('alice')).toEqual({
      suspended: false,
      validFromMs: null,
      validUntilMs: null,
      groups: ['default'],
    });
    expect(s.listPeople()).toEqual([
      expect.objectContaining({ id: 'alice', faces: 1, groups: ['default'], suspended: false }),
    ]);
    expect(s.storedSchedules()).toBeUndefined();
    expect(s.integrityCheck()).toEqual([]);
  });
});

describe('person access', () => {
  it('enrollment sets groups and validity; a re-enrollment without them keeps them', () => {
    const s = open(dbPath());
    const r = s.enroll({
      id: 'carol',
      modelId: 'm',
      faces: [face(1)],
      access: { groups: ['cleaning'], validFromMs: 1000, validUntilMs: 5000 },
    });
    expect(r.access).toEqual({
      suspended: false,
      validFromMs: 1000,
      validUntilMs: 5000,
      groups: ['cleaning'],
    });
    s.enroll({ id: 'carol', modelId: 'm', faces: [face(2)] });
    expect(s.personAccess('carol')).toEqual(r.access);
    expect(s.enroll({ id: 'dave', modelId: 'm', faces: [face(3)] }).access.groups).toEqual(['default']);
  });

  it('suspends and resumes without photos; faces and embeddings stay; nothing else changes', () => {
    const s = open(dbPath());
    s.enroll({ id: 'erin', modelId: 'm', faces: [face(1), face(2)], access: { groups: ['staff'] } });
    const version = s.version();
    const suspended = s.updatePersonAccess('erin', { suspended: true });
    expect(suspended).toMatchObject({ found: true, access: { suspended: true, groups: ['staff'] } });
    expect(s.loadEmbeddings('m')).toHaveLength(2);
    expect(s.version()).toBe(version); // the matcher need not reload
    expect(s.updatePersonAccess('erin', { suspended: false }).access?.suspended).toBe(false);
    expect(s.listAudit(5).map((a) => a.kind)).toEqual(['person_updated', 'person_updated', 'enrolled']);
  });

  it('null clears a bound; a patch leaving validFrom at or after validUntil is refused and writes nothing', () => {
    const s = open(dbPath());
    s.enroll({ id: 'fay', modelId: 'm', faces: [face(1)], access: { validUntilMs: 10_000 } });
    expect(() => s.updatePersonAccess('fay', { validFromMs: 10_000 })).toThrow(GalleryInputError);
    expect(() => s.updatePersonAccess('fay', { groups: ['a', 'a'] })).toThrow(/repeat/);
    expect(() => s.updatePersonAccess('fay', { groups: ['no spaces'] })).toThrow(GalleryInputError);
    expect(s.personAccess('fay')?.validUntilMs).toBe(10_000);
    expect(s.updatePersonAccess('fay', { validUntilMs: null }).access?.validUntilMs).toBeNull();
  });

  it('an unknown person changes nothing, and the answer is stored with the transaction', () => {
    const s = open(dbPath());
    const result = s.updatePersonAccess(
      'nobody',
      { suspended: true },
      { transaction: { id: 'tx-1', response: (r) => ({ found: r.found }) } },
    );
    expect(result.found).toBe(false);
    expect(s.getTransaction('tx-1')).toEqual({ found: false });
    expect(s.listPeople()).toEqual([]);
  });
});

describe('stored door schedules', () => {
  it('stores, replaces and resets the override, surviving a reopen', () => {
    const path = dbPath();
    const s = open(path);
    const spec = { groups: { staff: { always: true } }, timeZone: 'Europe/Berlin' };
    expect(s.setStoredSchedules(spec, { kid: 'k1' })).toEqual({ changed: true });
    s.close();
    const t = open(path);
    expect(t.storedSchedules()).toMatchObject({ spec, kid: 'k1' });
    expect(t.setStoredSchedules(null)).toEqual({ changed: true });
    expect(t.storedSchedules()).toBeUndefined();
    expect(t.setStoredSchedules(null)).toEqual({ changed: false });
  });
});
