import type { FivePoints, Point } from './image.js';

/**
 * Facial landmarks of one face, in image coordinates (continuous pixels: the centre of
 * pixel (i, j) is (i + 0.5, j + 0.5)). `points` are the 68 iBUG 300-W points when the model
 * gives 68; `five` are what alignment uses. "Left" is the image's left (the subject's right).
 */
export type { FaceLandmarks, FivePoints } from './image.js';

export const FIVE_POINT_NAMES = ['leftEye', 'rightEye', 'nose', 'mouthLeft', 'mouthRight'] as const;

export function fiveToArray(five: FivePoints): Point[] {
  return FIVE_POINT_NAMES.map((k) => five[k]);
}

function mean(points: readonly Point[]): Point {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p.x;
    y += p.y;
  }
  return { x: x / points.length, y: y / points.length };
}

/**
 * The five alignment points from the 68 iBUG points: eye centres = mean of the six eye
 * contour points (36–41, 42–47), nose tip = 30, mouth corners = 48 and 54.
 */
export function fiveFrom68(points: readonly Point[]): FivePoints {
  if (points.length !== 68) throw new RangeError(`expected 68 landmarks, got ${points.length}`);
  return {
    leftEye: mean(points.slice(36, 42)),
    rightEye: mean(points.slice(42, 48)),
    nose: points[30],
    mouthLeft: points[48],
    mouthRight: points[54],
  };
}

/**
 * dlib's mean face (`get_face_chip_details`, dlib/image_transforms/interpolation.h: the
 * mean positions of iBUG points 17–67 in a unit square, the template
 * dlib_face_recognition_resnet_model_v1 was trained on) reduced to our five points the
 * same way as fiveFrom68. Unpadded fractions; a chip with padding p puts template point q at
 * (p + q) / (1 + 2p) of its side.
 */
export const DLIB_MEAN_FACE_FIVE: FivePoints = {
  leftEye: { x: 0.2254918, y: 0.2159903 },
  rightEye: { x: 0.754761, y: 0.2159903 },
  nose: { x: 0.490127, y: 0.515625 },
  mouthLeft: { x: 0.254149, y: 0.780233 },
  mouthRight: { x: 0.726104, y: 0.780233 },
};

/**
 * dlib's mean face: iBUG points 17–67 (brows, nose, eyes, mouth) in the unit template
 * square, from dlib's get_face_chip_details (dlib/image_transforms/interpolation.h, Boost
 * licence). Index i here is iBUG point 17 + i.
 */
export const DLIB_MEAN_FACE_17_67: readonly Point[] = (() => {
  const xs = [
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004,
    0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737,
    0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751,
    0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127,
    0.42689,
  ];
  const ys = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
    0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423,
    0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077,
    0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192,
    0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803,
    0.824182,
  ];
  return xs.map((x, i) => ({ x, y: ys[i] }));
})();

/** The points' bounding box, corners in pixels (x0, y0 top-left; x1, y1 bottom-right). */
export function pointBounds(points: readonly Point[]): { x0: number; y0: number; x1: number; y1: number } {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const p of points) {
    x0 = Math.min(x0, p.x);
    y0 = Math.min(y0, p.y);
    x1 = Math.max(x1, p.x);
    y1 = Math.max(y1, p.y);
  }
  return { x0, y0, x1, y1 };
}
