import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FacegateApp } from '../app.js';
import type { FacegateConfig } from '../config/schema.js';
import { SimulatedRelay } from '../gpio/simulated.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { ApproachScript } from './approaches.js';
import { BenchCamera, type OfferedFrame } from './bench-camera.js';

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
}

/** p50/p95 by nearest rank (NaN for no samples), rounded to µs. */
export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { p50: Number.NaN, p95: Number.NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: round(at(0.5)), p95: round(at(0.95)) };
}

/** What the process must tell the bench (only CLI entry points touch `process`). */
export interface ProcessProbe {
  /** User + system CPU µs of the whole process (all threads). */
  cpuUs(): number;
  /** Resident set size, bytes. */
  rssBytes(): number;
}

export interface RealPathOptions {
  readonly config: FacegateConfig;
  readonly script: ApproachScript;
  /** Frames of the unpaced throughput phase (capacity, per-stage times). */
  readonly throughputFrames: number;
  /** Camera rate of the paced phase (decision latency). */
  readonly fps: number;
  /** Times the approach script is played paced (more = a soak). */
  readonly loops: number;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly probe: ProcessProbe;
}

export interface PhaseReport {
  readonly frames_offered: number;
  readonly frames_processed: number;
  readonly seconds: number;
  /** Frames the loop went through per second (the paced phase cannot exceed the camera rate). */
  readonly fps: number;
  /** Process CPU per processed frame, the bench camera's own rendering subtracted. */
  readonly cpu_ms_per_frame: number;
  /** Per stage (detect, quality, align, …, total), wall ms per frame that ran it. */
  readonly stages_ms: Record<string, Percentiles & { readonly n: number }>;
}

export interface RealPathReport {
  readonly throughput: PhaseReport;
  readonly paced: PhaseReport & {
    readonly camera_fps: number;
    /** Enrolled walk-ups played; granted; never granted; strangers granted (false accepts). */
    readonly approaches: number;
    readonly granted: number;
    readonly missed: number;
    readonly stranger_grants: number;
    /** First frame of an enrolled person → relay command, ms. */
    readonly decision_latency_ms: Percentiles & { readonly max: number };
    readonly latencies_ms: readonly number[];
    /**
     * Where the decision latency goes, per granted walk-up (p50/p95): `first_taken_ms`, from
     * the first frame the person is in to the capture of the first such frame the loop took
     * (frames skipped while the loop was busy); `frames_to_grant`, frames the loop took from
     * that one up to the grant (the policy's N of M, plus frames where the face was not yet
     * found or voted otherwise); `last_frame_ms`, capture of the frame that gave the grant →
     * relay command (its age when taken plus its processing).
     */
    readonly latency_parts: {
      readonly first_taken_ms: Percentiles;
      readonly frames_to_grant: Percentiles;
      readonly last_frame_ms: Percentiles;
    };
  };
  readonly rss_mb: { readonly start: number; readonly max: number; readonly end: number };
  readonly tensors: { readonly start: number; readonly max: number; readonly end: number };
  /** (second half mean − first half mean) of paced RSS samples, MB: ~0 when flat. */
  readonly rss_drift_mb: number;
  readonly access_cooldown_seconds: number;
  readonly backend: string;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * The daemon itself on a scripted door scene: `FacegateApp` built from `config` by the same
 * factory as `facegate` (buildComponents: detector, landmarks/alignment, liveness, embedder,
 * gallery, matcher, access policy and rules, door), with only the hardware replaced (the bench
 * camera; a simulated relay whose pulses are the "relay command") and MQTT off. The gallery
 * is a fresh SQLite file filled by the config's bootstrap import, as on a first start.
 *
 * One change to the config, reported: `access.cooldownSeconds` is capped so the same
 * employee can be let in again on the next walk-up of the script (it only suppresses
 * repeat grants; it does not change when the first grant happens).
 */
export async function runRealPath(o: RealPathOptions): Promise<RealPathReport> {
  const { script, clock, probe } = o;
  const dir = await mkdtemp(join(tmpdir(), 'facegate-bench-'));
  const cycleSeconds = (script.length / script.approaches.length / o.fps) * 2;
  const cooldown = Math.max(1, Math.min(o.config.access.cooldownSeconds, Math.floor(cycleSeconds * 0.8)));
  const config: FacegateConfig = {
    ...o.config,
    device: { ...o.config.device, stateDir: dir },
    gallery: { ...o.config.gallery, path: join(dir, 'facegate.db') },
    metrics: { ...o.config.metrics, port: 0 },
    access: { ...o.config.access, cooldownSeconds: cooldown },
  };
  const relay = new SimulatedRelay(o.logger, clock);
  const offers: OfferedFrame[] = [];
  const takenSeqs: number[] = [];
  /** Monotonic ms each frame finished (the loop finishes frames in the order it takes them). */
  const finishedAt: number[] = [];
  let ended: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const camera = new BenchCamera(
    {
      render: (i) => script.render(i),
      throughputFrames: o.throughputFrames,
      pacedFrames: script.length * o.loops,
      fps: o.fps,
      onOffer: (offer) => {
        offers.push(offer);
        if (offer.seq === 1) marks.throughputStart = mark();
        if (offer.phase === 'paced' && marks.pacedStart === null) marks.pacedStart = mark();
      },
      onTake: (seq) => void takenSeqs.push(seq),
      onEnd: () => {
        marks.pacedEnd = mark();
        ended();
      },
      cpuUsage: () => probe.cpuUs(),
    },
    clock,
  );
  type Mark = { ms: number; cpuUs: number; renderUs: number };
  const mark = (): Mark => ({ ms: clock.monotonicMs(), cpuUs: probe.cpuUs(), renderUs: camera.renderCpuUs });
  const marks: { throughputStart: Mark | null; pacedStart: Mark | null; pacedEnd: Mark | null } = {
    throughputStart: null,
    pacedStart: null,
    pacedEnd: null,
  };
  const samples = { throughput: new Map<string, number[]>(), paced: new Map<string, number[]>() };
  const rss: number[] = [];
  const tensors: number[] = [];
  // The loop's gauge counts the main thread's and the face worker's tensors (set every frame).
  let loopTensors: number | null = null;
  const sampleMemory = () => {
    rss.push(probe.rssBytes() / 1048576);
    tensors.push(loopTensors ?? tf.memory().numTensors);
    void app.metrics.tensors.get().then((m) => {
      const v = m.values[0]?.value;
      if (typeof v === 'number' && v > 0) loopTensors = v;
    });
  };

  const app = new FacegateApp({
    config,
    logger: o.logger,
    clock,
    overrides: { mqtt: null, camera, relay },
  });
  const unsubscribe = app.metrics.onStage((stage, ms) => {
    if (stage === 'total') finishedAt.push(clock.monotonicMs());
    const phase = marks.pacedStart ? samples.paced : samples.throughput;
    let list = phase.get(stage);
    if (!list) phase.set(stage, (list = []));
    list.push(ms);
  });
  let sampler: NodeJS.Timeout | undefined;
  try {
    await app.start();
    sampleMemory();
    sampler = setInterval(sampleMemory, 1000);
    await done;
  } finally {
    if (sampler) clearInterval(sampler);
    sampleMemory();
    unsubscribe();
    await app.stop();
    await rm(dir, { recursive: true, force: true });
  }

  const phase = (
    from: Mark | null,
    to: Mark | null,
    stages: Map<string, number[]>,
    offered: number,
  ): PhaseReport => {
    if (!from || !to) throw new Error('the bench phase did not run (the live loop never asked for frames)');
    const processed = stages.get('total')?.length ?? 0;
    const seconds = (to.ms - from.ms) / 1000;
    const cpuMs = (to.cpuUs - from.cpuUs - (to.renderUs - from.renderUs)) / 1000;
    return {
      frames_offered: offered,
      frames_processed: processed,
      seconds: round(seconds, 2),
      fps: seconds > 0 ? round(processed / seconds) : 0,
      cpu_ms_per_frame: round(cpuMs / Math.max(1, processed), 2),
      stages_ms: Object.fromEntries(
        [...stages].map(([stage, list]) => [stage, { ...percentiles(list), n: list.length }]),
      ),
    };
  };
  const throughput = phase(marks.throughputStart, marks.pacedStart, samples.throughput, o.throughputFrames);
  const paced = phase(marks.pacedStart, marks.pacedEnd, samples.paced, script.length * o.loops);

  // Decision latency: first paced frame of each enrolled walk-up → the relay pulse during it.
  const pacedOffers = offers.filter((f) => f.phase === 'paced');
  const pulses = relay.pulses.map((p) => p.unlockedAtMs);
  const latencies: number[] = [];
  const parts = {
    first_taken_ms: [] as number[],
    frames_to_grant: [] as number[],
    last_frame_ms: [] as number[],
  };
  const bySeq = new Map(pacedOffers.map((f) => [f.seq, f]));
  // Taken frames in order, with when they finished (a frame that failed has no 'total': the
  // pairing is exact only without loop errors, which the bench's scene does not cause).
  const taken = takenSeqs
    .map((seq, k) => ({ offer: bySeq.get(seq), doneMs: finishedAt[k] ?? Infinity }))
    .filter((t): t is { offer: OfferedFrame; doneMs: number } => t.offer !== undefined);
  let approaches = 0;
  let missed = 0;
  let strangerGrants = 0;
  for (let loop = 0; loop < o.loops; loop++) {
    for (const a of script.approaches) {
      const first = pacedOffers[loop * script.length + a.firstFrame];
      const after = pacedOffers[loop * script.length + a.firstFrame + a.frames];
      if (!first) continue;
      const until = after ? after.atMs : Infinity;
      const pulse = pulses.find((t) => t >= first.atMs && t < until);
      if (!a.enrolled) {
        if (pulse !== undefined) strangerGrants += 1;
        continue;
      }
      approaches += 1;
      if (pulse === undefined) missed += 1;
      else {
        latencies.push(round(pulse - first.atMs, 1));
        // The frames the loop took during this walk-up up to the one whose processing gave
        // the grant (the first to finish after the pulse).
        const during = taken.filter((t) => t.offer.seq >= first.seq && t.offer.atMs < until);
        const granting = during.findIndex((t) => t.doneMs >= pulse);
        if (granting >= 0) {
          parts.first_taken_ms.push(during[0].offer.atMs - first.atMs);
          parts.frames_to_grant.push(granting + 1);
          parts.last_frame_ms.push(pulse - during[granting].offer.atMs);
        }
      }
    }
  }
  const pacedRss = rss.slice(1);
  const half = Math.floor(pacedRss.length / 2);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  return {
    throughput,
    paced: {
      ...paced,
      camera_fps: o.fps,
      approaches,
      granted: latencies.length,
      missed,
      stranger_grants: strangerGrants,
      decision_latency_ms: {
        ...percentiles(latencies),
        max: latencies.length ? Math.max(...latencies) : Number.NaN,
      },
      latencies_ms: latencies,
      latency_parts: {
        first_taken_ms: percentiles(parts.first_taken_ms),
        frames_to_grant: percentiles(parts.frames_to_grant),
        last_frame_ms: percentiles(parts.last_frame_ms),
      },
    },
    rss_mb: {
      start: Math.round(rss[0]),
      max: Math.round(Math.max(...rss)),
      end: Math.round(rss[rss.length - 1]),
    },
    tensors: { start: tensors[0], max: Math.max(...tensors), end: tensors[tensors.length - 1] },
    rss_drift_mb: half > 0 ? round(mean(pacedRss.slice(half)) - mean(pacedRss.slice(0, half))) : 0,
    access_cooldown_seconds: cooldown,
    backend: tf.getBackend(),
  };
}
