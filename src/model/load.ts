import * as tf from '@tensorflow/tfjs';
import type { GrayImage } from '../vision/image.js';
import type { Logger } from '../util/log.js';
import { chooseBackend, type BackendPreference } from './backend.js';
import { embedFaces } from './embed.js';
import type { Embedder, SimilarityHead } from './embedder.js';
import { fileLoadHandler, readModelArtifacts, weightsHash } from './io.js';
import { isPretrainedModelDir, loadPretrainedEmbedder } from './pretrained/embedder.js';

/** What training stores in model.json's userDefinedMetadata under `facegate`. */
export interface FacegateModelMetadata {
  readonly name: string;
  readonly head: SimilarityHead;
  readonly inputSize: number;
  readonly normalization: string;
  /** 'l2': the embedder scales embeddings to unit length (absent in older models = 'none'). */
  readonly embeddingNorm: 'none' | 'l2';
}

export function parseModelMetadata(raw: unknown, where: string): FacegateModelMetadata {
  const m = (raw as { facegate?: unknown } | undefined)?.facegate as
    Partial<FacegateModelMetadata> | undefined;
  if (!m || typeof m !== 'object')
    throw new Error(`${where}: model.json lacks userDefinedMetadata.facegate (not a facegate model)`);
  const head = m.head as Partial<SimilarityHead> | undefined;
  if (!head || !Number.isFinite(head.weight) || !Number.isFinite(head.bias)) {
    throw new Error(`${where}: facegate.head must have finite weight and bias`);
  }
  if ((head.weight as number) >= 0)
    throw new Error(`${where}: head weight must be negative (similarity falls with distance)`);
  if (m.embeddingNorm !== undefined && m.embeddingNorm !== 'none' && m.embeddingNorm !== 'l2') {
    throw new Error(`${where}: unknown facegate.embeddingNorm ${JSON.stringify(m.embeddingNorm)}`);
  }
  if (!Number.isInteger(m.inputSize) || (m.inputSize as number) < 8)
    throw new Error(`${where}: bad facegate.inputSize`);
  return {
    name: typeof m.name === 'string' && m.name !== '' ? m.name : 'siamese',
    head: { weight: head.weight as number, bias: head.bias as number },
    inputSize: m.inputSize as number,
    normalization: typeof m.normalization === 'string' ? m.normalization : 'unknown',
    embeddingNorm: m.embeddingNorm === 'l2' ? 'l2' : 'none',
  };
}

class SisterEmbedder implements Embedder {
  private disposed = false;

  constructor(
    private readonly model: tf.LayersModel,
    readonly modelId: string,
    readonly dimension: number,
    readonly inputSize: number,
    readonly head: SimilarityHead,
    private readonly batchSize: number,
    private readonly unitLength: boolean,
  ) {}

  async embed(faces: readonly GrayImage[]): Promise<Float32Array[]> {
    if (this.disposed) throw new Error('embedder is disposed');
    if (faces.length === 0) return [];
    return embedFaces(this.model, faces, this.inputSize, this.batchSize, this.unitLength);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

export interface LoadEmbedderOptions {
  /** Force a TF backend; by default the chooser runs once ('auto') if none was chosen yet. */
  readonly backend?: BackendPreference;
  /** Faces per inference batch (default 32). */
  readonly batchSize?: number;
}

/**
 * Loads the sister network saved by `npm run train` (model.json + weights.bin) as the
 * Embedder the daemon, enrollment and tools use. modelId = `<name>-<sha256(weights)[0..16]>`
 * so embeddings made by different weights are never compared.
 */
export async function loadEmbedder(
  modelDir: string,
  logger: Logger,
  options: LoadEmbedderOptions = {},
): Promise<Embedder> {
  // A pretrained-backbone folder (models/faceapi-siamese, docs/backbones.md) has its own loader.
  if (isPretrainedModelDir(modelDir)) return loadPretrainedEmbedder(modelDir, logger, options);
  const log = logger.child({ module: 'embedder' });
  if (options.backend !== undefined) await chooseBackend(options.backend, log);
  else if (tf.engine().backendName == null) await chooseBackend('auto', log);
  const artifacts = await readModelArtifacts(modelDir);
  const meta = parseModelMetadata(artifacts.userDefinedMetadata, modelDir);
  const model = await tf.loadLayersModel(fileLoadHandler(modelDir));
  const inShape = model.inputs[0].shape;
  const outShape = model.outputs[0].shape;
  if (
    inShape.length !== 4 ||
    inShape[1] !== meta.inputSize ||
    inShape[2] !== meta.inputSize ||
    inShape[3] !== 1
  ) {
    model.dispose();
    throw new Error(
      `${modelDir}: model input ${JSON.stringify(inShape)} does not take ${meta.inputSize}x${meta.inputSize} gray faces`,
    );
  }
  const dimension = outShape[outShape.length - 1];
  if (outShape.length !== 2 || typeof dimension !== 'number') {
    model.dispose();
    throw new Error(`${modelDir}: model output ${JSON.stringify(outShape)} is not an embedding`);
  }
  const hash = await weightsHash(modelDir);
  const modelId = `${meta.name}-${hash.slice(0, 16)}`;
  log.info(
    { modelDir, modelId, dimension, inputSize: meta.inputSize, backend: tf.getBackend() },
    'embedder loaded',
  );
  return new SisterEmbedder(
    model,
    modelId,
    dimension,
    meta.inputSize,
    meta.head,
    options.batchSize ?? 32,
    meta.embeddingNorm === 'l2',
  );
}
