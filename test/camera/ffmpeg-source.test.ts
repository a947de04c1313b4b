import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RtspLoopbackCamera } from './rtsp-loopback.js';
import {
  FfmpegSource,
  ffmpegArgs,
  validateFfmpegInput,
  type FfmpegSourceOptions,
} from '../../src/camera/ffmpeg-source.js';
import { DEFAULT_CAMERA_CONFIG } from '../../src/camera/config.js';
import type { Frame } from '../../src/camera/frame-source.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';

const W = 64;
const H = 48;
const FRAMES = 20;
let dir: string;
let video: string;

/** A lossless video whose frame k is flat gray 10*(k+1), so order is visible in the pixels. */
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'facegate-ffmpeg-test-'));
  const raw = Buffer.alloc(W * H * FRAMES);
  for (let k = 0; k < FRAMES; k++) raw.fill(10 * (k + 1), k * W * H, (k + 1) * W * H);
  writeFileSync(join(dir, 'frames.gray'), raw);
  video = join(dir, 'levels.mkv');
  const r = spawnSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'gray',
    '-s',
    `${W}x${H}`,
    '-r',
    '20',
    '-i',
    join(dir, 'frames.gray'),
    '-c:v',
    'ffv1',
    '-pix_fmt',
    'gray',
    video,
  ]);
  if (r.status !== 0) throw new Error(`could not generate the test video: ${r.stderr}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function options(over: Partial<FfmpegSourceOptions>): FfmpegSourceOptions {
  return {
    ...DEFAULT_CAMERA_CONFIG.ffmpeg,
    input: video,
    width: W,
    height: H,
    fps: 0,
    loop: false,
    restartMinMs: 50,
    ...over,
  };
}

async function started(source: FfmpegSource): Promise<FfmpegSource> {
  await source.start();
  cleanups.push(() => source.stop());
  return source;
}

async function take(source: FfmpegSource, n: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < n; i++) frames.push(await source.next());
  return frames;
}

describe('FfmpegSource', () => {
  it('reads a generated video in order, at its size, with increasing seq and timestamps, then ends', async () => {
    const source = await started(new FfmpegSource(options({}), systemClock, silentLogger()));
    const levels: number[] = [];
    const frames: Frame[] = [];
    await expect(
      (async () => {
        for (;;) {
          const f = await source.next();
          frames.push(f);
          levels.push(f.image.data[0]);
        }
      })(),
    ).rejects.toThrow(/ended/);
    expect(frames[0].image.width).toBe(W);
    expect(frames[0].image.height).toBe(H);
    expect(levels.length).toBeGreaterThan(FRAMES / 2); // real time at 20 fps: a consumer this fast sees nearly all
    for (let i = 1; i < levels.length; i++) {
      expect(levels[i]).toBeGreaterThan(levels[i - 1]);
      expect(frames[i].seq).toBeGreaterThan(frames[i - 1].seq);
      expect(frames[i].timestampMs).toBeGreaterThanOrEqual(frames[i - 1].timestampMs);
    }
    expect(levels.at(-1)).toBe(10 * FRAMES);
    expect(source.starts).toBe(1);
  });

  it('scales to the configured frame size', async () => {
    const source = await started(
      new FfmpegSource(options({ width: 32, height: 24, loop: true }), systemClock, silentLogger()),
    );
    const [f] = await take(source, 1);
    expect([f.image.width, f.image.height, f.image.data.length]).toEqual([32, 24, 32 * 24]);
  });

  it('restarts ffmpeg after its process is killed and keeps delivering frames', async () => {
    const source = await started(new FfmpegSource(options({ loop: true }), systemClock, silentLogger()));
    await take(source, 3);
    const firstPid = source.pid;
    expect(firstPid).toBeGreaterThan(0);
    process.kill(firstPid as number, 'SIGKILL');
    // Frames after the kill come from a new process.
    for (;;) {
      await source.next();
      if (source.starts >= 2 && source.pid !== undefined && source.pid !== firstPid) break;
    }
    const after = await take(source, 3);
    expect(source.starts).toBe(2);
    expect(after[2].seq).toBeGreaterThan(after[0].seq);
  });

  it('rejects next() after stop and kills ffmpeg', async () => {
    const source = new FfmpegSource(options({ loop: true }), systemClock, silentLogger());
    await source.start();
    await source.next();
    const pid = source.pid as number;
    await source.stop();
    await expect(source.next()).rejects.toThrow(/stopped/);
    expect(() => process.kill(pid, 0)).toThrow(); // the process is gone
  });

  it('refuses inputs ffmpeg would take as options, and missing files', () => {
    expect(() => validateFfmpegInput('-i /etc/passwd')).toThrow(/must not start/);
    expect(() => validateFfmpegInput('/nonexistent/video.mp4')).toThrow(/not a v4l2 device/);
    expect(() => validateFfmpegInput('/dev/video0')).not.toThrow();
    expect(() => validateFfmpegInput('rtsp://user:pw@10.0.0.5/stream')).not.toThrow();
  });

  it('builds the v4l2 and RTSP command lines without a shell', () => {
    const v4l2 = ffmpegArgs(options({ input: '/dev/video2', fps: 15 }));
    expect(v4l2.join(' ')).toContain('-f v4l2 -video_size 64x48 -i /dev/video2');
    expect(v4l2.join(' ')).toContain('-vf fps=15,scale=64:48 -pix_fmt gray -f rawvideo pipe:1');
    const rtsp = ffmpegArgs(options({ input: 'rtsp://127.0.0.1:8554/x' }));
    expect(rtsp.join(' ')).toContain('-rtsp_transport tcp');
  });
});

describe('FfmpegSource over RTSP (loopback camera)', () => {
  it('reads the stream, and recovers when the camera freezes (stall watchdog) and when it drops the connection', async () => {
    const cam = new RtspLoopbackCamera({ width: 320, height: 240, fps: 15 });
    await cam.start();
    cleanups.push(() => cam.stop());
    const source = await started(
      new FfmpegSource(
        options({ input: cam.url, width: 160, height: 120, stallTimeoutSec: 1 }),
        systemClock,
        silentLogger(),
      ),
    );
    const [first] = await take(source, 5);
    expect(first.image.width).toBe(160);
    expect(source.name).toBe('ffmpeg:rtsp');
    expect(cam.plays).toBe(1);

    // Frozen camera: the connection stays open but no frame arrives; the watchdog kills ffmpeg.
    cam.frozen = true;
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (source.starts >= 2) {
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
    cam.frozen = false;
    const afterFreeze = await take(source, 3);
    expect(afterFreeze[0].seq).toBeGreaterThan(5);
    expect(cam.plays).toBeGreaterThanOrEqual(2);

    // The camera drops us: ffmpeg exits and is restarted with backoff.
    const playsBefore = cam.plays;
    cam.dropClients();
    for (;;) {
      await source.next();
      if (cam.plays > playsBefore) break;
    }
    expect(source.starts).toBeGreaterThanOrEqual(3);
  });
});

/** A free TCP port on loopback (the tiny race until ffmpeg binds it is acceptable in a test). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('FfmpegSource over HTTP MJPEG (loopback camera)', () => {
  it('reads a multipart MJPEG stream served by an ffmpeg HTTP server on 127.0.0.1', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/cam.mjpg`;
    const server = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-nostdin',
        '-re',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=320x240:rate=10',
        '-q:v',
        '5',
        '-f',
        'mpjpeg',
        '-listen',
        '1',
        url,
      ],
      { stdio: 'ignore' },
    );
    cleanups.push(async () => {
      server.kill('SIGKILL');
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // let it bind
    const source = await started(
      new FfmpegSource(options({ input: url, width: 160, height: 120 }), systemClock, silentLogger()),
    );
    const frames = await take(source, 5);
    expect(source.name).toBe('ffmpeg:http');
    expect([frames[0].image.width, frames[0].image.height]).toEqual([160, 120]);
    expect(frames[4].seq).toBeGreaterThan(frames[0].seq);
    // The test pattern is not flat: real decoded pictures arrived.
    expect(new Set(frames[4].image.data).size).toBeGreaterThan(10);
  });
});
