import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../../src/model/backend.js';
import { parseModelThresholds } from '../../../src/access/config.js';
import { createFaceCropper } from '../../../src/model/face-path.js';
import { buildPretrainedModel, FACEAPI_CROP } from '../../../src/training/pretrained/build.js';
import {
  loadPretrainedEmbedder,
  parsePretrainedMetadata,
  PRETRAINED_METADATA_FILE,
} from '../../../src/model/pretrained/embedder.js';
import { silentLogger } from '../../../src/util/log.js';

const BACKBONE = 'models/faceapi-siamese/backbone';

describe('building a pretrained-backbone model (small: ORL s01-s05 as crops)', () => {
  let out: string;
  beforeAll(async () => {
    await chooseBackend('wasm', silentLogger());
    out = await mkdtemp(join(tmpdir(), 'facegate-build-'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('trains the head on the training people only and writes a loadable model', async () => {
    const messages: string[] = [];
    const cropper = await createFaceCropper(FACEAPI_CROP, 'models/landmarks/faceapi-68', silentLogger());
    const people = ['s01', 's02', 's03', 's04', 's05', 's06'];
    const meta = await buildPretrainedModel(
      {
        data: 'data/orl_faces',
        kind: 'crop',
        // Everyone but s01-s06 is "held out" here, to keep the test small.
        heldOut: Array.from({ length: 40 }, (_, i) => `s${String(i + 1).padStart(2, '0')}`).filter(
          (p) => !people.includes(p),
        ),
        out,
        backboneDir: BACKBONE,
        crop: FACEAPI_CROP,
        head: {
          projection: false,
          epochs: 40,
          learningRate: 0.05,
          identityDecay: 0,
          negativesPerPositive: 1,
          seed: 7,
        },
        name: 'test-siamese',
        provenance: { test: true },
      },
      null,
      cropper,
      (m) => messages.push(m),
    );
    cropper.dispose();
    const training = meta.training as { people: string[]; heldOutPeople: string[]; faces: number };
    expect(training.people).toEqual(people);
    expect(training.heldOutPeople).not.toContain('s01');
    expect(training.faces).toBe(60);
    expect(meta.head.weight).toBeLessThan(0);
    expect(messages.some((m) => m.includes('60 faces of 6 people'))).toBe(true);

    // The metadata on disk validates, the thresholds are usable by the config loader.
    const onDisk = JSON.parse(await readFile(join(out, PRETRAINED_METADATA_FILE), 'utf8')) as unknown;
    expect(() => parsePretrainedMetadata(onDisk, 'built')).not.toThrow();
    const thresholds = parseModelThresholds(JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8')));
    expect(thresholds).not.toBeNull();
    expect(thresholds?.accept).toBeGreaterThanOrEqual(thresholds?.unknown ?? 1);

    const embedder = await loadPretrainedEmbedder(out, silentLogger());
    try {
      expect(embedder.modelId).toMatch(/^test-siamese-[0-9a-f]{16}$/);
      expect(embedder.head).toEqual(meta.head);
    } finally {
      embedder.dispose();
    }
  });
});
