/** An 8-bit single-channel image, row-major, top row first. The one pixel format of the pipeline. */
export interface GrayImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** An axis-aligned rectangle in pixel coordinates of the image it was found in. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

/** Eye centres as seen in the image: `left` is the eye on the image's left side. */
export interface EyePair {
  readonly left: Point;
  readonly right: Point;
}

/**
 * The five points alignment and pose use, in image coordinates. `leftEye` is the eye on the
 * image's left side (the person's right eye), `mouthLeft` the mouth corner on the image's left.
 */
export interface FivePoints {
  readonly leftEye: Point;
  readonly rightEye: Point;
  readonly nose: Point;
  readonly mouthLeft: Point;
  readonly mouthRight: Point;
}

/** Facial landmarks of one face: all points the model gives (68-point iBUG order when it gives 68) and the five. */
export interface FaceLandmarks {
  readonly points: readonly Point[];
  readonly five: FivePoints;
}

/** Where a face is: the detector's box and, once the FaceCropper found them, its landmarks. */
export interface FaceRegion {
  readonly box: Box;
  readonly landmarks?: FaceLandmarks;
}

export function createGrayImage(width: number, height: number, data?: Uint8Array): GrayImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  const pixels = data ?? new Uint8Array(width * height);
  if (pixels.length !== width * height) {
    throw new RangeError(`image data has ${pixels.length} bytes, expected ${width * height}`);
  }
  return { width, height, data: pixels };
}
