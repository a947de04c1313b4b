import type { Box, FaceLandmarks, FaceRegion, GrayImage, Point } from './image.js';
import { estimatePose, type HeadPose } from './pose.js';
import { faceSharpness } from './sharpness.js';
import { pointBounds } from './landmarks.js';

/**
 * THE face quality rules: one set, used by the live quality gate (src/vision/quality.ts)
 * and by photo enrollment (src/enrollment/photo-enroller.ts), so a face the door would not
 * recognise live is never enrolled either. Frame rules (door zone, share of the frame,
 * how many faces) stay in the live gate: an enrollment photo has no door zone.
 *
 * Checks, cheapest first: size → landmark plausibility → roll → yaw → sharpness. Landmark
 * and pose checks run only when the face has landmarks.
 */

/** The `vision.quality` keys the face rules read. */
export interface FaceRulesConfig {
  /** Narrowest face box, in pixels of the image the face was found in. */
  readonly minFacePixels: number;
  /** Lowest focus measure (faceSharpness); 0 disables. */
  readonly minSharpness: number;
  /** Largest in-plane head tilt, degrees. */
  readonly maxRollDeg: number;
  /** Largest left/right head turn, degrees. */
  readonly maxYawDeg: number;
}

/** Why a face fails the rules; the live gate uses these verbatim in events and logs. */
export type FaceRuleReason = 'too_small' | 'landmarks_implausible' | 'tilted' | 'turned' | 'blurry';

export interface FaceRuleFailure {
  readonly reason: FaceRuleReason;
  /** What was measured against which limit, e.g. "face 40 px wide < 48 px". */
  readonly detail: string;
  /** What a person can do about it (shown by the admin tool). */
  readonly hint: string;
  readonly measured?: number;
  readonly limit?: number;
}

export interface FaceRulePass {
  /** Focus measure, NaN when sharpness is not checked. */
  readonly sharpness: number;
  /** Head pose, when the face has landmarks. */
  readonly pose?: HeadPose;
}

export type FaceRuleResult =
  ({ readonly ok: true } & FaceRulePass) | ({ readonly ok: false } & FaceRuleFailure);

/** Bounds of the configurable limits (config validation and the rule set agree on them). */
export const POSE_LIMIT_BOUNDS = { maxRollDeg: [5, 45], maxYawDeg: [5, 60] } as const;

export function validateFaceRules(rules: FaceRulesConfig): void {
  if (!Number.isInteger(rules.minFacePixels) || rules.minFacePixels < 0)
    throw new RangeError('quality minFacePixels must be a natural number');
  if (!(rules.minSharpness >= 0)) throw new RangeError('quality minSharpness must be >= 0');
  for (const key of ['maxRollDeg', 'maxYawDeg'] as const) {
    const [lo, hi] = POSE_LIMIT_BOUNDS[key];
    const v = rules[key];
    if (!(v >= lo && v <= hi)) throw new RangeError(`quality ${key} must be in ${lo}..${hi}, got ${v}`);
  }
}

/** The size rule alone (the live gate combines it with its share-of-the-frame minimum). */
export function checkFaceSize(box: Box, minWidth: number): FaceRuleFailure | null {
  if (box.width >= minWidth) return null;
  const min = Math.ceil(minWidth);
  return {
    reason: 'too_small',
    detail: `${box.width} px < ${min} px`,
    hint: `the face must be at least ${min} px wide: use a larger, uncropped photo (never an enlarged thumbnail) or come closer to the camera`,
    measured: box.width,
    limit: min,
  };
}

/**
 * Every rule but size: landmark plausibility and pose (when the region has landmarks),
 * then sharpness (the costly one, last).
 */
export function checkFaceAppearance(
  image: GrayImage,
  region: FaceRegion,
  rules: FaceRulesConfig,
): FaceRuleResult {
  let pose: HeadPose | undefined;
  if (region.landmarks) {
    const implausible = implausibleLandmarks(region.box, region.landmarks);
    if (implausible) {
      return {
        ok: false,
        reason: 'landmarks_implausible',
        detail: implausible,
        hint: 'the eyes, nose and mouth could not be located reliably: use a frontal photo with the whole face visible and unobstructed',
      };
    }
    pose = estimatePose(region.landmarks.five);
    const roll = Math.abs(pose.rollDeg);
    if (roll > rules.maxRollDeg) {
      return {
        ok: false,
        reason: 'tilted',
        detail: `head tilted ${roll.toFixed(0)}° > ${rules.maxRollDeg}°`,
        hint: 'hold the head upright (eyes level)',
        measured: round1(pose.rollDeg),
        limit: rules.maxRollDeg,
      };
    }
    const yaw = Math.abs(pose.yawDeg);
    if (yaw > rules.maxYawDeg) {
      return {
        ok: false,
        reason: 'turned',
        detail: `head turned ${yaw.toFixed(0)}° > ${rules.maxYawDeg}°`,
        hint: 'face the camera: both eyes and both sides of the face visible',
        measured: round1(pose.yawDeg),
        limit: rules.maxYawDeg,
      };
    }
  }
  if (rules.minSharpness > 0) {
    const sharpness = faceSharpness(image, region.box);
    if (sharpness < rules.minSharpness) {
      return {
        ok: false,
        reason: 'blurry',
        detail: `sharpness ${sharpness.toFixed(1)} < ${rules.minSharpness}`,
        hint: 'the face is out of focus or smeared: use a sharp photo (still subject, good light, no heavy compression)',
        measured: round1(sharpness),
        limit: rules.minSharpness,
      };
    }
    return { ok: true, sharpness, pose };
  }
  return { ok: true, sharpness: Number.NaN, pose };
}

/** All rules for one face found in a photo (enrollment): size against minFacePixels, then the rest. */
export function checkFace(image: GrayImage, region: FaceRegion, rules: FaceRulesConfig): FaceRuleResult {
  const small = checkFaceSize(region.box, rules.minFacePixels);
  return small ? { ok: false, ...small } : checkFaceAppearance(image, region, rules);
}

/**
 * Landmarks a face cannot have: a point far outside the face box, eyes in the wrong order or
 * too close / too far apart for the box, or nose and mouth not below the eyes. Such points
 * come from a landmark model run on something that is not a face (or half a face); pose and
 * alignment from them would be nonsense. Returns what is wrong, or null.
 *
 * Limits (fractions of the box width) are generous bounds around the 68-point iBUG mean
 * shape in a detector box (eye distance ~0.4 of the box width).
 *
 * With 68 points, they must also span at least MIN_LANDMARK_SPAN of the box width (mean of
 * their width and height): the landmark net was trained on boxes a face fills, and on a box
 * with no face its points shrink toward a small mean shape. Measured with the face-api.js
 * 68-point net (one pass, DEFAULT_LANDMARKER_OPTIONS): 0.77 and more on the Haar boxes of
 * the 350 ORL s01–s35 training photos (so 0.7 leaves a margin below every one of them);
 * 0.81–0.92 on tvfaces crops and 0.83–1.12 on Olivetti crops (the whole image as the box);
 * on realfaces-dev 0.73 and more for real faces, 0.34–0.69 for the Haar false positives.
 */
export function implausibleLandmarks(box: Box, landmarks: FaceLandmarks): string | null {
  const f = landmarks.five;
  if (landmarks.points.length === 68) {
    const span = landmarkSpan(landmarks.points) / box.width;
    if (!(span >= MIN_LANDMARK_SPAN))
      return `the landmarks span ${(span * 100).toFixed(0)}% of the face box (a face fills it)`;
  }
  const points: [string, Point][] = [
    ['left eye', f.leftEye],
    ['right eye', f.rightEye],
    ['nose', f.nose],
    ['left mouth corner', f.mouthLeft],
    ['right mouth corner', f.mouthRight],
  ];
  const slackX = box.width * 0.25;
  const slackY = box.height * 0.25;
  for (const [name, p] of points) {
    if (!p || !Number.isFinite(p.x) || !Number.isFinite(p.y)) return `${name} is not a point`;
    if (
      p.x < box.x - slackX ||
      p.x > box.x + box.width + slackX ||
      p.y < box.y - slackY ||
      p.y > box.y + box.height + slackY
    )
      return `${name} lies outside the face box`;
  }
  const dx = f.rightEye.x - f.leftEye.x;
  const dy = f.rightEye.y - f.leftEye.y;
  const eyes = Math.hypot(dx, dy);
  if (dx <= 0) return 'the eyes are in the wrong order';
  const ratio = eyes / box.width;
  if (ratio < 0.15 || ratio > 0.8) return `eye distance is ${(ratio * 100).toFixed(0)}% of the face width`;
  // In the face's own frame (eye line horizontal): eyes above nose above mouth, mouth corners ordered.
  const ux = dx / eyes;
  const uy = dy / eyes;
  const eyeMid = { x: (f.leftEye.x + f.rightEye.x) / 2, y: (f.leftEye.y + f.rightEye.y) / 2 };
  const down = (p: Point) => -(p.x - eyeMid.x) * uy + (p.y - eyeMid.y) * ux;
  const across = (p: Point) => (p.x - eyeMid.x) * ux + (p.y - eyeMid.y) * uy;
  const noseDown = down(f.nose);
  const mouthDown = (down(f.mouthLeft) + down(f.mouthRight)) / 2;
  if (!(noseDown > 0.1 * eyes)) return 'the nose is not below the eyes';
  if (!(mouthDown > noseDown)) return 'the mouth is not below the nose';
  if (!(across(f.mouthRight) > across(f.mouthLeft))) return 'the mouth corners are in the wrong order';
  return null;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

/** Least span of 68 landmarks, as a fraction of the detector box width (see implausibleLandmarks). */
export const MIN_LANDMARK_SPAN = 0.7;

/** Mean of the width and height of the points' bounding box (pixels). */
export function landmarkSpan(points: readonly Point[]): number {
  const { x0, y0, x1, y1 } = pointBounds(points);
  return (x1 - x0 + (y1 - y0)) / 2;
}
