import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Door, RELAY_TIMEOUT_MS } from '../../src/access/door.js';
import { RecordingSink } from '../fakes/events.js';
import { GpiodInput, GpiodRelay } from '../../src/gpio/gpiod.js';
import { SimulatedInput, SimulatedRelay } from '../../src/gpio/simulated.js';
import type { Relay } from '../../src/gpio/types.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import { FakeGpioBank, FakeGpiodTools } from '../fakes/gpio-lines.js';
import { flush, ManualTime } from '../fakes/manual-time.js';

const logger = silentLogger();
const options = { pulseMs: 3000, heldOpenSeconds: 30, openGraceMs: 1000 };

async function simulatedDoor() {
  const time = new ManualTime();
  const relay = new SimulatedRelay(logger, time);
  const contact = new SimulatedInput('contact');
  const exitButton = new SimulatedInput('exit');
  const events = new RecordingSink();
  const door = new Door(options, { relay, contact, exitButton, events, clock: time, logger, timers: time });
  await door.start();
  return { time, relay, contact, exitButton, events, door };
}

describe('Door', () => {
  it('starts locked and gives one bounded pulse per unlock', async () => {
    const { time, relay, door } = await simulatedDoor();
    expect(door.state()).toEqual({ locked: true, open: false, unlocks: 0 });
    await door.unlock('access_granted');
    expect(relay.unlocked).toBe(true);
    time.advance(2999);
    await flush();
    expect(relay.unlocked).toBe(true);
    time.advance(1);
    await flush();
    expect(relay.unlocked).toBe(false);
    expect(relay.pulses).toHaveLength(1);
    expect(relay.pulses[0].lockedAtMs! - relay.pulses[0].unlockedAtMs).toBe(3000);
  });

  it('bounds an absurd pulse length', async () => {
    const time = new ManualTime();
    const relay = new SimulatedRelay(logger, time);
    const door = new Door(
      { ...options, pulseMs: 10 * 60_000 },
      { relay, events: new RecordingSink(), clock: time, logger, timers: time },
    );
    await door.start();
    await door.unlock('remote');
    time.advance(30_000);
    await flush();
    expect(relay.unlocked).toBe(false);
  });

  it('door opened while locked is door_forced; after an unlock it is not', async () => {
    const { time, contact, events, door } = await simulatedDoor();
    time.advance(5000);
    contact.set(true);
    expect(events.types()).toEqual(['door_forced']);
    contact.set(false);
    await door.unlock('access_granted');
    contact.set(true);
    expect(events.types()).toEqual(['door_forced']);
    expect(door.state().open).toBe(true);
  });

  it('opening within the grace period after relock is not forced', async () => {
    const { time, contact, events, door } = await simulatedDoor();
    await door.unlock('access_granted');
    time.advance(3000);
    await flush();
    time.advance(500);
    contact.set(true);
    expect(events.types()).toEqual([]);
  });

  it('closing the door during the pulse relocks early', async () => {
    const { time, relay, contact, door } = await simulatedDoor();
    await door.unlock('access_granted');
    time.advance(800);
    contact.set(true);
    time.advance(700);
    contact.set(false);
    await flush();
    expect(relay.unlocked).toBe(false);
    expect(relay.pulses[0].lockedAtMs! - relay.pulses[0].unlockedAtMs).toBe(1500);
  });

  it('door held open past the limit is reported once per opening', async () => {
    const { time, contact, events, door } = await simulatedDoor();
    await door.unlock('access_granted');
    contact.set(true);
    time.advance(29_999);
    await flush();
    expect(events.types()).toEqual([]);
    time.advance(1);
    expect(events.events).toEqual([{ type: 'door_held_open', seconds: 30 }]);
    time.advance(60_000);
    await flush();
    expect(events.events).toHaveLength(1);
    contact.set(false);
    contact.set(true); // opened again while locked, long after: forced, and a new held timer
    time.advance(30_000);
    expect(events.types()).toEqual(['door_held_open', 'door_forced', 'door_held_open']);
  });

  it('the exit button unlocks', async () => {
    const { relay, exitButton } = await simulatedDoor();
    exitButton.set(true);
    await flush();
    expect(relay.unlocked).toBe(true);
    exitButton.set(false);
    await flush();
    expect(relay.pulses).toHaveLength(1);
  });

  it('stop() leaves the relay locked even mid-pulse, and ignores inputs afterwards', async () => {
    const { relay, exitButton, contact, events, door } = await simulatedDoor();
    await door.unlock('access_granted');
    await door.stop();
    expect(relay.unlocked).toBe(false);
    exitButton.set(true);
    contact.set(true);
    await flush();
    expect(relay.unlocked).toBe(false);
    expect(events.events).toEqual([]);
  });

  it('a relay that throws on unlock is locked again and reported', async () => {
    const time = new ManualTime();
    const inner = new SimulatedRelay(logger, time);
    let lockSyncCalls = 0;
    const broken: Relay = {
      name: 'broken',
      get unlocked() {
        return inner.unlocked;
      },
      start: () => inner.start(),
      unlock: async () => {
        await inner.unlock();
        throw new Error('EIO');
      },
      lock: () => inner.lock(),
      lockSync: () => {
        lockSyncCalls++;
        inner.lockSync();
      },
      close: () => inner.close(),
    };
    const events = new RecordingSink();
    const door = new Door(options, { relay: broken, events, clock: time, logger, timers: time });
    await door.start();
    await door.unlock('access_granted');
    expect(inner.unlocked).toBe(false);
    expect(events.types()).toEqual(['error']);
    door.lockSync();
    expect(lockSyncCalls).toBe(1);
  });

  it('a hung relay call times out: error event, synchronous lock, and stop() still finishes', async () => {
    const time = new ManualTime();
    const inner = new SimulatedRelay(logger, time);
    let lockSyncCalls = 0;
    const hung: Relay = {
      name: 'hung',
      get unlocked() {
        return inner.unlocked;
      },
      start: () => inner.start(),
      unlock: () => new Promise<void>(() => undefined),
      lock: () => inner.lock(),
      lockSync: () => {
        lockSyncCalls++;
        inner.lockSync();
      },
      close: () => inner.close(),
    };
    const events = new RecordingSink();
    const door = new Door(options, { relay: hung, events, clock: time, logger, timers: time });
    await door.start();
    const unlocking = door.unlock('access_granted');
    await flush();
    time.advance(RELAY_TIMEOUT_MS);
    await unlocking;
    expect(events.events).toEqual([
      {
        type: 'error',
        source: 'door',
        message: `relay failed to unlock: relay unlock timed out after ${RELAY_TIMEOUT_MS} ms`,
      },
    ]);
    expect(door.state().locked).toBe(true);
    await door.stop();
    expect(lockSyncCalls).toBe(0);
  });

  it('works end to end on fake gpiod lines: forced, pulse, early relock, exit button, locked on stop', async () => {
    const time = new ManualTime();
    const bank = new FakeGpioBank();
    const tools = new FakeGpiodTools(bank, 1);
    bank.set('gpiochip0:27', 0); // contact closed
    bank.set('gpiochip0:22', 1); // button released (active low, pulled up)
    const events = new RecordingSink();
    const door = new Door(options, {
      relay: new GpiodRelay({ chip: 'auto', line: 17, activeLow: true, settleMs: 1 }, tools, logger),
      contact: new GpiodInput(
        'contact',
        { chip: 'auto', line: 27, activeLow: false, settleMs: 0 },
        tools,
        logger,
      ),
      exitButton: new GpiodInput(
        'exit',
        { chip: 'auto', line: 22, activeLow: true, settleMs: 0 },
        tools,
        logger,
      ),
      events,
      clock: time,
      logger,
      timers: time,
    });
    await door.start();
    expect(bank.level('gpiochip0:17')).toBe(1); // active-low relay released
    time.advance(5000);
    bank.set('gpiochip0:27', 1);
    await flush();
    expect(events.types()).toEqual(['door_forced']);
    bank.set('gpiochip0:27', 0);
    await flush();
    bank.set('gpiochip0:22', 0); // press
    await flush();
    expect(bank.level('gpiochip0:17')).toBe(0);
    bank.set('gpiochip0:22', 1);
    bank.set('gpiochip0:27', 1);
    await flush();
    bank.set('gpiochip0:27', 0);
    await flush();
    expect(bank.level('gpiochip0:17')).toBe(1); // relocked early
    await door.unlock('access_granted');
    expect(bank.level('gpiochip0:17')).toBe(0);
    await door.stop();
    expect(bank.level('gpiochip0:17')).toBe(1);
    expect(tools.running.size).toBe(0);
    // #15.5: the exit button's unlock leaves its trace; the face unlock's is its caller's access_granted.
    expect(events.types()).toEqual(['door_forced', 'door_unlocked']);
    expect(events.events[1]).toEqual({ type: 'door_unlocked', source: 'exit_button' });
  });
});

describe('a gpiod relay whose start failed', () => {
  it('stop() after the failed start logs no second, misleading "relay used before start()"', async () => {
    const lines: { level: number; msg: string; err?: { message?: string } }[] = [];
    const logger = createLogger(
      'debug',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
            lines.push(JSON.parse(line) as (typeof lines)[number]);
          done();
        },
      }),
    );
    const time = new ManualTime();
    // No chip of that label: start() fails with the real reason.
    const tools = new FakeGpiodTools(new FakeGpioBank(), 2);
    const relay = new GpiodRelay({ chip: 'pinctrl-bcm2711', line: 17, activeLow: false }, tools, logger);
    const door = new Door(options, { relay, events: new RecordingSink(), clock: time, logger, timers: time });
    await expect(door.start()).rejects.toThrow(/no GPIO chip "pinctrl-bcm2711"/);
    await door.stop();
    const errors = lines.filter((l) => l.level >= 50);
    expect(JSON.stringify(errors)).not.toMatch(/used before start/);
    expect(errors).toEqual([]);
    expect(lines.some((l) => /never claimed/.test(l.msg))).toBe(true);
    expect(tools.running.size).toBe(0);
  });
});
