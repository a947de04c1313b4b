import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultMqttConfig } from '../../src/mqtt/config.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { EventPublisher, MemoryEventOutbox, type EventOutbox } from '../../src/mqtt/event-publisher.js';
import type { Clock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import {
  Observer,
  opaque,
  OwnBroker,
  type OpaqueEvent,
  type OpaqueOutbox,
  SHARED_BROKER,
  clearRetained,
  freePort,
  uniqueId,
  waitUntil,
} from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const fixedClock: Clock = { nowMs: () => Date.UTC(2026, 10, 27, 20, 0, 0), monotonicMs: () => 0 };

function setup<O extends EventOutbox>(url: string, outbox: O, retryMs = 5000) {
  const deviceId = uniqueId('events');
  const connection = new MqttConnection({
    config: defaultMqttConfig({ url, sessionExpirySeconds: 60, reconnect: { minMs: 100, maxMs: 300 } }),
    deviceId,
    logger: silentLogger(),
  });
  const publisher = new EventPublisher({
    deviceId,
    outbox,
    transport: connection,
    clock: fixedClock,
    logger: silentLogger(),
    retryMs,
  });
  cleanups.push(async () => {
    await connection.stop();
    if (url === SHARED_BROKER) await clearRetained(url, [connection.topics.availability]);
  });
  cleanups.push(() => publisher.stop());
  return { deviceId, connection, publisher: opaque(publisher), outbox: outbox as OpaqueOutbox & O };
}

function parse(text: string): OpaqueEvent {
  return JSON.parse(text) as OpaqueEvent;
}

describe('EventPublisher', () => {
  it('stamps id, ts and device, stores first, publishes in order with QoS 1 and marks sent', async () => {
    const { deviceId, connection, publisher, outbox } = setup(SHARED_BROKER, new MemoryEventOutbox());
    const observer = await Observer.connect(SHARED_BROKER, [connection.topics.events]);
    cleanups.push(() => observer.close());
    connection.start();
    publisher.start();

    const first = publisher.emit({ type: 'unknown_face', score: 0.31 });
    expect(first.device).toBe(deviceId);
    expect(first.ts).toBe('2026-11-27T20:00:00.000Z');
    expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(outbox.size).toBe(1); // stored synchronously, before any network I/O

    await waitUntil('connected', () => connection.connected);
    const emitted = [first];
    for (let i = 0; i < 30; i++)
      emitted.push(publisher.emit({ type: 'access_granted', person: { id: `p${i}` }, n: i }));
    await waitUntil('all 31 events', () => observer.on(connection.topics.events).length >= 31);
    const received = observer.on(connection.topics.events).map((m) => parse(m.text));
    expect(received.map((e) => e.id)).toEqual(emitted.map((e) => e.id));
    expect(received[0]).toEqual(first);
    expect(new Set(received.map((e) => e.id)).size).toBe(31);
    await waitUntil('outbox drained', () => outbox.size === 0);
  });

  it('never throws when the outbox fails: logs and sends the event without a durable copy', async () => {
    const broken: EventOutbox = {
      appendOutbox: () => {
        throw new Error('SQLITE_FULL: database or disk is full');
      },
      pendingOutbox: () => [],
      markSent: () => undefined,
    };
    const { connection, publisher } = setup(SHARED_BROKER, broken);
    const observer = await Observer.connect(SHARED_BROKER, [connection.topics.events]);
    cleanups.push(() => observer.close());
    connection.start();
    publisher.start();
    await waitUntil('connected', () => connection.connected);
    const event = publisher.emit({ type: 'error', source: 'test' });
    const received = await observer.waitFor(connection.topics.events);
    expect(parse(received.text).id).toBe(event.id);
  });

  it('keeps events in the outbox while there is no broker', async () => {
    const { publisher, connection, outbox } = setup(
      `mqtt://127.0.0.1:${await freePort()}`,
      new MemoryEventOutbox(),
    );
    connection.start();
    publisher.start();
    for (let i = 0; i < 5; i++) publisher.emit({ type: 'door_forced', n: i });
    await new Promise((r) => setTimeout(r, 300));
    expect(outbox.size).toBe(5);
    expect(outbox.pendingOutbox(10).map((p) => p.event.n)).toEqual([0, 1, 2, 3, 4]);
  });

  it('outage: broker stopped, events produced, broker started → every event arrives once, in order', async () => {
    const broker = await OwnBroker.create({ persistence: true });
    cleanups.push(() => broker.dispose());
    const { connection, publisher, outbox } = setup(broker.url, new MemoryEventOutbox());
    // A persistent observer session, so it misses nothing across the broker restart.
    const observer = await Observer.connect(broker.url, [connection.topics.events], uniqueId('watch'));
    cleanups.push(() => observer.close());
    connection.start();
    publisher.start();
    await waitUntil('connected', () => connection.connected);

    const emitted: OpaqueEvent[] = [];
    for (let i = 0; i < 5; i++) emitted.push(publisher.emit({ type: 'access_granted', n: i }));
    await waitUntil('first 5 delivered', () => observer.on(connection.topics.events).length === 5);
    await waitUntil('first 5 acknowledged', () => outbox.size === 0);
    // A QoS 1 round trip from the observer: the broker has processed its PUBACKs for the
    // first 5, so it will not redeliver them to the observer after the restart.
    await observer.publish(`${connection.topics.base}/sync`, 'x');

    await broker.stop();
    await waitUntil('disconnected', () => !connection.connected);
    for (let i = 5; i < 45; i++) emitted.push(publisher.emit({ type: 'unknown_face', n: i }));
    expect(outbox.size).toBe(40);

    await broker.start();
    await waitUntil('all 45 delivered', () => observer.on(connection.topics.events).length >= 45, 20_000);
    await waitUntil('outbox drained', () => outbox.size === 0);
    await new Promise((r) => setTimeout(r, 300)); // any duplicate would arrive by now
    const received = observer.on(connection.topics.events).map((m) => parse(m.text));
    expect(received.map((e) => e.n)).toEqual(emitted.map((e) => e.n));
    expect(received.map((e) => e.id)).toEqual(emitted.map((e) => e.id));
  });

  it('events the broker refuses (ACL) stay in the outbox and go out in order once allowed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-acl-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const acl = join(dir, 'acl');
    writeFileSync(acl, 'topic read #\n');
    const broker = await OwnBroker.create({ persistence: false, listenerLines: [`acl_file ${acl}`] });
    cleanups.push(() => broker.dispose());
    const { connection, publisher, outbox } = setup(broker.url, new MemoryEventOutbox(), 200);
    const observer = await Observer.connect(broker.url, [connection.topics.events]);
    cleanups.push(() => observer.close());
    connection.start();
    publisher.start();
    await waitUntil('connected', () => connection.connected);
    const emitted = [0, 1, 2].map((n) => publisher.emit({ type: 'door_forced', n }));
    await new Promise((r) => setTimeout(r, 600)); // refused (PUBACK 135) and retried a few times
    expect(outbox.size).toBe(3);
    expect(observer.on(connection.topics.events)).toHaveLength(0);

    writeFileSync(acl, `topic read #\ntopic write ${connection.topics.events}\n`);
    broker.reload();
    await waitUntil('outbox drained', () => outbox.size === 0);
    await waitUntil('3 delivered', () => observer.on(connection.topics.events).length >= 3);
    expect(observer.on(connection.topics.events).map((m) => parse(m.text).id)).toEqual(
      emitted.map((e) => e.id),
    );
  });

  it('a restarted daemon sends what a previous run left in the outbox, oldest first', async () => {
    const outbox = new MemoryEventOutbox();
    const offline = setup(`mqtt://127.0.0.1:${await freePort()}`, outbox);
    offline.publisher.start();
    const left = [
      offline.publisher.emit({ type: 'enrolled', n: 1 }),
      offline.publisher.emit({ type: 'removed', n: 2 }),
    ];
    offline.publisher.stop();

    const { connection, publisher } = setup(SHARED_BROKER, outbox);
    const observer = await Observer.connect(SHARED_BROKER, [connection.topics.events]);
    cleanups.push(() => observer.close());
    connection.start();
    publisher.start();
    await waitUntil('both delivered', () => observer.on(connection.topics.events).length === 2);
    expect(observer.on(connection.topics.events).map((m) => parse(m.text).id)).toEqual(left.map((e) => e.id));
    await waitUntil('outbox drained', () => outbox.size === 0);
  });
});

describe('EventPublisher with the SQLite GalleryStore as outbox', () => {
  it('events stored while the broker is away survive a restart and go out in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-outbox-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'gallery.db');

    const firstStore = new GalleryStore(path, silentLogger());
    const offline = setup(`mqtt://127.0.0.1:${await freePort()}`, firstStore);
    offline.connection.start();
    offline.publisher.start();
    const emitted = Array.from({ length: 12 }, (_, i) =>
      offline.publisher.emit({ type: 'access_denied', n: i }),
    );
    offline.publisher.stop();
    await offline.connection.stop();
    firstStore.close(); // the daemon stops (or the power goes)

    const store = new GalleryStore(path, silentLogger());
    cleanups.push(() => store.close());
    expect(store.outboxPendingCount()).toBe(12);
    const { connection, publisher } = setup(SHARED_BROKER, store);
    const observer = await Observer.connect(SHARED_BROKER, [connection.topics.events]);
    cleanups.push(() => observer.close());
    connection.start();
    publisher.start();
    await waitUntil('12 delivered', () => observer.on(connection.topics.events).length >= 12);
    await waitUntil('outbox drained', () => store.outboxPendingCount() === 0);
    expect(observer.on(connection.topics.events).map((m) => parse(m.text).id)).toEqual(
      emitted.map((e) => e.id),
    );
  });
});
