import { describe, expect, it } from 'vitest';
import { leaveOneOutTemplates } from '../../src/training/templates.js';

// A head turning distance d into sigmoid(-10 d + 5): similarity 0.5 at distance 0.5.
const head = { weight: -10, bias: 5 };
const operating = { acceptThreshold: 0.7, minMargin: 0.05 };
const v = (x: number, y: number) => new Float32Array([x, y]);

/**
 * Two people, each photographed in two looks (e.g. with and without glasses) far apart;
 * person 1's looks lie near person 0's other look, so one template is often not enough.
 */
const labels = [0, 0, 0, 0, 1, 1, 1, 1];
const embeddings = [
  v(0, 0),
  v(0.05, 0),
  v(1, 1),
  v(1.05, 1),
  v(0.35, 0.35),
  v(0.4, 0.35),
  v(1.6, 1.6),
  v(1.65, 1.6),
];

describe('leaveOneOutTemplates', () => {
  it('scores a person by their closest template with rule best, and beats one template', () => {
    const best = leaveOneOutTemplates(labels, embeddings, head, 'best', operating);
    const single = leaveOneOutTemplates(labels, embeddings, head, 'single', operating);
    expect(best.probes).toBe(8);
    expect(best.rank1).toBe(1);
    expect(single.rank1).toBeLessThan(1);
    expect(best.eer).toBeLessThanOrEqual(single.eer);
    expect(best.atThreshold.genuineAccepted).toBe(8);
    expect(best.atThreshold.wrongPersonAccepted).toBe(0);
  });

  it('averages templates with rule mean: a two-look person then scores lower than their matching look', () => {
    const mean = leaveOneOutTemplates(labels, embeddings, head, 'mean', operating);
    expect(mean.atThreshold.genuineAccepted).toBeLessThan(8);
  });

  it('counts a stranger accepted when the probe is near an enrolled person and its own person is not enrolled', () => {
    const report = leaveOneOutTemplates(
      [0, 0, 1, 1],
      [v(0, 0), v(0.01, 0), v(0.02, 0), v(5, 5)],
      head,
      'best',
      operating,
    );
    expect(report.atThreshold.strangerAccepted).toBeGreaterThan(0);
  });

  it('skips probes whose person has no other photo and refuses mismatched input', () => {
    expect(
      leaveOneOutTemplates([0, 0, 1], [v(0, 0), v(0, 0.1), v(3, 3)], head, 'best', operating).probes,
    ).toBe(2);
    expect(() => leaveOneOutTemplates([0], [], head, 'best', operating)).toThrow(RangeError);
  });
});
