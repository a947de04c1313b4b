import type { GrayImage } from './image.js';
import type { ScaledDetectRequest } from './haar-params.js';

/** One OpenCV implementation of Haar detection (native or WebAssembly). */
export interface HaarEngine {
  readonly name: string;
  /** Downscales `image` to the request's size, detects, returns flat [x,y,w,h,...] in scaled coordinates. */
  detect(image: GrayImage, req: ScaledDetectRequest): Promise<Int32Array>;
  stop(): Promise<void>;
}
