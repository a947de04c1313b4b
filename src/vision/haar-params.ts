import type { Box } from './image.js';
import type { DetectorConfig } from './config.js';

/** The Haar cascade's own window: nothing smaller than this can be found at detect resolution. */
export const HAAR_WINDOW = 24;

/** One detection request in the coordinates of the downscaled copy. */
export interface ScaledDetectRequest {
  readonly scaledWidth: number;
  readonly scaledHeight: number;
  readonly minSize: number;
  readonly scaleFactor: number;
  readonly minNeighbors: number;
  /** Replicated-border pixels added on each side after downscaling (faces touching the edge). */
  readonly pad: number;
}

/** How a frame of `width` x `height` is downscaled for detection (never upscaled). */
export function scaledRequest(width: number, height: number, config: DetectorConfig): ScaledDetectRequest {
  const scale = config.detectWidth > 0 && width > config.detectWidth ? config.detectWidth / width : 1;
  const scaledWidth = Math.max(1, Math.round(width * scale));
  const scaledHeight = Math.max(1, Math.round(height * scale));
  return {
    scaledWidth,
    scaledHeight,
    minSize: Math.max(HAAR_WINDOW, Math.round(config.minFaceFraction * scaledWidth)),
    scaleFactor: config.scaleFactor,
    minNeighbors: config.minNeighbors,
    pad: Math.round(config.padFraction * Math.min(scaledWidth, scaledHeight)),
  };
}

/**
 * Maps boxes found on the downscaled (and padded) copy back to the full frame, clipped to it, largest
 * first (the order the quality gate and the enrollment "exactly one face" check rely on).
 */
export function scaleBoxesBack(
  flat: ArrayLike<number>,
  fullWidth: number,
  fullHeight: number,
  req: ScaledDetectRequest,
): Box[] {
  const sx = fullWidth / req.scaledWidth;
  const sy = fullHeight / req.scaledHeight;
  const boxes: Box[] = [];
  for (let i = 0; i + 3 < flat.length; i += 4) {
    const x = flat[i] - req.pad;
    const y = flat[i + 1] - req.pad;
    const x0 = Math.max(0, Math.round(x * sx));
    const y0 = Math.max(0, Math.round(y * sy));
    const x1 = Math.min(fullWidth, Math.round((x + flat[i + 2]) * sx));
    const y1 = Math.min(fullHeight, Math.round((y + flat[i + 3]) * sy));
    if (x1 > x0 && y1 > y0) boxes.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  }
  return boxes.sort((a, b) => b.width * b.height - a.width * a.height);
}
