import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend.js';
import { embedFaces } from '../../src/model/embed.js';
import { fileSaveHandler, fileLoadHandler } from '../../src/model/io.js';
import { loadEmbedder } from '../../src/model/load.js';
import { buildSister, DEFAULT_SISTER } from '../../src/model/network.js';
import { NORMALIZATION } from '../../src/model/normalize.js';
import { createRng } from '../../src/model/rng.js';
import { silentLogger } from '../../src/util/log.js';
import { createGrayImage, type GrayImage } from '../../src/vision/image.js';

const config = { ...DEFAULT_SISTER, filters: [4, 8, 8] as [number, number, number], embeddingSize: 16 };

function randomFaces(n: number, seed: number): GrayImage[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () =>
    createGrayImage(
      64,
      64,
      Uint8Array.from({ length: 64 * 64 }, () => rng.int(256)),
    ),
  );
}

describe('model save/load without tfjs-node', () => {
  let dir: string;
  beforeAll(async () => {
    await chooseBackend('wasm', silentLogger());
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'facegate-model-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('round-trips model.json + weights.bin with identical outputs', async () => {
    const model = buildSister(config, createRng(3));
    const faces = randomFaces(5, 9);
    const before = await embedFaces(model, faces, 64);
    const head = { weight: -2.5, bias: 3 };
    await model.save(
      fileSaveHandler(dir, { facegate: { name: 'test', head, inputSize: 64, normalization: NORMALIZATION } }),
    );
    const files = (await fs.readdir(dir)).sort();
    expect(files).toEqual(['model.json', 'weights.bin']);
    const loaded = await tf.loadLayersModel(fileLoadHandler(dir));
    const after = await embedFaces(loaded, faces, 64);
    expect(after.length).toBe(5);
    for (let i = 0; i < 5; i++) expect(Array.from(after[i])).toEqual(Array.from(before[i]));
    model.dispose();
    loaded.dispose();

    const embedder = await loadEmbedder(dir, silentLogger());
    expect(embedder.head).toEqual(head);
    expect(embedder.dimension).toBe(16);
    expect(embedder.inputSize).toBe(64);
    expect(embedder.modelId).toMatch(/^test-[0-9a-f]{16}$/);
    const viaEmbedder = await embedder.embed(faces);
    for (let i = 0; i < 5; i++) expect(Array.from(viaEmbedder[i])).toEqual(Array.from(before[i]));
    expect(await embedder.embed([])).toEqual([]);
    embedder.dispose();
  });

  it('embeds in batches without leaking tensors', async () => {
    const embedder = await loadEmbedder(dir, silentLogger(), { batchSize: 4 });
    const faces = randomFaces(10, 1);
    await embedder.embed(faces); // warm-up allocations
    const start = tf.memory().numTensors;
    for (let i = 0; i < 30; i++) await embedder.embed(faces.slice(0, 1 + (i % 10)));
    expect(tf.memory().numTensors).toBe(start);
    // batching does not change results
    const one = await embedder.embed([faces[7]]);
    const all = await embedder.embed(faces);
    for (let k = 0; k < one[0].length; k++) expect(all[7][k]).toBeCloseTo(one[0][k], 5);
    embedder.dispose();
  });

  it('applies the l2 embedding normalisation recorded in model.json', async () => {
    const unitDir = await fs.mkdtemp(path.join(os.tmpdir(), 'facegate-unit-'));
    const model = buildSister(config, createRng(4));
    const meta = {
      name: 'unit',
      head: { weight: -3, bias: 2 },
      inputSize: 64,
      normalization: NORMALIZATION,
      embeddingNorm: 'l2',
    };
    await model.save(fileSaveHandler(unitDir, { facegate: meta }));
    const raw = await embedFaces(model, randomFaces(3, 5), 64);
    model.dispose();
    const embedder = await loadEmbedder(unitDir, silentLogger());
    const unit = await embedder.embed(randomFaces(3, 5));
    embedder.dispose();
    for (let i = 0; i < 3; i++) {
      const norm = Math.hypot(...unit[i]);
      expect(norm).toBeCloseTo(1, 5);
      const rawNorm = Math.hypot(...raw[i]);
      expect(unit[i][0]).toBeCloseTo(raw[i][0] / rawNorm, 5);
    }
    const json = JSON.parse(await fs.readFile(path.join(unitDir, 'model.json'), 'utf8'));
    json.userDefinedMetadata.facegate.embeddingNorm = 'l3';
    await fs.writeFile(path.join(unitDir, 'model.json'), JSON.stringify(json));
    await expect(loadEmbedder(unitDir, silentLogger())).rejects.toThrow(/unknown facegate.embeddingNorm/);
    await fs.rm(unitDir, { recursive: true, force: true });
  });

  it('rejects faces of the wrong size and broken model folders with clear errors', async () => {
    const embedder = await loadEmbedder(dir, silentLogger());
    await expect(embedder.embed([createGrayImage(32, 32)])).rejects.toThrow(/32x32/);
    embedder.dispose();
    await expect(embedder.embed(randomFaces(1, 2))).rejects.toThrow(/disposed/);

    const broken = await fs.mkdtemp(path.join(os.tmpdir(), 'facegate-broken-'));
    await expect(loadEmbedder(broken, silentLogger())).rejects.toThrow(/cannot read model/);
    await fs.copyFile(path.join(dir, 'model.json'), path.join(broken, 'model.json'));
    await fs.writeFile(path.join(broken, 'weights.bin'), new Uint8Array(10));
    await expect(loadEmbedder(broken, silentLogger())).rejects.toThrow(/expects/);
    const json = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
    delete json.userDefinedMetadata.facegate;
    await fs.writeFile(path.join(broken, 'model.json'), JSON.stringify(json));
    await fs.copyFile(path.join(dir, 'weights.bin'), path.join(broken, 'weights.bin'));
    await expect(loadEmbedder(broken, silentLogger())).rejects.toThrow(/not a facegate model/);
    await fs.rm(broken, { recursive: true, force: true });
  });
});
