import type { Frame, FrameSource } from '../../src/camera/frame-source.js';
import type { EventBody, EventSink, FacegateEvent } from '../../src/events.js';
import type { Embedder } from '../../src/model/embedder.js';
import type { Box, GrayImage } from '../../src/vision/image.js';
import { createGrayImage } from '../../src/vision/image.js';

/**
 * A camera that produces frames on a timer and keeps only the newest unseen one (the
 * FrameSource contract), so a slow consumer sees seq gaps. Pixel 0 of each frame is the
 * "scene" code the fake detector reads.
 */
export class TimerFrameSource implements FrameSource {
  readonly name = 'timer-fake';
  private seq = 0;
  private latest: Frame | null = null;
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  produced = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly sceneFor: (seq: number) => number,
    private readonly maxFrames = Infinity,
  ) {}

  async start(): Promise<void> {
    this.timer = setInterval(() => this.produce(), this.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.waiter?.reject(new Error('source stopped'));
    this.waiter = null;
  }

  next(): Promise<Frame> {
    if (this.stopped) return Promise.reject(new Error('source stopped'));
    if (this.latest) {
      const frame = this.latest;
      this.latest = null;
      return Promise.resolve(frame);
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private produce(): void {
    if (this.produced >= this.maxFrames) return;
    const seq = ++this.seq;
    this.produced++;
    const data = new Uint8Array(32 * 24);
    data[0] = this.sceneFor(seq);
    const frame: Frame = { image: createGrayImage(32, 24, data), timestampMs: performance.now(), seq };
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(frame);
    } else {
      this.latest = frame; // older unseen frame dropped
    }
  }
}

/** Finds one face when the scene code is non-zero; throws for scene 255; slow on request. */
export class SceneDetector {
  readonly name = 'scene-fake';
  calls = 0;
  constructor(private readonly delayMs = 0) {}
  async detect(image: GrayImage): Promise<Box[]> {
    this.calls++;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const scene = image.data[0];
    if (scene === 255) throw new Error('detector exploded');
    return scene === 0 ? [] : [{ x: 4, y: 4, width: 16, height: 16 }];
  }
}

/** Embeds a face as [scene code, 1]: the "person" is the scene code of the frame. */
export class SceneEmbedder implements Embedder {
  readonly modelId = 'fake-scene-v1';
  readonly dimension = 2;
  readonly inputSize = 8;
  readonly head = { weight: -10, bias: 5 };
  batches: number[] = [];
  async embed(faces: readonly GrayImage[]): Promise<Float32Array[]> {
    this.batches.push(faces.length);
    return faces.map((f) => Float32Array.of(f.data[0], 1));
  }
  dispose(): void {}
}

export class RecordingSink implements EventSink {
  readonly events: FacegateEvent[] = [];
  private n = 0;
  emit(body: EventBody): FacegateEvent {
    const event = {
      ...body,
      id: `e${++this.n}`,
      ts: new Date().toISOString(),
      device: 'test',
    } as FacegateEvent;
    this.events.push(event);
    return event;
  }
}
