import { describe, expect, it } from 'vitest';
import { SystemdClockSync, type ClockSyncProbe } from '../../src/access/clock-sync.js';
import { DoorSchedules } from '../../src/access/door-schedules.js';
import type { AccessGranted } from '../../src/access/policy.js';
import { checkAccessRulesConfig, configuredSchedules } from '../../src/access/rules-config.js';
import { AccessRules, type PersonAccess } from '../../src/access/rules.js';
import { parseSetSchedulesArgs, parseUpdatePersonArgs } from '../../src/access/protocol.js';
import { loadConfig } from '../../src/config/load.js';
import { EnrollmentError } from '../../src/enrollment/errors.js';
import { parsePersonId } from '../../src/enrollment/protocol.js';
import type { StoredSchedules } from '../../src/gallery/person-access.js';
import { silentLogger } from '../../src/util/log.js';

const grant: AccessGranted = {
  type: 'access_granted',
  person: { id: 'ann', name: 'Ann' },
  score: 0.9,
  margin: 0.2,
  frames: 3,
};
const synced = { state: () => ({ synchronized: true, source: 'test', detail: '' }) };
const clock = { nowMs: () => Date.parse('2026-12-07T12:00:00Z'), monotonicMs: () => 0 };

function rulesFor(people: Record<string, PersonAccess>, stored?: StoredSchedules) {
  const store = { personAccess: (id: string) => people[id], storedSchedules: () => stored };
  const schedules = new DoorSchedules(
    configuredSchedules({ timeZone: 'UTC', groups: { staff: { always: true } } }),
    store,
    silentLogger(),
  );
  return {
    schedules,
    rules: new AccessRules({
      people: store,
      schedules,
      clock,
      clockSync: synced,
      fallback: 'deny',
      logger: silentLogger(),
    }),
  };
}
const ann = (over: Partial<PersonAccess> = {}): PersonAccess => ({
  suspended: false,
  validFromMs: null,
  validUntilMs: null,
  groups: ['staff'],
  ...over,
});

describe('AccessRules.review', () => {
  it('keeps a grant the rules allow, adding the person state and the group', () => {
    const { rules } = rulesFor({ ann: ann() });
    expect(rules.review(grant)).toMatchObject({
      type: 'access_granted',
      group: 'staff',
      suspended: false,
      person: { id: 'ann', name: 'Ann', suspended: false, groups: ['staff'] },
    });
  });

  it('turns a refused grant into access_denied naming the person, with the rules’ reason', () => {
    const { rules } = rulesFor({ ann: ann({ validUntilMs: Date.parse('2026-12-07T11:59:59Z') }) });
    expect(rules.review(grant)).toEqual({
      type: 'access_denied',
      reason: 'expired',
      person: {
        id: 'ann',
        name: 'Ann',
        suspended: false,
        groups: ['staff'],
        validUntil: '2026-12-07T11:59:59.000Z',
      },
      suspended: false,
      closest: { id: 'ann', name: 'Ann' },
      score: 0.9,
      frames: 3,
    });
  });

  it('fails closed: a person no longer stored, or rules that throw, refuse', () => {
    expect(rulesFor({}).rules.review(grant)).toMatchObject({
      type: 'access_denied',
      reason: 'not_allowed_here',
    });
    const broken = new AccessRules({
      people: {
        personAccess: () => {
          throw new Error('database is locked');
        },
      },
      schedules: {
        current: () => {
          throw new Error('not reached');
        },
      },
      clock,
      clockSync: synced,
      fallback: 'deny',
      logger: silentLogger(),
    });
    expect(broken.review(grant)).toMatchObject({ type: 'access_denied' });
  });

  it('passes other decisions unchanged', () => {
    const { rules } = rulesFor({});
    const unknown = { type: 'unknown_face' as const, score: 0.1, frames: 3, quality: [] };
    expect(rules.review(unknown)).toBe(unknown);
    expect(rules.review(null)).toBeNull();
  });
});

describe('DoorSchedules', () => {
  it('a stored override wins over the config, using the config’s time zone when it names none', () => {
    const { schedules } = rulesFor(
      {},
      { spec: { groups: { lab: { always: true } } }, updatedMs: 5, kid: 'k' },
    );
    expect(schedules.origin()).toEqual({
      source: 'set_schedules',
      since: new Date(5).toISOString(),
      timeZone: 'UTC',
      groups: ['lab'],
    });
  });

  it('a damaged override admits nobody and says so (fails closed)', () => {
    const { schedules, rules } = rulesFor(
      { ann: ann() },
      { spec: { groups: { staff: { windows: 'always' } } }, updatedMs: 5, kid: null },
    );
    expect(schedules.origin().error).toMatch(/admitting nobody/);
    expect(rules.check('ann').verdict).toEqual({ allowed: false, reason: 'not_allowed_here' });
  });

  it('an empty access.groups admits the default group at all times (upgraded doors keep working)', () => {
    expect(configuredSchedules({ timeZone: 'UTC', groups: {} }).groups).toEqual({
      default: { always: true },
    });
    expect(configuredSchedules({ timeZone: 'UTC', groups: { a: { always: true } } }).groups).toEqual({
      a: { always: true },
    });
  });
});

describe('SystemdClockSync', () => {
  const probe = (flag: boolean, answer: string | Error): ClockSyncProbe => ({
    flagFile: () => Promise.resolve(flag),
    timedatectl: () => (answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer)),
  });

  it('is unsynchronised until asked, then follows the flag file, then timedatectl', async () => {
    const sync = new SystemdClockSync(silentLogger(), probe(true, 'no'));
    expect(sync.state().synchronized).toBe(false);
    expect((await sync.refresh()).source).toBe('timesyncd-flag');
    expect(sync.state().synchronized).toBe(true);
    expect((await new SystemdClockSync(silentLogger(), probe(false, 'yes\n')).refresh()).synchronized).toBe(
      true,
    );
    expect((await new SystemdClockSync(silentLogger(), probe(false, 'no\n')).refresh()).synchronized).toBe(
      false,
    );
  });

  it('counts "cannot tell" as unsynchronised, with the reason', async () => {
    const state = await new SystemdClockSync(
      silentLogger(),
      probe(false, new Error('System has not been booted with systemd')),
    ).refresh();
    expect(state).toMatchObject({ synchronized: false, source: 'unknown' });
    expect(state.detail).toMatch(/not been booted with systemd/);
    expect((await new SystemdClockSync(silentLogger(), probe(false, 'maybe')).refresh()).synchronized).toBe(
      false,
    );
  });
});

describe('request args', () => {
  it('update_person: ISO instants with a zone, null clears, at least one field', () => {
    expect(
      parseUpdatePersonArgs(
        { person: 'ann', validUntil: '2027-01-31T18:00:00+01:00', validFrom: null, groups: ['a', 'b'] },
        parsePersonId,
      ),
    ).toEqual({
      person: 'ann',
      patch: { groups: ['a', 'b'], validFromMs: null, validUntilMs: Date.parse('2027-01-31T17:00:00Z') },
    });
    for (const bad of [
      { person: 'ann' },
      { person: 'ann', validUntil: '2027-01-31' },
      { person: 'ann', validUntil: '2027-01-31T18:00:00' },
      { person: 'ann', suspended: 'yes' },
      { person: 'ann', groups: 'staff' },
      { person: 'ann', groups: ['a', 'a'] },
      { person: 'ann', colour: 'red' },
      { person: 'ann', validFrom: '2027-02-01T00:00:00Z', validUntil: '2027-01-01T00:00:00Z' },
    ])
      expect(() => parseUpdatePersonArgs(bad, parsePersonId), JSON.stringify(bad)).toThrow(EnrollmentError);
  });

  it('set_schedules: validated like the config; reset alone', () => {
    expect(parseSetSchedulesArgs({ reset: true })).toBeNull();
    expect(parseSetSchedulesArgs({ groups: { a: { always: true } }, timeZone: 'Europe/Berlin' })).toEqual({
      groups: { a: { always: true } },
      timeZone: 'Europe/Berlin',
    });
    for (const bad of [
      { reset: true, groups: {} },
      { reset: false },
      { groups: { a: { windows: [] } } },
      { groups: { a: { always: true } }, timeZone: 'Berlin' },
      {},
    ])
      expect(() => parseSetSchedulesArgs(bad), JSON.stringify(bad)).toThrow(EnrollmentError);
  });
});

describe('config', () => {
  it('reports every access.groups problem with the other config errors', () => {
    expect(
      checkAccessRulesConfig({
        groups: { ok: { always: true }, bad: { windows: [{ days: ['mon'] }] } } as never,
      }),
    ).toEqual([
      'access.groups.bad.windows[0].from must be "HH:MM" (00:00..23:59)',
      'access.groups.bad.windows[0].to must be "HH:MM" (00:01..24:00)',
    ]);
    expect(() =>
      loadConfig({ env: { FACEGATE_ACCESS_TIME_ZONE: 'Mars/Base', FACEGATE_ACCESS_GROUPS: '{"x":{}}' } }),
    ).toThrow(/access.timeZone[\s\S]*access.groups.x needs/);
    const ok = loadConfig({
      env: {
        FACEGATE_ACCESS_TIME_ZONE: 'America/New_York',
        FACEGATE_ACCESS_GROUPS: '{"night":{"windows":[{"days":["fri"],"from":"22:00","to":"06:00"}]}}',
      },
    });
    expect(ok.access.groups).toEqual({ night: { windows: [{ days: ['fri'], from: '22:00', to: '06:00' }] } });
  });
});
