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

/** `findDuplicate` over the daemon's live matcher, refreshed first (another process may have changed the gallery). */
export class MatcherDuplicateFinder {
  constructor(
    private readonly matcher: Pick<Matcher, 'match'>,
    /** The accept threshold in force (a function: thresholds may come from the model). */
    private readonly threshold: () => number,
    private readonly refresh: () => void = () => undefined,
  ) {}

  findDuplicate(embeddings: readonly Float32Array[], personId: string): DuplicateMatch | null {
    this.refresh();
    return findDuplicate(this.matcher, embeddings, personId, this.threshold());
  }
}
