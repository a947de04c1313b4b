import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend.js';
import { loadEmbedder } from '../../src/model/load.js';
import { runTraining, splitPeople, type TrainCommandOptions } from '../../src/training/train-run.js';
import { silentLogger } from '../../src/util/log.js';

const OLIVETTI = path.resolve(__dirname, '../../data/olivetti');

describe('training (1-2 epochs on a small subset)', () => {
  let root: string;
  let data: string;
  beforeAll(async () => {
    await chooseBackend('wasm', silentLogger());
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'facegate-train-'));
    data = path.join(root, 'data');
    for (const person of ['s01', 's02', 's03', 's04', 's05', 's06']) {
      await fs.mkdir(path.join(data, person), { recursive: true });
      for (const k of [1, 2, 3, 4])
        await fs.copyFile(path.join(OLIVETTI, person, `${k}.pgm`), path.join(data, person, `${k}.pgm`));
    }
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const base = (out: string, overrides: Partial<TrainCommandOptions> = {}): TrainCommandOptions => ({
    data,
    out,
    epochs: 2,
    seed: 5,
    batchSize: 16,
    holdOut: ['s06'],
    valPeople: 2,
    filters: [4, 4, 8],
    learningRate: 0.001,
    augment: true,
    freshPairs: true,
    pairMode: 'batch-all',
    facesPerPerson: 4,
    hardNegativeFraction: 0.5,
    backend: 'wasm',
    gitCommit: null,
    machine: 'test',
    ...overrides,
  });

  it('writes model.json, weights.bin, metrics.json and the training plot; the model loads', async () => {
    const out = path.join(root, 'out-a');
    const epochs: number[] = [];
    const { metrics, result } = await runTraining(base(out), silentLogger(), {
      onEpoch: (s) => epochs.push(s.epoch),
    });
    result.sister.dispose();
    expect(epochs).toEqual([1, 2]);
    expect((await fs.readdir(out)).sort()).toEqual([
      'metrics.json',
      'model.json',
      'training.png',
      'weights.bin',
    ]);
    const saved = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
    expect(saved.heldOutPeople).toEqual(['s06']);
    expect(saved.trainedPeople.length).toBe(3);
    expect(saved.validationPeople.length).toBe(2);
    expect([...saved.trainedPeople, ...saved.validationPeople].sort()).toEqual([
      's01',
      's02',
      's03',
      's04',
      's05',
    ]);
    expect(saved.history.length).toBe(2);
    for (const h of saved.history) {
      expect(Number.isFinite(h.loss)).toBe(true);
      expect(Number.isFinite(h.valLoss)).toBe(true);
    }
    expect(saved.thresholds.accept).toBeGreaterThanOrEqual(saved.thresholds.unknown);
    expect(metrics.backend).toBe('wasm');
    const png = await sharp(path.join(out, 'training.png')).metadata();
    expect(png.format).toBe('png');
    expect(png.width).toBeGreaterThan(300);
    const embedder = await loadEmbedder(out, silentLogger());
    expect(embedder.head).toEqual(saved.head);
    embedder.dispose();
  });

  it('is reproducible with the same seed (and write-up pairs train too)', async () => {
    const before = tf.memory().numTensors;
    const a = await runTraining(
      base(path.join(root, 'out-b'), { pairMode: 'writeup', epochs: 1 }),
      silentLogger(),
    );
    const b = await runTraining(
      base(path.join(root, 'out-c'), { pairMode: 'writeup', epochs: 1 }),
      silentLogger(),
    );
    a.result.sister.dispose();
    b.result.sister.dispose();
    expect(a.metrics.history[0].loss).toBe(b.metrics.history[0].loss);
    expect(a.metrics.head).toEqual(b.metrics.head);
    const wa = await fs.readFile(path.join(root, 'out-b/weights.bin'));
    const wb = await fs.readFile(path.join(root, 'out-c/weights.bin'));
    expect(wa.equals(wb)).toBe(true);
    const perRun = (tf.memory().numTensors - before) / 2;
    // No per-step leak: a 3-epoch run leaves exactly what a 1-epoch run leaves (tfjs's
    // Adam keeps a scalar or two after dispose(); a constant per training run, not per step).
    const start3 = tf.memory().numTensors;
    const c = await runTraining(base(path.join(root, 'out-d'), { epochs: 3 }), silentLogger());
    c.result.sister.dispose();
    expect(tf.memory().numTensors - start3).toBe(perRun);
    expect(perRun).toBeLessThanOrEqual(2);
  });

  it('splits validation by person, seeded', () => {
    const people = Array.from({ length: 10 }, (_, i) => `p${i}`);
    const s = splitPeople(people, 3, 1);
    expect(s.val.length).toBe(3);
    expect(s.train.length).toBe(7);
    expect(s.train.some((p) => s.val.includes(p))).toBe(false);
    expect(splitPeople(people, 3, 1)).toEqual(s);
    expect(() => splitPeople(['a', 'b', 'c'], 2, 1)).toThrow(/cannot give 2 validation people/);
  });
});
