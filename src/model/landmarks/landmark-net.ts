import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseManifest } from '../weights-manifest.js';
import type { GrayImage } from '../../vision/image.js';

/**
 * face-api.js's 68-point facial-landmark network (iBUG 300-W point order), run with our
 * own TensorFlow.js from the weight files on disk: no face-api runtime, no fetch.
 *
 * Architecture (face-api.js FaceLandmark68Net / FaceLandmark68TinyNet, MIT, Vincent
 * Mühler): input 112x112 RGB minus the ImageNet-ish mean RGB (122.782, 117.001, 104.298),
 * over 255; dense blocks of depthwise-separable convolutions (4 blocks of 4 for the full
 * net, 3 blocks of 3 for the tiny one); average pool; one fully connected layer to 136
 * values = 68 (x, y) pairs as fractions of the input square.
 *
 * A gray face is fed as the same value in all three channels (the first convolution uses
 * 'same' padding, so the colour filters are not folded: the border would differ).
 */
export const LANDMARK_INPUT_SIZE = 112;
export const LANDMARK_POINTS = 68;
const MEAN_RGB = [122.782, 117.001, 104.298] as const;

export type LandmarkVariant = 'faceapi-68' | 'faceapi-68-tiny';

export interface LandmarkNetFiles {
  /** `<name>-weights_manifest.json` in the tfjs weights-manifest format. */
  readonly manifestPath: string;
  /** Folder the manifest's `paths` are relative to (default: the manifest's folder). */
  readonly weightsDir?: string;
  /** Expected sha256 of the concatenated weight files; checked when given. */
  readonly sha256?: string;
}

interface Conv {
  readonly filters: tf.Tensor4D;
  readonly bias: tf.Tensor1D;
}

interface SeparableConv {
  readonly depthwise: tf.Tensor4D;
  readonly pointwise: tf.Tensor4D;
  readonly bias: tf.Tensor1D;
}

interface DenseBlock {
  readonly conv0: Conv | SeparableConv;
  readonly rest: readonly SeparableConv[];
}

export class FaceLandmarkNet {
  readonly inputSize = LANDMARK_INPUT_SIZE;
  private disposed = false;

  private constructor(
    readonly variant: LandmarkVariant,
    /** sha256 of the weight bytes (provenance; part of the model id of aligned embedders). */
    readonly weightsSha256: string,
    private readonly blocks: readonly DenseBlock[],
    private readonly fc: { readonly weights: tf.Tensor2D; readonly bias: tf.Tensor1D },
    private readonly tensors: readonly tf.Tensor[],
  ) {}

  /**
   * Loads the weights; the variant follows from the weight names (dense3 present: the full
   * net). Throws on a missing/odd tensor or a sha256 mismatch.
   */
  static async load(files: LandmarkNetFiles): Promise<FaceLandmarkNet> {
    const json = JSON.parse(await readFile(files.manifestPath, 'utf8')) as unknown;
    const { paths, weights } = parseManifest(json, files.manifestPath);
    const dir = files.weightsDir ?? join(files.manifestPath, '..');
    const bytes = Buffer.concat(await Promise.all(paths.map((p) => readFile(join(dir, p)))));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (files.sha256 !== undefined && files.sha256 !== sha256) {
      throw new Error(
        `landmark weights ${files.manifestPath}: sha256 ${sha256} does not match the expected ${files.sha256}`,
      );
    }
    const raw = tf.io.decodeWeights(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      weights,
    );
    const used = new Set<string>();
    const take = <T extends tf.Tensor>(name: string, rank: number): T => {
      const t = raw[name];
      if (t === undefined) throw new Error(`landmark weights: missing ${name}`);
      if (t.rank !== rank) throw new Error(`landmark weights: ${name} has rank ${t.rank}, expected ${rank}`);
      used.add(name);
      return t as T;
    };
    try {
      const full = raw['dense3/conv0/depthwise_filter'] !== undefined;
      const variant: LandmarkVariant = full ? 'faceapi-68' : 'faceapi-68-tiny';
      const perBlock = full ? 4 : 3;
      const separable = (prefix: string): SeparableConv => ({
        depthwise: take(`${prefix}/depthwise_filter`, 4),
        pointwise: take(`${prefix}/pointwise_filter`, 4),
        bias: take(`${prefix}/bias`, 1),
      });
      const blocks: DenseBlock[] = [];
      for (let b = 0; b < perBlock; b++) {
        const conv0: Conv | SeparableConv =
          b === 0
            ? { filters: take(`dense0/conv0/filters`, 4), bias: take(`dense0/conv0/bias`, 1) }
            : separable(`dense${b}/conv0`);
        const rest: SeparableConv[] = [];
        for (let c = 1; c < perBlock; c++) rest.push(separable(`dense${b}/conv${c}`));
        blocks.push({ conv0, rest });
      }
      const fc = { weights: take<tf.Tensor2D>('fc/weights', 2), bias: take<tf.Tensor1D>('fc/bias', 1) };
      if (fc.weights.shape[1] !== LANDMARK_POINTS * 2)
        throw new Error(`landmark weights: fc has ${fc.weights.shape[1]} outputs, expected 136`);
      if ((blocks[0].conv0 as Conv).filters.shape[2] !== 3)
        throw new Error('landmark weights: first convolution must take 3 channels');
      for (const [name, t] of Object.entries(raw)) if (!used.has(name)) t.dispose();
      return new FaceLandmarkNet(
        variant,
        sha256,
        blocks,
        fc,
        [...used].map((n) => raw[n]),
      );
    } catch (err) {
      for (const t of Object.values(raw)) t.dispose();
      throw err;
    }
  }

  /**
   * Gray face squares (each `inputSize` x `inputSize`, values 0..255) → per face 68 points
   * as [x0, y0, x1, y1, ...], fractions of the square (0..1, may stray slightly outside).
   */
  async predict(faces: readonly GrayImage[]): Promise<Float32Array[]> {
    if (this.disposed) throw new Error('landmark net is disposed');
    if (faces.length === 0) return [];
    const size = this.inputSize;
    const pixels = new Float32Array(faces.length * size * size);
    faces.forEach((f, i) => {
      if (f.width !== size || f.height !== size)
        throw new RangeError(`landmark input must be ${size}x${size}, got ${f.width}x${f.height}`);
      pixels.set(f.data, i * size * size);
    });
    const out = tf.tidy(() => this.forward(tf.tensor4d(pixels, [faces.length, size, size, 1])));
    try {
      const data = (await out.data()) as Float32Array;
      const n = LANDMARK_POINTS * 2;
      return faces.map((_, i) => data.slice(i * n, (i + 1) * n));
    } finally {
      out.dispose();
    }
  }

  /** [n, 112, 112, 1] gray 0..255 → [n, 136]. Call inside tf.tidy. */
  forward(gray: tf.Tensor4D): tf.Tensor2D {
    const mean = tf.tensor1d([...MEAN_RGB]);
    let x = tf.div(tf.sub(tf.tile(gray, [1, 1, 1, 3]), mean), 255) as tf.Tensor4D;
    const tiny = this.variant === 'faceapi-68-tiny';
    for (const [i, block] of this.blocks.entries()) x = denseBlock(x, block, i === 0);
    x = tf.avgPool(x, tiny ? 14 : 7, 2, 'valid');
    const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
    return tf.add(tf.matMul(flat, this.fc.weights), this.fc.bias) as tf.Tensor2D;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tensors) t.dispose();
  }
}

function separableConv(x: tf.Tensor4D, p: SeparableConv, stride: 1 | 2): tf.Tensor4D {
  return tf.add(tf.separableConv2d(x, p.depthwise, p.pointwise, stride, 'same'), p.bias) as tf.Tensor4D;
}

/** face-api.js denseBlock3/denseBlock4: each conv sees the sum of all earlier outputs. */
function denseBlock(x: tf.Tensor4D, block: DenseBlock, first: boolean): tf.Tensor4D {
  const c0 = block.conv0;
  const out1 = tf.relu(
    first
      ? tf.add(tf.conv2d(x, (c0 as Conv).filters, 2, 'same'), c0.bias)
      : separableConv(x, c0 as SeparableConv, 2),
  ) as tf.Tensor4D;
  let sum: tf.Tensor4D = out1;
  let input: tf.Tensor4D = out1;
  for (const conv of block.rest) {
    const out = separableConv(input, conv, 1);
    sum = tf.add(sum, out) as tf.Tensor4D;
    input = tf.relu(sum) as tf.Tensor4D;
  }
  return input;
}
