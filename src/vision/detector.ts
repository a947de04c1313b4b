import { existsSync } from 'node:fs';
import { applySimilarity, warpSimilarity } from './align.js';
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

/** In-plane turns (degrees) of the photo retry: beyond the frontal cascade's tolerance of about ±10°. */
export const TURNED_RETRY_DEGREES: readonly number[] = [15, -15];

/**
 * Photos (evaluation, training; not live frames, where a retry on every empty frame would
 * double the detector's cost): the detector's boxes, or — when it finds none — the boxes it
 * finds in the photo turned about its centre by each of `anglesDeg` (a head tilted beyond
 * the cascade's tolerance, common in film stills), mapped back as upright squares around
 * the face centres, largest first. `turned` says the boxes came from the retry: the caller
 * should keep only faces with plausible landmarks (FaceCropper.cropMain `requireLandmarks`),
 * the retry being more prone to false positives. The landmark model levels the tilt.
 */
export async function detectWithTurnedRetry(
  detector: FaceDetector,
  image: GrayImage,
  anglesDeg: readonly number[] = TURNED_RETRY_DEGREES,
): Promise<{ boxes: Box[]; turned: boolean }> {
  const boxes = await detector.detect(image);
  if (boxes.length > 0 || anglesDeg.length === 0) return { boxes, turned: false };
  const found: Box[] = [];
  const cx = image.width / 2;
  const cy = image.height / 2;
  for (const deg of anglesDeg) {
    const th = (deg * Math.PI) / 180;
    const a = Math.cos(th);
    const b = Math.sin(th);
    // turned-image pixel → photo pixel: a rotation about the photo's centre.
    const t = { a, b, tx: cx - (a * cx - b * cy), ty: cy - (b * cx + a * cy) };
    for (const box of await detector.detect(warpSimilarity(image, t, image.width, image.height))) {
      const c = applySimilarity(t, { x: box.x + box.width / 2, y: box.y + box.height / 2 });
      found.push({ x: c.x - box.width / 2, y: c.y - box.height / 2, width: box.width, height: box.height });
    }
  }
  return { boxes: found.sort((p, q) => q.width * q.height - p.width * p.height), turned: found.length > 0 };
}
