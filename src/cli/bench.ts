#!/usr/bin/env node
/**
 * `npm run bench -- [--config FILE] [--approaches N] [--fps N] [--throughput-frames N]
 *                   [--loops N] [--peer] [--peer-frames N] [--json]`
 *
 * The daemon's own live path (FacegateApp from the config, as `facegate` builds it; only the
 * camera and relay are bench stand-ins, MQTT off) on scripted walk-ups at a door:
 * 1. throughput: frames handed over as fast as the loop takes them → frames a second,
 *    per-stage times, CPU ms per frame;
 * 2. paced: the same scenes at camera rate (default 30 fps) → frames the loop keeps up with,
 *    decision latency (first frame an enrolled person is in → relay command) p50/p95 over
 *    `--approaches` walk-ups, RSS and tensor count over the run (`--loops` for a soak).
 * `--peer` then runs face-api.js's Tiny-416 and SSD pipelines (detector + 68 landmarks +
 * descriptor) on the same frames and TF.js backend and prints facegate's speed-up.
 */
import { loadavg, cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { ApproachScript, DEFAULT_APPROACH_OPTIONS } from '../bench/approaches.js';
import { runPeer, type PeerReport } from '../bench/peer.js';
import { runRealPath, type Percentiles, type ProcessProbe, type RealPathReport } from '../bench/real-path.js';
import { loadConfig } from '../config/load.js';
import { systemClock } from '../util/clock.js';
import { createLogger } from '../util/log.js';
import { int } from './options.js';

const probe: ProcessProbe = {
  cpuUs: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  rssBytes: () => process.memoryUsage().rss,
};

export async function main(argv: string[]): Promise<number> {
  const program = new Command('bench')
    .description(
      "Benchmark the daemon's live path on scripted walk-ups (throughput, decision latency, memory)",
    )
    .option('--config <file>', 'facegate config file (as for the daemon)', 'config/default.json')
    .option('--approaches <n>', 'enrolled walk-ups in the paced phase', int('--approaches', 1), 20)
    .option('--fps <n>', 'camera rate of the paced phase', int('--fps', 1), 30)
    .option('--throughput-frames <n>', 'frames of the unpaced phase', int('--throughput-frames', 0), 300)
    .option('--loops <n>', 'times the paced walk-ups are played (soak)', int('--loops', 1), 1)
    .option('--peer', "also run face-api.js's Tiny-416 and SSD pipelines on the same frames", false)
    .option(
      '--peer-frames <n>',
      'frames for each peer pipeline (spread over the walk-ups)',
      int('--peer-frames', 1),
      60,
    )
    .option('--json', 'print one JSON object', false)
    .exitOverride();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    config: string;
    approaches: number;
    fps: number;
    throughputFrames: number;
    loops: number;
    peer: boolean;
    peerFrames: number;
    json: boolean;
  }>();
  if (o.peer && o.throughputFrames === 0)
    throw new Error('--peer compares with the throughput phase: give --throughput-frames > 0');
  const config = loadConfig({ files: [o.config], env: process.env });
  const logger = createLogger('warn', { destination: 2 });
  const script = await ApproachScript.load({
    ...DEFAULT_APPROACH_OPTIONS,
    orlDir: 'data/orl_faces',
    approaches: o.approaches,
  });
  const loadBefore = loadavg()[0];
  const real = await runRealPath({
    config,
    script,
    throughputFrames: o.throughputFrames,
    fps: o.fps,
    loops: o.loops,
    logger,
    clock: systemClock,
    probe,
  });
  const facegate = {
    msPerFrame: Math.round((1000 / real.throughput.fps) * 10) / 10,
    cpuMsPerFrame: real.throughput.cpu_ms_per_frame,
    // Frames with an accepted face (the match stage runs for them, reused or embedded).
    faceFrames:
      Math.round(
        ((real.throughput.stages_ms.match?.n ?? 0) / Math.max(1, real.throughput.frames_processed)) * 100,
      ) / 100,
  };
  const peer = o.peer
    ? await runPeer({ config, script, frames: o.peerFrames, facegate, logger, probe })
    : null;
  const machine = {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    load_average: { before: Math.round(loadBefore * 10) / 10, after: Math.round(loadavg()[0] * 10) / 10 },
  };
  if (o.json) process.stdout.write(JSON.stringify({ machine, config: o.config, ...real, peer }) + '\n');
  else process.stdout.write(formatReport(o.config, real, peer, machine.load_average));
  return 0;
}

function formatReport(
  configFile: string,
  r: RealPathReport,
  peer: PeerReport | null,
  load: { before: number; after: number },
): string {
  const f = (p: Percentiles) => `p50 ${p.p50.toFixed(1)} / p95 ${p.p95.toFixed(1)} ms`;
  const stages = (s: RealPathReport['throughput']['stages_ms']) =>
    Object.entries(s)
      .map(([k, v]) => `  ${k.padEnd(11)} ${f(v)}  (${v.n} frames)`)
      .join('\n');
  const t = r.throughput;
  const p = r.paced;
  let out =
    `facegate live path (${configFile}; tf ${r.backend}); load average ${load.before} → ${load.after} ` +
    `(a loaded machine: compare ratios, not absolute times)\n` +
    `throughput: ${t.frames_processed} frames in ${t.seconds} s = ${t.fps} fps, CPU ${t.cpu_ms_per_frame} ms/frame\n` +
    stages(t.stages_ms) +
    `\npaced at ${p.camera_fps} fps: ${p.frames_processed} of ${p.frames_offered} frames processed (${p.fps} fps), ` +
    `CPU ${p.cpu_ms_per_frame} ms/frame\n` +
    `decision latency (first frame in view → relay): ${f(p.decision_latency_ms)}, max ${p.decision_latency_ms.max} ms; ` +
    `${p.granted}/${p.approaches} walk-ups granted, ${p.missed} missed, ${p.stranger_grants} stranger grants ` +
    `(access.cooldownSeconds ${r.access_cooldown_seconds} for the bench)\n` +
    `  where it goes: first person frame → first one taken ${f(p.latency_parts.first_taken_ms)}; ` +
    `frames taken until the grant p50 ${p.latency_parts.frames_to_grant.p50} / p95 ${p.latency_parts.frames_to_grant.p95}; ` +
    `capture of the granting frame → relay ${f(p.latency_parts.last_frame_ms)}\n` +
    `faces: ${t.stages_ms.match?.n ?? 0} frames with a face, ${t.stages_ms.embed?.n ?? 0} embedded (throughput phase; ` +
    `the rest reused a decided track's match)\n` +
    `rss ${r.rss_mb.start} → max ${r.rss_mb.max} → ${r.rss_mb.end} MB (drift ${r.rss_drift_mb} MB); ` +
    `tensors ${r.tensors.start} → max ${r.tensors.max} → ${r.tensors.end}\n`;
  if (peer) {
    out += `peer (same ${peer.frames} frames, tf ${peer.backend}):\n`;
    for (const row of peer.rows)
      out +=
        `  ${row.name.padEnd(34)} ${row.ms_per_frame.toFixed(1)} ms/frame, CPU ${row.cpu_ms_per_frame.toFixed(1)} ms/frame, face in ${Math.round(row.face_frames * 100)}% of frames` +
        (row.name === 'facegate' ? '' : `  → facegate ${row.facegate_speedup}x faster`) +
        '\n';
  }
  return out;
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
