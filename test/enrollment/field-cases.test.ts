import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENROLLMENT_CONFIG } from '../../src/enrollment/config.js';
import { EnrollmentError } from '../../src/enrollment/errors.js';
import { PhotoEnroller } from '../../src/enrollment/photo-enroller.js';
import {
  loadPretrainedEmbedder,
  type PretrainedSiameseEmbedder,
} from '../../src/model/pretrained/embedder.js';
import { createFaceCropper } from '../../src/model/face-path.js';
import { silentLogger } from '../../src/util/log.js';
import type { FaceCropper } from '../../src/vision/face-cropper.js';
import { DEFAULT_DETECTOR_CONFIG, DEFAULT_QUALITY_CONFIG } from '../../src/vision/config.js';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import { CANONICAL_CHIP } from '../../src/vision/face-chip.js';
import { resampleRect } from '../../src/vision/preprocess.js';
import { QualityGate } from '../../src/vision/quality.js';
import { describeWithShared, sharedDataPath } from '../helpers/shared-data.js';
import { noisePhoto, orlPath, readPgm } from './images.js';

// Two of the enrollment field cases (../shared/field-cases/README.md): the tiny photo and
// the ID-badge tight crop, each on the field-case file (when present) and on a committed
// synthetic equivalent built from the ORL faces. The real Haar detector, the daemon's default
// model (faceapi) and the default face rules. "Same face, two ids" is in duplicates.test.ts.

let detector: StoppableFaceDetector;
let embedder: PretrainedSiameseEmbedder;
let enroller: PhotoEnroller;
let cropper: FaceCropper;

beforeAll(async () => {
  detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  embedder = await loadPretrainedEmbedder('models/faceapi-siamese', silentLogger());
  cropper = await createFaceCropper(embedder.crop, 'models/landmarks/faceapi-68', silentLogger());
  enroller = new PhotoEnroller({
    detector,
    embedder,
    cropper,
    limits: DEFAULT_ENROLLMENT_CONFIG,
    rules: DEFAULT_QUALITY_CONFIG,
    logger: silentLogger(),
  });
}, 60_000);

afterAll(async () => {
  embedder?.dispose();
  cropper?.dispose();
  await detector?.stop();
});

async function refusal(photo: Uint8Array): Promise<EnrollmentError> {
  const err = await enroller.enrollPhoto(photo).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof EnrollmentError)) throw new Error(`expected a refusal, got ${String(err)}`);
  return err;
}

/** An ORL face resized to `width` x `height` (46x56 is half the 92x112 original), as JPEG. */
async function orlResized(subject: number, shot: number, width: number, height: number): Promise<Buffer> {
  const img = readPgm(orlPath(subject, shot));
  return sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 1 } })
    .resize(width, height)
    .jpeg({ quality: 90 })
    .toBuffer();
}

/**
 * An ID-badge crop of an ORL face: forehead cut 40 rows down, chin cut 10 rows up, 12 px off
 * each side (70x62 of the 92x112 original), enlarged 4x like a badge photo (280x248).
 */
async function tightCrop(subject: number, shot: number): Promise<Buffer> {
  const img = readPgm(orlPath(subject, shot));
  const rect = { x: 12, y: 40, width: 68, height: 62 };
  const tight = resampleRect(img, rect, rect.width * 4, rect.height * 4);
  return sharp(Buffer.from(tight.data), { raw: { width: tight.width, height: tight.height, channels: 1 } })
    .jpeg({ quality: 92 })
    .toBuffer();
}

function expectTooSmall(err: EnrollmentError): void {
  expect(err.code).toBe('face_too_small');
  // The measured size and the minimum, which is the live gate's minimum.
  expect(err.details).toMatchObject({ limit: DEFAULT_QUALITY_CONFIG.minFacePixels });
  expect(err.details?.measured as number).toBeLessThan(DEFAULT_QUALITY_CONFIG.minFacePixels);
  expect(err.message).toMatch(new RegExp(`at least ${DEFAULT_QUALITY_CONFIG.minFacePixels} px`));
  expect(err.hint).toMatch(/never enlarged/);
}

describe('field case "tiny enrollment photo": refused as face_too_small, never upscaled', () => {
  it('refuses a 46x56 ORL face with the measured size and the live minimum (synthetic)', async () => {
    const err = await refusal(await orlResized(7, 1, 46, 56));
    expectTooSmall(err);
    // The live gate refuses a face box of that size for the same reason.
    const frame = { width: 640, height: 480, data: new Uint8Array(640 * 480) };
    const gate = new QualityGate({ ...DEFAULT_QUALITY_CONFIG, minFaceFraction: 0 });
    const box = { x: 300, y: 200, width: err.details!.measured as number, height: 56 };
    expect(gate.assess(frame, [box]).rejected[0].reason).toBe('too_small');
  });

  it('enrolls the same face at its full 92x112 size: the refusal is about size', async () => {
    const face = await enroller.enrollPhoto(await orlResized(7, 1, 92, 112));
    expect(face.box.width).toBeGreaterThanOrEqual(DEFAULT_QUALITY_CONFIG.minFacePixels);
    expect(face.embedding.every(Number.isFinite)).toBe(true);
  });

  it('refuses a photo smaller than the minimum face before any detection, with the photo size', async () => {
    const err = await refusal(await orlResized(7, 1, 30, 36));
    expectTooSmall(err);
    expect(err.message).toMatch(/30x36/);
  });
});

describeWithShared(['field-cases', 'enroll', 'tiny_face.jpg'], 'field case file tiny_face.jpg', () => {
  it('is refused as face_too_small', async () => {
    expectTooSmall(await refusal(readFileSync(sharedDataPath('field-cases', 'enroll', 'tiny_face.jpg'))));
  });
});

describe('field case "tight crop": padded and retried, or no_face with a hint', () => {
  it('finds the face of ID-badge crops the detector misses as they are (synthetic)', async () => {
    // Subjects whose tight crop Haar misses without a border (checked below, so the padding is what finds them).
    let missedRaw = 0;
    let enrolled = 0;
    for (const subject of [3, 9, 14, 21, 33]) {
      const photo = await tightCrop(subject, 1);
      const raw = await detector.detect(await enroller.decode(photo));
      if (raw.length > 0) continue;
      missedRaw++;
      const face = await enroller.enrollPhoto(photo);
      expect(face.crop.width).toBe(CANONICAL_CHIP.size); // the stored canonical chip
      enrolled++;
    }
    expect(missedRaw).toBeGreaterThanOrEqual(3);
    expect(enrolled).toBe(missedRaw);
  });

  it('answers no_face with a hint about the background when there is still no face', async () => {
    const err = await refusal(await noisePhoto());
    expect(err.code).toBe('no_face');
    expect(err.message).toMatch(/border/);
    expect(err.hint).toMatch(/some background around it/);
    expect(err.hint).toMatch(/fills the whole photo/);
  });
});

describeWithShared(
  ['field-cases', 'enroll', 'edge_tight_face.jpg'],
  'field case file edge_tight_face.jpg',
  () => {
    it('is enrolled after padding', async () => {
      const bytes = readFileSync(sharedDataPath('field-cases', 'enroll', 'edge_tight_face.jpg'));
      expect(await detector.detect(await enroller.decode(bytes))).toEqual([]);
      const face = await enroller.enrollPhoto(bytes);
      expect(face.crop.width).toBe(CANONICAL_CHIP.size); // the stored canonical chip
    });
  },
);
