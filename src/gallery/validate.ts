import {
  isPersonId,
  isPersonName,
  isTransactionId,
  PERSON_ID_RULE,
  PERSON_NAME_RULE,
  TRANSACTION_ID_RULE,
} from '../identity.js';
import type { GrayImage } from '../vision/image.js';
import { GalleryInputError } from './errors.js';

export { GalleryInputError } from './errors.js';

/** Crops must be large enough for any model to re-embed them. */
export const MIN_CROP_SIZE = 64;
export const MAX_CROP_SIZE = 512;
export const MAX_EMBEDDING_DIMENSION = 4096;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The person id rule of src/identity.ts. */
export function validatePersonId(id: unknown): string {
  if (!isPersonId(id)) {
    throw new GalleryInputError(`person id must be ${PERSON_ID_RULE}, got ${JSON.stringify(id)}`);
  }
  return id;
}

/** The person name rule of src/identity.ts; returns the trimmed name. */
export function validatePersonName(name: unknown): string {
  if (!isPersonName(name)) throw new GalleryInputError(`person name must be ${PERSON_NAME_RULE}`);
  return name.trim();
}

/** The transaction id rule of src/identity.ts. */
export function validateTransactionId(id: unknown): string {
  if (!isTransactionId(id)) throw new GalleryInputError(`transaction id must be ${TRANSACTION_ID_RULE}`);
  return id;
}

export function validateModelId(modelId: unknown): string {
  if (typeof modelId !== 'string' || modelId.length === 0 || modelId.length > 200 || CONTROL.test(modelId)) {
    throw new GalleryInputError('model id must be 1..200 printable characters');
  }
  return modelId;
}

export function validateCrop(crop: GrayImage | undefined, what: string): GrayImage {
  if (!crop || !(crop.data instanceof Uint8Array))
    throw new GalleryInputError(`${what}: crop must be a GrayImage`);
  const { width, height } = crop;
  if (!Number.isInteger(width) || !Number.isInteger(height)) {
    throw new GalleryInputError(`${what}: crop size must be integers`);
  }
  if (width < MIN_CROP_SIZE || height < MIN_CROP_SIZE || width > MAX_CROP_SIZE || height > MAX_CROP_SIZE) {
    throw new GalleryInputError(
      `${what}: crop must be ${MIN_CROP_SIZE}..${MAX_CROP_SIZE} pixels on each side, got ${width}x${height}`,
    );
  }
  if (crop.data.length !== width * height) {
    throw new GalleryInputError(`${what}: crop has ${crop.data.length} bytes, expected ${width * height}`);
  }
  return crop;
}

export function validateEmbedding(v: Float32Array | undefined, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new GalleryInputError(`${what}: embedding must be a Float32Array`);
  if (v.length === 0 || v.length > MAX_EMBEDDING_DIMENSION) {
    throw new GalleryInputError(
      `${what}: embedding dimension must be 1..${MAX_EMBEDDING_DIMENSION}, got ${v.length}`,
    );
  }
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]))
      throw new GalleryInputError(`${what}: embedding has a non-finite value at ${i}`);
  }
  return v;
}
