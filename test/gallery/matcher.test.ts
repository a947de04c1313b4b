import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Matcher, type MatcherEntry } from '../../src/gallery/matcher.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { similarityFromDistance } from '../../src/model/embedder.js';
import { silentLogger } from '../../src/util/log.js';

const head = { weight: -4, bias: 3 };
const v = (...xs: number[]) => new Float32Array(xs);
const entry = (personId: string, ...xs: number[]): MatcherEntry => ({
  personId,
  personName: personId.toUpperCase(),
  vector: v(...xs),
});

/** Brute force over persons, for comparison. */
function bruteForce(entries: MatcherEntry[], q: Float32Array) {
  const best = new Map<string, number>();
  for (const e of entries) {
    const d = Math.hypot(...Array.from(e.vector, (x, i) => x - q[i]));
    best.set(e.personId, Math.min(best.get(e.personId) ?? Infinity, d));
  }
  return [...best.entries()].sort((a, b) => a[1] - b[1]);
}

describe.each([{ simd: true }, { simd: false }])('Matcher %o', (engine) => {
  it('runs the engine asked for (WebAssembly SIMD is available on Node 20)', () => {
    expect(new Matcher(head, 3, engine).engine).toBe(engine.simd ? 'wasm-simd' : 'js');
  });

  it('returns the best person and the runner-up PERSON, not a second face of the winner', () => {
    const m = new Matcher(head, 2, engine);
    m.rebuild([entry('alice', 0, 0), entry('alice', 0.1, 0), entry('bob', 1, 0), entry('carol', 5, 5)]);
    const r = m.match(v(0.05, 0))!;
    expect(r.best.personId).toBe('alice');
    expect(r.best.name).toBe('ALICE');
    expect(r.best.distance).toBeCloseTo(0.05, 6);
    expect(r.best.similarity).toBeCloseTo(similarityFromDistance(head, 0.05), 6);
    expect(r.runnerUp?.personId).toBe('bob');
    expect(r.runnerUp?.distance).toBeCloseTo(0.95, 6);
    expect(m.size).toBe(4);
    expect(m.people).toBe(3);
  });

  it('finds the runner-up when it appears before the winner in row order', () => {
    const m = new Matcher(head, 1, engine);
    m.rebuild([entry('bob', 2), entry('alice', 0), entry('bob', 1), entry('alice', 0.5)]);
    const r = m.match(v(0.1))!;
    expect([r.best.personId, r.runnerUp?.personId]).toEqual(['alice', 'bob']);
    expect(r.runnerUp?.distance).toBeCloseTo(0.9, 6);
  });

  it.each([16, 130, 128, 3])(
    'agrees with brute force on random data (dim %i), including after removals and updates',
    (dim) => {
      let seed = 42 + dim;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
      let entries: MatcherEntry[] = [];
      for (let p = 0; p < 60; p++) {
        for (let f = 0; f < 1 + (p % 4); f++) {
          entries.push({ personId: `p${p}`, personName: `P${p}`, vector: new Float32Array(dim).map(rnd) });
        }
      }
      const m = new Matcher(head, dim, engine);
      m.rebuild(entries);
      const check = () => {
        for (let i = 0; i < 20; i++) {
          const q = new Float32Array(dim).map(rnd);
          const expected = bruteForce(entries, q);
          const r = m.match(q)!;
          expect(r.best.personId).toBe(expected[0][0]);
          expect(r.best.distance).toBeCloseTo(expected[0][1], 4);
          expect(r.runnerUp?.personId).toBe(expected[1][0]);
          expect(r.runnerUp?.distance).toBeCloseTo(expected[1][1], 4);
        }
      };
      check();
      for (const id of ['p0', 'p17', 'p59', 'p30']) {
        expect(m.removePerson(id)).toBe(true);
        entries = entries.filter((e) => e.personId !== id);
      }
      expect(m.removePerson('p0')).toBe(false);
      check();
      const fresh = [new Float32Array(dim).map(rnd), new Float32Array(dim).map(rnd)];
      m.setPerson('p5', 'P5 new', fresh);
      entries = entries
        .filter((e) => e.personId !== 'p5')
        .concat(fresh.map((vector) => ({ personId: 'p5', personName: 'P5 new', vector })));
      check();
      expect(m.match(fresh[0])!.best).toMatchObject({ personId: 'p5', name: 'P5 new', distance: 0 });
      expect(m.size).toBe(entries.length);
    },
  );

  it('a removed person is never matched again; one person has no runner-up; empty gives null', () => {
    const m = new Matcher(head, 2, engine);
    m.rebuild([entry('alice', 0, 0), entry('bob', 3, 3)]);
    m.removePerson('alice');
    const r = m.match(v(0, 0))!;
    expect(r.best.personId).toBe('bob');
    expect(r.runnerUp).toBeNull();
    m.removePerson('bob');
    expect(m.match(v(0, 0))).toBeNull();
    expect(() => m.match(v(1, 2, 3))).toThrow(RangeError);
  });

  it('loads from a real gallery file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-matcher-'));
    try {
      const store = new GalleryStore(join(dir, 'g.db'), silentLogger());
      const crop = { width: 64, height: 64, data: new Uint8Array(4096) };
      store.enroll({
        id: 'alice',
        modelId: 'm',
        faces: [
          { crop, embedding: v(0, 0) },
          { crop, embedding: v(0, 1) },
        ],
      });
      store.enroll({ id: 'bob', modelId: 'm', faces: [{ crop, embedding: v(4, 4) }] });
      const m = new Matcher(head, 2, engine);
      m.rebuild(store.loadEmbeddings('m'));
      store.close();
      expect(m.match(v(0, 0.9))!.best.personId).toBe('alice');
      expect(m.match(v(3, 3))!.best.personId).toBe('bob');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
