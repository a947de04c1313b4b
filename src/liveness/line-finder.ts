import { loadNativeOpenCv } from '../vision/haar-native.js';
import type { Box, GrayImage } from '../vision/image.js';

/**
 * Straight line segments in the ring around a face (the sheet/screen edge signal,
 * src/liveness/edges.ts). The port is one call; the implementation is native OpenCV
 * (`@u4/opencv4nodejs`, the binding the Haar detector uses): Canny edges then the
 * probabilistic Hough transform (Matas, Galambos & Kittler 2000, OpenCV's HoughLinesP).
 */

/** A segment in image pixel coordinates. */
export interface EdgeLine {
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

export interface LineFinder {
  /**
   * Segments inside `region` of `image` (region clipped to the image), in image
   * coordinates. `faceSide` (px) is the face box side: the search is done at a fixed
   * face-relative resolution (the face box becomes FACE_PX pixels), so segment lengths
   * and the cost do not depend on the face's distance.
   */
  find(image: GrayImage, region: Box, faceSide: number): EdgeLine[];
}

/** Face box side after the rescale (px): ring of ±1.1 face → ~200 px square to search. */
export const FACE_PX = 64;

/**
 * Canny hysteresis thresholds (gradient magnitude, 3x3 Sobel on 8-bit gray) and the Hough
 * settings at the rescaled resolution. 30/90 keeps the 1:3 ratio Canny recommends; a
 * segment must be ≥ 0.45 face side long (29 px), gaps ≤ 3 px are bridged.
 */
const CANNY_LOW = 30;
const CANNY_HIGH = 90;
const HOUGH_VOTES = 18;
const MIN_LENGTH = Math.round(0.45 * FACE_PX);
const MAX_GAP = 3;

interface CvMat {
  readonly rows: number;
  readonly cols: number;
  getRegion(rect: unknown): CvMat;
  resize(dsize: unknown, fx?: number, fy?: number, interpolation?: number): CvMat;
  gaussianBlur(kSize: unknown, sigmaX: number): CvMat;
  canny(t1: number, t2: number): CvMat;
  houghLinesP(
    rho: number,
    theta: number,
    threshold: number,
    minLineLength: number,
    maxLineGap: number,
  ): { x: number; y: number; z: number; w: number }[];
  release(): void;
}
interface CvLines {
  Mat: new (data: Buffer, rows: number, cols: number, type: number) => CvMat;
  Rect: new (x: number, y: number, width: number, height: number) => unknown;
  Size: new (width: number, height: number) => unknown;
  CV_8UC1: number;
  INTER_AREA: number;
  INTER_LINEAR: number;
}

/** The native finder; throws (with the reason) when the OpenCV binding is not available. */
export function createNativeLineFinder(): LineFinder {
  const cv = loadNativeOpenCv() as unknown as CvLines;
  if (typeof cv.Rect !== 'function') throw new Error('OpenCV binding has no Rect: cannot find lines');
  return {
    find(image, region, faceSide) {
      const x0 = Math.max(0, Math.floor(region.x));
      const y0 = Math.max(0, Math.floor(region.y));
      const x1 = Math.min(image.width, Math.ceil(region.x + region.width));
      const y1 = Math.min(image.height, Math.ceil(region.y + region.height));
      if (x1 - x0 < 8 || y1 - y0 < 8 || !(faceSide > 0)) return [];
      const scale = FACE_PX / faceSide;
      const w = Math.max(8, Math.round((x1 - x0) * scale));
      const h = Math.max(8, Math.round((y1 - y0) * scale));
      const buffer = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
      const mats: CvMat[] = [];
      try {
        const full = new cv.Mat(buffer, image.height, image.width, cv.CV_8UC1);
        mats.push(full);
        const roi = full.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0));
        mats.push(roi);
        const small = roi.resize(new cv.Size(w, h), 0, 0, scale < 1 ? cv.INTER_AREA : cv.INTER_LINEAR);
        mats.push(small);
        // A light blur so sensor noise and JPEG blocks do not make edges of their own.
        const blurred = small.gaussianBlur(new cv.Size(3, 3), 0.8);
        mats.push(blurred);
        const edges = blurred.canny(CANNY_LOW, CANNY_HIGH);
        mats.push(edges);
        const found = edges.houghLinesP(1, Math.PI / 180, HOUGH_VOTES, MIN_LENGTH, MAX_GAP);
        const sx = (x1 - x0) / w;
        const sy = (y1 - y0) / h;
        // The binding's Vec4 names cv::Vec4i's [0..3] as w, x, y, z: (x1, y1, x2, y2).
        return found.map((l) => ({
          x1: x0 + l.w * sx,
          y1: y0 + l.x * sy,
          x2: x0 + l.y * sx,
          y2: y0 + l.z * sy,
        }));
      } catch (err) {
        throw new Error(`line search failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        for (const m of mats.reverse()) m.release();
      }
    },
  };
}
