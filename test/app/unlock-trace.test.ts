import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../src/enrollment/protocol.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { resolveBaseTopic } from '../../src/mqtt/topics.js';
import { silentLogger } from '../../src/util/log.js';
import { makeAdmin, type TestAdmin } from '../enrollment/keys-helper.js';
import { ALICE, createFakeApp, recordingLogger, type FakeApp } from '../helpers/fake-app.js';
import { fakeFaceFrame } from '../fakes/face.js';
import { Observer, OwnBroker, uniqueId, waitUntil } from '../mqtt/helpers.js';

/**
 * #15.1 and #15.5 on the whole app in-process (fakes for camera, face path and GPIO) and
 * a real Mosquitto of our own that we stop and restart: every unlock leaves one event and
 * one audit row naming its source, and no unlock is carried out late.
 */
let broker: OwnBroker;
let admin: TestAdmin;
let fake: FakeApp | null = null;
const observers: Observer[] = [];

beforeAll(async () => {
  broker = await OwnBroker.create({ persistence: true });
  admin = await makeAdmin();
});
afterEach(async () => {
  await fake?.dispose();
  fake = null;
  for (const o of observers.splice(0)) await o.close().catch(() => undefined);
});
afterAll(async () => {
  await broker.dispose();
});

const FAST_RECONNECT = { FACEGATE_MQTT_RECONNECT_MIN_MS: '100', FACEGATE_MQTT_RECONNECT_MAX_MS: '300' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function observe(filters: string[], session?: string): Promise<Observer> {
  const o = await Observer.connect(broker.url, filters, session);
  observers.push(o);
  return o;
}

function auditOf(fakeApp: FakeApp) {
  const store = new GalleryStore(fakeApp.galleryPath, silentLogger());
  try {
    return store.listAudit(1000).reverse();
  } finally {
    store.close();
  }
}

const parsed = (o: Observer, topic: string) =>
  o.on(topic).map((m) => JSON.parse(m.text) as Record<string, unknown>);

describe('unlocks over MQTT (own broker, stopped and restarted)', () => {
  it('an unlock decided while the broker was down never reaches the relay afterwards; the door reports it', async () => {
    const relayTopic = `${uniqueId('shelly')}/relay/0/command`;
    // The relay device keeps a persistent session: whatever the broker queued for it would arrive after the restart.
    const device = await observe([relayTopic], uniqueId('relay-device'));
    const rec = recordingLogger();
    fake = await createFakeApp({
      mqtt: true,
      configuredRelay: true,
      logger: rec.logger,
      env: { FACEGATE_MQTT_URL: broker.url, ...FAST_RECONNECT },
      configure: (c) => ({
        ...c,
        door: {
          ...c.door,
          relay: {
            ...c.door.relay,
            type: 'mqtt',
            commandTopic: relayTopic,
            payloadUnlock: 'on',
            payloadLock: 'off',
          },
        },
      }),
    });
    const base = resolveBaseTopic('', fake.config.device.id);
    const events = await observe([`${base}/events`], uniqueId('events'));
    await fake.app.start();
    await waitUntil('the door connected', () => rec.has('mqtt connected'));

    await broker.stop();
    await waitUntil('the door saw the broker go', () => rec.has('mqtt connection lost; reconnecting'));
    fake.camera.push(...[ALICE, ALICE, ALICE, ALICE].map((l) => fakeFaceFrame(l)));
    await waitUntil('the grant', () => rec.has('access granted but the door did not open'));
    expect(fake.app.doorState).toMatchObject({ locked: true, unlocks: 0 });
    expect(rec.lines.some((l) => l.msg === 'relay failed to unlock' && l.personId === 'alice')).toBe(true);

    await broker.start();
    // The door reports the failed unlock once the broker is back (from its outbox)...
    await events.waitFor(`${base}/events`, (m) => JSON.parse(m.text).type === 'access_granted', 15_000);
    const granted = parsed(events, `${base}/events`).find((e) => e.type === 'access_granted')!;
    expect(granted).toMatchObject({ person: { id: 'alice' } });
    expect(String(granted.unlockFailed)).toContain('not connected');
    await events.waitFor(`${base}/events`, (m) => JSON.parse(m.text).type === 'error');
    // ...and the relay never gets the unlock, then or later.
    await waitUntil('the relay device reconnected', () => device.client.connected, 15_000);
    await sleep(1500);
    expect(device.on(relayTopic).map((m) => m.text)).not.toContain('on');

    // Control: an unlock decided now does reach it (the observer would have seen a late one).
    fake.exitButton.set(true);
    await device.waitFor(relayTopic, (m) => m.text === 'on');
    const audit = auditOf(fake).map((a) => a.kind);
    expect(audit.filter((k) => k === 'access_granted')).toHaveLength(1);
  });

  it('a Home Assistant unlock: one door_unlocked event and audit row; never queued, never retained; a clean stop is not "connection lost"', async () => {
    const rec = recordingLogger();
    const deviceId = uniqueId('ha');
    const env = {
      FACEGATE_DEVICE_ID: deviceId,
      FACEGATE_MQTT_URL: broker.url,
      FACEGATE_HA_ALLOW_UNLOCK: 'true',
      ...FAST_RECONNECT,
    };
    // Our own connection, so the test can take the door off the broker and bring it back.
    let mqtt: MqttConnection | null = null;
    fake = await createFakeApp({
      mqtt: true,
      logger: rec.logger,
      env,
      configure: (c) => {
        mqtt = new MqttConnection({ config: c.mqtt, deviceId, logger: rec.logger });
        return c;
      },
      app: {
        overrides: {
          get mqtt() {
            return mqtt;
          },
        } as never,
      },
    });
    const base = resolveBaseTopic('', deviceId);
    const command = `${base}/ha/lock/set`;
    const ha = await observe([`${base}/events`], uniqueId('ha-observer'));
    await fake.app.start();
    await waitUntil('the door subscribed', () => mqtt!.ready && rec.has('mqtt connected'));

    // A live UNLOCK opens once and leaves one trace naming Home Assistant.
    await ha.publish(command, 'UNLOCK');
    await waitUntil('the pulse', () => fake!.app.doorState?.unlocks === 1);
    await ha.waitFor(`${base}/events`, (m) => JSON.parse(m.text).type === 'door_unlocked');
    expect(parsed(ha, `${base}/events`).filter((e) => e.type === 'door_unlocked')).toEqual([
      expect.objectContaining({ source: 'home_assistant' }),
    ]);

    // The door is away (clean disconnect, session kept): an UNLOCK sent now must not arrive later.
    await mqtt!.stop();
    await ha.publish(command, 'UNLOCK');
    // A retained UNLOCK is ignored on every subscribe.
    await ha.publish(command, 'UNLOCK', true);
    mqtt!.start();
    await waitUntil('the door is back', () => mqtt!.ready);
    await sleep(1500);
    expect(fake.app.doorState?.unlocks).toBe(1);
    expect(
      rec.has('ignoring a retained Home Assistant lock command (it would replay on every connect)'),
    ).toBe(true);
    await ha.publish(command, '', true); // clear the retained message

    await fake.app.stop('test over');
    expect(rec.has('mqtt connection lost; reconnecting')).toBe(false);
    const unlocks = auditOf(fake).filter((a) => a.kind === 'door_unlocked');
    expect(unlocks).toHaveLength(1);
    expect(unlocks[0].detail).toMatchObject({ type: 'door_unlocked', source: 'home_assistant' });
  });

  it('exit button and signed remote unlock: each one event and audit row naming the source (reason, transaction, key)', async () => {
    const rec = recordingLogger();
    fake = await createFakeApp({
      mqtt: true,
      logger: rec.logger,
      env: {
        FACEGATE_MQTT_URL: broker.url,
        FACEGATE_ENROLLMENT_ALLOW_UNLOCK: 'true',
        FACEGATE_DOOR_PULSE_MS: '150',
        ...FAST_RECONNECT,
      },
      configure: (c) => {
        const keyFile = join(c.device.stateDir, 'admin.pub.pem');
        writeFileSync(keyFile, admin.publicPem);
        return { ...c, enrollment: { ...c.enrollment, trustedKeys: [keyFile] } };
      },
    });
    const deviceId = fake.config.device.id;
    const base = resolveBaseTopic('', deviceId);
    const admin1 = await observe([`${base}/events`, `${base}/response/unlock`], uniqueId('admin'));
    await fake.app.start();
    await waitUntil('the door connected', () => rec.has('mqtt connected'));

    fake.exitButton.set(true);
    await waitUntil('the exit pulse', () => fake!.app.doorState?.unlocks === 1);
    fake.exitButton.set(false);
    await waitUntil('the door relocked', () => fake!.app.doorState?.locked === true);

    const fresh = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'unlock',
      aud: deviceId,
      args: { reason: 'parcel delivery' },
    });
    await admin1.publish(`${base}/request/unlock`, fresh.jws);
    await admin1.waitFor(`${base}/response/unlock`, (m) => JSON.parse(m.text).status === 'ok');

    // Issued two minutes ago (still within its lifetime): refused, never carried out.
    const late = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'unlock',
      aud: deviceId,
      args: { reason: 'late' },
      nowMs: Date.now() - 120_000,
      lifetimeSeconds: 600,
    });
    await admin1.publish(`${base}/request/unlock`, late.jws);
    await admin1.waitFor(`${base}/response/unlock`, (m) => JSON.parse(m.text).error?.code === 'stale_unlock');
    await admin1.waitFor(
      `${base}/events`,
      (m) => parsed(admin1, `${base}/events`).filter((e) => e.type === 'door_unlocked').length === 2 && !!m,
    );
    await fake.app.stop('test over');

    const events = parsed(admin1, `${base}/events`).filter((e) => e.type === 'door_unlocked');
    expect(events).toEqual([
      expect.objectContaining({ source: 'exit_button' }),
      expect.objectContaining({
        source: 'remote',
        reason: 'parcel delivery',
        transaction: fresh.claims.transaction,
        keyId: admin.admin.kid,
      }),
    ]);
    expect(fake.app.doorState?.unlocks).toBe(2);
    const audit = auditOf(fake);
    expect(
      audit.filter((a) => a.kind === 'door_unlocked').map((a) => (a.detail as { source: string }).source),
    ).toEqual(['exit_button', 'remote']);
    expect(
      audit.some(
        (a) => a.kind === 'rejected_request' && (a.detail as { code: string }).code === 'stale_unlock',
      ),
    ).toBe(true);
  });
});
