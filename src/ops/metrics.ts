import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Stages of the live loop whose latency is measured (label `stage`). */
export type PipelineStage =
  'detect' | 'quality' | 'align' | 'liveness' | 'preprocess' | 'embed' | 'match' | 'decide' | 'total';

/**
 * The daemon's Prometheus metrics, in their own Registry (no prom-client globals, so two
 * daemons in one test process never share counters). Served by `OpsHttpServer`.
 */
export class FacegateMetrics {
  readonly registry = new Registry();
  /** Frames the loop processed, and frames the source dropped as stale (seq gaps). */
  readonly frames: Counter<'outcome'>;
  readonly stageSeconds: Histogram<'stage'>;
  readonly faces: Counter<'result'>;
  /** Faces cut by the FaceCropper: result="landmarks" or "fallback" (reason = why). */
  readonly alignment: Counter<'result' | 'reason'>;
  readonly decisions: Counter<'type'>;
  readonly unlocks: Counter<'source'>;
  readonly relayPulses: Counter;
  readonly loopErrors: Counter<'stage'>;
  readonly livenessVerdicts: Counter<'verdict'>;
  readonly livenessFaceChanges: Counter;
  readonly mqttConnected: Gauge;
  readonly gallerySize: Gauge<'kind'>;
  readonly tensors: Gauge;
  readonly lastFrameAge: Gauge;

  constructor(options: { readonly defaultMetrics?: boolean; readonly prefix?: string } = {}) {
    const prefix = options.prefix ?? 'facegate_';
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix });
    this.frames = new Counter({
      name: `${prefix}frames_total`,
      help: 'Camera frames: outcome="processed" went through the loop, "dropped" were skipped as stale by the source.',
      labelNames: ['outcome'],
      registers,
    });
    this.stageSeconds = new Histogram({
      name: `${prefix}stage_duration_seconds`,
      help: 'Latency of each live-loop stage per frame (stage="total" is frame to decision).',
      labelNames: ['stage'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.faces = new Counter({
      name: `${prefix}faces_total`,
      help: 'Faces found by the detector: result="accepted" passed the quality gate, "rejected" did not.',
      labelNames: ['result'],
      registers,
    });
    this.alignment = new Counter({
      name: `${prefix}face_alignment_total`,
      help: 'Recognised faces by how they were aligned: result="landmarks" on their own landmarks; result="fallback" on the points a typical box implies (reason: no_landmark_model, implausible_landmarks).',
      labelNames: ['result', 'reason'],
      registers,
    });
    this.decisions = new Counter({
      name: `${prefix}decisions_total`,
      help: 'Decisions by event type (access_granted, access_denied, unknown_face).',
      labelNames: ['type'],
      registers,
    });
    this.unlocks = new Counter({
      name: `${prefix}unlocks_total`,
      help: 'Unlocks the daemon asked the door for, by source: face (access_granted) or remote (signed MQTT unlock).',
      labelNames: ['source'],
      registers,
    });
    this.relayPulses = new Counter({
      name: `${prefix}relay_pulses_total`,
      help: 'Unlock pulses the door drove the relay through (face, remote and exit button together).',
      registers,
    });
    this.loopErrors = new Counter({
      name: `${prefix}loop_errors_total`,
      help: 'Frames that failed with an error (logged; the loop goes on).',
      labelNames: ['stage'],
      registers,
    });
    this.livenessVerdicts = new Counter({
      name: `${prefix}liveness_verdicts_total`,
      help: 'Face tracks judged by presentation-attack detection: verdict="live", "spoof" (spoof_suspected), or "undecided" (the track ended without a verdict).',
      labelNames: ['verdict'],
      registers,
    });
    this.livenessFaceChanges = new Counter({
      name: `${prefix}liveness_face_changes_total`,
      help: 'A face track whose face became another person (e.g. a photo raised in front of a live face): its liveness evidence was dropped and gathered again.',
      registers,
    });
    this.mqttConnected = new Gauge({
      name: `${prefix}mqtt_connected`,
      help: '1 while the MQTT broker connection is up, else 0.',
      registers,
    });
    this.gallerySize = new Gauge({
      name: `${prefix}gallery_size`,
      help: 'Gallery size: kind="people" and kind="embeddings" (of the current model).',
      labelNames: ['kind'],
      registers,
    });
    this.tensors = new Gauge({
      name: `${prefix}tf_tensors`,
      help: 'Live TensorFlow.js tensors (must stay flat; growth is a leak).',
      registers,
    });
    const ageSource = (): number | null => (this.lastFrameAgeSource ? this.lastFrameAgeSource() : null);
    this.lastFrameAge = new Gauge({
      name: `${prefix}last_frame_age_seconds`,
      help: 'Seconds since the live loop last finished a frame.',
      registers,
      collect() {
        const age = ageSource();
        if (age !== null) this.set(age);
      },
    });
    this.mqttConnected.set(0);
  }

  private lastFrameAgeSource: (() => number) | null = null;

  /** Where `last_frame_age_seconds` comes from at scrape time (the watchdog feeder's idle time). */
  bindLastFrameAge(source: () => number): void {
    this.lastFrameAgeSource = source;
  }

  private readonly stageListeners = new Set<(stage: PipelineStage, ms: number) => void>();

  observeStage(stage: PipelineStage, ms: number): void {
    this.stageSeconds.observe({ stage }, ms / 1000);
    for (const listener of this.stageListeners) listener(stage, ms);
  }

  /**
   * Calls `listener` with every stage time (ms) as it is observed (the bench keeps the raw
   * samples for percentiles; the histogram only has buckets). Returns an unsubscribe function.
   */
  onStage(listener: (stage: PipelineStage, ms: number) => void): () => void {
    this.stageListeners.add(listener);
    return () => this.stageListeners.delete(listener);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
