import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend.js';
import { createFaceCropper } from '../../src/model/face-path.js';
import { silentLogger } from '../../src/util/log.js';
import { applySimilarity, warpSimilarity, type SimilarityTransform } from '../../src/vision/align.js';
import {
  chipTransformFor,
  DLIB_CHIP_150,
  DLIB_FIT_POINTS,
  templatePointInChip,
} from '../../src/vision/face-chip.js';
import type { FaceCropper } from '../../src/vision/face-cropper.js';
import { implausibleLandmarks, landmarkSpan, MIN_LANDMARK_SPAN } from '../../src/vision/face-rules.js';
import { readGrayImage } from '../../src/vision/image-io.js';
import { createGrayImage, type FaceLandmarks, type Point } from '../../src/vision/image.js';
import { fiveFrom68 } from '../../src/vision/landmarks.js';

const G = { size: 150, padding: 0.25 };

/** A 68-point face: dlib's mean face (points 17–67) in chip pixels, the jaw on a made-up arc. */
function templateFace(): Point[] {
  const jaw = Array.from({ length: 17 }, (_, i) => {
    const a = Math.PI * (i / 16);
    return { x: 75 - 60 * Math.cos(a), y: 60 + 70 * Math.sin(a) };
  });
  return [...jaw, ...Array.from({ length: 51 }, (_, i) => templatePointInChip(17 + i, G))];
}

function landmarksOf(points: Point[]): FaceLandmarks {
  return { points, five: fiveFrom68(points) };
}

describe("dlib's 33-point chip fit (get_face_chip_details)", () => {
  it('fits the points dlib fits: 27–54 and 60–64', () => {
    expect(DLIB_FIT_POINTS).toHaveLength(33);
    expect(DLIB_FIT_POINTS[0]).toBe(27);
    expect(DLIB_FIT_POINTS).toContain(54);
    expect(DLIB_FIT_POINTS).not.toContain(55);
    expect(DLIB_FIT_POINTS).not.toContain(26);
    expect(DLIB_FIT_POINTS.slice(-5)).toEqual([60, 61, 62, 63, 64]);
  });

  it('recovers a rotated, scaled, shifted face exactly, whatever the jaw, eyebrows and lower lip do', () => {
    // chip → image: 30° roll, 2.4x larger, moved into a photo.
    const t: SimilarityTransform = { a: 2.4 * Math.cos(0.52), b: 2.4 * Math.sin(0.52), tx: 410, ty: 95 };
    const image = templateFace().map((p) => applySimilarity(t, p));
    const fit = chipTransformFor(landmarksOf(image), G, 'dlib-33');
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(fit[k]).toBeCloseTo(t[k], 6);
    // Points dlib leaves out (jaw 0–16, eyebrows 17–26, lower lip 55–59 and 65–67) move with
    // expression: moving them changes nothing.
    const moved = image.map((p, i) =>
      i <= 26 || (i >= 55 && i <= 59) || i >= 65 ? { x: p.x + 25, y: p.y - 40 } : p,
    );
    const fit2 = chipTransformFor(landmarksOf(moved), G, 'dlib-33');
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(fit2[k]).toBeCloseTo(t[k], 6);
    // The five-point fit of the unmoved face lands close too (dlib's template reduced to five points).
    const five = chipTransformFor(landmarksOf(image), G, 'five');
    expect(five.a).toBeCloseTo(t.a, 1);
  });

  it('averages the noise of single points: one eye point off by 6 px moves the chip less than the 5-point fit', () => {
    const t: SimilarityTransform = { a: 2, b: 0, tx: 100, ty: 50 };
    const image = templateFace().map((p) => applySimilarity(t, p));
    // All six points of the left eye off by 6 px to the right (an eye-centre error of 6 px).
    const noisy = image.map((p, i) => (i >= 36 && i <= 41 ? { x: p.x + 6, y: p.y } : p));
    const err = (fit: SimilarityTransform) => {
      // Where the chip's centre lands in the image, against the truth.
      const c = { x: 75, y: 75 };
      const a = applySimilarity(fit, c);
      const b = applySimilarity(t, c);
      return Math.hypot(a.x - b.x, a.y - b.y) + 75 * Math.abs(Math.atan2(fit.b, fit.a));
    };
    const e33 = err(chipTransformFor(landmarksOf(noisy), G, 'dlib-33'));
    const e5 = err(chipTransformFor(landmarksOf(noisy), G, 'five'));
    expect(e33).toBeGreaterThan(0);
    expect(e33).toBeLessThan(e5);
  });

  it('falls back to the five points when the landmarks have no 68 points', () => {
    const t: SimilarityTransform = { a: 1.5, b: 0.2, tx: 30, ty: 40 };
    const full = landmarksOf(templateFace().map((p) => applySimilarity(t, p)));
    const fiveOnly: FaceLandmarks = { points: Object.values(full.five), five: full.five };
    expect(chipTransformFor(fiveOnly, G, 'dlib-33')).toEqual(chipTransformFor(fiveOnly, G, 'five'));
  });
});

describe('landmark span rule (implausibleLandmarks)', () => {
  const face = templateFace();
  const box = { x: 0, y: 0, width: 150, height: 150 };

  it('passes the mean face in a box it fills and refuses the same shape shrunk as on a box that is not a face', () => {
    // dlib's template spans ~0.64 of a 150 px padded chip: scale it up to a Haar-like fill.
    const scale = (k: number) => face.map((p) => ({ x: 75 + (p.x - 75) * k, y: 75 + (p.y - 75) * k }));
    const filled = scale(1.3);
    expect(landmarkSpan(filled) / box.width).toBeGreaterThan(MIN_LANDMARK_SPAN);
    expect(implausibleLandmarks(box, landmarksOf(filled))).toBeNull();
    const shrunk = scale(0.8);
    expect(landmarkSpan(shrunk) / box.width).toBeLessThan(MIN_LANDMARK_SPAN);
    expect(implausibleLandmarks(box, landmarksOf(shrunk))).toMatch(/span \d+% of the face box/);
  });
});

describe('FaceCropper.cropMain', () => {
  let cropper: FaceCropper;
  beforeAll(async () => {
    await chooseBackend('wasm', silentLogger());
    cropper = await createFaceCropper(DLIB_CHIP_150, 'models/landmarks/faceapi-68', silentLogger());
  });
  afterAll(() => cropper?.dispose());

  it('passes over a larger box with no face (a Haar false positive) and takes the real face', async () => {
    // An ORL face in the upper part of a scene, a larger box below it on a smooth gradient.
    const face = await readGrayImage('data/orl_faces/s36/1.pgm'); // 92x112
    const scene = createGrayImage(
      300,
      420,
      Uint8Array.from({ length: 300 * 420 }, (_, i) => 60 + ((i % 300) >> 2)),
    );
    const placed = warpSimilarity(face, { a: 1 / 1.5, b: 0, tx: -50 / 1.5, ty: -20 / 1.5 }, 300, 200);
    scene.data.set(placed.data.subarray(0, 300 * 200));
    const realBox = { x: 50 + 15, y: 20 + 30, width: 108, height: 108 };
    const falseBox = { x: 40, y: 220, width: 190, height: 190 };
    const main = await cropper.cropMain(scene, [falseBox, realBox]);
    expect(main?.region.box).toEqual(realBox);
    expect(main?.alignment).toBe('landmarks');
    const [onFalse] = await cropper.crop(scene, [{ box: falseBox }]);
    expect(onFalse.fallback).toBe('implausible_landmarks');
    expect(await cropper.cropMain(scene, [])).toBeNull();
    // Alone, the false box is still the main face (box-aligned, flagged) unless landmarks are required.
    expect((await cropper.cropMain(scene, [falseBox]))?.fallback).toBe('implausible_landmarks');
    expect(await cropper.cropMain(scene, [falseBox], { requireLandmarks: true })).toBeNull();
  });

  it('runs the optional refinement pass per call: a plausible face, points moved by a few pixels', async () => {
    const face = await readGrayImage('data/orl_faces/s36/1.pgm');
    const box = { x: 10, y: 20, width: 72, height: 72 };
    const [one] = await cropper.crop(face, [{ box }]);
    const [two] = await cropper.crop(face, [{ box }], { refine: true });
    expect(one.alignment).toBe('landmarks');
    expect(two.alignment).toBe('landmarks');
    const a = one.region.landmarks!.points;
    const b = two.region.landmarks!.points;
    const moved = a.map((p, i) => Math.hypot(p.x - b[i].x, p.y - b[i].y));
    // A second pass on another square moves the points (it ran), but stays on the same face.
    expect(Math.max(...moved)).toBeGreaterThan(0.01);
    expect(moved.reduce((x, y) => x + y, 0) / moved.length).toBeLessThan(4);
  });
});
