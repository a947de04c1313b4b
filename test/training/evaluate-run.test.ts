import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend.js';
import { loadFaceDataset } from '../../src/training/dataset.js';
import { crossValidate, DEFAULT_CV_TRAIN } from '../../src/training/evaluate-run.js';
import { evaluationReport, recommendThresholds } from '../../src/training/evaluation.js';
import { silentLogger } from '../../src/util/log.js';

const OLIVETTI = path.resolve(__dirname, '../../data/olivetti');

describe('evaluation', () => {
  beforeAll(async () => {
    await chooseBackend('wasm', silentLogger());
  });

  it('k-fold by person tests every person exactly once, on models that never saw them', async () => {
    const data = await loadFaceDataset(OLIVETTI, { include: ['s01', 's02', 's03', 's04', 's05', 's06'] });
    const seen: string[][] = [];
    const out = await crossValidate(
      data,
      {
        folds: 3,
        seed: 2,
        train: {
          ...DEFAULT_CV_TRAIN,
          epochs: 1,
          batchSize: 8,
          sister: { ...DEFAULT_CV_TRAIN.sister, filters: [2, 2, 4] },
        },
        onFold: (_k, _n, r) => seen.push([String(r.people)]),
      },
      silentLogger(),
    );
    expect(seen.flat()).toEqual(['2', '2', '2']);
    expect(out.report.people).toBe(6);
    // Pairs only within each fold's 2 test people (20 faces): 3 x C(20,2).
    expect(out.report.pairs).toBe(3 * 190);
    expect(out.scores.genuine.length).toBe(3 * 2 * 45);
    expect(out.report.rank1).toBeGreaterThanOrEqual(0);
    expect(out.demo.dataset.people.length).toBe(2);
    await expect(
      crossValidate(data, { folds: 4, seed: 1, train: DEFAULT_CV_TRAIN }, silentLogger()),
    ).rejects.toThrow(/too few/);
  });

  it('the report and thresholds follow from the embeddings', () => {
    // Two tight, well separated clusters: perfect verification and identification.
    const emb = [0, 0.1, 0.2, 10, 10.1, 10.2].map((x) => Float32Array.of(x, 0));
    const labels = [0, 0, 0, 1, 1, 1];
    const head = { weight: -1, bias: 3 };
    const { report, scores } = evaluationReport(labels, emb, head);
    expect(report).toMatchObject({ people: 2, pairs: 15, auc: 1, eer: 0, rank1: 1, 'accuracy_at_0.5': 1 });
    expect(report.tar_at_far).toEqual({ '0.01': 1, '0.001': 1 });
    const t = recommendThresholds(scores);
    expect(t.accept).toBeGreaterThan(Math.max(...scores.impostor));
    expect(t.accept).toBeLessThanOrEqual(Math.min(...scores.genuine));
    expect(t.unknown).toBeLessThanOrEqual(t.accept);
  });
});
