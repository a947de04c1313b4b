import type { FivePoints, Point } from './image.js';

/**
 * Head pose from the five landmarks, in degrees.
 *
 * - `rollDeg`: in-plane tilt, the angle of the line from `leftEye` to `rightEye` against the
 *   image's horizontal. Positive when the eye on the image's right is lower (the head leans
 *   clockwise as seen in the image, y pointing down).
 * - `yawDeg`: turn left/right. Positive when the nose points towards the image's right.
 */
export interface HeadPose {
  readonly rollDeg: number;
  readonly yawDeg: number;
}

/**
 * How far the nose tip stands in front of the eyes and mouth corners, in units of half the
 * distance between the eye centres. From the generic 3D face model commonly used for
 * solvePnP head pose (nose tip z 0, eye corners z -135, mouth corners z -125, eye centres
 * about ±150 apart from the midline: (0 - (-130)) / 150 ≈ 0.87). People differ by about
 * ±20%, so yaw is an estimate: within a few degrees near frontal, ~±5° at 30°.
 */
export const NOSE_DEPTH_PER_HALF_EYE_DISTANCE = 0.87;

const DEG = 180 / Math.PI;

/**
 * Estimates roll and yaw from five landmarks (image coordinates, `leftEye` = the eye on the
 * image's left). Roll comes from the eye line. Yaw from the nose tip's sideways offset from
 * the face's midline (the line through the eyes' midpoint and the mouth corners' midpoint),
 * measured after undoing the roll, relative to half the eye distance: under a turn by θ
 * (orthographic camera) that ratio is k·tan θ with k = NOSE_DEPTH_PER_HALF_EYE_DISTANCE.
 *
 * @throws RangeError when a point is not finite or the eyes coincide (no eye line).
 */
export function estimatePose(five: FivePoints): HeadPose {
  const points = [five.leftEye, five.rightEye, five.nose, five.mouthLeft, five.mouthRight];
  if (!points.every((p) => p && Number.isFinite(p.x) && Number.isFinite(p.y))) {
    throw new RangeError('landmarks must be finite points');
  }
  const dx = five.rightEye.x - five.leftEye.x;
  const dy = five.rightEye.y - five.leftEye.y;
  const eyeDistance = Math.hypot(dx, dy);
  if (eyeDistance < 1e-6) throw new RangeError('the eyes coincide: no eye line to measure roll from');
  const roll = Math.atan2(dy, dx);

  // Undo the roll around the eyes' midpoint: the eye line becomes horizontal.
  const eyeMid = mid(five.leftEye, five.rightEye);
  const cos = Math.cos(-roll);
  const sin = Math.sin(-roll);
  const level = (p: Point): Point => {
    const x = p.x - eyeMid.x;
    const y = p.y - eyeMid.y;
    return { x: x * cos - y * sin, y: x * sin + y * cos };
  };
  const nose = level(five.nose);
  const mouthMid = level(mid(five.mouthLeft, five.mouthRight));
  // The midline at the nose's height (eye midpoint is the origin now); a face whose mouth
  // is not below the eyes (implausible landmarks) falls back to the vertical through the eyes.
  const t = mouthMid.y > 1e-6 ? nose.y / mouthMid.y : 0;
  const midlineX = mouthMid.x * t;
  const ratio = (nose.x - midlineX) / (eyeDistance / 2);
  const yaw = Math.atan(ratio / NOSE_DEPTH_PER_HALF_EYE_DISTANCE);
  return { rollDeg: roll * DEG, yawDeg: yaw * DEG };
}

function mid(a: Point, b: Point): Point {
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
}
