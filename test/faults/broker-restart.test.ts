import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBroker, sendRequest } from '../../src/enrollment/admin-client.js';
import type { AdminKey } from '../../src/enrollment/keys.js';
import { Daemon, writeTrustedAdminKey, writeReplayFolder } from '../fleet/daemon.js';
import { OwnBroker, waitUntil } from '../helpers/broker.js';

// Our own Mosquitto, kill -9'd under a running daemon whose camera keeps producing
// unknown_face events. 1) Broker back with its saved sessions: the events the door made
// while the broker was down reach a subscriber. 2) Broker back with its state wiped: the
// door reconnects, subscribes again from scratch, and answers signed requests.
const prefix = `fgbroker-${randomUUID().slice(0, 8)}`;
const DEVICE = 'door-brk';

let dir: string;
let broker: OwnBroker;
let daemon: Daemon;
let observer: MqttClient;
let admin: AdminKey;
const events: { type: string; ts: string; id: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-broker-restart-'));
  // Sessions saved every second, so a session older than that survives a kill -9.
  broker = await OwnBroker.create({
    persistence: true,
    extraLines: ['autosave_interval 1', 'max_queued_messages 10000'],
  });
  ({ admin } = await writeTrustedAdminKey(dir));
  await writeReplayFolder(join(dir, 'replay'), 35, [1, 2]); // nobody enrolled: unknown_face events
  daemon = new Daemon({
    id: DEVICE,
    prefix,
    dir: join(dir, 'door'),
    brokerUrl: broker.url,
    trustedKeyFiles: [join(dir, 'admin.pub.pem')],
    replayDir: join(dir, 'replay'),
    fps: 4,
    extra: { access: { noticeCooldownSeconds: 1 } },
  });
  // A dashboard with a persistent session: what the broker queued for it survives its own restarts.
  observer = await mqtt.connectAsync(broker.url, {
    protocolVersion: 5,
    clientId: `${prefix}-observer`,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 200,
  });
  observer.on('message', (topic, payload) => {
    if (topic === `${prefix}/${DEVICE}/events`)
      events.push(JSON.parse(payload.toString('utf8')) as (typeof events)[number]);
  });
  await observer.subscribeAsync(`${prefix}/${DEVICE}/events`, { qos: 1 });
  await daemon.start();
});

afterAll(async () => {
  await observer?.endAsync(true);
  await daemon?.stop();
  await broker?.dispose();
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

/** Polls every 100 ms: these tests watch whole daemons, not single messages. */
const waitFor = (what: string, predicate: () => boolean, timeoutMs: number) =>
  waitUntil(what, predicate, timeoutMs, 100);

describe('the broker killed and restarted under a running door', () => {
  it('delivers the events made while the broker was down', async () => {
    await waitFor('a first unknown_face event', () => events.some((e) => e.type === 'unknown_face'), 40_000);
    await new Promise((r) => setTimeout(r, 1500)); // the broker's once-a-second session save
    const killedAt = Date.now();
    await broker.kill9();
    await new Promise((r) => setTimeout(r, 4000));
    const restartedAt = Date.now();
    await broker.start();
    await waitFor(
      'an event stamped during the outage',
      () => events.some((e) => Date.parse(e.ts) > killedAt && Date.parse(e.ts) < restartedAt),
      30_000,
    );
    const duringOutage = events.filter((e) => Date.parse(e.ts) > killedAt && Date.parse(e.ts) < restartedAt);
    console.log(`events stamped during the 4 s outage and delivered afterwards: ${duringOutage.length}`);
    // At least once (docs/mqtt.md): a kill -9 between a delivery and the broker's next
    // session save may deliver an event again — with the same id and the same content, so a
    // consumer that de-duplicates on the id sees each event once. No id names two events.
    const byId = new Map<string, string>();
    for (const e of events) {
      const body = JSON.stringify(e);
      expect(byId.get(e.id) ?? body).toBe(body);
      byId.set(e.id, body);
    }
    expect(byId.size).toBeGreaterThan(0);
    expect(daemon.running).toBe(true);
  });

  it('reconnects and subscribes again when the broker lost every session', async () => {
    await broker.kill9();
    expect(broker.wipe()).toBe(true); // there were saved sessions, now there are none
    const restartedAt = Date.now();
    await broker.start();
    const client = await connectBroker({ url: broker.url });
    try {
      // Requests sent before the door is back are lost with no session to hold them: retry.
      let answered = false;
      const deadline = Date.now() + 40_000;
      while (!answered && Date.now() < deadline) {
        const out = await sendRequest(client, admin, 'list', {}, { device: DEVICE, prefix, timeoutMs: 3000 });
        answered = out.ok;
      }
      expect(answered).toBe(true);
      await waitFor(
        'a new event after the wipe',
        () => events.some((e) => Date.parse(e.ts) > restartedAt),
        30_000,
      );
    } finally {
      await client.endAsync();
    }
    expect(daemon.running).toBe(true);
  });
});
