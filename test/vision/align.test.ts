import { describe, expect, it } from 'vitest';
import {
  alignFace,
  eyeAlignTransform,
  toOutput,
  warpSimilarity,
  type AlignTarget,
} from '../../src/vision/align.js';
import { createGrayImage, type GrayImage, type Point } from '../../src/vision/image.js';

const TARGET: AlignTarget = { size: 150, leftEye: { x: 0.32, y: 0.34 }, rightEye: { x: 0.68, y: 0.34 } };

/** A bright image with two dark discs (the "eyes") of radius r at the given centres. */
function twoBlobs(width: number, height: number, a: Point, b: Point, r: number): GrayImage {
  const data = new Uint8Array(width * height).fill(220);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      if (Math.hypot(px - a.x, py - a.y) <= r || Math.hypot(px - b.x, py - b.y) <= r)
        data[y * width + x] = 20;
    }
  }
  return createGrayImage(width, height, data);
}

/** Darkness-weighted centroid of the dark pixels in the left or right half. */
function darkCentroid(image: GrayImage, half: 'left' | 'right'): Point {
  let sx = 0;
  let sy = 0;
  let n = 0;
  const x0 = half === 'left' ? 0 : image.width / 2;
  for (let y = 0; y < image.height; y++) {
    for (let x = Math.floor(x0); x < x0 + image.width / 2; x++) {
      const w = Math.max(0, 200 - image.data[y * image.width + x]);
      sx += w * (x + 0.5);
      sy += w * (y + 0.5);
      n += w;
    }
  }
  return { x: sx / n, y: sy / n };
}

describe('eye alignment warp', () => {
  it('maps the eyes exactly onto the target positions', () => {
    const eyes = { left: { x: 40.5, y: 70.25 }, right: { x: 95, y: 52 } };
    const t = eyeAlignTransform(eyes, TARGET);
    const l = toOutput(t, eyes.left);
    const r = toOutput(t, eyes.right);
    expect(l.x).toBeCloseTo(TARGET.leftEye.x * 150, 6);
    expect(l.y).toBeCloseTo(TARGET.leftEye.y * 150, 6);
    expect(r.x).toBeCloseTo(TARGET.rightEye.x * 150, 6);
    expect(r.y).toBeCloseTo(TARGET.rightEye.y * 150, 6);
  });

  it('levels a tilted, off-centre pair of dark blobs and puts them at the targets', () => {
    // Eyes 62 px apart, tilted by ~17 degrees, in a 200x160 image.
    const left = { x: 60, y: 70 };
    const right = { x: 119.3, y: 88.1 };
    const image = twoBlobs(200, 160, left, right, 6);
    const out = alignFace(image, { left, right }, TARGET);
    expect(out.width).toBe(150);
    expect(out.height).toBe(150);
    const l = darkCentroid(out, 'left');
    const r = darkCentroid(out, 'right');
    expect(Math.abs(l.x - TARGET.leftEye.x * 150)).toBeLessThan(0.75);
    expect(Math.abs(l.y - TARGET.leftEye.y * 150)).toBeLessThan(0.75);
    expect(Math.abs(r.x - TARGET.rightEye.x * 150)).toBeLessThan(0.75);
    expect(Math.abs(r.y - TARGET.rightEye.y * 150)).toBeLessThan(0.75);
  });

  it('shrinks a large face without aliasing away the blobs (supersampled)', () => {
    const left = { x: 300, y: 400 };
    const right = { x: 700, y: 400 };
    const image = twoBlobs(1000, 900, left, right, 40);
    const out = alignFace(
      image,
      { left, right },
      { size: 64, leftEye: { x: 0.3, y: 0.4 }, rightEye: { x: 0.7, y: 0.4 } },
    );
    const l = darkCentroid(out, 'left');
    expect(Math.abs(l.x - 0.3 * 64)).toBeLessThan(0.5);
    expect(Math.abs(l.y - 0.4 * 64)).toBeLessThan(0.5);
    // The disc (radius 40 src px = 2.56 out px) keeps a dark core.
    expect(out.data[Math.floor(0.4 * 64) * 64 + Math.floor(0.3 * 64)]).toBeLessThan(60);
  });

  it('is the identity when the eyes already sit at the targets', () => {
    const data = new Uint8Array(150 * 150);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    const image = createGrayImage(150, 150, data);
    const eyes = { left: { x: 0.32 * 150, y: 0.34 * 150 }, right: { x: 0.68 * 150, y: 0.34 * 150 } };
    const out = alignFace(image, eyes, TARGET);
    expect(Buffer.from(out.data).equals(Buffer.from(data))).toBe(true);
  });

  it('repeats the border outside the source instead of reading garbage', () => {
    const image = createGrayImage(4, 4, new Uint8Array(16).fill(77));
    const out = warpSimilarity(image, { a: 3, b: 0, tx: -50, ty: -50 }, 10, 10);
    expect([...out.data].every((v) => v === 77)).toBe(true);
  });

  it('rejects coincident eyes and bad targets', () => {
    const image = createGrayImage(10, 10);
    expect(() => alignFace(image, { left: { x: 5, y: 5 }, right: { x: 5, y: 5 } }, TARGET)).toThrow(
      /coincide/,
    );
    expect(() =>
      alignFace(
        image,
        { left: { x: 2, y: 5 }, right: { x: 8, y: 5 } },
        { ...TARGET, rightEye: { x: 0.2, y: 0.3 } },
      ),
    ).toThrow(/right of the left/);
    expect(() =>
      alignFace(image, { left: { x: 2, y: 5 }, right: { x: 8, y: 5 } }, { ...TARGET, size: 3 }),
    ).toThrow(/size/);
  });
});
