import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegSource } from '../../src/camera/ffmpeg-source.js';
import { createFrameSource } from '../../src/camera/create-frame-source.js';
import { DEFAULT_CAMERA_CONFIG } from '../../src/camera/config.js';
import { decodeGrayFile } from '../../src/training/dataset.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../src/vision/config.js';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import type { GrayImage } from '../../src/vision/image.js';
import { decodeToGray, readGrayImage } from '../../src/vision/image-io.js';
import { preprocessFace } from '../../src/vision/preprocess.js';
import { REPO } from './scenes.js';

/**
 * The three ways a face reaches the model — training files (src/training/dataset.ts),
 * enrollment photos (decoded with sharp like image-io) and live frames (replay folder or
 * the ffmpeg pipe) — must give the same pixels and therefore the same crop.
 */
const SCENE = join(REPO, 'data', 'replay', '003.png'); // s36 in front of the door

async function ffmpegFrame(file: string, width: number, height: number): Promise<GrayImage> {
  const source = new FfmpegSource(
    { ...DEFAULT_CAMERA_CONFIG.ffmpeg, input: file, width, height, fps: 0, loop: false, realtime: false },
    systemClock,
    silentLogger(),
  );
  await source.start();
  try {
    return (await source.next()).image;
  } finally {
    await source.stop();
  }
}

function maxAbsDiff(a: GrayImage, b: GrayImage): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

let detector: StoppableFaceDetector;
let dir: string;
beforeAll(async () => {
  detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  dir = mkdtempSync(join(tmpdir(), 'facegate-entry-'));
});
afterAll(async () => {
  await detector.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('one preprocessing for training, enrollment and live frames', () => {
  it('a gray scene decodes to identical pixels through the training loader, image-io, the replay source and ffmpeg', async () => {
    const training = await decodeGrayFile(SCENE);
    const enrollment = await readGrayImage(SCENE);
    const replay = createFrameSource(
      { ...DEFAULT_CAMERA_CONFIG, path: join(REPO, 'data', 'replay'), fps: 0 },
      systemClock,
      silentLogger(),
    );
    await replay.start();
    const liveReplay = (await replay.next()).image; // 000.png: the first frame
    await replay.stop();
    const liveFfmpeg = await ffmpegFrame(SCENE, 640, 480);
    expect(Buffer.from(enrollment.data).equals(Buffer.from(training.data))).toBe(true);
    expect(Buffer.from(liveFfmpeg.data).equals(Buffer.from(training.data))).toBe(true);
    expect(
      Buffer.from(liveReplay.data).equals(
        Buffer.from((await decodeGrayFile(join(REPO, 'data', 'replay', '000.png'))).data),
      ),
    ).toBe(true);

    // Same pixels → same boxes → the same crop, bit for bit.
    const boxes = await detector.detect(training);
    expect(boxes).toHaveLength(1);
    expect(await detector.detect(liveFfmpeg)).toEqual(boxes);
    const crops = [training, enrollment, liveFfmpeg].map((img) => preprocessFace(img, { box: boxes[0] }));
    expect(Buffer.from(crops[1].data).equals(Buffer.from(crops[0].data))).toBe(true);
    expect(Buffer.from(crops[2].data).equals(Buffer.from(crops[0].data))).toBe(true);
  });

  it('a training PGM decodes identically through the training loader and image-io', async () => {
    const file = join(REPO, 'data', 'olivetti', 's36', '1.pgm');
    const a = preprocessFace(await decodeGrayFile(file), null);
    const b = preprocessFace(await readGrayImage(file), null);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  });

  it('colour photos: sharp (training, enrollment) and ffmpeg (camera) gray agree within a few levels', async () => {
    // A colour picture: the ORL face tinted, on a saturated colour gradient.
    const face = await readGrayImage(join(REPO, 'data', 'orl_faces', 's37', '4.pgm'));
    const w = 184;
    const h = 224;
    const rgb = Buffer.alloc(w * h * 3);
    const big = preprocessFace(face, null, {
      size: 224,
      marginX: 0,
      marginTop: 0,
      marginBottom: 0,
      equalize: false,
    });
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = big.data[y * 224 + Math.min(223, x + 20)];
        const i = (y * w + x) * 3;
        rgb[i] = Math.min(255, v + (x % 64));
        rgb[i + 1] = Math.round(v * 0.8);
        rgb[i + 2] = Math.min(255, v * 0.6 + y / 4);
      }
    }
    const file = join(dir, 'colour.png');
    writeFileSync(
      file,
      await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toBuffer(),
    );
    const bySharp = await decodeToGray(await sharp(file).toBuffer());
    const byTraining = await decodeGrayFile(file);
    const byFfmpeg = await ffmpegFrame(file, w, h);
    expect(Buffer.from(bySharp.data).equals(Buffer.from(byTraining.data))).toBe(true);
    // ffmpeg and libvips use slightly different RGB→luma weights and rounding.
    expect(maxAbsDiff(byFfmpeg, bySharp)).toBeLessThanOrEqual(4);
  });
});
