import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/log.js';
import { DEFAULT_AUGMENT } from './augment.js';
import type { BackendName } from '../model/backend.js';
import { loadFaceDataset, subsetByPeople, type FaceDataset } from './dataset.js';
import { embedFaces } from '../model/embed.js';
import { evaluationReport, recommendThresholds, type EvaluationReport } from './evaluation.js';
import { fileSaveHandler } from '../model/io.js';
import type { FacegateModelMetadata } from '../model/load.js';
import { DEFAULT_SISTER } from '../model/network.js';
import { NORMALIZATION } from '../model/normalize.js';
import { renderVegaLitePng, trainingPlotSpec } from './plots.js';
import { createRng, shuffled } from '../model/rng.js';
import { trainSiamese, type EpochStats, type TrainResult } from './trainer.js';

export interface TrainCommandOptions {
  readonly data: string;
  readonly out: string;
  readonly epochs: number;
  readonly seed: number;
  readonly batchSize: number;
  readonly holdOut: readonly string[];
  readonly valPeople: number;
  readonly filters: readonly [number, number, number];
  /** Unit-length embeddings (see SisterConfig.embeddingNorm). */
  readonly embeddingNorm?: 'none' | 'l2';
  readonly pooling?: 'flatten' | 'gap';
  readonly learningRate: number;
  readonly augment: boolean;
  readonly freshPairs: boolean;
  readonly pairMode: 'writeup' | 'batch-all';
  readonly facesPerPerson: number;
  readonly hardNegativeFraction: number;
  /** Wall-clock budget: training stops after the epoch that crosses it (null = none). */
  readonly maxMinutes?: number | null;
  readonly backend: BackendName;
  readonly gitCommit: string | null;
  readonly machine: string;
}

/** metrics.json next to the model. */
export interface TrainingMetrics {
  data: string;
  trainedPeople: string[];
  validationPeople: string[];
  heldOutPeople: string[];
  images: number;
  seed: number;
  gitCommit: string | null;
  backend: string;
  machine: string;
  startedAt: string;
  timeSeconds: number;
  secondsPerEpoch: number;
  /** Epochs actually run (fewer than options.epochs when the time budget ran out). */
  epochsRun: number;
  /** The saved weights are this epoch's: the lowest validation EER. */
  bestEpoch: number;
  options: Record<string, unknown>;
  history: EpochStats[];
  head: { weight: number; bias: number };
  /** In similarity units (the head's output): see recommendThresholds. Null without validation people. */
  thresholds: { accept: number; unknown: number; maxFar: number; eer: number } | null;
  validation: EvaluationReport | null;
}

export interface TrainCallbacks {
  onBatch?: (epoch: number, batch: number, batches: number) => void;
  onEpoch?: (stats: EpochStats) => void;
}

/** Split people into training and validation (validation by person, seeded). */
export function splitPeople(
  people: readonly string[],
  valPeople: number,
  seed: number,
): { train: string[]; val: string[] } {
  if (valPeople > 0 && people.length - valPeople < 2) {
    throw new Error(
      `${people.length} people cannot give ${valPeople} validation people and still train on two`,
    );
  }
  const order = shuffled(people, createRng(seed ^ 0x5eed));
  const val = order.slice(0, valPeople).sort();
  return { train: people.filter((p) => !val.includes(p)), val };
}

/** Loads data, trains, and writes model.json + weights.bin, metrics.json and training.png. */
export async function runTraining(
  o: TrainCommandOptions,
  logger: Logger,
  callbacks: TrainCallbacks = {},
): Promise<{ metrics: TrainingMetrics; result: TrainResult }> {
  const log = logger.child({ module: 'train' });
  const started = new Date();
  const dataset = await loadFaceDataset(o.data, { exclude: o.holdOut });
  const split = splitPeople(dataset.people, o.valPeople, o.seed);
  const trainSet = subsetByPeople(dataset, split.train);
  const valSet = split.val.length > 0 ? subsetByPeople(dataset, split.val) : null;
  log.info({ train: split.train.length, val: split.val.length, heldOut: o.holdOut.length }, 'training');
  const sister = {
    ...DEFAULT_SISTER,
    filters: o.filters,
    embeddingNorm: o.embeddingNorm ?? 'none',
    pooling: o.pooling ?? 'flatten',
  };
  let epoch = 0;
  const result = await trainSiamese(asTraining(trainSet), valSet ? asTraining(valSet) : null, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    learningRate: o.learningRate,
    sister,
    augment: o.augment ? DEFAULT_AUGMENT : null,
    freshPairs: o.freshPairs,
    pairMode: o.pairMode,
    facesPerPerson: o.facesPerPerson,
    hardNegatives:
      o.hardNegativeFraction > 0
        ? { fromEpoch: Math.max(2, Math.ceil(o.epochs / 4)), fraction: o.hardNegativeFraction, candidates: 8 }
        : null,
    onBatch: (b, n) => {
      if (b === 1) epoch++;
      callbacks.onBatch?.(epoch, b, n);
    },
    onEpoch: callbacks.onEpoch,
    shouldStop: () => o.maxMinutes != null && Date.now() - started.getTime() > o.maxMinutes * 60_000,
  });
  try {
    let validation: EvaluationReport | null = null;
    let thresholds: TrainingMetrics['thresholds'] = null;
    if (valSet) {
      const emb = await embedFaces(
        result.sister,
        valSet.faces.map((f) => f.image),
        sister.inputSize,
        32,
        sister.embeddingNorm === 'l2',
      );
      const evalResult = evaluationReport(
        valSet.faces.map((f) => f.label),
        emb,
        result.head,
      );
      validation = evalResult.report;
      thresholds = recommendThresholds(evalResult.scores);
    }
    const meta: FacegateModelMetadata = {
      name: 'siamese',
      head: result.head,
      inputSize: sister.inputSize,
      normalization: NORMALIZATION,
      embeddingNorm: sister.embeddingNorm ?? 'none',
    };
    await result.sister.save(fileSaveHandler(o.out, { facegate: meta }));
    const timeSeconds = (Date.now() - started.getTime()) / 1000;
    const metrics: TrainingMetrics = {
      data: o.data,
      trainedPeople: [...split.train],
      validationPeople: [...split.val],
      heldOutPeople: [...o.holdOut],
      images: trainSet.faces.length,
      seed: o.seed,
      gitCommit: o.gitCommit,
      backend: o.backend,
      machine: o.machine,
      startedAt: started.toISOString(),
      timeSeconds,
      secondsPerEpoch: result.history.reduce((s, h) => s + h.seconds, 0) / result.history.length,
      epochsRun: result.history.length,
      bestEpoch: result.bestEpoch,
      options: {
        epochs: o.epochs,
        batchSize: o.batchSize,
        learningRate: o.learningRate,
        sister,
        augment: o.augment ? DEFAULT_AUGMENT : null,
        freshPairs: o.freshPairs,
        pairMode: o.pairMode,
        facesPerPerson: o.facesPerPerson,
        hardNegativeFraction: o.hardNegativeFraction,
        maxMinutes: o.maxMinutes ?? null,
      },
      history: result.history,
      head: result.head,
      thresholds,
      validation,
    };
    await fs.writeFile(path.join(o.out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    await renderVegaLitePng(
      trainingPlotSpec(
        result.history,
        `Siamese training: ${split.train.length} people, validation ${split.val.length} unseen people`,
      ),
      path.join(o.out, 'training.png'),
    );
    return { metrics, result };
  } catch (err) {
    result.sister.dispose();
    throw err;
  }
}

function asTraining(d: FaceDataset): { images: import('../vision/image.js').GrayImage[]; labels: number[] } {
  return { images: d.faces.map((f) => f.image), labels: d.faces.map((f) => f.label) };
}
