import { createRequire } from 'node:module';
import type { GrayImage } from './image.js';
import type { ScaledDetectRequest } from './haar-params.js';
import type { HaarEngine } from './haar-engine.js';

/** The few parts of @u4/opencv4nodejs used here (declared locally: the package is optional). */
interface NativeSize {
  readonly width: number;
  readonly height: number;
}
interface NativeRect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}
interface NativeMat {
  resizeAsync(dsize: NativeSize, fx?: number, fy?: number, interpolation?: number): Promise<NativeMat>;
  copyMakeBorderAsync(
    top: number,
    bottom: number,
    left: number,
    right: number,
    borderType?: number,
  ): Promise<NativeMat>;
  release(): void;
}
interface NativeClassifier {
  detectMultiScaleAsync(
    img: NativeMat,
    scaleFactor?: number,
    minNeighbors?: number,
    flags?: number,
    minSize?: NativeSize,
    maxSize?: NativeSize,
  ): Promise<{ objects: NativeRect[] }>;
}
interface NativeCv {
  Mat: new (data: Buffer, rows: number, cols: number, type?: number) => NativeMat;
  Size: new (width: number, height: number) => NativeSize;
  CascadeClassifier: new (xmlFilePath: string) => NativeClassifier;
  CV_8UC1: number;
  INTER_AREA: number;
  BORDER_REPLICATE: number;
  setNumThreads(n: number): void;
  version?: { major: number; minor: number; revision: number };
}

/** opencv4nodejs throws plain strings; turn anything thrown into an Error with context. */
function asError(err: unknown, context: string): Error {
  if (err instanceof Error) return new Error(`${context}: ${err.message}`, { cause: err });
  return new Error(`${context}: ${String(err)}`);
}

/**
 * Loads the native binding. It is an optionalDependency built against the system OpenCV;
 * when it is missing or was not built this throws and the caller falls back to WebAssembly.
 */
export function loadNativeOpenCv(): NativeCv {
  const req = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = req.resolve('@u4/opencv4nodejs');
  } catch (err) {
    throw asError(err, '@u4/opencv4nodejs is not installed');
  }
  try {
    // The binding's build helper prints info lines on require; it has a switch to keep quiet.
    const build = createRequire(entry)('@u4/opencv-build') as { Log?: { silence?: boolean } };
    if (build.Log) build.Log.silence = true;
  } catch {
    // Not fatal: only the log lines are affected.
  }
  try {
    const mod = req(entry) as { cv?: NativeCv } & NativeCv;
    const cv = mod.cv ?? mod;
    if (typeof cv.CascadeClassifier !== 'function')
      throw new Error('CascadeClassifier missing from the binding');
    return cv;
  } catch (err) {
    throw asError(err, 'native OpenCV binding failed to load');
  }
}

export function createNativeHaarEngine(cascadePath: string, threads: number): HaarEngine {
  const cv = loadNativeOpenCv();
  if (threads > 0) cv.setNumThreads(threads);
  let classifier: NativeClassifier;
  try {
    classifier = new cv.CascadeClassifier(cascadePath);
  } catch (err) {
    throw asError(err, `cannot load Haar cascade ${cascadePath}`);
  }
  let stopped = false;
  // The libuv pool may run two detections at once; one classifier is not documented as
  // thread-safe, so calls are chained.
  let chain: Promise<unknown> = Promise.resolve();

  const run = async (image: GrayImage, req: ScaledDetectRequest): Promise<Int32Array> => {
    const buffer = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    let full: NativeMat | undefined;
    let small: NativeMat | undefined;
    let padded: NativeMat | undefined;
    try {
      full = new cv.Mat(buffer, image.height, image.width, cv.CV_8UC1);
      const needResize = req.scaledWidth !== image.width || req.scaledHeight !== image.height;
      small = needResize
        ? await full.resizeAsync(new cv.Size(req.scaledWidth, req.scaledHeight), 0, 0, cv.INTER_AREA)
        : full;
      padded =
        req.pad > 0
          ? await small.copyMakeBorderAsync(req.pad, req.pad, req.pad, req.pad, cv.BORDER_REPLICATE)
          : small;
      const { objects } = await classifier.detectMultiScaleAsync(
        padded,
        req.scaleFactor,
        req.minNeighbors,
        0,
        new cv.Size(req.minSize, req.minSize),
        new cv.Size(0, 0),
      );
      const flat = new Int32Array(objects.length * 4);
      objects.forEach((r, i) => flat.set([r.x, r.y, r.width, r.height], i * 4));
      return flat;
    } catch (err) {
      throw asError(err, 'native Haar detection failed');
    } finally {
      if (padded && padded !== small) padded.release();
      if (small && small !== full) small.release();
      full?.release();
    }
  };

  return {
    name: 'opencv4nodejs',
    detect(image, req) {
      if (stopped) return Promise.reject(new Error('detector stopped'));
      const result = chain.then(() => run(image, req));
      chain = result.catch(() => undefined);
      return result;
    },
    async stop() {
      stopped = true;
      await chain;
    },
  };
}
