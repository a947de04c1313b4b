import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { assumeSynchronized, SystemdClockSync, type ClockSync } from './clock-sync.js';
import { DoorSchedules, type ScheduleOrigin, type StoredScheduleReader } from './door-schedules.js';
import { configuredSchedules, type AccessRulesConfig } from './rules-config.js';
import { AccessRules, type PersonAccessSource, type RuleVerdict } from './rules.js';
import { dependsOnClock } from './schedule.js';

export interface DoorAccessDeps {
  /** The `access` slice (time zone, groups, clock fallback and check). */
  readonly config: AccessRulesConfig;
  /** The gallery store: people's records and the stored set_schedules override. */
  readonly store: PersonAccessSource & StoredScheduleReader;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Replaces the configured clock-sync check (tests). */
  readonly clockSync?: ClockSync;
}

/**
 * The door's access rules as one component for the app: schedules (config or stored
 * override), the clock-sync check, the rules, and what /health and `list` show of them.
 * start() runs the first clock check (so the first decision already knows), stop() ends the polling.
 */
export class DoorAccess {
  readonly schedules: DoorSchedules;
  readonly clockSync: ClockSync;
  readonly rules: AccessRules;
  private readonly log: Logger;

  constructor(private readonly deps: DoorAccessDeps) {
    this.log = deps.logger.child({ module: 'door-access' });
    this.schedules = new DoorSchedules(configuredSchedules(deps.config), deps.store, deps.logger);
    this.clockSync =
      deps.clockSync ??
      (deps.config.clockSync === 'assume_synced' ? assumeSynchronized : new SystemdClockSync(deps.logger));
    this.rules = new AccessRules({
      people: deps.store,
      schedules: this.schedules,
      clock: deps.clock,
      clockSync: this.clockSync,
      fallback: deps.config.clockUnsynced,
      logger: deps.logger,
    });
  }

  async start(): Promise<void> {
    if (this.clockSync instanceof SystemdClockSync) await this.clockSync.start();
    const schedules = this.schedules.current();
    if (schedules.timeZone === 'UTC' && dependsOnClock(schedules)) {
      // The default zone with time windows is almost always a forgotten setting, not a door at Greenwich.
      this.log.warn(
        'access.timeZone is UTC while groups have time windows: windows are read as UTC times; set the door’s IANA zone',
      );
    }
    this.log.info(
      {
        schedules: this.schedules.origin(),
        clock: this.clockSync.state(),
        clockUnsynced: this.deps.config.clockUnsynced,
      },
      'access rules',
    );
  }

  stop(): void {
    if (this.clockSync instanceof SystemdClockSync) this.clockSync.stop();
  }

  /** Whether `personId` may pass this door now (for `list`). */
  accessNow(personId: string): RuleVerdict {
    return this.rules.check(personId).verdict;
  }

  schedulesNow(): ScheduleOrigin {
    return this.schedules.origin();
  }

  /**
   * /health check `access` (not critical: the door still recognises people): fails when the
   * clock is not synchronised while a group depends on it, or a stored override is unusable.
   */
  health(): { ok: boolean; detail: Record<string, unknown> } {
    const clock = this.clockSync.state();
    const origin = this.schedules.origin();
    const clockMatters = dependsOnClock(this.schedules.current());
    const problems: string[] = [];
    if (!clock.synchronized && clockMatters) {
      problems.push(
        this.deps.config.clockUnsynced === 'deny'
          ? `clock not synchronised (${clock.detail}): groups with time windows are refused (access.clockUnsynced=deny)`
          : `clock not synchronised (${clock.detail}): only groups marked allowWhenClockUnsynced are admitted`,
      );
    }
    if (origin.error) problems.push(origin.error);
    return {
      ok: problems.length === 0,
      detail: { clock, clockUnsynced: this.deps.config.clockUnsynced, schedules: origin, problems },
    };
  }
}
