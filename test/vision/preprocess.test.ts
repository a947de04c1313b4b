import { describe, expect, it } from 'vitest';
import { createGrayImage } from '../../src/vision/image.js';
import {
  DEFAULT_PREPROCESS,
  cropRectFor,
  equalizeHistogram,
  preprocessFace,
  resampleRect,
} from '../../src/vision/preprocess.js';

function gradient(width: number, height: number): ReturnType<typeof createGrayImage> {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data[y * width + x] = (x * 255) / (width - 1);
  return createGrayImage(width, height, data);
}

describe('preprocessFace', () => {
  it('returns a size x size image for a whole-image crop', () => {
    const face = preprocessFace(gradient(92, 112), null);
    expect(face.width).toBe(DEFAULT_PREPROCESS.size);
    expect(face.height).toBe(DEFAULT_PREPROCESS.size);
    expect(face.data.length).toBe(64 * 64);
  });

  it('is the identity on a 64x64 crop without equalisation', () => {
    const img = gradient(64, 64);
    const out = preprocessFace(img, null, { ...DEFAULT_PREPROCESS, equalize: false });
    expect(Array.from(out.data)).toEqual(Array.from(img.data));
  });

  it('makes the crop square around the box centre', () => {
    const rect = cropRectFor({ x: 100, y: 100, width: 80, height: 80 }, DEFAULT_PREPROCESS);
    expect(rect.width).toBeCloseTo(rect.height);
    expect(rect.x + rect.width / 2).toBeCloseTo(140);
  });

  it('repeats border pixels for a box partly outside the frame', () => {
    const img = createGrayImage(10, 10, new Uint8Array(100).fill(200));
    const out = resampleRect(img, { x: -5, y: -5, width: 20, height: 20 }, 8, 8);
    expect(Array.from(out.data).every((v) => v === 200)).toBe(true);
  });

  it('rejects nonsense options', () => {
    expect(() => preprocessFace(gradient(10, 10), null, { ...DEFAULT_PREPROCESS, size: 0 })).toThrow(
      RangeError,
    );
  });
});

describe('equalizeHistogram', () => {
  it('stretches a low-contrast image to the full range', () => {
    const data = new Uint8Array(256);
    for (let i = 0; i < 256; i++) data[i] = 100 + (i % 20);
    const out = equalizeHistogram(createGrayImage(16, 16, data));
    expect(Math.min(...out.data)).toBe(0);
    expect(Math.max(...out.data)).toBe(255);
  });

  it('leaves a flat image flat', () => {
    const out = equalizeHistogram(createGrayImage(4, 4, new Uint8Array(16).fill(77)));
    expect(Array.from(out.data)).toEqual(new Array(16).fill(77));
  });
});
