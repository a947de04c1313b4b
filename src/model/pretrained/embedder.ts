import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../../util/log.js';
import { validateGeometry, type AlignedGeometry } from '../../vision/face-chip.js';
import type { GrayImage } from '../../vision/image.js';
import { chooseBackend, type BackendPreference } from '../backend.js';
import type { Embedder, SimilarityHead } from '../embedder.js';
import { FaceApiBackbone } from './faceapi-backbone.js';

/** The metadata file that marks a folder as a pretrained-backbone facegate model. */
export const PRETRAINED_METADATA_FILE = 'facegate-pretrained.json';
/** /2: `crop` (dlib chip geometry, landmark-aligned) replaced /1's eye-aligned `preprocess`. */
export const PRETRAINED_FORMAT = 'facegate-pretrained/2';

export interface PretrainedThresholds {
  /** The write-up's match threshold. */
  readonly match: number;
  /** False-accept rate <= maxFar on the training people's pairs. */
  readonly accept: number;
  /** The training equal-error point: below it a face is unknown. */
  readonly unknown?: number;
  readonly maxFar?: number;
}

export interface PretrainedModelMetadata {
  readonly format: typeof PRETRAINED_FORMAT;
  readonly name: string;
  readonly backbone: {
    readonly id: 'faceapi-resnet34-128';
    /** Weights manifest path, relative to the model folder. */
    readonly manifest: string;
    readonly sha256: string;
    readonly inputSize: number;
    readonly channels: string;
    readonly source: string;
    readonly license: string;
  };
  /** Row-major dim x dim float32 file relative to the model folder, or null. */
  readonly projection: string | null;
  readonly head: SimilarityHead;
  /** Similarity thresholds measured on the training people (see docs/backbones.md). */
  readonly thresholds: PretrainedThresholds;
  /** The input the backbone takes: an aligned face chip (see src/vision/face-chip.ts). */
  readonly crop: AlignedGeometry;
  readonly [key: string]: unknown;
}

export function parsePretrainedMetadata(raw: unknown, where: string): PretrainedModelMetadata {
  const m = raw as Partial<PretrainedModelMetadata> | null;
  if (!m || typeof m !== 'object' || m.format !== PRETRAINED_FORMAT)
    throw new Error(`${where}: not a ${PRETRAINED_FORMAT} model`);
  const bb = m.backbone;
  if (
    !bb ||
    bb.id !== 'faceapi-resnet34-128' ||
    typeof bb.manifest !== 'string' ||
    !/^[0-9a-f]{64}$/.test(String(bb.sha256))
  ) {
    throw new Error(`${where}: backbone must be faceapi-resnet34-128 with a manifest path and a sha256`);
  }
  if (bb.manifest.includes('..') || bb.manifest.startsWith('/'))
    throw new Error(`${where}: backbone manifest must stay inside the model folder`);
  if (
    m.projection !== null &&
    (typeof m.projection !== 'string' || m.projection.includes('..') || m.projection.startsWith('/'))
  ) {
    throw new Error(`${where}: projection must be null or a file inside the model folder`);
  }
  const head = m.head;
  if (!head || !Number.isFinite(head.weight) || !Number.isFinite(head.bias) || !(head.weight < 0)) {
    throw new Error(`${where}: head needs a finite negative weight and a finite bias`);
  }
  const t = m.thresholds;
  if (!t || !(t.match > 0 && t.match < 1) || !(t.accept > 0 && t.accept < 1))
    throw new Error(`${where}: thresholds must be in (0, 1)`);
  const c = m.crop;
  try {
    if (!c || c.kind !== 'aligned') throw new Error('crop must be an aligned chip geometry');
    validateGeometry(c);
    if (c.size !== bb.inputSize)
      throw new Error(`crop size ${c.size} must equal the backbone input ${bb.inputSize}`);
    if (typeof c.equalize !== 'boolean') throw new Error('crop.equalize must be a boolean');
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  return m as PretrainedModelMetadata;
}

/**
 * Pretrained sister network + Siamese head: frozen face-api.js ResNet → optional trained
 * 128x128 projection → (distance → sigmoid head, applied by the matcher).
 */
export class PretrainedSiameseEmbedder implements Embedder {
  readonly dimension: number;
  readonly inputSize: number;
  private disposed = false;

  constructor(
    readonly modelId: string,
    private readonly backbone: FaceApiBackbone,
    private readonly projection: tf.Tensor2D | null,
    readonly head: SimilarityHead,
    /** The crop this model takes (the FaceCropper makes it). */
    readonly crop: AlignedGeometry,
    readonly thresholds: PretrainedThresholds,
    private readonly batchSize = 16,
  ) {
    this.dimension = projection ? projection.shape[1] : backbone.dimension;
    this.inputSize = backbone.inputSize;
  }

  async embed(faces: readonly GrayImage[]): Promise<Float32Array[]> {
    if (this.disposed) throw new Error('embedder is disposed');
    const size = this.inputSize;
    for (const f of faces) {
      if (f.width !== size || f.height !== size || f.data.length !== size * size) {
        throw new RangeError(
          `face must be ${size}x${size} (preprocessed for this model), got ${f.width}x${f.height}`,
        );
      }
    }
    const out: Float32Array[] = [];
    for (let start = 0; start < faces.length; start += this.batchSize) {
      const chunk = faces.slice(start, start + this.batchSize);
      const pixels = new Float32Array(chunk.length * size * size);
      chunk.forEach((f, i) => pixels.set(f.data, i * size * size));
      const emb = tf.tidy(() => {
        const x = tf.tensor4d(pixels, [chunk.length, size, size, 1]);
        const e = this.backbone.forward(x);
        return this.projection ? tf.matMul(e, this.projection) : e;
      });
      try {
        const data = (await emb.data()) as Float32Array;
        const dim = emb.shape[1] ?? this.dimension;
        for (let i = 0; i < chunk.length; i++) out.push(data.slice(i * dim, (i + 1) * dim));
      } finally {
        emb.dispose();
      }
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.backbone.dispose();
    this.projection?.dispose();
  }
}

export function isPretrainedModelDir(dir: string): boolean {
  return existsSync(join(dir, PRETRAINED_METADATA_FILE));
}

export interface LoadPretrainedOptions {
  readonly backend?: BackendPreference;
  readonly batchSize?: number;
}

/**
 * Loads a pretrained-backbone model folder (no network: every file is on disk).
 * modelId = `<name>-<sha256(backbone weights, projection, head, preprocess)[0..16]>`, so a
 * different backbone, head or alignment never mixes embeddings with another.
 */
export async function loadPretrainedEmbedder(
  modelDir: string,
  logger: Logger,
  options: LoadPretrainedOptions = {},
): Promise<PretrainedSiameseEmbedder> {
  const log = logger.child({ module: 'embedder' });
  if (options.backend !== undefined) await chooseBackend(options.backend, log);
  else if (tf.engine().backendName == null) await chooseBackend('auto', log);
  const dir = resolve(modelDir);
  const metaPath = join(dir, PRETRAINED_METADATA_FILE);
  const meta = parsePretrainedMetadata(JSON.parse(await readFile(metaPath, 'utf8')), metaPath);
  const manifestPath = join(dir, meta.backbone.manifest);
  const backbone = await FaceApiBackbone.load({
    manifestPath,
    weightsDir: join(manifestPath, '..'),
    sha256: meta.backbone.sha256,
  });
  let projection: tf.Tensor2D | null = null;
  const idHash = createHash('sha256').update(backbone.weightsSha256);
  try {
    if (backbone.inputSize !== meta.backbone.inputSize)
      throw new Error(`${metaPath}: backbone input size mismatch`);
    if (meta.projection !== null) {
      const bytes = await readFile(join(dir, meta.projection));
      const dim = backbone.dimension;
      if (bytes.byteLength !== dim * dim * 4)
        throw new Error(
          `${meta.projection}: expected ${dim * dim} float32 values, got ${bytes.byteLength} bytes`,
        );
      const values = new Float32Array(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      );
      if (!values.every(Number.isFinite)) throw new Error(`${meta.projection}: contains non-finite values`);
      projection = tf.tensor2d(values, [dim, dim]);
      idHash.update(bytes);
    }
  } catch (err) {
    backbone.dispose();
    throw err;
  }
  // The crop geometry is part of the id: embeddings of differently aligned faces never mix.
  idHash.update(JSON.stringify({ head: meta.head, crop: meta.crop }));
  const modelId = `${meta.name}-${idHash.digest('hex').slice(0, 16)}`;
  log.info(
    {
      modelDir,
      modelId,
      backbone: meta.backbone.id,
      inputSize: backbone.inputSize,
      projection: meta.projection !== null,
      backend: tf.getBackend(),
    },
    'pretrained embedder loaded',
  );
  return new PretrainedSiameseEmbedder(
    modelId,
    backbone,
    projection,
    meta.head,
    meta.crop,
    meta.thresholds,
    options.batchSize ?? 16,
  );
}
