import { warpSimilarity } from './align.js';
import {
  CANONICAL_CHIP,
  chipTransform,
  chipTransformFor,
  fiveFromBox,
  fiveInChip,
  modelInputFromChip,
  validateGeometry,
  type CropGeometry,
} from './face-chip.js';
import type { Box, FaceRegion, GrayImage } from './image.js';
import { implausibleLandmarks } from './face-rules.js';
import type { FaceLandmarks, FivePoints } from './landmarks.js';
import { preprocessFace } from './preprocess.js';

/** Finds the landmarks of detector boxes (the landmark model; see src/model/landmarks). */
export interface LandmarkLocator {
  readonly name: string;
  locate(image: GrayImage, boxes: readonly Box[], options?: CropOptions): Promise<FaceLandmarks[]>;
  dispose?(): void;
}

/** Per-call choices of the face path. */
export interface CropOptions {
  /**
   * Run the landmark model's second (refinement) pass: undefined = the landmarker's default
   * (off for the committed model). One more net pass per face; enrollment and live frames
   * must use the same setting (they are compared by the cropper parity test).
   */
  readonly refine?: boolean;
}

/** Why a face was cut without its own landmarks (flagged on the face, counted, carried into events). */
export type AlignmentFallback = 'no_landmark_model' | 'implausible_landmarks';

export interface CroppedFace {
  /** The detector box with the landmarks found (also when they were judged implausible: absent). */
  readonly region: FaceRegion;
  /** The model's input: `geometry.size` square, normalised as the model wants. */
  readonly input: GrayImage;
  /**
   * The canonical aligned chip (CANONICAL_CHIP geometry) and the face's five points in it:
   * what a gallery stores, so a later model can be fed without the original photo. Null for
   * `box` geometries.
   */
  readonly chip: { readonly image: GrayImage; readonly five: FivePoints } | null;
  /** `landmarks`: aligned on the face's own landmarks; `box`: on the points a typical box implies. */
  readonly alignment: 'landmarks' | 'box';
  readonly fallback?: AlignmentFallback;
}

/**
 * THE face path from detector box to model input — live loop, photo enrollment, gallery
 * re-embedding, head training and evaluation all call this one object:
 *
 * locate landmarks (one batch per call) → check they look like a face → similarity
 * transform of the landmarks onto the model's template (least squares; the points the
 * geometry's `fit` names: dlib's 33 for the face-api/dlib ResNet) → canonical chip → the
 * model's input cut from that chip → normalise.
 *
 * Without a landmark model, or when the landmarks are implausible, the five points a
 * typical Haar box implies are used (framed like an aligned face, not levelled) and the face
 * is flagged with the reason. `box` geometries (models trained on box crops) skip landmarks.
 */
export class FaceCropper {
  constructor(
    private readonly landmarks: LandmarkLocator | null,
    readonly geometry: CropGeometry,
  ) {
    validateGeometry(geometry);
    if (geometry.kind === 'aligned' && geometry.padding > CANONICAL_CHIP.padding)
      throw new RangeError(`model chip padding ${geometry.padding} exceeds the canonical chip's`);
  }

  /** Name of the landmark model ('none' without one), for logs and reports. */
  get landmarkModel(): string {
    return this.landmarks?.name ?? 'none';
  }

  /** Crops every face of one image (the landmarks of all of them in one batch). */
  async crop(
    image: GrayImage,
    faces: readonly FaceRegion[],
    options: CropOptions = {},
  ): Promise<CroppedFace[]> {
    const g = this.geometry;
    if (g.kind === 'box') {
      return faces.map((face) => ({
        region: face,
        input: preprocessFace(image, { box: face.box }, g),
        chip: null,
        alignment: 'box' as const,
      }));
    }
    const found = this.landmarks
      ? await this.landmarks.locate(
          image,
          faces.map((f) => f.box),
          options,
        )
      : null;
    return faces.map((face, i) => {
      const lm = found?.[i];
      // The same plausibility rule the quality gate and enrollment apply (src/vision/face-rules.ts).
      const problem: AlignmentFallback | null = !lm
        ? 'no_landmark_model'
        : implausibleLandmarks(face.box, lm) === null
          ? null
          : 'implausible_landmarks';
      const five = problem === null && lm ? lm.five : fiveFromBox(face.box);
      const t =
        problem === null && lm
          ? chipTransformFor(lm, CANONICAL_CHIP, g.fit)
          : chipTransform(five, CANONICAL_CHIP);
      const chipImage = warpSimilarity(image, t, CANONICAL_CHIP.size, CANONICAL_CHIP.size);
      const region: FaceRegion =
        problem === null && lm ? { box: face.box, landmarks: lm } : { box: face.box };
      return {
        region,
        input: modelInputFromChip(chipImage, CANONICAL_CHIP, g),
        chip: { image: chipImage, five: fiveInChip(five, t) },
        alignment: problem === null ? 'landmarks' : 'box',
        ...(problem === null ? {} : { fallback: problem }),
      };
    });
  }

  /**
   * The main face of a photo: crops every detector box (largest first, as the detector
   * returns them) and takes the largest one aligned on plausible landmarks; the largest box
   * when none is. A Haar false positive larger than the real face (a shirt, a textured
   * background: measured on realfaces-dev, 2 of 154 photos) gets landmarks that collapse or
   * make no face (face-rules' implausibleLandmarks) and is passed over. Null without boxes,
   * and with `requireLandmarks` when no box has plausible landmarks (boxes of a detector
   * retry, more prone to false positives: detectWithTurnedRetry).
   */
  async cropMain(
    image: GrayImage,
    boxes: readonly Box[],
    options: { readonly requireLandmarks?: boolean } = {},
  ): Promise<CroppedFace | null> {
    if (boxes.length === 0) return null;
    const faces = await this.crop(
      image,
      boxes.map((box) => ({ box })),
    );
    return faces.find((f) => f.alignment === 'landmarks') ?? (options.requireLandmarks ? null : faces[0]);
  }

  /** Frees the landmark model (the cropper owns it). */
  dispose(): void {
    this.landmarks?.dispose?.();
  }

  /**
   * A ready face crop (a dataset image that is all face, e.g. Olivetti): the whole image is
   * the box.
   */
  async cropWhole(image: GrayImage): Promise<CroppedFace> {
    const box = { x: 0, y: 0, width: image.width, height: image.height };
    if (this.geometry.kind === 'box') {
      // Box models were trained on ready crops resampled whole (no margins).
      return {
        region: { box },
        input: preprocessFace(image, null, this.geometry),
        chip: null,
        alignment: 'box',
      };
    }
    const [face] = await this.crop(image, [{ box }]);
    return face;
  }
}
