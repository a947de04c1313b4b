#!/usr/bin/env node
/**
 * `npm run bench -- [--json] [--people N] [--frames N] [--replay DIR] [--model DIR]
 *                   [--detector auto|native|wasm] [--tf-backend auto|node|wasm|cpu] [--detect-width PX]`
 *
 * Runs the live path over a replay, frame by frame as the daemon does:
 * frame → detect → quality gate → preprocess → embed → match against a synthetic gallery of
 * N people, and prints per-stage latency percentiles, frames per second and memory.
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { ReplaySource } from '../camera/replay-source.js';
import { Matcher, type MatcherEntry } from '../gallery/matcher.js';
import { chooseBackend, parseBackendPreference, type BackendPreference } from '../model/backend.js';
import type { Embedder } from '../model/embedder.js';
import { loadEmbedder } from '../model/load.js';
import { systemClock } from '../util/clock.js';
import { mulberry32 } from '../util/random.js';
import { int } from './options.js';
import { createLogger, type Logger } from '../util/log.js';
import {
  DEFAULT_DETECTOR_CONFIG,
  DEFAULT_QUALITY_CONFIG,
  type DetectorBackendChoice,
} from '../vision/config.js';
import { createFaceDetector } from '../vision/detector.js';
import type { GrayImage } from '../vision/image.js';
import { resolvePackagePath } from '../vision/package-path.js';
import { DEFAULT_PREPROCESS, preprocessFace } from '../vision/preprocess.js';
import { QualityGate } from '../vision/quality.js';

export interface BenchOptions {
  readonly replay: string;
  readonly model: string;
  readonly people: number;
  readonly frames: number;
  readonly warmup: number;
  readonly detector: DetectorBackendChoice;
  readonly tfBackend: BackendPreference;
  readonly detectWidth: number;
  readonly scaleFactor: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
}

export interface BenchReport {
  readonly frames: number;
  readonly frames_with_face: number;
  readonly fps: number;
  readonly stages_ms: {
    detect: Percentiles;
    quality: Percentiles;
    preprocess: Percentiles;
    embed: Percentiles;
    match: Percentiles;
  };
  readonly end_to_end_ms: Percentiles;
  readonly end_to_end_with_face_ms: Percentiles;
  readonly people: number;
  readonly rss_mb: number;
  /** Process CPU time (all threads) per measured frame: what a frame costs, independent of other load on the machine. */
  readonly cpu_ms_per_frame: number;
  /** Process CPU time of the detect stage alone (the native and wasm detectors run on other threads of this process). */
  readonly detect_cpu_ms: Percentiles;
  readonly load_average: number;
  readonly backend: string;
  readonly detector: string;
  readonly detect_width: number;
  readonly scale_factor: number;
  readonly frame_size: string;
}

export function percentiles(samples: readonly number[]): Percentiles {
  if (samples.length === 0) return { p50: Number.NaN, p95: Number.NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: round(at(0.5)), p95: round(at(0.95)) };
}

/** A seeded gallery of `people` random embeddings with the norm real embeddings have. */
export function syntheticGallery(people: number, dimension: number, norm: number, seed = 1): MatcherEntry[] {
  const rnd = mulberry32(seed);
  const entries: MatcherEntry[] = [];
  for (let p = 0; p < people; p++) {
    const v = new Float32Array(dimension);
    let sq = 0;
    for (let i = 0; i < dimension; i++) {
      v[i] = rnd() - 0.5;
      sq += v[i] * v[i];
    }
    const k = norm / Math.sqrt(sq || 1);
    for (let i = 0; i < dimension; i++) v[i] *= k;
    entries.push({ personId: `synthetic-${p}`, personName: `Person ${p}`, vector: v });
  }
  return entries;
}

export async function runBench(o: BenchOptions, logger: Logger): Promise<BenchReport> {
  const detector = await createFaceDetector(
    {
      ...DEFAULT_DETECTOR_CONFIG,
      backend: o.detector,
      detectWidth: o.detectWidth,
      scaleFactor: o.scaleFactor,
    },
    logger,
  );
  let embedder: Embedder | undefined;
  const source = new ReplaySource(
    { folder: resolvePackagePath(o.replay), fps: 0, loop: true },
    systemClock,
    logger,
  );
  try {
    await chooseBackend(o.tfBackend, logger);
    embedder = await loadEmbedder(resolvePackagePath(o.model), logger);
    const gate = new QualityGate(DEFAULT_QUALITY_CONFIG);
    const preprocess = { ...DEFAULT_PREPROCESS, size: embedder.inputSize };
    await source.start();

    // Gallery vectors get the norm of real embeddings so distances look like the real thing.
    const probe = (await embedder.embed([preprocessFace((await source.next()).image, null, preprocess)]))[0];
    const norm = Math.sqrt(probe.reduce((a, v) => a + v * v, 0));
    const matcher = new Matcher(embedder.head, embedder.dimension);
    matcher.rebuild(syntheticGallery(o.people, embedder.dimension, norm));

    const stages = {
      detect: [] as number[],
      quality: [] as number[],
      preprocess: [] as number[],
      embed: [] as number[],
      match: [] as number[],
    };
    const endToEnd: number[] = [];
    const detectCpu: number[] = [];
    const endToEndFace: number[] = [];
    let withFace = 0;
    let frameSize = '';
    let startedAt = 0;
    let cpuAtStart = process.cpuUsage();
    for (let i = 0; i < o.warmup + o.frames; i++) {
      if (i === o.warmup) {
        startedAt = performance.now();
        cpuAtStart = process.cpuUsage();
      }
      const t0 = performance.now();
      const frame = await source.next();
      frameSize = `${frame.image.width}x${frame.image.height}`;
      const cpu0 = process.cpuUsage();
      const boxes = await detector.detect(frame.image);
      const t1 = performance.now();
      const cpuDetect = process.cpuUsage(cpu0);
      const verdict = gate.assess(frame.image, boxes);
      const t2 = performance.now();
      const faces: GrayImage[] = verdict.accepted.map((a) =>
        preprocessFace(frame.image, a.region, preprocess),
      );
      const t3 = performance.now();
      let t4 = t3;
      let t5 = t3;
      if (faces.length > 0) {
        const vectors = await embedder.embed(faces);
        t4 = performance.now();
        for (const v of vectors) matcher.match(v);
        t5 = performance.now();
      }
      if (i < o.warmup) continue;
      stages.detect.push(t1 - t0);
      detectCpu.push((cpuDetect.user + cpuDetect.system) / 1000);
      stages.quality.push(t2 - t1);
      endToEnd.push(t5 - t0);
      if (faces.length > 0) {
        withFace += 1;
        stages.preprocess.push(t3 - t2);
        stages.embed.push(t4 - t3);
        stages.match.push(t5 - t4);
        endToEndFace.push(t5 - t0);
      }
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = process.cpuUsage(cpuAtStart);
    return {
      frames: o.frames,
      frames_with_face: withFace,
      fps: Math.round((o.frames / seconds) * 10) / 10,
      stages_ms: {
        detect: percentiles(stages.detect),
        quality: percentiles(stages.quality),
        preprocess: percentiles(stages.preprocess),
        embed: percentiles(stages.embed),
        match: percentiles(stages.match),
      },
      end_to_end_ms: percentiles(endToEnd),
      end_to_end_with_face_ms: percentiles(endToEndFace),
      people: o.people,
      rss_mb: Math.round(process.memoryUsage().rss / 1048576),
      cpu_ms_per_frame: Math.round(((cpu.user + cpu.system) / 1000 / o.frames) * 100) / 100,
      detect_cpu_ms: percentiles(detectCpu),
      load_average: Math.round(loadavg()[0] * 10) / 10,
      backend: tf.getBackend(),
      detector: detector.name,
      detect_width: o.detectWidth,
      scale_factor: o.scaleFactor,
      frame_size: frameSize,
    };
  } finally {
    await source.stop();
    embedder?.dispose();
    await detector.stop();
  }
}

function choice<T extends string>(name: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v))
      throw new InvalidArgumentError(`${name} must be one of ${allowed.join(', ')}`);
    return v as T;
  };
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('bench')
    .description('Benchmark the live path (detect, quality, preprocess, embed, match) over a replay')
    .option('--json', 'print one JSON object', false)
    .option('--people <n>', 'synthetic gallery size', int('--people', 1), 1000)
    .option('--frames <n>', 'frames to measure', int('--frames', 1), 300)
    .option('--warmup <n>', 'frames run before measuring', int('--warmup', 0), 20)
    .option('--replay <dir>', 'folder of frames', 'data/replay')
    .option('--model <dir>', 'trained model folder', 'models/siamese')
    .option(
      '--detector <backend>',
      'auto | native | wasm',
      choice('--detector', ['auto', 'native', 'wasm'] as const),
      'auto',
    )
    .option(
      '--tf-backend <backend>',
      'auto | node | wasm | cpu',
      (v) => parseBackendPreference(v),
      'auto' as BackendPreference,
    )
    .option(
      '--detect-width <px>',
      'detector input width',
      int('--detect-width', 0),
      DEFAULT_DETECTOR_CONFIG.detectWidth,
    )
    .option(
      '--scale-factor <f>',
      'Haar pyramid step',
      (v) => {
        const n = Number(v);
        if (!(n > 1 && n <= 2)) throw new InvalidArgumentError('--scale-factor must be in (1, 2]');
        return n;
      },
      DEFAULT_DETECTOR_CONFIG.scaleFactor,
    )
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    json: boolean;
    people: number;
    frames: number;
    warmup: number;
    replay: string;
    model: string;
    detector: DetectorBackendChoice;
    tfBackend: BackendPreference;
    detectWidth: number;
    scaleFactor: number;
  }>();
  const logger = createLogger(o.json ? 'warn' : 'info');
  const report = await runBench(
    {
      replay: o.replay,
      model: o.model,
      people: o.people,
      frames: o.frames,
      warmup: o.warmup,
      detector: o.detector,
      tfBackend: o.tfBackend,
      detectWidth: o.detectWidth,
      scaleFactor: o.scaleFactor,
    },
    logger,
  );
  if (o.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    const s = report.stages_ms;
    const f = (p: Percentiles) => `p50 ${p.p50.toFixed(2)} / p95 ${p.p95.toFixed(2)} ms`;
    process.stdout.write(
      `${report.frames} frames (${report.frames_with_face} with a face) of ${report.frame_size}: ${report.fps} fps\n` +
        `detect     ${f(s.detect)}  (${report.detector}, width ${report.detect_width}; CPU ${f(report.detect_cpu_ms)})\n` +
        `quality    ${f(s.quality)}\n` +
        `preprocess ${f(s.preprocess)}\n` +
        `embed      ${f(s.embed)}  (tf ${report.backend})\n` +
        `match      ${f(s.match)}  (${report.people} people)\n` +
        `end to end ${f(report.end_to_end_ms)}; with a face ${f(report.end_to_end_with_face_ms)}\n` +
        `rss ${report.rss_mb} MB, cpu ${report.cpu_ms_per_frame} ms per frame, load average ${report.load_average}\n`,
    );
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error & { code?: string; exitCode?: number }) => {
      if (err.code?.startsWith('commander.')) process.exit(err.exitCode ?? 1);
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(1);
    },
  );
}
