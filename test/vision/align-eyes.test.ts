import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignFace, type AlignTarget } from '../../src/vision/align.js';
import { bestEyePair, createEyeFinder, type EyeFinder } from '../../src/vision/eyes.js';
import { readGrayImage } from '../../src/vision/image-io.js';
import { silentLogger } from '../../src/util/log.js';

// The alignment the pretrained backbone uses (models/faceapi-siamese): dlib's face chip.
const TARGET: AlignTarget = { size: 150, leftEye: { x: 0.318, y: 0.314 }, rightEye: { x: 0.669, y: 0.314 } };

describe('bestEyePair (geometry of cascade hits)', () => {
  it('picks the level, symmetric pair and ignores a nostril and an eyebrow hit', () => {
    // Region 120 px wide: eyes at (35,40) and (85,42), an eyebrow above the left eye, a
    // "nostril" hit low in the middle.
    const hits = [25, 30, 20, 20, 75, 32, 20, 20, 27, 12, 16, 16, 52, 60, 14, 14];
    const pair = bestEyePair(hits, 120);
    expect(pair).not.toBeNull();
    expect(pair?.left).toEqual({ x: 35, y: 40 });
    expect(pair?.right).toEqual({ x: 85, y: 42 });
  });

  it('returns null for one eye, two hits on the same side, or a steep pair', () => {
    expect(bestEyePair([25, 30, 20, 20], 120)).toBeNull();
    expect(bestEyePair([10, 30, 20, 20, 30, 30, 20, 20], 120)).toBeNull();
    expect(bestEyePair([25, 10, 20, 20, 75, 60, 20, 20], 120)).toBeNull();
  });
});

describe('eye finder on a real ORL face (OpenCV eye cascades)', () => {
  let finder: EyeFinder;
  beforeAll(async () => {
    finder = await createEyeFinder({ backend: 'auto' }, silentLogger());
  });
  afterAll(async () => {
    await finder?.stop();
  });

  it('finds both eyes, and alignment puts them at the target positions', async () => {
    const image = await readGrayImage('data/orl_faces/s01/1.pgm');
    const whole = { x: 0, y: 0, width: image.width, height: image.height };
    const found = await finder.find(image, whole);
    expect(found.method).not.toBe('none');
    const eyes = found.eyes;
    if (!eyes) throw new Error('no eyes found');
    expect(eyes.left.x).toBeLessThan(eyes.right.x);
    // ORL faces are 92 px wide; eyes roughly 30-45 px apart and in the upper half.
    expect(eyes.right.x - eyes.left.x).toBeGreaterThan(20);
    expect(eyes.right.x - eyes.left.x).toBeLessThan(60);
    expect(Math.max(eyes.left.y, eyes.right.y)).toBeLessThan(image.height * 0.6);

    const aligned = alignFace(image, eyes, TARGET);
    const again = await finder.find(aligned, { x: 0, y: 0, width: 150, height: 150 });
    if (!again.eyes) throw new Error('no eyes found in the aligned face');
    // The cascade on the aligned face lands within a few pixels of the targets (150 px).
    expect(Math.abs(again.eyes.left.x - TARGET.leftEye.x * 150)).toBeLessThan(6);
    expect(Math.abs(again.eyes.left.y - TARGET.leftEye.y * 150)).toBeLessThan(6);
    expect(Math.abs(again.eyes.right.x - TARGET.rightEye.x * 150)).toBeLessThan(6);
    expect(Math.abs(again.eyes.right.y - TARGET.rightEye.y * 150)).toBeLessThan(6);
  });

  it('reports none (for the plain-box fallback) on a face-free image', async () => {
    const image = await readGrayImage('data/orl_faces/s01/1.pgm');
    const flat = {
      width: image.width,
      height: image.height,
      data: new Uint8Array(image.data.length).fill(128),
    };
    const found = await finder.find(flat, { x: 0, y: 0, width: flat.width, height: flat.height });
    expect(found).toEqual({ eyes: null, method: 'none' });
  });
});
