import sharp from 'sharp';
import type { Embedder } from '../model/embedder.js';
import type { FaceDetector } from '../vision/detector.js';
import { createGrayImage, type Box, type FaceRegion, type GrayImage } from '../vision/image.js';
import { preprocessFace, type PreprocessOptions } from '../vision/preprocess.js';
import type { Logger } from '../util/log.js';
import { EnrollmentError } from './errors.js';
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
  /**
   * THE preprocessing: pass the same function the live loop uses (so enrollment crops are
   * made exactly like live crops), or options for `preprocessFace`.
   */
  readonly preprocess: PreprocessOptions | FacePreprocessor;
  readonly limits: PhotoLimits;
  readonly logger: Logger;
  /**
   * Optional: the face region (e.g. with eyes for alignment) of the one face found, as the
   * live loop locates it. Without it the preprocess gets `{ box }`.
   */
  readonly locate?: (image: GrayImage, box: Box) => Promise<FaceRegion>;
}

export type FacePreprocessor = (image: GrayImage, face: FaceRegion) => GrayImage;

/** One enrolled photo: the normalised crop (kept so embeddings can be recomputed) and its embedding. */
export interface EnrolledFace {
  readonly crop: GrayImage;
  readonly embedding: Float32Array;
  /** Where the face was, in the coordinates of the working-size image (for logs/audit). */
  readonly box: Box;
}

export { sniffPhotoFormat, type PhotoFormat } from './photo-format.js';

/**
 * Turns an enrollment photo into a gallery entry: validate → decode to gray → detect
 * exactly one face → the shared `preprocessFace` → embed. Shares the detector and
 * embedder objects with the live loop, so a face is enrolled exactly as it will be seen.
 */
export class PhotoEnroller {
  private readonly log: Logger;
  private readonly preprocess: FacePreprocessor;

  constructor(private readonly deps: PhotoEnrollerDeps) {
    this.log = deps.logger.child({ module: 'photo-enroller' });
    const pre = deps.preprocess;
    if (typeof pre === 'function') {
      this.preprocess = pre;
    } else {
      if (pre.size !== deps.embedder.inputSize) {
        throw new RangeError(
          `preprocess size ${pre.size} does not match the model input ${deps.embedder.inputSize}`,
        );
      }
      this.preprocess = (image, face) => preprocessFace(image, face, pre);
    }
  }

  /** Validates and decodes a photo to one gray channel at working size. Throws EnrollmentError. */
  async decode(bytes: Uint8Array): Promise<GrayImage> {
    const { limits } = this.deps;
    if (bytes.length > limits.maxImageBytes) {
      throw new EnrollmentError('too_large', `photo is ${bytes.length} bytes, limit ${limits.maxImageBytes}`);
    }
    const format = sniffPhotoFormat(bytes);
    if (format === null) throw new EnrollmentError('not_an_image', 'photo is not a JPEG or PNG');

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
      throw new EnrollmentError('not_an_image', `photo header does not decode: ${(err as Error).message}`);
    }
    if (
      width > limits.maxImageDimension ||
      height > limits.maxImageDimension ||
      width * height > limits.maxImagePixels
    ) {
      throw new EnrollmentError(
        'image_too_big',
        `photo declares ${width}x${height}, limits ${limits.maxImageDimension} px per side and ${limits.maxImagePixels} pixels`,
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
      return createGrayImage(
        info.width,
        info.height,
        new Uint8Array(data.buffer, data.byteOffset, data.length),
      );
    } catch (err) {
      if (err instanceof EnrollmentError) throw err;
      throw new EnrollmentError('not_an_image', `photo does not decode: ${(err as Error).message}`);
    }
  }

  /** Finds exactly one face and returns its preprocessed crop. */
  async cropFace(image: GrayImage): Promise<{ crop: GrayImage; box: Box }> {
    const boxes = distinctFaces(await this.deps.detector.detect(image));
    if (boxes.length === 0) throw new EnrollmentError('no_face', 'no face found in the photo');
    if (boxes.length > 1) {
      throw new EnrollmentError(
        'several_faces',
        `${boxes.length} faces found; an enrollment photo must show one person`,
      );
    }
    const box = boxes[0];
    const region = this.deps.locate ? await this.deps.locate(image, box) : { box };
    const crop = this.preprocess(image, region);
    if (crop.width !== this.deps.embedder.inputSize || crop.height !== this.deps.embedder.inputSize) {
      throw new RangeError(
        `preprocess made a ${crop.width}x${crop.height} crop; the model takes ${this.deps.embedder.inputSize}`,
      );
    }
    return { crop, box };
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
    const embeddings = await this.deps.embedder.embed(crops.map((c) => c.crop));
    this.log.debug({ photos: photos.length }, 'photos embedded');
    return crops.map((c, i) => ({ crop: c.crop, box: c.box, embedding: embeddings[i] }));
  }

  private async eachPhoto<T, R>(items: readonly T[], step: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = [];
    for (const [index, item] of items.entries()) {
      try {
        out.push(await step(item));
      } catch (err) {
        if (err instanceof EnrollmentError && items.length > 1) {
          throw new EnrollmentError(err.code, `photo ${index + 1} of ${items.length}: ${err.message}`);
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
