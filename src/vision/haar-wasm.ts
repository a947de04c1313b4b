import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { GrayImage } from './image.js';
import type { ScaledDetectRequest } from './haar-params.js';
import type { HaarEngine } from './haar-engine.js';

/**
 * The WebAssembly OpenCV (@techstark/opencv-js) runs single-threaded and blocks the thread
 * it runs on for ~10-70 ms per frame, so it lives in its own worker thread: MQTT, the relay
 * and the event loop stay responsive while it detects.
 *
 * The worker source is a plain JS string (not a .ts file) so the same code runs under tsx,
 * vitest and the compiled dist/ build without a loader.
 */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
let cv;
let classifier;
function toMessage(err) {
  if (err instanceof Error) return err.message;
  if (typeof err === 'number' && cv && cv.exceptionFromPtr) {
    try { return cv.exceptionFromPtr(err).msg; } catch (_) { /* fall through */ }
  }
  return String(err);
}
const ready = new Promise((resolve, reject) => {
  let mod;
  try { mod = require(workerData.opencvPath); } catch (err) { reject(err); return; }
  // The module object is thenable: never resolve a promise with it (that would recurse).
  const done = () => {
    cv = mod;
    try {
      cv.FS_createDataFile('/', 'cascade.xml', new Uint8Array(workerData.cascade), true, false, false);
      classifier = new cv.CascadeClassifier();
      if (!classifier.load('cascade.xml')) throw new Error('the cascade XML did not load');
      resolve(true);
    } catch (err) { reject(new Error(toMessage(err))); }
  };
  if (mod.Mat) done();
  else {
    const previous = mod.onRuntimeInitialized;
    mod.onRuntimeInitialized = () => { if (previous) previous(); done(); };
  }
});
ready.then(() => parentPort.postMessage({ type: 'ready' }), (err) => parentPort.postMessage({ type: 'fatal', error: toMessage(err) }));
parentPort.on('message', async (msg) => {
  try {
    await ready;
  } catch (err) {
    parentPort.postMessage({ id: msg.id, error: toMessage(err) });
    return;
  }
  let src, small, padded, rects, minSize, maxSize;
  try {
    src = new cv.Mat(msg.height, msg.width, cv.CV_8UC1);
    src.data.set(new Uint8Array(msg.buffer));
    if (msg.req.scaledWidth !== msg.width || msg.req.scaledHeight !== msg.height) {
      small = new cv.Mat();
      cv.resize(src, small, new cv.Size(msg.req.scaledWidth, msg.req.scaledHeight), 0, 0, cv.INTER_AREA);
    }
    let input = small || src;
    if (msg.req.pad > 0) {
      padded = new cv.Mat();
      const p = msg.req.pad;
      cv.copyMakeBorder(input, padded, p, p, p, p, cv.BORDER_REPLICATE);
      input = padded;
    }
    rects = new cv.RectVector();
    minSize = new cv.Size(msg.req.minSize, msg.req.minSize);
    maxSize = new cv.Size(0, 0);
    classifier.detectMultiScale(input, rects, msg.req.scaleFactor, msg.req.minNeighbors, 0, minSize, maxSize);
    const flat = new Int32Array(rects.size() * 4);
    for (let i = 0; i < rects.size(); i++) {
      const r = rects.get(i);
      flat[i * 4] = r.x; flat[i * 4 + 1] = r.y; flat[i * 4 + 2] = r.width; flat[i * 4 + 3] = r.height;
    }
    parentPort.postMessage({ id: msg.id, boxes: flat }, [flat.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: msg.id, error: toMessage(err) });
  } finally {
    if (src) src.delete();
    if (small) small.delete();
    if (padded) padded.delete();
    if (rects) rects.delete();
  }
});
`;

interface Pending {
  resolve: (flat: Int32Array) => void;
  reject: (err: Error) => void;
}

export async function createWasmHaarEngine(cascadePath: string): Promise<HaarEngine> {
  const cascade = await readFile(cascadePath);
  const opencvPath = createRequire(import.meta.url).resolve('@techstark/opencv-js');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      opencvPath,
      cascade: cascade.buffer.slice(cascade.byteOffset, cascade.byteOffset + cascade.byteLength),
    },
  });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let dead: Error | undefined;

  const failAll = (err: Error) => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  await new Promise<void>((resolve, reject) => {
    const onMessage = (msg: { type?: string; error?: string }) => {
      if (msg.type === 'ready') {
        worker.off('message', onMessage);
        resolve();
      } else if (msg.type === 'fatal') {
        worker.off('message', onMessage);
        void worker.terminate();
        reject(new Error(`WebAssembly OpenCV failed to start: ${msg.error}`));
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });

  worker.on('message', (msg: { id?: number; boxes?: Int32Array; error?: string }) => {
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error !== undefined || !msg.boxes)
      p.reject(new Error(`WebAssembly Haar detection failed: ${msg.error}`));
    else p.resolve(msg.boxes);
  });
  worker.on('error', (err) => failAll(new Error(`WebAssembly detector worker crashed: ${err.message}`)));
  worker.on('exit', (code) => failAll(new Error(`WebAssembly detector worker exited (code ${code})`)));

  return {
    name: 'opencv-wasm',
    detect(image: GrayImage, req: ScaledDetectRequest): Promise<Int32Array> {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      // Copy: the caller keeps using the frame while the worker owns the transferred buffer.
      const buffer = image.data.slice().buffer;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, width: image.width, height: image.height, buffer, req }, [buffer]);
      });
    },
    async stop(): Promise<void> {
      if (dead) return;
      failAll(new Error('detector stopped'));
      await worker.terminate();
    },
  };
}
