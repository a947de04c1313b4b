import type { StoredSchedules } from '../gallery/person-access.js';
import type { Logger } from '../util/log.js';
import type { ScheduleSource } from './rules.js';
import { compileSchedules, type CompiledSchedules, type DoorSchedulesSpec } from './schedule.js';

/** Where the stored override is read (the gallery store satisfies it). */
export interface StoredScheduleReader {
  storedSchedules(): StoredSchedules | undefined;
}

export interface ScheduleOrigin {
  /** `config` (access.timeZone / access.groups) or `set_schedules` (the stored override). */
  readonly source: 'config' | 'set_schedules';
  /** When the override was stored (ISO), for set_schedules. */
  readonly since?: string;
  readonly timeZone: string;
  readonly groups: readonly string[];
  /** Set when a stored override could not be used: the door then admits nobody. */
  readonly error?: string;
}

/**
 * The schedules in effect on this door. A schedule stored by a signed `set_schedules`
 * WINS over the config: it is the fleet admin's latest signed word, and a config file
 * copied onto the device (or an old image restored) must not silently undo it. Only
 * `set_schedules {"reset": true}` returns the door to its config. A stored override
 * without a time zone uses the config's (where the door stands is a device fact).
 *
 * Read from the database at each decision (cached by its store time), so a change made
 * by the running daemon or by another process applies to the next decision. A stored
 * override that does not compile (it is validated before it is stored, so only a damaged
 * database does this) makes the door admit nobody: it fails closed, and /health says why.
 */
export class DoorSchedules implements ScheduleSource {
  private readonly fromConfig: CompiledSchedules;
  private cached: { key: string; compiled: CompiledSchedules; error?: string } | null = null;
  private readonly log: Logger;

  /** @throws ScheduleError when the config's schedules are invalid (the config loader checked them already) */
  constructor(
    config: DoorSchedulesSpec,
    private readonly store: StoredScheduleReader,
    logger: Logger,
  ) {
    this.fromConfig = compileSchedules(config);
    this.log = logger.child({ module: 'door-schedules' });
  }

  current(): CompiledSchedules {
    return this.resolve().compiled;
  }

  origin(): ScheduleOrigin {
    const { compiled, error, stored } = this.resolve();
    return {
      source: stored ? 'set_schedules' : 'config',
      ...(stored ? { since: new Date(stored.updatedMs).toISOString() } : {}),
      timeZone: compiled.timeZone,
      groups: [...compiled.groups.keys()],
      ...(error ? { error } : {}),
    };
  }

  private resolve(): { compiled: CompiledSchedules; error?: string; stored?: StoredSchedules } {
    const stored = this.store.storedSchedules();
    if (!stored) return { compiled: this.fromConfig };
    const key = `${stored.updatedMs}:${JSON.stringify(stored.spec)}`;
    if (this.cached?.key !== key) {
      const spec = stored.spec as { groups?: unknown; timeZone?: unknown } | null;
      try {
        const compiled = compileSchedules({
          timeZone: spec?.timeZone ?? this.fromConfig.timeZone,
          groups: spec?.groups,
        });
        this.cached = { key, compiled };
        this.log.info(
          {
            groups: [...compiled.groups.keys()],
            timeZone: compiled.timeZone,
            since: new Date(stored.updatedMs).toISOString(),
          },
          'door schedules from set_schedules (they override access.groups in the config)',
        );
      } catch (err) {
        const error = `stored set_schedules is unusable, admitting nobody: ${(err as Error).message}`;
        this.log.error({ err }, error);
        this.cached = {
          key,
          compiled: compileSchedules({ timeZone: this.fromConfig.timeZone, groups: {} }),
          error,
        };
      }
    }
    return { ...this.cached, stored };
  }
}
