import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, FrameSource } from './frame-source.js';
import { LatestFrameSlot } from './latest-frame-slot.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { decodeToGray } from '../vision/image-io.js';

/**
 * node-webcam (fswebcam) as a camera, for setups where only fswebcam works. Its limits:
 * - it starts one fswebcam process per frame (~1 frame per second on a Pi);
 * - its in-memory capture returns fswebcam's stderr instead of the JPEG, so every frame
 *   goes through a file in a private temp directory;
 * - it builds a shell command string from its options, so every value handed to it is
 *   checked here against a strict whitelist (device path, integers, the temp file path).
 * Prefer the ffmpeg source (one long-running process, full frame rate).
 */
export interface WebcamOptions {
  /** /dev/videoN */
  readonly device: string;
  readonly width: number;
  readonly height: number;
  /** Upper bound on captures per second (fswebcam itself manages ~1). */
  readonly fps: number;
  /** Absolute path of the fswebcam binary (tests point it at a fake); default "fswebcam" on PATH. */
  readonly binary?: string;
}

interface NodeWebcamInstance {
  bin: string;
  capture(location: string, callback: (err: unknown, data: unknown) => void): void;
}

const DEVICE_PATTERN = /^\/dev\/video\d{1,3}$/;
const SAFE_PATH = /^\/[A-Za-z0-9_./-]+$/;

export function validateWebcamOptions(o: WebcamOptions): void {
  if (!DEVICE_PATTERN.test(o.device))
    throw new Error(`webcam device must look like /dev/video0, got ${JSON.stringify(o.device)}`);
  for (const [k, v, max] of [
    ['width', o.width, 7680],
    ['height', o.height, 4320],
  ] as const) {
    if (!Number.isInteger(v) || v < 16 || v > max)
      throw new Error(`webcam ${k} must be an integer in 16..${max}, got ${v}`);
  }
  if (!(o.fps > 0 && o.fps <= 30)) throw new Error(`webcam fps must be in (0, 30], got ${o.fps}`);
  if (o.binary !== undefined && (!SAFE_PATH.test(o.binary) || o.binary.includes('..'))) {
    throw new Error(
      `webcam binary must be an absolute path of [A-Za-z0-9_./-], got ${JSON.stringify(o.binary)}`,
    );
  }
}

export class WebcamSource implements FrameSource {
  readonly name = 'webcam';
  private readonly slot = new LatestFrameSlot();
  private readonly log: Logger;
  private running = false;
  private loop: Promise<void> | undefined;
  private dir: string | undefined;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: WebcamOptions,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    validateWebcamOptions(options);
    this.log = logger.child({ module: 'camera', source: 'webcam' });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.dir = await mkdtemp(join(tmpdir(), 'facegate-webcam-'));
    if (!SAFE_PATH.test(this.dir))
      throw new Error(`temp directory ${this.dir} has unsafe characters for a shell command`);
    const NodeWebcam = createRequire(import.meta.url)('node-webcam') as {
      create(opts: object): NodeWebcamInstance;
    };
    const cam = NodeWebcam.create({
      width: this.options.width,
      height: this.options.height,
      device: this.options.device,
      output: 'jpeg',
      quality: 90,
      delay: 0,
      saveShots: false,
      callbackReturn: 'location',
      verbose: false,
      greyscale: false,
    });
    if (this.options.binary) cam.bin = this.options.binary;
    this.slot.reopen();
    this.running = true;
    this.log.info(
      { device: this.options.device, width: this.options.width, height: this.options.height },
      'webcam (fswebcam) started',
    );
    this.loop = this.run(cam, join(this.dir, 'frame.jpg'));
  }

  private async run(cam: NodeWebcamInstance, file: string): Promise<void> {
    const periodMs = 1000 / this.options.fps;
    let failures = 0;
    while (this.running) {
      const began = this.clock.monotonicMs();
      try {
        await new Promise<void>((resolve, reject) =>
          cam.capture(file, (err) => (err ? reject(err) : resolve())),
        );
        const image = await decodeToGray(await readFile(file));
        if (this.running) this.slot.put(image, this.clock.monotonicMs());
        failures = 0;
      } catch (err) {
        failures += 1;
        this.log.warn(
          { err: String(err instanceof Error ? err.message : err).slice(0, 500), failures },
          'webcam capture failed',
        );
      }
      const backoff = failures > 0 ? Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) : 0;
      const wait = Math.max(backoff, periodMs - (this.clock.monotonicMs() - began));
      if (wait > 0 && this.running) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, wait);
        });
      }
    }
  }

  next(): Promise<Frame> {
    return this.slot.next();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    this.slot.close();
    await this.loop;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
