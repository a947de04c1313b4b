import {
  DEFAULT_GROUP,
  isValidTimeZone,
  parseGroups,
  type DoorSchedulesSpec,
  type GroupScheduleSpec,
  type ScheduleError,
} from './schedule.js';
import type { UnsyncedFallback } from './rules.js';

/**
 * convict keys of the `access` slice for the door's access rules (docs/access.md); spread
 * into `accessSchema` in ./config.ts. Validation of `groups` is `parseGroups`, the same
 * function that checks a signed `set_schedules`.
 */

function timeZone(value: unknown): void {
  if (!isValidTimeZone(value)) throw new Error('must be an IANA time zone name, e.g. Europe/Berlin or UTC');
}

/**
 * What an empty `access.groups` (the default) admits: the `default` group at all times, so
 * every person enrolled before access groups existed (the gallery migration puts them
 * there) and every person enrolled without groups keeps opening an upgraded door, and no
 * grant depends on the clock. A door that lists any group admits exactly the listed ones.
 * (The default is `{}` rather than this object because convict deep-merges a file's
 * object into an object default: `default` would then be admitted on every door.)
 */
export const DEFAULT_DOOR_GROUPS: Record<string, GroupScheduleSpec> = { [DEFAULT_GROUP]: { always: true } };

export const accessRulesSchema = {
  timeZone: {
    doc: "The door's IANA time zone (e.g. Europe/Berlin); schedule windows and holiday dates are local times in it, daylight saving included.",
    format: timeZone,
    default: 'UTC',
    env: 'FACEGATE_ACCESS_TIME_ZONE',
  },
  groups: {
    doc: 'The access groups this door admits: name → {"always": true} or {"windows": [{"days": ["mon",...], "from": "HH:MM", "to": "HH:MM"}], "holidays": ["YYYY-MM-DD"], "allowWhenClockUnsynced": bool}; "to" at or before "from" ends the next day. Unlisted groups: not_allowed_here. Empty: group "default", always. Overridden by set_schedules. Env: JSON. See docs/access.md.',
    // convict keeps an Object leaf whole (and parses the env JSON); checkAccessRulesConfig validates it.
    format: Object,
    default: {} as Record<string, GroupScheduleSpec>,
    env: 'FACEGATE_ACCESS_GROUPS',
  },
  clockUnsynced: {
    doc: 'While the system clock is not synchronised, groups with time windows are: deny (refused, reason clock_unsynced) or allow_marked_groups (groups marked allowWhenClockUnsynced are admitted, the others refused). Groups marked "always" are unaffected.',
    format: ['deny', 'allow_marked_groups'] as const,
    default: 'deny' as UnsyncedFallback,
    env: 'FACEGATE_ACCESS_CLOCK_UNSYNCED',
  },
  clockSync: {
    doc: 'How the daemon learns whether the clock is synchronised: systemd (/run/systemd/timesync/synchronized, else timedatectl NTPSynchronized; unknown counts as unsynchronised) or assume_synced (a clock trusted by other means, e.g. an RTC with GPS).',
    format: ['systemd', 'assume_synced'] as const,
    default: 'systemd' as 'systemd' | 'assume_synced',
    env: 'FACEGATE_ACCESS_CLOCK_SYNC',
  },
} as const;

/** The rules part of the `access` slice, typed. */
export interface AccessRulesConfig {
  readonly timeZone: string;
  readonly groups: Readonly<Record<string, GroupScheduleSpec>>;
  readonly clockUnsynced: UnsyncedFallback;
  readonly clockSync: 'systemd' | 'assume_synced';
}

/** The configured door schedules (an empty `groups` means DEFAULT_DOOR_GROUPS). */
export function configuredSchedules(
  config: Pick<AccessRulesConfig, 'timeZone' | 'groups'>,
): DoorSchedulesSpec {
  const groups = Object.keys(config.groups ?? {}).length === 0 ? DEFAULT_DOOR_GROUPS : config.groups;
  return { timeZone: config.timeZone, groups };
}

/** Cross-field check run by the config loader: every problem of `access.groups`, each on its own line. */
export function checkAccessRulesConfig(config: Partial<AccessRulesConfig>): string[] {
  if (config.groups === undefined) return [];
  try {
    parseGroups(config.groups, 'access.groups');
    return [];
  } catch (err) {
    return (err as ScheduleError).problems ? [...(err as ScheduleError).problems] : [(err as Error).message];
  }
}
