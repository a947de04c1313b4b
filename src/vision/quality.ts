import type { Box, FaceRegion, GrayImage } from './image.js';
import type { QualityConfig } from './config.js';
import { checkFaceAppearance, checkFaceSize, validateFaceRules } from './face-rules.js';
import type { HeadPose } from './pose.js';

export { faceSharpness, SHARPNESS_PATCH } from './sharpness.js';

/** Why a detected face does not go on to recognition (used verbatim in events and logs). */
export type RejectReason = 'too_small' | 'outside_zone' | 'too_many_faces';

/**
 * Why an accepted face is `poor`: recognised, but its vote cannot open the door. The face
 * rules shared with enrollment (src/vision/face-rules.ts): blurry, and — when the face has
 * landmarks — tilted or turned beyond the pose limits, or landmarks a face cannot have.
 */
export type PoorReason = 'blurry' | 'tilted' | 'turned' | 'landmarks_implausible';

/**
 * `ok`: recognised and may vote for a person. `poor`: recognised (the person at the door is
 * still that person) but its vote is inconclusive (`poor_quality`).
 */
export type FaceQuality = 'ok' | 'poor';

export interface AcceptedFace {
  /** The face as handed in (the cropper adds landmarks when the gate saw boxes only). */
  readonly region: FaceRegion;
  readonly quality: FaceQuality;
  /** Empty for `ok`; why it is `poor` otherwise. */
  readonly reasons: readonly PoorReason[];
  /** Focus measure (NaN when the sharpness check is off or did not run). */
  readonly sharpness: number;
  /** Head pose, when the face had landmarks. */
  readonly pose?: HeadPose;
  /** Human-readable detail for a `poor` face, e.g. "sharpness 12.0 < 40". */
  readonly detail?: string;
}

export interface RejectedFace {
  readonly box: Box;
  readonly reason: RejectReason;
  /** Human-readable detail, e.g. "42 px < 48 px". */
  readonly detail: string;
}

export interface QualityResult {
  /** Largest first, at most `maxFaces`, each marked `ok` or `poor`. */
  readonly accepted: AcceptedFace[];
  readonly rejected: RejectedFace[];
}

function validate(config: QualityConfig): void {
  const z = config.doorZone;
  for (const [k, v] of Object.entries({ ...z, minFaceFraction: config.minFaceFraction })) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`quality ${k} must be in 0..1, got ${v}`);
  }
  if (!Number.isInteger(config.maxFaces) || config.maxFaces < 0)
    throw new RangeError('quality maxFaces must be a natural number');
  validateFaceRules(config);
}

/**
 * The quality gate between detection and recognition. Faces are taken largest first; each
 * is checked for size (the shared face rule, with this frame's share-of-width minimum) and
 * door zone (its centre); the first `maxFaces` that pass are accepted and any further ones
 * are rejected as `too_many_faces`. An accepted face that fails the other shared face rules
 * (sharpness; pose and landmark plausibility when it has landmarks) is marked `poor`
 * (recognised, but it cannot open the door); the others `ok`. Photo enrollment refuses faces
 * by the same rules (src/enrollment/photo-enroller.ts).
 */
export class QualityGate {
  constructor(private readonly config: QualityConfig) {
    validate(config);
  }

  /** Detector boxes (no landmarks yet: the pose and landmark rules wait for assessRegions). */
  assess(image: GrayImage, boxes: readonly Box[]): QualityResult {
    return this.assessRegions(
      image,
      boxes.map((box) => ({ box })),
    );
  }

  /** Faces with whatever they have (landmarks: the pose and landmark rules apply too). */
  assessRegions(image: GrayImage, faces: readonly FaceRegion[]): QualityResult {
    const c = this.config;
    const accepted: AcceptedFace[] = [];
    const rejected: RejectedFace[] = [];
    const minWidth = Math.max(c.minFacePixels, c.minFaceFraction * image.width);
    const zx0 = c.doorZone.x * image.width;
    const zy0 = c.doorZone.y * image.height;
    const zx1 = zx0 + c.doorZone.width * image.width;
    const zy1 = zy0 + c.doorZone.height * image.height;
    const ordered = [...faces].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
    for (const region of ordered) {
      const { box } = region;
      const small = checkFaceSize(box, minWidth);
      if (small) {
        rejected.push({ box, reason: 'too_small', detail: small.detail });
        continue;
      }
      const cx = box.x + box.width / 2;
      const cy = box.y + box.height / 2;
      if (cx < zx0 || cx > zx1 || cy < zy0 || cy > zy1) {
        rejected.push({
          box,
          reason: 'outside_zone',
          detail: `centre (${Math.round(cx)}, ${Math.round(cy)}) outside the door zone`,
        });
        continue;
      }
      if (accepted.length >= c.maxFaces) {
        rejected.push({ box, reason: 'too_many_faces', detail: `more than ${c.maxFaces} face(s) in view` });
        continue;
      }
      const verdict = checkFaceAppearance(image, region, c);
      if (!verdict.ok) {
        accepted.push({
          region,
          quality: 'poor',
          reasons: [verdict.reason as PoorReason],
          sharpness: verdict.reason === 'blurry' ? (verdict.measured ?? Number.NaN) : Number.NaN,
          detail: verdict.detail,
        });
        continue;
      }
      accepted.push({ region, quality: 'ok', reasons: [], sharpness: verdict.sharpness, pose: verdict.pose });
    }
    return { accepted, rejected };
  }
}
