import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { MAX_FACES_PER_PERSON } from '../gallery/people.js';
import { GalleryStore } from '../gallery/store.js';
import { cropGeometryOf, type Embedder } from '../model/embedder.js';
import type { Logger } from '../util/log.js';
import { logProgress, type ProgressFactory } from '../util/progress.js';
import { readPersonFolders, type PersonFolder } from '../util/person-folders.js';
import { CANONICAL_CHIP, modelInputFromChip, type CropGeometry } from '../vision/face-chip.js';
import type { GrayImage } from '../vision/image.js';
import { equalizeHistogram, resampleRect } from '../vision/preprocess.js';

/**
 * Gallery chores of the daemon and the `facegate gallery` tool, over narrow ports that
 * GalleryStore / Matcher / PhotoEnroller satisfy: re-embedding stored crops after a model
 * change, importing folders of person photos, and keeping the in-memory matcher in step
 * with the database (also when another process, e.g. `facegate gallery remove`, changed it).
 */

export interface CropStore {
  cropsMissingEmbedding(modelId: string): { faceId: number; personId: string; crop: GrayImage }[];
  putEmbeddings(modelId: string, embeddings: readonly { faceId: number; vector: Float32Array }[]): number;
  dropOtherModels(keepModelId: string): number;
}

export interface MatcherSource {
  version(): number;
  loadEmbeddings(modelId: string): { personId: string; personName: string; vector: Float32Array }[];
  stats(): { people: number; faces: number; version: number };
}

export interface RebuildableMatcher {
  rebuild(entries: readonly { personId: string; personName: string; vector: Float32Array }[]): void;
  readonly size: number;
  readonly people: number;
}

/**
 * Embeds every stored crop that has no embedding by the current model, in batches, with
 * progress in the log; then drops the other models' embeddings. Embeddings of different
 * model ids are never mixed: the matcher only ever loads the current model's.
 */
export async function reembedGallery(
  store: CropStore,
  embedder: Embedder,
  logger: Logger,
  batchSize = 64,
  progress: ProgressFactory = logProgress(logger),
): Promise<{ embedded: number; dropped: number }> {
  const missing = store.cropsMissingEmbedding(embedder.modelId);
  const geometry = cropGeometryOf(embedder);
  let embedded = 0;
  let legacy = 0;
  if (missing.length > 0) {
    logger.info(
      { modelId: embedder.modelId, faces: missing.length },
      're-embedding the gallery for the current model',
    );
    const bar = progress('re-embedding', 'faces');
    bar.start(missing.length);
    try {
      for (let i = 0; i < missing.length; i += batchSize) {
        const batch = missing.slice(i, i + batchSize);
        const faces = batch.map((m) => {
          const fitted = storedFaceToInput(m.crop, geometry);
          if (!fitted.faithful) legacy++;
          return fitted.input;
        });
        const vectors = await embedder.embed(faces);
        embedded += store.putEmbeddings(
          embedder.modelId,
          batch.map((m, k) => ({ faceId: m.faceId, vector: vectors[k] })),
        );
        bar.update(Math.min(i + batchSize, missing.length));
      }
    } finally {
      bar.stop();
    }
  }
  if (legacy > 0) {
    // Faces stored before canonical chips were kept (or for another geometry) are re-embedded
    // from what is there, which is close but not the crop a fresh enrollment would make.
    logger.warn(
      { faces: legacy, modelId: embedder.modelId },
      'some gallery faces were stored as crops of an earlier geometry and were re-embedded from them; re-enroll those people for the best recognition',
    );
  }
  // Only when every face has a current embedding are the old ones dropped (a crash midway
  // leaves both, and the next start continues where this one stopped).
  const dropped =
    store.cropsMissingEmbedding(embedder.modelId).length === 0 ? store.dropOtherModels(embedder.modelId) : 0;
  if (dropped > 0) logger.info({ dropped }, 'dropped embeddings of other models');
  return { embedded, dropped };
}

/**
 * A stored face → the model's input. A canonical chip (CANONICAL_CHIP.size square: what
 * enrollment stores for aligned models) is cut to the model's chip exactly (`faithful`).
 * Anything else is a crop of an earlier geometry: resampled to the model's size as it is
 * (faithful only when it already is the model's size and the model takes box crops).
 */
export function storedFaceToInput(
  crop: GrayImage,
  geometry: CropGeometry,
): { input: GrayImage; faithful: boolean } {
  const size = geometry.size;
  const isChip = crop.width === CANONICAL_CHIP.size && crop.height === CANONICAL_CHIP.size;
  if (geometry.kind === 'aligned' && isChip)
    return { input: modelInputFromChip(crop, CANONICAL_CHIP, geometry), faithful: true };
  if (crop.width === size && crop.height === size) return { input: crop, faithful: geometry.kind === 'box' };
  const resized = resampleRect(crop, { x: 0, y: 0, width: crop.width, height: crop.height }, size, size);
  return { input: geometry.equalize ? equalizeHistogram(resized) : resized, faithful: false };
}

/** Keeps the matcher equal to the database's embeddings of the current model. */
export class GallerySync {
  private loadedVersion = -1;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<
    (change: { version: number; people: number; faces: number; removed: string[] }) => void
  >();
  private knownPeople = new Set<string>();

  constructor(
    private readonly store: MatcherSource,
    private readonly matcher: RebuildableMatcher,
    private readonly modelId: string,
    private readonly logger: Logger,
  ) {}

  /** Loads the matcher now (unconditionally). */
  reload(): void {
    const version = this.store.version();
    const entries = this.store.loadEmbeddings(this.modelId);
    this.matcher.rebuild(entries);
    const people = new Set(entries.map((e) => e.personId));
    const removed = [...this.knownPeople].filter((id) => !people.has(id));
    this.knownPeople = people;
    this.loadedVersion = version;
    const stats = this.store.stats();
    if (stats.faces > this.matcher.size) {
      this.logger.warn(
        { facesInDb: stats.faces, facesWithCurrentModel: this.matcher.size, modelId: this.modelId },
        'some faces have no embedding by the current model (restart to re-embed them)',
      );
    }
    this.logger.info({ version, people: this.matcher.people, faces: this.matcher.size }, 'matcher loaded');
    for (const l of this.listeners)
      l({ version, people: this.matcher.people, faces: this.matcher.size, removed });
  }

  /** Reloads when the gallery version moved (cheap to call often). */
  refreshIfChanged(): boolean {
    if (this.store.version() === this.loadedVersion) return false;
    this.reload();
    return true;
  }

  onChange(
    listener: (change: { version: number; people: number; faces: number; removed: string[] }) => void,
  ): void {
    this.listeners.add(listener);
  }

  /** Polls the version, so changes by the `facegate gallery` tool reach the running daemon. */
  watch(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      try {
        this.refreshIfChanged();
      } catch (err) {
        this.logger.error({ err }, 'gallery refresh failed');
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

// ------------------------------------------------------------------------- import

export interface PhotoFaces {
  enrollPhotos(photos: readonly Uint8Array[]): Promise<{ crop: GrayImage; embedding: Float32Array }[]>;
}

export interface ImportStore {
  enroll(request: {
    id: string;
    name?: string;
    modelId: string;
    faces: readonly { crop: GrayImage; embedding: Float32Array }[];
  }): { personId: string; faces: number; version: number; updated: boolean };
}

export interface ImportResult {
  readonly imported: { personId: string; faces: number }[];
  readonly failed: { personId: string; error: string }[];
  /** People whose folder held more photos than a person may have faces: the rest were not read. */
  readonly skipped: { personId: string; found: number; used: number; skippedPhotos: string[] }[];
}

const PHOTO_EXTENSIONS = ['.png', '.jpg', '.jpeg'];
/** The gallery's per-person limit: more photos cannot be stored as faces of one person. */
const MAX_PHOTOS_PER_PERSON = MAX_FACES_PER_PERSON;

/**
 * Imports a folder of person folders: `<dir>/<personId>/*.{png,jpg,jpeg}` (links followed,
 * the one reader `readPersonFolders` that `evaluate` uses too). Each person is
 * enrolled in one transaction (replacing earlier faces); one bad photo fails only its
 * person, named in the result. A folder with more than MAX_FACES_PER_PERSON photos gets
 * its first ones (natural order) and a warning naming how many were left out (in the log
 * and in `skipped`), never silently.
 */
export async function importPersonFolders(
  dir: string,
  deps: {
    enroller: PhotoFaces;
    store: ImportStore;
    modelId: string;
    logger: Logger;
    /** Default: log lines. */
    progress?: ProgressFactory;
    /**
     * The enrollment duplicate rule (src/gallery/duplicates.ts): a folder whose face is already
     * enrolled under another id fails with the person it duplicates, as `enroll` would refuse it.
     */
    duplicates?: {
      findDuplicate(
        embeddings: readonly Float32Array[],
        personId: string,
      ): { personId: string; name: string; similarity: number } | null;
      findOutlier?(embeddings: readonly Float32Array[]): { index: number; similarity: number } | null;
    };
  },
): Promise<ImportResult> {
  let folders: PersonFolder[];
  try {
    folders = await readPersonFolders(dir, { extensions: PHOTO_EXTENSIONS });
  } catch (err) {
    throw new Error(`cannot read import folder ${dir}: ${(err as Error).message}`);
  }
  const imported: { personId: string; faces: number }[] = [];
  const failed: { personId: string; error: string }[] = [];
  const skipped: ImportResult['skipped'][number][] = [];
  const bar = (deps.progress ?? logProgress(deps.logger))('importing', 'people');
  bar.start(folders.length);
  for (const { person: personId, files: all } of folders) {
    bar.update(imported.length + failed.length);
    try {
      const files = all.slice(0, MAX_PHOTOS_PER_PERSON);
      if (all.length > files.length) {
        const left = all.slice(files.length).map((f) => basename(f));
        skipped.push({ personId, found: all.length, used: files.length, skippedPhotos: left });
        deps.logger.warn(
          { personId, found: all.length, used: files.length, skipped: left.length, firstSkipped: left[0] },
          `only the first ${files.length} photos of the folder are imported (at most ${MAX_FACES_PER_PERSON} faces per person); ${left.length} left out`,
        );
      }
      if (files.length === 0) throw new Error('no .png/.jpg photos in the folder');
      const photos = await Promise.all(files.map((f) => readFile(f)));
      const faces = await deps.enroller.enrollPhotos(
        photos.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.length)),
      );
      const outlier = deps.duplicates?.findOutlier?.(faces.map((f) => f.embedding));
      if (outlier) {
        throw new Error(
          faces.length === 2
            ? `inconsistent_faces: the two photos do not look like the same person (similarity ${outlier.similarity.toFixed(3)})`
            : `inconsistent_faces: photo ${outlier.index + 1} of ${faces.length} does not look like the others (best similarity ${outlier.similarity.toFixed(3)})`,
        );
      }
      const duplicate = deps.duplicates?.findDuplicate(
        faces.map((f) => f.embedding),
        personId,
      );
      if (duplicate) {
        throw new Error(
          `duplicate_face: this face is already enrolled as ${duplicate.personId} (${duplicate.name}), similarity ${duplicate.similarity.toFixed(3)}`,
        );
      }
      const result = deps.store.enroll({ id: personId, name: personId, modelId: deps.modelId, faces });
      imported.push({ personId: result.personId, faces: result.faces });
      deps.logger.info({ personId, faces: result.faces, version: result.version }, 'person imported');
    } catch (err) {
      failed.push({ personId, error: (err as Error).message });
      deps.logger.warn({ personId, err: (err as Error).message }, 'person not imported');
    }
  }
  bar.update(folders.length);
  bar.stop();
  return { imported, failed, skipped };
}

// ------------------------------------------------------------------------- tools

/** `facegate gallery list`: people with their face counts, and the gallery version. */
export function listGallery(path: string, logger: Logger) {
  const gallery = new GalleryStore(path, logger);
  try {
    const stats = gallery.stats();
    return { count: stats.people, faces: stats.faces, version: stats.version, people: gallery.listPeople() };
  } finally {
    gallery.close();
  }
}

/** `facegate gallery remove <id>`: the person, their faces and embeddings, in one transaction. */
export function removeFromGallery(path: string, logger: Logger, personId: string) {
  const gallery = new GalleryStore(path, logger);
  try {
    return gallery.remove(personId);
  } finally {
    gallery.close();
  }
}
