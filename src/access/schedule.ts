import { DateTime, IANAZone } from 'luxon';
import { ACCESS_GROUP_PATTERN } from '../identity.js';

/**
 * Access groups and their weekly schedules, as one door sees them (docs/access.md).
 *
 * A door admits a set of access groups (`access.groups` in its config, or the schedules a
 * signed `set_schedules` stored in its gallery DB). Each group is either `always` open or
 * open in weekly time windows in the door's IANA time zone, minus holiday dates. Windows
 * are wall-clock times (what a facility manager writes on a notice), evaluated with luxon
 * in the door's zone, so a window follows daylight-saving changes: "08:00–17:00" is 8 a.m.
 * local time in winter and in summer. Consequences at the change itself: on the day the
 * clocks go forward, local times in the skipped hour never happen (a window lying wholly
 * inside it never opens); on the day they go back, the repeated hour happens twice and a
 * window covering it is open both times.
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Access group name: the rule lives with the other identity rules in src/identity.ts. */
export { ACCESS_GROUP_PATTERN as GROUP_NAME_PATTERN } from '../identity.js';
export const MAX_GROUPS_PER_DOOR = 64;
export const MAX_WINDOWS_PER_GROUP = 32;
export const MAX_HOLIDAYS_PER_GROUP = 400;
/** The group existing people are put in by the migration and new people get by default. */
export const DEFAULT_GROUP = 'default';

/** One weekly window as written in config / set_schedules: `from` on each of `days`, until `to`. */
export interface TimeWindowSpec {
  /** Days the window STARTS on. */
  readonly days: readonly Weekday[];
  /** Local start, "HH:MM" (00:00..23:59), inclusive. */
  readonly from: string;
  /** Local end, "HH:MM" (00:01..24:00), exclusive. At or before `from`: the window ends the next day. */
  readonly to: string;
}

export interface GroupScheduleSpec {
  /** Open at all times (no windows, no holidays): does not depend on the clock. */
  readonly always?: boolean;
  readonly windows?: readonly TimeWindowSpec[];
  /** Local dates "YYYY-MM-DD" on which the group has no access at all. */
  readonly holidays?: readonly string[];
  /** With `access.clockUnsynced: allow_marked_groups`, this group is let in while the clock is not synchronised. */
  readonly allowWhenClockUnsynced?: boolean;
}

/** What a door admits: its time zone and its groups (group name → schedule). */
export interface DoorSchedulesSpec {
  readonly timeZone: string;
  readonly groups: Readonly<Record<string, GroupScheduleSpec>>;
}

interface CompiledWindow {
  /** luxon weekdays (1 = Monday .. 7 = Sunday) the window starts on. */
  readonly days: ReadonlySet<number>;
  /** Minutes after local midnight. */
  readonly from: number;
  readonly to: number;
  readonly crossesMidnight: boolean;
}

export interface CompiledGroup {
  readonly name: string;
  readonly always: boolean;
  readonly windows: readonly CompiledWindow[];
  readonly holidays: ReadonlySet<string>;
  readonly allowWhenClockUnsynced: boolean;
}

/** Validated, ready-to-evaluate door schedules. */
export interface CompiledSchedules {
  readonly timeZone: string;
  readonly groups: ReadonlyMap<string, CompiledGroup>;
  /** The spec it came from (for list / health / persisting). */
  readonly spec: DoorSchedulesSpec;
}

/** A schedule that cannot be used; `problems` lists every fault found (config shows them all at once). */
export class ScheduleError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'ScheduleError';
  }
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const GROUP_KEYS = ['always', 'windows', 'holidays', 'allowWhenClockUnsynced'];
const WINDOW_KEYS = ['days', 'from', 'to'];

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function minutes(text: unknown, allow24: boolean): number | null {
  if (typeof text !== 'string') return null;
  if (allow24 && text === '24:00') return 24 * 60;
  const m = HHMM.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** True for an IANA zone name luxon knows (e.g. Europe/Berlin, America/New_York, UTC). */
export function isValidTimeZone(zone: unknown): zone is string {
  return typeof zone === 'string' && zone.length <= 64 && IANAZone.isValidZone(zone);
}

/**
 * Validates a groups object (config `access.groups`, or `set_schedules` args.groups)
 * and returns it typed. Unknown keys are errors.
 * @throws ScheduleError listing every problem, each prefixed with `where`.
 */
export function parseGroups(value: unknown, where = 'groups'): Record<string, GroupScheduleSpec> {
  const problems: string[] = [];
  if (!isObject(value)) throw new ScheduleError([`${where} must be an object: group name → schedule`]);
  const names = Object.keys(value);
  if (names.length > MAX_GROUPS_PER_DOOR)
    problems.push(`${where} has ${names.length} groups, at most ${MAX_GROUPS_PER_DOOR}`);
  const out: Record<string, GroupScheduleSpec> = {};
  for (const name of names.slice(0, MAX_GROUPS_PER_DOOR)) {
    const at = `${where}.${name}`;
    if (!ACCESS_GROUP_PATTERN.test(name)) {
      problems.push(`${at}: a group name is 1..64 letters, digits, '.', '_' or '-'`);
      continue;
    }
    const g = value[name];
    if (!isObject(g)) {
      problems.push(`${at} must be an object ({"always": true} or {"windows": [...]})`);
      continue;
    }
    const extra = Object.keys(g).filter((k) => !GROUP_KEYS.includes(k));
    if (extra.length > 0) problems.push(`${at}: unknown keys ${extra.join(', ')}`);
    if (g.always !== undefined && typeof g.always !== 'boolean')
      problems.push(`${at}.always must be a boolean`);
    if (g.allowWhenClockUnsynced !== undefined && typeof g.allowWhenClockUnsynced !== 'boolean')
      problems.push(`${at}.allowWhenClockUnsynced must be a boolean`);
    const always = g.always === true;
    const windows: TimeWindowSpec[] = [];
    if (g.windows !== undefined) {
      if (!Array.isArray(g.windows) || g.windows.length > MAX_WINDOWS_PER_GROUP) {
        problems.push(`${at}.windows must be a list of at most ${MAX_WINDOWS_PER_GROUP} windows`);
      } else {
        g.windows.forEach((w: unknown, i) => {
          const wAt = `${at}.windows[${i}]`;
          if (!isObject(w)) return void problems.push(`${wAt} must be {"days", "from", "to"}`);
          const wExtra = Object.keys(w).filter((k) => !WINDOW_KEYS.includes(k));
          if (wExtra.length > 0) problems.push(`${wAt}: unknown keys ${wExtra.join(', ')}`);
          const days = w.days;
          if (
            !Array.isArray(days) ||
            days.length === 0 ||
            days.some((d) => !WEEKDAYS.includes(d as Weekday)) ||
            new Set(days).size !== days.length
          ) {
            problems.push(`${wAt}.days must be a non-empty list of distinct ${WEEKDAYS.join('|')}`);
          }
          const from = minutes(w.from, false);
          const to = minutes(w.to, true);
          if (from === null) problems.push(`${wAt}.from must be "HH:MM" (00:00..23:59)`);
          if (to === null || to === 0) problems.push(`${wAt}.to must be "HH:MM" (00:01..24:00)`);
          if (from !== null && to !== null && from === to)
            problems.push(
              `${wAt}: from equals to (a whole day is "00:00"–"24:00"; always open is "always": true)`,
            );
          windows.push({ days: days as Weekday[], from: String(w.from), to: String(w.to) });
        });
      }
    }
    const holidays: string[] = [];
    if (g.holidays !== undefined) {
      if (!Array.isArray(g.holidays) || g.holidays.length > MAX_HOLIDAYS_PER_GROUP) {
        problems.push(`${at}.holidays must be a list of at most ${MAX_HOLIDAYS_PER_GROUP} dates`);
      } else {
        for (const d of g.holidays) {
          if (typeof d !== 'string' || !ISO_DATE.test(d) || !DateTime.fromISO(d).isValid) {
            problems.push(`${at}.holidays: "${String(d).slice(0, 20)}" is not a date YYYY-MM-DD`);
          } else holidays.push(d);
        }
      }
    }
    if (always && (windows.length > 0 || holidays.length > 0))
      problems.push(`${at}: an "always" group has no windows or holidays`);
    if (!always && windows.length === 0 && g.windows !== undefined && Array.isArray(g.windows))
      problems.push(`${at}.windows is empty: the group would never be admitted (remove the group instead)`);
    if (!always && g.windows === undefined)
      problems.push(`${at} needs "always": true or a list of "windows"`);
    out[name] = {
      ...(always ? { always: true } : { windows, ...(holidays.length > 0 ? { holidays } : {}) }),
      ...(g.allowWhenClockUnsynced === true ? { allowWhenClockUnsynced: true } : {}),
    };
  }
  if (problems.length > 0) throw new ScheduleError(problems);
  return out;
}

/**
 * Validates and compiles a door's schedules.
 * @throws ScheduleError listing every problem.
 */
export function compileSchedules(spec: { timeZone: unknown; groups: unknown }): CompiledSchedules {
  const problems: string[] = [];
  if (!isValidTimeZone(spec.timeZone))
    problems.push(
      `timeZone "${String(spec.timeZone).slice(0, 64)}" is not an IANA time zone (e.g. Europe/Berlin)`,
    );
  let groups: Record<string, GroupScheduleSpec> = {};
  try {
    groups = parseGroups(spec.groups);
  } catch (err) {
    problems.push(...((err as ScheduleError).problems ?? [(err as Error).message]));
  }
  if (problems.length > 0) throw new ScheduleError(problems);
  const compiled = new Map<string, CompiledGroup>();
  for (const [name, g] of Object.entries(groups)) {
    compiled.set(name, {
      name,
      always: g.always === true,
      windows: (g.windows ?? []).map((w) => {
        const from = minutes(w.from, false) as number;
        const to = minutes(w.to, true) as number;
        return {
          days: new Set(w.days.map((d) => WEEKDAYS.indexOf(d) + 1)),
          from,
          to,
          crossesMidnight: to <= from,
        };
      }),
      holidays: new Set(g.holidays ?? []),
      allowWhenClockUnsynced: g.allowWhenClockUnsynced === true,
    });
  }
  return {
    timeZone: spec.timeZone as string,
    groups: compiled,
    spec: { timeZone: spec.timeZone as string, groups },
  };
}

/**
 * Whether `group` admits at `nowMs` (wall-clock ms since the epoch) in `timeZone`.
 * Window ends are exclusive to the minute (a window to 17:00 is closed at 17:00:00.000).
 * A holiday closes the group for every moment whose LOCAL date is that holiday, also the
 * part of a window that started the evening before.
 */
export function isOpenAt(group: CompiledGroup, timeZone: string, nowMs: number): boolean {
  if (group.always) return true;
  const local = DateTime.fromMillis(nowMs, { zone: timeZone });
  if (!local.isValid) return false;
  if (group.holidays.has(local.toISODate() ?? '')) return false;
  const minute = local.hour * 60 + local.minute;
  const today = local.weekday;
  const yesterday = today === 1 ? 7 : today - 1;
  return group.windows.some((w) =>
    w.crossesMidnight
      ? (w.days.has(today) && minute >= w.from) || (w.days.has(yesterday) && minute < w.to)
      : w.days.has(today) && minute >= w.from && minute < w.to,
  );
}

/** True when any of the door's groups depends on the clock (has windows rather than `always`). */
export function dependsOnClock(schedules: CompiledSchedules): boolean {
  return [...schedules.groups.values()].some((g) => !g.always);
}
