import { DateTime } from 'luxon';
import { argsObject, EnrollmentError } from '../enrollment/errors.js';
import type { PersonAccessPatch } from '../gallery/person-access.js';
import { MAX_GROUPS_PER_PERSON } from '../gallery/person-access.js';
import {
  GROUP_NAME_PATTERN,
  ScheduleError,
  isValidTimeZone,
  parseGroups,
  type GroupScheduleSpec,
} from './schedule.js';

/**
 * The access part of the signed request protocol (docs/enrollment.md): the credential
 * fields `enroll` and `update_person` carry, and the args of `set_schedules`. Every
 * parser throws EnrollmentError('invalid_payload') naming the field.
 */

/** `enroll` args that set the credential (besides person, name, images). */
export const ENROLL_ACCESS_ARGS = ['groups', 'validFrom', 'validUntil'] as const;

/** What an admin sends: ISO-8601 instants (with Z or an offset); null clears a bound. */
export interface PersonAccessArgs {
  readonly groups?: readonly string[];
  readonly validFrom?: string | null;
  readonly validUntil?: string | null;
}

export interface UpdatePersonArgs extends PersonAccessArgs {
  readonly person: string;
  readonly suspended?: boolean;
}

export type SetSchedulesArgs =
  | { readonly groups: Readonly<Record<string, GroupScheduleSpec>>; readonly timeZone?: string }
  | { readonly reset: true };

/** The override a `set_schedules` stores: groups, and a time zone when the request named one. */
export interface StoredScheduleSpec {
  readonly groups: Readonly<Record<string, GroupScheduleSpec>>;
  readonly timeZone?: string;
}

// An instant: a date, a time, and Z or a UTC offset (a local time without zone is ambiguous).
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

/**
 * An ISO-8601 instant → ms since the epoch; null stays null (clears the bound).
 * @throws EnrollmentError invalid_payload
 */
export function parseInstant(value: unknown, what: string): number | null {
  if (value === null) return null;
  const dt =
    typeof value === 'string' && INSTANT.test(value) ? DateTime.fromISO(value, { setZone: true }) : null;
  if (!dt?.isValid) {
    throw new EnrollmentError(
      'invalid_payload',
      `${what} must be an ISO-8601 instant with Z or an offset (e.g. 2027-01-31T18:00:00+01:00), or null`,
    );
  }
  return dt.toMillis();
}

export function parseGroupList(value: unknown): string[] {
  if (
    !Array.isArray(value) ||
    value.length > MAX_GROUPS_PER_PERSON ||
    value.some((g) => typeof g !== 'string' || !GROUP_NAME_PATTERN.test(g)) ||
    new Set(value).size !== value.length
  ) {
    throw new EnrollmentError(
      'invalid_payload',
      `groups must be a list of at most ${MAX_GROUPS_PER_PERSON} distinct names (1..64 letters, digits, '.', '_', '-')`,
    );
  }
  return value as string[];
}

/** The credential fields of an args object → a store patch (absent fields absent). */
export function parseAccessFields(a: Record<string, unknown>): PersonAccessPatch {
  const patch: { -readonly [K in keyof PersonAccessPatch]: PersonAccessPatch[K] } = {};
  if (a.groups !== undefined) patch.groups = parseGroupList(a.groups);
  if (a.validFrom !== undefined) patch.validFromMs = parseInstant(a.validFrom, 'validFrom');
  if (a.validUntil !== undefined) patch.validUntilMs = parseInstant(a.validUntil, 'validUntil');
  if (a.suspended !== undefined) {
    if (typeof a.suspended !== 'boolean')
      throw new EnrollmentError('invalid_payload', 'suspended must be true or false');
    patch.suspended = a.suspended;
  }
  if (patch.validFromMs != null && patch.validUntilMs != null && patch.validFromMs >= patch.validUntilMs) {
    throw new EnrollmentError('invalid_payload', 'validFrom must be before validUntil');
  }
  return patch;
}

/** `update_person` args: person + at least one of groups, validFrom, validUntil, suspended. */
export function parseUpdatePersonArgs(
  args: unknown,
  parsePersonId: (v: unknown) => string,
): { person: string; patch: PersonAccessPatch } {
  const a = argsObject(args, 'update_person', ['person', 'groups', 'validFrom', 'validUntil', 'suspended']);
  const person = parsePersonId(a.person);
  const patch = parseAccessFields(a);
  if (Object.keys(patch).length === 0) {
    throw new EnrollmentError(
      'invalid_payload',
      'update_person: give at least one of groups, validFrom, validUntil, suspended',
    );
  }
  return { person, patch };
}

/**
 * `set_schedules` args: `{"groups": {...}, "timeZone"?: "Europe/Berlin"}` (validated like
 * `access.groups` in the config), or `{"reset": true}` (back to the config's schedules).
 * @returns the spec to store, or null for a reset
 */
export function parseSetSchedulesArgs(args: unknown): StoredScheduleSpec | null {
  const a = argsObject(args, 'set_schedules', ['groups', 'timeZone', 'reset']);
  if (a.reset !== undefined) {
    if (a.reset !== true || a.groups !== undefined || a.timeZone !== undefined)
      throw new EnrollmentError('invalid_payload', 'set_schedules: reset must be true and come alone');
    return null;
  }
  if (a.timeZone !== undefined && !isValidTimeZone(a.timeZone))
    throw new EnrollmentError(
      'invalid_payload',
      'set_schedules: timeZone must be an IANA time zone (e.g. Europe/Berlin)',
    );
  try {
    const groups = parseGroups(a.groups, 'groups');
    return { groups, ...(a.timeZone !== undefined ? { timeZone: a.timeZone as string } : {}) };
  } catch (err) {
    if (err instanceof ScheduleError)
      throw new EnrollmentError('invalid_payload', `set_schedules: ${err.problems.slice(0, 5).join('; ')}`);
    throw err;
  }
}
