import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend.js';
import { createFaceCropper } from '../../src/model/face-path.js';
import {
  LANDMARK_METADATA_FILE,
  loadLandmarker,
  type FaceLandmarker,
} from '../../src/model/landmarks/landmarker.js';
import { silentLogger } from '../../src/util/log.js';
import {
  applySimilarity,
  fitSimilarity,
  warpSimilarity,
  type SimilarityTransform,
} from '../../src/vision/align.js';
import {
  CANONICAL_CHIP,
  DLIB_CHIP_150,
  modelInputFromChip,
  templateInChip,
} from '../../src/vision/face-chip.js';
import { FaceCropper } from '../../src/vision/face-cropper.js';
import { readGrayImage } from '../../src/vision/image-io.js';
import type { GrayImage, Point } from '../../src/vision/image.js';
import { implausibleLandmarks } from '../../src/vision/face-rules.js';
import { fiveToArray } from '../../src/vision/landmarks.js';

const LANDMARKS = 'models/landmarks/faceapi-68';
const realFetch = globalThis.fetch;
let landmarker: FaceLandmarker;
let cropper: FaceCropper;

beforeAll(async () => {
  // No network: any fetch while loading fails the test.
  globalThis.fetch = (() => Promise.reject(new Error('network access attempted'))) as typeof fetch;
  await chooseBackend('wasm', silentLogger());
  landmarker = await loadLandmarker(LANDMARKS);
  cropper = await createFaceCropper(DLIB_CHIP_150, LANDMARKS, silentLogger());
});

afterAll(() => {
  globalThis.fetch = realFetch;
  landmarker?.dispose();
  cropper?.dispose();
});

function correlation(a: GrayImage, b: GrayImage): number {
  const n = a.data.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a.data[i];
    mb += b.data[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a.data[i] - ma;
    const db = b.data[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('fitSimilarity (Umeyama, 2-D)', () => {
  it('recovers a known rotation, scale and shift exactly, and is least squares under noise', () => {
    const t: SimilarityTransform = { a: 1.3 * Math.cos(0.4), b: 1.3 * Math.sin(0.4), tx: 17, ty: -5 };
    const from: Point[] = [
      { x: 10, y: 20 },
      { x: 60, y: 22 },
      { x: 35, y: 50 },
      { x: 15, y: 80 },
      { x: 55, y: 78 },
    ];
    const to = from.map((p) => applySimilarity(t, p));
    const fit = fitSimilarity(from, to);
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(fit[k]).toBeCloseTo(t[k], 9);
    // One point off by 4 px moves the fit, but the residual stays below the moved point's error.
    const noisy = to.map((p, i) => (i === 2 ? { x: p.x + 4, y: p.y } : p));
    const fit2 = fitSimilarity(from, noisy);
    const residual = from.map((p, i) =>
      Math.hypot(applySimilarity(fit2, p).x - noisy[i].x, applySimilarity(fit2, p).y - noisy[i].y),
    );
    expect(Math.max(...residual)).toBeLessThan(4);
    expect(() => fitSimilarity([from[0], from[0]], [to[0], to[1]])).toThrow(/coincide/);
  });
});

describe('landmark model (models/landmarks/faceapi-68)', () => {
  it('loads from disk with no network and finds a plausible face on an ORL photo', async () => {
    expect(landmarker.name).toBe('faceapi-68');
    const image = await readGrayImage('data/orl_faces/s36/1.pgm');
    const box = { x: 10, y: 20, width: 72, height: 72 };
    const before = tf.memory().numTensors;
    const [lm] = await landmarker.locate(image, [box]);
    expect(tf.memory().numTensors).toBe(before);
    expect(lm.points).toHaveLength(68);
    expect(implausibleLandmarks(box, lm)).toBeNull();
    expect(lm.five.leftEye.x).toBeLessThan(lm.five.rightEye.x);
    expect(lm.five.nose.y).toBeGreaterThan(lm.five.leftEye.y);
    expect(lm.five.mouthLeft.y).toBeGreaterThan(lm.five.nose.y);
  });

  it('refuses weights whose sha256 differs from the metadata, and a folder without metadata', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'facegate-landmarks-'));
    try {
      await cp(LANDMARKS, dir, { recursive: true });
      const file = join(dir, LANDMARK_METADATA_FILE);
      const meta = JSON.parse(await readFile(file, 'utf8')) as { sha256: string };
      await writeFile(file, JSON.stringify({ ...meta, sha256: '0'.repeat(64) }));
      await expect(loadLandmarker(dir)).rejects.toThrow(/sha256/);
      await rm(file);
      await expect(loadLandmarker(dir)).rejects.toThrow(/not a landmark model folder/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('FaceCropper alignment geometry', () => {
  it('brings a rotated, scaled, shifted face out level and centred, as the upright original', async () => {
    const face = await readGrayImage('data/orl_faces/s36/1.pgm'); // 92x112
    const box = { x: 10, y: 20, width: 72, height: 72 };
    const [upright] = await cropper.crop(face, [{ box }]);
    expect(upright.alignment).toBe('landmarks');

    // The same face rotated by 25°, scaled 1.6x and moved into a 320x300 scene.
    const angle = (25 * Math.PI) / 180;
    const scale = 1.6;
    // scene → face transform (what warpSimilarity needs): the inverse of face → scene.
    const toScene: SimilarityTransform = {
      a: scale * Math.cos(angle),
      b: scale * Math.sin(angle),
      tx: 150,
      ty: 40,
    };
    const n = toScene.a ** 2 + toScene.b ** 2;
    const toFace: SimilarityTransform = {
      a: toScene.a / n,
      b: -toScene.b / n,
      tx: -(toScene.a * toScene.tx + toScene.b * toScene.ty) / n,
      ty: -(-toScene.b * toScene.tx + toScene.a * toScene.ty) / n,
    };
    const scene = warpSimilarity(face, toFace, 320, 300);
    // A detector finds a face of the same size, upright box, around the face's centre.
    const centre = applySimilarity(toScene, { x: box.x + box.width / 2, y: box.y + box.height / 2 });
    const side = box.width * scale;
    const sceneBox = { x: centre.x - side / 2, y: centre.y - side / 2, width: side, height: side };
    const [turned] = await cropper.crop(scene, [{ box: sceneBox }]);
    expect(turned.alignment).toBe('landmarks');

    // Landmarks found in the scene are the upright ones carried through the known warp.
    const expected = fiveToArray(upright.region.landmarks!.five).map((p) => applySimilarity(toScene, p));
    const found = fiveToArray(turned.region.landmarks!.five);
    const eyeDistance = Math.hypot(expected[1].x - expected[0].x, expected[1].y - expected[0].y);
    found.forEach((p, i) => {
      expect(Math.hypot(p.x - expected[i].x, p.y - expected[i].y)).toBeLessThan(0.12 * eyeDistance);
    });

    // The chip is level and centred: its eyes on one row near the template's, for both.
    const template = templateInChip(CANONICAL_CHIP);
    for (const c of [upright, turned]) {
      const five = c.chip!.five;
      expect(Math.abs(five.leftEye.y - five.rightEye.y)).toBeLessThan(4);
      const mid = { x: (five.leftEye.x + five.rightEye.x) / 2, y: (five.leftEye.y + five.rightEye.y) / 2 };
      const tmid = { x: (template.leftEye.x + template.rightEye.x) / 2, y: template.leftEye.y };
      expect(Math.hypot(mid.x - tmid.x, mid.y - tmid.y)).toBeLessThan(6);
    }
    // ... and the model sees nearly the same face.
    expect(correlation(upright.input, turned.input)).toBeGreaterThan(0.9);
  });

  it('falls back to the box (flagged) without a landmark model, and cuts the model crop from the canonical chip', async () => {
    const face = await readGrayImage('data/orl_faces/s36/1.pgm');
    const noLandmarks = new FaceCropper(null, DLIB_CHIP_150);
    const [c] = await noLandmarks.crop(face, [{ box: { x: 10, y: 20, width: 72, height: 72 } }]);
    expect(c.alignment).toBe('box');
    expect(c.fallback).toBe('no_landmark_model');
    expect(c.region.landmarks).toBeUndefined();
    expect(c.input.width).toBe(150);
    expect(c.chip?.image.width).toBe(CANONICAL_CHIP.size);
    // The stored chip gives back exactly the model's input (what re-embedding relies on).
    const again = modelInputFromChip(c.chip!.image, CANONICAL_CHIP, DLIB_CHIP_150);
    expect(Buffer.from(again.data).equals(Buffer.from(c.input.data))).toBe(true);
  });

  it('flags implausible landmarks (all points in one spot, mouth above the eyes) and uses the box', async () => {
    const face = await readGrayImage('data/orl_faces/s36/1.pgm');
    const box = { x: 10, y: 20, width: 72, height: 72 };
    const answer = (pts: Point[]) => ({
      name: 'fake',
      locate: async () => [
        {
          points: [],
          five: { leftEye: pts[0], rightEye: pts[1], nose: pts[2], mouthLeft: pts[3], mouthRight: pts[4] },
        },
      ],
    });
    const collapsed = new FaceCropper(
      answer(Array.from({ length: 5 }, () => ({ x: 40, y: 50 }))),
      DLIB_CHIP_150,
    );
    const [a] = await collapsed.crop(face, [{ box }]);
    expect([a.alignment, a.fallback]).toEqual(['box', 'implausible_landmarks']);
    const upsideDown = new FaceCropper(
      answer([
        { x: 30, y: 80 },
        { x: 60, y: 80 },
        { x: 45, y: 60 },
        { x: 33, y: 40 },
        { x: 57, y: 40 },
      ]),
      DLIB_CHIP_150,
    );
    const [b] = await upsideDown.crop(face, [{ box }]);
    expect([b.alignment, b.fallback]).toEqual(['box', 'implausible_landmarks']);
    expect(b.region.landmarks).toBeUndefined();
  });
});
