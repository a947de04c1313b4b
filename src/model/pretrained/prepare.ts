import type { FaceDetector } from '../../vision/detector.js';
import type { EyeFinder } from '../../vision/eyes.js';
import type { Box, FaceRegion, GrayImage, Point } from '../../vision/image.js';
import { preprocessFace, type PreprocessOptions } from '../../vision/preprocess.js';

/** Preprocessing of a pretrained backbone: the usual box crop options, plus eye alignment. */
export interface PretrainedPreprocess extends PreprocessOptions {
  /** Eye targets (fractions of size); null = never align (plain box crops). */
  readonly align: { readonly leftEye: Point; readonly rightEye: Point } | null;
}

export interface PreparedFace {
  readonly face: GrayImage;
  /** False when the face was not aligned (no eyes found, or alignment off): the plain box. */
  readonly aligned: boolean;
}

/**
 * One face for a pretrained backbone: aligned on its eyes when they were found and the
 * model aligns. Otherwise the plain detector box, framed like an aligned face (the eyes a
 * typical Haar box implies, not levelled), or for face=null the whole image through the
 * one preprocessing function — flagged `aligned: false`.
 */
export function preparePretrainedFace(
  image: GrayImage,
  face: FaceRegion | null,
  options: PretrainedPreprocess,
): PreparedFace {
  return {
    face: preprocessFace(image, face, options),
    aligned: face?.eyes !== undefined && options.align !== null,
  };
}

export interface FaceLocator {
  /** Haar face detector; null treats every image as a ready crop. */
  readonly detector: FaceDetector | null;
  /** Eye finder; null never aligns. */
  readonly eyes: EyeFinder | null;
}

/**
 * Where the face is in a dataset image. `photo`: the largest detected face, or null when
 * there is none. `crop` (Olivetti-like ready crops): the image itself is the face; the
 * eyes are searched in the whole image.
 */
export async function locateFace(
  image: GrayImage,
  locator: FaceLocator,
  kind: 'photo' | 'crop',
): Promise<FaceRegion | null | 'none'> {
  let box: Box | null = null;
  if (kind === 'photo') {
    if (!locator.detector) throw new Error('photos need a face detector');
    const boxes = await locator.detector.detect(image);
    if (boxes.length === 0) return 'none';
    box = boxes[0];
  }
  const searchBox = box ?? { x: 0, y: 0, width: image.width, height: image.height };
  const eyes = locator.eyes ? (await locator.eyes.find(image, searchBox)).eyes : null;
  if (box === null) return eyes ? { box: searchBox, eyes } : null;
  return eyes ? { box, eyes } : { box };
}
