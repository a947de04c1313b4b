import type { AccessDecision, AccessPolicy, ObservedFace } from '../access/policy.js';
import type { Frame, FrameSource } from '../camera/frame-source.js';
import type { EventSink } from '../events.js';
import type { Matcher } from '../gallery/matcher.js';
import type { Embedder } from '../model/embedder.js';
import type { FacegateMetrics, PipelineStage } from '../ops/metrics.js';
import type { Clock } from '../util/clock.js';
import type { FrameObserver, SeenFace } from './frame-observer.js';
import type { Logger } from '../util/log.js';
import type { FaceDetector } from '../vision/detector.js';
import type { FaceCropper } from '../vision/face-cropper.js';
import type { Box, FaceRegion, GrayImage } from '../vision/image.js';
import type { QualityGate } from '../vision/quality.js';
import type { TrackVerdict } from '../liveness/judge.js';
import type { FacePlan, TrackIdentities } from './track-identities.js';
import type { EncodedFaces, FaceEncoder } from './face-worker.js';

/** What the detector gives for one frame. */
type Detections = Awaited<ReturnType<FaceDetector['detect']>>;

export interface LiveLoopDeps {
  readonly source: FrameSource;
  readonly detector: FaceDetector;
  /** Rejects faces with reasons; marks the accepted ones `ok` or `poor`. */
  readonly gate: Pick<QualityGate, 'assess' | 'assessRegions'>;
  /**
   * THE face path (landmarks → alignment → the model's crop), on the full-resolution frame;
   * the same object photo enrollment uses.
   */
  readonly cropper: Pick<FaceCropper, 'crop'>;
  /**
   * Presentation-attack detection (LivenessStage): a verdict per face from its track. Absent
   * when liveness is off. Called every frame (also without faces, so tracks end).
   */
  readonly liveness?: {
    observe(
      timestampMs: number,
      faces: readonly FaceRegion[],
      frame?: GrayImage,
    ): TrackVerdict[] | Promise<TrackVerdict[]>;
    /** After embedding: true when the track's face became another person (its verdict is void). */
    faceChanged?(trackId: number, atMs: number, embedding: Float32Array): boolean;
  };
  readonly embedder: Embedder;
  /**
   * Landmarks + alignment + embedding in a worker thread (FaceWorker): used instead of
   * `cropper` and `embedder` when given; the loop starts it before the first frame and stops
   * it after the last. Absent: the in-process path.
   */
  readonly encoder?: FaceEncoder;
  /**
   * Face tracks and their decided identities (TrackIdentities): a decided track's face is
   * not aligned or embedded again except every k-th frame, and casts no vote. Absent: every
   * face of every frame is embedded.
   */
  readonly identities?: Pick<TrackIdentities, 'plan' | 'record'>;
  readonly matcher: Pick<Matcher, 'match'>;
  readonly policy: Pick<AccessPolicy, 'observe'>;
  /** Carries out a decision: the door pulse and the event (DecisionActuator). */
  readonly actuator: { act(decision: AccessDecision): Promise<void> };
  readonly events: EventSink;
  readonly metrics: FacegateMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called after every frame the loop went through, good or bad (feeds the systemd watchdog). */
  readonly onProgress?: () => void;
  /** Live tensor count (tf.memory().numTensors), sampled into the metrics. */
  readonly tensorCount?: () => number;
  /** Sees what each frame held (the live view); absent: nobody watches. */
  readonly observer?: FrameObserver;
}

export interface LiveLoopOptions {
  /** Wait after the source itself fails before asking it again. */
  readonly sourceRetryMs?: number;
  /** At most one `error` event per this many ms (errors are always logged and counted). */
  readonly errorEventIntervalMs?: number;
  /**
   * Detect frame n+1 while frame n is aligned and embedded (default true): uses the second
   * core, since the detector runs off the main thread. The frame is taken when the detector
   * is free, so it may be up to one frame's embedding older than the newest.
   */
  readonly detectAhead?: boolean;
  /** Wait after the face worker failed to start before trying again (it loads the models). Default 5000. */
  readonly encoderRetryMs?: number;
}

export interface LoopStats {
  readonly processed: number;
  readonly dropped: number;
  readonly errors: number;
  /** Faces whose decided track's match was reused (not aligned, not embedded, no vote). */
  readonly reusedFaces: number;
  readonly lastSeq: number | null;
}

/**
 * The live recognition loop: take the newest frame, detect → quality gate → face tracks
 * (a decided track's match is reused, see TrackIdentities) → crop (landmarks, alignment) →
 * embed (one batch per frame) → match → policy → door and events. Never queues (the
 * source drops stale frames while we work); one bad frame is logged and counted and the
 * loop goes on; only stop() ends it.
 */
export class LiveLoop {
  private readonly logger: Logger;
  private readonly sourceRetryMs: number;
  private readonly errorEventIntervalMs: number;
  private running: Promise<void> | null = null;
  private stopping = false;
  private wake: (() => void) | null = null;
  private lastErrorEventMs = -Infinity;
  private stats = { processed: 0, dropped: 0, errors: 0, reusedFaces: 0, lastSeq: null as number | null };
  private readonly detectAhead: boolean;
  private readonly encoderRetryMs: number;
  /** The next frame, taken while the current one is embedded, with its detection running. */
  private ahead: Promise<{ frame: Frame; boxes: Promise<Detections> }> | null = null;

  constructor(
    private readonly deps: LiveLoopDeps,
    options: LiveLoopOptions = {},
  ) {
    this.logger = deps.logger.child({ module: 'live-loop' });
    this.sourceRetryMs = options.sourceRetryMs ?? 1000;
    this.errorEventIntervalMs = options.errorEventIntervalMs ?? 60_000;
    this.detectAhead = options.detectAhead ?? true;
    this.encoderRetryMs = options.encoderRetryMs ?? 5000;
  }

  get counters(): LoopStats {
    return { ...this.stats };
  }

  /** Starts the loop in the background (the source must already be started). */
  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.run().catch((err: unknown) => {
      // run() catches everything per frame; reaching here is a bug worth shouting about.
      this.logger.fatal({ err }, 'live loop ended unexpectedly');
    });
  }

  /**
   * Ends the loop after the current frame and stops the source (which makes a pending
   * next() reject; the loop knows it is stopping, so that is not counted as an error).
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    try {
      await this.deps.source.stop();
    } catch (err) {
      this.logger.warn({ err }, 'camera stop failed');
    }
    const running = this.running;
    this.running = null;
    if (running) await running;
  }

  private async run(): Promise<void> {
    this.logger.info(
      { source: this.deps.source.name, detector: this.deps.detector.name },
      'live loop started',
    );
    const encoder = this.deps.encoder;
    while (encoder && !this.stopping) {
      try {
        await encoder.start();
        break;
      } catch (err) {
        // No progress: /health and the watchdog see a loop that cannot recognise anyone.
        this.countError('embed', err);
        await this.sleep(this.encoderRetryMs);
      }
    }
    while (!this.stopping) {
      let frame: Frame;
      let detection: Promise<Detections> | undefined;
      try {
        const ahead = this.ahead;
        this.ahead = null;
        if (ahead) ({ frame, boxes: detection } = await ahead);
        else frame = await this.deps.source.next();
      } catch (err) {
        if (this.stopping) break;
        // No progress: a camera that delivers nothing lets the watchdog and /health see a stall.
        this.countError('source', err);
        await this.sleep(this.sourceRetryMs);
        continue;
      }
      if (this.stopping) break;
      this.countDropped(frame.seq);
      try {
        await this.processFrame(frame, {
          detection,
          afterDetect: this.detectAhead
            ? () => {
                this.ahead = this.takeAhead();
              }
            : undefined,
        });
        this.stats.processed++;
        this.deps.metrics.frames.inc({ outcome: 'processed' });
      } catch (err) {
        this.countError((err as StageError).stage ?? 'frame', (err as StageError).cause ?? err);
      }
      if (this.deps.tensorCount) this.deps.metrics.tensors.set(this.deps.tensorCount());
      this.deps.onProgress?.();
    }
    if (encoder)
      await encoder.stop().catch((err: unknown) => this.logger.warn({ err }, 'face worker stop failed'));
    this.logger.info(this.counters, 'live loop stopped');
  }

  /**
   * The next frame, its detection started as soon as it arrives (detect-ahead): the detector
   * runs in its own thread (OpenCV native pool or the wasm worker), so detecting frame n+1
   * overlaps the alignment and TF.js embedding of frame n on the main thread. A failure is
   * kept for the loop: a source error when it takes the frame, a detector error in that
   * frame's `detect` stage.
   */
  private takeAhead(): Promise<{ frame: Frame; boxes: Promise<Detections> }> | null {
    if (this.stopping) return null;
    const ahead = this.deps.source.next().then((frame) => {
      const boxes = Promise.resolve().then(() => this.deps.detector.detect(frame.image));
      boxes.catch(() => undefined);
      return { frame, boxes };
    });
    ahead.catch(() => undefined);
    return ahead;
  }

  /**
   * One frame through the whole pipeline; a failing stage throws a StageError naming it.
   * `detection`: the frame's detection, already started (its `detect` time is then the rest
   * of the wait); `afterDetect`: called once the detector is free (the loop starts the next
   * frame's detection there).
   */
  async processFrame(
    frame: Frame,
    ahead: { detection?: Promise<Detections>; afterDetect?: () => void } = {},
  ): Promise<void> {
    const { detector, gate, matcher, policy, actuator, metrics } = this.deps;
    const image: GrayImage = frame.image;
    const t0 = this.deps.clock.monotonicMs();
    const boxes = await this.timed('detect', () => ahead.detection ?? detector.detect(frame.image));
    ahead.afterDetect?.();
    const verdict = await this.timed('quality', () => gate.assess(frame.image, boxes));
    metrics.faces.inc({ result: 'accepted' }, verdict.accepted.length);
    metrics.faces.inc({ result: 'rejected' }, verdict.rejected.length);

    const accepted = verdict.accepted;
    // Which faces belong to a decided track (reused match) and which are embedded now.
    const plans: FacePlan[] = this.deps.identities
      ? this.deps.identities.plan(
          frame.timestampMs,
          accepted.map((a) => a.region.box),
        )
      : accepted.map(() => ({ trackId: 0 }));
    // An observer that needs every face's landmarks (a walk-up enrollment) suspends the reuse.
    const mayReuse = !this.observerWantsEveryFace();
    const fresh = accepted.flatMap((a, i) => (mayReuse && plans[i].reuse ? [] : [i]));
    this.stats.reusedFaces += accepted.length - fresh.length;

    let observations: ObservedFace[] = [];
    let reused: SeenFace[] = [];
    const liveness = this.deps.liveness;
    if (accepted.length === 0 && liveness)
      await this.timed('liveness', () => liveness.observe(frame.timestampMs, []));
    if (accepted.length > 0) {
      const encoded =
        fresh.length === 0
          ? null
          : await this.encode(
              image,
              fresh.map((i) => accepted[i].region),
            );
      const crops = encoded?.crops ?? [];
      const embeddings = encoded?.embeddings ?? [];
      for (const c of crops) {
        metrics.alignment.inc({ result: c.fallback ? 'fallback' : 'landmarks', reason: c.fallback ?? '' });
      }
      // The regions now carry the landmarks (liveness and the pose rules use them).
      const regions = crops.map((c) => c.region);
      // The gate again, now with the landmarks: the pose and landmark rules it shares with
      // enrollment mark a tilted or turned face `poor` (same boxes, so the same faces pass).
      const judged =
        fresh.length === 0
          ? { accepted: [] }
          : await this.timedStage('quality', () => gate.assessRegions(image, regions));
      const byBox = new Map(judged.accepted.map((a) => [a.region.box, a]));
      const quality = crops.map((c, i) => byBox.get(c.region.box) ?? accepted[fresh[i]]);
      // Liveness sees every face of the frame (its tracks go on); a reused face is on a
      // decided track, whose liveness verdict is already final, so it needs no landmarks.
      const allRegions = accepted.map((a) => a.region);
      fresh.forEach((at, k) => (allRegions[at] = regions[k]));
      const live = liveness
        ? await this.timed('liveness', () => liveness.observe(frame.timestampMs, allRegions, frame.image))
        : null;
      // A verdict belongs to the face that earned it: when the embedded face is another person
      // than its track's previous one (a photo raised in front of a live face keeps the
      // track), the track starts over and this frame is undecided.
      const verdictFor = (v: TrackVerdict, embedding: Float32Array): TrackVerdict =>
        liveness?.faceChanged?.(v.trackId, frame.timestampMs, embedding)
          ? { ...v, verdict: 'undecided', reasons: ['face_changed'], sinceMs: frame.timestampMs }
          : v;
      observations = await this.timed('match', () =>
        embeddings.map((embedding, k): ObservedFace => {
          const at = fresh[k];
          return {
            region: regions[k],
            quality: quality[k].quality,
            reasons: quality[k].reasons,
            ...(crops[k].fallback ? { alignmentFallback: crops[k].fallback } : {}),
            match: matcher.match(embedding),
            ...(live ? { liveness: verdictFor(live[at], embedding) } : {}),
          };
        }),
      );
      const identities = this.deps.identities;
      if (identities) {
        observations.forEach((o, k) =>
          identities.record(plans[fresh[k]].trackId, {
            match: o.match,
            quality: o.quality,
            alignmentFallback: o.alignmentFallback,
            livenessFinal: !o.liveness || o.liveness.verdict !== 'undecided',
          }),
        );
      }
      reused = accepted.flatMap((a, i) => {
        const r = mayReuse ? plans[i].reuse : undefined;
        if (!r) return [];
        const v = live?.[i];
        return [
          {
            box: a.region.box,
            outcome: 'compared' as const,
            reasons: a.reasons,
            reused: true,
            personId: r.match?.best.personId,
            name: r.match?.best.name,
            score: r.match?.best.similarity,
            liveness: v ? { verdict: v.verdict, reasons: v.reasons } : undefined,
          },
        ];
      });
    }
    const decisions = await this.timed('decide', () => policy.observe(frame.timestampMs, observations));
    for (const decision of decisions) {
      metrics.decisions.inc({ type: decision.type });
      await this.timedStage('decide', () => actuator.act(decision));
    }
    if (this.deps.observer)
      this.tellObserver(
        this.deps.observer,
        image === frame.image ? frame : { ...frame, image },
        verdict.rejected,
        observations,
        reused,
        decisions,
      );
    metrics.observeStage('total', this.deps.clock.monotonicMs() - t0);
  }

  /**
   * Landmarks, alignment and embeddings of the faces to embed now: in the worker when there
   * is one (its stages timed there), else here. A failure is a StageError of its stage.
   */
  private async encode(image: GrayImage, regions: readonly FaceRegion[]): Promise<EncodedFaces> {
    const { encoder, cropper, embedder, metrics } = this.deps;
    let encoded: EncodedFaces;
    if (encoder) {
      try {
        encoded = await encoder.encode(image, regions);
      } catch (err) {
        throw new StageError((err as { stage?: PipelineStage }).stage ?? 'embed', err);
      }
      metrics.observeStage('align', encoded.alignMs);
      metrics.observeStage('embed', encoded.embedMs);
    } else {
      const t0 = this.deps.clock.monotonicMs();
      const crops = await this.timed('align', () => cropper.crop(image, regions));
      const t1 = this.deps.clock.monotonicMs();
      const embeddings = await this.timed('embed', () => embedder.embed(crops.map((c) => c.input)));
      encoded = { image, crops, embeddings, alignMs: t1 - t0, embedMs: this.deps.clock.monotonicMs() - t1 };
    }
    if (encoded.embeddings.length !== encoded.crops.length || encoded.crops.length !== regions.length) {
      throw new StageError(
        'embed',
        new Error(
          `face encoder returned ${encoded.crops.length} crops and ${encoded.embeddings.length} embeddings for ${regions.length} faces`,
        ),
      );
    }
    return encoded;
  }

  private observerWantsEveryFace(): boolean {
    try {
      return this.deps.observer?.wantsEveryFace?.() ?? false;
    } catch (err) {
      this.logger.warn({ err }, 'frame observer failed');
      return false;
    }
  }

  /** The live view's look at this frame; a failing observer never costs the door a frame. */
  private tellObserver(
    observer: FrameObserver,
    frame: Frame,
    rejected: readonly { box: Box; reason: string }[],
    observations: readonly ObservedFace[],
    reused: readonly SeenFace[],
    decisions: readonly AccessDecision[],
  ): void {
    try {
      const faces: SeenFace[] = [
        ...rejected.map((r) => ({ box: r.box, outcome: 'refused' as const, reasons: [r.reason] })),
        ...observations.map((o) => ({
          box: o.region.box,
          landmarks: o.region.landmarks?.points,
          outcome: 'compared' as const,
          reasons: o.reasons,
          personId: o.match?.best.personId,
          name: o.match?.best.name,
          score: o.match?.best.similarity,
          liveness: o.liveness ? { verdict: o.liveness.verdict, reasons: o.liveness.reasons } : undefined,
        })),
        ...reused,
      ];
      observer.frameSeen({ frame, faces, decisions });
    } catch (err) {
      this.logger.warn({ err }, 'frame observer failed');
    }
  }

  private async timed<T>(stage: PipelineStage, fn: () => T | Promise<T>): Promise<T> {
    const start = this.deps.clock.monotonicMs();
    const result = await this.timedStage(stage, fn);
    this.deps.metrics.observeStage(stage, this.deps.clock.monotonicMs() - start);
    return result;
  }

  private async timedStage<T>(stage: PipelineStage, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StageError(stage, err);
    }
  }

  private countDropped(seq: number): void {
    const last = this.stats.lastSeq;
    if (last !== null && seq > last + 1) {
      const gap = seq - last - 1;
      this.stats.dropped += gap;
      this.deps.metrics.frames.inc({ outcome: 'dropped' }, gap);
    }
    this.stats.lastSeq = seq;
  }

  private countError(stage: string, err: unknown): void {
    this.stats.errors++;
    this.deps.metrics.loopErrors.inc({ stage });
    // Log every error while they are rare; when a stage fails every frame, log sparsely.
    if (this.stats.errors <= 20 || this.stats.errors % 100 === 0) {
      this.logger.error({ err, stage, errors: this.stats.errors }, 'frame failed; the loop goes on');
    }
    const now = this.deps.clock.monotonicMs();
    if (now - this.lastErrorEventMs >= this.errorEventIntervalMs) {
      this.lastErrorEventMs = now;
      try {
        const message = errorMessage(err);
        // component/reason: the v1 field names this event had; source/message: the one error shape.
        this.deps.events.emit({
          type: 'error',
          source: 'live-loop',
          message,
          stage,
          component: 'live-loop',
          reason: message,
        });
      } catch (emitErr) {
        this.logger.error({ err: emitErr }, 'could not record the error event');
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

class StageError extends Error {
  constructor(
    readonly stage: PipelineStage,
    override readonly cause: unknown,
  ) {
    super(`${stage}: ${errorMessage(cause)}`);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
