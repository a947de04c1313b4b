import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMqttConfig } from '../../src/mqtt/config.js';
import { MqttConnection, type MqttStatus } from '../../src/mqtt/connection.js';
import { HomeAssistantDiscovery } from '../../src/mqtt/discovery.js';
import { createLogger } from '../../src/util/log.js';
import { Observer, OwnBroker, uniqueId, waitUntil } from './helpers.js';

// Field case "two doors, one device id": two real connections with the same client id on
// our own Mosquitto. Each connect takes the session from the other (DISCONNECT 0x8E). The
// takeover must be named in the log and in status() (-> /health), the reconnect delay must
// grow (with jitter) instead of a fixed ~2 s forever, and Home Assistant discovery must not
// be re-sent on every reconnect.
let broker: OwnBroker;
const lines: { msg: string; module?: string; reconnectInMs?: number }[] = [];

beforeAll(async () => {
  broker = await OwnBroker.create({ persistence: false });
});
afterAll(async () => {
  await broker?.dispose();
});

function logger() {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  return createLogger('info', sink);
}

describe('two doors with one device id', () => {
  it('names the takeover, backs off with growth, and sends discovery once per process', async () => {
    const deviceId = uniqueId('twin');
    const haPrefix = uniqueId('ha');
    const maxMs = 1600;
    const make = () => {
      const conn = new MqttConnection({
        config: defaultMqttConfig({
          url: broker.url,
          sessionExpirySeconds: 60,
          reconnect: { minMs: 100, maxMs },
        }),
        deviceId,
        logger: logger(),
      });
      const discovery = new HomeAssistantDiscovery({
        transport: conn,
        deviceId,
        config: { enabled: true, prefix: haPrefix, allowUnlock: false, deviceName: '' },
        softwareVersion: 'test',
        hasDoorContact: false,
        logger: logger(),
        resendJitterMs: 0,
      });
      const connects: number[] = [];
      const delays: number[] = [];
      conn.onConnect(() => connects.push(Date.now()));
      conn.onStatus((up) => {
        if (!up) queueMicrotask(() => delays.push(conn.status().nextReconnectMs ?? -1));
      });
      return { conn, discovery, connects, delays };
    };
    const observer = await Observer.connect(broker.url, [`${haPrefix}/#`]);
    const a = make();
    const b = make();
    try {
      a.discovery.start();
      a.conn.start();
      await waitUntil('a connected', () => a.conn.connected);
      b.discovery.start();
      b.conn.start();
      // Let them fight until both have seen several takeovers and the delay reached its cap.
      await waitUntil(
        'several takeovers on both sides',
        () => a.conn.status().sessionTakeovers >= 4 && b.conn.status().sessionTakeovers >= 4,
        60_000,
        50,
      );
      const statusA: MqttStatus = a.conn.status();
      expect(statusA.problem).toMatch(/session taken over/);
      // Brokers that send DISCONNECT 0x8E have it in lastDisconnect; Mosquitto 2.0 just closes.
      if (statusA.lastDisconnect) expect(statusA.lastDisconnect.reason).toMatch(/0x8e/);

      // Named in the log, with the reconnect delay.
      expect(lines.some((l) => /session taken over/.test(l.msg))).toBe(true);
      expect(lines.some((l) => /session taken over \(again\).*reconnecting/.test(l.msg))).toBe(true);

      // The delay grows: the later delays are longer than the first ones, up to the cap.
      const delays = [...a.delays, ...b.delays].filter((d) => d > 0);
      console.log(`reconnect delays (ms): a ${a.delays.join(', ')} | b ${b.delays.join(', ')}`);
      expect(Math.max(...delays)).toBeGreaterThanOrEqual(maxMs / 2);
      expect(Math.max(...delays)).toBeLessThanOrEqual(maxMs);
      const firstA = a.delays[0];
      expect(a.delays.slice(-1)[0]).toBeGreaterThan(firstA);

      // Discovery: once per process, not once per reconnect.
      expect(a.connects.length + b.connects.length).toBeGreaterThanOrEqual(8);
      expect(a.discovery.sendCount).toBe(1);
      expect(b.discovery.sendCount).toBe(1);
      const configTopics = new Set(observer.messages.map((m) => m.topic));
      expect(observer.messages.length).toBe(2 * configTopics.size);
    } finally {
      a.discovery.stop();
      b.discovery.stop();
      await a.conn.stop(500);
      await b.conn.stop(500);
      await observer.close();
    }
  });

  it('a clean stop logs no lost connection and does not reconnect', async () => {
    const conn = new MqttConnection({
      config: defaultMqttConfig({ url: broker.url, reconnect: { minMs: 100, maxMs: 400 } }),
      deviceId: uniqueId('stop'),
      logger: logger(),
    });
    const before = lines.length;
    conn.start();
    await waitUntil('connected', () => conn.connected);
    await conn.stop();
    await new Promise((r) => setTimeout(r, 600));
    expect(conn.connected).toBe(false);
    expect(lines.slice(before).some((l) => /reconnecting/.test(l.msg))).toBe(false);
  });
});
