import type { CropGeometry } from '../vision/face-chip.js';
import type { GrayImage } from '../vision/image.js';
import { DEFAULT_PREPROCESS } from '../vision/preprocess.js';

/**
 * A sister network of the Siamese model: preprocessed faces in, embeddings out. The
 * Siamese head is a monotone function of the Euclidean distance between two embeddings,
 * so matching embeds each face once and scores distances (see `SimilarityHead`).
 */
export interface Embedder {
  /** Identifies the weights; embeddings of different model ids are never compared. */
  readonly modelId: string;
  readonly dimension: number;
  /** Side of the square gray face this model takes (what the FaceCropper must produce). */
  readonly inputSize: number;
  /** Embeds a batch of preprocessed faces (each inputSize x inputSize). */
  embed(faces: readonly GrayImage[]): Promise<Float32Array[]>;
  readonly head: SimilarityHead;
  /**
   * The crop this model was trained on (the FaceCropper makes it): the pretrained backbone
   * declares dlib's aligned 150x150 chip. Absent: a box crop with DEFAULT_PREPROCESS at
   * inputSize (the write-up's own `scratch` network).
   */
  readonly crop?: CropGeometry;
  dispose(): void;
}

/** The Siamese head: similarity = sigmoid(weight * distance + bias), weight < 0. */
export interface SimilarityHead {
  readonly weight: number;
  readonly bias: number;
}

export function similarityFromDistance(head: SimilarityHead, distance: number): number {
  return 1 / (1 + Math.exp(-(head.weight * distance + head.bias)));
}

/** Inverse of the head: the largest distance that still scores `similarity`. */
export function distanceForSimilarity(head: SimilarityHead, similarity: number): number {
  const logit = Math.log(similarity / (1 - similarity));
  return (logit - head.bias) / head.weight;
}

/** The crop geometry a model declares, or the box-crop default at its input size. */
export function cropGeometryOf(embedder: Pick<Embedder, 'crop' | 'inputSize'>): CropGeometry {
  return embedder.crop ?? { kind: 'box', ...DEFAULT_PREPROCESS, size: embedder.inputSize };
}
