/**
 * Verification and identification metrics. Pure functions of scores where HIGHER means
 * "more likely the same person" (similarities, or negated distances).
 */

export interface RocPoint {
  /** Accept when score >= threshold. */
  readonly threshold: number;
  readonly far: number;
  readonly tar: number;
}

function checkScores(genuine: readonly number[], impostor: readonly number[]): void {
  if (genuine.length === 0 || impostor.length === 0)
    throw new Error('metrics need at least one genuine and one impostor score');
  for (const s of [...genuine, ...impostor])
    if (!Number.isFinite(s)) throw new Error(`score ${s} is not finite`);
}

/** The ROC curve: one point per distinct score, from strictest (nothing accepted) to laxest. */
export function rocCurve(genuine: readonly number[], impostor: readonly number[]): RocPoint[] {
  checkScores(genuine, impostor);
  const all = [...genuine.map((s) => ({ s, g: 1 })), ...impostor.map((s) => ({ s, g: 0 }))].sort(
    (a, b) => b.s - a.s,
  );
  const points: RocPoint[] = [{ threshold: Infinity, far: 0, tar: 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < all.length;) {
    const t = all[i].s;
    while (i < all.length && all[i].s === t) {
      if (all[i].g) tp++;
      else fp++;
      i++;
    }
    points.push({ threshold: t, far: fp / impostor.length, tar: tp / genuine.length });
  }
  return points;
}

/** Area under the ROC: P(genuine score > impostor score), ties count half. */
export function auc(genuine: readonly number[], impostor: readonly number[]): number {
  const roc = rocCurve(genuine, impostor);
  let area = 0;
  for (let i = 1; i < roc.length; i++)
    area += ((roc[i].far - roc[i - 1].far) * (roc[i].tar + roc[i - 1].tar)) / 2;
  return area;
}

/** Equal error rate (FAR = FRR), interpolated between the two ROC points that cross. */
export function equalErrorRate(
  genuine: readonly number[],
  impostor: readonly number[],
): { eer: number; threshold: number } {
  const roc = rocCurve(genuine, impostor);
  for (let i = 1; i < roc.length; i++) {
    const frr = 1 - roc[i].tar;
    if (roc[i].far >= frr) {
      const prev = roc[i - 1];
      const prevFrr = 1 - prev.tar;
      // Along the segment FAR rises and FRR falls; find where they meet.
      const d0 = prevFrr - prev.far;
      const d1 = frr - roc[i].far;
      const t = d0 - d1 === 0 ? 0 : d0 / (d0 - d1);
      const eer = prev.far + t * (roc[i].far - prev.far);
      const threshold = Number.isFinite(prev.threshold)
        ? prev.threshold + t * (roc[i].threshold - prev.threshold)
        : roc[i].threshold;
      return { eer, threshold };
    }
  }
  return { eer: 0, threshold: roc[roc.length - 1].threshold };
}

/** The best TAR with FAR <= maxFar (0 when even the strictest threshold exceeds it). */
export function tarAtFar(genuine: readonly number[], impostor: readonly number[], maxFar: number): number {
  let best = 0;
  for (const p of rocCurve(genuine, impostor)) if (p.far <= maxFar && p.tar > best) best = p.tar;
  return best;
}

/**
 * The lowest threshold (among the observed scores) whose FAR is <= maxFar. When even the
 * highest score is an impostor's, a threshold just above every score (accept nothing).
 */
export function thresholdForFar(
  genuine: readonly number[],
  impostor: readonly number[],
  maxFar: number,
): number {
  let chosen = Infinity;
  for (const p of rocCurve(genuine, impostor)) if (p.far <= maxFar) chosen = p.threshold;
  return Number.isFinite(chosen) ? chosen : Math.max(...genuine, ...impostor) + 1e-6;
}

/** Fraction of pairs classified right when accepting score >= threshold. */
export function accuracyAt(
  genuine: readonly number[],
  impostor: readonly number[],
  threshold: number,
): number {
  checkScores(genuine, impostor);
  const ok = genuine.filter((s) => s >= threshold).length + impostor.filter((s) => s < threshold).length;
  return ok / (genuine.length + impostor.length);
}

/**
 * Rank-1 identification: each probe is assigned the label of the most similar gallery
 * entry; returns the fraction assigned correctly. `score(probe, gallery)` higher = closer.
 */
export function rank1(
  galleryLabels: readonly number[],
  probeLabels: readonly number[],
  score: (probe: number, gallery: number) => number,
): number {
  if (galleryLabels.length === 0 || probeLabels.length === 0)
    throw new Error('rank-1 needs gallery and probes');
  let correct = 0;
  for (let p = 0; p < probeLabels.length; p++) {
    let best = -Infinity;
    let bestLabel = -1;
    for (let g = 0; g < galleryLabels.length; g++) {
      const s = score(p, g);
      if (s > best) {
        best = s;
        bestLabel = galleryLabels[g];
      }
    }
    if (bestLabel === probeLabels[p]) correct++;
  }
  return correct / probeLabels.length;
}
