import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ReplaySource, listReplayImages } from '../../src/camera/replay-source.js';
import { createFrameSource } from '../../src/camera/create-frame-source.js';
import { DEFAULT_CAMERA_CONFIG } from '../../src/camera/config.js';
import type { Clock } from '../../src/util/clock.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { createGrayImage } from '../../src/vision/image.js';
import { encodePng } from '../../src/vision/image-io.js';

let folder: string;
const LEVELS = [10, 20, 30, 40, 50];

/** Five 32x24 frames, flat gray 10..50, named so that natural order matters (2 before 10). */
beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'facegate-replay-test-'));
  const names = ['1.png', '2.png', '3.png', '10.png', '11.png'];
  for (const [i, name] of names.entries()) {
    writeFileSync(
      join(folder, name),
      await encodePng(createGrayImage(32, 24, new Uint8Array(32 * 24).fill(LEVELS[i]))),
    );
  }
  writeFileSync(join(folder, 'notes.txt'), 'not an image');
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));
afterEach(() => {
  vi.useRealTimers();
});

/** A clock that follows vitest's fake time. */
const fakeClock: Clock = { nowMs: () => Date.now(), monotonicMs: () => Date.now() };

describe('ReplaySource', () => {
  it('lists images in natural name order and ignores other files', async () => {
    const files = await listReplayImages(folder);
    expect(files.map((f) => f.split('/').pop())).toEqual(['1.png', '2.png', '3.png', '10.png', '11.png']);
  });

  it('unpaced (fps 0): keeps order and loops', async () => {
    const source = new ReplaySource({ folder, fps: 0, loop: true }, systemClock, silentLogger());
    await source.start();
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) seen.push((await source.next()).image.data[0]);
    await source.stop();
    expect(seen).toEqual([...LEVELS, ...LEVELS, 10, 20]);
  });

  it('without loop it ends after the last image', async () => {
    const source = new ReplaySource({ folder, fps: 0, loop: false }, systemClock, silentLogger());
    await source.start();
    for (const level of LEVELS) expect((await source.next()).image.data[0]).toBe(level);
    await expect(source.next()).rejects.toThrow(/ended/);
  });

  it('paced: produces fps frames per second of (fake) time, in order, with monotonic timestamps', async () => {
    vi.useFakeTimers();
    const source = new ReplaySource({ folder, fps: 20, loop: true }, fakeClock, silentLogger());
    await source.start();
    const first = await source.next();
    expect(first.seq).toBe(1);
    expect(first.image.data[0]).toBe(10);
    // One frame every 50 ms: after 1 s of time 20 more frames were produced.
    await vi.advanceTimersByTimeAsync(1000);
    const latest = await source.next();
    expect(latest.seq).toBe(21);
    // Frame 21 is image index 20 % 5 = 0 of the loop; the consumer got only the newest frame.
    expect(latest.image.data[0]).toBe(LEVELS[20 % 5]);
    expect(latest.timestampMs - first.timestampMs).toBe(1000);
    // Consecutive frames in real time step through the images in order.
    const levels: number[] = [];
    for (let i = 0; i < 6; i++) {
      const next = source.next();
      await vi.advanceTimersByTimeAsync(50);
      levels.push((await next).image.data[0]);
    }
    expect(levels).toEqual([20, 30, 40, 50, 10, 20]);
    await source.stop();
    await expect(source.next()).rejects.toThrow(/stopped/);
  });

  it('refuses an empty folder and images of different sizes', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'facegate-replay-empty-'));
    const mixed = mkdtempSync(join(tmpdir(), 'facegate-replay-mixed-'));
    try {
      await expect(
        new ReplaySource({ folder: empty, fps: 5, loop: true }, systemClock, silentLogger()).start(),
      ).rejects.toThrow(/no images/);
      writeFileSync(join(mixed, 'a.png'), await encodePng(createGrayImage(8, 8)));
      writeFileSync(join(mixed, 'b.png'), await encodePng(createGrayImage(9, 8)));
      await expect(
        new ReplaySource({ folder: mixed, fps: 5, loop: true }, systemClock, silentLogger()).start(),
      ).rejects.toThrow(/must all be 8x8/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
      rmSync(mixed, { recursive: true, force: true });
    }
  });
});

describe('createFrameSource', () => {
  it('builds the shipped demo replay by default (640x480)', async () => {
    const source = createFrameSource({ ...DEFAULT_CAMERA_CONFIG, fps: 0 }, systemClock, silentLogger());
    expect(source.name).toBe('replay');
    await source.start();
    const f = await source.next();
    await source.stop();
    expect([f.image.width, f.image.height]).toEqual([640, 480]);
  });

  it('refuses a missing replay path and a webcam device that is not /dev/videoN', () => {
    expect(() =>
      createFrameSource(
        { ...DEFAULT_CAMERA_CONFIG, path: '/nonexistent/replay' },
        systemClock,
        silentLogger(),
      ),
    ).toThrow(/does not exist/);
    expect(() =>
      createFrameSource(
        { ...DEFAULT_CAMERA_CONFIG, type: 'webcam', path: '/dev/video0; rm -rf /' },
        systemClock,
        silentLogger(),
      ),
    ).toThrow(/\/dev\/video0/);
  });
});
