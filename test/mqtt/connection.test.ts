import { afterEach, describe, expect, it } from 'vitest';
import { defaultMqttConfig, type MqttConfig } from '../../src/mqtt/config.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { RequestRouter } from '../../src/mqtt/request-router.js';
import { silentLogger } from '../../src/util/log.js';
import { Observer, OwnBroker, SHARED_BROKER, freePort, uniqueId, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function connection(deviceId: string, overrides: Partial<MqttConfig> = {}): MqttConnection {
  const conn = new MqttConnection({
    config: defaultMqttConfig({
      url: SHARED_BROKER,
      sessionExpirySeconds: 60,
      reconnect: { minMs: 100, maxMs: 400 },
      homeAssistant: { enabled: false, prefix: 'homeassistant', allowUnlock: false, deviceName: '' },
      ...overrides,
    }),
    deviceId,
    logger: silentLogger(),
  });
  cleanups.push(() => conn.stop());
  return conn;
}

async function observe(url: string, filters: string[], sessionId?: string): Promise<Observer> {
  const observer = await Observer.connect(url, filters, sessionId);
  cleanups.push(() => observer.close());
  return observer;
}

describe('MqttConnection', () => {
  it('derives client id and base topic from the device id', () => {
    const conn = connection('door-7');
    expect(conn.clientId).toBe('facegate-door-7');
    expect(conn.topics.base).toBe('facegate/door-7');
    expect(conn.topics.request('enroll')).toBe('facegate/door-7/request/enroll');
    expect(conn.topics.fleetRequestFilter).toBe('facegate/all/request/+');
    expect(connection('door-8', { baseTopic: 'site/a/door-8' }).topics.events).toBe('site/a/door-8/events');
    expect(() => connection('bad/id')).toThrow(/device id/);
    expect(() => connection('door-9', { baseTopic: 'x/#' })).toThrow(/topic prefix/);
    expect(() => connection('all')).toThrow(/fleet topic/);
  });

  it('publishes retained availability online, and offline on stop', async () => {
    const id = uniqueId('avail');
    const conn = connection(id);
    const topic = conn.topics.availability;
    const statuses: boolean[] = [];
    conn.onStatus((c) => statuses.push(c));
    conn.start();
    await waitUntil('connected', () => conn.connected);
    const observer = await observe(SHARED_BROKER, [topic]);
    const retained = await observer.waitFor(topic);
    expect(retained.text).toBe('online');
    expect(retained.retain).toBe(true);
    await conn.stop();
    await observer.waitFor(topic, (m) => m.text === 'offline');
    expect(statuses).toEqual([true, false]);
    // A new subscriber sees the retained offline.
    const late = await observe(SHARED_BROKER, [topic]);
    expect((await late.waitFor(topic)).text).toBe('offline');
    await late.publish(topic, '', true); // clear the retained message on the shared broker
  });

  it('the broker publishes the last will (offline) when the connection dies, then online after reconnect', async () => {
    const id = uniqueId('will');
    const conn = connection(id);
    const topic = conn.topics.availability;
    conn.start();
    await waitUntil('connected', () => conn.connected);
    const observer = await observe(SHARED_BROKER, [topic]);
    await observer.waitFor(topic, (m) => m.text === 'online');
    const before = observer.on(topic).length;
    conn.simulateConnectionLoss();
    await observer.waitFor(topic, (m) => m.text === 'offline');
    await waitUntil('online again', () =>
      observer
        .on(topic)
        .slice(before)
        .some((m) => m.text === 'online'),
    );
    const texts = observer
      .on(topic)
      .slice(before)
      .map((m) => m.text);
    expect(texts.indexOf('offline')).toBeLessThan(texts.lastIndexOf('online'));
    await conn.stop();
    await observer.publish(topic, '', true);
  });

  it('start() does not block or throw without a broker, and keeps retrying', async () => {
    const port = await freePort();
    const conn = connection(uniqueId('nobroker'), { url: `mqtt://127.0.0.1:${port}` });
    conn.start();
    expect(conn.connected).toBe(false);
    await new Promise((r) => setTimeout(r, 500));
    expect(conn.connected).toBe(false);
    // A broker appears on that port later: the connection finds it.
    const broker = await startBrokerOn(port);
    await waitUntil('connected after the broker appeared', () => conn.connected);
    await conn.stop();
    await broker.dispose();
  });

  it('resubscribes after the broker restarts without persistence', async () => {
    const broker = await OwnBroker.create({ persistence: false });
    cleanups.push(() => broker.dispose());
    const conn = connection(uniqueId('resub'), { url: broker.url });
    const got: string[] = [];
    conn.subscribe(`${conn.topics.base}/ping`, (_t, payload) => got.push(payload.toString()));
    let connects = 0;
    conn.onConnect(() => connects++);
    conn.start();
    await waitUntil('connected', () => conn.connected);
    const sender = await observe(broker.url, []);
    await retryPublish(sender, `${conn.topics.base}/ping`, 'before', () => got.includes('before'));

    await broker.stop();
    await waitUntil('disconnected', () => !conn.connected);
    await broker.start(); // a fresh broker: it forgot every subscription
    await waitUntil('reconnected', () => conn.connected && connects >= 2);
    await waitUntil('sender reconnected', () => sender.client.connected);
    await retryPublish(sender, `${conn.topics.base}/ping`, 'after', () => got.includes('after'));
    expect(got.filter((g) => g === 'after').length).toBeGreaterThanOrEqual(1);
  });

  it('keeps its session: a QoS 1 message sent while the device was offline arrives when it returns', async () => {
    const id = uniqueId('session');
    const first = connection(id);
    const topic = `${first.topics.base}/request/list`;
    first.subscribe(first.topics.requestFilter, () => undefined);
    first.start();
    await waitUntil('connected and subscribed', () => first.ready);
    await first.stop();

    const sender = await observe(SHARED_BROKER, []);
    await sender.publish(topic, 'sent while offline');

    const second = connection(id); // same device id → same client id → same session
    const got: string[] = [];
    second.subscribe(second.topics.requestFilter, (_t, payload) => got.push(payload.toString()));
    second.start();
    await waitUntil('queued message delivered', () => got.includes('sent while offline'));
    await second.stop();
    await sender.publish(second.topics.availability, '', true);
  });

  it('a router stopped for a restart leaves its request subscriptions in the session', async () => {
    const id = uniqueId('router-restart');
    const first = connection(id);
    const router = new RequestRouter({
      transport: first,
      logger: silentLogger(),
      maxPayloadBytes: 1024,
      maxConcurrent: 2,
    });
    router.register('list', async () => ({ transaction: 't', data: null }));
    router.start();
    first.start();
    await waitUntil('connected and subscribed', () => first.ready);
    // The daemon's stop order: router first, then the connection.
    await router.stop();
    await first.stop();

    const sender = await observe(SHARED_BROKER, []);
    await sender.publish(`${first.topics.base}/request/list`, 'sent during the restart');

    const second = connection(id);
    const got: string[] = [];
    second.subscribe(second.topics.requestFilter, (_t, payload) => got.push(payload.toString()));
    second.start();
    await waitUntil('queued request delivered', () => got.includes('sent during the restart'));
    expect(got).toEqual(['sent during the restart']);
    await second.stop();
    await sender.publish(second.topics.availability, '', true);
  });
});

async function startBrokerOn(port: number): Promise<{ dispose(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const child = spawn('mosquitto', ['-p', String(port)], { stdio: 'ignore' });
  return {
    dispose: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Publishes until `delivered()` (a subscription may still be on its way after a reconnect). */
async function retryPublish(
  sender: Observer,
  topic: string,
  payload: string,
  delivered: () => boolean,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!delivered()) {
    if (Date.now() > deadline) throw new Error(`"${payload}" never arrived on ${topic}`);
    await sender.publish(topic, payload);
    await new Promise((r) => setTimeout(r, 200));
  }
}
