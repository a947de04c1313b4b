import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildReplay,
  DaemonProcess,
  freePort,
  runFacegate,
  TopicRecorder,
  uniqueId,
  type LogLine,
} from './harness.js';

/**
 * The daemon as a child process against the real Mosquitto, the committed model, real
 * OpenCV (native or wasm) and a real SQLite file, with a simulated relay:
 *
 *   import s36 → replay [s36 walks up, empty hall, stranger s40 walks up]
 *     run 1: one access_granted + one relay pulse for s36, unknown_face and no pulse for
 *            s40; SIGTERM while the (20 s) pulse is still on → relay locked, exit 0
 *     run 2: same replay, an injected uncaught error during the pulse → relay locked, exit 1
 *   gallery remove s36
 *     run 3: same replay → no grant, no pulse; s36 is refused
 */

const BROKER = 'mqtt://127.0.0.1:1883';
const PULSE_MS = 20_000;

let dir: string;
let configFile: string;
let baseTopic: string;
let metricsPort: number;

function isRelay(msg: string) {
  return (l: LogLine) => l.module === 'relay' && l.msg === msg;
}

function startDaemon(env: Record<string, string> = {}): DaemonProcess {
  return new DaemonProcess(['--config', configFile], env);
}

/** Waits for the replay to be used up (the non-looping replay source then reports its end). */
function replayEnded(daemon: DaemonProcess): Promise<LogLine> {
  return daemon.waitForLog(
    (l) =>
      l.module === 'live-loop' &&
      l.stage === 'source' &&
      JSON.stringify(l.err ?? '').includes('replay ended'),
    40_000,
    'the end of the replay',
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'facegate-e2e-'));
  const deviceId = uniqueId('e2e');
  baseTopic = `facegate-test/${deviceId}`;
  metricsPort = await freePort();
  await buildReplay(join(dir, 'replay'));
  cpSync('data/demo/enroll/s36', join(dir, 'enroll/s36'), { recursive: true });
  configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      device: { id: deviceId, stateDir: dir },
      camera: { type: 'replay', path: join(dir, 'replay'), fps: 0, loop: false },
      // The pretrained backbone (the scratch model's first version cannot tell people apart).
      // model.path points there too, so access.thresholdsFrom=model reads its metrics.json.
      model: {
        backbone: 'faceapi',
        path: 'models/faceapi-siamese',
        pretrainedPath: 'models/faceapi-siamese',
      },
      gallery: { path: join(dir, 'facegate.db'), bootstrapDir: '' },
      door: { relay: { type: 'simulated' }, pulseMs: PULSE_MS, heldOpenSeconds: 60 },
      // Still photos pasted in a scene: liveness off, as in the demo (docs/liveness.md).
      access: { noticeCooldownSeconds: 1, liveness: { mode: 'off' } },
      mqtt: { url: BROKER, baseTopic, sessionExpirySeconds: 60, homeAssistant: { enabled: false } },
      metrics: { port: metricsPort },
      log: { level: 'info' },
    }),
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('facegate daemon end to end (child process, real broker)', () => {
  // Three daemon starts and three tool runs: ~35 s on an idle 2-core machine, more under load.
  it(
    'imports, grants the person once, ignores the stranger, locks on SIGTERM and on a crash, refuses after removal',
    { timeout: 240_000 },
    async () => {
      // --- gallery import (folder name = person id)
      const imported = await runFacegate(['gallery', 'import', join(dir, 'enroll'), '--config', configFile]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(JSON.parse(imported.stdout)).toMatchObject({
        imported: [{ personId: 's36', faces: 3 }],
        failed: [],
      });
      const listed = await runFacegate(['gallery', 'list', '--config', configFile]);
      expect(JSON.parse(listed.stdout)).toMatchObject({ count: 1, people: [{ id: 's36', faces: 3 }] });

      // --- run 1: grant + one pulse, stranger unknown, SIGTERM during the pulse
      let events = await TopicRecorder.start(BROKER, `${baseTopic}/events`);
      let daemon = startDaemon();
      try {
        await events.waitFor((m) => m.type === 'access_granted', 45_000, 'access_granted');
        await replayEnded(daemon);
        await events.waitFor((m) => m.type === 'unknown_face', 5000, 'unknown_face for the stranger');
        // health_check over MQTT answers with the same report as /health
        const responses = await TopicRecorder.start(BROKER, `${baseTopic}/response/health_check`);
        try {
          await responses.publish(
            `${baseTopic}/request/health_check`,
            JSON.stringify({ transaction: 'hc-1' }),
          );
          const answer = await responses.waitFor(
            (m) => m.transaction === 'hc-1',
            10_000,
            'the health_check response',
          );
          expect(answer).toMatchObject({
            status: 'ok',
            data: { status: 'ok', checks: { mqtt: { ok: true }, model: { ok: true } } },
          });
        } finally {
          await responses.stop();
        }
        const health = await fetch(`http://127.0.0.1:${metricsPort}/health`);
        expect(health.status).toBe(200);
        const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        expect(metrics).toMatch(/facegate_decisions_total\{type="access_granted"\} 1\b/);
        expect(metrics).toMatch(/facegate_relay_pulses_total 1\b/);
        expect(metrics).toMatch(/facegate_mqtt_connected 1\b/);

        const granted = events.ofType('access_granted');
        expect(granted).toHaveLength(1);
        expect(granted[0]).toMatchObject({
          person: { id: 's36' },
          device: expect.any(String),
          id: expect.any(String),
        });
        expect(granted[0].score as number).toBeGreaterThanOrEqual(0.7);
        expect(daemon.lines.filter(isRelay('relay unlocked'))).toHaveLength(1);

        // the 20 s pulse is still on: SIGTERM must lock the relay and exit 0
        expect(daemon.lines.filter(isRelay('relay locked'))).toHaveLength(0);
        daemon.signal('SIGTERM');
        expect(await daemon.exited).toEqual({ code: 0, signal: null });
        const signalAt = daemon.indexOf((l) => l.msg === 'signal received');
        expect(signalAt).toBeGreaterThan(0);
        expect(daemon.indexOf(isRelay('relay locked'), signalAt)).toBeGreaterThan(signalAt);
        expect(daemon.lines.filter(isRelay('relay unlocked'))).toHaveLength(1);
        expect(daemon.lines.some((l) => l.msg === 'facegate stopped')).toBe(true);
      } finally {
        daemon.kill();
        await events.stop();
      }

      // --- run 2: an uncaught error while the door is unlocked → relay locked, exit 1
      events = await TopicRecorder.start(BROKER, `${baseTopic}/events`);
      daemon = startDaemon({ FACEGATE_FAULT_INJECTION: '1' });
      try {
        await daemon.waitForLog(isRelay('relay unlocked'), 45_000, 'the unlock pulse');
        daemon.signal('SIGUSR2');
        expect((await daemon.exited).code).toBe(1);
        const unlockedAt = daemon.indexOf(isRelay('relay unlocked'));
        const crashAt = daemon.indexOf((l) => l.level === 60 && l.origin === 'uncaughtException');
        expect(crashAt).toBeGreaterThan(unlockedAt);
        expect(daemon.indexOf(isRelay('relay locked'), unlockedAt)).toBeGreaterThan(unlockedAt);
        const lastRelay = daemon.lines.filter((l) => l.module === 'relay').at(-1);
        expect(lastRelay?.msg).toBe('relay locked');
      } finally {
        daemon.kill();
        await events.stop();
      }

      // --- remove, then run 3: the same person is refused
      const removed = await runFacegate(['gallery', 'remove', 's36', '--config', configFile]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(JSON.parse(removed.stdout)).toMatchObject({ personId: 's36', removed: true });
      const again = await runFacegate(['gallery', 'remove', 's36', '--config', configFile]);
      expect(again.code).toBe(1);

      events = await TopicRecorder.start(BROKER, `${baseTopic}/events`);
      daemon = startDaemon();
      try {
        await replayEnded(daemon);
        await events.waitFor(
          (m) => m.type === 'unknown_face' || m.type === 'access_denied',
          5000,
          'a refusal',
        );
        expect(events.ofType('access_granted')).toHaveLength(0);
        expect(daemon.lines.filter(isRelay('relay unlocked'))).toHaveLength(0);
        daemon.signal('SIGTERM');
        expect((await daemon.exited).code).toBe(0);
      } finally {
        daemon.kill();
        await events.stop();
      }
    },
  );
});
