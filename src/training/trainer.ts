import * as tf from '@tensorflow/tfjs';
import type { GrayImage } from '../vision/image.js';
import { augmentFace, type AugmentOptions } from './augment.js';
import { embedFaces, euclidean } from '../model/embed.js';
import type { SimilarityHead } from '../model/embedder.js';
import {
  buildSister,
  DEFAULT_SISTER,
  forwardTraining,
  l2Normalize,
  pairDistance,
  type SisterConfig,
} from '../model/network.js';
import { equalErrorRate } from './metrics.js';
import { facesToTensor } from '../model/normalize.js';
import { hardNegativePicker, makeWriteupPairs, type Pair } from './pairs.js';
import { createRng, shuffled, type Rng } from '../model/rng.js';

export interface HardNegativeOptions {
  /** First epoch (1-based) that mines hard negatives; before it negatives are uniform. */
  readonly fromEpoch: number;
  /** Fraction of negatives mined (the rest stay uniform, to keep easy examples too). */
  readonly fraction: number;
  /** Random candidates per anchor; the closest one becomes the negative. */
  readonly candidates: number;
}

export interface TrainOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly learningRate: number;
  readonly sister: SisterConfig;
  /** null = train on the faces as they are (the write-up). */
  readonly augment: AugmentOptions | null;
  /**
   * 'writeup': batches of the write-up's pairs (each face one positive, one negative).
   * 'batch-all': batches of P people x K faces, loss over every pair inside the batch
   * (positives and negatives weighted equally): ~30x more pairs per embedded face.
   */
  readonly pairMode: 'writeup' | 'batch-all';
  /** batch-all: faces per person in a batch (batchSize / facesPerPerson people). */
  readonly facesPerPerson: number;
  /** New random partners every epoch (true) or the write-up's one fixed set of pairs. */
  readonly freshPairs: boolean;
  readonly hardNegatives: HardNegativeOptions | null;
  readonly onBatch?: (batch: number, batches: number) => void;
  readonly onEpoch?: (stats: EpochStats) => void;
  /** Asked after each epoch; true ends training early (e.g. a wall-clock budget). */
  readonly shouldStop?: (stats: EpochStats) => boolean;
}

export const DEFAULT_TRAIN: Omit<TrainOptions, 'augment' | 'hardNegatives'> = {
  epochs: 100,
  batchSize: 64,
  seed: 1,
  learningRate: 1e-3,
  sister: DEFAULT_SISTER,
  pairMode: 'writeup',
  facesPerPerson: 4,
  freshPairs: true,
};

export interface EpochStats {
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  /** On the validation people's fixed pairs (null without validation people). */
  readonly valLoss: number | null;
  readonly valAccuracy: number | null;
  /** Equal error rate over all pairs of the validation people (null without them). */
  readonly valEer: number | null;
  readonly seconds: number;
}

/** One optimisation step: faces to embed and how their embeddings become pair distances. */
interface Step {
  readonly faces: number[];
  readonly targets: tf.Tensor1D;
  readonly weights: tf.Tensor1D | null;
  readonly distances: (embeddings: tf.Tensor) => tf.Tensor;
}

export interface TrainResult {
  readonly sister: tf.Sequential;
  readonly head: SimilarityHead;
  readonly history: EpochStats[];
  /** The epoch whose weights are returned (lowest validation EER; the last without validation). */
  readonly bestEpoch: number;
}

export interface TrainingFaces {
  readonly images: readonly GrayImage[];
  readonly labels: readonly number[];
}

/**
 * Trains the Siamese network: both faces of a pair go through the one sister network
 * (shared weights, one batch of 2B), the Euclidean distance d of their embeddings goes
 * through the head sigmoid(w*d + b) (the write-up's Dense(1, sigmoid) on the distance),
 * loss = binary cross-entropy, Adam. The caller owns and disposes the returned sister.
 */
export async function trainSiamese(
  train: TrainingFaces,
  val: TrainingFaces | null,
  options: TrainOptions,
): Promise<TrainResult> {
  validate(train, options);
  const rng = createRng(options.seed);
  const size = options.sister.inputSize;
  const unit = options.sister.embeddingNorm === 'l2';
  const sister = buildSister(options.sister, rng);
  const optimizer = tf.train.adam(options.learningRate);
  // Head initialised so that a typical initial distance scores 0.5.
  const initialD = await meanRandomDistance(sister, train, size, rng, unit);
  const w = tf.variable(tf.scalar(-2 / initialD), true, 'head_w');
  const b = tf.variable(tf.scalar(2), true, 'head_b');
  const vars = [...sister.trainableWeights.map((v) => v.read() as tf.Variable), w, b];
  const valPairs = val ? makeWriteupPairs(val.labels, createRng(options.seed + 1)) : null;
  let fixedPairs: Pair[] | null = null;
  const history: EpochStats[] = [];
  // The weights of the epoch with the lowest validation EER (model selection on people
  // not trained on; also a guard against a late divergence).
  let best: { eer: number; epoch: number; weights: tf.Tensor[]; head: SimilarityHead } | null = null;

  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const started = Date.now();
      let lossSum = 0;
      let correctSum = 0;
      let weightSum = 0;
      const pick = (i: number): GrayImage =>
        options.augment ? augmentFace(train.images[i], rng, options.augment) : train.images[i];
      const steps =
        options.pairMode === 'writeup'
          ? writeupSteps(shuffled(await epochPairs(epoch), rng))
          : batchAllSteps();
      for (let bi = 0; bi < steps.length; bi++) {
        const step = steps[bi];
        const x = facesToTensor(step.faces.map(pick), size);
        const stepSeed = rng.seed();
        let logitsKept: tf.Tensor | null = null;
        const loss = optimizer.minimize(
          () => {
            const raw = forwardTraining(sister, x, stepSeed);
            const emb = unit ? l2Normalize(raw) : raw;
            const logits = tf.add(tf.mul(w, step.distances(emb)), b);
            logitsKept = tf.keep(logits.clone());
            return tf.losses.sigmoidCrossEntropy(
              step.targets,
              logits,
              step.weights ?? undefined,
              undefined,
              tf.Reduction.SUM_BY_NONZERO_WEIGHTS,
            ) as tf.Scalar;
          },
          true,
          vars,
        ) as tf.Scalar;
        const [lossValue] = await loss.data();
        const logits = (await (logitsKept as unknown as tf.Tensor).data()) as Float32Array;
        const targets = (await step.targets.data()) as Float32Array;
        const weights = step.weights ? ((await step.weights.data()) as Float32Array) : null;
        let wsum = 0;
        for (let i = 0; i < logits.length; i++) {
          const wi = weights ? weights[i] : 1;
          wsum += wi;
          if ((logits[i] >= 0 ? 1 : 0) === targets[i]) correctSum += wi;
        }
        lossSum += lossValue * wsum;
        weightSum += wsum;
        tf.dispose([
          x,
          loss,
          logitsKept as unknown as tf.Tensor,
          step.targets,
          ...(step.weights ? [step.weights] : []),
        ]);
        options.onBatch?.(bi + 1, steps.length);
      }
      const head = await readHead(w, b);
      const valStats = val && valPairs ? await pairStats(sister, val, valPairs, head, size, unit) : null;
      const stats: EpochStats = {
        epoch,
        loss: lossSum / weightSum,
        accuracy: correctSum / weightSum,
        valLoss: valStats?.loss ?? null,
        valAccuracy: valStats?.accuracy ?? null,
        valEer: valStats?.eer ?? null,
        seconds: (Date.now() - started) / 1000,
      };
      history.push(stats);
      if (
        stats.valEer !== null &&
        Number.isFinite(stats.valEer) &&
        (best === null || stats.valEer <= best.eer)
      ) {
        if (best) tf.dispose(best.weights);
        best = { eer: stats.valEer, epoch, weights: sister.getWeights().map((t) => t.clone()), head };
      }
      options.onEpoch?.(stats);
      if (options.shouldStop?.(stats)) break;
    }
    if (best) {
      sister.setWeights(best.weights);
      return { sister, head: best.head, history, bestEpoch: best.epoch };
    }
    return { sister, head: await readHead(w, b), history, bestEpoch: history.length };
  } catch (err) {
    sister.dispose();
    throw err;
  } finally {
    if (best) tf.dispose(best.weights);
    tf.dispose([w, b]);
    optimizer.dispose();
  }

  /** Write-up mode: both faces of each pair in one batch of 2B, distance row by row. */
  function writeupSteps(pairs: Pair[]): Step[] {
    const steps: Step[] = [];
    for (let i = 0; i < pairs.length; i += options.batchSize) {
      const batch = pairs.slice(i, i + options.batchSize);
      steps.push({
        faces: [...batch.map((p) => p.a), ...batch.map((p) => p.b)],
        targets: tf.tensor1d(batch.map((p) => p.same)),
        weights: null,
        distances: (emb) => {
          const [ea, eb] = tf.split(emb, 2, 0);
          return pairDistance(ea, eb);
        },
      });
    }
    return steps;
  }

  /** Batch-all mode: P people x K faces per batch; every pair inside the batch counts. */
  function batchAllSteps(): Step[] {
    const byPerson = new Map<number, number[]>();
    train.labels.forEach((l, i) => byPerson.set(l, [...(byPerson.get(l) ?? []), i]));
    const k = Math.max(2, options.facesPerPerson);
    const peoplePerBatch = Math.max(2, Math.floor(options.batchSize / k));
    const nSteps = Math.max(1, Math.round(train.images.length / (peoplePerBatch * k)));
    const people = [...byPerson.keys()];
    const steps: Step[] = [];
    for (let s = 0; s < nSteps; s++) {
      const chosen = shuffled(people, rng).slice(0, peoplePerBatch);
      const faces = chosen.flatMap((p) => shuffled(byPerson.get(p) as number[], rng).slice(0, k));
      const n = faces.length;
      const targets: number[] = [];
      const rawWeights: number[] = [];
      let pos = 0;
      let neg = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const upper = j > i;
          const same = train.labels[faces[i]] === train.labels[faces[j]] ? 1 : 0;
          targets.push(same);
          rawWeights.push(upper ? 1 : 0);
          if (upper) {
            if (same) pos++;
            else neg++;
          }
        }
      }
      // Positives and negatives each carry half the loss (negatives outnumber ~15:1).
      const weights = rawWeights.map(
        (wgt, idx) => (wgt === 0 ? 0 : targets[idx] ? 0.5 / pos : 0.5 / neg) * (pos + neg),
      );
      steps.push({
        faces,
        targets: tf.tensor1d(targets),
        weights: tf.tensor1d(weights),
        distances: (emb) => {
          const sq = tf.sum(tf.square(emb), 1, true);
          const d2 = tf.sub(tf.add(sq, tf.transpose(sq)), tf.mul(2, tf.matMul(emb, emb, false, true)));
          return tf.reshape(tf.sqrt(tf.add(tf.relu(d2), 1e-9)), [-1]);
        },
      });
    }
    return steps;
  }

  async function epochPairs(epoch: number): Promise<Pair[]> {
    if (!options.freshPairs) {
      fixedPairs ??= makeWriteupPairs(train.labels, rng);
      return fixedPairs;
    }
    const hn = options.hardNegatives;
    if (!hn || epoch < hn.fromEpoch) return makeWriteupPairs(train.labels, rng);
    const emb = await embedFaces(sister, train.images, size, 32, unit);
    const hard = hardNegativePicker(train.labels, (i, j) => euclidean(emb[i], emb[j]), rng, hn.candidates);
    return makeWriteupPairs(train.labels, rng, (i) => (rng.next() < hn.fraction ? hard(i) : -1));
  }
}

function validate(train: TrainingFaces, o: TrainOptions): void {
  if (train.images.length !== train.labels.length) throw new Error('images and labels differ in length');
  if (new Set(train.labels).size < 2) throw new Error('training needs at least two people');
  if (!Number.isInteger(o.epochs) || o.epochs < 1)
    throw new RangeError(`epochs must be a positive integer, got ${o.epochs}`);
  if (!Number.isInteger(o.batchSize) || o.batchSize < 2)
    throw new RangeError(`batch size must be an integer >= 2, got ${o.batchSize}`);
  if (!(o.learningRate > 0)) throw new RangeError(`learning rate must be positive, got ${o.learningRate}`);
}

async function readHead(w: tf.Variable, b: tf.Variable): Promise<SimilarityHead> {
  const [weight] = await w.data();
  const [bias] = await b.data();
  return { weight, bias };
}

async function meanRandomDistance(
  sister: tf.LayersModel,
  train: TrainingFaces,
  size: number,
  rng: Rng,
  unit: boolean,
): Promise<number> {
  const n = Math.min(64, train.images.length);
  const idx = Array.from({ length: n }, () => rng.int(train.images.length));
  const emb = await embedFaces(
    sister,
    idx.map((i) => train.images[i]),
    size,
    32,
    unit,
  );
  let sum = 0;
  for (let i = 0; i < n; i++) sum += euclidean(emb[i], emb[(i + 1) % n]);
  return Math.max(1e-3, sum / n);
}

/** Loss and accuracy of the head on fixed pairs, inference mode (no dropout). */
export async function pairStats(
  sister: tf.LayersModel,
  faces: TrainingFaces,
  pairs: readonly Pair[],
  head: SimilarityHead,
  size: number,
  unit = false,
): Promise<{ loss: number; accuracy: number; eer: number }> {
  const emb = await embedFaces(sister, faces.images, size, 32, unit);
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let i = 0; i < emb.length; i++) {
    for (let j = i + 1; j < emb.length; j++) {
      (faces.labels[i] === faces.labels[j] ? genuine : impostor).push(-euclidean(emb[i], emb[j]));
    }
  }
  let loss = 0;
  let correct = 0;
  for (const p of pairs) {
    const z = head.weight * euclidean(emb[p.a], emb[p.b]) + head.bias;
    // Numerically stable BCE with logits.
    loss += Math.max(z, 0) - z * p.same + Math.log1p(Math.exp(-Math.abs(z)));
    if ((z >= 0 ? 1 : 0) === p.same) correct++;
  }
  const eer = genuine.length > 0 && impostor.length > 0 ? equalErrorRate(genuine, impostor).eer : NaN;
  return { loss: loss / pairs.length, accuracy: correct / pairs.length, eer };
}
