import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Matcher } from '../../src/gallery/matcher.js';
import { loadEmbedder } from '../../src/model/load.js';
import { fileSaveHandler } from '../../src/model/io.js';
import { buildSister } from '../../src/model/network.js';
import { createRng } from '../../src/model/rng.js';
import { FacegateMetrics } from '../../src/ops/metrics.js';
import { LiveLoop } from '../../src/pipeline/live-loop.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { FaceCropper } from '../../src/vision/face-cropper.js';
import { DEFAULT_PREPROCESS } from '../../src/vision/preprocess.js';
import { RecordingSink } from '../fakes/events.js';
import { TimerFrameSource } from '../fakes/pipeline.js';

/**
 * The live loop with a REAL TF.js sister network (a small one saved and loaded through
 * the model's own save/load code): the tensor count must not grow with frames.
 */
const dir = mkdtempSync(join(tmpdir(), 'facegate-leak-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('live loop tensor hygiene', () => {
  it('keeps tf.memory().numTensors flat over hundreds of faces', async () => {
    await tf.setBackend('cpu');
    const sister = buildSister(
      { inputSize: 32, filters: [4, 8, 8], kernelSize: 3, dropout: 0.2, embeddingSize: 16 },
      createRng(7),
    );
    await sister.save(
      fileSaveHandler(dir, {
        facegate: { name: 'leak-test', head: { weight: -2, bias: 4 }, inputSize: 32, normalization: 'unit' },
      }),
    );
    sister.dispose();
    const embedder = await loadEmbedder(dir, silentLogger());
    const matcher = new Matcher(embedder.head, embedder.dimension);
    matcher.rebuild([
      { personId: 'p1', personName: 'P', vector: new Float32Array(embedder.dimension).fill(0.1) },
    ]);
    const metrics = new FacegateMetrics({ defaultMetrics: false });
    // Two faces in every frame: a batch of two per embed call.
    const source = new TimerFrameSource(2, (seq) => 1 + (seq % 200));
    const loop = new LiveLoop({
      source,
      detector: {
        name: 'two-faces',
        detect: async () => [
          { x: 1, y: 1, width: 12, height: 12 },
          { x: 14, y: 6, width: 12, height: 12 },
        ],
      },
      gate: {
        assess: (_i, boxes) => ({
          accepted: boxes.map((box) => ({
            region: 'x' in box ? { box } : box,
            quality: 'ok' as const,
            reasons: [],
            sharpness: 100,
          })),
          rejected: [],
        }),
        assessRegions: (_i, regions) => ({
          accepted: regions.map((region) => ({
            region,
            quality: 'ok' as const,
            reasons: [],
            sharpness: 100,
          })),
          rejected: [],
        }),
      },
      cropper: new FaceCropper(null, { kind: 'box', ...DEFAULT_PREPROCESS, size: embedder.inputSize }),
      embedder,
      matcher,
      policy: { observe: () => [] },
      actuator: { act: async () => {} },
      events: new RecordingSink(),
      metrics,
      clock: systemClock,
      logger: silentLogger(),
      tensorCount: () => tf.memory().numTensors,
    });
    await source.start();
    loop.start();
    const waitFrames = async (n: number) => {
      while (loop.counters.processed < n) await new Promise((r) => setTimeout(r, 5));
    };
    await waitFrames(10); // warm-up: backend kernels, weights
    const before = tf.memory().numTensors;
    await waitFrames(160);
    const after = tf.memory().numTensors;
    await loop.stop();
    console.log(`tensors before ${before}, after ${loop.counters.processed} frames: ${after}`);
    expect(loop.counters.errors).toBe(0);
    expect(after).toBe(before);
    const gauge = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'facegate_tf_tensors');
    expect(gauge?.values[0].value).toBe(before);
    embedder.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });
});
