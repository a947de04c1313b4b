import { describe, expect, it } from 'vitest';
import { Door } from '../../src/access/door.js';
import { FaceDoorOpener } from '../../src/access/door-opener.js';
import { EnrollmentError } from '../../src/enrollment/errors.js';
import { RemoteUnlock } from '../../src/enrollment/remote-unlock.js';
import type { EventBody, EventSink, FacegateEvent } from '../../src/events.js';
import { SimulatedInput, SimulatedRelay } from '../../src/gpio/simulated.js';
import type { Relay } from '../../src/gpio/types.js';
import { HomeAssistantLock } from '../../src/mqtt/home-assistant-lock.js';
import { FacegateMetrics } from '../../src/ops/metrics.js';
import { DecisionActuator } from '../../src/pipeline/actuator.js';
import type { AccessGranted } from '../../src/access/policy.js';
import { silentLogger } from '../../src/util/log.js';
import { recordingLogger } from '../helpers/fake-app.js';
import { flush, ManualTime } from '../fakes/manual-time.js';

/** The glue between the door and who asks it to open (#15.1), each with the real Door. */
class Sink implements EventSink {
  readonly events: EventBody[] = [];
  emit(body: EventBody): FacegateEvent {
    this.events.push(body);
    return { ...body, id: String(this.events.length), ts: new Date(0).toISOString(), device: 't' };
  }
}

/** A relay whose unlock fails (an MQTT relay with its broker away). */
function brokenRelay(time: ManualTime): Relay {
  const inner = new SimulatedRelay(silentLogger(), time);
  return {
    name: 'broken',
    get unlocked() {
      return inner.unlocked;
    },
    start: () => inner.start(),
    unlock: () =>
      Promise.reject(new Error('MQTT relay: not connected to the broker, refusing to queue an unlock')),
    lock: () => inner.lock(),
    lockSync: () => inner.lockSync(),
    close: () => inner.close(),
  };
}

async function door(
  relay: (t: ManualTime) => Relay = (t) => new SimulatedRelay(silentLogger(), t),
  logger = silentLogger(),
) {
  const time = new ManualTime();
  const events = new Sink();
  const exitButton = new SimulatedInput('exit');
  const d = new Door(
    { pulseMs: 3000, heldOpenSeconds: 30, openGraceMs: 1000 },
    { relay: relay(time), exitButton, events, clock: time, logger, timers: time },
  );
  await d.start();
  return { door: d, events, time, exitButton };
}

const metricValue = async (metrics: FacegateMetrics, source: string) =>
  (await metrics.unlocks.get()).values.find((v) => v.labels.source === source)?.value ?? 0;

const grant: AccessGranted = {
  type: 'access_granted',
  person: { id: 'alice', name: 'Alice' },
  score: 0.9,
  margin: 0.3,
  frames: 3,
};

describe('FaceDoorOpener + DecisionActuator', () => {
  it('opens for the granted person (named in the door log); the access_granted event is the only trace', async () => {
    const rec = recordingLogger();
    const { door: d, events } = await door(undefined, rec.logger);
    const metrics = new FacegateMetrics();
    const actuator = new DecisionActuator(new FaceDoorOpener(d, metrics), events, silentLogger());
    await actuator.act(grant);
    expect(d.state()).toMatchObject({ locked: false, unlocks: 1 });
    expect(events.events).toEqual([grant]);
    expect(rec.lines.find((l) => l.msg === 'door unlocked')).toMatchObject({
      source: 'face',
      personId: 'alice',
    });
    expect(await metricValue(metrics, 'face')).toBe(1);
  });

  it('a relay that does not move: access_granted carries unlockFailed, the door logs and emits one error, nothing throws', async () => {
    const rec = recordingLogger();
    const { door: d, events } = await door(brokenRelay, rec.logger);
    const metrics = new FacegateMetrics();
    const actuator = new DecisionActuator(new FaceDoorOpener(d, metrics), events, silentLogger());
    await actuator.act(grant);
    expect(events.events.map((e) => e.type)).toEqual(['error', 'access_granted']);
    expect((events.events[1] as { unlockFailed?: string }).unlockFailed).toContain(
      'refusing to queue an unlock',
    );
    expect(rec.lines.find((l) => l.msg === 'relay failed to unlock')).toMatchObject({ personId: 'alice' });
    expect(d.state()).toMatchObject({ locked: true, unlocks: 0 });
    expect(await metricValue(metrics, 'face')).toBe(0);
  });
});

describe('RemoteUnlock', () => {
  it('keeps the reason, transaction and key id in the door_unlocked event', async () => {
    const { door: d, events } = await door();
    const metrics = new FacegateMetrics();
    await new RemoteUnlock(d, metrics).unlock({ reason: 'delivery', transaction: 't-1', keyId: 'k-9' });
    expect(events.events).toEqual([
      { type: 'door_unlocked', source: 'remote', reason: 'delivery', transaction: 't-1', keyId: 'k-9' },
    ]);
    expect(await metricValue(metrics, 'remote')).toBe(1);
  });

  it('rejects with unlock_failed when the door did not open, and the trace says so', async () => {
    const { door: d, events } = await door(brokenRelay);
    const err = await new RemoteUnlock(d)
      .unlock({ reason: 'r', transaction: 't-2', keyId: 'k' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollmentError);
    expect((err as EnrollmentError).code).toBe('unlock_failed');
    const trace = events.events.filter((e) => e.type === 'door_unlocked');
    expect(trace).toHaveLength(1);
    expect(trace[0]).toMatchObject({ source: 'remote', transaction: 't-2' });
    expect(String((trace[0] as { unlockFailed?: string }).unlockFailed)).toContain('not connected');
  });
});

describe('HomeAssistantLock and the exit button', () => {
  it('UNLOCK: one pulse and one door_unlocked naming Home Assistant; LOCK ends it', async () => {
    const { door: d, events } = await door();
    const ha = new HomeAssistantLock(d, silentLogger());
    await ha.handle('unlock');
    expect(d.state().locked).toBe(false);
    expect(events.events).toEqual([{ type: 'door_unlocked', source: 'home_assistant' }]);
    await ha.handle('lock');
    expect(d.state().locked).toBe(true);
    expect(events.events).toHaveLength(1);
  });

  it('the exit button leaves a door_unlocked event naming it', async () => {
    const { events, exitButton, door: d } = await door();
    exitButton.set(true);
    await flush();
    expect(d.state().unlocks).toBe(1);
    expect(events.events).toEqual([{ type: 'door_unlocked', source: 'exit_button' }]);
  });

  it('an unlock after stop() opens nothing but is still traced', async () => {
    const { events, door: d } = await door();
    await d.stop();
    const outcome = await d.unlock({ source: 'home_assistant' });
    expect(outcome.ok).toBe(false);
    expect(events.events).toEqual([
      { type: 'door_unlocked', source: 'home_assistant', unlockFailed: 'door is not running' },
    ]);
  });
});
