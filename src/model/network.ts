import * as tf from '@tensorflow/tfjs';
import type { Rng } from './rng.js';

/** Shape of the sister network (the write-up's: three Conv-Pool-Dropout blocks, Dense 128). */
export interface SisterConfig {
  readonly inputSize: number;
  readonly filters: readonly [number, number, number];
  readonly kernelSize: number;
  readonly dropout: number;
  readonly embeddingSize: number;
  /**
   * 'l2': embeddings are scaled to unit length (outside the layers, by l2Normalize, so
   * model.json stays standard layers); distances then lie in [0, 2] for every person.
   */
  readonly embeddingNorm?: 'none' | 'l2';
  /** 'flatten' (the write-up) or 'gap': global average pooling before the Dense embedding. */
  readonly pooling?: 'flatten' | 'gap';
}

export const DEFAULT_SISTER: SisterConfig = {
  inputSize: 64,
  filters: [32, 64, 64],
  kernelSize: 3,
  dropout: 0.2,
  embeddingSize: 128,
};

/**
 * The sister network: 64x64x1 → 3 x (Conv2D relu → MaxPool 2 → Dropout) → Flatten →
 * Dense(128) = the embedding. Only standard layers, so the saved model.json loads in any
 * TF.js. Seeded initialisers make a run reproducible.
 */
export function buildSister(config: SisterConfig, rng: Rng): tf.Sequential {
  const model = tf.sequential({ name: 'sister' });
  config.filters.forEach((filters, i) => {
    model.add(
      tf.layers.conv2d({
        ...(i === 0 ? { inputShape: [config.inputSize, config.inputSize, 1] } : {}),
        filters,
        kernelSize: config.kernelSize,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: rng.seed() }),
        name: `conv${i + 1}`,
      }),
    );
    model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${i + 1}` }));
    model.add(tf.layers.dropout({ rate: config.dropout, name: `dropout${i + 1}` }));
  });
  if (config.pooling === 'gap') model.add(tf.layers.globalAveragePooling2d({ name: 'gap' }));
  else model.add(tf.layers.flatten({ name: 'flatten' }));
  model.add(
    tf.layers.dense({
      units: config.embeddingSize,
      kernelInitializer: tf.initializers.glorotUniform({ seed: rng.seed() }),
      name: 'embedding',
    }),
  );
  return model;
}

/**
 * Training-mode forward pass. Dropout is applied here with an explicit per-step seed
 * (a tfjs Dropout layer with a fixed seed would draw the same mask every step, and
 * without one it draws from Math.random, which breaks `--seed` reproducibility).
 */
export function forwardTraining(sister: tf.LayersModel, x: tf.Tensor, stepSeed: number): tf.Tensor {
  let h = x;
  sister.layers.forEach((layer, i) => {
    if (layer.getClassName() === 'Dropout') {
      const rate = (layer.getConfig() as { rate: number }).rate;
      if (rate > 0) h = tf.dropout(h, rate, undefined, stepSeed + i * 7919);
    } else {
      h = layer.apply(h) as tf.Tensor;
    }
  });
  return h;
}

/** Unit-length rows; THE embedding normalisation (training, evaluation, the embedder). */
export function l2Normalize(embeddings: tf.Tensor): tf.Tensor {
  return tf.div(embeddings, tf.sqrt(tf.add(tf.sum(tf.square(embeddings), -1, true), 1e-12)));
}

/** Euclidean distance between rows of two [n, d] embedding batches → [n]. */
export function pairDistance(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  // The epsilon keeps the gradient of sqrt finite for identical embeddings.
  return tf.sqrt(tf.add(tf.sum(tf.square(tf.sub(a, b)), -1), 1e-9)) as tf.Tensor1D;
}
