import type { Frame, FrameSource } from '../camera/frame-source.js';
import { LatestFrameSlot } from '../camera/latest-frame-slot.js';
import type { Clock } from '../util/clock.js';
import type { GrayImage } from '../vision/image.js';

/** What the bench camera did with one frame it produced. */
export interface OfferedFrame {
  readonly seq: number;
  /** Index into the scene script. */
  readonly index: number;
  /** Monotonic ms the frame was handed over (its capture time). */
  readonly atMs: number;
  readonly phase: 'throughput' | 'paced';
}

export interface BenchCameraOptions {
  /** Renders scene frame `index` (a fresh buffer each call, as a camera hands over). */
  readonly render: (index: number) => GrayImage;
  /** Frames of the throughput phase: handed over as soon as the loop asks (capacity). */
  readonly throughputFrames: number;
  /** Frames of the paced phase (after the throughput one), at `fps`, newest-frame semantics. */
  readonly pacedFrames: number;
  readonly fps: number;
  /** Called with each offered frame (the bench's ground truth of capture times). */
  readonly onOffer: (offer: OfferedFrame) => void;
  /** Called when the loop takes a frame (seq, monotonic ms): which frames it processed. */
  readonly onTake?: (seq: number, atMs: number) => void;
  /** Called once after the last paced frame was handed over. */
  readonly onEnd: () => void;
  /** CPU µs spent rendering frames (the bench subtracts it from the pipeline's cost). */
  readonly cpuUsage: () => number;
}

/**
 * The bench's camera: first unpaced (each `next()` gets the following scene frame, so the
 * loop runs flat out: frames per second = capacity), then paced at `fps` like a real camera
 * (LatestFrameSlot: frames the loop is too slow for are dropped, as in the daemon).
 */
export class BenchCamera implements FrameSource {
  readonly name = 'bench';
  private readonly slot = new LatestFrameSlot();
  private produced = 0;
  private timer: NodeJS.Timeout | undefined;
  private pacedStart = 0;
  private running = false;
  /** CPU µs spent rendering. */
  renderCpuUs = 0;

  constructor(
    private readonly o: BenchCameraOptions,
    private readonly clock: Clock,
  ) {
    if (!(o.fps > 0 && o.fps <= 240)) throw new RangeError(`bench fps must be in (0, 240], got ${o.fps}`);
  }

  async start(): Promise<void> {
    this.running = true;
    if (this.o.throughputFrames === 0) {
      this.pacedStart = this.clock.monotonicMs();
      this.tick();
    }
  }

  private offer(index: number, phase: OfferedFrame['phase']): void {
    const c0 = this.o.cpuUsage();
    const image = this.o.render(index);
    this.renderCpuUs += this.o.cpuUsage() - c0;
    const atMs = this.clock.monotonicMs();
    const frame = this.slot.put(image, atMs);
    this.o.onOffer({ seq: frame.seq, index, atMs, phase });
  }

  private tick(): void {
    if (!this.running) return;
    const n = this.produced - this.o.throughputFrames;
    if (n >= this.o.pacedFrames) {
      this.o.onEnd();
      return;
    }
    this.offer(n, 'paced');
    this.produced += 1;
    const due = this.pacedStart + ((n + 1) * 1000) / this.o.fps;
    this.timer = setTimeout(() => this.tick(), Math.max(0, due - this.clock.monotonicMs()));
  }

  next(): Promise<Frame> {
    if (this.running && this.produced < this.o.throughputFrames) {
      this.offer(this.produced, 'throughput');
      this.produced += 1;
      if (this.produced === this.o.throughputFrames) {
        // The throughput phase is over once the loop asks for its next frame; then pacing starts.
        const frame = this.taken();
        setImmediate(() => {
          this.pacedStart = this.clock.monotonicMs();
          this.tick();
        });
        return frame;
      }
    }
    return this.taken();
  }

  private taken(): Promise<Frame> {
    const onTake = this.o.onTake;
    if (!onTake) return this.slot.next();
    return this.slot.next().then((frame) => {
      onTake(frame.seq, this.clock.monotonicMs());
      return frame;
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.slot.close();
  }
}
