import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApproachScript, DEFAULT_APPROACH_OPTIONS } from '../../src/bench/approaches.js';
import { Matcher } from '../../src/gallery/matcher.js';
import { chooseBackend } from '../../src/model/backend.js';
import type { ModelConfig } from '../../src/model/config.js';
import type { Embedder } from '../../src/model/embedder.js';
import { cropGeometryOf } from '../../src/model/embedder.js';
import { createFaceCropper } from '../../src/model/face-path.js';
import { FaceWorker, FaceWorkerError } from '../../src/pipeline/face-worker.js';
import { LiveLoop } from '../../src/pipeline/live-loop.js';
import { FacegateMetrics } from '../../src/ops/metrics.js';
import { systemClock } from '../../src/util/clock.js';
import { RecordingSink } from '../fakes/events.js';
import { TimerFrameSource } from '../fakes/pipeline.js';
import { loadModelFor } from '../../src/pipeline/load-model.js';
import { silentLogger } from '../../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../src/vision/config.js';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import type { FaceCropper } from '../../src/vision/face-cropper.js';
import type { GrayImage } from '../../src/vision/image.js';
import { readPgm, orlPath } from '../enrollment/images.js';

/**
 * The face worker (TF.js in a worker thread) against the in-process path, with the committed
 * landmark model and pretrained network, the real Haar detector and door-scene frames of the
 * bench (ORL photos 4-10 composed into 640x480 frames).
 */
const model: ModelConfig = {
  path: 'models/siamese',
  backbone: 'faceapi',
  pretrainedPath: 'models/faceapi-siamese',
  tfBackend: 'wasm',
};
const LANDMARKS = 'models/landmarks/faceapi-68';

let embedder: Embedder;
let cropper: FaceCropper;
let detector: StoppableFaceDetector;
let script: ApproachScript;
const workers: FaceWorker[] = [];

function newWorker(expectModelId = embedder.modelId): FaceWorker {
  const w = new FaceWorker({
    init: { model, landmarkDir: LANDMARKS, expectModelId, logLevel: 'silent' },
    logger: silentLogger(),
  });
  workers.push(w);
  return w;
}

/** Frames of the scene with a person in them, each with its Haar boxes. */
async function faceFrames(
  n: number,
): Promise<
  { image: GrayImage; boxes: { box: { x: number; y: number; width: number; height: number } }[] }[]
> {
  const out = [];
  for (const a of script.approaches) {
    for (let i = a.firstFrame + 5; i < a.firstFrame + a.frames && out.length < n; i += 9) {
      const image = script.render(i);
      const boxes = await detector.detect(image);
      if (boxes.length > 0) out.push({ image, boxes: boxes.map((box) => ({ box })) });
    }
  }
  return out;
}

beforeAll(async () => {
  await chooseBackend('wasm', silentLogger());
  embedder = await loadModelFor(model, silentLogger());
  cropper = await createFaceCropper(cropGeometryOf(embedder), LANDMARKS, silentLogger());
  detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  script = await ApproachScript.load({
    ...DEFAULT_APPROACH_OPTIONS,
    orlDir: 'data/orl_faces',
    approaches: 2,
  });
}, 120_000);

afterAll(async () => {
  for (const w of workers) await w.stop();
  embedder?.dispose();
  cropper?.dispose();
  await detector?.stop();
});

describe('FaceWorker', () => {
  it('gives the same landmarks, embeddings and matches as the in-process path on real frames', async () => {
    const frames = await faceFrames(6);
    expect(frames.length).toBeGreaterThanOrEqual(4);
    // A gallery of the two employees from their enrollment photos 1-3.
    const matcher = new Matcher(embedder.head, embedder.dimension);
    const entries = [];
    for (const s of [36, 37])
      for (const shot of [1, 2, 3]) {
        const face = await cropper.cropWhole(readPgm(orlPath(s, shot)));
        const [vector] = await embedder.embed([face.input]);
        entries.push({ personId: `s${s}`, personName: `s${s}`, vector });
      }
    matcher.rebuild(entries);

    const worker = newWorker();
    await worker.start();
    for (const { image, boxes } of frames) {
      const crops = await cropper.crop(image, boxes);
      const local = await embedder.embed(crops.map((c) => c.input));
      const before = Buffer.from(image.data);
      const remote = await worker.encode(image, boxes);
      // The frame stays the caller's, untouched (a replay source hands out the same cached
      // image again on its next loop): the worker read a copy in its shared slot.
      expect(image.data.byteLength).toBe(image.width * image.height);
      expect(Buffer.from(image.data).equals(before)).toBe(true);
      expect(remote.image).toBe(image);
      expect(remote.crops.map((c) => c.alignment)).toEqual(crops.map((c) => c.alignment));
      expect(remote.crops.map((c) => c.region)).toEqual(crops.map((c) => c.region));
      expect(remote.embeddings).toHaveLength(local.length);
      remote.embeddings.forEach((e, i) => {
        let d = 0;
        for (let k = 0; k < e.length; k++) d = Math.max(d, Math.abs(e[k] - local[i][k]));
        expect(d).toBeLessThan(1e-5);
        const a = matcher.match(local[i]);
        const b = matcher.match(e);
        expect(b?.best.personId).toBe(a?.best.personId);
        expect(b?.best.similarity).toBeCloseTo(a?.best.similarity ?? 0, 5);
      });
    }
  }, 180_000);

  it('keeps its own tensor count flat over many frames', async () => {
    const frames = await faceFrames(3);
    const worker = newWorker();
    await worker.start();
    const counts: number[] = [];
    for (let i = 0; i < 30; i++) {
      const f = frames[i % frames.length];
      await worker.encode(f.image, f.boxes);
      counts.push(worker.tensors ?? -1);
    }
    expect(counts[0]).toBeGreaterThan(0);
    expect(new Set(counts.slice(2)).size).toBe(1);
    expect(counts[counts.length - 1]).toBe(counts[2]);
  }, 180_000);

  it('refuses to start with other weights than the daemon runs, with the reason', async () => {
    const worker = newWorker('some-other-model-0000000000000000');
    await expect(worker.start()).rejects.toThrow(/not the same weights/);
    expect(worker.running).toBe(false);
    // encode() then fails as a stage error (the loop counts it) and does not respawn at once.
    const image = { width: 8, height: 8, data: new Uint8Array(64) };
    await expect(worker.encode(image, [])).rejects.toBeInstanceOf(FaceWorkerError);
  }, 120_000);

  it('a worker that dies fails the frame in flight; the next frame starts a new one; stop() ends the thread', async () => {
    const [frame] = await faceFrames(1);
    const worker = newWorker();
    await worker.start();
    const pending = worker.encode(frame.image, frame.boxes);
    // Kill the thread behind the client's back (a crash in the wasm runtime, say).
    await (worker as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(pending).rejects.toBeInstanceOf(FaceWorkerError);
    expect(worker.running).toBe(false);
    const again = await worker.encode(frame.image, frame.boxes);
    expect(again.embeddings).toHaveLength(frame.boxes.length);
    expect(worker.running).toBe(true);
    await worker.stop();
    expect(worker.running).toBe(false);
    await expect(worker.encode(frame.image, frame.boxes)).rejects.toThrow(/stopped/);
  }, 180_000);

  it('refuses more frames in flight than its bound instead of queueing them', async () => {
    const [frame] = await faceFrames(1);
    const worker = new FaceWorker({
      init: { model, landmarkDir: LANDMARKS, expectModelId: embedder.modelId, logLevel: 'silent' },
      logger: silentLogger(),
      maxInFlight: 1,
    });
    workers.push(worker);
    await worker.start();
    const first = worker.encode(frame.image, frame.boxes);
    await expect(worker.encode(frame.image, frame.boxes)).rejects.toThrow(/busy/);
    await expect(first).resolves.toMatchObject({ crops: expect.any(Array) });
    await worker.stop();
  }, 120_000);

  it("in the live loop: a worker that cannot start is the loop's embed-stage error (no frame passes); stop() ends the thread", async () => {
    const worker = newWorker('some-other-model-0000000000000000');
    const metrics = new FacegateMetrics({ defaultMetrics: false });
    const source = new TimerFrameSource(10, () => 1);
    const loop = new LiveLoop(
      {
        source,
        detector: { name: 'none', detect: async () => [] },
        gate: {
          assess: () => ({ accepted: [], rejected: [] }),
          assessRegions: () => ({ accepted: [], rejected: [] }),
        },
        cropper: cropper,
        embedder,
        encoder: worker,
        matcher: { match: () => null },
        policy: { observe: () => [] },
        actuator: { act: async () => {} },
        events: new RecordingSink(),
        metrics,
        clock: systemClock,
        logger: silentLogger(),
      },
      { encoderRetryMs: 50 },
    );
    await source.start();
    loop.start();
    const end = Date.now() + 60_000;
    while (loop.counters.errors < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await loop.stop();
    expect(loop.counters.errors).toBeGreaterThanOrEqual(2);
    expect(loop.counters.processed).toBe(0); // fail closed: no frame is judged without the face path
    const errors = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'facegate_loop_errors_total',
    );
    expect(errors?.values.find((v) => v.labels.stage === 'embed')?.value).toBeGreaterThanOrEqual(2);
    expect(worker.running).toBe(false);
  }, 180_000);
});
