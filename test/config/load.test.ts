import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, describeSchema, loadConfig } from '../../src/config/load.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'facegate-config-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(dir: string, name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}
function errorsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).errors;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('the shipped configs load', () => {
    const laptop = loadConfig({ files: ['config/default.json'], env: {} });
    expect(laptop.camera).toMatchObject({ type: 'replay', path: 'data/replay' });
    expect(laptop.door.relay.type).toBe('simulated');
    expect(laptop.mqtt.url).toBe('mqtt://127.0.0.1:1883');
    expect(laptop.gallery.bootstrapDir).toBe('data/demo/enroll');
    const secrets: string[] = [];
    const pi = loadConfig({
      files: ['config/production.example.json'],
      env: {},
      readFile: (path) => {
        if (path.endsWith('metrics.json')) throw new Error('ENOENT');
        secrets.push(path);
        return 'pw\n';
      },
    });
    expect(secrets).toEqual(['/etc/facegate/mqtt-password']);
    expect(pi.mqtt.password).toBe('pw');
    expect(pi.door.relay.type).toBe('gpiod');
    expect(pi.mqtt.url.startsWith('mqtts://')).toBe(true);
    expect(pi.gallery.path.startsWith('/var/lib/facegate/')).toBe(true);
  });

  it('env overrides files, files override defaults, and values are typed', () => {
    const dir = tmp();
    const a = file(dir, 'a.json', { door: { pulseMs: 2000 }, access: { acceptThreshold: 0.8 } });
    const b = file(dir, 'b.json', { door: { pulseMs: 2500 } });
    const c = loadConfig({
      files: [a, b],
      env: {
        FACEGATE_ACCESS_THRESHOLDS_FROM: 'config',
        FACEGATE_ACCESS_ACCEPT_THRESHOLD: '0.9',
        FACEGATE_RELAY_ACTIVE_LOW: 'true',
        FACEGATE_DEVICE_ID: 'lab-door',
      },
    });
    expect(c.door.pulseMs).toBe(2500);
    expect(c.access.acceptThreshold).toBe(0.9);
    expect(c.door.relay.activeLow).toBe(true);
    expect(c.device.id).toBe('lab-door');
    expect(Object.isFrozen(c.door.relay)).toBe(true);
  });

  it('reports ALL problems at once: files, formats, unknown keys and cross-field rules', () => {
    const dir = tmp();
    const bad = file(dir, 'bad.json', {
      device: { id: 'front door/1' },
      door: { pulseMs: 120_000, relay: { type: 'mqtt' } },
      access: { thresholdsFrom: 'config', acceptThreshold: 0.4, unknownThreshold: 0.6, confirmFrames: 6 },
      camra: { type: 'replay' },
    });
    const broken = file(dir, 'broken.json', '{ "device": ');
    const errors = errorsOf(() =>
      loadConfig({
        files: [bad, broken, join(dir, 'missing.json')],
        env: { FACEGATE_ACCESS_MIN_MARGIN: 'lots' },
      }),
    );
    const text = errors.join('\n');
    expect(text).toMatch(/broken\.json/);
    expect(text).toMatch(/missing\.json does not exist/);
    expect(text).toMatch(/device\.id/);
    expect(text).toMatch(/door\.pulseMs/);
    expect(text).toMatch(/camra/);
    expect(text).toMatch(/access\.minMargin/);
    expect(text).toMatch(/unknownThreshold \(0\.6\) must not be above access\.acceptThreshold/);
    expect(text).toMatch(/confirmFrames \(6\) must not exceed access\.windowFrames/);
    expect(text).toMatch(/door\.relay\.commandTopic is required/);
    expect(errors.length).toBeGreaterThanOrEqual(9);
  });

  it('takes the decision thresholds from the model evaluation unless told otherwise', () => {
    const dir = tmp();
    file(dir, 'metrics.json', { thresholds: { accept: 0.8, unknown: 0.6, maxFar: 0.001 } });
    const fromModel = loadConfig({ env: { FACEGATE_MODEL_BACKBONE: 'scratch', FACEGATE_MODEL_PATH: dir } });
    expect(fromModel.access).toMatchObject({ acceptThreshold: 0.8, unknownThreshold: 0.6 });
    expect(fromModel.access.minMargin).toBeCloseTo(0.1, 10);
    file(dir, 'metrics.json', { thresholds: { accept: 0.8, unknown: 0.6, margin: 0.03 } });
    expect(
      loadConfig({ env: { FACEGATE_MODEL_BACKBONE: 'scratch', FACEGATE_MODEL_PATH: dir } }).access.minMargin,
    ).toBe(0.03);
    const fromConfig = loadConfig({
      env: {
        FACEGATE_MODEL_BACKBONE: 'scratch',
        FACEGATE_MODEL_PATH: dir,
        FACEGATE_ACCESS_THRESHOLDS_FROM: 'config',
      },
    });
    expect(fromConfig.access).toMatchObject({ acceptThreshold: 0.7, unknownThreshold: 0.5, minMargin: 0.05 });
    // The pretrained backbone's folder is model.pretrainedPath, not model.path.
    const pre = tmp();
    file(pre, 'metrics.json', { thresholds: { accept: 0.9, unknown: 0.4 } });
    const faceapi = loadConfig({
      env: {
        FACEGATE_MODEL_PATH: dir,
        FACEGATE_MODEL_BACKBONE: 'faceapi',
        FACEGATE_MODEL_PRETRAINED_PATH: pre,
      },
    });
    expect(faceapi.access).toMatchObject({ acceptThreshold: 0.9, unknownThreshold: 0.4 });
    // No metrics.json: the configured values, with a warning.
    const warnings: string[] = [];
    const none = loadConfig({
      env: { FACEGATE_MODEL_BACKBONE: 'scratch', FACEGATE_MODEL_PATH: join(dir, 'none') },
      warn: (m) => warnings.push(m),
    });
    expect(none.access.acceptThreshold).toBe(0.7);
    expect(warnings.join()).toMatch(/using the configured access thresholds/);
    // Present but nonsense: an error, not a silent fallback.
    file(dir, 'metrics.json', { thresholds: { accept: 0.5, unknown: 0.9 } });
    expect(
      errorsOf(() =>
        loadConfig({ env: { FACEGATE_MODEL_BACKBONE: 'scratch', FACEGATE_MODEL_PATH: dir } }),
      ).join(),
    ).toMatch(/metrics\.json is unusable: thresholds\.unknown \(0\.9\) is above thresholds\.accept/);
  });

  it('refuses two inputs on the same GPIO line', () => {
    const errors = errorsOf(() =>
      loadConfig({
        env: {
          FACEGATE_RELAY_TYPE: 'gpiod',
          FACEGATE_RELAY_LINE: '17',
          FACEGATE_DOOR_CONTACT_TYPE: 'gpiod',
          FACEGATE_DOOR_CONTACT_LINE: '17',
        },
      }),
    );
    expect(errors).toEqual(['door.relay and door.contact use the same GPIO line 17']);
  });

  it('reads secrets from ...File keys (mqtt.passwordFile → mqtt.password), trailing newline trimmed', () => {
    const dir = tmp();
    const secret = file(dir, 'mqtt-password', 's3cret\n');
    const cfgFile = file(dir, 'c.json', { mqtt: { passwordFile: secret } });
    expect(loadConfig({ files: [cfgFile], env: {} }).mqtt.password).toBe('s3cret');
    expect(loadConfig({ env: { FACEGATE_MQTT_PASSWORD_FILE: secret } }).mqtt.password).toBe('s3cret');
    const missing = errorsOf(() => loadConfig({ env: { FACEGATE_MQTT_PASSWORD_FILE: join(dir, 'nope') } }));
    expect(missing.join('\n')).toMatch(/mqtt\.passwordFile: cannot read secret file .*nope: ENOENT/);
    const both = errorsOf(() =>
      loadConfig({ env: { FACEGATE_MQTT_PASSWORD_FILE: secret, FACEGATE_MQTT_PASSWORD: 'x' } }),
    );
    expect(both).toEqual(['mqtt.password and mqtt.passwordFile are both set; give the secret one way only']);
  });

  it('never reads process.argv or process.env by itself', () => {
    const c = loadConfig({ env: {} });
    expect(c.device.id).toBe('door-1');
  });

  it('every key has a doc and an environment variable', () => {
    const keys = describeSchema();
    expect(keys.length).toBeGreaterThan(20);
    for (const k of keys) {
      expect(k.doc.length, k.key).toBeGreaterThan(10);
      expect(k.env, k.key).toMatch(/^FACEGATE_[A-Z0-9_]+$/);
    }
    const envs = keys.map((k) => k.env);
    expect(new Set(envs).size).toBe(envs.length);
  });
});
