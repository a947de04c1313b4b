import { describe, expect, it } from 'vitest';
import { allPairs, hardNegativePicker, makeWriteupPairs } from '../../src/training/pairs.js';
import { createRng, shuffled } from '../../src/model/rng.js';

const labels = Array.from({ length: 400 }, (_, i) => Math.floor(i / 10)); // 40 people x 10

describe('write-up pairs', () => {
  it('gives every image one positive and one negative partner: 800 pairs from 400 images', () => {
    const pairs = makeWriteupPairs(labels, createRng(1));
    expect(pairs.length).toBe(800);
    const pos = pairs.filter((p) => p.same === 1);
    const neg = pairs.filter((p) => p.same === 0);
    expect(pos.length).toBe(400);
    expect(neg.length).toBe(400);
    for (const p of pos) {
      expect(labels[p.a]).toBe(labels[p.b]);
      expect(p.a).not.toBe(p.b);
    }
    for (const p of neg) expect(labels[p.a]).not.toBe(labels[p.b]);
    expect(new Set(pos.map((p) => p.a)).size).toBe(400);
    expect(new Set(neg.map((p) => p.a)).size).toBe(400);
  });

  it('is reproducible with a seed and differs between seeds (fresh pairs per epoch)', () => {
    expect(makeWriteupPairs(labels, createRng(7))).toEqual(makeWriteupPairs(labels, createRng(7)));
    expect(makeWriteupPairs(labels, createRng(7))).not.toEqual(makeWriteupPairs(labels, createRng(8)));
  });

  it('skips the positive of a person with a single image and refuses one-person sets', () => {
    const pairs = makeWriteupPairs([0, 0, 1], createRng(1));
    expect(pairs.filter((p) => p.same === 1).length).toBe(2);
    expect(pairs.filter((p) => p.same === 0).length).toBe(3);
    expect(() => makeWriteupPairs([0, 0, 0], createRng(1))).toThrow(/two people/);
  });

  it('hard negatives pick the closest of the candidates, never the same person', () => {
    // 1-D "embeddings": position = label*10 + noise; closest other person is a neighbour label.
    const pos = labels.map((l, i) => l * 10 + (i % 10) * 0.1);
    const pick = hardNegativePicker(labels, (i, j) => Math.abs(pos[i] - pos[j]), createRng(2), 400);
    const rng = createRng(3);
    const mined = makeWriteupPairs(labels, rng, pick).filter((p) => p.same === 0);
    const meanGap = mined.reduce((s, p) => s + Math.abs(labels[p.a] - labels[p.b]), 0) / mined.length;
    const random = makeWriteupPairs(labels, createRng(3)).filter((p) => p.same === 0);
    const randomGap = random.reduce((s, p) => s + Math.abs(labels[p.a] - labels[p.b]), 0) / random.length;
    expect(meanGap).toBeLessThan(1.5);
    expect(randomGap).toBeGreaterThan(5);
    for (const p of mined) expect(labels[p.a]).not.toBe(labels[p.b]);
  });

  it('allPairs enumerates every unordered pair once', () => {
    const small = [0, 0, 1, 1, 1];
    const pairs = allPairs(small);
    expect(pairs.length).toBe(10);
    expect(pairs.filter((p) => p.same).length).toBe(1 + 3);
  });

  it('shuffled is a seeded permutation', () => {
    const a = shuffled([1, 2, 3, 4, 5, 6, 7, 8], createRng(4));
    expect([...a].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(shuffled([1, 2, 3, 4, 5, 6, 7, 8], createRng(4))).toEqual(a);
  });
});
