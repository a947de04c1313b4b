import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { normalizePhoto, PhotoNormalizeError } from '../../src/enrollment/photo-normalize.js';
import { orlPhoto } from './images.js';

// What the admin tool does to a photo before sending it: EXIF rotation applied, scaled
// down to what the door uses, re-encoded as JPEG (an ordinary phone photo then fits the
// request limit).
describe('normalizePhoto', () => {
  it('applies the EXIF rotation of a large sideways phone-style photo and scales it to 1024 px', async () => {
    // Stored 4000x3000 (landscape) with Orientation 6: shown as 3000x4000 portrait.
    // The top-left quarter is red, so after the 90° clockwise turn red is at the top right.
    const stored = await sharp({
      create: { width: 4000, height: 3000, channels: 3, background: { r: 40, g: 90, b: 160 } },
    })
      .composite([
        {
          input: await sharp({
            create: { width: 2000, height: 1500, channels: 3, background: { r: 255, g: 0, b: 0 } },
          })
            .png()
            .toBuffer(),
          left: 0,
          top: 0,
        },
      ])
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const photo = await normalizePhoto(stored);
    expect(photo.orientation).toBe(6);
    expect([photo.width, photo.height]).toEqual([768, 1024]);
    const meta = await sharp(photo.jpeg).metadata();
    expect(meta.format).toBe('jpeg');
    expect([meta.width, meta.height]).toEqual([768, 1024]);
    expect(meta.orientation ?? 1).toBe(1); // the rotation is in the pixels now, not in a tag
    const { data, info } = await sharp(photo.jpeg).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels];
    expect(at(info.width - 50, 50)).toBeGreaterThan(200); // red: top right
    expect(at(50, 50)).toBeLessThan(100); // blue-ish: top left
    expect(photo.jpeg.length).toBeLessThan(stored.length);
  });

  it('never enlarges a small photo', async () => {
    const input = await orlPhoto(3, 1, 'png');
    const { width, height } = await sharp(input).metadata();
    expect(Math.max(width, height)).toBeLessThan(1024);
    const photo = await normalizePhoto(input);
    expect([photo.width, photo.height]).toEqual([width, height]);
    expect((await sharp(photo.jpeg).metadata()).format).toBe('jpeg');
  });

  it('refuses bytes that are not an image, and a bad maxSide', async () => {
    await expect(normalizePhoto(Buffer.from('not an image'))).rejects.toBeInstanceOf(PhotoNormalizeError);
    await expect(normalizePhoto(await orlPhoto(3, 1), { maxSide: 10 })).rejects.toThrow(/maxSide/);
  });
});
