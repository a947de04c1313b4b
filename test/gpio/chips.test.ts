import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GpioLineError, listSysfsChips, parseGpiodetect, sysfsGpioNumber } from '../../src/gpio/chips.js';
import { writeFakeSysfs } from '../fakes/gpio-lines.js';

const dirs: string[] = [];
function tree(chips: { base: number; label: string; ngpio: number }[]): string {
  const root = join(mkdtempSync(join(tmpdir(), 'facegate-sysfs-')), 'class', 'gpio');
  dirs.push(root);
  writeFakeSysfs(root, chips);
  return root;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('sysfs GPIO line numbers', () => {
  it('Raspberry Pi 5 on a Bookworm 6.6 kernel: header GPIO17 is pinctrl-rp1 base 571 + 17', () => {
    const root = tree([
      { base: 512, label: 'gpio-brcmstb@107d508500', ngpio: 32 },
      { base: 544, label: 'gpio-brcmstb@107d517c00', ngpio: 15 },
      { base: 571, label: 'pinctrl-rp1', ngpio: 54 },
    ]);
    expect(sysfsGpioNumber('auto', 17, root)).toBe(588);
    expect(sysfsGpioNumber('pinctrl-rp1', 4, root)).toBe(575);
    expect(sysfsGpioNumber('gpiochip512', 3, root)).toBe(515);
  });

  it('Raspberry Pi 4 on an older kernel: base 0, and on 6.6: base 512', () => {
    expect(sysfsGpioNumber('auto', 17, tree([{ base: 0, label: 'pinctrl-bcm2711', ngpio: 58 }]))).toBe(17);
    const newer = tree([
      { base: 504, label: 'raspberrypi-exp-gpio', ngpio: 8 },
      { base: 512, label: 'pinctrl-bcm2711', ngpio: 58 },
    ]);
    expect(sysfsGpioNumber('auto', 17, newer)).toBe(529);
    expect(listSysfsChips(newer).map((c) => c.label)).toEqual(['raspberrypi-exp-gpio', 'pinctrl-bcm2711']);
  });

  it('refuses lines outside the chip, unknown chips, ambiguous auto and a missing sysfs', () => {
    const root = tree([
      { base: 0, label: 'tegra234-gpio', ngpio: 164 },
      { base: 300, label: 'tegra234-gpio-aon', ngpio: 32 },
    ]);
    expect(() => sysfsGpioNumber('tegra234-gpio-aon', 32, root)).toThrow(/outside/);
    expect(sysfsGpioNumber('tegra234-gpio-aon', 31, root)).toBe(331);
    expect(() => sysfsGpioNumber('pinctrl-rp1', 1, root)).toThrow(/no GPIO chip "pinctrl-rp1"/);
    expect(() => sysfsGpioNumber('auto', 1, root)).toThrow(GpioLineError);
    expect(() => sysfsGpioNumber('auto', 1, join(root, 'nope'))).toThrow(/no sysfs GPIO interface/);
  });
});

describe('gpiodetect output', () => {
  it('parses chip names, labels and line counts', () => {
    const out = 'gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 [raspberrypi-exp-gpio] (8 lines)\n';
    expect(parseGpiodetect(out)).toEqual([
      { name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 },
      { name: 'gpiochip1', label: 'raspberrypi-exp-gpio', lines: 8 },
    ]);
  });
});
