import { euclidean } from '../model/embed.js';
import { similarityFromDistance, type SimilarityHead } from '../model/embedder.js';
import {
  accuracyAt,
  auc,
  equalErrorRate,
  rank1,
  rocCurve,
  tarAtFar,
  thresholdForFar,
  type RocPoint,
} from './metrics.js';
import { allPairs } from './pairs.js';

/** The evaluation report `npm run evaluate -- --json` prints (the README's numbers). */
export interface EvaluationReport {
  people: number;
  pairs: number;
  auc: number;
  eer: number;
  tar_at_far: { '0.01': number; '0.001': number };
  'accuracy_at_0.5': number;
  rank1: number;
}

export interface ScoredPairs {
  readonly genuine: number[];
  readonly impostor: number[];
}

/** Similarity of every pair of faces, split into genuine and impostor. */
export function scoreAllPairs(
  labels: readonly number[],
  embeddings: readonly Float32Array[],
  head: SimilarityHead,
): ScoredPairs {
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (const p of allPairs(labels)) {
    const s = similarityFromDistance(head, euclidean(embeddings[p.a], embeddings[p.b]));
    (p.same ? genuine : impostor).push(s);
  }
  return { genuine, impostor };
}

/**
 * Rank-1 with one enrolled face per person (the first of each person, in dataset order)
 * and every other face as a probe; nearest embedding wins.
 */
export function rank1FirstEnrolled(labels: readonly number[], embeddings: readonly Float32Array[]): number {
  const seen = new Set<number>();
  const gallery: number[] = [];
  const probes: number[] = [];
  labels.forEach((l, i) => {
    if (seen.has(l)) probes.push(i);
    else {
      seen.add(l);
      gallery.push(i);
    }
  });
  return rank1(
    gallery.map((i) => labels[i]),
    probes.map((i) => labels[i]),
    (p, g) => -euclidean(embeddings[probes[p]], embeddings[gallery[g]]),
  );
}

export function evaluationReport(
  labels: readonly number[],
  embeddings: readonly Float32Array[],
  head: SimilarityHead,
): {
  report: EvaluationReport;
  roc: RocPoint[];
  scores: ScoredPairs;
} {
  const scores = scoreAllPairs(labels, embeddings, head);
  const { genuine, impostor } = scores;
  return {
    report: {
      people: new Set(labels).size,
      pairs: genuine.length + impostor.length,
      auc: auc(genuine, impostor),
      eer: equalErrorRate(genuine, impostor).eer,
      tar_at_far: { '0.01': tarAtFar(genuine, impostor, 0.01), '0.001': tarAtFar(genuine, impostor, 0.001) },
      'accuracy_at_0.5': accuracyAt(genuine, impostor, 0.5),
      rank1: rank1FirstEnrolled(labels, embeddings),
    },
    roc: rocCurve(genuine, impostor),
    scores,
  };
}

/**
 * Decision thresholds in similarity units, from pairs of people not trained on:
 * `accept` keeps the false-accept rate at or below `maxFar` (a stranger at the door),
 * `unknown` is the equal-error point: below it a face is reported as unknown.
 */
export function recommendThresholds(
  scores: ScoredPairs,
  maxFar = 0.001,
): { accept: number; unknown: number; maxFar: number; eer: number } {
  const { eer, threshold } = equalErrorRate(scores.genuine, scores.impostor);
  const accept = thresholdForFar(scores.genuine, scores.impostor, maxFar);
  return { accept: Math.max(accept, threshold), unknown: Math.min(accept, threshold), maxFar, eer };
}
