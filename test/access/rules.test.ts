import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { decideAccess, type PersonAccess } from '../../src/access/rules.js';
import {
  compileSchedules,
  isOpenAt,
  parseGroups,
  ScheduleError,
  type GroupScheduleSpec,
} from '../../src/access/schedule.js';

/** ms of a local wall-clock time in `zone` (luxon; the test states times as a person on site would). */
const local = (iso: string, zone: string): number => {
  const dt = DateTime.fromISO(iso, { zone });
  if (!dt.isValid) throw new Error(`bad time ${iso}`);
  return dt.toMillis();
};
const utc = (iso: string): number => Date.parse(iso);

function group(zone: string, spec: GroupScheduleSpec) {
  const c = compileSchedules({ timeZone: zone, groups: { g: spec } });
  const g = c.groups.get('g');
  if (!g) throw new Error('no group');
  return (ms: number) => isOpenAt(g, zone, ms);
}

const person = (over: Partial<PersonAccess> = {}): PersonAccess => ({
  suspended: false,
  validFromMs: null,
  validUntilMs: null,
  groups: ['staff'],
  ...over,
});

describe('weekly windows', () => {
  it('a window crossing midnight (Fri 22:00–06:00) is open Friday night and Saturday morning only', () => {
    const open = group('Europe/Berlin', { windows: [{ days: ['fri'], from: '22:00', to: '06:00' }] });
    // 2026-12-04 is a Friday.
    expect(open(local('2026-12-04T21:59:59', 'Europe/Berlin'))).toBe(false);
    expect(open(local('2026-12-04T22:00:00', 'Europe/Berlin'))).toBe(true);
    expect(open(local('2026-12-04T23:59:59', 'Europe/Berlin'))).toBe(true);
    expect(open(local('2026-12-05T00:00:00', 'Europe/Berlin'))).toBe(true); // Saturday, still Friday's window
    expect(open(local('2026-12-05T05:59:59', 'Europe/Berlin'))).toBe(true);
    expect(open(local('2026-12-05T06:00:00', 'Europe/Berlin'))).toBe(false);
    // Saturday night is not Friday night; Friday morning is not the end of a Thursday window.
    expect(open(local('2026-12-05T23:00:00', 'Europe/Berlin'))).toBe(false);
    expect(open(local('2026-12-04T03:00:00', 'Europe/Berlin'))).toBe(false);
  });

  it('a Sunday-night window ends on Monday morning (the week wraps)', () => {
    const open = group('UTC', { windows: [{ days: ['sun'], from: '20:00', to: '02:00' }] });
    expect(open(utc('2026-12-07T01:30:00Z'))).toBe(true); // Monday 01:30
    expect(open(utc('2026-12-07T02:00:00Z'))).toBe(false);
    expect(open(utc('2026-12-06T19:59:00Z'))).toBe(false);
  });

  it('window ends are exclusive, to the minute; 24:00 is the end of the day', () => {
    const open = group('UTC', {
      windows: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '17:00' },
        { days: ['sat'], from: '00:00', to: '24:00' },
      ],
    });
    expect(open(utc('2026-12-07T16:59:59.999Z'))).toBe(true);
    expect(open(utc('2026-12-07T17:00:00.000Z'))).toBe(false);
    expect(open(utc('2026-12-07T07:59:59.999Z'))).toBe(false);
    expect(open(utc('2026-12-12T23:59:59Z'))).toBe(true); // Saturday, all day
    expect(open(utc('2026-12-13T00:00:00Z'))).toBe(false); // Sunday
  });
});

describe('daylight saving (windows are local wall-clock times)', () => {
  const office = { windows: [{ days: ['sun', 'mon'] as const, from: '08:00', to: '17:00' }] };

  it('Europe/Berlin: 08:00 local is 07:00 UTC in winter and 06:00 UTC in summer', () => {
    const open = group('Europe/Berlin', {
      windows: [...office.windows.map((w) => ({ ...w, days: [...w.days] }))],
    });
    // Sat 28 / Sun 29 March 2026: the clocks go forward 02:00 CET → 03:00 CEST on Sunday.
    expect(open(utc('2026-03-22T06:30:00Z'))).toBe(false); // Sunday before: 07:30 CET
    expect(open(utc('2026-03-22T07:00:00Z'))).toBe(true); // 08:00 CET
    expect(open(utc('2026-03-29T06:00:00Z'))).toBe(true); // the change day: 08:00 CEST
    expect(open(utc('2026-03-29T05:59:59Z'))).toBe(false); // 07:59:59 CEST
    expect(open(utc('2026-03-29T15:00:00Z'))).toBe(false); // 17:00 CEST: closed one UTC hour earlier
  });

  it('Europe/Berlin: a window in the skipped hour never opens; the repeated hour is open twice', () => {
    const night = group('Europe/Berlin', { windows: [{ days: ['sun'], from: '02:00', to: '03:00' }] });
    // 29 March 2026: 01:59:59 CET is followed by 03:00:00 CEST. Every UTC instant of that night:
    let openMinutes = 0;
    for (let t = utc('2026-03-28T23:00:00Z'); t < utc('2026-03-29T04:00:00Z'); t += 60_000)
      if (night(t)) openMinutes++;
    expect(openMinutes).toBe(0);
    // 25 October 2026: 02:59:59 CEST is followed by 02:00:00 CET; 02:00–03:00 happens twice.
    openMinutes = 0;
    for (let t = utc('2026-10-24T22:00:00Z'); t < utc('2026-10-25T04:00:00Z'); t += 60_000)
      if (night(t)) openMinutes++;
    expect(openMinutes).toBe(120);
    expect(night(utc('2026-10-25T00:30:00Z'))).toBe(true); // 02:30 CEST
    expect(night(utc('2026-10-25T01:30:00Z'))).toBe(true); // 02:30 CET
    expect(night(utc('2026-10-25T02:00:00Z'))).toBe(false); // 03:00 CET
  });

  it('America/New_York: the March and November changes move the window in UTC; a night shift stays 8 local hours', () => {
    const open = group('America/New_York', {
      windows: [{ days: ['sat', 'sun'], from: '22:00', to: '06:00' }],
    });
    // 8 March 2026: 02:00 EST → 03:00 EDT. Saturday 22:00 EST = 03:00Z; Sunday 06:00 EDT = 10:00Z.
    expect(open(utc('2026-03-08T02:59:00Z'))).toBe(false);
    expect(open(utc('2026-03-08T03:00:00Z'))).toBe(true);
    expect(open(utc('2026-03-08T09:59:00Z'))).toBe(true); // 05:59 EDT
    expect(open(utc('2026-03-08T10:00:00Z'))).toBe(false); // 06:00 EDT: 7 real hours after it opened
    // 1 November 2026: 02:00 EDT → 01:00 EST. Saturday 22:00 EDT = 02:00Z; Sunday 06:00 EST = 11:00Z.
    expect(open(utc('2026-11-01T01:59:00Z'))).toBe(false);
    expect(open(utc('2026-11-01T02:00:00Z'))).toBe(true);
    expect(open(utc('2026-11-01T10:59:00Z'))).toBe(true); // 05:59 EST: 9 real hours after it opened
    expect(open(utc('2026-11-01T11:00:00Z'))).toBe(false);
    // A fixed UTC offset would have got one of these wrong: the same UTC time, a week apart.
    expect(open(utc('2026-10-25T10:30:00Z'))).toBe(false); // 06:30 EDT
    expect(open(utc('2026-11-08T10:30:00Z'))).toBe(true); // 05:30 EST
  });
});

describe('holidays', () => {
  const spec = {
    windows: [
      {
        days: ['mon', 'tue', 'wed', 'thu', 'fri'] as ('mon' | 'tue' | 'wed' | 'thu' | 'fri')[],
        from: '07:00',
        to: '19:00',
      },
    ],
    holidays: ['2026-12-25'],
  };

  it('no access on a holiday date (local), access the days around it', () => {
    const open = group('Europe/Berlin', spec);
    expect(open(local('2026-12-24T10:00', 'Europe/Berlin'))).toBe(true); // Thursday
    expect(open(local('2026-12-25T10:00', 'Europe/Berlin'))).toBe(false); // Friday, holiday
    expect(open(local('2026-12-28T10:00', 'Europe/Berlin'))).toBe(true); // Monday
  });

  it('the holiday is the door-local date: 23:30 UTC on the 24th is already the 25th in Berlin', () => {
    const open = group('Europe/Berlin', {
      windows: [{ days: ['thu', 'fri'], from: '00:00', to: '24:00' }],
      holidays: ['2026-12-25'],
    });
    expect(open(utc('2026-12-24T22:59:00Z'))).toBe(true); // 23:59 on the 24th, Berlin
    expect(open(utc('2026-12-24T23:30:00Z'))).toBe(false); // 00:30 on the 25th, Berlin
  });

  it('a night window starting the evening before a holiday closes at midnight', () => {
    const open = group('UTC', {
      windows: [{ days: ['thu'], from: '22:00', to: '06:00' }],
      holidays: ['2026-12-25'],
    });
    expect(open(utc('2026-12-24T23:00:00Z'))).toBe(true);
    expect(open(utc('2026-12-25T01:00:00Z'))).toBe(false);
  });
});

describe('decideAccess', () => {
  const door = compileSchedules({
    timeZone: 'Europe/Berlin',
    groups: {
      staff: { windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '07:00', to: '19:00' }] },
      security: { always: true },
      cleaning: { windows: [{ days: ['fri'], from: '22:00', to: '06:00' }], allowWhenClockUnsynced: true },
    },
  });
  const mondayNoon = local('2026-12-07T12:00', 'Europe/Berlin');
  const mondayNight = local('2026-12-07T23:00', 'Europe/Berlin');

  it('grants a valid person of an admitted group inside its window, naming the group', () => {
    expect(decideAccess(person(), door, mondayNoon, true, 'deny')).toEqual({ allowed: true, group: 'staff' });
  });

  it('validity boundaries to the second: [validFrom, validUntil)', () => {
    const from = utc('2026-12-07T11:00:00Z');
    const until = utc('2026-12-07T11:30:00Z');
    const p = person({ validFromMs: from, validUntilMs: until });
    expect(decideAccess(p, door, from - 1000, true, 'deny')).toEqual({
      allowed: false,
      reason: 'not_yet_valid',
    });
    expect(decideAccess(p, door, from - 1, true, 'deny')).toEqual({
      allowed: false,
      reason: 'not_yet_valid',
    });
    expect(decideAccess(p, door, from, true, 'deny').allowed).toBe(true);
    expect(decideAccess(p, door, until - 1000, true, 'deny').allowed).toBe(true);
    expect(decideAccess(p, door, until - 1, true, 'deny').allowed).toBe(true);
    expect(decideAccess(p, door, until, true, 'deny')).toEqual({ allowed: false, reason: 'expired' });
    expect(decideAccess(p, door, until + 1000, true, 'deny')).toEqual({ allowed: false, reason: 'expired' });
  });

  it('suspended wins over everything else', () => {
    const p = person({ suspended: true, groups: ['security'], validUntilMs: 0 });
    expect(decideAccess(p, door, mondayNoon, true, 'deny')).toEqual({ allowed: false, reason: 'suspended' });
  });

  it('a person none of whose groups this door admits: not_allowed_here (also with no groups at all)', () => {
    expect(decideAccess(person({ groups: ['lab'] }), door, mondayNoon, true, 'deny')).toEqual({
      allowed: false,
      reason: 'not_allowed_here',
    });
    expect(decideAccess(person({ groups: [] }), door, mondayNoon, true, 'deny').allowed).toBe(false);
  });

  it('outside every window of the person’s groups: outside_schedule; another group of theirs may admit', () => {
    expect(decideAccess(person(), door, mondayNight, true, 'deny')).toEqual({
      allowed: false,
      reason: 'outside_schedule',
    });
    expect(decideAccess(person({ groups: ['staff', 'security'] }), door, mondayNight, true, 'deny')).toEqual({
      allowed: true,
      group: 'security',
    });
  });

  it('unsynchronised clock: deny refuses windowed groups (clock_unsynced), always-groups still pass', () => {
    expect(decideAccess(person(), door, mondayNoon, false, 'deny')).toEqual({
      allowed: false,
      reason: 'clock_unsynced',
    });
    expect(decideAccess(person({ groups: ['security'] }), door, mondayNoon, false, 'deny').allowed).toBe(
      true,
    );
  });

  it('unsynchronised clock with allow_marked_groups: marked groups pass whatever the time, others are refused', () => {
    const cleaner = person({ groups: ['cleaning'] });
    expect(decideAccess(cleaner, door, mondayNoon, false, 'allow_marked_groups')).toEqual({
      allowed: true,
      group: 'cleaning',
    });
    expect(decideAccess(cleaner, door, mondayNoon, false, 'deny').allowed).toBe(false);
    expect(decideAccess(person(), door, mondayNoon, false, 'allow_marked_groups')).toEqual({
      allowed: false,
      reason: 'clock_unsynced',
    });
  });
});

describe('schedule validation', () => {
  it('lists every problem at once', () => {
    let error: ScheduleError | undefined;
    try {
      parseGroups({
        'bad name!': { always: true },
        a: { windows: [{ days: ['mon', 'xyz'], from: '25:00', to: '08:00', extra: 1 }] },
        b: { always: true, holidays: ['2026-02-30'] },
        c: {},
        d: { windows: [{ days: ['mon'], from: '08:00', to: '08:00' }] },
      });
    } catch (err) {
      error = err as ScheduleError;
    }
    expect(error).toBeInstanceOf(ScheduleError);
    const text = error?.problems.join('\n') ?? '';
    for (const expected of [
      'bad name!',
      'unknown keys extra',
      'a.windows[0].days',
      'a.windows[0].from',
      'b.holidays',
      'c needs',
      'from equals to',
    ])
      expect(text).toContain(expected);
  });

  it('refuses a time zone that is not IANA', () => {
    expect(() => compileSchedules({ timeZone: 'Mars/Olympus', groups: {} })).toThrow(/IANA/);
    expect(() => compileSchedules({ timeZone: 'CET+1', groups: {} })).toThrow(ScheduleError);
  });
});
