import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/util/log.js';
import { applySimilarity, warpSimilarity } from '../../src/vision/align.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../src/vision/config.js';
import {
  createFaceDetector,
  detectWithTurnedRetry,
  type StoppableFaceDetector,
} from '../../src/vision/detector.js';
import { createGrayImage } from '../../src/vision/image.js';
import { readGrayImage } from '../../src/vision/image-io.js';
import { turnedFaceScene } from '../helpers/scenes.js';

describe('detectWithTurnedRetry (photos)', () => {
  let detector: StoppableFaceDetector;
  beforeAll(async () => {
    detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  });
  afterAll(() => detector.stop());

  it('finds a head tilted by 30° that the upright pass misses, at the face, and nothing in an empty photo', async () => {
    const face = await readGrayImage('data/orl_faces/s05/1.pgm'); // 92x112
    // The face turned by 30° and enlarged 2x into a 320x320 scene (scene → face transform).
    const centre = { x: 160, y: 160 };
    const { scene, toFace } = turnedFaceScene(face, { deg: 30, zoom: 2, size: 320, centre });
    expect(applySimilarity(toFace, centre).x).toBeCloseTo(46, 6);
    expect(await detector.detect(scene)).toEqual([]);

    const { boxes, turned } = await detectWithTurnedRetry(detector, scene);
    expect(turned).toBe(true);
    expect(boxes.length).toBeGreaterThanOrEqual(1);
    const b = boxes[0];
    // The face (92x112 photo at 2x) is centred on the scene centre; the box sits on it.
    expect(Math.hypot(b.x + b.width / 2 - centre.x, b.y + b.height / 2 - centre.y)).toBeLessThan(
      0.25 * b.width,
    );
    expect(b.width).toBeGreaterThan(80);

    // An upright face is found by the first pass: no retry.
    const upright = await detectWithTurnedRetry(
      detector,
      warpSimilarity(face, { a: 0.5, b: 0, tx: -34, ty: -24 }, 320, 320),
    );
    expect(upright.turned).toBe(false);
    expect(upright.boxes.length).toBeGreaterThanOrEqual(1);

    const empty = createGrayImage(320, 320, new Uint8Array(320 * 320).fill(128));
    expect(await detectWithTurnedRetry(detector, empty)).toEqual({ boxes: [], turned: false });
  });
});
