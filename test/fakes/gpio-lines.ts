import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CommandRunner, HeldProcess } from '../../src/gpio/gpiod.js';
import type { OnoffGpio, OnoffGpioFactory } from '../../src/gpio/onoff.js';

/**
 * Fake GPIO hardware for tests: a bank of physical line levels, with the two ways real
 * drivers reach them: onoff's Gpio class (sysfs) and the libgpiod command-line tools.
 * There is no GPIO hardware or gpio-sim kernel module in this sandbox.
 */
export class FakeGpioBank {
  /** Physical levels by key `${chip}:${line}` (onoff: `sysfs:${number}`). */
  readonly levels = new Map<string, 0 | 1>();
  /** Every physical write, in order. */
  readonly writes: { key: string; level: 0 | 1 }[] = [];
  private readonly watchers = new Map<string, Set<(level: 0 | 1) => void>>();

  level(key: string): 0 | 1 | undefined {
    return this.levels.get(key);
  }

  /** Driven by a driver. */
  write(key: string, level: 0 | 1): void {
    this.writes.push({ key, level });
    this.set(key, level);
  }

  /** The outside world changes an input (a door opens, a button is pressed). */
  set(key: string, level: 0 | 1): void {
    const before = this.levels.get(key);
    this.levels.set(key, level);
    if (before !== level) for (const w of this.watchers.get(key) ?? []) w(level);
  }

  watch(key: string, fn: (level: 0 | 1) => void): () => void {
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }
}

/** onoff's Gpio over the fake bank (active-low handled like the kernel's sysfs active_low). */
export function fakeOnoffFactory(
  bank: FakeGpioBank,
  created: { gpio: number; direction: string }[] = [],
): OnoffGpioFactory {
  return (gpio, direction, _edge, options) => {
    created.push({ gpio, direction });
    const key = `sysfs:${gpio}`;
    const toLogical = (p: 0 | 1): 0 | 1 => (options.activeLow ? ((1 - p) as 0 | 1) : p);
    if (direction === 'high') bank.write(key, 1);
    if (direction === 'low') bank.write(key, 0);
    const unwatchers: (() => void)[] = [];
    const fake: OnoffGpio = {
      readSync: () => toLogical(bank.level(key) ?? 0),
      writeSync: (v) => bank.write(key, toLogical(v)),
      watch: (cb) => unwatchers.push(bank.watch(key, (p) => cb(null, toLogical(p)))),
      unwatchAll: () => unwatchers.splice(0).forEach((u) => u()),
      unexport: () => undefined,
    };
    return fake;
  };
}

/** Writes a fake /sys/class/gpio tree with the given chips. */
export function writeFakeSysfs(root: string, chips: { base: number; label: string; ngpio: number }[]): void {
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'export'), '');
  for (const c of chips) {
    const dir = join(root, `gpiochip${c.base}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'base'), `${c.base}\n`);
    writeFileSync(join(dir, 'label'), `${c.label}\n`);
    writeFileSync(join(dir, 'ngpio'), `${c.ngpio}\n`);
  }
}

/**
 * The libgpiod v1.6 / v2 tools (gpiodetect, gpioset, gpioget, gpiomon) simulated over
 * the fake bank, parsing the same argv the real tools take.
 */
export class FakeGpiodTools implements CommandRunner {
  readonly calls: { command: string; args: readonly string[] }[] = [];
  /** Held processes still running. */
  readonly running = new Set<FakeHeldProcess>();
  /** Lines another program holds: gpioset on them exits at once with code 1, like the real tool. */
  readonly busy = new Set<string>();
  private nextPid = 1000;

  constructor(
    private readonly bank: FakeGpioBank,
    private readonly version: 1 | 2 = 1,
    private readonly chips: { name: string; label: string; lines: number }[] = [
      { name: 'gpiochip0', label: 'pinctrl-rp1', lines: 54 },
      { name: 'gpiochip1', label: 'rp1-something-else', lines: 4 },
    ],
  ) {}

  async run(command: string, args: readonly string[]): Promise<string> {
    this.calls.push({ command, args });
    if (args[0] === '--version') return `${command} (libgpiod) v${this.version === 1 ? '1.6.3' : '2.1.3'}\n`;
    if (command === 'gpiodetect') {
      return this.chips.map((c) => `${c.name} [${c.label}] (${c.lines} lines)\n`).join('');
    }
    const p = this.parse(args);
    if (command === 'gpioget') {
      const physical = this.bank.level(p.key) ?? 0;
      return `${p.activeLow ? 1 - physical : physical}\n`;
    }
    throw new Error(`fake gpiod: unsupported ${command} ${args.join(' ')}`);
  }

  runSync(command: string, args: readonly string[]): void {
    this.calls.push({ command, args });
    if (command !== 'gpioset') throw new Error(`fake gpiod: unsupported sync ${command}`);
    const p = this.parse(args);
    this.bank.write(p.key, p.physical);
  }

  spawn(command: string, args: readonly string[]): HeldProcess {
    this.calls.push({ command, args });
    const p = this.parse(args);
    const proc = new FakeHeldProcess(this.nextPid++, () => this.running.delete(proc));
    this.running.add(proc);
    if (command === 'gpioset') {
      if (this.version === 1 && !args.includes('--mode=signal'))
        throw new Error('v1 gpioset would exit at once');
      if (this.busy.has(p.key)) {
        proc.exit(1);
        return proc;
      }
      this.bank.write(p.key, p.physical);
    } else if (command === 'gpiomon') {
      const off = this.bank.watch(p.key, (physical) => {
        const logical = p.activeLow ? 1 - physical : physical;
        proc.stdout.write(`${logical === 1 ? '1' : this.version === 1 ? '0' : '2'}\n`);
      });
      void proc.exited.then(off);
    } else {
      throw new Error(`fake gpiod: unsupported spawn ${command}`);
    }
    return proc;
  }

  killSync(pid: number): void {
    for (const p of this.running) if (p.pid === pid) p.kill('SIGKILL');
  }

  /** Parses `[opts] chip line[=value]` (v1) or `-c chip [opts] line[=value]` (v2). */
  private parse(args: readonly string[]): { key: string; physical: 0 | 1; activeLow: boolean } {
    const activeLow = args.includes('-l');
    const positional = args.filter(
      (a, i) => !a.startsWith('-') && args[i - 1] !== '-F' && args[i - 1] !== '-c',
    );
    let chip: string;
    let lineArg: string;
    if (this.version === 2) {
      const c = args.indexOf('-c');
      if (c < 0) throw new Error('v2 tools need -c <chip>');
      chip = args[c + 1];
      lineArg = positional[0];
    } else {
      if (args.includes('-c')) throw new Error('v1 tools take the chip as the first positional argument');
      [chip, lineArg] = positional;
    }
    if (!this.chips.some((c) => c.name === chip)) throw new Error(`fake gpiod: no chip ${chip}`);
    const [line, value] = lineArg.split('=');
    const logical = value === undefined ? 0 : (Number(value) as 0 | 1);
    const physical = (activeLow ? 1 - logical : logical) as 0 | 1;
    return { key: `${chip}:${line}`, physical, activeLow };
  }
}

export class FakeHeldProcess implements HeldProcess {
  readonly stdout = new PassThrough();
  readonly exited: Promise<number | null>;
  private resolveExit!: (code: number | null) => void;
  killedWith: string | null = null;

  constructor(
    readonly pid: number,
    private readonly onExit: () => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.killedWith) return;
    this.killedWith = signal;
    this.exit(null);
  }

  /** The process ends by itself (e.g. the tool failed). */
  exit(code: number | null): void {
    this.onExit();
    this.stdout.end();
    this.resolveExit(code);
  }
}
