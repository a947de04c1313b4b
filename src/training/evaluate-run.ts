import path from 'node:path';
import { noProgress, type ProgressFactory } from '../util/progress.js';
import type { Logger } from '../util/log.js';
import type { GrayImage } from '../vision/image.js';
import { DEFAULT_AUGMENT } from './augment.js';
import { subsetByPeople, type FaceDataset } from './dataset.js';
import { embedFaces, euclidean } from '../model/embed.js';
import { similarityFromDistance, type Embedder } from '../model/embedder.js';
import { evaluationReport, type EvaluationReport, type ScoredPairs } from './evaluation.js';
import { accuracyAt, auc, equalErrorRate, rocCurve, tarAtFar } from './metrics.js';
import { DEFAULT_SISTER } from '../model/network.js';
import { renderFaceGrid, renderVegaLitePng, rocPlotSpec } from './plots.js';
import { createRng, shuffled } from '../model/rng.js';
import { DEFAULT_TRAIN, trainSiamese, type TrainOptions } from './trainer.js';

/** Embeddings of a dataset's faces plus the similarity head that scores them. */
export interface EmbeddedDataset {
  readonly dataset: FaceDataset;
  readonly embeddings: Float32Array[];
  readonly similarity: (a: Float32Array, b: Float32Array) => number;
}

/** Embeds every face of `dataset` with any Embedder (the trained model, or another backbone). */
export async function embedDataset(
  embedder: Embedder,
  dataset: FaceDataset,
  progress: ProgressFactory = noProgress,
  batchSize = 64,
): Promise<EmbeddedDataset> {
  // In batches: bounded memory, and progress a person can watch on a slow board.
  const embeddings: Float32Array[] = [];
  const bar = progress('embedding', 'faces');
  bar.start(dataset.faces.length);
  try {
    for (let i = 0; i < dataset.faces.length; i += batchSize) {
      const batch = dataset.faces.slice(i, i + batchSize).map((f) => f.image);
      embeddings.push(...(await embedder.embed(batch)));
      bar.update(embeddings.length);
    }
  } finally {
    bar.stop();
  }
  return {
    dataset,
    embeddings,
    similarity: (a, b) => similarityFromDistance(embedder.head, euclidean(a, b)),
  };
}

export interface EvaluationOutput {
  readonly report: EvaluationReport;
  /** Pooled scores (per fold with k-fold), for the ROC. */
  readonly scores: ScoredPairs;
  /** Embedded faces for the demonstration grid (k-fold: the last fold's test people). */
  readonly demo: EmbeddedDataset;
}

/** `--model`: that model on all people in the data. */
export function evaluateEmbedded(e: EmbeddedDataset, head: Embedder['head']): EvaluationOutput {
  const { report, scores } = evaluationReport(
    e.dataset.faces.map((f) => f.label),
    e.embeddings,
    head,
  );
  return { report, scores, demo: e };
}

export interface CrossValidationOptions {
  readonly folds: number;
  readonly seed: number;
  readonly train: Omit<TrainOptions, 'onBatch' | 'onEpoch'>;
  readonly onFold?: (fold: number, folds: number, report: EvaluationReport) => void;
  readonly onEpoch?: (fold: number, epoch: number) => void;
}

export const DEFAULT_CV_TRAIN: Omit<TrainOptions, 'onBatch' | 'onEpoch'> = {
  ...DEFAULT_TRAIN,
  // The committed model's recipe (docs/model.md), fewer epochs to keep k folds affordable.
  learningRate: 0.003,
  epochs: 30,
  sister: { ...DEFAULT_SISTER, filters: [16, 32, 64] },
  pairMode: 'batch-all',
  augment: DEFAULT_AUGMENT,
  hardNegatives: null,
};

/**
 * k-fold by person: people are split into k groups; each group is tested by a model
 * trained on all other people (as a new employee is never in training). Scores of all
 * folds are pooled (pairs only within a fold's test people); rank-1 pooled over probes.
 */
export async function crossValidate(
  dataset: FaceDataset,
  o: CrossValidationOptions,
  logger: Logger,
): Promise<EvaluationOutput> {
  if (!Number.isInteger(o.folds) || o.folds < 2)
    throw new RangeError(`folds must be an integer >= 2, got ${o.folds}`);
  if (dataset.people.length < o.folds * 2)
    throw new Error(`${dataset.people.length} people are too few for ${o.folds} folds`);
  const order = shuffled(dataset.people, createRng(o.seed));
  const genuine: number[] = [];
  const impostor: number[] = [];
  let rankHits = 0;
  let probes = 0;
  let demo: EmbeddedDataset | null = null;
  for (let k = 0; k < o.folds; k++) {
    const testPeople = order.filter((_, i) => i % o.folds === k);
    const trainSet = subsetByPeople(
      dataset,
      dataset.people.filter((p) => !testPeople.includes(p)),
    );
    const testSet = subsetByPeople(dataset, testPeople);
    const images = (d: FaceDataset): GrayImage[] => d.faces.map((f) => f.image);
    const result = await trainSiamese(
      { images: images(trainSet), labels: trainSet.faces.map((f) => f.label) },
      null,
      { ...o.train, seed: o.seed + k, onEpoch: (s) => o.onEpoch?.(k + 1, s.epoch) },
    );
    try {
      const emb = await embedFaces(
        result.sister,
        images(testSet),
        o.train.sister.inputSize,
        32,
        o.train.sister.embeddingNorm === 'l2',
      );
      const { report, scores } = evaluationReport(
        testSet.faces.map((f) => f.label),
        emb,
        result.head,
      );
      const head = result.head;
      demo = {
        dataset: testSet,
        embeddings: emb,
        similarity: (a, b) => similarityFromDistance(head, euclidean(a, b)),
      };
      genuine.push(...scores.genuine);
      impostor.push(...scores.impostor);
      const foldProbes = testSet.faces.length - testSet.people.length;
      rankHits += report.rank1 * foldProbes;
      probes += foldProbes;
      logger.info({ fold: k + 1, testPeople, report }, 'fold evaluated');
      o.onFold?.(k + 1, o.folds, report);
    } finally {
      result.sister.dispose();
    }
  }
  return {
    report: {
      people: dataset.people.length,
      pairs: genuine.length + impostor.length,
      auc: auc(genuine, impostor),
      eer: equalErrorRate(genuine, impostor).eer,
      tar_at_far: { '0.01': tarAtFar(genuine, impostor, 0.01), '0.001': tarAtFar(genuine, impostor, 0.001) },
      'accuracy_at_0.5': accuracyAt(genuine, impostor, 0.5),
      rank1: rankHits / probes,
    },
    scores: { genuine, impostor },
    demo: demo as EmbeddedDataset,
  };
}

/** ROC curve PNG of pooled scores. */
export async function writeRocPng(scores: ScoredPairs, title: string, file: string): Promise<void> {
  await renderVegaLitePng(rocPlotSpec(rocCurve(scores.genuine, scores.impostor), title), file);
}

/**
 * The write-up's demonstration: one probe face (the second face of the first person)
 * against the first face of every person, the similarity under each.
 */
export async function writeDemoGrid(e: EmbeddedDataset, file: string): Promise<void> {
  const faces = e.dataset.faces;
  const firstOf = new Map<number, number>();
  faces.forEach((f, i) => {
    if (!firstOf.has(f.label)) firstOf.set(f.label, i);
  });
  const probeIdx = faces.findIndex((f, i) => f.label === faces[0].label && i !== firstOf.get(f.label));
  const probe = probeIdx >= 0 ? probeIdx : 0;
  const cells = [...firstOf.entries()].map(([label, i]) => ({
    image: faces[i].image,
    caption: `${e.dataset.people[label]} ${e.similarity(e.embeddings[probe], e.embeddings[i]).toFixed(2)}`,
    highlight: label === faces[probe].label,
  }));
  await renderFaceGrid(
    {
      image: faces[probe].image,
      caption: `probe ${faces[probe].person}/${path.basename(faces[probe].file)}`,
    },
    cells,
    file,
  );
}
