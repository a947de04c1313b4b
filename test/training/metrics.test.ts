import { describe, expect, it } from 'vitest';
import {
  accuracyAt,
  auc,
  equalErrorRate,
  rank1,
  rocCurve,
  tarAtFar,
  thresholdForFar,
} from '../../src/training/metrics.js';

describe('verification metrics', () => {
  it('perfect separation: AUC 1, EER 0, TAR 1 at any FAR', () => {
    const g = [0.9, 0.8, 0.95];
    const i = [0.1, 0.2, 0.3, 0.4];
    expect(auc(g, i)).toBe(1);
    expect(equalErrorRate(g, i).eer).toBe(0);
    expect(tarAtFar(g, i, 0)).toBe(1);
    expect(accuracyAt(g, i, 0.5)).toBe(1);
    const t = thresholdForFar(g, i, 0);
    expect(t).toBeGreaterThan(0.4);
    expect(t).toBeLessThanOrEqual(0.8);
  });

  it('reversed scores: AUC 0, EER 1', () => {
    expect(auc([0.1, 0.2], [0.8, 0.9])).toBe(0);
    expect(equalErrorRate([0.1, 0.2], [0.8, 0.9]).eer).toBeCloseTo(1, 6);
  });

  it('hand-computed overlapping case', () => {
    // genuine 0.9 0.7 0.4, impostor 0.8 0.3 0.2 0.1
    const g = [0.9, 0.7, 0.4];
    const i = [0.8, 0.3, 0.2, 0.1];
    // P(g > i): 0.9 beats 4, 0.7 beats 3, 0.4 beats 3 → 10/12
    expect(auc(g, i)).toBeCloseTo(10 / 12, 10);
    // ROC: (0,1/3) (1/4,1/3) (1/4,2/3) (1/4,1) ...
    const roc = rocCurve(g, i);
    expect(roc[1]).toEqual({ threshold: 0.9, far: 0, tar: 1 / 3 });
    expect(tarAtFar(g, i, 0)).toBeCloseTo(1 / 3, 10);
    expect(tarAtFar(g, i, 0.25)).toBe(1);
    // At threshold 0.7: FAR 1/4, FRR 1/3; at 0.4: FAR 1/4, FRR 0 → crossing at 1/4
    expect(equalErrorRate(g, i).eer).toBeCloseTo(0.25, 10);
    expect(accuracyAt(g, i, 0.5)).toBeCloseTo(5 / 7, 10);
    expect(thresholdForFar(g, i, 0)).toBe(0.9);
  });

  it('ties count half in the AUC', () => {
    expect(auc([0.5], [0.5])).toBeCloseTo(0.5, 10);
  });

  it('rejects empty or non-finite scores', () => {
    expect(() => auc([], [0.1])).toThrow();
    expect(() => auc([NaN], [0.1])).toThrow(/finite/);
  });

  it('rank-1 picks the most similar gallery entry', () => {
    const gallery = [0, 1, 2];
    const probes = [0, 1, 2, 2];
    const scores = [
      [0.9, 0.1, 0.2],
      [0.2, 0.8, 0.1],
      [0.1, 0.3, 0.7],
      [0.1, 0.6, 0.5], // wrong: closest is person 1
    ];
    expect(rank1(gallery, probes, (p, g) => scores[p][g])).toBe(0.75);
  });
});
