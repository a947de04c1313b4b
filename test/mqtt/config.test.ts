import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { FacegateConfig } from '../../src/config/schema.js';
import { defaultMqttConfig, type MqttConfig } from '../../src/mqtt/config.js';

// The loaded slice must fit the type the MQTT components take (compile-time check).
const fits = (slice: FacegateConfig['mqtt']): MqttConfig => slice;

describe('mqtt config slice', () => {
  it('defaultMqttConfig equals what loadConfig produces from the schema', () => {
    const loaded = loadConfig({ env: {} });
    expect(fits(loaded.mqtt)).toEqual(defaultMqttConfig());
    expect(loaded.mqtt.homeAssistant.allowUnlock).toBe(false); // unlock from HA is opt-in
    expect(loaded.mqtt.sessionExpirySeconds).toBeGreaterThan(0); // persistent session by default
  });

  it('reads the password from passwordFile and takes settings from the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-mqtt-config-'));
    try {
      writeFileSync(join(dir, 'pw'), 's3cret\n');
      const loaded = loadConfig({
        env: {
          FACEGATE_MQTT_URL: 'mqtts://broker.example:8883',
          FACEGATE_MQTT_USERNAME: 'door-1',
          FACEGATE_MQTT_PASSWORD_FILE: join(dir, 'pw'),
          FACEGATE_HA_ALLOW_UNLOCK: 'true',
        },
      });
      expect(loaded.mqtt.url).toBe('mqtts://broker.example:8883');
      expect(loaded.mqtt.password).toBe('s3cret');
      expect(loaded.mqtt.homeAssistant.allowUnlock).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports bad values', () => {
    expect(() => loadConfig({ env: { FACEGATE_MQTT_KEEPALIVE_SECONDS: '-3' } })).toThrow(/keepaliveSeconds/);
  });
});
