import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInput, createRelay } from '../../src/gpio/factory.js';
import { GpiodInput, GpiodRelay } from '../../src/gpio/gpiod.js';
import { OnoffInput, OnoffRelay } from '../../src/gpio/onoff.js';
import { SimulatedRelay } from '../../src/gpio/simulated.js';
import { silentLogger } from '../../src/util/log.js';
import { flush, ManualTime } from '../fakes/manual-time.js';
import { FakeGpioBank, FakeGpiodTools, fakeOnoffFactory, writeFakeSysfs } from '../fakes/gpio-lines.js';

const logger = silentLogger();
const lineDefaults = {
  chip: 'auto',
  line: 17,
  activeLow: false,
  commandTopic: '',
  payloadUnlock: 'on',
  payloadLock: 'off',
};

describe('onoff relay and input on a fake sysfs tree', () => {
  let root: string;
  beforeAll(() => {
    root = join(mkdtempSync(join(tmpdir(), 'facegate-onoff-')), 'gpio');
    writeFakeSysfs(root, [{ base: 571, label: 'pinctrl-rp1', ngpio: 54 }]);
  });
  afterAll(() => rmSync(join(root, '..'), { recursive: true, force: true }));

  it('claims base+offset at the inactive physical level, active-low inverted', async () => {
    const bank = new FakeGpioBank();
    const created: { gpio: number; direction: string }[] = [];
    const relay = new OnoffRelay(
      { chip: 'auto', line: 17, activeLow: true, sysfsRoot: root },
      fakeOnoffFactory(bank, created),
      logger,
    );
    await relay.start();
    expect(created).toEqual([{ gpio: 588, direction: 'high' }]);
    // Never driven low (= unlocked for an active-low board) during start.
    expect(bank.writes.every((w) => w.level === 1)).toBe(true);
    await relay.unlock();
    expect(bank.level('sysfs:588')).toBe(0);
    expect(relay.unlocked).toBe(true);
    relay.lockSync();
    expect(bank.level('sysfs:588')).toBe(1);
    await relay.unlock();
    await relay.close();
    expect(bank.level('sysfs:588')).toBe(1);
    expect(relay.unlocked).toBe(false);
  });

  it('an input reports active-state changes only', async () => {
    const bank = new FakeGpioBank();
    bank.set('sysfs:593', 1); // line 22 pulled up, button not pressed (active low)
    const input = new OnoffInput(
      'exit',
      { chip: 'pinctrl-rp1', line: 22, activeLow: true, sysfsRoot: root },
      fakeOnoffFactory(bank),
      logger,
    );
    await input.start();
    expect(input.read()).toBe(false);
    const seen: boolean[] = [];
    input.onChange((v) => seen.push(v));
    bank.set('sysfs:593', 0);
    bank.set('sysfs:593', 0);
    bank.set('sysfs:593', 1);
    expect(seen).toEqual([true, false]);
    await input.close();
    bank.set('sysfs:593', 0);
    expect(seen).toEqual([true, false]);
  });
});

describe.each([1, 2] as const)('gpiod tools v%i', (version) => {
  it('relay holds the line with one gpioset, replaces it on change, and sets locked on close', async () => {
    const bank = new FakeGpioBank();
    const tools = new FakeGpiodTools(bank, version);
    const relay = new GpiodRelay({ chip: 'auto', line: 17, activeLow: false }, tools, logger);
    await relay.start();
    expect(bank.level('gpiochip0:17')).toBe(0);
    expect(tools.running.size).toBe(1);
    await relay.unlock();
    expect(bank.level('gpiochip0:17')).toBe(1);
    expect(tools.running.size).toBe(1);
    await relay.lock();
    expect(bank.level('gpiochip0:17')).toBe(0);
    await relay.unlock();
    relay.lockSync();
    expect(bank.level('gpiochip0:17')).toBe(0);
    expect(tools.running.size).toBe(0);
    await relay.close();
    expect(bank.level('gpiochip0:17')).toBe(0);
    expect(tools.running.size).toBe(0);
  });

  it('active-low relay: unlocked drives the line low', async () => {
    const bank = new FakeGpioBank();
    const tools = new FakeGpiodTools(bank, version);
    const relay = new GpiodRelay({ chip: 'pinctrl-rp1', line: 5, activeLow: true }, tools, logger);
    await relay.start();
    expect(bank.level('gpiochip0:5')).toBe(1);
    await relay.unlock();
    expect(bank.level('gpiochip0:5')).toBe(0);
    await relay.close();
    expect(bank.level('gpiochip0:5')).toBe(1);
  });

  it('input reads the first value with gpioget and follows gpiomon edges', async () => {
    const bank = new FakeGpioBank();
    bank.set('gpiochip0:27', 1);
    const tools = new FakeGpiodTools(bank, version);
    const input = new GpiodInput(
      'contact',
      { chip: 'auto', line: 27, activeLow: false, settleMs: 0 },
      tools,
      logger,
    );
    await input.start();
    expect(input.read()).toBe(true);
    const seen: boolean[] = [];
    input.onChange((v) => seen.push(v));
    bank.set('gpiochip0:27', 0);
    await flush();
    bank.set('gpiochip0:27', 1);
    await flush();
    expect(seen).toEqual([false, true]);
    expect(input.read()).toBe(true);
    await input.close();
    expect(tools.running.size).toBe(0);
  });

  it('a gpioset that exits at once (line busy) fails the call instead of pretending', async () => {
    const bank = new FakeGpioBank();
    const tools = new FakeGpiodTools(bank, version);
    const relay = new GpiodRelay({ chip: 'auto', line: 17, activeLow: false }, tools, logger);
    await relay.start();
    tools.busy.add('gpiochip0:17');
    await expect(relay.unlock()).rejects.toThrow(/exited at once \(code 1\)/);
    expect(relay.unlocked).toBe(false);
    expect(bank.level('gpiochip0:17')).toBe(0);
  });

  it('input ignores contact bounce shorter than settleMs', async () => {
    const bank = new FakeGpioBank();
    bank.set('gpiochip0:27', 0);
    const tools = new FakeGpiodTools(bank, version);
    const input = new GpiodInput(
      'contact',
      { chip: 'auto', line: 27, activeLow: false, settleMs: 300 },
      tools,
      logger,
    );
    await input.start();
    const seen: boolean[] = [];
    input.onChange((v) => seen.push(v));
    const tick = () => new Promise<void>((r) => setImmediate(r));
    for (const level of [1, 0, 1, 0, 1] as const) {
      bank.set('gpiochip0:27', level);
      await tick();
    }
    expect(seen).toEqual([]);
    await new Promise((r) => setTimeout(r, 600));
    expect(seen).toEqual([true]);
    bank.set('gpiochip0:27', 0);
    await tick();
    bank.set('gpiochip0:27', 1); // back before it settled: no change at all
    await new Promise((r) => setTimeout(r, 600));
    expect(seen).toEqual([true]);
    await input.close();
  });

  it('unknown chip label is a clear error', async () => {
    const tools = new FakeGpiodTools(new FakeGpioBank(), version);
    const relay = new GpiodRelay({ chip: 'pinctrl-bcm2711', line: 17, activeLow: false }, tools, logger);
    await expect(relay.start()).rejects.toThrow(
      /no GPIO chip "pinctrl-bcm2711"; found gpiochip0 \[pinctrl-rp1\]/,
    );
  });
});

describe('simulated relay', () => {
  it('records pulses with their times', async () => {
    const time = new ManualTime();
    const relay = (await createRelay(
      { ...lineDefaults, type: 'simulated' },
      { logger, clock: time },
    )) as SimulatedRelay;
    await relay.start();
    await relay.unlock();
    time.advance(3000);
    await relay.lock();
    await relay.lock();
    expect(relay.pulses).toHaveLength(1);
    expect(relay.pulses[0].lockedAtMs! - relay.pulses[0].unlockedAtMs).toBe(3000);
    expect(await createInput('x', { ...lineDefaults, type: 'none' }, { logger, clock: time })).toBeNull();
  });
});

describe('mqtt relay against the local Mosquitto', () => {
  it('publishes unlock and lock payloads (QoS 1, not retained) on the command topic', async () => {
    const topic = `facegate-test/${process.pid}-${Date.now()}/relay/0/command`;
    const client = await mqtt.connectAsync('mqtt://127.0.0.1:1883', {
      clientId: `facegate-relay-test-${process.pid}`,
    });
    try {
      const received: { payload: string; retain: boolean; qos: number }[] = [];
      client.on('message', (t, payload, packet) => {
        if (t === topic)
          received.push({ payload: payload.toString(), retain: packet.retain, qos: packet.qos });
      });
      await client.subscribeAsync(topic, { qos: 1 });
      const relay = await createRelay(
        { ...lineDefaults, type: 'mqtt', commandTopic: topic, payloadUnlock: 'ON', payloadLock: 'OFF' },
        {
          logger,
          clock: new ManualTime(),
          publisher: { publish: async (t, p, o) => void (await client.publishAsync(t, p, o)) },
        },
      );
      await relay.start();
      await relay.unlock();
      expect(relay.unlocked).toBe(true);
      await relay.lock();
      const offline = await createRelay(
        { ...lineDefaults, type: 'mqtt', commandTopic: topic },
        { logger, clock: new ManualTime(), publisher: { connected: false, publish: async () => undefined } },
      );
      await offline.start(); // does not wait for a broker that is not there
      await expect(offline.unlock()).rejects.toThrow(/not connected/);
      for (let i = 0; i < 50 && received.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(received.map((m) => m.payload)).toEqual(['OFF', 'ON', 'OFF']);
      expect(received.every((m) => !m.retain && m.qos === 1)).toBe(true);
    } finally {
      await client.endAsync();
    }
  });
});
