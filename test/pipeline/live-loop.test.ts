import { describe, expect, it } from 'vitest';
import type { AccessDecision, AccessPolicy, ObservedFace } from '../../src/access/policy.js';
import type { Frame, FrameSource } from '../../src/camera/frame-source.js';
import type { MatchResult } from '../../src/gallery/matcher.js';
import { FacegateMetrics } from '../../src/ops/metrics.js';
import type { FrameSeen } from '../../src/pipeline/frame-observer.js';
import { LiveLoop, type LiveLoopDeps } from '../../src/pipeline/live-loop.js';
import { TrackIdentities } from '../../src/pipeline/track-identities.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { DEFAULT_QUALITY_CONFIG } from '../../src/vision/config.js';
import { createGrayImage, type GrayImage } from '../../src/vision/image.js';
import { QualityGate } from '../../src/vision/quality.js';
import { RecordingSink } from '../fakes/events.js';
import { SceneDetector, SceneEmbedder, TimerFrameSource } from '../fakes/pipeline.js';

const grantKnown: Pick<AccessPolicy, 'observe'> = {
  observe(_t, faces) {
    return faces.map((f): AccessDecision =>
      f.match
        ? {
            type: 'access_granted',
            person: { id: f.match.best.personId, name: f.match.best.name },
            score: f.match.best.similarity,
            margin: 0.5,
            frames: 1,
          }
        : { type: 'unknown_face', score: 0.1, frames: 1, quality: f.reasons },
    );
  },
};

/** The scene embedder's code 1 is alice; anyone else is nobody in the gallery. */
function sceneMatch(e: Float32Array): MatchResult | null {
  return e[0] === 1
    ? { best: { personId: 'alice', name: 'Alice', distance: 0.1, similarity: 0.9 }, runnerUp: null }
    : null;
}

function buildLoop(
  source: FrameSource,
  overrides: Partial<LiveLoopDeps> = {},
  options: { detectAhead?: boolean } = {},
) {
  const acted: AccessDecision[] = [];
  const preprocessed: GrayImage[] = [];
  const metrics = new FacegateMetrics({ defaultMetrics: false });
  const events = new RecordingSink();
  let progress = 0;
  const embedder = new SceneEmbedder();
  const deps: LiveLoopDeps = {
    source,
    detector: new SceneDetector(),
    gate: {
      assess: (_img, boxes) => ({
        accepted: boxes.map((box) => ({
          region: 'x' in box ? { box } : box,
          quality: 'ok' as const,
          reasons: [],
          sharpness: 100,
        })),
        rejected: [],
      }),
      assessRegions: (_img, regions) => ({
        accepted: regions.map((region) => ({ region, quality: 'ok' as const, reasons: [], sharpness: 100 })),
        rejected: [],
      }),
    },
    cropper: {
      crop: async (image, faces) =>
        faces.map((region) => {
          preprocessed.push(image);
          const crop = new Uint8Array(64);
          crop[0] = image.data[0];
          return { region, input: createGrayImage(8, 8, crop), chip: null, alignment: 'landmarks' as const };
        }),
    },
    embedder,
    matcher: { match: sceneMatch },
    policy: grantKnown,
    actuator: { act: async (d) => void acted.push(d) },
    events,
    metrics,
    clock: systemClock,
    logger: silentLogger(),
    onProgress: () => void progress++,
    ...overrides,
  };
  const loop = new LiveLoop(deps, { sourceRetryMs: 5, ...options });
  return { loop, acted, metrics, events, embedder, preprocessed, progress: () => progress };
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function counter(
  metrics: FacegateMetrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return value?.value ?? 0;
}

describe('LiveLoop', () => {
  it.each([true, false])(
    'detect-ahead %s: detection of frame n+1 overlaps the embedding of frame n only when on; every frame still completes in order',
    async (detectAhead) => {
      const source = new TimerFrameSource(2, () => 1);
      const detector = new SceneDetector();
      const log: string[] = [];
      const embedder = new SceneEmbedder();
      const { loop } = buildLoop(
        source,
        {
          detector: {
            name: detector.name,
            detect: async (image) => {
              log.push('detect');
              return detector.detect(image);
            },
          },
          embedder: {
            ...embedder,
            inputSize: embedder.inputSize,
            dimension: embedder.dimension,
            embed: async (faces) => {
              log.push('embed start');
              // The main thread is busy embedding; a detector in another thread keeps going.
              await new Promise((r) => setTimeout(r, 15));
              log.push('embed end');
              return embedder.embed(faces);
            },
          } as typeof embedder,
          onProgress: () => log.push(`done ${loop.counters.lastSeq}`),
        },
        { detectAhead },
      );
      await source.start();
      loop.start();
      await waitFor(() => loop.counters.processed >= 6);
      await loop.stop();
      expect(loop.counters.errors).toBe(0);
      // A detect between an embed's start and its end = the next frame detected during the embedding.
      const overlapped = log.some(
        (e, i) => e === 'detect' && log.lastIndexOf('embed start', i) > log.lastIndexOf('embed end', i),
      );
      expect(overlapped).toBe(detectAhead);
      const done = log.filter((e) => e.startsWith('done')).map((e) => Number(e.slice(5)));
      expect(done).toEqual([...done].sort((a, b) => a - b));
    },
  );

  it('runs frames through detect → embed → match → policy → actuator, one embed batch per frame', async () => {
    // scenes: 1 = alice, 2 = stranger, 0 = empty
    const source = new TimerFrameSource(10, (seq) => [1, 2, 0][seq % 3], 30);
    const { loop, acted, metrics, embedder, preprocessed, progress } = buildLoop(source);
    await source.start();
    loop.start();
    await waitFor(() => loop.counters.processed >= 12);
    await loop.stop();

    expect(loop.counters.errors).toBe(0); // stopping is not an error
    const types = acted.map((d) => d.type);
    expect(types).toContain('access_granted');
    expect(types).toContain('unknown_face');
    expect(acted.filter((d) => d.type === 'access_granted').every((d) => d.person.id === 'alice')).toBe(true);
    expect(embedder.batches.every((n) => n === 1)).toBe(true);
    // the crop is cut from the full-resolution frame
    expect(preprocessed.every((img) => img.width === 32 && img.height === 24)).toBe(true);
    expect(progress()).toBeGreaterThanOrEqual(loop.counters.processed);
    expect(await counter(metrics, 'facegate_frames_total', { outcome: 'processed' })).toBe(
      loop.counters.processed,
    );
    expect(await counter(metrics, 'facegate_decisions_total', { type: 'access_granted' })).toBe(
      types.filter((t) => t === 'access_granted').length,
    );
    const detect = (await metrics.registry.getMetricsAsJSON()).find(
      (m) => m.name === 'facegate_stage_duration_seconds',
    );
    const detectCount = (
      detect?.values as { labels: Record<string, string>; value: number; metricName?: string }[]
    ).find((v) => v.labels.stage === 'detect' && v.metricName?.endsWith('_count'));
    expect(detectCount?.value).toBe(loop.counters.processed);
  });

  it('never queues: with a slow detector, stale frames are dropped and only newer frames are processed', async () => {
    const source = new TimerFrameSource(4, () => 1);
    const detector = new SceneDetector(40);
    const seen: number[] = [];
    const { loop, metrics } = buildLoop(source, {
      detector: {
        name: detector.name,
        detect: (image) => detector.detect(image),
      },
      onProgress: () => void seen.push(loop.counters.lastSeq ?? -1),
    });
    await source.start();
    loop.start();
    await waitFor(() => loop.counters.processed >= 8);
    await loop.stop();

    const { processed, dropped, lastSeq } = loop.counters;
    expect(dropped).toBeGreaterThan(processed); // ~10 frames produced per detection
    expect(processed + dropped).toBe(lastSeq);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
    expect(await counter(metrics, 'facegate_frames_total', { outcome: 'dropped' })).toBe(dropped);
  });

  it('an error in one frame is logged and counted, and the loop goes on', async () => {
    // every third frame makes the detector throw; every fourth decision fails in the actuator
    const source = new TimerFrameSource(5, (seq) => (seq % 3 === 0 ? 255 : 1));
    let acts = 0;
    const { loop, metrics, events } = buildLoop(source, {
      actuator: {
        act: async () => {
          if (++acts % 4 === 0) throw new Error('relay driver hiccup');
        },
      },
    });
    await source.start();
    loop.start();
    await waitFor(() => loop.counters.processed >= 20 && loop.counters.errors >= 5);
    await loop.stop();

    expect(acts).toBeGreaterThan(10);
    expect(await counter(metrics, 'facegate_loop_errors_total', { stage: 'detect' })).toBeGreaterThan(0);
    expect(await counter(metrics, 'facegate_loop_errors_total', { stage: 'decide' })).toBeGreaterThan(0);
    // errors are rate-limited into events: one `error` event, not one per frame
    const errorEvents = events.events.filter((e) => e.type === 'error');
    expect(errorEvents).toHaveLength(1);
    expect(errorEvents[0]).toMatchObject({ component: 'live-loop' });
  });

  it('survives a failing source and retries it', async () => {
    let calls = 0;
    let stopped = false;
    const source: FrameSource = {
      name: 'flaky',
      start: async () => {},
      stop: async () => void (stopped = true),
      next: async (): Promise<Frame> => {
        calls++;
        if (stopped) throw new Error('stopped');
        if (calls % 2 === 1) throw new Error('camera went away');
        await new Promise((r) => setTimeout(r, 2));
        const data = new Uint8Array(32 * 24);
        data[0] = 1;
        return { image: createGrayImage(32, 24, data), timestampMs: performance.now(), seq: calls };
      },
    };
    const { loop, progress } = buildLoop(source);
    loop.start();
    await waitFor(() => loop.counters.processed >= 5);
    await loop.stop();
    expect(loop.counters.errors).toBeGreaterThanOrEqual(5);
    // only frames count as progress (a dead camera must not keep feeding the watchdog)
    expect(progress()).toBe(loop.counters.processed);
  });

  it('stop() returns while the loop is waiting for a frame', async () => {
    const source = new TimerFrameSource(1000, () => 0, 0); // never produces
    const { loop } = buildLoop(source);
    await source.start();
    loop.start();
    await new Promise((r) => setTimeout(r, 20));
    await loop.stop();
    expect(loop.counters.processed).toBe(0);
  });

  it('judges the pose from the landmarks the cropper found: a face tilted 40° votes poor (tilted)', async () => {
    // One 16 px face per frame; the real quality gate (no sharpness check) and a cropper whose
    // landmarks show the head rolled by 40° (beyond the default 25° limit).
    const source = new TimerFrameSource(10, () => 1, 3);
    const seen: ObservedFace[] = [];
    const roll = (40 * Math.PI) / 180;
    const at = (x: number, y: number) => ({
      x: 12 + x * Math.cos(roll) - y * Math.sin(roll),
      y: 12 + x * Math.sin(roll) + y * Math.cos(roll),
    });
    const five = {
      leftEye: at(-3, -2),
      rightEye: at(3, -2),
      nose: at(0, 1),
      mouthLeft: at(-2, 4),
      mouthRight: at(2, 4),
    };
    const { loop } = buildLoop(source, {
      gate: new QualityGate({
        ...DEFAULT_QUALITY_CONFIG,
        minFacePixels: 8,
        minFaceFraction: 0,
        minSharpness: 0,
      }),
      cropper: {
        crop: async (_image, faces) =>
          faces.map((region) => ({
            region: { box: region.box, landmarks: { points: [], five } },
            input: createGrayImage(8, 8, new Uint8Array(64).fill(1)),
            chip: null,
            alignment: 'landmarks' as const,
          })),
      },
      policy: { observe: (_t, faces) => (seen.push(...faces), []) },
    });
    await source.start();
    loop.start();
    await waitFor(() => loop.counters.processed >= 1);
    await loop.stop();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0].quality).toBe('poor');
    expect(seen[0].reasons).toEqual(['tilted']);
  });

  it('a decided track is not re-embedded on the next frames and casts no vote there; a swap inside the box is caught at the next re-embedding', async () => {
    // Frames on demand (none dropped): alice (scene 1) for 12 frames, then a stranger
    // (scene 2) in the same box.
    const scenes = [...Array<number>(12).fill(1), ...Array<number>(12).fill(2)];
    const source = new ScriptSource(scenes);
    const votes: { seq: number; person: string | null }[] = [];
    const seen: FrameSeen[] = [];
    let seq = 0;
    const { loop, embedder } = buildLoop(source, {
      identities: new TrackIdentities(
        { agreeFrames: 3, reembedEvery: 4 },
        { accept: 0.7, unknown: 0.5, minMargin: 0.05 },
      ),
      policy: {
        observe: (_t, faces) => {
          seq++;
          for (const f of faces) votes.push({ seq, person: f.match?.best.personId ?? null });
          return [];
        },
      },
      observer: { frameSeen: (s) => void seen.push(s) },
    });
    await source.start();
    loop.start();
    await waitFor(() => loop.counters.processed >= scenes.length);
    await loop.stop();
    expect(loop.counters.errors).toBe(0);
    // Alice: embedded at 1-3 (decided), then only at 7 and 11; the stranger arrives at 13 and
    // is embedded at 15 (the next re-embedding): reuse ends, 16 and 17 embedded (decided
    // unknown), then 21.
    expect(votes.map((v) => v.seq)).toEqual([1, 2, 3, 7, 11, 15, 16, 17, 21]);
    expect(embedder.batches.length).toBe(votes.length);
    expect(votes.find((v) => v.seq === 15)?.person).toBeNull();
    expect(votes.filter((v) => v.seq > 12).every((v) => v.person === null)).toBe(true);
    expect(loop.counters.reusedFaces).toBe(scenes.length - votes.length);
    // The live view still sees every face, the reused ones marked.
    expect(seen.every((s) => s.faces.length === 1)).toBe(true);
    expect(seen[4].faces[0]).toMatchObject({ reused: true, personId: 'alice', outcome: 'compared' });
    expect(seen[0].faces[0].reused).toBeUndefined();
  });
  it('a live verdict is void in the frame where the face of its track becomes another person (face_changed)', async () => {
    // A stranger's live face (scene 2) for 4 frames, then alice's photo (scene 1) in the same
    // box: the liveness stage says the track is live throughout (its verdict is final), but
    // tells the loop the embedded face changed — that frame must not reach the policy as live.
    const scenes = [2, 2, 2, 2, 1, 1];
    const source = new ScriptSource(scenes);
    const seenByPolicy: { person: string | null; verdict?: string; reasons?: readonly string[] }[] = [];
    let previous: number | null = null;
    const { loop } = buildLoop(source, {
      liveness: {
        observe: (_t, faces) =>
          faces.map(() => ({
            verdict: 'live' as const,
            reasons: ['non_planar_motion'],
            scores: {},
            trackId: 1,
            sinceMs: 0,
          })),
        faceChanged: (_id, _t, embedding) => {
          const changed = previous !== null && previous !== embedding[0];
          previous = embedding[0];
          return changed;
        },
      },
      policy: {
        observe: (_t, faces) => {
          for (const f of faces)
            seenByPolicy.push({
              person: f.match?.best.personId ?? null,
              verdict: f.liveness?.verdict,
              reasons: f.liveness?.reasons,
            });
          return [];
        },
      },
    });
    await source.start();
    loop.start();
    await waitFor(() => loop.counters.processed >= scenes.length);
    await loop.stop();
    expect(loop.counters.errors).toBe(0);
    expect(seenByPolicy.map((o) => o.verdict)).toEqual(['live', 'live', 'live', 'live', 'undecided', 'live']);
    expect(seenByPolicy[4]).toMatchObject({
      person: 'alice',
      verdict: 'undecided',
      reasons: ['face_changed'],
    });
  });

  it('an observer that wants every face (a walk-up enrollment in progress) suspends the reuse', async () => {
    const source = new ScriptSource(Array<number>(10).fill(1));
    let frames = 0;
    const { loop, embedder } = buildLoop(source, {
      identities: new TrackIdentities(
        { agreeFrames: 2, reembedEvery: 4 },
        { accept: 0.7, unknown: 0.5, minMargin: 0.05 },
      ),
      policy: { observe: () => (frames++, []) },
      // Capturing during the first 6 frames.
      observer: { frameSeen: () => undefined, wantsEveryFace: () => frames < 6 },
    });
    await source.start();
    loop.start();
    await waitFor(() => loop.counters.processed >= 10);
    await loop.stop();
    // Frames 1-6 all embedded while capturing; then the decided track is reused (7-9) and
    // re-embedded on the 4th frame since its last embedding (10).
    expect(embedder.batches.length).toBe(7);
    expect(loop.counters.reusedFaces).toBe(3);
  });
});

/** Hands out one scripted frame per next() (scene code in pixel 0), then waits until stopped. */
class ScriptSource implements FrameSource {
  readonly name = 'script';
  private seq = 0;
  private release: ((e: Error) => void) | null = null;
  constructor(private readonly scenes: readonly number[]) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.release?.(new Error('stopped'));
  }
  next(): Promise<Frame> {
    if (this.seq >= this.scenes.length) return new Promise((_, reject) => (this.release = reject));
    const data = new Uint8Array(32 * 24);
    data[0] = this.scenes[this.seq];
    this.seq += 1;
    return Promise.resolve({
      image: createGrayImage(32, 24, data),
      timestampMs: this.seq * 33,
      seq: this.seq,
    });
  }
}
