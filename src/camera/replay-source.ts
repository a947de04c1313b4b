import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Frame, FrameSource } from './frame-source.js';
import { LatestFrameSlot } from './latest-frame-slot.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { GrayImage } from '../vision/image.js';
import { readGrayImage } from '../vision/image-io.js';

export const REPLAY_IMAGE_EXTENSIONS = new Set([
  '.png',
  '.jpg',
  '.jpeg',
  '.pgm',
  '.webp',
  '.bmp',
  '.tif',
  '.tiff',
]);

/** Upper bound on decoded frames kept in memory (640x480 gray = 300 KB each). */
export const MAX_REPLAY_FRAMES = 2000;

export interface ReplayOptions {
  /** Folder of images, played in file-name order (natural order: 2.png before 10.png). */
  readonly folder: string;
  /** Frames per second; 0 = unpaced: every `next()` gets the following image (benchmarks, tests). */
  readonly fps: number;
  readonly loop: boolean;
}

/** Lists the replay images of a folder in natural file-name order. */
export async function listReplayImages(folder: string): Promise<string[]> {
  const names = (await readdir(folder)).filter((n) => REPLAY_IMAGE_EXTENSIONS.has(extname(n).toLowerCase()));
  const collator = new Intl.Collator('en', { numeric: true });
  return names.sort(collator.compare).map((n) => join(folder, n));
}

/**
 * Plays a folder of images as a camera: at `fps` (newest-frame semantics, like a real camera:
 * a slow consumer skips frames) or unpaced, looping or ending. Images are decoded once at
 * start (all must have the same size).
 */
export class ReplaySource implements FrameSource {
  readonly name = 'replay';
  private readonly slot = new LatestFrameSlot();
  private readonly log: Logger;
  private images: GrayImage[] = [];
  private position = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private startedAt = 0;
  private ticks = 0;

  constructor(
    private readonly options: ReplayOptions,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    if (!Number.isFinite(options.fps) || options.fps < 0 || options.fps > 1000)
      throw new RangeError(`replay fps must be in 0..1000, got ${options.fps}`);
    this.log = logger.child({ module: 'camera', source: 'replay' });
  }

  /** Number of distinct images in the loop. */
  get length(): number {
    return this.images.length;
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.images.length === 0) {
      const files = await listReplayImages(this.options.folder);
      if (files.length === 0) throw new Error(`replay folder ${this.options.folder} has no images`);
      if (files.length > MAX_REPLAY_FRAMES)
        throw new Error(
          `replay folder has ${files.length} images, at most ${MAX_REPLAY_FRAMES} are supported`,
        );
      const images: GrayImage[] = [];
      for (const file of files) images.push(await readGrayImage(file));
      const { width, height } = images[0];
      const odd = files.find((_, i) => images[i].width !== width || images[i].height !== height);
      if (odd) throw new Error(`replay images must all be ${width}x${height}; ${odd} is not`);
      this.images = images;
      this.log.info(
        { folder: this.options.folder, frames: images.length, width, height, fps: this.options.fps },
        'replay loaded',
      );
    }
    this.slot.reopen();
    this.running = true;
    this.position = 0;
    if (this.options.fps > 0) {
      this.startedAt = this.clock.monotonicMs();
      this.ticks = 0;
      this.tick();
    }
  }

  /** Puts the next image; returns false at the end of a non-looping replay. */
  private advance(): boolean {
    if (this.position >= this.images.length) {
      if (!this.options.loop) {
        this.slot.close(new Error('replay ended'));
        this.running = false;
        return false;
      }
      this.position = 0;
    }
    this.slot.put(this.images[this.position++], this.clock.monotonicMs());
    return true;
  }

  private tick(): void {
    if (!this.running || !this.advance()) return;
    this.ticks += 1;
    // Schedule against the start time so the rate does not drift with timer jitter.
    const due = this.startedAt + (this.ticks * 1000) / this.options.fps;
    this.timer = setTimeout(() => this.tick(), Math.max(0, due - this.clock.monotonicMs()));
  }

  next(): Promise<Frame> {
    if (this.running && this.options.fps === 0) this.advance();
    return this.slot.next();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.slot.close();
  }
}
