import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Finding "GPIO 17 of the header" on today's kernels. The legacy sysfs interface numbers
 * lines globally as `base + offset`, and the base is no longer 0: Raspberry Pi 5 puts the
 * header on the RP1 chip (label pinctrl-rp1) and Bookworm 6.6+ kernels give chips bases
 * from 512 upwards. So the number is computed from /sys/class/gpio/gpiochip<base>/{base,
 * label,ngpio}, never hard-coded.
 */

/** Labels of the chip carrying the 40-pin header, most specific first. */
export const PI_HEADER_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;

export interface SysfsChip {
  /** Directory name under the sysfs root (gpiochip<base>). */
  readonly dir: string;
  readonly base: number;
  readonly label: string;
  readonly ngpio: number;
}

export const DEFAULT_SYSFS_GPIO_ROOT = '/sys/class/gpio';

export class GpioLineError extends Error {
  override readonly name = 'GpioLineError';
}

/** The gpiochips the sysfs interface exposes under `root`. */
export function listSysfsChips(root: string = DEFAULT_SYSFS_GPIO_ROOT): SysfsChip[] {
  let entries: string[];
  try {
    entries = readdirSync(root).filter((e) => /^gpiochip\d+$/.test(e));
  } catch (err) {
    throw new GpioLineError(
      `no sysfs GPIO interface at ${root} (${(err as NodeJS.ErrnoException).code}); the kernel needs CONFIG_GPIO_SYSFS, else use the gpiod driver`,
    );
  }
  return entries
    .map((dir) => {
      const read = (f: string) => readFileSync(join(root, dir, f), 'utf8').trim();
      return { dir, base: Number(read('base')), label: read('label'), ngpio: Number(read('ngpio')) };
    })
    .sort((a, b) => a.base - b.base);
}

/**
 * Picks the chip named by `chip`: a label (pinctrl-rp1), a directory name (gpiochip512),
 * or "auto" (the Raspberry Pi header chip, or the only chip there is).
 */
export function pickChip<T extends { label: string }>(
  chips: readonly T[],
  chip: string,
  nameOf: (c: T) => string,
): T {
  if (chips.length === 0) throw new GpioLineError('no GPIO chips found');
  const describe = () => chips.map((c) => `${nameOf(c)} [${c.label}]`).join(', ');
  if (chip === 'auto') {
    for (const label of PI_HEADER_CHIP_LABELS) {
      const found = chips.find((c) => c.label === label);
      if (found) return found;
    }
    if (chips.length === 1) return chips[0];
    throw new GpioLineError(
      `cannot pick the GPIO chip automatically among ${describe()}; set its label in the config`,
    );
  }
  const found = chips.find((c) => c.label === chip) ?? chips.find((c) => nameOf(c) === chip);
  if (!found) throw new GpioLineError(`no GPIO chip "${chip}"; found ${describe()}`);
  return found;
}

/** The global sysfs GPIO number of line `offset` on `chip` (what onoff's `new Gpio(n)` takes). */
export function sysfsGpioNumber(
  chip: string,
  offset: number,
  root: string = DEFAULT_SYSFS_GPIO_ROOT,
): number {
  const found = pickChip(listSysfsChips(root), chip, (c) => c.dir);
  if (!Number.isInteger(offset) || offset < 0 || offset >= found.ngpio) {
    throw new GpioLineError(`line ${offset} is outside ${found.dir} [${found.label}] (${found.ngpio} lines)`);
  }
  return found.base + offset;
}

export interface GpiodChip {
  /** Character device name (gpiochip0). */
  readonly name: string;
  readonly label: string;
  readonly lines: number;
}

/** Parses `gpiodetect` output, e.g. "gpiochip0 [pinctrl-bcm2711] (58 lines)" (same in v1 and v2). */
export function parseGpiodetect(output: string): GpiodChip[] {
  const chips: GpiodChip[] = [];
  for (const line of output.split('\n')) {
    const m = /^\s*(gpiochip\d+)\s+\[([^\]]*)\]\s+\((\d+) lines?\)/.exec(line);
    if (m) chips.push({ name: m[1], label: m[2], lines: Number(m[3]) });
  }
  return chips;
}
