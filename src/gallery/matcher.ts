import { similarityFromDistance, type SimilarityHead } from '../model/embedder.js';

/**
 * 1:N search over every enrolled embedding, held in ONE contiguous Float32Array (row i
 * = embedding i) with a parallel Int32Array of person indices. A query is a single pass
 * of squared Euclidean distances that keeps the best face of the best person and of the
 * best OTHER person (the runner-up is a person, never a second face of the winner).
 */

export interface MatchCandidate {
  readonly personId: string;
  readonly name: string;
  /** Euclidean distance to the person's closest face. */
  readonly distance: number;
  /** The Siamese head's score for that distance, in (0, 1). */
  readonly similarity: number;
}

export interface MatchResult {
  readonly best: MatchCandidate;
  /** The closest other person, or null with only one person enrolled. */
  readonly runnerUp: MatchCandidate | null;
}

/** What the matcher needs per stored face (GalleryStore.loadEmbeddings returns these). */
export interface MatcherEntry {
  readonly personId: string;
  readonly personName: string;
  readonly vector: Float32Array;
}

export class Matcher {
  private vectors: Float32Array;
  private rowPerson: Int32Array;
  private rows = 0;
  private personIds: string[] = [];
  private personNames: string[] = [];
  private readonly personIndex = new Map<string, number>();

  /**
   * @param head turns distances into similarities (the embedder's `head`).
   * @param dimension embedding length (the embedder's `dimension`); other lengths are refused.
   */
  constructor(
    private readonly head: SimilarityHead,
    readonly dimension: number,
  ) {
    if (!Number.isInteger(dimension) || dimension <= 0)
      throw new RangeError(`bad embedding dimension ${dimension}`);
    this.vectors = new Float32Array(64 * dimension);
    this.rowPerson = new Int32Array(64);
  }

  /** Number of stored faces. */
  get size(): number {
    return this.rows;
  }

  /** Number of distinct people. */
  get people(): number {
    return this.personIndex.size;
  }

  /** Replaces everything with `entries` (e.g. GalleryStore.loadEmbeddings(modelId)). */
  rebuild(entries: readonly MatcherEntry[]): void {
    this.rows = 0;
    this.personIds = [];
    this.personNames = [];
    this.personIndex.clear();
    this.ensureCapacity(entries.length);
    for (const e of entries) this.appendRow(e.personId, e.personName, e.vector);
  }

  /** Sets a person's faces (replacing any they had), after an enrollment committed. */
  setPerson(personId: string, name: string, vectors: readonly Float32Array[]): void {
    for (const v of vectors) this.checkVector(v);
    this.removePerson(personId);
    this.ensureCapacity(this.rows + vectors.length);
    for (const v of vectors) this.appendRow(personId, name, v);
  }

  /** Drops a person's faces; returns false if the person was not there. */
  removePerson(personId: string): boolean {
    const p = this.personIndex.get(personId);
    if (p === undefined) return false;
    // Compact rows in place, keeping order of the rest.
    const d = this.dimension;
    let w = 0;
    for (let r = 0; r < this.rows; r++) {
      const owner = this.rowPerson[r];
      if (owner === p) continue;
      if (w !== r) {
        this.vectors.copyWithin(w * d, r * d, (r + 1) * d);
      }
      this.rowPerson[w] = owner;
      w++;
    }
    this.rows = w;
    // Move the last person into slot p so person indices stay dense.
    const last = this.personIds.length - 1;
    if (p !== last) {
      const movedId = this.personIds[last];
      this.personIds[p] = movedId;
      this.personNames[p] = this.personNames[last];
      this.personIndex.set(movedId, p);
      for (let r = 0; r < this.rows; r++) if (this.rowPerson[r] === last) this.rowPerson[r] = p;
    }
    this.personIds.pop();
    this.personNames.pop();
    this.personIndex.delete(personId);
    return true;
  }

  /** Best person and runner-up person for one embedding; null when the gallery is empty. */
  match(query: Float32Array): MatchResult | null {
    this.checkVector(query);
    if (this.rows === 0) return null;
    const d = this.dimension;
    const vectors = this.vectors;
    const rowPerson = this.rowPerson;
    let bestD = Infinity;
    let bestP = -1;
    let secondD = Infinity;
    let secondP = -1;
    // Unrolled by 4, and a row is abandoned once its partial sum cannot beat the current
    // runner-up (every row that could change best or runner-up is below secondD).
    const unrolled = d - (d % 4);
    for (let r = 0, base = 0; r < this.rows; r++, base += d) {
      let sum = 0;
      let k = 0;
      while (k < unrolled) {
        const a = vectors[base + k] - query[k];
        const b = vectors[base + k + 1] - query[k + 1];
        const c = vectors[base + k + 2] - query[k + 2];
        const e = vectors[base + k + 3] - query[k + 3];
        sum += a * a + b * b + c * c + e * e;
        k += 4;
        if ((k & 15) === 0 && sum >= secondD) break;
      }
      if (sum >= secondD) continue;
      for (; k < d; k++) {
        const a = vectors[base + k] - query[k];
        sum += a * a;
      }
      const p = rowPerson[r];
      if (p === bestP) {
        if (sum < bestD) bestD = sum;
      } else if (sum < bestD) {
        secondD = bestD;
        secondP = bestP;
        bestD = sum;
        bestP = p;
      } else if (sum < secondD) {
        secondD = sum;
        secondP = p;
      }
    }
    return {
      best: this.candidate(bestP, bestD),
      runnerUp: secondP >= 0 ? this.candidate(secondP, secondD) : null,
    };
  }

  private candidate(p: number, squared: number): MatchCandidate {
    const distance = Math.sqrt(squared);
    return {
      personId: this.personIds[p],
      name: this.personNames[p],
      distance,
      similarity: similarityFromDistance(this.head, distance),
    };
  }

  private appendRow(personId: string, name: string, v: Float32Array): void {
    this.checkVector(v);
    let p = this.personIndex.get(personId);
    if (p === undefined) {
      p = this.personIds.length;
      this.personIds.push(personId);
      this.personNames.push(name);
      this.personIndex.set(personId, p);
    } else {
      this.personNames[p] = name;
    }
    this.ensureCapacity(this.rows + 1);
    this.vectors.set(v, this.rows * this.dimension);
    this.rowPerson[this.rows] = p;
    this.rows++;
  }

  private ensureCapacity(rows: number): void {
    if (rows <= this.rowPerson.length) return;
    let cap = this.rowPerson.length;
    while (cap < rows) cap *= 2;
    const vectors = new Float32Array(cap * this.dimension);
    vectors.set(this.vectors.subarray(0, this.rows * this.dimension));
    const rowPerson = new Int32Array(cap);
    rowPerson.set(this.rowPerson.subarray(0, this.rows));
    this.vectors = vectors;
    this.rowPerson = rowPerson;
  }

  private checkVector(v: Float32Array): void {
    if (!(v instanceof Float32Array) || v.length !== this.dimension) {
      throw new RangeError(`embedding must be a Float32Array of length ${this.dimension}`);
    }
  }
}
