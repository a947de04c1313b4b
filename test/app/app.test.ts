import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { FacegateApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { SystemdNotifier } from '../../src/ops/systemd.js';
import { silentLogger } from '../../src/util/log.js';
import { buildReplay, freePort, uniqueId } from '../e2e/harness.js';

/**
 * The whole daemon in-process with NO broker reachable: it must start (MQTT never blocks),
 * tell systemd READY, recognise the bootstrap person and pulse the door, report
 * "degraded" health, and stop with the door locked and STOPPING sent.
 */
const dir = mkdtempSync(join(tmpdir(), 'facegate-app-'));
let listener: ChildProcess | null = null;
afterAll(() => {
  listener?.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function fakeNotifySocket(): Promise<{ socket: string; messages: string[] }> {
  const socket = join(dir, 'notify.sock');
  listener = spawn('python3', ['test/ops/fixtures/notify-listener.py', socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const messages: string[] = [];
  await new Promise<void>((resolve) => {
    createInterface({ input: listener!.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as string;
      if (msg === 'LISTENING') resolve();
      else if (msg !== 'BARRIER=1') messages.push(msg);
    });
  });
  return { socket, messages };
}

describe('FacegateApp without a broker', () => {
  it('starts, signals READY, opens for the enrolled person, and stops locked', async () => {
    await buildReplay(join(dir, 'replay'));
    cpSync('data/demo/enroll/s36', join(dir, 'enroll/s36'), { recursive: true });
    const closedPort = await freePort(); // nothing listens there
    const metricsPort = await freePort();
    const config = loadConfig({
      env: {
        FACEGATE_DEVICE_ID: uniqueId('app'),
        FACEGATE_STATE_DIR: dir,
        FACEGATE_GALLERY_PATH: join(dir, 'facegate.db'),
        FACEGATE_GALLERY_BOOTSTRAP_DIR: join(dir, 'enroll'),
        FACEGATE_CAMERA_PATH: join(dir, 'replay'),
        FACEGATE_CAMERA_FPS: '0',
        FACEGATE_MQTT_URL: `mqtt://127.0.0.1:${closedPort}`,
        FACEGATE_METRICS_PORT: String(metricsPort),
        FACEGATE_DOOR_PULSE_MS: '20000',
        FACEGATE_DOOR_HELD_OPEN_SECONDS: '60',
        // the pretrained backbone; model.path too, so its metrics.json gives the thresholds
        FACEGATE_MODEL_BACKBONE: 'faceapi',
        FACEGATE_MODEL_PATH: 'models/faceapi-siamese',
        FACEGATE_MODEL_PRETRAINED_PATH: 'models/faceapi-siamese',
        // The replay is still photos: only with liveness off may they open (docs/liveness.md).
        FACEGATE_LIVENESS_MODE: 'off',
      },
    });
    const { socket, messages } = await fakeNotifySocket();
    const notifier = new SystemdNotifier(
      { env: { NOTIFY_SOCKET: socket, PATH: '/usr/bin:/bin' }, pid: 1 },
      silentLogger(),
    );
    const app = new FacegateApp({
      config: { ...config, camera: { ...config.camera, loop: false } },
      logger: silentLogger(),
      notifier,
    });
    try {
      await app.start();
      expect(messages.some((m) => m.startsWith('READY=1'))).toBe(true);
      expect(app.doorState).toMatchObject({ locked: true, unlocks: 0 });

      // The replay plays once; the door must open for s36 with the broker unreachable.
      const end = Date.now() + 60_000;
      while ((app.doorState?.unlocks ?? 0) === 0 && Date.now() < end)
        await new Promise((r) => setTimeout(r, 100));
      expect(app.doorState).toMatchObject({ locked: false, unlocks: 1 });

      const health = (await (await fetch(`http://127.0.0.1:${metricsPort}/health`)).json()) as {
        status: string;
        checks: Record<string, { ok: boolean; detail?: Record<string, unknown> }>;
      };
      expect(health.status).toBe('degraded');
      expect(health.checks.mqtt.ok).toBe(false);
      expect(health.checks.model.ok).toBe(true);
      // the grant waits in the outbox for the broker
      expect(health.checks.gallery.detail?.outboxPending as number).toBeGreaterThanOrEqual(1);
    } finally {
      await app.stop('test over');
    }
    expect(app.doorState).toMatchObject({ locked: true });
    expect(messages.some((m) => m.startsWith('STOPPING=1'))).toBe(true);
  });
});
