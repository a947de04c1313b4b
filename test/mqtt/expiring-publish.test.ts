import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { silentLogger } from '../../src/util/log.js';
import { OwnBroker, uniqueId, waitUntil } from './helpers.js';

/**
 * A command that expires is withdrawn from mqtt.js's outgoing store when the broker does
 * not acknowledge it in time, so the client never re-sends it after a reconnect. A broker
 * that hangs (SIGSTOP) and then dies (SIGKILL, the bytes in its socket lost) is the case:
 * an ordinary QoS 1 publish made meanwhile IS re-sent after the restart (the control), the
 * expiring one is not.
 */
let broker: OwnBroker;
beforeAll(async () => {
  // Sessions saved every second, so the relay device's subscription survives the kill.
  broker = await OwnBroker.create({ persistence: true, extraLines: ['autosave_interval 1'] });
});
afterAll(async () => {
  await broker.dispose();
});

function brokerPid(b: OwnBroker): number {
  return (b as unknown as { child: { pid: number } }).child.pid;
}

describe('MqttConnection.publish with expiresInSeconds', () => {
  it('is withdrawn when not acknowledged in time: never re-sent after the broker comes back', async () => {
    const topic = `${uniqueId('relay')}/command`;
    const session = uniqueId('relay-device');
    const received: string[] = [];
    const device = mqtt.connect(broker.url, {
      protocolVersion: 5,
      clientId: session,
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      reconnectPeriod: 200,
    });
    device.on('message', (_t, payload) => received.push(payload.toString('utf8')));
    await new Promise<void>((resolve) => device.once('connect', () => resolve()));
    await device.subscribeAsync(topic, { qos: 1 });
    await new Promise((r) => setTimeout(r, 1500)); // saved by autosave

    const config = loadConfig({
      env: {
        FACEGATE_MQTT_URL: broker.url,
        FACEGATE_MQTT_RECONNECT_MIN_MS: '100',
        FACEGATE_MQTT_RECONNECT_MAX_MS: '200',
        FACEGATE_MQTT_KEEPALIVE_SECONDS: '60',
      },
    });
    const conn = new MqttConnection({
      config: config.mqtt,
      deviceId: uniqueId('door'),
      logger: silentLogger(),
    });
    conn.start();
    try {
      await waitUntil('connected', () => conn.connected);
      const pid = brokerPid(broker);
      process.kill(pid, 'SIGSTOP'); // hangs: no PUBACK, the connection still looks up
      const expiring = conn.publish(topic, 'on', { qos: 1, expiresInSeconds: 1 });
      // Retained: the subscriber may resubscribe to the restarted broker after it arrived.
      const control = conn.publish(topic, 'control', { qos: 1, retain: true });
      await expect(expiring).rejects.toThrow('withdrawn');
      process.kill(pid, 'SIGKILL');
      await broker.stop().catch(() => undefined);
      await broker.start();
      await control; // re-sent by mqtt.js after the reconnect, acknowledged now
      await waitUntil('the control message', () => received.includes('control'), 15_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(received).not.toContain('on');
    } finally {
      await conn.stop();
      await device.endAsync(true);
    }
  });
});
