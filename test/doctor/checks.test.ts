import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cameraSchema } from '../../src/camera/config.js';
import { loadConfig } from '../../src/config/load.js';
import {
  checkBroker,
  checkCamera,
  checkClock,
  checkDetector,
  checkDisk,
  checkEyeModel,
  checkGpio,
  checkModelFiles,
} from '../../src/doctor/checks.js';
import { DEFAULT_LIVENESS_CONFIG } from '../../src/liveness/config.js';
import { IrisEyelidReader } from '../../src/liveness/eyelids.js';
import { anyFailed, renderDoctorTable } from '../../src/doctor/doctor.js';
import { createRelay } from '../../src/gpio/factory.js';
import type { Relay } from '../../src/gpio/types.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { createFaceDetector } from '../../src/vision/detector.js';
import { ListFrameSource } from '../fakes/camera.js';
import { FakeGpioBank, fakeOnoffFactory, writeFakeSysfs } from '../fakes/gpio-lines.js';
import { freePort } from '../helpers/broker.js';

const config = loadConfig({ files: ['config/default.json'], env: {} });
const gray = (width: number, height: number) => ({ width, height, data: new Uint8Array(width * height) });
const tmp = mkdtempSync(join(tmpdir(), 'facegate-doctor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('doctor: camera', () => {
  it('reports size and fps of the frames it got', async () => {
    let t = 0;
    const camera = new ListFrameSource(Array.from({ length: 10 }, () => gray(320, 240)));
    const r = await checkCamera(() => Promise.resolve(camera), { frames: 5, now: () => (t += 100) });
    expect(r.status).toBe('ok');
    expect(r.detail).toContain('320x240');
    // 4 frame intervals over one 100 ms tick of the fake clock.
    expect(r.detail).toContain('40.0 fps');
    expect(camera.stopped).toBe(true);
  });

  it('fails with a fix when no frame comes', async () => {
    const camera = new ListFrameSource([]);
    const r = await checkCamera(() => Promise.resolve(camera), { timeoutMs: 100 });
    expect(r.status).toBe('fail');
    expect(r.detail).toMatch(/first frame/);
    // The fix names real config keys (it once named camera.device, which does not exist).
    const keys = [...(r.fix ?? '').matchAll(/camera\.(\w+)/g)].map((m) => m[1]);
    expect(keys).toContain('path');
    for (const key of keys) expect(Object.keys(cameraSchema)).toContain(key);
  });

  it('warns on a slow camera', async () => {
    let t = 0;
    const camera = new ListFrameSource(Array.from({ length: 5 }, () => gray(64, 48)));
    const r = await checkCamera(() => Promise.resolve(camera), { frames: 3, now: () => (t += 1000) });
    expect(r.status).toBe('warn');
  });
});

describe('doctor: detector and model files', () => {
  it('names the detector engine that loads', async () => {
    const r = await checkDetector(() => createFaceDetector(config.vision.detector, silentLogger()));
    expect(r.status).not.toBe('fail');
    expect(r.detail).toMatch(/opencv/i);
  });

  it('accepts the committed model and catches a changed weight file', async () => {
    const good = await checkModelFiles('models/faceapi-siamese', 'faceapi');
    expect(good.status).toBe('ok');
    expect(good.detail).toMatch(/matches/);
    const copy = join(tmp, 'model');
    cpSync('models/faceapi-siamese', copy, { recursive: true });
    const manifest = JSON.parse(
      (await import('node:fs')).readFileSync(
        join(copy, 'backbone', 'face_recognition_model-weights_manifest.json'),
        'utf8',
      ),
    ) as { paths: string[] }[];
    writeFileSync(join(copy, 'backbone', manifest[0].paths[0]), 'tampered');
    const bad = await checkModelFiles(copy, 'faceapi');
    expect(bad.status).toBe('fail');
    expect(bad.detail).toMatch(/≠ metadata/);
  });
});

describe('doctor: eye model (liveness blink signal)', () => {
  const on = { ...DEFAULT_LIVENESS_CONFIG, mode: 'on' as const };

  it('loads the committed eyelid model, and says when it is not needed', async () => {
    const good = await checkEyeModel(on, () => IrisEyelidReader.load(on.eyeModel));
    expect(good).toMatchObject({ status: 'ok' });
    expect(good.detail).toContain('sha256');
    const load = () => Promise.reject(new Error('must not be called'));
    expect(await checkEyeModel({ ...on, blink: false }, load)).toMatchObject({ status: 'ok' });
    expect(await checkEyeModel({ ...on, mode: 'off' }, load)).toMatchObject({ status: 'ok' });
  });

  it('fails with a fix on a missing folder and on a changed weight file', async () => {
    const missing = { ...on, eyeModel: join(tmp, 'no-eyes') };
    const r = await checkEyeModel(missing, () => IrisEyelidReader.load(missing.eyeModel));
    expect(r).toMatchObject({ status: 'fail' });
    expect(r.detail).toContain('iris.json');
    expect(r.fix).toContain('FACEGATE_LIVENESS_EYE_MODEL');
    const dir = join(tmp, 'eyes');
    cpSync('models/liveness', dir, { recursive: true });
    writeFileSync(join(dir, 'iris.bin'), Buffer.alloc(64));
    const changed = { ...on, eyeModel: dir };
    const c = await checkEyeModel(changed, () => IrisEyelidReader.load(dir));
    expect(c).toMatchObject({ status: 'fail' });
    expect(c.detail).toContain('sha256');
  }, 30_000);
});

describe('doctor: GPIO', () => {
  const deps = (bank: FakeGpioBank, root: string) => ({
    logger: silentLogger(),
    clock: systemClock,
    onoffFactory: fakeOnoffFactory(bank),
    sysfsRoot: root,
  });

  it('claims the relay line locked, and pulses it only when asked', async () => {
    const bank = new FakeGpioBank();
    const root = join(tmp, 'sysfs-ok');
    writeFakeSysfs(root, [{ base: 512, label: 'pinctrl-rp1', ngpio: 54 }]);
    const relayConfig = { ...config.door.relay, type: 'onoff' as const, chip: 'auto', line: 17 };
    const quiet = await checkGpio(
      { relay: () => createRelay(relayConfig, deps(bank, root)), inputs: [] },
      { pulse: false },
    );
    expect(quiet[0].status).toBe('ok');
    expect(bank.writes.every((w) => w.level === 0)).toBe(true);
    const pulsed = await checkGpio(
      { relay: () => createRelay(relayConfig, deps(bank, root)), inputs: [] },
      { pulse: true, sleep: () => Promise.resolve() },
    );
    expect(pulsed[0].detail).toMatch(/pulsed/);
    const levels = bank.writes.filter((w) => w.key === 'sysfs:529').map((w) => w.level);
    expect(levels).toContain(1);
    expect(levels.at(-1)).toBe(0);
  });

  it('fails with a fix on a line the chip does not have', async () => {
    const bank = new FakeGpioBank();
    const root = join(tmp, 'sysfs-short');
    writeFakeSysfs(root, [{ base: 512, label: 'pinctrl-rp1', ngpio: 28 }]);
    const relayConfig = { ...config.door.relay, type: 'onoff' as const, chip: 'auto', line: 40 };
    const [row] = await checkGpio(
      { relay: () => createRelay(relayConfig, deps(bank, root)), inputs: [] },
      { pulse: false },
    );
    expect(row.status).toBe('fail');
    expect(row.fix).toMatch(/gpioinfo/);
  });

  it('locks the relay again when the pulse fails half-way', async () => {
    let unlocked = false;
    const relay: Relay = {
      name: 'flaky',
      start: async () => undefined,
      unlock: async () => {
        unlocked = true;
      },
      lock: async () => {
        throw new Error('line lost');
      },
      lockSync: () => {
        unlocked = false;
      },
      close: async () => undefined,
      get unlocked() {
        return unlocked;
      },
    };
    const [row] = await checkGpio(
      { relay: () => Promise.resolve(relay), inputs: [] },
      { pulse: true, sleep: () => Promise.resolve() },
    );
    expect(row.status).toBe('fail');
    expect(unlocked).toBe(false);
  });
});

describe('doctor: broker (real Mosquitto on 127.0.0.1:1883)', () => {
  it('connects to the running broker', async () => {
    const r = await checkBroker(config.mqtt, 'doctor-test');
    expect(r.status).toBe('ok');
    expect(r.detail).toContain('127.0.0.1:1883');
  });

  it('fails with a fix on a port nobody listens on', async () => {
    const port = await freePort();
    const r = await checkBroker({ ...config.mqtt, url: `mqtt://127.0.0.1:${port}` }, 'doctor-test', 1000);
    expect(r.status).toBe('fail');
    expect(r.fix).toMatch(/is the broker running/);
  });

  it('fails when a credentials file is missing', async () => {
    const r = await checkBroker({ ...config.mqtt, passwordFile: join(tmp, 'nope') }, 'doctor-test', 1000);
    expect(r.status).toBe('fail');
    expect(r.fix).toMatch(/passwordFile/);
  });
});

describe('doctor: clock and disk', () => {
  it('accepts the timesyncd flag or timedatectl yes, fails otherwise', async () => {
    expect((await checkClock({ flagFile: async () => true, timedatectl: async () => 'no' })).status).toBe(
      'ok',
    );
    expect((await checkClock({ flagFile: async () => false, timedatectl: async () => 'yes\n' })).status).toBe(
      'ok',
    );
    const no = await checkClock({ flagFile: async () => false, timedatectl: async () => 'no\n' });
    expect(no.status).toBe('fail');
    expect(no.fix).toMatch(/set-ntp/);
    const gone = await checkClock({
      flagFile: async () => false,
      timedatectl: () => Promise.reject(new Error('not found')),
    });
    expect(gone.status).toBe('fail');
  });

  it('fails on a nearly full disk, warns when low, measures the real one', async () => {
    const MB = 1024 * 1024;
    expect((await checkDisk(join(tmp, 'g.db'), { free: async () => 10 * MB })).status).toBe('fail');
    expect((await checkDisk(join(tmp, 'g.db'), { free: async () => 200 * MB })).status).toBe('warn');
    const real = await checkDisk(join(tmp, 'not-yet', 'g.db'));
    expect(real.detail).toMatch(/MB free in .* is created on start/);
  });
});

describe('doctor: table', () => {
  it('prints every row with its fix and fails on any fail', () => {
    const rows = [
      { check: 'camera', status: 'ok' as const, detail: 'replay: 640x480, 10.0 fps', fix: '' },
      {
        check: 'clock',
        status: 'fail' as const,
        detail: 'not synchronised',
        fix: 'sudo timedatectl set-ntp true',
      },
    ];
    const text = renderDoctorTable(rows);
    expect(text).toContain('FAIL');
    expect(text).toContain('set-ntp');
    expect(anyFailed(rows)).toBe(true);
    expect(anyFailed(rows.slice(0, 1))).toBe(false);
  });
});
