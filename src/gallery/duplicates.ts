import { similarityFromDistance, type SimilarityHead } from '../model/embedder.js';
import type { Matcher } from './matcher.js';

/** An enrolled person a new face matches (the shape src/enrollment's DuplicateFinder returns). */
export interface DuplicateMatch {
  readonly personId: string;
  readonly name: string;
  /** Similarity of the new face to that person's closest template, in (0, 1). */
  readonly similarity: number;
  readonly threshold: number;
}

/**
 * The closest enrolled person OTHER than `personId` whom any of `embeddings` matches at or
 * above `threshold`, or null. Uses the matcher's per-person answer (best person and runner-up
 * person, each scored by their best template), so a person who already has this face is
 * skipped and the next person is still seen.
 *
 * Why refuse: a face enrolled under a second id makes the real person lose every visit
 * (the runner-up is then the same face: margin_too_small) and opens the door for the wrong
 * name. The threshold is the access accept threshold: the level at which the door would
 * take this face for that person.
 */
export function findDuplicate(
  matcher: Pick<Matcher, 'match'>,
  embeddings: readonly Float32Array[],
  personId: string,
  threshold: number,
): DuplicateMatch | null {
  let found: DuplicateMatch | null = null;
  for (const embedding of embeddings) {
    const result = matcher.match(embedding);
    if (!result) return null; // empty gallery
    const other = result.best.personId !== personId ? result.best : result.runnerUp;
    if (!other || other.similarity < threshold) continue;
    if (!found || other.similarity > found.similarity) {
      found = { personId: other.personId, name: other.name, similarity: other.similarity, threshold };
    }
  }
  return found;
}

/** A face of one person's set that does not look like the others (see `findOutlierFace`). */
export interface OutlierFace {
  /** Index of the face in the embeddings handed in. */
  readonly index: number;
  /** Its best similarity to the person's other faces. */
  readonly similarity: number;
  readonly threshold: number;
}

/**
 * The face of a set meant to be ONE person whose best similarity to the others is lowest,
 * when that is under `threshold` (the model's unknown threshold: below it two faces are
 * taken for different people); null with fewer than two faces or when all agree.
 *
 * Why: a person is matched by their BEST template, so one wrong photo in their set (someone
 * else, or a background face the detector picked) would let that other face in under their
 * name. Measured on realfaces-dev (faceapi, 145 faces): with all of a person's other photos
 * as the set, 7 of 144 genuine photos fall under the unknown threshold (mostly poor crops),
 * while a stranger's photo slips into a 3-photo set of another person 65 times in 4495.
 */
export function findOutlierFace(
  embeddings: readonly Float32Array[],
  head: SimilarityHead,
  threshold: number,
): OutlierFace | null {
  if (embeddings.length < 2) return null;
  let worst: OutlierFace | null = null;
  for (let i = 0; i < embeddings.length; i++) {
    let best = 0;
    for (let j = 0; j < embeddings.length; j++) {
      if (j === i) continue;
      best = Math.max(best, similarityFromDistance(head, euclidean(embeddings[i], embeddings[j])));
    }
    if (best < threshold && (!worst || best < worst.similarity))
      worst = { index: i, similarity: best, threshold };
  }
  return worst;
}

/**
 * The first of `embeddings` that does not match `personId`'s enrolled templates at
 * `threshold` (the person is neither the matcher's best nor its runner-up at that level), or
 * null. For templates ADDED to an enrolled person (walk-up).
 */
export function findForeignFace(
  matcher: Pick<Matcher, 'match'>,
  embeddings: readonly Float32Array[],
  personId: string,
  threshold: number,
): OutlierFace | null {
  for (const [index, embedding] of embeddings.entries()) {
    const result = matcher.match(embedding);
    const own =
      result?.best.personId === personId
        ? result.best
        : result?.runnerUp?.personId === personId
          ? result.runnerUp
          : null;
    if (!own || own.similarity < threshold) {
      return { index, similarity: own?.similarity ?? 0, threshold };
    }
  }
  return null;
}

function euclidean(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += (a[k] - b[k]) ** 2;
  return Math.sqrt(sum);
}

/** The thresholds the identity checks use (functions: thresholds may come from the model). */
export interface IdentityThresholds {
  /** access.acceptThreshold: at or above it a face is taken for that person (duplicate_face). */
  readonly accept: () => number;
  /** access.unknownThreshold: below it two faces are taken for different people (inconsistent_faces). */
  readonly unknown: () => number;
}

/**
 * The enrollment identity checks over the daemon's live matcher, refreshed first (another
 * process may have changed the gallery): `findDuplicate` (a face another person has),
 * `findOutlier` (a photo of a request that is not the same person as the others) and
 * `findForeign` (an added template that is not this person).
 */
export class MatcherDuplicateFinder {
  constructor(
    private readonly matcher: Pick<Matcher, 'match'>,
    private readonly head: SimilarityHead,
    private readonly thresholds: IdentityThresholds,
    private readonly refresh: () => void = () => undefined,
  ) {}

  findDuplicate(embeddings: readonly Float32Array[], personId: string): DuplicateMatch | null {
    this.refresh();
    return findDuplicate(this.matcher, embeddings, personId, this.thresholds.accept());
  }

  findOutlier(embeddings: readonly Float32Array[]): OutlierFace | null {
    return findOutlierFace(embeddings, this.head, this.thresholds.unknown());
  }

  findForeign(embeddings: readonly Float32Array[], personId: string): OutlierFace | null {
    this.refresh();
    return findForeignFace(this.matcher, embeddings, personId, this.thresholds.unknown());
  }
}
