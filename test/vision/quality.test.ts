import { describe, expect, it } from 'vitest';
import { QualityGate, faceSharpness } from '../../src/vision/quality.js';
import { DEFAULT_QUALITY_CONFIG, type QualityConfig } from '../../src/vision/config.js';
import { createGrayImage, type GrayImage } from '../../src/vision/image.js';
import { resampleRect } from '../../src/vision/preprocess.js';
import { composeScene } from './scenes.js';

/** The same scene blurred: box-filter down by `factor` and back up (out of focus / motion smear). */
function blurred(image: GrayImage, factor: number): GrayImage {
  const small = resampleRect(
    image,
    { x: 0, y: 0, width: image.width, height: image.height },
    image.width / factor,
    image.height / factor,
  );
  return resampleRect(
    small,
    { x: 0, y: 0, width: small.width, height: small.height },
    image.width,
    image.height,
  );
}

const config = (over: Partial<QualityConfig> = {}): QualityConfig => ({ ...DEFAULT_QUALITY_CONFIG, ...over });

describe('QualityGate', () => {
  it('accepts a sharp, big face in the zone', async () => {
    const { image } = await composeScene('plain', [{ person: 's36', photo: 4, x: 230, y: 100 }]);
    const box = { x: 250, y: 140, width: 150, height: 150 };
    const result = new QualityGate(config()).assess(image, [box]);
    expect(result.rejected).toEqual([]);
    expect(result.accepted).toHaveLength(1);
    expect(result.accepted[0].region.box).toEqual(box);
    expect(result.accepted[0].quality).toBe('ok');
    expect(result.accepted[0].sharpness).toBeGreaterThan(DEFAULT_QUALITY_CONFIG.minSharpness);
  });

  it('rejects a face that is too small, in pixels or as a fraction of the frame', () => {
    const image = createGrayImage(640, 480, new Uint8Array(640 * 480).fill(100));
    const gate = new QualityGate(config({ minFacePixels: 48, minFaceFraction: 0.1, minSharpness: 0 }));
    const result = gate.assess(image, [{ x: 10, y: 10, width: 60, height: 60 }]);
    expect(result.accepted).toEqual([]);
    expect(result.rejected[0].reason).toBe('too_small');
    expect(result.rejected[0].detail).toContain('60 px < 64 px');
  });

  it('rejects faces whose centre is outside the door zone', () => {
    const image = createGrayImage(640, 480, new Uint8Array(640 * 480).fill(100));
    const gate = new QualityGate(
      config({ minSharpness: 0, maxFaces: 3, doorZone: { x: 0.25, y: 0, width: 0.5, height: 1 } }),
    );
    const inZone = { x: 260, y: 100, width: 120, height: 120 };
    const leftOfZone = { x: 0, y: 100, width: 130, height: 130 };
    const result = gate.assess(image, [leftOfZone, inZone]);
    expect(result.accepted.map((a) => a.region.box)).toEqual([inZone]);
    expect(result.rejected).toEqual([expect.objectContaining({ box: leftOfZone, reason: 'outside_zone' })]);
  });

  it('keeps at most maxFaces, largest first, and says too_many_faces for the rest', () => {
    const image = createGrayImage(640, 480, new Uint8Array(640 * 480).fill(100));
    const small = { x: 20, y: 20, width: 100, height: 100 };
    const big = { x: 300, y: 100, width: 200, height: 200 };
    const medium = { x: 150, y: 250, width: 150, height: 150 };
    const result = new QualityGate(config({ minSharpness: 0, maxFaces: 2 })).assess(image, [
      small,
      big,
      medium,
    ]);
    expect(result.accepted.map((a) => a.region.box)).toEqual([big, medium]);
    expect(result.rejected).toEqual([expect.objectContaining({ box: small, reason: 'too_many_faces' })]);
  });

  it('marks a blurred face poor (blurry) and measures sharpness independent of face size', async () => {
    const { image } = await composeScene('plain', [{ person: 's36', photo: 4, x: 230, y: 100 }]);
    const box = { x: 250, y: 140, width: 150, height: 150 };
    const sharp = faceSharpness(image, box);
    const soft = faceSharpness(blurred(image, 8), box);
    expect(soft).toBeLessThan(sharp / 4);
    const result = new QualityGate(config()).assess(blurred(image, 8), [box]);
    // Recognised (it is still the person at the door) but marked poor: its vote cannot open the door.
    expect(result.rejected).toEqual([]);
    expect(result.accepted).toHaveLength(1);
    expect(result.accepted[0].quality).toBe('poor');
    expect(result.accepted[0].reasons).toEqual(['blurry']);
    // The same face half the size scores about the same (measured on a 64x64 patch).
    const { image: far } = await composeScene('plain', [
      { person: 's36', photo: 4, x: 230, y: 100, scale: 1 },
    ]);
    const sharpFar = faceSharpness(far, { x: 240, y: 120, width: 75, height: 75 });
    expect(sharpFar).toBeGreaterThan(DEFAULT_QUALITY_CONFIG.minSharpness);
  });

  it('scores a flat patch zero', () => {
    const image = createGrayImage(100, 100, new Uint8Array(100 * 100).fill(50));
    expect(faceSharpness(image, { x: 10, y: 10, width: 60, height: 60 })).toBe(0);
  });

  it('refuses nonsense configuration', () => {
    expect(() => new QualityGate(config({ maxFaces: -1 }))).toThrow(RangeError);
    expect(() => new QualityGate(config({ doorZone: { x: 0, y: 0, width: 2, height: 1 } }))).toThrow(
      RangeError,
    );
  });
});
