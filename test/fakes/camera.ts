import type { Frame, FrameSource } from '../../src/camera/frame-source.js';
import type { GrayImage } from '../../src/vision/image.js';

/**
 * A camera that hands out the given images in order, each once, as fast as they are asked
 * for (a replayed recording with no pacing), then has nothing new until stopped (like a
 * camera looking at an empty corridor: `next()` waits). `push()` adds frames later.
 */
export class ListFrameSource implements FrameSource {
  readonly name = 'list-fake';
  started = false;
  stopped = false;
  private seq = 0;
  private readonly queue: GrayImage[];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | null = null;

  constructor(
    images: readonly GrayImage[],
    private readonly now: () => number = () => performance.now(),
  ) {
    this.queue = [...images];
  }

  /** Frames handed out so far. */
  get delivered(): number {
    return this.seq;
  }

  async start(): Promise<void> {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.waiter?.reject(new Error('source stopped'));
    this.waiter = null;
  }

  /** More frames (e.g. a second visitor). */
  push(...images: GrayImage[]): void {
    this.queue.push(...images);
    if (this.waiter && this.queue.length > 0) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(this.frame(this.queue.shift()!));
    }
  }

  next(): Promise<Frame> {
    if (this.stopped) return Promise.reject(new Error('source stopped'));
    const image = this.queue.shift();
    if (image) return Promise.resolve(this.frame(image));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private frame(image: GrayImage): Frame {
    return { image, timestampMs: this.now(), seq: ++this.seq };
  }
}
