import { describe, expect, it } from 'vitest';
import {
  compareResults,
  rank1WithTemplates,
  type ComparedPhoto,
  type PhotoResult,
} from '../../src/training/comparison.js';
import { comparisonMarkdown, comparisonTable } from '../../src/training/comparison-format.js';

/** An embedding near person `label`'s centre (one axis per person), nudged by `noise`. */
function emb(label: number, noise: number): Float32Array {
  const v = new Float32Array(4);
  v[label] = 1;
  v[3] = noise;
  return v;
}

const negDistance = (a: Float32Array, b: Float32Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return -Math.sqrt(s);
};

function result(label: number, noise: number, ms: number, extra: Partial<PhotoResult> = {}): PhotoResult {
  return { embedding: emb(label, noise), ms, ...extra };
}

/** 3 people x 3 photos. `a` finds every face and separates people; `b` misses two photos. */
function photos(): ComparedPhoto[] {
  const out: ComparedPhoto[] = [];
  for (let label = 0; label < 3; label++)
    for (let i = 0; i < 3; i++) {
      const missed = (label === 0 && i === 0) || (label === 2 && i === 2);
      out.push({
        file: `p${label}/${i}.png`,
        label,
        results: {
          a: result(label, i * 0.1, 10 + i, { aligned: i !== 1 }),
          b: missed ? null : result(label, i * 0.1, 100 + i),
        },
      });
    }
  return out;
}

describe('compareResults (side-by-side protocol)', () => {
  it('counts faces found, scores every pair among found faces and the common photos', () => {
    const r = compareResults('toy', 'photo', photos(), { a: negDistance, b: negDistance });
    expect(r.people).toBe(3);
    expect(r.photos).toBe(9);
    const a = r.pipelines.a;
    expect(a.faces_found).toBe(9);
    expect(a.aligned).toBe(6);
    expect(a.padded).toBeUndefined();
    expect(a.genuine_pairs).toBe(3 * 3);
    expect(a.impostor_pairs).toBe(36 - 9);
    expect(a.eer).toBe(0);
    expect(a.tar_at_far['0.001']).toBe(1);
    expect(a.rank1).toBe(1);
    expect(a.rank1_probes).toBe(6);
    expect(a.ms_per_face?.median).toBe(11);
    // 2 of 3 photos enrolled per person, 1 probe each.
    expect(a.rank1_templates).toEqual({ enrolled: 2, probes: 3, best: 1, mean: 1, both: 1 });
    const b = r.pipelines.b;
    expect(b.faces_found).toBe(7);
    // p0: 2 found (1 genuine pair), p1: 3 (3), p2: 2 (1).
    expect(b.genuine_pairs).toBe(5);
    expect(b.rank1_probes).toBe(4);
    expect(b.rank1).toBe(1);
    // Misses count as wrong: 4 right of the 6 photos that are not enrolled.
    expect(b.rank1_all_photos).toBeCloseTo(4 / 6, 10);
    expect(r.common.photos).toBe(7);
    expect(r.common.pipelines.a.faces_found).toBe(7);
    expect(r.common.pipelines.a.genuine_pairs).toBe(5);
  });

  it('finds the worse pipeline worse: a pipeline that confuses two people has EER > 0 and rank-1 < 1', () => {
    const confused = photos().map((p) => ({
      ...p,
      // person 1 embedded like person 0
      results: { ...p.results, b: result(p.label === 1 ? 0 : p.label, 0.05 * Number(p.file.at(-5)), 5) },
    }));
    const r = compareResults('toy', 'crop', confused, { a: negDistance, b: negDistance });
    expect(r.pipelines.b.eer).toBeGreaterThan(0);
    expect(r.pipelines.b.rank1).toBeLessThan(1);
    expect(r.pipelines.a.eer).toBe(0);
  });

  it("counts strangers accepted and genuine pairs refused at each pipeline's operating threshold", () => {
    // Same-person distances here are 0.1-0.2, different people ~1.41: accept at distance <= 0.15.
    const r = compareResults(
      'toy',
      'photo',
      photos(),
      { a: negDistance, b: negDistance },
      { a: -0.15, b: null },
    );
    expect(r.pipelines.a.at_threshold).toEqual({
      threshold: -0.15,
      false_accepts: 0,
      impostor_pairs: 27,
      // per person: 0.1 (accepted), 0.2 (refused), 0.1 (accepted) → 1 of 3 refused
      frr: 1 / 3,
    });
    expect(r.pipelines.b.at_threshold).toBeNull();
    const lax = compareResults(
      'toy',
      'photo',
      photos(),
      { a: negDistance, b: negDistance },
      { a: -2, b: -2 },
    );
    expect(lax.pipelines.a.at_threshold?.false_accepts).toBe(27);
  });

  it('gives null figures where a subset cannot (no genuine pair, nobody to identify)', () => {
    const one = photos().filter((p) => p.file.endsWith('/0.png'));
    const r = compareResults('toy', 'photo', one, { a: negDistance, b: negDistance });
    expect(r.pipelines.a.genuine_pairs).toBe(0);
    expect(r.pipelines.a.eer).toBeNull();
    expect(r.pipelines.a.rank1).toBeNull();
    expect(comparisonTable(r)).toContain('–');
  });

  it('scores several templates per person by best, mean and both', () => {
    // Person 0's templates: one close to the probe, one far; person 1's: both middling.
    const v = (x: number, y: number) => Float32Array.of(x, y);
    const labels = [0, 0, 0, 1, 1, 1];
    const e = [v(0, 0), v(10, 0), v(0.5, 0), v(1.5, 0), v(1.6, 0), v(9, 9)];
    const r = rank1WithTemplates(labels, e, negDistance, 2);
    // probe 2 (person 0): best → person 0 (distance 0.5 vs 1.0); mean → person 1 (5 vs 1.05);
    // both → person 1 (2.75 vs 1.025). Probe 5 (person 1) is nearer person 0's (10,0): wrong for all.
    expect(r?.probes).toBe(2);
    expect(r?.enrolled).toBe(2);
    expect(r?.best).toBe(0.5);
    expect(r?.mean).toBe(0);
    expect(r?.both).toBe(0);
  });

  it('refuses photos without a result for a pipeline', () => {
    const broken = photos();
    broken[0] = { ...broken[0], results: { a: broken[0].results.a } };
    expect(() => compareResults('toy', 'photo', broken, { a: negDistance, b: negDistance })).toThrow(
      /no result for pipeline b/,
    );
  });

  it('renders the README table, one row per set and pipeline', () => {
    const renamed = photos().map((p) => ({ ...p, results: { facegate: p.results.a, faceapi: p.results.b } }));
    const r = compareResults('toy', 'photo', renamed, { facegate: negDistance, faceapi: negDistance });
    const md = comparisonMarkdown([{ title: 'toy set', report: r }]);
    expect(md.split('\n').filter((l) => l.startsWith('| toy set'))).toHaveLength(2);
    expect(md).toContain('| toy set | face-api.js (gray) | 7/9 |');
    expect(md).toContain('| toy set | facegate | 9/9 | 0.00 % | 100.0 % | 100.0 % |');
  });
});
