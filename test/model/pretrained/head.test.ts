import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { similarityFromDistance } from '../../../src/model/embedder.js';
import {
  euclidean,
  negativePairs,
  positivePairs,
  project,
  trainSiameseHead,
} from '../../../src/model/pretrained/head.js';
import { mulberry32 } from '../../../src/util/random.js';

/** Gaussian clusters: `people` centres in `dim` dimensions, `per` noisy points each. */
function clusters(people: number, per: number, dim: number, spread: number, seed: number) {
  const random = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const embeddings: Float32Array[] = [];
  const labels: number[] = [];
  for (let p = 0; p < people; p++) {
    const centre = Float32Array.from({ length: dim }, () => gauss());
    for (let k = 0; k < per; k++) {
      embeddings.push(Float32Array.from(centre, (c) => c + spread * gauss()));
      labels.push(p);
    }
  }
  return { embeddings, labels };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Siamese head on frozen embeddings', () => {
  it('makes every same-person pair and only different-person negatives', () => {
    const labels = [0, 0, 1, 1, 1];
    expect(positivePairs(labels)).toEqual([
      [0, 1],
      [2, 3],
      [2, 4],
      [3, 4],
    ]);
    const negatives = negativePairs(labels, 50, mulberry32(1));
    expect(negatives).toHaveLength(50);
    for (const [i, j] of negatives) expect(labels[i]).not.toBe(labels[j]);
    expect(() => negativePairs([3, 3], 1, mulberry32(1))).toThrow(/two people/);
  });

  it('learns a negative weight: pairs of one person score above 0.5, of two people below', async () => {
    const train = clusters(12, 6, 16, 0.25, 7);
    const before = tf.memory().numTensors;
    const trained = await trainSiameseHead(train.embeddings, train.labels, {
      projection: false,
      epochs: 60,
      learningRate: 0.05,
      identityDecay: 0,
      negativesPerPositive: 1,
      seed: 3,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(trained.head.weight).toBeLessThan(0);
    expect(trained.projection).toBeNull();
    expect(trained.history).toHaveLength(60);
    expect(trained.history[59].loss).toBeLessThan(trained.history[0].loss + 1e-6);
    // Unseen people drawn the same way: the head separates them.
    const test = clusters(6, 4, 16, 0.25, 99);
    let ok = 0;
    let total = 0;
    for (let i = 0; i < test.labels.length; i++) {
      for (let j = i + 1; j < test.labels.length; j++) {
        const s = similarityFromDistance(trained.head, euclidean(test.embeddings[i], test.embeddings[j]));
        if (s >= 0.5 === (test.labels[i] === test.labels[j])) ok++;
        total++;
      }
    }
    expect(ok / total).toBeGreaterThan(0.97);
  });

  it('trains a projection that starts at the identity and stays finite', async () => {
    const train = clusters(8, 5, 8, 0.3, 11);
    const trained = await trainSiameseHead(train.embeddings, train.labels, {
      projection: true,
      epochs: 20,
      learningRate: 0.01,
      identityDecay: 1e-2,
      negativesPerPositive: 2,
      seed: 5,
    });
    const p = trained.projection as Float32Array;
    expect(p).toHaveLength(64);
    expect([...p].every(Number.isFinite)).toBe(true);
    // Close to the identity after a short run with identity decay.
    for (let i = 0; i < 8; i++) expect(p[i * 8 + i]).toBeGreaterThan(0.5);
    const x = Float32Array.from([1, 0, 0, 0, 0, 0, 0, 2]);
    const y = project(x, p);
    for (let j = 0; j < 8; j++) expect(y[j]).toBeCloseTo(p[j] + 2 * p[56 + j], 5);
  });

  it('refuses data without positive pairs', async () => {
    const e = [0, 1, 2, 3].map((v) => Float32Array.from([v, v]));
    await expect(trainSiameseHead(e, [0, 1, 2, 3])).rejects.toThrow(/positive pairs/);
  });
});
