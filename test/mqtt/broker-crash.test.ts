import { afterEach, describe, expect, it } from 'vitest';
import { defaultMqttConfig } from '../../src/mqtt/config.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { EventPublisher, MemoryEventOutbox } from '../../src/mqtt/event-publisher.js';
import { RequestRouter, type ResponseBody } from '../../src/mqtt/request-router.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { Observer, opaque, OwnBroker, uniqueId, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the broker crashes (SIGKILL, no persistence) and comes back during operation', () => {
  it('the door reconnects, re-announces online, resubscribes, answers requests and delivers the events it made meanwhile', async () => {
    const broker = await OwnBroker.create({ persistence: false });
    cleanups.push(() => broker.dispose());
    const deviceId = uniqueId('crash');
    const connection = new MqttConnection({
      // The first retry comes ~1 s after the crash: time for the test to restart the broker
      // and subscribe its observer first.
      config: defaultMqttConfig({ url: broker.url, reconnect: { minMs: 1000, maxMs: 2000 } }),
      deviceId,
      logger: silentLogger(),
    });
    const outbox = new MemoryEventOutbox();
    const publisher = opaque(
      new EventPublisher({
        deviceId,
        outbox,
        transport: connection,
        clock: systemClock,
        logger: silentLogger(),
      }),
    );
    const router = new RequestRouter({
      transport: connection,
      logger: silentLogger(),
      maxPayloadBytes: 4096,
      maxConcurrent: 4,
    });
    router.register('ping', async (payload) => ({ transaction: payload.toString('utf8'), data: 'pong' }));
    cleanups.push(() => connection.stop());
    cleanups.push(() => publisher.stop());
    cleanups.push(() => router.stop(500));
    router.start();
    publisher.start();
    connection.start();
    await waitUntil('connected', () => connection.connected);

    const emitted = [publisher.emit({ type: 'access_granted', n: 0 })];
    await waitUntil('first event acknowledged', () => outbox.size === 0);

    await broker.stop('SIGKILL');
    await waitUntil('disconnected', () => !connection.connected);
    for (let n = 1; n <= 10; n++) emitted.push(publisher.emit({ type: 'unknown_face', n }));
    await broker.start(); // empty: no retained messages, no sessions, no subscriptions

    // An observer that is subscribed before the door gets back sees every pending event.
    const observer = await Observer.connect(broker.url, [
      connection.topics.events,
      connection.topics.availability,
      connection.topics.response('ping'),
    ]);
    cleanups.push(() => observer.close());
    await waitUntil('reconnected', () => connection.connected);
    await observer.waitFor(connection.topics.availability, (m) => m.text === 'online');
    await waitUntil('10 pending events delivered', () => observer.on(connection.topics.events).length >= 10);
    expect(observer.on(connection.topics.events).map((m) => (JSON.parse(m.text) as { n: number }).n)).toEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    await waitUntil('outbox drained', () => outbox.size === 0);

    // Requests work again: the door resubscribed by itself (the broker forgot everything).
    const deadline = Date.now() + 10_000;
    while (observer.on(connection.topics.response('ping')).length === 0) {
      if (Date.now() > deadline) throw new Error('no response after the broker restart');
      await observer.publish(connection.topics.request('ping'), 'tx-after-crash');
      await new Promise((r) => setTimeout(r, 200));
    }
    const response = JSON.parse(observer.on(connection.topics.response('ping'))[0]!.text) as ResponseBody;
    expect(response).toEqual({ transaction: 'tx-after-crash', status: 'ok', data: 'pong' });
    expect(emitted).toHaveLength(11);
  });
});
