import type { AccessRefusal, EventPersonState } from '../events.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { ClockSync } from './clock-sync.js';
import type { AccessDecision, AccessDenied, AccessGranted, AccessPolicy } from './policy.js';
import { isOpenAt, type CompiledSchedules } from './schedule.js';

/**
 * Whether NOW: the door's access rules for a person the AccessPolicy has already
 * confirmed (the policy says WHO, from faces; this module says whether that person may
 * pass this door at this moment). Pure decision in `decideAccess`; `AccessRules` adds the
 * person's stored record, the door's schedules, the clock and its synchronisation state.
 *
 * Order of the checks (the first refusal is the reason reported):
 *   1. suspended                        → `suspended`  (refused at once, whatever the clock says)
 *   2. now <  validFrom                 → `not_yet_valid`
 *   3. now >= validUntil                → `expired`    (validity is the half-open [validFrom, validUntil))
 *   4. none of the person's groups is admitted by this door → `not_allowed_here`
 *   5. no admitted group is open now    → `outside_schedule`, or `clock_unsynced` when a
 *      group with windows could not be evaluated because the clock is not synchronised
 *      and the fallback does not allow it.
 */

export type { AccessRefusal } from '../events.js';

export const ACCESS_REFUSALS: readonly AccessRefusal[] = [
  'suspended',
  'not_yet_valid',
  'expired',
  'not_allowed_here',
  'outside_schedule',
  'clock_unsynced',
];

export type RuleVerdict =
  | { readonly allowed: true; /** The group that admitted the person. */ readonly group: string }
  | { readonly allowed: false; readonly reason: AccessRefusal };

/** A person's credential state (stored per person in the gallery DB). */
export interface PersonAccess {
  readonly suspended: boolean;
  /** Wall-clock ms since the epoch from which the person is valid (inclusive); null: no lower bound. */
  readonly validFromMs: number | null;
  /** Wall-clock ms since the epoch from which the person is no longer valid (exclusive); null: no end. */
  readonly validUntilMs: number | null;
  readonly groups: readonly string[];
}

/**
 * What to do with groups that have time windows while the clock is not synchronised:
 * `deny` them all, or `allow_marked_groups` (groups with `allowWhenClockUnsynced: true`
 * are admitted without looking at their windows; others are denied).
 */
export type UnsyncedFallback = 'deny' | 'allow_marked_groups';

/**
 * The rules for one person at one moment on one door; pure.
 * @param nowMs wall-clock ms since the epoch
 * @param clockSynchronized whether that clock is trusted (NTP synchronised)
 */
export function decideAccess(
  person: PersonAccess,
  door: CompiledSchedules,
  nowMs: number,
  clockSynchronized: boolean,
  fallback: UnsyncedFallback,
): RuleVerdict {
  if (person.suspended) return { allowed: false, reason: 'suspended' };
  // Validity is checked against the local clock even when it is not synchronised: there is
  // no better time on the device, and systemd-timesyncd never lets the clock fall behind
  // the last time it saved (docs/access.md, "Time").
  if (person.validFromMs !== null && nowMs < person.validFromMs)
    return { allowed: false, reason: 'not_yet_valid' };
  if (person.validUntilMs !== null && nowMs >= person.validUntilMs)
    return { allowed: false, reason: 'expired' };
  const admitted = person.groups.map((g) => door.groups.get(g)).filter((g) => g !== undefined);
  if (admitted.length === 0) return { allowed: false, reason: 'not_allowed_here' };
  let blockedByClock = false;
  for (const group of admitted) {
    if (group.always) return { allowed: true, group: group.name };
    if (!clockSynchronized) {
      if (fallback === 'allow_marked_groups' && group.allowWhenClockUnsynced)
        return { allowed: true, group: group.name };
      blockedByClock = true;
      continue;
    }
    if (isOpenAt(group, door.timeZone, nowMs)) return { allowed: true, group: group.name };
  }
  return { allowed: false, reason: blockedByClock ? 'clock_unsynced' : 'outside_schedule' };
}

/** A person's access record as stored (the gallery store satisfies it). */
export interface PersonAccessSource {
  /** The person's record, or undefined when no such person is enrolled. */
  personAccess(personId: string): PersonAccess | undefined;
}

/** The schedules in effect on this door (config, or the stored `set_schedules` override). */
export interface ScheduleSource {
  current(): CompiledSchedules;
}

/** The person as shown in access events (Home Assistant reads `suspended` and `groups` from here). */
export type PersonState = EventPersonState;

export interface AccessRulesDeps {
  readonly people: PersonAccessSource;
  readonly schedules: ScheduleSource;
  readonly clock: Clock;
  readonly clockSync: ClockSync;
  readonly fallback: UnsyncedFallback;
  readonly logger: Logger;
}

/**
 * The door's rules, applied to the policy's decisions. Reads the person's record from the
 * gallery DB at each decision (decisions are rare: one per visit), so a suspension
 * committed by `update_person` applies to the very next one.
 */
export class AccessRules {
  private readonly log: Logger;

  constructor(private readonly deps: AccessRulesDeps) {
    this.log = deps.logger.child({ module: 'access-rules' });
  }

  /** The verdict for `personId` now; an unknown person (removed meanwhile) is `not_allowed_here`. */
  check(personId: string): { verdict: RuleVerdict; access: PersonAccess | undefined } {
    const access = this.deps.people.personAccess(personId);
    if (!access) return { verdict: { allowed: false, reason: 'not_allowed_here' }, access };
    const sync = this.deps.clockSync.state();
    const verdict = decideAccess(
      access,
      this.deps.schedules.current(),
      this.deps.clock.nowMs(),
      sync.synchronized,
      this.deps.fallback,
    );
    return { verdict, access };
  }

  /** The policy as the live loop sees it, each of its decisions reviewed by these rules. */
  guard(policy: Pick<AccessPolicy, 'observe'>): Pick<AccessPolicy, 'observe'> {
    return {
      observe: (frameTimestampMs, faces) =>
        policy.observe(frameTimestampMs, faces).map((decision) => this.review(decision)),
    };
  }

  /**
   * Turns the policy's `access_granted` into `access_denied` (reason from the rules, the
   * person still named) when the rules refuse; adds the person's state to both. Other
   * decisions pass unchanged. Any failure reading the rules refuses (fails closed).
   */
  review<D extends AccessDecision | null>(decision: D): D | AccessDecision {
    if (decision === null || decision.type !== 'access_granted') return decision;
    const { id, name } = decision.person;
    let verdict: RuleVerdict;
    let access: PersonAccess | undefined;
    try {
      ({ verdict, access } = this.check(id));
    } catch (err) {
      this.log.error({ err, person: id }, 'access rules could not be evaluated: refusing');
      verdict = { allowed: false, reason: 'not_allowed_here' };
      access = undefined;
    }
    const person = personState(id, name, access);
    if (verdict.allowed) {
      const granted: AccessGranted = {
        ...decision,
        person,
        suspended: person.suspended,
        group: verdict.group,
      };
      return granted;
    }
    this.log.info({ person: id, reason: verdict.reason }, 'recognised, but the access rules refuse');
    const denied: AccessDenied = {
      type: 'access_denied',
      reason: verdict.reason,
      person,
      suspended: person.suspended,
      closest: { id, name },
      score: decision.score,
      frames: decision.frames,
    };
    return denied;
  }
}

/** The event view of a person's record. */
export function personState(id: string, name: string, access: PersonAccess | undefined): PersonState {
  return {
    id,
    name,
    suspended: access?.suspended ?? false,
    groups: access?.groups ?? [],
    ...(access?.validFromMs != null ? { validFrom: new Date(access.validFromMs).toISOString() } : {}),
    ...(access?.validUntilMs != null ? { validUntil: new Date(access.validUntilMs).toISOString() } : {}),
  };
}
