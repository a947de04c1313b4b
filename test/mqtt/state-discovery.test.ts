import { afterEach, describe, expect, it } from 'vitest';
import { defaultMqttConfig } from '../../src/mqtt/config.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { EVENT_TYPES, HomeAssistantDiscovery, type HomeAssistantCommand } from '../../src/mqtt/discovery.js';
import { StatePublisher, type DeviceState, type StateMessage } from '../../src/mqtt/state-publisher.js';
import type { Clock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { Observer, SHARED_BROKER, uniqueId, waitUntil } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const clock: Clock = { nowMs: () => Date.UTC(2026, 10, 27, 21, 0, 0), monotonicMs: () => 0 };

async function connected(deviceId: string): Promise<MqttConnection> {
  const conn = new MqttConnection({
    config: defaultMqttConfig({ url: SHARED_BROKER, sessionExpirySeconds: 60 }),
    deviceId,
    logger: silentLogger(),
  });
  cleanups.push(() => conn.stop());
  conn.start();
  await waitUntil('connected', () => conn.connected);
  return conn;
}

async function observe(filters: string[]): Promise<Observer> {
  const observer = await Observer.connect(SHARED_BROKER, filters);
  cleanups.push(() => observer.close());
  return observer;
}

/**
 * Returns once a probe published after the messages before it has reached the device:
 * Mosquitto forwards one publisher's QoS 1 messages to a subscriber in order, so anything
 * the device was going to receive has arrived by then.
 */
async function barrier(conn: MqttConnection, observer: Observer): Promise<void> {
  const topic = `${conn.topics.base}/probe/${uniqueId('p')}`;
  let arrived = false;
  const off = conn.subscribe(topic, () => (arrived = true));
  try {
    await waitUntil('probe subscribed', () => conn.ready);
    await observer.publish(topic, 'probe');
    await waitUntil('probe arrived', () => arrived);
  } finally {
    off();
  }
}

/** Removes the retained messages a test left on the shared broker. */
async function clearRetained(observer: Observer, topics: string[]): Promise<void> {
  for (const topic of new Set(topics)) await observer.publish(topic, '', true);
}

describe('StatePublisher', () => {
  it('publishes retained state on start, on change, and not when nothing changed', async () => {
    const conn = await connected(uniqueId('state'));
    const state: DeviceState = {
      door: { locked: true, open: false, unlocks: 0 },
      gallery: { people: 3, faces: 9, version: 12 },
      model: { id: 'siamese-v1' },
      fps: 7.93,
    };
    const publisher = new StatePublisher({
      transport: conn,
      provider: () => state,
      clock,
      logger: silentLogger(),
      intervalMs: 100,
    });
    cleanups.push(() => publisher.stop());
    const observer = await observe([conn.topics.state]);
    publisher.start();
    const first = await observer.waitFor(conn.topics.state);
    expect(JSON.parse(first.text) as StateMessage).toEqual({
      v: 1,
      ts: '2026-11-27T21:00:00.000Z',
      ...state,
      fps: 7.9,
    });

    await new Promise((r) => setTimeout(r, 400)); // 4 intervals, nothing changed
    expect(observer.on(conn.topics.state)).toHaveLength(1);

    state.door = { locked: false, open: false, unlocks: 1 };
    publisher.refresh();
    const second = await observer.waitFor(
      conn.topics.state,
      (m) => !(JSON.parse(m.text) as StateMessage).door.locked,
    );
    expect((JSON.parse(second.text) as StateMessage).door.unlocks).toBe(1);

    state.gallery = { people: 4, faces: 10, version: 13 };
    await observer.waitFor(
      conn.topics.state,
      (m) => (JSON.parse(m.text) as StateMessage).gallery.people === 4,
    ); // by the interval

    const late = await observe([conn.topics.state]);
    const retained = await late.waitFor(conn.topics.state);
    expect(retained.retain).toBe(true);
    expect((JSON.parse(retained.text) as StateMessage).gallery.version).toBe(13);
    await clearRetained(late, [conn.topics.state, conn.topics.availability]);
  });
});

describe('HomeAssistantDiscovery', () => {
  function discovery(
    conn: MqttConnection,
    prefix: string,
    allowUnlock: boolean,
    onCommand?: (c: HomeAssistantCommand) => void,
  ) {
    const d = new HomeAssistantDiscovery({
      transport: conn,
      deviceId: conn.clientId.replace(/^facegate-/, ''),
      config: { enabled: true, prefix, allowUnlock, deviceName: '' },
      softwareVersion: '0.1.0',
      hasDoorContact: true,
      onCommand,
      logger: silentLogger(),
      resendJitterMs: 0,
    });
    cleanups.push(() => d.stop());
    return d;
  }

  it('publishes retained configs for the lock sensor, event, diagnostics; re-sends on homeassistant/status online', async () => {
    const prefix = uniqueId('ha');
    const conn = await connected(uniqueId('disc'));
    const d = discovery(conn, prefix, false);
    const observer = await observe([`${prefix}/#`]);
    d.start();
    const expected = d.messages();
    await waitUntil('all configs', () => observer.messages.length >= expected.length);
    const node = `facegate_${conn.clientId.replace(/^facegate-/, '')}`;

    const lockSensor = JSON.parse(
      (await observer.waitFor(`${prefix}/binary_sensor/${node}/lock/config`)).text,
    );
    expect(lockSensor.device_class).toBe('lock');
    expect(lockSensor.state_topic).toBe(conn.topics.state);
    expect(lockSensor.availability_topic).toBe(conn.topics.availability);
    expect(lockSensor.device.identifiers).toEqual([node]);
    expect(lockSensor.command_topic).toBeUndefined();
    // Unlock from Home Assistant is off: no lock entity; an empty retained config deletes an old one.
    expect(observer.on(`${prefix}/lock/${node}/lock/config`).map((m) => m.text)).toEqual(['']);

    const event = JSON.parse((await observer.waitFor(`${prefix}/event/${node}/access/config`)).text);
    expect(event.state_topic).toBe(conn.topics.events);
    expect(event.event_types).toEqual(EVENT_TYPES);
    const fps = JSON.parse((await observer.waitFor(`${prefix}/sensor/${node}/fps/config`)).text);
    expect(fps.entity_category).toBe('diagnostic');
    const mqttSensor = JSON.parse(
      (await observer.waitFor(`${prefix}/binary_sensor/${node}/mqtt/config`)).text,
    );
    expect(mqttSensor.state_topic).toBe(conn.topics.availability);
    expect(mqttSensor.availability_topic).toBeUndefined();
    const uniqueIds = expected.filter((m) => m.payload).map((m) => JSON.parse(m.payload).unique_id);
    expect(new Set(uniqueIds).size).toBe(uniqueIds.length);

    const before = observer.messages.length;
    await observer.publish(`${prefix}/status`, 'offline');
    await new Promise((r) => setTimeout(r, 200));
    expect(observer.messages.length).toBe(before + 1); // just the status message itself
    await observer.publish(`${prefix}/status`, 'online');
    await waitUntil('re-sent', () => observer.messages.length >= before + 2 + expected.length);
    const resent = observer.messages.slice(before + 2);
    expect(resent.map((m) => m.topic).sort()).toEqual(expected.map((m) => m.topic).sort());

    await clearRetained(observer, [...expected.map((m) => m.topic), conn.topics.availability]);
  });

  it('with allowUnlock: a lock entity with a command topic that reaches onCommand', async () => {
    const prefix = uniqueId('ha');
    const conn = await connected(uniqueId('disc'));
    const commands: HomeAssistantCommand[] = [];
    const d = discovery(conn, prefix, true, (c) => commands.push(c));
    const node = `facegate_${conn.clientId.replace(/^facegate-/, '')}`;
    const observer = await observe([`${prefix}/#`]);
    d.start();
    const lock = JSON.parse((await observer.waitFor(`${prefix}/lock/${node}/lock/config`)).text);
    expect(lock.command_topic).toBe(d.commandTopic);
    expect(lock.state_topic).toBe(conn.topics.state);
    await waitUntil('command topic subscribed', () => conn.ready);
    for (const payload of ['UNLOCK', 'garbage', 'LOCK']) await observer.publish(d.commandTopic, payload);
    await waitUntil('two commands', () => commands.length >= 2);
    expect(commands).toEqual(['unlock', 'lock']);
    await clearRetained(observer, [...d.messages().map((m) => m.topic), conn.topics.availability]);
  });

  it('after allowUnlock is turned off, the old session subscription on the broker does not reach onCommand', async () => {
    const prefix = uniqueId('ha');
    const deviceId = uniqueId('disc');
    const before = await connected(deviceId);
    const first = discovery(before, prefix, true, () => undefined);
    first.start();
    await waitUntil('the broker session holds the command subscription', () => before.ready);
    first.stop();
    await before.stop();

    const conn = await connected(deviceId); // same client id: the broker resumes the session
    const commands: HomeAssistantCommand[] = [];
    const d = discovery(conn, prefix, false, (c) => commands.push(c));
    d.start();
    const observer = await observe([]);
    await waitUntil('subscribed', () => conn.ready);
    await observer.publish(d.commandTopic, 'UNLOCK');
    await barrier(conn, observer);
    expect(commands).toEqual([]);
    await clearRetained(observer, [...d.messages().map((m) => m.topic), conn.topics.availability]);
  });

  it('without allowUnlock nothing listens on the command topic', async () => {
    const prefix = uniqueId('ha');
    const conn = await connected(uniqueId('disc'));
    const commands: HomeAssistantCommand[] = [];
    const d = discovery(conn, prefix, false, (c) => commands.push(c));
    const observer = await observe([]);
    d.start();
    await waitUntil('subscribed', () => conn.ready);
    await observer.publish(d.commandTopic, 'UNLOCK');
    await barrier(conn, observer);
    expect(commands).toEqual([]);
    await clearRetained(observer, [...d.messages().map((m) => m.topic), conn.topics.availability]);
  });
});
