import type { Logger } from '../util/log.js';
import { DEFAULT_SYSFS_GPIO_ROOT, GpioLineError, sysfsGpioNumber } from './chips.js';
import { ChangeListeners, type DigitalInput, type Relay } from './types.js';

/**
 * Drivers on the legacy sysfs GPIO interface through the `onoff` package (optional
 * dependency, native epoll). The line number is computed from the chip's base (see
 * chips.ts); `sysfsRoot` only moves that lookup (onoff itself always uses /sys/class/gpio).
 */

/** The part of onoff's Gpio class these drivers use (tests hand in a fake line). */
export interface OnoffGpio {
  readSync(): 0 | 1;
  writeSync(value: 0 | 1): void;
  watch(callback: (err: Error | null | undefined, value: 0 | 1) => void): void;
  unwatchAll(): void;
  unexport(): void;
}

export type OnoffGpioFactory = (
  gpio: number,
  direction: 'in' | 'out' | 'high' | 'low',
  edge: 'none' | 'both',
  options: { activeLow: boolean; debounceTimeout?: number },
) => OnoffGpio;

/** Loads the real onoff package; throws a clear error when it (or sysfs GPIO) is missing. */
export async function loadOnoff(): Promise<OnoffGpioFactory> {
  let mod: { Gpio: (new (...args: unknown[]) => OnoffGpio) & { accessible: boolean } };
  try {
    mod = (await import('onoff' as string)) as typeof mod;
  } catch (err) {
    throw new GpioLineError(
      `the onoff driver needs the optional "onoff" package with its native epoll module: ${(err as Error).message}`,
    );
  }
  if (!mod.Gpio.accessible)
    throw new GpioLineError('sysfs GPIO is not accessible on this machine (/sys/class/gpio)');
  return (gpio, direction, edge, options) => new mod.Gpio(gpio, direction, edge, options);
}

export interface OnoffLineOptions {
  readonly chip: string;
  readonly line: number;
  readonly activeLow: boolean;
  readonly sysfsRoot?: string;
}

export class OnoffRelay implements Relay {
  readonly name = 'onoff';
  private gpio: OnoffGpio | null = null;
  private isUnlocked = false;
  private readonly log: Logger;

  constructor(
    private readonly options: OnoffLineOptions,
    private readonly factory: OnoffGpioFactory,
    logger: Logger,
  ) {
    this.log = logger.child({ module: 'relay', relay: 'onoff' });
  }

  get unlocked(): boolean {
    return this.isUnlocked;
  }

  async start(): Promise<void> {
    const number = sysfsGpioNumber(
      this.options.chip,
      this.options.line,
      this.options.sysfsRoot ?? DEFAULT_SYSFS_GPIO_ROOT,
    );
    // 'high'/'low' set the PHYSICAL level atomically with the direction: start at the
    // inactive level so an active-low relay board never clicks open at boot.
    const direction = this.options.activeLow ? 'high' : 'low';
    this.gpio = this.factory(number, direction, 'none', { activeLow: this.options.activeLow });
    this.gpio.writeSync(0);
    this.isUnlocked = false;
    this.log.info(
      { gpio: number, line: this.options.line, chip: this.options.chip },
      'relay line claimed, locked',
    );
  }

  async unlock(): Promise<void> {
    this.requireStarted().writeSync(1);
    this.isUnlocked = true;
  }

  async lock(): Promise<void> {
    this.requireStarted().writeSync(0);
    this.isUnlocked = false;
  }

  lockSync(): void {
    try {
      this.gpio?.writeSync(0);
      this.isUnlocked = false;
    } catch (err) {
      this.log.error({ err }, 'could not lock the relay');
    }
  }

  async close(): Promise<void> {
    if (!this.gpio) return;
    this.lockSync();
    // Not unexported: unexporting turns the pin back into an input, and a floating input
    // can energise an active-low relay board. The line stays driven to "locked".
    this.gpio = null;
  }

  private requireStarted(): OnoffGpio {
    if (!this.gpio) throw new GpioLineError('relay used before start()');
    return this.gpio;
  }
}

export class OnoffInput implements DigitalInput {
  private gpio: OnoffGpio | null = null;
  private value = false;
  private readonly listeners = new ChangeListeners();

  constructor(
    readonly name: string,
    private readonly options: OnoffLineOptions & { debounceMs?: number },
    private readonly factory: OnoffGpioFactory,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const number = sysfsGpioNumber(
      this.options.chip,
      this.options.line,
      this.options.sysfsRoot ?? DEFAULT_SYSFS_GPIO_ROOT,
    );
    const gpio = this.factory(number, 'in', 'both', {
      activeLow: this.options.activeLow,
      debounceTimeout: this.options.debounceMs ?? 20,
    });
    this.gpio = gpio;
    this.value = gpio.readSync() === 1;
    gpio.watch((err, v) => {
      if (err) {
        this.logger.error({ err, input: this.name }, 'GPIO input watch failed');
        return;
      }
      const active = v === 1;
      if (active === this.value) return;
      this.value = active;
      this.listeners.emit(active);
    });
  }

  read(): boolean {
    return this.value;
  }

  onChange(listener: (active: boolean) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.gpio) {
      this.gpio.unwatchAll();
      this.gpio.unexport();
      this.gpio = null;
    }
  }
}
