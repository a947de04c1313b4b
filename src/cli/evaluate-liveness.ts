#!/usr/bin/env node
/**
 * `npm run evaluate -- --liveness <dir> [--json] [--fps N] [--no-texture] [--set key=value ...]`
 * Presentation-attack detection over `<dir>/bona-fide/*` and `<dir>/attack/*` (videos,
 * photos, folders of frames): APCER, BPCER, time to a live verdict (p50/p95), combined and
 * per signal: a plain-text summary, or with --json one JSON object (docs/liveness.md).
 */
import path from 'node:path';
import { Command } from 'commander';
import { applyLivenessOverrides, DEFAULT_LIVENESS_CONFIG, type LivenessConfig } from '../liveness/config.js';
import { loadEyelidReader, type EyelidReader } from '../liveness/eyelids.js';
import { evaluateSample, listSamples, summarise, type LandmarkPort } from '../liveness/evaluate-run.js';
import { loadLandmarkPort } from '../liveness/landmark-port.js';
import { createNativeLineFinder } from '../liveness/line-finder.js';
import { DEFAULT_SAMPLE_FPS } from '../liveness/sample-reader.js';
import { TextureNets } from '../liveness/texture-net.js';
import { chooseBackend, parseBackendPreference } from '../model/backend.js';
import { createLogger } from '../util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../vision/config.js';
import { createFaceDetector } from '../vision/detector.js';
import { resolvePackagePath } from '../vision/package-path.js';
import { int } from './options.js';

export function buildLivenessCommand(): Command {
  return new Command()
    .name('evaluate --liveness')
    .description('Presentation-attack detection error rates over bona-fide/ and attack/ samples.')
    .requiredOption(
      '--liveness <dir>',
      'folder with bona-fide/ and attack/ (videos, photos or frame folders)',
    )
    .option(
      '--fps <n>',
      'frames per second taken from videos (the rate the live loop processes)',
      int('fps', 1),
      DEFAULT_SAMPLE_FPS,
    )
    .option(
      '--set <key=value>',
      'override an access.liveness setting (repeatable), e.g. --set edges=false',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--max-seconds <n>', 'at most this many seconds of each video', int('max-seconds', 1), 30)
    .option('--no-texture', 'skip the passive networks (models/liveness)')
    .option('--backend <name>', 'auto | node | wasm | cpu (default: FACEGATE_TF_BACKEND or auto)')
    .option('--json', 'print only the JSON report on stdout');
}

/**
 * Runs the evaluation; `landmarks` and `eyelids` are injectable (tests; eyelids null: no
 * blink evidence), the defaults are the live path's landmarker and eyelid model.
 */
export async function runLivenessEvaluation(
  argv: string[],
  options: {
    landmarks?: LandmarkPort;
    eyelids?: EyelidReader | null;
    config?: LivenessConfig;
    env?: NodeJS.ProcessEnv;
  } = {},
): Promise<{ report: ReturnType<typeof summarise>; text: string }> {
  const program = buildLivenessCommand().exitOverride();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    liveness: string;
    fps: number;
    maxSeconds: number;
    texture: boolean;
    backend?: string;
    json?: boolean;
    set: string[];
  }>();
  const env = options.env ?? {};
  const logger = createLogger(env.FACEGATE_LOG_LEVEL === 'debug' ? 'debug' : 'warn', process.stderr);
  await chooseBackend(parseBackendPreference(o.backend ?? env.FACEGATE_TF_BACKEND), logger);
  const entries = await listSamples(path.resolve(o.liveness));
  const config = applyLivenessOverrides(options.config ?? { ...DEFAULT_LIVENESS_CONFIG, mode: 'on' }, o.set);
  const detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, logger);
  const textures = o.texture ? await TextureNets.load(resolvePackagePath('models/liveness')) : undefined;
  const cleanup: (() => void)[] = [];
  try {
    const own = options.landmarks
      ? null
      : await loadLandmarkPort(resolvePackagePath('models/landmarks/faceapi-68'));
    cleanup.push(() => own?.dispose());
    const landmarks = options.landmarks ?? own!.port;
    const eyelids =
      options.eyelids !== undefined
        ? (options.eyelids ?? undefined)
        : ((await loadEyelidReader({ ...config, eyeModel: resolvePackagePath(config.eyeModel) })) ??
          undefined);
    if (options.eyelids === undefined) cleanup.push(() => eyelids?.dispose());
    const lines = config.edges ? createNativeLineFinder() : undefined;
    const results = [];
    for (const entry of entries) {
      results.push(
        await evaluateSample(
          entry,
          { detector, landmarks, textures, lines, eyelids, config },
          { fps: o.fps, maxSeconds: o.maxSeconds },
        ),
      );
    }
    const report = summarise(results, config);
    const text = o.json ? JSON.stringify(report) + '\n' : humanSummary(report);
    return { report, text };
  } finally {
    for (const c of cleanup) c();
    textures?.dispose();
    await detector.stop();
  }
}

function humanSummary(r: ReturnType<typeof summarise>): string {
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
  const sec = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`;
  const ms = (x: number) => x.toFixed(1);
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const lines = [
    `samples ${r.samples} (${r.combined.bona_fide} bona fide, ${plural(r.combined.attacks, 'attack', 'attacks')})`,
    `combined: APCER ${pct(r.combined.apcer)}  BPCER ${pct(r.combined.bpcer)}  live within 2 s ${pct(r.combined.live_within_2s)}  time to live p50 ${sec(r.combined.time_to_live_ms.p50)} p95 ${sec(r.combined.time_to_live_ms.p95)}`,
    `liveness stage ${ms(r.liveness_ms_per_frame.mean)} ms/frame (max ${ms(r.liveness_ms_per_frame.max)}), landmarks ${ms(r.landmark_ms_per_frame.mean)} ms/frame`,
    'per sample: verdict, reasons, when it was reached (from the face appearing), scores; per-signal rates: --json',
  ];
  for (const s of r.results) {
    const sc = s.combined.scores;
    const keys = [
      'planar_residual',
      'expression_residual',
      'moving_frames',
      'eye_frames',
      'eye_min_ratio',
      'edge_frames',
      'edge_framed3_share',
      'edge_sides_moving',
    ];
    const shown = keys.filter((k) => sc[k] !== undefined).map((k) => `${k}=${sc[k]}`);
    const others = s.track_verdicts.slice(1).map((t) => `${t.verdict}(${t.frames})`);
    lines.push(
      `  ${s.label.padEnd(9)} ${path.basename(s.file).padEnd(44)} ${s.combined.verdict.padEnd(9)} ${s.combined.reasons.join(',')} at=${sec(s.combined.decidedAtMs)} ${shown.join(' ')}${others.length ? ` other tracks: ${others.join(' ')}` : ''}`,
    );
  }
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  const { text } = await runLivenessEvaluation(argv, { env: process.env });
  process.stdout.write(text);
  return 0;
}
