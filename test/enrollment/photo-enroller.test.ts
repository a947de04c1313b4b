import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENROLLMENT_CONFIG } from '../../src/enrollment/config.js';
import { EnrollmentError } from '../../src/enrollment/errors.js';
import { PhotoEnroller } from '../../src/enrollment/photo-enroller.js';
import type { Embedder } from '../../src/model/embedder.js';
import { loadEmbedder } from '../../src/model/load.js';
import { silentLogger } from '../../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG, DEFAULT_QUALITY_CONFIG } from '../../src/vision/config.js';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import { FaceCropper } from '../../src/vision/face-cropper.js';
import type { Box, FaceLandmarks, FaceRegion } from '../../src/vision/image.js';
import { DEFAULT_PREPROCESS } from '../../src/vision/preprocess.js';
import { noisePhoto, orlPhoto, twoFacesPhoto } from './images.js';

// The real Haar detector (native OpenCV or its wasm build) and the committed model.
let detector: StoppableFaceDetector;
let embedder: Embedder;
let enroller: PhotoEnroller;

beforeAll(async () => {
  detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  embedder = await loadEmbedder('models/siamese', silentLogger());
  enroller = new PhotoEnroller({
    detector,
    embedder,
    cropper: new FaceCropper(null, { kind: 'box', ...DEFAULT_PREPROCESS, size: embedder.inputSize }),
    limits: DEFAULT_ENROLLMENT_CONFIG,
    logger: silentLogger(),
  });
});

afterAll(async () => {
  embedder?.dispose();
  await detector?.stop();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (err) {
    if (err instanceof EnrollmentError) return err.code;
    throw err;
  }
}

function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum);
}

describe('PhotoEnroller on real photos', () => {
  it('enrolls one ORL face from PNG and JPEG: a model-size crop and a finite embedding', async () => {
    for (const format of ['png', 'jpeg'] as const) {
      const face = await enroller.enrollPhoto(await orlPhoto(3, 1, format));
      expect(face.crop.width).toBe(embedder.inputSize);
      expect(face.crop.height).toBe(embedder.inputSize);
      expect(face.embedding.length).toBe(embedder.dimension);
      expect(face.embedding.every(Number.isFinite)).toBe(true);
      // The face is in the middle of the padded photo (30 px border at scale 3 = 90 px).
      expect(face.box.x).toBeGreaterThan(60);
      expect(face.box.y).toBeGreaterThan(60);
    }
  });

  it('embeds two photos of one person closer than photos of two people (on average)', async () => {
    const [a1, a2, b1] = await enroller.enrollPhotos([
      await orlPhoto(5, 1),
      await orlPhoto(5, 2),
      await orlPhoto(9, 1),
    ]);
    const [c1, c2, d1] = await enroller.enrollPhotos([
      await orlPhoto(12, 1),
      await orlPhoto(12, 3),
      await orlPhoto(20, 1),
    ]);
    const same = (distance(a1.embedding, a2.embedding) + distance(c1.embedding, c2.embedding)) / 2;
    const different = (distance(a1.embedding, b1.embedding) + distance(c1.embedding, d1.embedding)) / 2;
    expect(same).toBeLessThan(different);
  });

  it('refuses a photo without a face as no_face', async () => {
    expect(await codeOf(enroller.enrollPhoto(await noisePhoto()))).toBe('no_face');
  });

  it('refuses a photo with two people as several_faces', async () => {
    expect(await codeOf(enroller.enrollPhoto(await twoFacesPhoto([1, 1], [2, 1])))).toBe('several_faces');
  });

  it('refuses the whole batch when one photo has no face', async () => {
    const err = await enroller
      .enrollPhotos([await orlPhoto(4, 1), await noisePhoto()])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollmentError);
    expect((err as EnrollmentError).code).toBe('no_face');
    expect((err as EnrollmentError).message).toMatch(/photo 2 of 2/);
  });

  it('hands the one face (duplicate Haar boxes merged first) to the shared cropper', async () => {
    const seen: FaceRegion[] = [];
    const real = new FaceCropper(null, { kind: 'box', ...DEFAULT_PREPROCESS, size: embedder.inputSize });
    const located = new PhotoEnroller({
      detector,
      embedder,
      cropper: {
        geometry: real.geometry,
        crop: (image, faces) => {
          seen.push(...faces);
          return real.crop(image, faces);
        },
      },
      limits: DEFAULT_ENROLLMENT_CONFIG,
      logger: silentLogger(),
    });
    const face = await located.enrollPhoto(await orlPhoto(12, 1)); // the photo Haar reports twice
    expect(seen).toHaveLength(1);
    expect(seen[0].box).toEqual(face.box);
  });
});

describe('the live face rules at enrollment', () => {
  /** Five landmarks in `box`, the head turned by `yawDeg` (same construction as test/vision/face-rules.test.ts). */
  function turned(box: Box, yawDeg: number): FaceLandmarks {
    const yaw = (yawDeg * Math.PI) / 180;
    const s = box.width / 400;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height * 0.45;
    const p = (x: number, y: number, z: number) => ({
      x: cx + s * (x * Math.cos(yaw) + z * Math.sin(yaw)),
      y: cy + s * y,
    });
    const five = {
      leftEye: p(-80, -60, -70),
      rightEye: p(80, -60, -70),
      nose: p(0, 20, 0),
      mouthLeft: p(-55, 90, -65),
      mouthRight: p(55, 90, -65),
    };
    return { points: Object.values(five), five };
  }

  function withLandmarks(yawDeg: number): PhotoEnroller {
    // A cropper whose landmark model finds a head turned by yawDeg.
    const box = new FaceCropper(null, { kind: 'box', ...DEFAULT_PREPROCESS, size: embedder.inputSize });
    return new PhotoEnroller({
      detector,
      embedder,
      cropper: {
        geometry: box.geometry,
        crop: async (image, faces) =>
          (await box.crop(image, faces)).map((c) => ({
            ...c,
            region: { box: c.region.box, landmarks: turned(c.region.box, yawDeg) },
          })),
      },
      limits: DEFAULT_ENROLLMENT_CONFIG,
      rules: DEFAULT_QUALITY_CONFIG,
      logger: silentLogger(),
    });
  }

  it('refuses a face turned beyond maxYawDeg as face_turned with the measured yaw, and enrolls it frontal', async () => {
    const photo = await orlPhoto(15, 1);
    const err = await withLandmarks(40)
      .enrollPhoto(photo)
      .catch((e: unknown) => e as EnrollmentError);
    expect(err).toBeInstanceOf(EnrollmentError);
    expect((err as EnrollmentError).code).toBe('face_turned');
    expect((err as EnrollmentError).details).toMatchObject({ limit: DEFAULT_QUALITY_CONFIG.maxYawDeg });
    expect(Math.abs((err as EnrollmentError).details?.measured as number)).toBeGreaterThan(35);
    expect((err as EnrollmentError).hint).toMatch(/face the camera/);
    expect((await withLandmarks(0).enrollPhoto(photo)).embedding.length).toBe(embedder.dimension);
  });

  it('refuses a blurred photo as face_blurry (the live gate marks the same face poor)', async () => {
    const sharpPhoto = await orlPhoto(15, 2);
    const blurred = await sharp(sharpPhoto).blur(6).png().toBuffer();
    const err = await enroller.enrollPhoto(blurred).catch((e: unknown) => e as EnrollmentError);
    expect(err).toBeInstanceOf(EnrollmentError);
    expect((err as EnrollmentError).code).toBe('face_blurry');
    expect((err as EnrollmentError).hint).toMatch(/out of focus/);
    await expect(enroller.enrollPhoto(sharpPhoto)).resolves.toBeDefined();
  });
});
