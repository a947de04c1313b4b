import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebcamSource, validateWebcamOptions } from '../../src/camera/webcam-source.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { REPO } from '../vision/scenes.js';

/**
 * There is no camera here, so a fake `fswebcam` (a shell script standing in for the camera
 * device) copies a JPEG to the location node-webcam asks for and records its arguments.
 * node-webcam itself, its shell command and our decoding are real.
 */
let dir: string;
let fake: string;
let argsLog: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'facegate-webcam-test-'));
  fake = join(dir, 'fswebcam');
  argsLog = join(dir, 'args.log');
  const jpeg = join(REPO, 'test', 'fixtures', 'astronaut-gray.jpg');
  writeFileSync(
    fake,
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argsLog}'\nfor last; do :; done\ncp '${jpeg}' "$last"\n`,
  );
  chmodSync(fake, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('WebcamSource (node-webcam with a fake fswebcam)', () => {
  it('captures frames through a temp file and decodes them to gray', async () => {
    const source = new WebcamSource(
      { device: '/dev/video0', width: 512, height: 512, fps: 20, binary: fake },
      systemClock,
      silentLogger(),
    );
    await source.start();
    const a = await source.next();
    const b = await source.next();
    await source.stop();
    expect([a.image.width, a.image.height]).toEqual([512, 512]);
    expect(b.seq).toBeGreaterThan(a.seq);
    const calls = readFileSync(argsLog, 'utf8').trim().split('\n');
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[0]).toContain('-r 512x512');
    expect(calls[0]).toContain('-d /dev/video0');
    // The capture file lives in a private temp dir that is removed on stop.
    const file = calls[0].split(' ').at(-1) as string;
    expect(file).toMatch(/facegate-webcam-.*\/frame\.jpg$/);
    expect(existsSync(file)).toBe(false);
    await expect(source.next()).rejects.toThrow(/stopped/);
  });

  it("refuses values that would reach node-webcam's shell command", () => {
    const ok = { device: '/dev/video0', width: 640, height: 480, fps: 1 };
    expect(() => validateWebcamOptions(ok)).not.toThrow();
    expect(() => validateWebcamOptions({ ...ok, device: '/dev/video0 && reboot' })).toThrow(/\/dev\/video0/);
    expect(() => validateWebcamOptions({ ...ok, device: '$(reboot)' })).toThrow();
    expect(() => validateWebcamOptions({ ...ok, width: 640.5 })).toThrow(/integer/);
    expect(() => validateWebcamOptions({ ...ok, binary: '/usr/bin/fswebcam;reboot' })).toThrow(
      /absolute path/,
    );
    expect(() => validateWebcamOptions({ ...ok, fps: 0 })).toThrow(/fps/);
  });
});
