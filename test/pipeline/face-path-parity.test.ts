import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame, FrameSource } from '../../src/camera/frame-source.js';
import { DEFAULT_ENROLLMENT_CONFIG } from '../../src/enrollment/config.js';
import { PhotoEnroller } from '../../src/enrollment/photo-enroller.js';
import { chooseBackend } from '../../src/model/backend.js';
import { createFaceCropper } from '../../src/model/face-path.js';
import {
  loadPretrainedEmbedder,
  type PretrainedSiameseEmbedder,
} from '../../src/model/pretrained/embedder.js';
import { euclidean } from '../../src/model/pretrained/head.js';
import { FacegateMetrics } from '../../src/ops/metrics.js';
import { LiveLoop } from '../../src/pipeline/live-loop.js';
import { storedFaceToInput } from '../../src/pipeline/gallery-maintenance.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG, DEFAULT_QUALITY_CONFIG } from '../../src/vision/config.js';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import type { CroppedFace, FaceCropper } from '../../src/vision/face-cropper.js';
import type { GrayImage } from '../../src/vision/image.js';
import { QualityGate } from '../../src/vision/quality.js';
import { orlPhoto } from '../enrollment/images.js';
import { RecordingSink } from '../fakes/events.js';

/**
 * ONE face path: a photo enrolled through PhotoEnroller and the same picture seen by the
 * live loop give the same crop and the same embedding (the same FaceCropper object, the
 * committed landmark model and pretrained network, the real Haar detector). And the
 * gallery's stored chip re-embeds to the same input.
 */
let detector: StoppableFaceDetector;
let embedder: PretrainedSiameseEmbedder;
let cropper: FaceCropper;

beforeAll(async () => {
  await chooseBackend('wasm', silentLogger());
  detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  embedder = await loadPretrainedEmbedder('models/faceapi-siamese', silentLogger());
  cropper = await createFaceCropper(embedder.crop, 'models/landmarks/faceapi-68', silentLogger());
});

afterAll(async () => {
  await detector?.stop();
  embedder?.dispose();
  cropper?.dispose();
});

/** Gives one frame, then waits until stopped. */
class OneFrame implements FrameSource {
  readonly name = 'one-frame';
  private given = false;
  private release: ((e: Error) => void) | null = null;
  constructor(private readonly image: GrayImage) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.release?.(new Error('stopped'));
  }
  next(): Promise<Frame> {
    if (!this.given) {
      this.given = true;
      return Promise.resolve({ image: this.image, timestampMs: 0, seq: 1 });
    }
    return new Promise((_, reject) => (this.release = reject));
  }
}

describe('one face path for enrollment and the live loop', () => {
  it('gives the same crop and embedding for one photo, and the stored chip re-embeds to it', async () => {
    const bytes = await orlPhoto(37, 4, 'jpeg');
    const enroller = new PhotoEnroller({
      detector,
      embedder,
      cropper,
      limits: DEFAULT_ENROLLMENT_CONFIG,
      logger: silentLogger(),
    });
    const enrolled = await enroller.enrollPhoto(bytes);
    expect(enrolled.alignment).toBe('landmarks');

    // The live loop sees the same picture (decoded as enrollment decodes it) as a camera frame.
    const frame = await enroller.decode(bytes);
    const liveCrops: CroppedFace[] = [];
    const liveEmbeddings: Float32Array[] = [];
    const loop = new LiveLoop({
      source: new OneFrame(frame),
      detector,
      gate: new QualityGate({ ...DEFAULT_QUALITY_CONFIG, minSharpness: 0 }),
      cropper: {
        crop: async (image, faces) => {
          const out = await cropper.crop(image, faces);
          liveCrops.push(...out);
          return out;
        },
      },
      embedder,
      matcher: {
        match: (e) => {
          liveEmbeddings.push(e);
          return null;
        },
      },
      policy: { observe: () => [] },
      actuator: { act: async () => {} },
      events: new RecordingSink(),
      metrics: new FacegateMetrics({ defaultMetrics: false }),
      clock: systemClock,
      logger: silentLogger(),
    });
    loop.start();
    const end = Date.now() + 60_000;
    while (loop.counters.processed < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await loop.stop();

    expect(liveCrops).toHaveLength(1);
    expect(liveCrops[0].alignment).toBe('landmarks');
    // The canonical chip enrollment stores is byte-identical to the live one...
    expect(Buffer.from(enrolled.crop.data).equals(Buffer.from(liveCrops[0].chip!.image.data))).toBe(true);
    // ... so is the model input cut from it (what re-embedding a gallery does) ...
    const reembedded = storedFaceToInput(enrolled.crop, embedder.crop);
    expect(reembedded.faithful).toBe(true);
    expect(Buffer.from(reembedded.input.data).equals(Buffer.from(liveCrops[0].input.data))).toBe(true);
    // ... and the embeddings agree.
    expect(liveEmbeddings).toHaveLength(1);
    expect(euclidean(enrolled.embedding, liveEmbeddings[0])).toBeLessThan(1e-4);
  });
});
