import { spawn } from 'node:child_process';
import type { Logger } from '../util/log.js';

/**
 * Tells the service manager about our state (sd_notify protocol).
 *
 * Node cannot send on unix datagram sockets, and the native `sd-notify`/`unix-dgram`
 * addons need a compiler and libsystemd headers on the device. Instead we spawn the
 * `systemd-notify` binary that ships with systemd itself: it is on every systemd host, and
 * since systemd 246 it waits (BARRIER=1) until the manager has processed the message, so
 * the old race where a short-lived sender exits before systemd can attribute its message
 * to our unit is gone. The unit must say `NotifyAccess=all`, because the message comes from
 * the child process rather than from the main PID. One spawn per message: READY once,
 * STOPPING once, WATCHDOG every WatchdogSec/2 (seconds apart) — negligible cost.
 */
export interface ServiceNotifier {
  /** True when running under a service manager that listens (NOTIFY_SOCKET set). */
  readonly enabled: boolean;
  /** How often to send WATCHDOG=1 (half of WatchdogSec), or null when no watchdog is configured. */
  readonly watchdogIntervalMs: number | null;
  ready(status?: string): Promise<void>;
  watchdog(): Promise<void>;
  stopping(status?: string): Promise<void>;
  status(text: string): Promise<void>;
}

export interface SystemdEnv {
  readonly NOTIFY_SOCKET?: string;
  readonly WATCHDOG_USEC?: string;
  readonly WATCHDOG_PID?: string;
  /** Where to find `systemd-notify`. */
  readonly PATH?: string;
}

export interface SystemdNotifierOptions {
  readonly env: SystemdEnv;
  /** Our PID: WATCHDOG_PID, when set, must name us. */
  readonly pid: number;
  /** The helper binary (default `systemd-notify` from PATH). */
  readonly command?: string;
  /** A message that takes longer than this is abandoned (the helper is killed). */
  readonly timeoutMs?: number;
}

export class SystemdNotifier implements ServiceNotifier {
  readonly enabled: boolean;
  readonly watchdogIntervalMs: number | null;
  private readonly logger: Logger;
  private readonly command: string;
  private readonly timeoutMs: number;
  private readonly socket: string | undefined;
  private readonly path: string | undefined;
  /** Messages go out one at a time and in order (READY must never overtake STOPPING). */
  private queue: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(options: SystemdNotifierOptions, logger: Logger) {
    this.logger = logger.child({ module: 'systemd' });
    this.socket = options.env.NOTIFY_SOCKET || undefined;
    this.path = options.env.PATH;
    this.enabled = this.socket !== undefined;
    this.command = options.command ?? 'systemd-notify';
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.watchdogIntervalMs = watchdogInterval(options.env, options.pid);
    if (this.enabled) {
      this.logger.info(
        { socket: this.socket, watchdogIntervalMs: this.watchdogIntervalMs },
        'systemd notify enabled',
      );
    }
  }

  ready(status = 'running'): Promise<void> {
    return this.send(['READY=1', `STATUS=${status}`]);
  }

  watchdog(): Promise<void> {
    return this.send(['WATCHDOG=1']);
  }

  stopping(status = 'stopping'): Promise<void> {
    return this.send(['STOPPING=1', `STATUS=${status}`]);
  }

  status(text: string): Promise<void> {
    return this.send([`STATUS=${text}`]);
  }

  private send(assignments: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const next = this.queue.then(() => this.spawnOnce(assignments));
    this.queue = next;
    return next;
  }

  /** Never rejects: a notify failure is logged; systemd's own timeouts handle the rest. */
  private spawnOnce(assignments: string[]): Promise<void> {
    return new Promise<void>((resolve) => {
      let stderr = '';
      const child = spawn(this.command, assignments, {
        env: { NOTIFY_SOCKET: this.socket, PATH: this.path ?? '/usr/bin:/bin' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < 2000) stderr += chunk;
      });
      const finish = (problem: string | null): void => {
        clearTimeout(timer);
        if (problem) {
          this.failures++;
          // Log the first failures loudly, then sparsely: the watchdog sends every few seconds.
          if (this.failures <= 3 || this.failures % 100 === 0) {
            this.logger.warn(
              { message: assignments.join(' '), problem, failures: this.failures },
              'systemd notify failed',
            );
          }
        }
        resolve();
      };
      child.once('error', (err) => finish(err.message));
      child.once('close', (code, signal) =>
        finish(code === 0 ? null : `${this.command} exited ${code ?? signal}: ${stderr.trim()}`),
      );
    });
  }
}

/** Half of WATCHDOG_USEC in ms (systemd's advice), or null when the watchdog is not for us. */
export function watchdogInterval(env: SystemdEnv, pid: number): number | null {
  if (!env.WATCHDOG_USEC) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  return Math.max(100, Math.floor(usec / 1000 / 2));
}

/** A notifier for runs outside systemd (and tests). */
export const noServiceNotifier: ServiceNotifier = {
  enabled: false,
  watchdogIntervalMs: null,
  ready: () => Promise.resolve(),
  watchdog: () => Promise.resolve(),
  stopping: () => Promise.resolve(),
  status: () => Promise.resolve(),
};

/**
 * Feeds the systemd watchdog only while the frame loop makes progress: a loop stuck in a
 * hung native call or an endless await stops the feeding, and systemd restarts us.
 */
export class WatchdogFeeder {
  private timer: NodeJS.Timeout | null = null;
  private lastProgressMs: number;

  constructor(
    private readonly notifier: ServiceNotifier,
    private readonly monotonicMs: () => number,
    /** Without progress for this long, the loop counts as stalled. */
    private readonly stallMs: number,
    private readonly logger: Logger,
  ) {
    this.lastProgressMs = monotonicMs();
  }

  /** Called by the frame loop after every frame it finished (successfully or not). */
  progress(): void {
    this.lastProgressMs = this.monotonicMs();
  }

  get stalled(): boolean {
    return this.monotonicMs() - this.lastProgressMs > this.stallMs;
  }

  /** Seconds since the last progress. */
  get idleSeconds(): number {
    return (this.monotonicMs() - this.lastProgressMs) / 1000;
  }

  start(): void {
    this.lastProgressMs = this.monotonicMs();
    const interval = this.notifier.watchdogIntervalMs;
    if (interval === null || this.timer) return;
    let warned = false;
    this.timer = setInterval(() => {
      if (!this.stalled) {
        warned = false;
        void this.notifier.watchdog();
      } else if (!warned) {
        warned = true;
        this.logger.error(
          { idleSeconds: this.idleSeconds },
          'frame loop stalled: not feeding the systemd watchdog',
        );
      }
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
