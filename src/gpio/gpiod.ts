import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from '../util/log.js';
import { GpioLineError, parseGpiodetect, pickChip } from './chips.js';
import { ChangeListeners, type DigitalInput, type Relay } from './types.js';

/**
 * Drivers on the GPIO character device through the libgpiod command-line tools
 * (`gpiodetect`, `gpioset`, `gpioget`, `gpiomon` from the Debian `gpiod` package), not a
 * native binding: the tools are packaged for every Pi/Jetson OS and need no compiler.
 * Debian 12 / Raspberry Pi OS Bookworm ship libgpiod v1.6; Debian 13 ships v2, whose
 * options differ (`-c <chip>`, holding the line by default, `-t0` to exit). The version
 * is read from `gpioset --version` and the matching syntax is used.
 *
 * A line driven by gpioset stays claimed only while gpioset runs, so the relay keeps one
 * `gpioset` process holding the current level and replaces it on every change.
 */

/** A long-running child (gpioset holding a line, gpiomon watching one). */
export interface HeldProcess {
  readonly stdout: Readable | null;
  kill(signal?: NodeJS.Signals): void;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Process id, for a synchronous kill on crash paths. */
  readonly pid?: number;
}

/** How the drivers run the tools (tests hand in a fake that simulates the lines). */
export interface CommandRunner {
  /** Runs to completion; resolves stdout, rejects on failure. */
  run(command: string, args: readonly string[]): Promise<string>;
  /** Synchronous run (crash paths); throws on failure. */
  runSync(command: string, args: readonly string[]): void;
  spawn(command: string, args: readonly string[]): HeldProcess;
  /** Synchronous kill of a held process by pid (crash paths). */
  killSync(pid: number): void;
}

/** Children spawned by systemCommandRunner that still run, by pid (only our own are ever killed). */
const heldChildren = new Map<number, ChildProcess>();

export const systemCommandRunner: CommandRunner = {
  run: (command, args) =>
    new Promise((resolve, reject) => {
      execFile(command, [...args], { timeout: 5000 }, (err, stdout, stderr) => {
        if (err)
          reject(new GpioLineError(`${command} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      });
    }),
  runSync: (command, args) => {
    execFileSync(command, [...args], { timeout: 2000, stdio: 'ignore' });
  },
  spawn: (command, args) => {
    const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) heldChildren.set(child.pid, child);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        if (child.pid !== undefined) heldChildren.delete(child.pid);
        resolve(code);
      });
      child.once('error', () => resolve(-1));
    });
    return { stdout: child.stdout, kill: (s) => void child.kill(s), exited, pid: child.pid };
  },
  killSync: (pid) => {
    try {
      // ChildProcess.kill sends the signal synchronously: usable from the crash handlers.
      heldChildren.get(pid)?.kill('SIGKILL');
    } catch {
      // already gone
    }
  },
};

export type GpiodVersion = 1 | 2;

/** Reads the tools' major version from `gpioset --version` ("gpioset (libgpiod) v1.6.3"). */
export async function detectGpiodVersion(runner: CommandRunner): Promise<GpiodVersion> {
  const out = await runner.run('gpioset', ['--version']);
  const m = /v(\d+)\.\d+/.exec(out);
  if (!m) throw new GpioLineError(`cannot read the libgpiod version from "${out.trim()}"`);
  return Number(m[1]) >= 2 ? 2 : 1;
}

/** The argv of each tool for each libgpiod major version. */
export const gpiodArgs = {
  /** gpioset holding `line` at `value` until killed. */
  hold(v: GpiodVersion, chip: string, line: number, value: 0 | 1, activeLow: boolean): string[] {
    const low = activeLow ? ['-l'] : [];
    return v === 1
      ? ['--mode=signal', ...low, chip, `${line}=${value}`]
      : ['-c', chip, ...low, `${line}=${value}`];
  },
  /** gpioset setting `line` and exiting at once. */
  setOnce(v: GpiodVersion, chip: string, line: number, value: 0 | 1, activeLow: boolean): string[] {
    const low = activeLow ? ['-l'] : [];
    return v === 1 ? [...low, chip, `${line}=${value}`] : ['-t0', '-c', chip, ...low, `${line}=${value}`];
  },
  /** gpioget printing the line's (logical) value. */
  get(v: GpiodVersion, chip: string, line: number, activeLow: boolean): string[] {
    const low = activeLow ? ['-l'] : [];
    return v === 1 ? [...low, chip, String(line)] : ['--numeric', '-c', chip, ...low, String(line)];
  },
  /** gpiomon printing one line per edge: "1" rising, "0"/"2" falling (v1/v2 %e). */
  monitor(v: GpiodVersion, chip: string, line: number, activeLow: boolean): string[] {
    const low = activeLow ? ['-l'] : [];
    return v === 1
      ? [...low, '-F', '%e', chip, String(line)]
      : ['-c', chip, ...low, '-F', '%e', String(line)];
  },
};

export interface GpiodLineOptions {
  readonly chip: string;
  readonly line: number;
  readonly activeLow: boolean;
  /**
   * Relay: how long a freshly spawned gpioset must stay alive to count as holding the line
   * (it prints nothing when ready; a bad chip/line or a busy line makes it exit at once).
   * Input: how long a level must be stable before it counts (contacts bounce). Default 50 ms.
   */
  readonly settleMs?: number;
}

/** Resolves a chip label / name / "auto" to a chip name via `gpiodetect`. */
export async function resolveGpiodChip(runner: CommandRunner, chip: string): Promise<string> {
  const chips = parseGpiodetect(await runner.run('gpiodetect', []));
  return pickChip(chips, chip, (c) => c.name).name;
}

export class GpiodRelay implements Relay {
  readonly name = 'gpiod';
  private version: GpiodVersion = 1;
  private chipName = '';
  private holder: HeldProcess | null = null;
  private isUnlocked = false;
  /** start() claimed the line; before that (or after a failed start) there is nothing to lock. */
  private claimed = false;
  private readonly log: Logger;

  constructor(
    private readonly options: GpiodLineOptions,
    private readonly runner: CommandRunner,
    logger: Logger,
  ) {
    this.log = logger.child({ module: 'relay', relay: 'gpiod' });
  }

  get unlocked(): boolean {
    return this.isUnlocked;
  }

  async start(): Promise<void> {
    this.version = await detectGpiodVersion(this.runner);
    this.chipName = await resolveGpiodChip(this.runner, this.options.chip);
    await this.hold(0);
    this.claimed = true;
    this.log.info(
      { chip: this.chipName, line: this.options.line, libgpiod: this.version },
      'relay line claimed, locked',
    );
  }

  async unlock(): Promise<void> {
    await this.hold(1);
    this.isUnlocked = true;
  }

  /**
   * Drives the line to locked. After a failed start() nothing of ours holds the line, so
   * the door's stop() locking "again" is not an error (it used to log a second, misleading
   * "relay used before start()" after the real start-up failure).
   */
  async lock(): Promise<void> {
    if (!this.claimed && !this.holder) {
      this.log.debug('relay line was never claimed; nothing to lock');
      return;
    }
    await this.hold(0);
    this.isUnlocked = false;
  }

  lockSync(): void {
    if (!this.chipName) return;
    try {
      if (this.holder?.pid !== undefined) this.runner.killSync(this.holder.pid);
      this.holder = null;
      const { chip, line, activeLow } = { ...this.options, chip: this.chipName };
      this.runner.runSync('gpioset', gpiodArgs.setOnce(this.version, chip, line, 0, activeLow));
      this.isUnlocked = false;
    } catch (err) {
      this.log.error({ err }, 'could not lock the relay');
    }
  }

  async close(): Promise<void> {
    if (!this.chipName || !this.claimed) return;
    await this.lock();
    // The holder keeps running until here so the line never floats while we run; at exit
    // the last value stays on the pin (a pull resistor should hold "locked" beyond that).
    await this.stopHolder();
    this.runner.runSync(
      'gpioset',
      gpiodArgs.setOnce(this.version, this.chipName, this.options.line, 0, this.options.activeLow),
    );
  }

  private async hold(value: 0 | 1): Promise<void> {
    if (!this.chipName) throw new GpioLineError('relay used before start()');
    await this.stopHolder();
    const args = gpiodArgs.hold(
      this.version,
      this.chipName,
      this.options.line,
      value,
      this.options.activeLow,
    );
    const holder = this.runner.spawn('gpioset', args);
    this.holder = holder;
    const settleMs = this.options.settleMs ?? 50;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const early = await Promise.race([
      holder.exited.then((code) => ({ code })),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), settleMs))),
    ]);
    clearTimeout(timer);
    if (early) {
      this.holder = null;
      throw new GpioLineError(
        `gpioset ${args.join(' ')} exited at once (code ${early.code}); is the line free?`,
      );
    }
    void holder.exited.then((code) => {
      if (this.holder === holder) {
        this.holder = null;
        this.log.error({ code }, 'gpioset holding the relay line exited unexpectedly');
      }
    });
  }

  private async stopHolder(): Promise<void> {
    const holder = this.holder;
    if (!holder) return;
    this.holder = null;
    holder.kill('SIGTERM');
    await holder.exited;
  }
}

export class GpiodInput implements DigitalInput {
  private version: GpiodVersion = 1;
  private monitor: HeldProcess | null = null;
  private value = false;
  private buffer = '';
  private closed = false;
  private pending: boolean | null = null;
  private debounceTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new ChangeListeners();

  constructor(
    readonly name: string,
    private readonly options: GpiodLineOptions,
    private readonly runner: CommandRunner,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.version = await detectGpiodVersion(this.runner);
    const chip = await resolveGpiodChip(this.runner, this.options.chip);
    const { line, activeLow } = this.options;
    // Watch first, then read, so no edge between the two is missed.
    const monitor = this.runner.spawn('gpiomon', gpiodArgs.monitor(this.version, chip, line, activeLow));
    this.monitor = monitor;
    monitor.stdout?.setEncoding('utf8');
    monitor.stdout?.on('data', (chunk: string) => this.onData(chunk));
    void monitor.exited.then((code) => {
      if (!this.closed)
        this.logger.error({ code, input: this.name }, 'gpiomon exited; input no longer watched');
    });
    const out = await this.runner.run('gpioget', gpiodArgs.get(this.version, chip, line, activeLow));
    this.value = out.trim().endsWith('1') || /=active\s*$/.test(out.trim());
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line === '') continue;
      this.pending = line === '1';
      clearTimeout(this.debounceTimer);
      const settleMs = this.options.settleMs ?? 50;
      if (settleMs <= 0) this.settle();
      else this.debounceTimer = setTimeout(() => this.settle(), settleMs);
    }
  }

  /** Applies the last edge once the line has been quiet for settleMs (contact bounce). */
  private settle(): void {
    const active = this.pending;
    this.pending = null;
    if (active === null || active === this.value || this.closed) return;
    this.value = active;
    this.listeners.emit(active);
  }

  read(): boolean {
    return this.value;
  }

  onChange(listener: (active: boolean) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.debounceTimer);
    this.listeners.clear();
    const monitor = this.monitor;
    this.monitor = null;
    if (monitor) {
      monitor.kill('SIGTERM');
      await monitor.exited;
    }
  }
}
