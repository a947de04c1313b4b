import * as tf from '@tensorflow/tfjs';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { FacegateApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/util/log.js';

// A soak of the whole daemon in this process (camera replay as fast as it goes → Haar →
// preprocess → embedder → matcher → policy → simulated relay → events/MQTT) over thousands
// of frames, printing tensor count and memory as it goes. The live TF tensor count must
// not grow after warm-up, and the JS heap must stay flat. In the suite it is bounded to
// MAX_SECONDS after warm-up (CI boxes differ in speed); the long soak is the same test with
// FACEGATE_SOAK_FRAMES=5000 FACEGATE_SOAK_SECONDS=900.
const FRAMES = Number(process.env.FACEGATE_SOAK_FRAMES ?? 2000);
const MAX_SECONDS = Number(process.env.FACEGATE_SOAK_SECONDS ?? 35);
const WARMUP_MAX_SECONDS = 60;
const MIN_FRAMES_AFTER_WARMUP = 30;
const WARMUP_FRAMES = 100;
const prefix = `fgsoak-${randomUUID().slice(0, 8)}`;

let dir: string | undefined;
let app: FacegateApp | undefined;

afterAll(async () => {
  await app?.stop('soak done');
  if (dir && !process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

// A full collection before each heap sample: under a busy CI box V8 may put off major GCs
// for tens of seconds, and the heap then looks like it grows with frames when it does not.
// With the collection forced, what is sampled is the live heap, so a real leak still shows.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

interface Sample {
  readonly frames: number;
  readonly seconds: number;
  readonly tensors: number;
  readonly heapMb: number;
  readonly rssMb: number;
}

function processed(a: FacegateApp): number {
  const loop = a.health.report().checks.loop?.detail as { processed?: number } | undefined;
  return loop?.processed ?? 0;
}

describe('soak', () => {
  it(
    `runs up to ${FRAMES} frames (at most ${MAX_SECONDS} s) with a flat tensor count and heap`,
    async () => {
      dir = mkdtempSync(join(tmpdir(), 'fg-soak-'));
      const configPath = join(dir, 'config.json');
      writeFileSync(
        configPath,
        JSON.stringify({
          device: { id: 'door-soak', stateDir: dir },
          camera: { type: 'replay', path: 'data/replay', fps: 0, loop: true },
          gallery: { path: join(dir, 'facegate.db'), bootstrapDir: 'data/demo/enroll' },
          door: { relay: { type: 'simulated' }, pulseMs: 200 },
          access: { cooldownSeconds: 1, noticeCooldownSeconds: 1 },
          mqtt: {
            baseTopic: `${prefix}/door-soak`,
            fleetTopic: `${prefix}/all`,
            homeAssistant: { enabled: false },
          },
          metrics: { port: 0 },
          log: { level: 'warn' },
        }),
      );
      const config = loadConfig({ files: [configPath], env: {} });
      app = new FacegateApp({ config, logger: silentLogger() });
      await app.start();

      const started = Date.now();
      const samples: Sample[] = [];
      const sample = (): Sample => {
        collectGarbage();
        const m = process.memoryUsage();
        const s = {
          frames: processed(app!),
          seconds: Math.round((Date.now() - started) / 100) / 10,
          tensors: tf.memory().numTensors,
          heapMb: Math.round(m.heapUsed / 1e5) / 10,
          rssMb: Math.round(m.rss / 1e5) / 10,
        };
        samples.push(s);
        return s;
      };
      while (processed(app) < WARMUP_FRAMES && Date.now() - started < WARMUP_MAX_SECONDS * 1000) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const warm = sample();
      const measuredFrom = Date.now();
      while (processed(app) < FRAMES && Date.now() - measuredFrom < MAX_SECONDS * 1000) {
        await new Promise((r) => setTimeout(r, 2000));
        sample();
      }
      const end = sample();
      console.log('soak (frames, s, tensors, heap MB, rss MB):');
      for (const s of samples)
        console.log(`  ${s.frames}\t${s.seconds}\t${s.tensors}\t${s.heapMb}\t${s.rssMb}`);
      console.log(
        `soak: ${end.frames - warm.frames} frames after warm-up at ${((end.frames - warm.frames) / (end.seconds - warm.seconds)).toFixed(1)} fps`,
      );

      expect(end.frames - warm.frames).toBeGreaterThanOrEqual(MIN_FRAMES_AFTER_WARMUP);
      // A sample may land while one frame's tensors are alive, so allow that much spread;
      // a leak of even one tensor per frame would add at least 30.
      const tensors = samples.slice(samples.indexOf(warm)).map((s) => s.tensors);
      expect(Math.max(...tensors) - Math.min(...tensors)).toBeLessThan(10);
      // The live JS heap (sampled after a full collection) does not grow with frames: compare
      // the lowest of the first and last thirds.
      const after = samples.slice(samples.indexOf(warm));
      const third = Math.max(1, Math.floor(after.length / 3));
      const trough = (xs: Sample[]): number => Math.min(...xs.map((x) => x.heapMb));
      expect(trough(after.slice(-third)) - trough(after.slice(0, third))).toBeLessThan(20);
    },
    (MAX_SECONDS + WARMUP_MAX_SECONDS + 60) * 1000,
  );
});
