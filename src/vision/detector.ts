import { existsSync } from 'node:fs';
import type { Box, GrayImage } from './image.js';
import type { DetectorConfig } from './config.js';
import type { Logger } from '../util/log.js';
import type { HaarEngine } from './haar-engine.js';
import { scaleBoxesBack, scaledRequest } from './haar-params.js';
import { createNativeHaarEngine } from './haar-native.js';
import { createWasmHaarEngine } from './haar-wasm.js';
import { resolvePackagePath } from './package-path.js';

/** Finds faces in a full frame; boxes are in the coordinates of the image passed in. */
export interface FaceDetector {
  /** e.g. "opencv4nodejs" or "opencv-wasm", for logs and the benchmark. */
  readonly name: string;
  detect(image: GrayImage): Promise<Box[]>;
}

/** A detector with a lifecycle (the WebAssembly one owns a worker thread). */
export interface StoppableFaceDetector extends FaceDetector {
  stop(): Promise<void>;
}

class HaarFaceDetector implements StoppableFaceDetector {
  readonly name: string;
  constructor(
    private readonly engine: HaarEngine,
    private readonly config: DetectorConfig,
  ) {
    this.name = engine.name;
  }

  async detect(image: GrayImage): Promise<Box[]> {
    if (image.data.length !== image.width * image.height)
      throw new RangeError('image data does not match its size');
    const req = scaledRequest(image.width, image.height, this.config);
    if (req.scaledWidth < req.minSize || req.scaledHeight < req.minSize) return [];
    const flat = await this.engine.detect(image, req);
    return scaleBoxesBack(flat, image.width, image.height, req);
  }

  stop(): Promise<void> {
    return this.engine.stop();
  }
}

function validate(config: DetectorConfig): void {
  if (!Number.isInteger(config.detectWidth) || config.detectWidth < 0)
    throw new RangeError('detectWidth must be a natural number');
  if (!(config.scaleFactor > 1 && config.scaleFactor <= 2))
    throw new RangeError('scaleFactor must be in (1, 2]');
  if (!Number.isInteger(config.minNeighbors) || config.minNeighbors < 0)
    throw new RangeError('minNeighbors must be a natural number');
  if (!(config.minFaceFraction >= 0 && config.minFaceFraction <= 1))
    throw new RangeError('minFaceFraction must be in 0..1');
  if (!(config.padFraction >= 0 && config.padFraction <= 0.5))
    throw new RangeError('padFraction must be in 0..0.5');
}

/**
 * Builds the Haar face detector: the native OpenCV binding when it loads (backend auto or
 * native), otherwise the WebAssembly build in a worker thread. Logs which one runs.
 */
export async function createFaceDetector(
  config: DetectorConfig,
  logger: Logger,
): Promise<StoppableFaceDetector> {
  validate(config);
  const log = logger.child({ module: 'detector' });
  const cascade = resolvePackagePath(config.cascade);
  if (!existsSync(cascade)) throw new Error(`Haar cascade not found: ${config.cascade}`);
  let engine: HaarEngine | undefined;
  if (config.backend !== 'wasm') {
    try {
      engine = createNativeHaarEngine(cascade, config.threads);
    } catch (err) {
      if (config.backend === 'native') throw err;
      log.warn(
        { err: (err as Error).message },
        'native OpenCV unavailable, falling back to WebAssembly OpenCV',
      );
    }
  }
  engine ??= await createWasmHaarEngine(cascade);
  log.info(
    { detector: engine.name, requested: config.backend, cascade, detectWidth: config.detectWidth },
    `face detector: ${engine.name}`,
  );
  return new HaarFaceDetector(engine, config);
}
