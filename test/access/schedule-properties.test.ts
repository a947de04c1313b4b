import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSchedules, isOpenAt, WEEKDAYS, type Weekday } from '../../src/access/schedule.js';

// Properties of the weekly windows, checked minute by minute against what a person reading
// the schedule expects: how many minutes a week a window is open, and that wall-clock
// windows keep their length in local hours through a whole year of daylight-saving changes.
const MINUTE = 60_000;
const hhmm = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

function openMinutes(
  zone: string,
  spec: Parameters<typeof compileSchedules>[0]['groups'],
  fromMs: number,
  toMs: number,
  stepMinutes = 1,
) {
  const group = compileSchedules({ timeZone: zone, groups: spec }).groups.get('g');
  if (!group) throw new Error('no group');
  let n = 0;
  for (let t = fromMs; t < toMs; t += stepMinutes * MINUTE) if (isOpenAt(group, zone, t)) n += stepMinutes;
  return n;
}

describe('weekly windows (property)', () => {
  it('a window is open (to - from) minutes per starting day, also across midnight and the week’s end', () => {
    fc.assert(
      fc.property(
        fc.subarray([...WEEKDAYS] as Weekday[], { minLength: 1 }),
        fc.integer({ min: 0, max: 1439 }),
        fc.integer({ min: 1, max: 1440 }),
        (days, from, to) => {
          fc.pre(from !== to);
          const duration = to > from ? to - from : 1440 - from + to;
          const monday = Date.UTC(2026, 11, 7); // a Monday, UTC: no daylight saving
          const week = openMinutes(
            'UTC',
            { g: { windows: [{ days, from: hhmm(from), to: hhmm(to) }] } },
            monday,
            monday + 7 * 1440 * MINUTE,
          );
          // Minutes of one week: a Sunday-night window's morning part falls on the next
          // Monday, and the previous Sunday's on this one: the week total is unchanged.
          expect(week).toBe(days.length * duration);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('Europe/Berlin and America/New_York: 08:00 local opens at the UTC hour the year’s DST rules say', () => {
    const cases = [
      { zone: 'Europe/Berlin', winter: 7, summer: 6, spring: '2026-03-29', autumn: '2026-10-25' },
      { zone: 'America/New_York', winter: 13, summer: 12, spring: '2026-03-08', autumn: '2026-11-01' },
    ];
    for (const c of cases) {
      const group = compileSchedules({
        timeZone: c.zone,
        groups: { g: { windows: [{ days: [...WEEKDAYS], from: '08:00', to: '17:00' }] } },
      }).groups.get('g');
      if (!group) throw new Error('no group');
      const changes: string[] = [];
      let previous: number | null = null;
      for (let day = 0; day < 365; day++) {
        const midnight = Date.UTC(2026, 0, 1 + day);
        // The first whole UTC hour of the day at which the window is open.
        let hour = 0;
        while (hour < 24 && !isOpenAt(group, c.zone, midnight + hour * 3600_000)) hour++;
        expect(isOpenAt(group, c.zone, midnight + hour * 3600_000 - MINUTE)).toBe(false);
        if (previous !== null && hour !== previous)
          changes.push(`${new Date(midnight).toISOString().slice(0, 10)}:${hour}`);
        previous = hour;
      }
      expect(changes).toEqual([`${c.spring}:${c.summer}`, `${c.autumn}:${c.winter}`]);
    }
  });

  it('Europe/Berlin and America/New_York: 08:00–17:00 is 540 real minutes on every day of 2026', () => {
    for (const zone of ['Europe/Berlin', 'America/New_York']) {
      const lengths = new Set<number>();
      const spec = { g: { windows: [{ days: [...WEEKDAYS], from: '08:00', to: '17:00' }] } };
      for (let day = 0; day < 365; day += 1) {
        const start = Date.UTC(2026, 0, 1 + day, 5); // 05:00 UTC: before 08:00 local in both zones
        // 15-minute steps: the window ends and both zones' offsets lie on the grid.
        lengths.add(openMinutes(zone, spec, start, start + 18 * 60 * MINUTE, 15));
      }
      expect([...lengths]).toEqual([540]);
    }
  });
});
