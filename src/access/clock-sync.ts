import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import type { Logger } from '../util/log.js';

/**
 * Is the wall clock trustworthy? Schedules (and the validity of people) depend on it, and
 * a Raspberry Pi has no battery-backed clock: after a power cut without network it runs
 * from the last time it saved. The access rules ask this interface; tests hand in a fake.
 */
export interface ClockSyncState {
  /** True when the system clock is synchronised (NTP / systemd-timesyncd / chrony). */
  readonly synchronized: boolean;
  /** Where the answer came from: `timesyncd-flag`, `timedatectl`, `assumed`, `unknown`. */
  readonly source: string;
  /** Human-readable detail for /health and the log. */
  readonly detail: string;
}

export interface ClockSync {
  /** The last known state; never blocks (the check runs in the background). */
  state(): ClockSyncState;
}

/** For devices whose clock is trusted by other means (`access.clockSync: assume_synced`). */
export const assumeSynchronized: ClockSync = {
  state: () => ({ synchronized: true, source: 'assumed', detail: 'access.clockSync is assume_synced' }),
};

/** How the system is asked; replaced in tests. */
export interface ClockSyncProbe {
  /** True when /run/systemd/timesync/synchronized exists (systemd-timesyncd creates it once synchronised). */
  flagFile(): Promise<boolean>;
  /** stdout of `timedatectl show -p NTPSynchronized --value` ("yes" / "no"); rejects when it cannot run. */
  timedatectl(): Promise<string>;
}

export const TIMESYNC_FLAG = '/run/systemd/timesync/synchronized';

export const systemProbe: ClockSyncProbe = {
  flagFile: () =>
    access(TIMESYNC_FLAG).then(
      () => true,
      () => false,
    ),
  timedatectl: () =>
    new Promise((resolve, reject) => {
      execFile(
        'timedatectl',
        ['show', '-p', 'NTPSynchronized', '--value'],
        { timeout: 5000 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`timedatectl: ${String(stderr).trim() || err.message}`));
          else resolve(String(stdout));
        },
      );
    }),
};

/**
 * Asks systemd whether the clock is synchronised, every `pollMs` in the background: first
 * the timesyncd flag file (cheap), else `timedatectl` (which reports the kernel's sync
 * state, so it also covers chrony and ntpd). Until the first answer, and whenever neither
 * can tell, the clock counts as NOT synchronised (fail closed).
 */
export class SystemdClockSync implements ClockSync {
  private current: ClockSyncState = {
    synchronized: false,
    source: 'unknown',
    detail: 'not checked yet',
  };
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(
    logger: Logger,
    private readonly probe: ClockSyncProbe = systemProbe,
    private readonly pollMs = 30_000,
  ) {
    this.log = logger.child({ module: 'clock-sync' });
  }

  state(): ClockSyncState {
    return this.current;
  }

  /** Checks once now (awaited), then every pollMs. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One check; never throws. */
  async refresh(): Promise<ClockSyncState> {
    let next: ClockSyncState;
    try {
      if (await this.probe.flagFile()) {
        next = { synchronized: true, source: 'timesyncd-flag', detail: `${TIMESYNC_FLAG} exists` };
      } else {
        const answer = (await this.probe.timedatectl()).trim();
        if (answer === 'yes')
          next = { synchronized: true, source: 'timedatectl', detail: 'NTPSynchronized=yes' };
        else if (answer === 'no')
          next = { synchronized: false, source: 'timedatectl', detail: 'NTPSynchronized=no' };
        else
          next = {
            synchronized: false,
            source: 'unknown',
            detail: `timedatectl said "${answer.slice(0, 40)}"`,
          };
      }
    } catch (err) {
      next = {
        synchronized: false,
        source: 'unknown',
        detail: `cannot tell whether the clock is synchronised: ${(err as Error).message.split('\n')[0]}`,
      };
    }
    if (next.synchronized !== this.current.synchronized || next.source !== this.current.source) {
      const level = next.synchronized ? 'info' : 'warn';
      this.log[level]({ clock: next }, next.synchronized ? 'clock synchronised' : 'clock NOT synchronised');
    }
    this.current = next;
    return next;
  }
}
