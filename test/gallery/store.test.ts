import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FacegateEvent } from '../../src/events.js';
import { MIGRATIONS } from '../../src/gallery/migrations.js';
import { GalleryInputError, GalleryStore, type EnrollFace } from '../../src/gallery/store.js';
import { silentLogger } from '../../src/util/log.js';
import { ManualTime } from '../fakes/manual-time.js';

const dirs: string[] = [];
function dbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-gallery-'));
  dirs.push(dir);
  return join(dir, 'state', 'facegate.db');
}
const stores: GalleryStore[] = [];
function open(path: string, time = new ManualTime()): GalleryStore {
  const s = new GalleryStore(path, silentLogger(), { clock: time });
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function face(seed: number, dim = 8, size = 64): EnrollFace {
  const data = new Uint8Array(size * size).map((_, i) => (i * 7 + seed) & 255);
  const embedding = new Float32Array(dim).map((_, i) => Math.sin(seed * 13 + i));
  return { crop: { width: size, height: size, data }, embedding };
}

function event(n: number): FacegateEvent {
  return {
    id: `ev-${n}`,
    type: 'unknown_face',
    ts: new Date(n).toISOString(),
    device: 'd',
    score: n / 100,
    frames: 3,
    quality: [],
  };
}

describe('GalleryStore', () => {
  it('creates the schema in WAL mode and migrates once', () => {
    const path = dbPath();
    const s = open(path);
    expect(s.journalMode()).toBe('wal');
    expect(s.schemaVersion()).toBe(MIGRATIONS.length);
    s.close();
    const again = open(path);
    expect(again.schemaVersion()).toBe(MIGRATIONS.length);
    expect(again.integrityCheck()).toEqual([]);
  });

  it('refuses a database from a newer program version', () => {
    const path = dbPath();
    open(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => open(path)).toThrow(/newer than this program/);
  });

  it('enrolls people with their faces, survives reopening, bumps the version', () => {
    const path = dbPath();
    const s = open(path);
    const r1 = s.enroll({ id: 'alice', name: 'Alice A.', modelId: 'm1', faces: [face(1), face(2)] });
    expect(r1).toEqual({
      version: 1,
      personId: 'alice',
      name: 'Alice A.',
      faces: 2,
      updated: false,
      access: { suspended: false, validFromMs: null, validUntilMs: null, groups: ['default'] },
    });
    s.enroll({ id: 'bob', modelId: 'm1', faces: [face(3)] });
    s.close();
    const t = open(path);
    expect(t.listPeople().map((p) => [p.id, p.name, p.faces])).toEqual([
      ['alice', 'Alice A.', 2],
      ['bob', 'bob', 1],
    ]);
    expect(t.stats()).toEqual({ people: 2, faces: 3, version: 2 });
    const rows = t.loadEmbeddings('m1');
    expect(rows.map((r) => r.personId)).toEqual(['alice', 'alice', 'bob']);
    expect(Array.from(rows[2].vector)).toEqual(Array.from(face(3).embedding));
    expect(t.loadEmbeddings('other-model')).toEqual([]);
  });

  it('re-enrolling replaces faces by default, or appends', () => {
    const s = open(dbPath());
    s.enroll({ id: 'alice', modelId: 'm1', faces: [face(1), face(2)] });
    expect(s.enroll({ id: 'alice', name: 'Alice', modelId: 'm1', faces: [face(5)] })).toMatchObject({
      faces: 1,
      updated: true,
    });
    expect(s.enroll({ id: 'alice', modelId: 'm1', faces: [face(6)] }, { replace: false }).faces).toBe(2);
    expect(s.loadEmbeddings('m1')).toHaveLength(2);
  });

  it('remove deletes faces and embeddings (cascade) and says whether anyone was removed', () => {
    const s = open(dbPath());
    s.enroll({ id: 'alice', modelId: 'm1', faces: [face(1)] });
    s.enroll({ id: 'bob', modelId: 'm1', faces: [face(2)] });
    expect(s.remove('alice')).toEqual({ version: 3, personId: 'alice', removed: true });
    expect(s.remove('alice')).toEqual({ version: 3, personId: 'alice', removed: false });
    expect(s.loadEmbeddings('m1').map((r) => r.personId)).toEqual(['bob']);
    expect(s.stats().faces).toBe(1);
    expect(s.integrityCheck()).toEqual([]);
  });

  it('bad input throws before anything is written, and stored data stays intact', () => {
    const s = open(dbPath());
    s.enroll({ id: 'alice', modelId: 'm1', faces: [face(1)] });
    const before = s.loadEmbeddings('m1');
    const bad: [string, () => unknown][] = [
      ['bad id', () => s.enroll({ id: '../etc', modelId: 'm1', faces: [face(2)] })],
      ['no faces', () => s.enroll({ id: 'bob', modelId: 'm1', faces: [] })],
      ['tiny crop', () => s.enroll({ id: 'bob', modelId: 'm1', faces: [face(2, 8, 32)] })],
      [
        'short crop data',
        () =>
          s.enroll({
            id: 'bob',
            modelId: 'm1',
            faces: [{ ...face(2), crop: { width: 64, height: 64, data: new Uint8Array(10) } }],
          }),
      ],
      [
        'NaN embedding',
        () =>
          s.enroll({
            id: 'bob',
            modelId: 'm1',
            faces: [{ ...face(2), embedding: new Float32Array([1, NaN]) }],
          }),
      ],
      ['mixed dimensions', () => s.enroll({ id: 'bob', modelId: 'm1', faces: [face(2, 8), face(3, 9)] })],
      [
        'dimension differs from the stored model',
        () => s.enroll({ id: 'bob', modelId: 'm1', faces: [face(2, 16)] }),
      ],
      // Second face bad: the whole enrollment (also replacing alice's faces) must not happen.
      [
        're-enroll with a bad second face',
        () =>
          s.enroll({
            id: 'alice',
            modelId: 'm1',
            faces: [face(7), { ...face(8), embedding: [1] as unknown as Float32Array }],
          }),
      ],
    ];
    for (const [what, fn] of bad) expect(fn, what).toThrow(GalleryInputError);
    expect(s.loadEmbeddings('m1')).toEqual(before);
    expect(s.stats()).toEqual({ people: 1, faces: 1, version: 1 });
    expect(s.integrityCheck()).toEqual([]);
  });

  it('a failure inside the transaction rolls everything back, including the transaction record', () => {
    const s = open(dbPath());
    expect(() =>
      s.enroll(
        { id: 'alice', modelId: 'm1', faces: [face(1)] },
        {
          transaction: {
            id: 'tx-1',
            response: () => {
              throw new Error('boom');
            },
          },
        },
      ),
    ).toThrow('boom');
    expect(s.stats()).toEqual({ people: 0, faces: 0, version: 0 });
    expect(s.getTransaction('tx-1')).toBeUndefined();
  });

  it('stores the response of a request in the same transaction (idempotency)', () => {
    const path = dbPath();
    const s = open(path);
    const result = s.enroll(
      { id: 'alice', modelId: 'm1', faces: [face(1)] },
      {
        transaction: {
          id: 'tx-1',
          response: (r) => ({ transaction: 'tx-1', status: 'ok', data: { version: r.version } }),
        },
      },
    );
    expect(result.version).toBe(1);
    s.close();
    const t = open(path);
    expect(t.getTransaction('tx-1')).toEqual({ transaction: 'tx-1', status: 'ok', data: { version: 1 } });
    expect(t.putTransaction('tx-1', { other: true })).toBe(false);
    expect(t.getTransaction('tx-1')).toEqual({ transaction: 'tx-1', status: 'ok', data: { version: 1 } });
    expect(t.putTransaction('tx-2', { status: 'error' })).toBe(true);
    t.remove('alice', { transaction: { id: 'tx-3', response: (r) => r } });
    expect(t.getTransaction('tx-3')).toEqual({ version: 2, personId: 'alice', removed: true });
  });

  it('remembers nonces across restarts and prunes expired ones', () => {
    const path = dbPath();
    const time = new ManualTime();
    const s = open(path, time);
    const now = time.nowMs();
    expect(s.rememberNonce('n-1', now + 60_000)).toBe(true);
    expect(s.rememberNonce('n-1', now + 60_000)).toBe(false);
    expect(s.rememberNonce('n-2', now + 1_000)).toBe(true);
    s.close();
    const t = open(path, time);
    expect(t.rememberNonce('n-1', now + 60_000)).toBe(false);
    time.advance(2_000);
    expect(t.pruneNonces()).toBe(1);
    expect(t.rememberNonce('n-1', now + 60_000)).toBe(false);
    expect(() => t.rememberNonce('', now)).toThrow(GalleryInputError);
  });

  it('keeps the outbox in order across restarts; markSent removes from pending', () => {
    const path = dbPath();
    const s = open(path);
    const seqs = [1, 2, 3, 4, 5].map((n) => s.appendOutbox(event(n)));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(s.appendOutbox(event(3))).toBe(seqs[2]); // same id: not duplicated
    s.markSent([seqs[0], seqs[1]]);
    s.close();
    const t = open(path);
    const pending = t.pendingOutbox(10);
    expect(pending.map((p) => p.event.id)).toEqual(['ev-3', 'ev-4', 'ev-5']);
    expect(pending[0].event).toEqual(event(3));
    expect(t.pendingOutbox(2).map((p) => p.event.id)).toEqual(['ev-3', 'ev-4']);
    t.markSent(pending[0].seq);
    t.appendOutbox(event(6));
    expect(t.pendingOutbox(10).map((p) => p.event.id)).toEqual(['ev-4', 'ev-5', 'ev-6']);
    expect(t.outboxPendingCount()).toBe(3);
  });

  it('prunes delivered events, old transactions and old audit entries by retention, never unsent events', () => {
    const path = dbPath();
    const time = new ManualTime();
    const s = open(path, time);
    const sent = s.appendOutbox(event(1));
    s.appendOutbox(event(2));
    s.markSent(sent);
    s.putTransaction('tx-old', { ok: true });
    s.appendAudit('note', {});
    s.rememberNonce('n', time.nowMs() + 1000);
    s.close();
    time.advance(8 * 86_400_000);
    const t = open(path, time);
    // Opening pruned the delivered event (7 days) and the nonce, kept the rest.
    expect(t.pendingOutbox(10).map((p) => p.event.id)).toEqual(['ev-2']);
    expect(t.getTransaction('tx-old')).toEqual({ ok: true });
    expect(t.listAudit(10)).toHaveLength(1);
    time.advance(30 * 86_400_000);
    expect(t.pruneExpired()).toEqual({ nonces: 0, sentEvents: 0, transactions: 1, audit: 0 });
    expect(t.pendingOutbox(10).map((p) => p.event.id)).toEqual(['ev-2']);
    const u = new GalleryStore(path, silentLogger(), { clock: time, retention: { audit: 30 } });
    stores.push(u);
    expect(u.listAudit(10)).toEqual([]);
  });

  it('audit log records enrollments and appended entries, newest first', () => {
    const s = open(dbPath());
    s.enroll({ id: 'alice', modelId: 'm1', faces: [face(1)] });
    s.appendAudit('access_granted', { personId: 'alice' });
    const audit = s.listAudit(10);
    expect(audit.map((a) => a.kind)).toEqual(['access_granted', 'enrolled']);
    expect(audit[1].detail).toMatchObject({ personId: 'alice', faces: 1, modelId: 'm1', version: 1 });
  });

  it('gives crops back for re-embedding with a new model', () => {
    const s = open(dbPath());
    s.enroll({ id: 'alice', modelId: 'm1', faces: [face(1), face(2)] });
    s.enroll({ id: 'bob', modelId: 'm1', faces: [face(3)] });
    const crops = s.cropsMissingEmbedding('m2');
    expect(crops.map((c) => c.personId)).toEqual(['alice', 'alice', 'bob']);
    expect(Array.from(crops[2].crop.data)).toEqual(Array.from(face(3).crop.data));
    expect(
      s.putEmbeddings(
        'm2',
        crops.map((c) => ({ faceId: c.faceId, vector: new Float32Array([c.faceId, 0, 1]) })),
      ),
    ).toBe(3);
    expect(s.cropsMissingEmbedding('m2')).toEqual([]);
    expect(s.loadEmbeddings('m2').map((r) => r.vector.length)).toEqual([3, 3, 3]);
    expect(s.dropOtherModels('m2')).toBe(3);
    expect(s.loadEmbeddings('m1')).toEqual([]);
  });

  it('the integrity check reports real damage', () => {
    const path = dbPath();
    open(path).enroll({ id: 'alice', modelId: 'm1', faces: [face(1)] });
    // Damage it behind the store's back: a face whose person does not exist.
    const raw = new Database(path);
    raw.pragma('foreign_keys = OFF');
    raw
      .prepare(
        `INSERT INTO faces(person_id, crop_width, crop_height, crop, created_ms) VALUES ('ghost', 64, 64, zeroblob(4096), 0)`,
      )
      .run();
    raw.close();
    const s = open(path);
    expect(s.integrityCheck().join('\n')).toMatch(/foreign key: faces/);
  });
});
