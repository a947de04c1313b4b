import * as tf from '@tensorflow/tfjs';
import type { SimilarityHead } from '../embedder.js';
import { mulberry32 } from '../../util/random.js';

/**
 * The Siamese head on top of a frozen pretrained sister network, trained as the write-up
 * trains its twin: the Euclidean distance between the two embeddings, Dense(1, sigmoid),
 * binary cross-entropy on positive/negative pairs. Optionally a linear projection of the
 * backbone embedding (initialised to the identity, pulled back towards it by L2) is
 * trained with it. Training runs on cached backbone embeddings, so it takes seconds.
 */
export interface HeadTrainOptions {
  /** Train a dim x dim linear projection before the distance (else only weight and bias). */
  readonly projection: boolean;
  readonly epochs: number;
  readonly learningRate: number;
  /** L2 pull of the projection towards the identity (keeps what the backbone learned). */
  readonly identityDecay: number;
  /** Negative pairs per positive pair (fresh ones each epoch). */
  readonly negativesPerPositive: number;
  readonly seed: number;
}

export const DEFAULT_HEAD_TRAIN: HeadTrainOptions = {
  projection: false,
  epochs: 200,
  learningRate: 0.05,
  identityDecay: 1e-2,
  negativesPerPositive: 1,
  seed: 42,
};

export interface TrainedHead {
  readonly head: SimilarityHead;
  /** Row-major dim x dim matrix (embedding = backbone · P), or null for none. */
  readonly projection: Float32Array | null;
  /** Binary cross-entropy and accuracy at similarity 0.5 per epoch (on that epoch's pairs). */
  readonly history: { loss: number; accuracy: number }[];
  readonly positivePairs: number;
}

/** Every same-person pair (i < j). */
export function positivePairs(labels: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < labels.length; i++)
    for (let j = i + 1; j < labels.length; j++) if (labels[i] === labels[j]) out.push([i, j]);
  return out;
}

/** `count` random different-person pairs. */
export function negativePairs(
  labels: readonly number[],
  count: number,
  random: () => number,
): [number, number][] {
  if (new Set(labels).size < 2) throw new Error('negative pairs need at least two people');
  const out: [number, number][] = [];
  while (out.length < count) {
    const i = Math.floor(random() * labels.length);
    const j = Math.floor(random() * labels.length);
    if (labels[i] !== labels[j]) out.push([i, j]);
  }
  return out;
}

export async function trainSiameseHead(
  embeddings: readonly Float32Array[],
  labels: readonly number[],
  options: HeadTrainOptions = DEFAULT_HEAD_TRAIN,
): Promise<TrainedHead> {
  if (embeddings.length !== labels.length || embeddings.length < 4)
    throw new Error('need one label per embedding (at least 4)');
  const dim = embeddings[0].length;
  const positives = positivePairs(labels);
  if (positives.length === 0) throw new Error('no person has two faces: no positive pairs');
  const random = mulberry32(options.seed);
  const all = tf.tensor2d(concat(embeddings), [embeddings.length, dim]);
  // Start where a plain distance threshold would: similarity 0.5 at the mean of the
  // positive and negative mean distances, steep enough to separate them.
  const init = initialHead(embeddings, positives, negativePairs(labels, positives.length, random));
  // Variables survive tidy; their initial values do not (no leak).
  const weight = tf.tidy(() => tf.variable(tf.scalar(init.weight)));
  const bias = tf.tidy(() => tf.variable(tf.scalar(init.bias)));
  const projection = options.projection ? tf.tidy(() => tf.variable(tf.eye(dim))) : null;
  const eye = options.projection ? tf.eye(dim) : null;
  const optimizer = tf.train.adam(options.learningRate);
  const history: { loss: number; accuracy: number }[] = [];
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const negatives = negativePairs(
        labels,
        Math.round(positives.length * options.negativesPerPositive),
        random,
      );
      const pairs = [...positives, ...negatives];
      const a = tf.tensor1d(
        pairs.map((p) => p[0]),
        'int32',
      );
      const b = tf.tensor1d(
        pairs.map((p) => p[1]),
        'int32',
      );
      const y = tf.tensor1d(pairs.map((_, k) => (k < positives.length ? 1 : 0)));
      // Balance the classes whatever negativesPerPositive is: the 0.5 point stays the
      // distance where same and different are equally likely.
      const w = tf.tensor1d(
        pairs.map((_, k) => (k < positives.length ? 1 : 1 / options.negativesPerPositive)),
      );
      let lossValue = 0;
      let logitsOut: tf.Tensor1D | undefined;
      try {
        const cost = optimizer.minimize(() => {
          const ea = tf.gather(all, a);
          const eb = tf.gather(all, b);
          const pa = projection ? tf.matMul(ea, projection) : ea;
          const pb = projection ? tf.matMul(eb, projection) : eb;
          const distance = tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(pa, pb)), 1), 1e-12));
          const logits = tf.add(tf.mul(distance, weight), bias) as tf.Tensor1D;
          logitsOut = tf.keep(logits);
          let loss = tf.losses.sigmoidCrossEntropy(y, logits, w) as tf.Scalar;
          if (projection && eye)
            loss = tf.add(loss, tf.mul(options.identityDecay, tf.sum(tf.square(tf.sub(projection, eye)))));
          return loss;
        }, true);
        lossValue = cost ? (await cost.data())[0] : NaN;
        cost?.dispose();
        const logits = await (logitsOut as tf.Tensor1D).data();
        let correct = 0;
        for (let k = 0; k < pairs.length; k++) if (logits[k] >= 0 === k < positives.length) correct++;
        history.push({ loss: lossValue, accuracy: correct / pairs.length });
      } finally {
        logitsOut?.dispose();
        a.dispose();
        b.dispose();
        y.dispose();
        w.dispose();
      }
    }
    const head = { weight: (await weight.data())[0], bias: (await bias.data())[0] };
    if (!(head.weight < 0)) throw new Error(`head training diverged: weight ${head.weight} is not negative`);
    const p = projection ? ((await projection.data()) as Float32Array).slice() : null;
    return { head, projection: p, history, positivePairs: positives.length };
  } finally {
    all.dispose();
    weight.dispose();
    bias.dispose();
    projection?.dispose();
    eye?.dispose();
    optimizer.dispose();
  }
}

function initialHead(
  embeddings: readonly Float32Array[],
  positives: readonly [number, number][],
  negatives: readonly [number, number][],
): SimilarityHead {
  const mean = (pairs: readonly [number, number][]) =>
    pairs.reduce((s, [i, j]) => s + euclidean(embeddings[i], embeddings[j]), 0) / pairs.length;
  const dPos = mean(positives);
  const dNeg = mean(negatives);
  const gap = Math.max(1e-3, dNeg - dPos);
  const weight = -8 / gap;
  return { weight, bias: (-weight * (dPos + dNeg)) / 2 };
}

export function euclidean(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Applies a row-major dim x dim projection to one embedding (x · P). */
export function project(x: Float32Array, p: Float32Array): Float32Array {
  const dim = x.length;
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * dim;
    for (let j = 0; j < dim; j++) out[j] += xi * p[row + j];
  }
  return out;
}

function concat(rows: readonly Float32Array[]): Float32Array {
  const dim = rows[0].length;
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    if (r.length !== dim) throw new Error('embeddings differ in size');
    out.set(r, i * dim);
  });
  return out;
}
