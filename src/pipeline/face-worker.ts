import { Worker } from 'node:worker_threads';
import type { GrayImage, FaceRegion } from '../vision/image.js';
import type { Logger } from '../util/log.js';
import type { EncodedCrop, FaceWorkerInit, FromWorker } from './face-worker-protocol.js';

/** What the live loop gets for one frame's faces from a face encoder. */
export interface EncodedFaces {
  /** The frame's pixels (the image given; the worker reads a copy). */
  readonly image: GrayImage;
  /** Per face, in the order given: the region with its landmarks and how it was aligned. */
  readonly crops: readonly EncodedCrop[];
  readonly embeddings: readonly Float32Array[];
  /** Wall ms of the crop (landmarks + alignment) and the embedding. */
  readonly alignMs: number;
  readonly embedMs: number;
}

/** Landmarks → alignment → embedding of one frame's faces, off the main thread. */
export interface FaceEncoder {
  start(): Promise<void>;
  encode(image: GrayImage, faces: readonly FaceRegion[]): Promise<EncodedFaces>;
  stop(): Promise<void>;
  /** tf.memory().numTensors in the encoder's own TF.js (null before the first frame). */
  readonly tensors: number | null;
}

/** A failure inside the worker, naming the pipeline stage it happened in. */
export class FaceWorkerError extends Error {
  constructor(
    readonly stage: 'align' | 'embed',
    message: string,
  ) {
    super(message);
    this.name = 'FaceWorkerError';
  }
}

export interface FaceWorkerOptions {
  readonly init: FaceWorkerInit;
  readonly logger: Logger;
  /** Most requests in flight (the loop sends one per frame; more is refused, never queued). Default 2. */
  readonly maxInFlight?: number;
  /** Worker start (model loading) must finish within this many ms. Default 120000. */
  readonly startTimeoutMs?: number;
}

interface Pending {
  readonly resolve: (r: EncodedFaces) => void;
  readonly reject: (e: Error) => void;
  readonly image: GrayImage;
  /** The shared slot holding the frame's copy (free again once the worker answered). */
  readonly slot: number;
}

/** A worker that failed to start is tried again at most this often (ms). */
const RESTART_BACKOFF_MS = 5000;

/**
 * The worker: the compiled face-worker-thread.js in dist/; from the TypeScript source (tsx,
 * vitest) a two-line bootstrap registers tsx's loader in the worker first (a worker does not
 * inherit the parent's loader, and Node 20 ignores `--import` in a worker's execArgv).
 */
function spawnWorker(init: FaceWorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./face-worker-thread.js', import.meta.url), { workerData: init });
  const thread = new URL('./face-worker-thread.ts', import.meta.url).href;
  const bootstrap =
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(thread)}); })` +
    `.catch((err) => { throw err; });`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

/**
 * TF.js in a worker thread (worker_threads, its own wasm backend instance): the FaceCropper
 * and the sister network loaded from the same folders as the daemon's (the worker checks the
 * model id), fed one frame's faces at a time. Frame pixels are copied into one of
 * `maxInFlight` SharedArrayBuffer slots the worker reads in place (reused: no allocation and
 * no structured clone per frame; not a transfer, which would detach buffers the camera keeps —
 * the replay source loops over its cached images); at most `maxInFlight` requests, never a queue.
 * A worker that dies fails every pending request; the next `encode` starts a new one.
 * `stop()` terminates the thread.
 */
export class FaceWorker implements FaceEncoder {
  private worker: Worker | null = null;
  private starting: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stopped = false;
  private readonly logger: Logger;
  private readonly maxInFlight: number;
  private lastTensors: number | null = null;
  /** Reused frame buffers shared with the worker, one per request in flight. */
  private readonly slots: { buffer: SharedArrayBuffer | null; busy: boolean }[];
  /** When the last start failed: a broken worker is not respawned for every frame. */
  private failedStartAt = -Infinity;
  private lastStartError: Error | null = null;

  constructor(private readonly options: FaceWorkerOptions) {
    this.logger = options.logger.child({ module: 'face-worker' });
    this.maxInFlight = options.maxInFlight ?? 2;
    if (!(Number.isInteger(this.maxInFlight) && this.maxInFlight >= 1))
      throw new RangeError(`maxInFlight must be an integer >= 1, got ${this.maxInFlight}`);
    this.slots = Array.from({ length: this.maxInFlight }, () => ({ buffer: null, busy: false }));
  }

  get tensors(): number | null {
    return this.lastTensors;
  }

  /** Whether a worker thread is running (for tests: none after stop()). */
  get running(): boolean {
    return this.worker !== null;
  }

  /** Starts the thread and waits until its models are loaded; rejects with the worker's reason. */
  start(): Promise<void> {
    this.stopped = false;
    if (this.worker) return Promise.resolve();
    this.starting ??= this.spawn().finally(() => (this.starting = null));
    return this.starting;
  }

  private spawn(): Promise<void> {
    const worker = spawnWorker(this.options.init);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        fail(new Error(`face worker did not start within ${this.options.startTimeoutMs ?? 120_000} ms`));
      }, this.options.startTimeoutMs ?? 120_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        void worker.terminate();
        reject(err);
      };
      worker.once('error', fail);
      worker.once('exit', (code) => fail(new Error(`face worker exited (code ${code}) while starting`)));
      worker.once('message', (msg: FromWorker) => {
        clearTimeout(timer);
        worker.removeAllListeners('error');
        worker.removeAllListeners('exit');
        if (msg.type !== 'ready') {
          fail(new Error(msg.type === 'fatal' ? msg.error : `face worker sent ${msg.type} first`));
          return;
        }
        if (this.stopped) {
          void worker.terminate();
          reject(new Error('face worker stopped while starting'));
          return;
        }
        this.attach(worker);
        this.logger.info({ modelId: msg.modelId, backend: msg.backend }, 'face worker ready');
        resolve();
      });
    });
  }

  private attach(worker: Worker): void {
    this.worker = worker;
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => this.lost(worker, new Error(`face worker exited (code ${code})`)));
  }

  private lost(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    if (!this.stopped) this.logger.error({ err }, 'face worker died; the next frame starts a new one');
    this.failAll(err);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      this.slots[p.slot].busy = false;
      p.reject(new FaceWorkerError('align', err.message));
    }
    this.pending.clear();
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type !== 'encoded' && msg.type !== 'failed') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    this.slots[p.slot].busy = false;
    if (msg.type === 'failed') {
      p.reject(new FaceWorkerError(msg.stage, msg.error));
      return;
    }
    this.lastTensors = msg.tensors;
    const all = new Float32Array(msg.embeddings);
    const embeddings = msg.crops.map((_, i) => all.slice(i * msg.dimension, (i + 1) * msg.dimension));
    p.resolve({
      image: p.image,
      crops: msg.crops,
      embeddings,
      alignMs: msg.alignMs,
      embedMs: msg.embedMs,
    });
  }

  async encode(image: GrayImage, faces: readonly FaceRegion[]): Promise<EncodedFaces> {
    if (this.stopped) throw new FaceWorkerError('align', 'face worker is stopped');
    if (image.data.length !== image.width * image.height)
      throw new RangeError('image data does not match its size');
    if (this.pending.size >= this.maxInFlight)
      throw new FaceWorkerError('align', `face worker busy (${this.pending.size} frames in flight)`);
    if (!this.worker) {
      if (performance.now() - this.failedStartAt < RESTART_BACKOFF_MS && this.lastStartError)
        throw new FaceWorkerError('align', `face worker cannot start: ${this.lastStartError.message}`);
      try {
        await this.start();
      } catch (err) {
        this.failedStartAt = performance.now();
        this.lastStartError = err as Error;
        throw new FaceWorkerError('align', `face worker cannot start: ${(err as Error).message}`);
      }
    }
    const worker = this.worker;
    if (!worker) throw new FaceWorkerError('align', 'face worker is not running');
    const size = image.width * image.height;
    const slotIndex = this.slots.findIndex((sl) => !sl.busy);
    if (slotIndex < 0) throw new FaceWorkerError('align', 'face worker busy (no free frame slot)');
    const slot = this.slots[slotIndex];
    // Grown once to the camera's frame size, then reused for every frame.
    if (!slot.buffer || slot.buffer.byteLength < size) slot.buffer = new SharedArrayBuffer(size);
    new Uint8Array(slot.buffer, 0, size).set(image.data);
    slot.busy = true;
    const id = this.nextId++;
    return new Promise<EncodedFaces>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, image, slot: slotIndex });
      worker.postMessage({
        type: 'encode',
        id,
        width: image.width,
        height: image.height,
        pixels: slot.buffer,
        faces: faces.map((f) => f.box),
      });
    });
  }

  /** Terminates the worker thread; pending requests fail. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting?.catch(() => undefined);
    const worker = this.worker;
    this.worker = null;
    this.failAll(new Error('face worker stopped'));
    if (worker) await worker.terminate();
  }
}
