import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/util/random.js';

describe('mulberry32', () => {
  it('keeps the sequence the seeded models, scenes and fuzz cases were generated with', () => {
    // Reference values from the mulberry32 copies this module replaced: if they change,
    // every seeded training run, replay scene and fuzz case changes with them.
    const first3 = (seed: number) => {
      const next = mulberry32(seed);
      return [next(), next(), next()];
    };
    expect(first3(1)).toEqual([0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
    expect(first3(20261127)).toEqual([0.5312688171397895, 0.17145229317247868, 0.6793673252686858]);
  });

  it('stays in [0, 1) and differs between seeds', () => {
    const a = mulberry32(7);
    const b = mulberry32(8);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(xs[0]).not.toBe(b());
  });
});
