import type { Box, GrayImage } from './image.js';

/** Finds faces in a full frame; boxes are in the coordinates of the image passed in. */
export interface FaceDetector {
  /** e.g. "opencv4nodejs" or "opencv-wasm", for logs and the benchmark. */
  readonly name: string;
  detect(image: GrayImage): Promise<Box[]>;
}
