import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ENROLLMENT_CONFIG } from '../../src/enrollment/config.js';
import { EnrollmentError } from '../../src/enrollment/errors.js';
import { PhotoEnroller, distinctFaces, sniffPhotoFormat } from '../../src/enrollment/photo-enroller.js';
import type { Embedder } from '../../src/model/embedder.js';
import { silentLogger } from '../../src/util/log.js';
import type { FaceDetector } from '../../src/vision/detector.js';
import { FaceCropper } from '../../src/vision/face-cropper.js';
import { DEFAULT_PREPROCESS } from '../../src/vision/preprocess.js';
import { bombPng, orlPhoto } from './images.js';

// Validation must refuse bad photos before the detector or the network ever sees them,
// so these stand-ins fail the test if they are reached.
const unreachableDetector: FaceDetector = {
  name: 'must-not-run',
  detect: () => Promise.reject(new Error('detector reached with an invalid photo')),
};
const unreachableEmbedder: Embedder = {
  modelId: 'must-not-run',
  dimension: 128,
  inputSize: 64,
  head: { weight: -1, bias: 1 },
  embed: () => Promise.reject(new Error('embedder reached with an invalid photo')),
  dispose: () => undefined,
};

function enroller(limits: Partial<typeof DEFAULT_ENROLLMENT_CONFIG> = {}): PhotoEnroller {
  return new PhotoEnroller({
    detector: unreachableDetector,
    embedder: unreachableEmbedder,
    cropper: new FaceCropper(null, { kind: 'box', ...DEFAULT_PREPROCESS }),
    limits: { ...DEFAULT_ENROLLMENT_CONFIG, ...limits },
    logger: silentLogger(),
  });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof EnrollmentError) return err.code;
    throw err;
  }
  return 'accepted';
}

describe('PhotoEnroller photo validation', () => {
  it('sniffs JPEG and PNG by magic bytes only', async () => {
    expect(sniffPhotoFormat(await orlPhoto(1, 1, 'png'))).toBe('png');
    expect(sniffPhotoFormat(await orlPhoto(1, 1, 'jpeg'))).toBe('jpeg');
    expect(sniffPhotoFormat(Buffer.from('GIF89a....'))).toBeNull();
    expect(sniffPhotoFormat(new Uint8Array(0))).toBeNull();
  });

  it('decodes a PNG and a JPEG to one gray channel at working size', async () => {
    const e = enroller({ workingMaxSide: 200 });
    for (const format of ['png', 'jpeg'] as const) {
      const img = await e.decode(await orlPhoto(1, 1, format)); // 456x516 before shrinking
      expect(Math.max(img.width, img.height)).toBe(200);
      expect(img.data.length).toBe(img.width * img.height);
    }
  });

  it('refuses a photo over the byte limit as too_large', async () => {
    const png = await orlPhoto(1, 1, 'png');
    expect(await codeOf(enroller({ maxImageBytes: png.length - 1 }).decode(png))).toBe('too_large');
  });

  it('refuses other formats and garbage as not_an_image', async () => {
    const webp = await sharp(await orlPhoto(1, 1, 'png'))
      .webp()
      .toBuffer();
    const gif = await sharp(await orlPhoto(1, 1, 'png'))
      .gif()
      .toBuffer();
    expect(await codeOf(enroller().decode(webp))).toBe('not_an_image');
    expect(await codeOf(enroller().decode(gif))).toBe('not_an_image');
    expect(await codeOf(enroller().decode(Buffer.from('hello world')))).toBe('not_an_image');
    // The right magic bytes with nothing behind them.
    expect(await codeOf(enroller().decode(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0])))).toBe('not_an_image');
  });

  it('refuses a truncated JPEG as not_an_image', async () => {
    const jpeg = await orlPhoto(2, 3, 'jpeg');
    expect(await codeOf(enroller().decode(jpeg.subarray(0, Math.floor(jpeg.length / 2))))).toBe(
      'not_an_image',
    );
  });

  it('refuses a decompression bomb by its header as image_too_big', async () => {
    const bomb = bombPng(20_000); // 400 Mpixel in a few tens of KB
    expect(bomb.length).toBeLessThan(DEFAULT_ENROLLMENT_CONFIG.maxImageBytes);
    const before = process.memoryUsage().rss;
    expect(await codeOf(enroller().decode(bomb))).toBe('image_too_big');
    // It was never decoded: far less than the 400 MB a decode would take.
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('refuses a photo wider than maxImageDimension even under the pixel budget', async () => {
    const wide = await sharp({ create: { width: 3000, height: 10, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    expect(await codeOf(enroller({ maxImageDimension: 2000 }).decode(wide))).toBe('image_too_big');
  });

  it('names the photo that failed in a multi-photo request and embeds nothing', async () => {
    const good = await orlPhoto(1, 1);
    const err = await enroller()
      .enrollPhotos([good, Buffer.from('nope')])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollmentError);
    expect((err as EnrollmentError).message).toMatch(/photo 2 of 2/);
  });
});

describe('distinctFaces', () => {
  it('merges a duplicate Haar box of one face (as on ORL s12/1) but keeps two side-by-side faces', () => {
    const face = { x: 80, y: 140, width: 291, height: 290 };
    const duplicate = { x: 0, y: 148, width: 266, height: 285 };
    expect(distinctFaces([duplicate, face])).toEqual([face]);
    const neighbour = { x: 400, y: 150, width: 280, height: 280 };
    expect(distinctFaces([face, neighbour])).toHaveLength(2);
    expect(distinctFaces([])).toEqual([]);
  });
});

describe('every photo refusal carries a hint for the admin', () => {
  it('too_large, not_an_image and image_too_big say what to send instead', async () => {
    const png = await orlPhoto(1, 1);
    const refusals = await Promise.all(
      [
        enroller({ maxImageBytes: png.length - 1 }).decode(png),
        enroller().decode(Buffer.from('hello world')),
        enroller().decode(bombPng()),
      ].map((p) =>
        p.then(
          () => null,
          (e: unknown) => e as EnrollmentError,
        ),
      ),
    );
    expect(refusals.map((e) => e?.code)).toEqual(['too_large', 'not_an_image', 'image_too_big']);
    for (const e of refusals) expect(e?.hint, e?.code).toMatch(/\w{3,}/);
    expect(refusals[0]?.details).toEqual({ measured: png.length, limit: png.length - 1 });
  });
});
