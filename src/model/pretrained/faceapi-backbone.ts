import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { parseManifest } from '../weights-manifest.js';

/**
 * The face-api.js face recognition network (a port of dlib's ResNet-34-like face
 * descriptor, 128-d, trained on ~3 million faces) run with our own TensorFlow.js from the
 * weight files on disk: no `@vladmandic/face-api` runtime (it wants tfjs-node), no fetch.
 *
 * Input: square gray faces, `FACEAPI_INPUT_SIZE` px, values 0..255. The network was trained
 * on RGB; a gray face is the same value in all three channels, so the first convolution's
 * filters are summed over the colour axis once at load time (exact, because that layer
 * uses 'valid' padding) — the network then takes one channel. The batch-norm "scale"
 * layers are folded into the convolutions the same way.
 */
export const FACEAPI_INPUT_SIZE = 150;
export const FACEAPI_DIMENSION = 128;
/** Channel layout the original network expects; we feed gray replicated (folded). */
export const FACEAPI_CHANNELS = 'gray→rgb (replicated, folded into the first convolution)';
const MEAN_RGB = [122.782, 117.001, 104.298] as const;

export interface BackboneFiles {
  /** `<name>-weights_manifest.json` in the tfjs weights-manifest format. */
  readonly manifestPath: string;
  /** Folder the manifest's `paths` are relative to. */
  readonly weightsDir: string;
  /** Expected sha256 of the concatenated weight files; checked when given. */
  readonly sha256?: string;
}

interface FoldedConv {
  readonly filters: tf.Tensor4D;
  readonly bias: tf.Tensor1D;
}

interface Residual {
  readonly conv1: FoldedConv;
  readonly conv2: FoldedConv;
}

interface FoldedParts {
  readonly stem: FoldedConv;
  readonly blocks: Residual[];
  readonly fc: tf.Tensor2D;
}

const RESIDUAL_LAYERS = [
  ['conv32_1', false],
  ['conv32_2', false],
  ['conv32_3', false],
  ['conv64_down', true],
  ['conv64_1', false],
  ['conv64_2', false],
  ['conv64_3', false],
  ['conv128_down', true],
  ['conv128_1', false],
  ['conv128_2', false],
  ['conv256_down', true],
  ['conv256_1', false],
  ['conv256_2', false],
  ['conv256_down_out', true],
] as const;

export class FaceApiBackbone {
  readonly inputSize = FACEAPI_INPUT_SIZE;
  readonly dimension = FACEAPI_DIMENSION;
  readonly channels = FACEAPI_CHANNELS;
  private disposed = false;

  private constructor(
    /** sha256 of the weight bytes: part of every model id built on this backbone. */
    readonly weightsSha256: string,
    private readonly stem: FoldedConv,
    private readonly blocks: readonly Residual[],
    private readonly fc: tf.Tensor2D,
  ) {}

  static async load(files: BackboneFiles): Promise<FaceApiBackbone> {
    const manifest = parseManifest(
      JSON.parse(await readFile(files.manifestPath, 'utf8')),
      files.manifestPath,
    );
    const buffers = await Promise.all(manifest.paths.map((p) => readFile(join(files.weightsDir, p))));
    const bytes = Buffer.concat(buffers);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (files.sha256 !== undefined && files.sha256 !== sha256) {
      throw new Error(
        `backbone weights ${files.manifestPath}: sha256 ${sha256} does not match the expected ${files.sha256}`,
      );
    }
    const arrayBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const raw = tf.io.decodeWeights(arrayBuffer, manifest.weights);
    try {
      // tidy frees the raw and intermediate tensors; the returned (folded) ones are kept.
      const parts = tf.tidy(() => {
        const take = (name: string, rank: number): tf.Tensor => {
          const t = raw[name];
          if (t === undefined) throw new Error(`backbone weights: missing ${name}`);
          if (t.rank !== rank)
            throw new Error(`backbone weights: ${name} has rank ${t.rank}, expected ${rank}`);
          return t;
        };
        const folded = (prefix: string): FoldedConv => {
          const filters = take(`${prefix}/conv/filters`, 4) as tf.Tensor4D;
          const bias = take(`${prefix}/conv/bias`, 1) as tf.Tensor1D;
          const scale = take(`${prefix}/scale/weights`, 1) as tf.Tensor1D;
          const shift = take(`${prefix}/scale/biases`, 1) as tf.Tensor1D;
          // (conv(x, W) + b) * s + t  ==  conv(x, W * s) + (b * s + t)
          return {
            filters: tf.keep(tf.mul(filters, scale)),
            bias: tf.keep(tf.add(tf.mul(bias, scale), shift)),
          };
        };
        const rgbStem = folded('conv32_down');
        if (rgbStem.filters.shape[2] !== 3)
          throw new Error('backbone weights: first convolution must take 3 channels');
        // Gray replicated into RGB, minus the mean, over 255: sum the colour filters and move
        // the mean into the bias (valid padding: every output sees a full window).
        const meanPerChannel = tf.tensor4d([...MEAN_RGB], [1, 1, 3, 1]);
        const stemFilters = tf.keep(tf.div(tf.sum(rgbStem.filters, 2, true), 255) as tf.Tensor4D);
        const meanResponse = tf.div(tf.sum(tf.mul(rgbStem.filters, meanPerChannel), [0, 1, 2]), 255);
        const stem = {
          filters: stemFilters,
          bias: tf.keep(tf.sub(rgbStem.bias, meanResponse) as tf.Tensor1D),
        };
        rgbStem.filters.dispose();
        rgbStem.bias.dispose();
        const blocks = RESIDUAL_LAYERS.map(([name]) => ({
          conv1: folded(`${name}/conv1`),
          conv2: folded(`${name}/conv2`),
        }));
        const fc = tf.keep(tf.clone(take('fc', 2) as tf.Tensor2D));
        if (fc.shape[1] !== FACEAPI_DIMENSION)
          throw new Error(`backbone weights: fc has ${fc.shape[1]} outputs, expected 128`);
        const result: FoldedParts = { stem, blocks, fc };
        return result as unknown as tf.TensorContainer;
      }) as unknown as FoldedParts;
      return new FaceApiBackbone(sha256, parts.stem, parts.blocks, parts.fc);
    } finally {
      for (const t of Object.values(raw)) t.dispose();
    }
  }

  /**
   * Faces [n, 150, 150, 1] with values 0..255 → descriptors [n, 128]. Call inside
   * tf.tidy (the caller owns the result).
   */
  forward(faces: tf.Tensor4D): tf.Tensor2D {
    if (this.disposed) throw new Error('backbone is disposed');
    const [, h, w, c] = faces.shape;
    if (h !== this.inputSize || w !== this.inputSize || c !== 1) {
      throw new RangeError(
        `backbone input must be [n, ${this.inputSize}, ${this.inputSize}, 1], got [${faces.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      let out = convLayer(faces, this.stem, 2, true, 'valid');
      out = tf.maxPool(out, 3, 2, 'valid');
      RESIDUAL_LAYERS.forEach(([, down], i) => {
        out = down ? residualDown(out, this.blocks[i]) : residual(out, this.blocks[i]);
      });
      const pooled = tf.mean(out, [1, 2]) as tf.Tensor2D;
      return tf.matMul(pooled, this.fc);
    });
  }

  /** Number of weights (for the report's model size). */
  get parameterCount(): number {
    const convs = [this.stem, ...this.blocks.flatMap((b) => [b.conv1, b.conv2])];
    return convs.reduce((n, cv) => n + cv.filters.size + cv.bias.size, this.fc.size);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const cv of [this.stem, ...this.blocks.flatMap((b) => [b.conv1, b.conv2])]) {
      cv.filters.dispose();
      cv.bias.dispose();
    }
    this.fc.dispose();
  }
}

function convLayer(
  x: tf.Tensor4D,
  p: FoldedConv,
  stride: 1 | 2,
  relu: boolean,
  padding: 'same' | 'valid',
): tf.Tensor4D {
  const out = tf.add(tf.conv2d(x, p.filters, stride, padding), p.bias) as tf.Tensor4D;
  return relu ? tf.relu(out) : out;
}

function residual(x: tf.Tensor4D, p: Residual): tf.Tensor4D {
  const out = convLayer(convLayer(x, p.conv1, 1, true, 'same'), p.conv2, 1, false, 'same');
  return tf.relu(tf.add(out, x)) as tf.Tensor4D;
}

/** Stride-2 residual block; the shortcut is a 2x2 average pool, zero-padded to fit. */
function residualDown(x: tf.Tensor4D, p: Residual): tf.Tensor4D {
  let out = convLayer(convLayer(x, p.conv1, 2, true, 'valid'), p.conv2, 1, false, 'same');
  let pooled = tf.avgPool(x, 2, 2, 'valid');
  if (pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2]) {
    // As the original: the conv path is one row/column short; pad it with zeros.
    out = tf.pad(out, [
      [0, 0],
      [0, pooled.shape[1] - out.shape[1]],
      [0, pooled.shape[2] - out.shape[2]],
      [0, 0],
    ]);
  }
  if (pooled.shape[3] !== out.shape[3]) {
    pooled = tf.pad(pooled, [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, out.shape[3] - pooled.shape[3]],
    ]);
  }
  return tf.relu(tf.add(pooled, out)) as tf.Tensor4D;
}
