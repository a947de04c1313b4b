import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIVENESS_CONFIG } from '../../src/liveness/config.js';
import {
  contourOpenness,
  eyeCrop,
  IrisEyelidReader,
  loadEyelidReader,
  widerEye,
} from '../../src/liveness/eyelids.js';
import { LivenessStage } from '../../src/liveness/stage.js';
import { faceAspect } from '../../src/liveness/signals.js';
import { chooseBackend } from '../../src/model/backend.js';
import { loadLandmarker, type FaceLandmarker } from '../../src/model/landmarks/landmarker.js';
import { silentLogger } from '../../src/util/log.js';
import { createGrayImage, type GrayImage, type Point } from '../../src/vision/image.js';
import { readGrayImage } from '../../src/vision/image-io.js';
import { regionOf } from './synthetic-face.js';

/**
 * The eyelid reader on the committed model and real faces: AT&T (ORL) photos of people
 * with their eyes open and shut (the set varies "open / closed eyes"; s08 7, s22 6 and
 * s24 8 are shut, checked by eye), and the liveness stage judging a blink from them.
 */
let reader: IrisEyelidReader;
let landmarker: FaceLandmarker;

beforeAll(async () => {
  await chooseBackend('auto', silentLogger());
  reader = await IrisEyelidReader.load('models/liveness');
  landmarker = await loadLandmarker('models/landmarks/faceapi-68');
}, 60_000);

afterAll(() => {
  reader?.dispose();
  landmarker?.dispose();
});

async function face(person: string, n: number): Promise<{ image: GrayImage; points: readonly Point[] }> {
  const image = await readGrayImage(join('data/orl_faces', person, `${n}.pgm`));
  const [lm] = await landmarker.locate(image, [{ x: 8, y: 20, width: 76, height: 76 }]);
  return { image, points: lm.points };
}

/** Openness made tilt-free as the judge does. */
async function openness(person: string, n: number): Promise<number> {
  const { image, points } = await face(person, n);
  const [r] = await reader.read(image, [points]);
  expect(r).not.toBeNull();
  return r!.openness / faceAspect(points);
}

describe('IrisEyelidReader (committed model, real photos)', () => {
  it.each([
    ['s08', 1, 7],
    ['s22', 1, 6],
    ['s24', 1, 8],
  ])(
    '%s: the shut eyes (photo %i open, %i shut) read less than 0.6 of the open ones',
    async (p, open, shut) => {
      const o = await openness(p, open);
      const s = await openness(p, shut);
      expect(s).toBeLessThan(0.6 * o);
    },
  );

  it('open eyes of one person read alike across photos (within ±25 % of their median)', async () => {
    const values = [];
    for (const n of [1, 2, 4, 5, 6]) values.push(await openness('s15', n));
    const median = [...values].sort((a, b) => a - b)[2];
    for (const v of values) expect(Math.abs(v / median - 1)).toBeLessThan(0.25);
  });

  it('reads several faces in one call, in order; null for a face without 68 landmarks', async () => {
    const a = await face('s08', 1);
    const readings = await reader.read(a.image, [a.points, [], a.points]);
    expect(readings[1]).toBeNull();
    expect(readings[0]!.openness).toBeCloseTo(readings[2]!.openness, 5);
  });

  it('crops a level 64x64 eye, mirrored on the left; refuses an eye too small to read', async () => {
    const a = await face('s08', 1);
    expect(eyeCrop(a.image, a.points, 'left')).toMatchObject({ width: 64, height: 64 });
    const tiny = a.points.map((p) => ({ x: p.x * 0.05, y: p.y * 0.05 }));
    expect(eyeCrop(a.image, tiny, 'left')).toBeNull();
    expect(contourOpenness(new Float32Array(213))).toBeNaN();
  });

  it('keeps to the eye it read unless the other is clearly wider (no flip-flop)', async () => {
    const a = await face('s08', 1);
    const first = widerEye(a.points);
    const other = first === 'left' ? 'right' : 'left';
    expect(widerEye(a.points, other)).toBe(other);
  });

  it('refuses a model file that is not the vendored one (sha256), with a fix in the message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-iris-'));
    try {
      copyFileSync('models/liveness/iris.json', join(dir, 'iris.json'));
      writeFileSync(join(dir, 'iris.bin'), Buffer.alloc(16));
      await expect(IrisEyelidReader.load(dir)).rejects.toThrow(/sha256/);
      const config = { ...DEFAULT_LIVENESS_CONFIG, mode: 'on' as const, eyeModel: dir };
      await expect(loadEyelidReader(config)).rejects.toThrow(/access\.liveness\.blink to false/);
      await expect(loadEyelidReader({ ...config, blink: false })).resolves.toBeNull();
      await expect(loadEyelidReader({ ...config, mode: 'off' })).resolves.toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('LivenessStage with the eyelid reader (real model, real photos)', () => {
  /** The ORL photo pasted on a plain grey wall at a fixed place: a still face, no motion. */
  function onWall(image: GrayImage): GrayImage {
    const wall = createGrayImage(320, 240);
    wall.data.fill(120);
    for (let y = 0; y < image.height; y++)
      for (let x = 0; x < image.width; x++)
        wall.data[(y + 60) * 320 + x + 110] = image.data[y * image.width + x];
    return wall;
  }

  async function run(sequence: readonly number[], blink = true) {
    const config = { ...DEFAULT_LIVENESS_CONFIG, mode: 'on' as const, blink };
    const stage = new LivenessStage(config, { eyelids: reader });
    const verdicts = [];
    for (const [i, n] of sequence.entries()) {
      const { image, points } = await face('s08', n);
      const region = regionOf(points.map((p) => ({ x: p.x + 110, y: p.y + 60 })));
      verdicts.push((await stage.observe(i * 66, [region], onWall(image)))[0]);
    }
    return verdicts;
  }

  it('a still face that blinks (open, shut, open) is live by its blink', async () => {
    const v = await run([1, 1, 1, 1, 1, 7, 1, 1, 1]);
    expect(v.at(-1)).toMatchObject({ verdict: 'live', reasons: ['blink'] });
  }, 60_000);

  it('the same still face with its eyes open throughout is not live (no motion, no blink)', async () => {
    const v = await run([1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(v.every((x) => x.verdict === 'undecided')).toBe(true);
    expect(v.at(-1)!.scores.blink).toBe(0);
  }, 60_000);

  it('with blink off the reader is not used and the blink is no evidence', async () => {
    const v = await run([1, 1, 1, 1, 1, 7, 1, 1, 1], false);
    expect(v.at(-1)).toMatchObject({ verdict: 'undecided' });
    expect(v.at(-1)!.scores.eye_frames).toBe(0);
  }, 60_000);
});
