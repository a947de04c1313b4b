import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttRelay, UNLOCK_EXPIRY_SECONDS } from '../../src/gpio/mqtt-relay.js';
import { MqttRelayPublisher } from '../../src/gpio/mqtt-relay-publisher.js';
import { loadConfig } from '../../src/config/load.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { silentLogger } from '../../src/util/log.js';
import { Observer, OwnBroker, uniqueId, waitUntil } from '../mqtt/helpers.js';

/**
 * The MQTT relay's publisher over the device's real MqttConnection and a real Mosquitto of
 * our own: `connected` reaches MqttRelay (no unlock is queued while the broker is away),
 * and an unlock carries an MQTT 5 message expiry, so a broker holding it for a relay
 * device that is away drops it.
 */
let broker: OwnBroker;
beforeAll(async () => {
  broker = await OwnBroker.create({ persistence: true });
});
afterAll(async () => {
  await broker.dispose();
});

function connection() {
  const config = loadConfig({
    env: {
      FACEGATE_MQTT_URL: broker.url,
      FACEGATE_MQTT_RECONNECT_MIN_MS: '100',
      FACEGATE_MQTT_RECONNECT_MAX_MS: '200',
    },
  });
  return new MqttConnection({ config: config.mqtt, deviceId: uniqueId('relaypub'), logger: silentLogger() });
}

const options = (topic: string) => ({ commandTopic: topic, payloadUnlock: 'on', payloadLock: 'off' });

describe('MqttRelayPublisher', () => {
  it('exposes connected, so MqttRelay refuses an unlock while the broker is away (and never sends it later)', async () => {
    const topic = `${uniqueId('relay')}/command`;
    const device = await Observer.connect(broker.url, [topic], uniqueId('relay-device'));
    const conn = connection();
    const publisher = new MqttRelayPublisher(conn);
    const relay = new MqttRelay(options(topic), publisher, silentLogger());
    try {
      expect(publisher.connected).toBe(false);
      conn.start();
      await waitUntil('connected', () => conn.connected);
      expect(publisher.connected).toBe(true);
      await broker.stop();
      await waitUntil('disconnected', () => !conn.connected);
      await expect(relay.unlock()).rejects.toThrow('refusing to queue an unlock');
      // Even past MqttRelay's own check, the connection never queues a command that expires.
      await expect(publisher.publish(topic, 'on', { qos: 1, expiresInSeconds: 5 })).rejects.toThrow(
        'not connected to the broker',
      );
      await broker.start();
      await waitUntil('both back', () => conn.connected && device.client.connected, 15_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(device.on(topic).map((m) => m.text)).not.toContain('on');
      await relay.unlock();
      await device.waitFor(topic, (m) => m.text === 'on');
    } finally {
      await conn.stop();
      await device.close();
    }
  });

  it(`an unlock carries a ${UNLOCK_EXPIRY_SECONDS} s message expiry: a relay device that is away never gets it late`, async () => {
    const topic = `${uniqueId('relay')}/command`;
    const session = uniqueId('relay-device');
    const seen = await mqtt.connectAsync(broker.url, {
      protocolVersion: 5,
      clientId: uniqueId('seen'),
    });
    const expiries: (number | undefined)[] = [];
    seen.on('message', (_t, _p, packet) => expiries.push(packet.properties?.messageExpiryInterval));
    await seen.subscribeAsync(topic, { qos: 1 });
    const conn = connection();
    conn.start();
    try {
      await waitUntil('connected', () => conn.connected);
      // The relay device subscribes with a persistent session, then goes away.
      const device = await Observer.connect(broker.url, [topic], session);
      await device.close();
      const publisher = new MqttRelayPublisher(conn);
      await publisher.publish(topic, 'on', { qos: 1, expiresInSeconds: 1 });
      await publisher.publish(topic, 'off', { qos: 1 }); // a lock may arrive late: no expiry
      await waitUntil('the live subscriber saw both', () => expiries.length === 2);
      expect(expiries[0]).toBeGreaterThan(0);
      expect(expiries[0]).toBeLessThanOrEqual(1);
      expect(expiries[1]).toBeUndefined();
      await new Promise((r) => setTimeout(r, 2100));
      // Back with its session; the listener is on before CONNACK, when queued messages come.
      const back = mqtt.connect(broker.url, {
        protocolVersion: 5,
        clientId: session,
        clean: false,
        properties: { sessionExpiryInterval: 300 },
      });
      const late: string[] = [];
      back.on('message', (_t, payload) => late.push(payload.toString('utf8')));
      try {
        await waitUntil('the queued lock', () => late.length > 0, 5000);
        await new Promise((r) => setTimeout(r, 300));
        expect(late).toEqual(['off']);
      } finally {
        await back.endAsync();
      }
    } finally {
      await conn.stop();
      await seen.endAsync();
    }
  });
});
