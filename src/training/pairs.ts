import type { Rng } from '../model/rng.js';

/** A training/evaluation pair of face indices; `same` = 1 for the same person. */
export interface Pair {
  readonly a: number;
  readonly b: number;
  readonly same: 0 | 1;
}

/**
 * The write-up's pairs: every face gets one positive partner (another face of the same
 * person) and one negative partner (a face of someone else): 2N pairs from N faces.
 * A person with a single face contributes only its negative pair.
 *
 * `negativeFor(i)` may pick the negative (hard-negative mining); by default it is uniform.
 */
export function makeWriteupPairs(
  labels: readonly number[],
  rng: Rng,
  negativeFor?: (i: number) => number,
): Pair[] {
  const byLabel = new Map<number, number[]>();
  labels.forEach((l, i) => byLabel.set(l, [...(byLabel.get(l) ?? []), i]));
  if (byLabel.size < 2) throw new Error('pairs need at least two people');
  const pairs: Pair[] = [];
  for (let i = 0; i < labels.length; i++) {
    const same = byLabel.get(labels[i]) as number[];
    if (same.length > 1) {
      let j = same[rng.int(same.length - 1)];
      if (j === i) j = same[same.length - 1];
      pairs.push({ a: i, b: j, same: 1 });
    }
    let k = negativeFor ? negativeFor(i) : -1;
    if (k < 0) {
      do k = rng.int(labels.length);
      while (labels[k] === labels[i]);
    }
    if (labels[k] === labels[i]) throw new Error(`negative partner ${k} of face ${i} is the same person`);
    pairs.push({ a: i, b: k, same: 0 });
  }
  return pairs;
}

/**
 * Hard-negative picker: among `candidates` random faces of other people, the one whose
 * embedding is closest to face i (the negative the network currently confuses most).
 */
export function hardNegativePicker(
  labels: readonly number[],
  distance: (i: number, j: number) => number,
  rng: Rng,
  candidates: number,
): (i: number) => number {
  return (i) => {
    let best = -1;
    let bestD = Infinity;
    for (let c = 0; c < candidates; c++) {
      let k: number;
      do k = rng.int(labels.length);
      while (labels[k] === labels[i]);
      const d = distance(i, k);
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    return best;
  };
}

/** Every unordered pair of faces (for evaluation): genuine and impostor. */
export function allPairs(labels: readonly number[]): Pair[] {
  const pairs: Pair[] = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++)
      pairs.push({ a: i, b: j, same: labels[i] === labels[j] ? 1 : 0 });
  }
  return pairs;
}
