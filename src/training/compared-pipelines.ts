import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readPersonFolders } from '../util/person-folders.js';
import { decodeToGray } from '../vision/image-io.js';
import type { GrayImage } from '../vision/image.js';
import type { ComparedPhoto, PhotoResult, Similarity } from './comparison.js';
import { IMAGE_EXTENSIONS } from './dataset.js';
import { euclidean } from '../model/embed.js';
import { similarityFromDistance, type Embedder } from '../model/embedder.js';
import { decodeToRgb, type FaceApiPeer, type RgbImage } from './peer-faceapi.js';
import { detectWithTurnedRetry, type FaceDetector } from '../vision/detector.js';
import type { CroppedFace, FaceCropper } from '../vision/face-cropper.js';

/** One photo as the pipelines get it: gray (as facegate's camera path makes it) and, when asked, colour. */
export interface DecodedPhoto {
  readonly gray: GrayImage;
  /** Null unless a pipeline wants colour (and for PGM, which is gray anyway). */
  readonly rgb: RgbImage | null;
}

/** A face pipeline under comparison: decoded photo in, one embedding (or no face) out. */
export interface ComparedPipeline {
  /** Key in the report, e.g. `facegate`, `faceapi`, `faceapi-colour`. */
  readonly name: string;
  /** One line for the report: what runs. */
  readonly description: string;
  readonly wantsColour: boolean;
  readonly similarity: Similarity;
  /** The pipeline's own operating threshold on `similarity` (accept at or above); null: none known. */
  readonly accept: number | null;
  /**
   * Set when the results depend only on the photo and this string (weights, options): they
   * may then be reused from a `ResultCache`. Unset (facegate, the thing being changed): always run.
   */
  readonly cacheKey?: string;
  /** `photo`: find the main face; `crop`: the image is the face. Null = no face found. */
  face(photo: DecodedPhoto, kind: 'photo' | 'crop'): Promise<Omit<PhotoResult, 'ms'> | null>;
}

/**
 * facegate as it enrolls a photo: Haar detector (photos; the largest face with plausible
 * landmarks, FaceCropper.cropMain; the turned retry of detectWithTurnedRetry when none is
 * upright) → THE FaceCropper
 * (landmarks, the model's chip fit — dlib's 33 points for the shipped model — and crop) → the model's sister network; pairs scored
 * by the model's Siamese head.
 */
export function facegatePipeline(
  embedder: Embedder,
  detector: FaceDetector | null,
  cropper: FaceCropper,
  accept: number | null,
): ComparedPipeline {
  return {
    name: 'facegate',
    accept,
    description: `facegate: Haar detector + ${cropper.landmarkModel} landmarks, ${cropper.geometry.kind === 'aligned' && cropper.geometry.fit === 'dlib-33' ? "dlib's 33-point" : '5-point'} alignment + ${embedder.modelId}`,
    wantsColour: false,
    similarity: (a, b) => similarityFromDistance(embedder.head, euclidean(a, b)),
    async face(photo, kind) {
      let face: CroppedFace;
      if (kind === 'photo') {
        if (!detector) throw new Error('photos need a face detector');
        // The largest face aligned on plausible landmarks (a larger Haar false positive is passed
        // over); none upright: the photo turned ±15°, a face only with plausible landmarks.
        const { boxes, turned } = await detectWithTurnedRetry(detector, photo.gray);
        const main = await cropper.cropMain(photo.gray, boxes, { requireLandmarks: turned });
        if (!main) return null;
        face = main;
      } else {
        face = await cropper.cropWhole(photo.gray);
      }
      const [embedding] = await embedder.embed([face.input]);
      return { embedding, aligned: face.alignment === 'landmarks' };
    },
  };
}

/** face-api.js's usual "same person" distance (its FaceMatcher's default threshold). */
export const FACEAPI_MATCH_DISTANCE = 0.6;

/** face-api.js's own pipeline (SSD + 68 landmarks + ResNet descriptor), gray or colour input. */
export function faceApiPipeline(peer: FaceApiPeer, colour: boolean): ComparedPipeline {
  return {
    name: colour ? 'faceapi-colour' : 'faceapi',
    description: `face-api.js 1.7.15 (@vladmandic): SSD MobileNet v1 (photo padded when no face) + 68 landmarks + ResNet-34 descriptor, ${colour ? 'colour' : 'gray'} input`,
    wantsColour: colour,
    // face-api.js's FaceMatcher default: the same person below distance 0.6.
    accept: -FACEAPI_MATCH_DISTANCE,
    cacheKey: `faceapi-1.7.15|${peer.optionsKey}|${colour ? 'colour' : 'gray'}`,
    // face-api.js compares descriptors by Euclidean distance: closer = more alike.
    similarity: (a, b) => -euclidean(a, b),
    async face(photo, kind) {
      const image = colour && photo.rgb ? photo.rgb : photo.gray;
      const found = kind === 'photo' ? await peer.describePhoto(image) : await peer.describeCrop(image);
      return found ? { embedding: found.descriptor, padded: found.padded } : null;
    },
  };
}

export interface RunComparisonOptions {
  readonly kind: 'photo' | 'crop';
  /** Only these person folders. */
  readonly people?: readonly string[];
  /** At most this many photos per person (the first ones in natural order). */
  readonly perPerson?: number;
  /** After each photo (awaited): progress, saving the cache. */
  readonly onPhoto?: (done: number, total: number) => void | Promise<void>;
  /** Reuse/store results of cacheable pipelines (see `ComparedPipeline.cacheKey`). */
  readonly cache?: ResultCache;
}

/**
 * Results of cacheable pipelines by photo content (sha256) and pipeline key, in a JSON file
 * outside the repository (embeddings are biometric templates of the people in the photos:
 * never commit them). A reused result keeps the time measured when it was computed.
 */
export class ResultCache {
  private constructor(
    private readonly file: string,
    private readonly entries: Record<string, CachedResult>,
  ) {}

  /** Opens (or starts) the cache file; a corrupt or foreign file is an error, not silently reset. */
  static async open(file: string): Promise<ResultCache> {
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (text === null) return new ResultCache(file, {});
    const parsed = JSON.parse(text) as { format?: string; entries?: Record<string, CachedResult> };
    if (parsed.format !== CACHE_FORMAT || typeof parsed.entries !== 'object' || parsed.entries === null)
      throw new Error(`${file} is not a ${CACHE_FORMAT} file`);
    return new ResultCache(file, parsed.entries);
  }

  get(
    pipelineKey: string,
    photoSha256: string,
  ): (Omit<PhotoResult, 'ms'> & { ms: number }) | null | undefined {
    const e = this.entries[`${pipelineKey}|${photoSha256}`];
    if (e === undefined) return undefined;
    if (e.embedding === null) return null;
    return {
      embedding: Float32Array.from(e.embedding),
      ms: e.ms,
      ...(e.padded !== undefined ? { padded: e.padded } : {}),
    };
  }

  set(pipelineKey: string, photoSha256: string, result: PhotoResult | null, ms: number): void {
    this.entries[`${pipelineKey}|${photoSha256}`] = result
      ? {
          embedding: Array.from(result.embedding),
          ms,
          ...(result.padded !== undefined ? { padded: result.padded } : {}),
        }
      : { embedding: null, ms };
  }

  async save(): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify({ format: CACHE_FORMAT, entries: this.entries }));
    await rename(tmp, this.file);
  }
}

const CACHE_FORMAT = 'facegate-evaluate-cache-v1';

interface CachedResult {
  readonly embedding: number[] | null;
  readonly ms: number;
  readonly padded?: boolean;
}

/**
 * Runs every pipeline on every photo of `<root>/<person>/<image>` (links followed), one
 * photo at a time with all pipelines back to back, so machine load falls on all of them
 * alike. Each pipeline's first photo goes through it once more, untimed (kernel warm-up).
 */
export async function runComparison(
  root: string,
  pipelines: readonly ComparedPipeline[],
  options: RunComparisonOptions,
): Promise<{ photos: ComparedPhoto[]; people: string[] }> {
  if (pipelines.length === 0) throw new Error('nothing to compare: no pipelines');
  const names = new Set<string>();
  for (const p of pipelines) {
    if (names.has(p.name)) throw new Error(`pipeline ${p.name} given twice`);
    names.add(p.name);
  }
  if (options.perPerson !== undefined && !(Number.isInteger(options.perPerson) && options.perPerson >= 1))
    throw new RangeError('perPerson must be an integer >= 1');
  const folders = (await readPersonFolders(root, { extensions: IMAGE_EXTENSIONS, include: options.people }))
    .map((f) => ({ ...f, files: f.files.slice(0, options.perPerson ?? f.files.length) }))
    .filter((f) => f.files.length > 0);
  if (folders.length < 2) throw new Error(`${root}: need at least two person folders with images`);
  const wantsColour = pipelines.some((p) => p.wantsColour);
  const total = folders.reduce((n, f) => n + f.files.length, 0);
  const photos: ComparedPhoto[] = [];
  const warmedUp = new Set<string>();
  for (const [label, folder] of folders.entries()) {
    for (const file of folder.files) {
      const bytes = await readFile(file);
      let decoded: DecodedPhoto;
      try {
        const gray = await decodeToGray(bytes);
        const isPgm = bytes[0] === 0x50 && bytes[1] === 0x35;
        decoded = { gray, rgb: wantsColour && !isPgm ? await decodeToRgb(bytes) : null };
      } catch (err) {
        throw new Error(`${file}: ${(err as Error).message}`);
      }
      const sha = createHash('sha256').update(bytes).digest('hex');
      const results: Record<string, PhotoResult | null> = {};
      for (const p of pipelines) {
        const key = p.cacheKey && `${p.cacheKey}|${options.kind}`;
        const cached = key ? options.cache?.get(key, sha) : undefined;
        if (cached !== undefined) {
          results[p.name] = cached;
          continue;
        }
        if (!warmedUp.has(p.name)) {
          await p.face(decoded, options.kind);
          warmedUp.add(p.name);
        }
        const started = performance.now();
        const r = await p.face(decoded, options.kind);
        const ms = performance.now() - started;
        results[p.name] = r ? { ...r, ms } : null;
        if (key) options.cache?.set(key, sha, results[p.name], ms);
      }
      photos.push({ file: `${folder.person}/${path.basename(file)}`, label, results });
      await options.onPhoto?.(photos.length, total);
    }
  }
  return { photos, people: folders.map((f) => f.person) };
}
