import sharp from 'sharp';
import type { Embedder } from '../model/embedder.js';
import { DEFAULT_QUALITY_CONFIG } from '../vision/config.js';
import { detectWithTurnedRetry, type FaceDetector } from '../vision/detector.js';
import { checkFace, type FaceRuleFailure, type FaceRulesConfig } from '../vision/face-rules.js';
import type { AlignmentFallback, FaceCropper } from '../vision/face-cropper.js';
import { createGrayImage, type Box, type GrayImage } from '../vision/image.js';
import type { Logger } from '../util/log.js';
import { EnrollmentError, type EnrollmentErrorCode } from './errors.js';
import { sniffPhotoFormat } from './photo-format.js';

/** Limits that keep a hostile photo from exhausting memory or CPU. */
export interface PhotoLimits {
  /** Largest encoded photo in bytes. */
  readonly maxImageBytes: number;
  /** Largest width*height the header may declare. */
  readonly maxImagePixels: number;
  /** Largest width or height the header may declare. */
  readonly maxImageDimension: number;
  /** The decoded photo is shrunk to this longer side before detection. */
  readonly workingMaxSide: number;
}

export interface PhotoEnrollerDeps {
  readonly detector: FaceDetector;
  readonly embedder: Embedder;
  /** THE face path: the same FaceCropper object the live loop uses (so a photo is cut as a live face). */
  readonly cropper: Pick<FaceCropper, 'crop' | 'geometry'>;
  readonly limits: PhotoLimits;
  readonly logger: Logger;
  /**
   * THE face rules of the live quality gate (`vision.quality`: minFacePixels, minSharpness,
   * maxRollDeg, maxYawDeg), so a face the door would refuse live is never enrolled.
   * Default: the configuration defaults.
   */
  readonly rules?: FaceRulesConfig;
}

/**
 * Borders tried in turn when no face is found (width on each side as a fraction of the
 * photo's longer side): a face that fills the photo (an ID-badge crop, forehead and chin cut
 * off) leaves the Haar cascade no room for its window. Measured on ORL faces cut that tight
 * and enlarged 4x (80 photos, forehead cut at 40/112 rows, chin at 10, sides 12 px): 8 found
 * as they are, 70 with these four tries; the replicated and the plain (mean edge gray)
 * border each find faces the other misses.
 */
export const RETRY_PADDING: readonly { readonly fraction: number; readonly border: PadBorder }[] = [
  { fraction: 0.25, border: 'replicate' },
  { fraction: 0.25, border: 'constant' },
  { fraction: 0.6, border: 'replicate' },
  { fraction: 0.6, border: 'constant' },
];

const NOT_AN_IMAGE_HINT =
  'send the photo as a complete JPEG or PNG file (export HEIC, WebP or RAW photos to JPEG first)';

const NO_FACE_HINT =
  'use a sharp, frontal, well-lit photo of the whole head with some background around it; a face that fills the whole photo (an ID-badge crop with forehead or chin cut off) may not be found, nor a face in profile, in the dark or covered';

/** Face rule reason → enrollment error code (public contract, docs/enrollment.md). */
const RULE_CODES: Record<FaceRuleFailure['reason'], EnrollmentErrorCode> = {
  too_small: 'face_too_small',
  blurry: 'face_blurry',
  tilted: 'face_tilted',
  turned: 'face_turned',
  landmarks_implausible: 'face_landmarks_implausible',
};

/** One enrolled photo: what the gallery keeps (so embeddings can be recomputed) and its embedding. */
export interface EnrolledFace {
  /**
   * The stored face: the canonical aligned chip (CANONICAL_CHIP, 220x220) for aligned models,
   * from which any later model's crop can be cut; the model's box crop otherwise.
   */
  readonly crop: GrayImage;
  readonly embedding: Float32Array;
  /** Where the face was, in the coordinates of the working-size image (for logs/audit). */
  readonly box: Box;
  /** `landmarks`: aligned on the face's own landmarks; `box`: the fallback (see `fallback`). */
  readonly alignment: 'landmarks' | 'box';
  readonly fallback?: AlignmentFallback;
}

export { sniffPhotoFormat, type PhotoFormat } from './photo-format.js';

/**
 * Turns an enrollment photo into a gallery entry: validate → decode to gray → detect
 * exactly one face → the shared `preprocessFace` → embed. Shares the detector and
 * embedder objects with the live loop, so a face is enrolled exactly as it will be seen.
 */
export class PhotoEnroller {
  private readonly log: Logger;
  private readonly rules: FaceRulesConfig;
  /** Decoded photo → its size before shrinking to the working size (for messages). */
  private readonly originalSize = new WeakMap<GrayImage, { width: number; height: number }>();

  constructor(private readonly deps: PhotoEnrollerDeps) {
    this.log = deps.logger.child({ module: 'photo-enroller' });
    this.rules = deps.rules ?? DEFAULT_QUALITY_CONFIG;
    if (deps.cropper.geometry.size !== deps.embedder.inputSize) {
      throw new RangeError(
        `cropper makes ${deps.cropper.geometry.size} px crops; the model takes ${deps.embedder.inputSize}`,
      );
    }
  }

  /** Validates and decodes a photo to one gray channel at working size. Throws EnrollmentError. */
  async decode(bytes: Uint8Array): Promise<GrayImage> {
    const { limits } = this.deps;
    if (bytes.length > limits.maxImageBytes) {
      throw new EnrollmentError(
        'too_large',
        `photo is ${bytes.length} bytes, limit ${limits.maxImageBytes}`,
        {
          hint: `save the photo smaller (at most ${limits.maxImageBytes} bytes, e.g. JPEG quality 90 at 1024 px): the door works at ${limits.workingMaxSide} px anyway`,
          details: { measured: bytes.length, limit: limits.maxImageBytes },
        },
      );
    }
    const format = sniffPhotoFormat(bytes);
    if (format === null)
      throw new EnrollmentError('not_an_image', 'photo is not a JPEG or PNG', { hint: NOT_AN_IMAGE_HINT });

    // Header first: reject bombs by their declared size before any pixel is decoded.
    let width: number;
    let height: number;
    try {
      const meta = await sharp(bytes, { limitInputPixels: false, failOn: 'none' }).metadata();
      if (meta.format !== format || !meta.width || !meta.height)
        throw new Error(`decoder saw ${meta.format}`);
      width = meta.width;
      height = meta.height;
    } catch (err) {
      throw new EnrollmentError('not_an_image', `photo header does not decode: ${(err as Error).message}`, {
        hint: NOT_AN_IMAGE_HINT,
      });
    }
    if (
      width > limits.maxImageDimension ||
      height > limits.maxImageDimension ||
      width * height > limits.maxImagePixels
    ) {
      throw new EnrollmentError(
        'image_too_big',
        `photo declares ${width}x${height}, limits ${limits.maxImageDimension} px per side and ${limits.maxImagePixels} pixels`,
        {
          hint: `resize the photo to at most ${limits.workingMaxSide} px on its longer side before sending it`,
        },
      );
    }

    try {
      // limitInputPixels is a second guard inside libvips; failOn 'error' refuses truncated data.
      const { data, info } = await sharp(bytes, {
        limitInputPixels: limits.maxImagePixels,
        failOn: 'error',
        pages: 1,
      })
        .rotate() // honour EXIF orientation: phones store portraits sideways
        .resize({
          width: limits.workingMaxSide,
          height: limits.workingMaxSide,
          fit: 'inside',
          withoutEnlargement: true,
        })
        .flatten({ background: '#ffffff' })
        .grayscale()
        .extractChannel(0)
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 1) throw new Error(`expected 1 channel, got ${info.channels}`);
      const image = createGrayImage(
        info.width,
        info.height,
        new Uint8Array(data.buffer, data.byteOffset, data.length),
      );
      this.originalSize.set(image, { width, height });
      return image;
    } catch (err) {
      if (err instanceof EnrollmentError) throw err;
      throw new EnrollmentError('not_an_image', `photo does not decode: ${(err as Error).message}`, {
        hint: NOT_AN_IMAGE_HINT,
      });
    }
  }

  /**
   * Finds exactly one face that passes the shared face rules and cuts it with THE
   * FaceCropper: the model's input and what the gallery stores (the canonical chip). When no face is found the photo is padded with a replicated border and searched
   * again (RETRY_PADDING); `box` is then in the padded image's coordinates, where the crop
   * was cut. Throws EnrollmentError (no_face, several_faces, face_too_small, face_blurry,
   * face_tilted, face_turned, face_landmarks_implausible) with a hint. A face whose
   * landmarks the cropper judged implausible is refused (face_landmarks_implausible): a
   * template must be aligned on its own landmarks.
   */
  async cropFace(image: GrayImage): Promise<{
    input: GrayImage;
    crop: GrayImage;
    box: Box;
    alignment: 'landmarks' | 'box';
    fallback?: AlignmentFallback;
  }> {
    const found = await this.findFace(image);
    const [face] = await this.deps.cropper.crop(found.image, [{ box: found.box }]);
    if (face.fallback !== undefined && face.fallback !== 'no_landmark_model') {
      throw this.refusal(
        image,
        {
          reason: 'landmarks_implausible',
          detail: `the landmark model's points do not look like a face (${face.fallback})`,
          hint: 'use a sharp, frontal, well-lit photo of the whole face, nothing covering eyes, nose or mouth',
        },
        found.padded,
      );
    }
    const verdict = checkFace(found.image, face.region, this.rules);
    if (!verdict.ok) throw this.refusal(image, verdict, found.padded);
    const input = face.input;
    if (input.width !== this.deps.embedder.inputSize || input.height !== this.deps.embedder.inputSize) {
      throw new RangeError(
        `the cropper made a ${input.width}x${input.height} crop; the model takes ${this.deps.embedder.inputSize}`,
      );
    }
    return {
      input,
      crop: face.chip?.image ?? input,
      box: found.box,
      alignment: face.alignment,
      ...(face.fallback ? { fallback: face.fallback } : {}),
    };
  }

  /**
   * Exactly one face: in the photo, or (retries) in the photo with a border around it or turned
   * ±15°. Detector boxes whose landmarks are implausible (a false positive on a shirt or a
   * hand) are dropped before counting faces, so only a second *face* gives `several_faces`.
   */
  private async findFace(image: GrayImage): Promise<{ image: GrayImage; box: Box; padded: boolean }> {
    const { width, height } = image;
    if (width < this.rules.minFacePixels || height < this.rules.minFacePixels) {
      // Even a face filling the whole photo would be under the live minimum: no detection needed.
      const measured = Math.min(width, height);
      throw new EnrollmentError(
        'face_too_small',
        `the photo is only ${width}x${height} px: a face must be at least ${this.rules.minFacePixels} px wide`,
        {
          hint: `use a larger photo: the face at least ${this.rules.minFacePixels} px wide (photos are never enlarged: an enlarged face is a blurred template)`,
          details: { measured, limit: this.rules.minFacePixels, photo: { width, height } },
        },
      );
    }
    let searched = image;
    let boxes = distinctFaces(await this.deps.detector.detect(image));
    for (const { fraction, border } of RETRY_PADDING) {
      if (boxes.length > 0) break;
      searched = padImage(image, Math.round(fraction * Math.max(image.width, image.height)), border);
      boxes = distinctFaces(await this.deps.detector.detect(searched));
      if (boxes.length > 0)
        this.log.info({ padding: fraction, border }, 'face found after padding the photo');
    }
    let turned = false;
    if (boxes.length === 0) {
      // A head tilted beyond the frontal cascade's ~±10°: the photo turned ±15° (the same
      // retry the evaluation uses); only faces with plausible landmarks count (below).
      const retry = await detectWithTurnedRetry(this.deps.detector, image);
      if (retry.turned) {
        searched = image;
        boxes = distinctFaces(retry.boxes);
        turned = true;
      }
    }
    if (boxes.length === 0) {
      throw new EnrollmentError(
        'no_face',
        `no face found in the ${width}x${height} photo, also with a border added around it and turned ±15°`,
        { hint: NO_FACE_HINT },
      );
    }
    if (boxes.length > 1 || turned) {
      // Haar also fires on shirts, hands and wallpaper: a box whose landmarks do not span it
      // like a face's (the live gate's rule, face-rules.ts) is not a second person.
      const faces = await this.deps.cropper.crop(
        searched,
        boxes.map((box) => ({ box })),
      );
      const real = boxes.filter((_, i) => faces[i].alignment === 'landmarks');
      if (real.length !== boxes.length)
        this.log.info(
          { boxes: boxes.length, faces: real.length, turned },
          'detector boxes without plausible landmarks ignored',
        );
      // Without landmarks (no landmark model, or a box-crop model) nothing can be told
      // apart: every box counts (fails closed: several boxes stay several_faces).
      const judged = faces.some((f) => f.alignment === 'landmarks' || f.fallback === 'implausible_landmarks');
      if (!judged) real.splice(0, real.length, ...boxes);
      if (real.length === 0) {
        throw new EnrollmentError(
          'no_face',
          `no face with plausible landmarks found in the ${width}x${height} photo (${boxes.length} detector box(es) rejected)`,
          { hint: NO_FACE_HINT },
        );
      }
      boxes = real;
    }
    if (boxes.length > 1) {
      throw new EnrollmentError(
        'several_faces',
        `${boxes.length} faces found; an enrollment photo must show one person`,
        { hint: 'crop the photo to the one person, or use a photo with nobody else in it' },
      );
    }
    return { image: searched, box: boxes[0], padded: searched !== image };
  }

  private refusal(image: GrayImage, failure: FaceRuleFailure, padded: boolean): EnrollmentError {
    const original = this.originalSize.get(image);
    const shrunk = original && original.width !== image.width ? original.width / image.width : 1;
    let message: string;
    let hint = failure.hint;
    if (failure.reason === 'too_small') {
      message = `the face is ${failure.measured} px wide; the door needs at least ${failure.limit} px (the same minimum as for live faces)`;
      if (shrunk > 1) {
        message += ` — measured at the ${image.width}x${image.height} working size, about ${Math.round(failure.measured! * shrunk)} px in the ${original!.width}x${original!.height} photo`;
      }
      hint = `use a photo in which the face is at least ${failure.limit} px wide${shrunk > 1 ? ' after shrinking to enrollment.workingMaxSide (crop the photo around the head)' : ''}; photos are never enlarged, an enlarged small face is a blurred template`;
    } else {
      message = `face refused (${failure.reason}): ${failure.detail}`;
    }
    if (padded) message += ' (found after padding the photo)';
    this.log.info({ reason: failure.reason, detail: failure.detail }, 'photo refused by the face rules');
    return new EnrollmentError(RULE_CODES[failure.reason], message, {
      hint,
      details: {
        ...(failure.measured !== undefined ? { measured: failure.measured } : {}),
        ...(failure.limit !== undefined ? { limit: failure.limit } : {}),
      },
    });
  }

  /** One photo → one gallery entry. Throws EnrollmentError with a code on bad input. */
  async enrollPhoto(bytes: Uint8Array): Promise<EnrolledFace> {
    const [face] = await this.enrollPhotos([bytes]);
    return face;
  }

  /**
   * Several photos of one person. All must pass, or none is returned (an enrollment
   * with a silently dropped photo would surprise the admin). Embeds them in one batch.
   */
  async enrollPhotos(photos: readonly Uint8Array[]): Promise<EnrolledFace[]> {
    // Decode every photo before detecting any: cheap checks first, and a bad photo stops
    // the request before the shared detector spends time on the good ones.
    const images = await this.eachPhoto(photos, (bytes) => this.decode(bytes));
    const crops = await this.eachPhoto(images, (image) => this.cropFace(image));
    const embeddings = await this.deps.embedder.embed(crops.map((c) => c.input));
    this.log.debug({ photos: photos.length }, 'photos embedded');
    return crops.map((c, i) => ({
      crop: c.crop,
      box: c.box,
      embedding: embeddings[i],
      alignment: c.alignment,
      ...(c.fallback ? { fallback: c.fallback } : {}),
    }));
  }

  /**
   * One gray image already at working size (a camera frame, walk-up enrollment) → one
   * gallery entry, by the same face rules, crop and embedder as a photo. Throws
   * EnrollmentError (no_face, several_faces, face rule codes).
   */
  async enrollImage(image: GrayImage): Promise<EnrolledFace> {
    const c = await this.cropFace(image);
    const [embedding] = await this.deps.embedder.embed([c.input]);
    return {
      crop: c.crop,
      box: c.box,
      embedding,
      alignment: c.alignment,
      ...(c.fallback ? { fallback: c.fallback } : {}),
    };
  }

  private async eachPhoto<T, R>(items: readonly T[], step: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = [];
    for (const [index, item] of items.entries()) {
      try {
        out.push(await step(item));
      } catch (err) {
        if (err instanceof EnrollmentError && items.length > 1) {
          throw err.withContext(`photo ${index + 1} of ${items.length}`);
        }
        throw err;
      }
    }
    return out;
  }
}

/**
 * Haar sometimes reports one face twice, as two strongly overlapping boxes. Two people's
 * faces cannot overlap like that, so a box mostly inside a larger one (over half of its
 * own area) is the same face and is dropped; the larger box is kept.
 */
export function distinctFaces(boxes: readonly Box[]): Box[] {
  const bySize = [...boxes].sort((a, b) => b.width * b.height - a.width * a.height);
  const kept: Box[] = [];
  for (const box of bySize) {
    const area = box.width * box.height;
    const duplicate = kept.some((k) => {
      const w = Math.min(k.x + k.width, box.x + box.width) - Math.max(k.x, box.x);
      const h = Math.min(k.y + k.height, box.y + box.height) - Math.max(k.y, box.y);
      return w > 0 && h > 0 && (w * h) / area > 0.5;
    });
    if (!duplicate) kept.push(box);
  }
  return kept;
}

export type PadBorder = 'replicate' | 'constant';

/**
 * The photo with `pad` pixels of border on every side: `replicate` repeats the edge rows and
 * columns outwards (the forehead and chin continue); `constant` is the mean gray of the
 * photo's outermost rows and columns (a plain background).
 */
export function padImage(image: GrayImage, pad: number, border: PadBorder = 'replicate'): GrayImage {
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`padding must be a natural number, got ${pad}`);
  const { width, height, data } = image;
  const w = width + 2 * pad;
  const h = height + 2 * pad;
  const out = new Uint8Array(w * h);
  if (border === 'constant') {
    out.fill(edgeMean(image));
    for (let y = 0; y < height; y++) out.set(data.subarray(y * width, (y + 1) * width), (y + pad) * w + pad);
    return createGrayImage(w, h, out);
  }
  for (let y = 0; y < h; y++) {
    const sy = Math.min(height - 1, Math.max(0, y - pad)) * width;
    const row = y * w;
    out.fill(data[sy], row, row + pad);
    out.set(data.subarray(sy, sy + width), row + pad);
    out.fill(data[sy + width - 1], row + pad + width, row + w);
  }
  return createGrayImage(w, h, out);
}

function edgeMean(image: GrayImage): number {
  const { width, height, data } = image;
  let sum = 0;
  for (let x = 0; x < width; x++) sum += data[x] + data[(height - 1) * width + x];
  for (let y = 0; y < height; y++) sum += data[y * width] + data[y * width + width - 1];
  return Math.round(sum / (2 * width + 2 * height));
}
