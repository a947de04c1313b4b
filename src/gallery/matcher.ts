import { similarityFromDistance, type SimilarityHead } from '../model/embedder.js';
import { createSimdKernel, type DistanceKernel } from './simd-kernel.js';

/**
 * 1:N search over every enrolled embedding, held in ONE contiguous Float32Array (row i
 * = embedding i, padded to a multiple of 4 floats) with a parallel Int32Array of person
 * indices. A query computes all squared Euclidean distances — in WebAssembly SIMD where
 * the runtime has it (the array then lives in the kernel's memory), else in plain
 * JavaScript with early abandon — and keeps the best face of the best person and of the
 * best OTHER person (the runner-up is a person, never a second face of the winner).
 *
 * A person with several templates (enrollment photos) is scored by their BEST template.
 * Measured leave-one-out on realfaces-dev (docs/gallery.md): best template gave the highest
 * rank-1 (95.1%, one template 86.1%) and fewer strangers over the accept threshold than the
 * mean or the centroid of the templates, whose EER was slightly lower but which need
 * re-calibrated thresholds; a top-k mean as tie-breaker changed no decision. The score of
 * the best template is an ordinary pair similarity, so the model's thresholds still apply.
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

export interface MatcherOptions {
  /** Use the WebAssembly SIMD kernel when available (default true); false forces JavaScript. */
  readonly simd?: boolean;
}

const PAGE = 65536;

export class Matcher {
  /** Rows of `stride` floats; a view into the kernel's memory when SIMD is used. */
  private vectors: Float32Array;
  private rowPerson: Int32Array;
  private capacity = 0;
  /** Floats per row: the dimension rounded up to a multiple of 4 (zero padded). */
  private readonly stride: number;
  private readonly kernel: DistanceKernel | null;
  /** SIMD memory layout: [query: stride floats][vectors: capacity rows][distances: capacity]. */
  private queryView: Float32Array | null = null;
  private distancesView: Float32Array | null = null;
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
    options: MatcherOptions = {},
  ) {
    if (!Number.isInteger(dimension) || dimension <= 0)
      throw new RangeError(`bad embedding dimension ${dimension}`);
    this.stride = Math.ceil(dimension / 4) * 4;
    this.kernel = options.simd === false ? null : createSimdKernel();
    this.vectors = new Float32Array(0);
    this.rowPerson = new Int32Array(0);
    this.ensureCapacity(64);
  }

  /** Which inner loop runs: 'wasm-simd' or 'js'. */
  get engine(): 'wasm-simd' | 'js' {
    return this.kernel ? 'wasm-simd' : 'js';
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

  /**
   * Appends templates to a person (creating them if new), keeping their other faces: after
   * GalleryStore.addTemplates committed (walk-up enrollment). The person is then scored by
   * their best template, old or new.
   */
  addTemplates(personId: string, name: string, vectors: readonly Float32Array[]): void {
    for (const v of vectors) this.checkVector(v);
    this.ensureCapacity(this.rows + vectors.length);
    for (const v of vectors) this.appendRow(personId, name, v);
  }

  /** Drops a person's faces; returns false if the person was not there. */
  removePerson(personId: string): boolean {
    const p = this.personIndex.get(personId);
    if (p === undefined) return false;
    // Compact rows in place, keeping order of the rest.
    const d = this.stride;
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
    const [bestP, bestD, secondP, secondD] = this.kernel ? this.scanSimd(query) : this.scanJs(query);
    return {
      best: this.candidate(bestP, bestD),
      runnerUp: secondP >= 0 ? this.candidate(secondP, secondD) : null,
    };
  }

  private scanSimd(query: Float32Array): [number, number, number, number] {
    const kernel = this.kernel!;
    this.queryView!.set(query);
    const vecOffset = this.stride * 4;
    const outOffset = vecOffset + this.capacity * this.stride * 4;
    kernel.distances(vecOffset, 0, this.rows, this.stride / 4, outOffset);
    const dist = this.distancesView!;
    const rowPerson = this.rowPerson;
    let bestD = Infinity;
    let bestP = -1;
    let secondD = Infinity;
    let secondP = -1;
    for (let r = 0; r < this.rows; r++) {
      const sum = dist[r];
      if (sum >= secondD) continue;
      const p = rowPerson[r];
      if (p === bestP) {
        if (sum < bestD) bestD = sum;
      } else if (sum < bestD) {
        secondD = bestD;
        secondP = bestP;
        bestD = sum;
        bestP = p;
      } else {
        secondD = sum;
        secondP = p;
      }
    }
    return [bestP, bestD, secondP, secondD];
  }

  private scanJs(query: Float32Array): [number, number, number, number] {
    const d = this.dimension;
    const stride = this.stride;
    const vectors = this.vectors;
    const rowPerson = this.rowPerson;
    let bestD = Infinity;
    let bestP = -1;
    let secondD = Infinity;
    let secondP = -1;
    // Unrolled by 4, and a row is abandoned once its partial sum cannot beat the current
    // runner-up (every row that could change best or runner-up is below secondD).
    const unrolled = d - (d % 4);
    for (let r = 0, base = 0; r < this.rows; r++, base += stride) {
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
      for (; k < d; k++) {
        const a = vectors[base + k] - query[k];
        sum += a * a;
      }
      if (sum >= secondD) continue;
      const p = rowPerson[r];
      if (p === bestP) {
        if (sum < bestD) bestD = sum;
      } else if (sum < bestD) {
        secondD = bestD;
        secondP = bestP;
        bestD = sum;
        bestP = p;
      } else {
        secondD = sum;
        secondP = p;
      }
    }
    return [bestP, bestD, secondP, secondD];
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
    this.vectors.set(v, this.rows * this.stride);
    this.rowPerson[this.rows] = p;
    this.rows++;
  }

  private ensureCapacity(rows: number): void {
    if (rows <= this.capacity) return;
    let cap = Math.max(64, this.capacity);
    while (cap < rows) cap *= 2;
    const used = this.rows * this.stride;
    const rowPerson = new Int32Array(cap);
    rowPerson.set(this.rowPerson.subarray(0, this.rows));
    if (this.kernel) {
      // Vectors keep their offset; growing the memory keeps its contents (views are renewed).
      const memory = this.kernel.memory;
      const needed = (this.stride + cap * this.stride + cap) * 4;
      if (needed > memory.buffer.byteLength)
        memory.grow(Math.ceil((needed - memory.buffer.byteLength) / PAGE));
      this.queryView = new Float32Array(memory.buffer, 0, this.stride);
      this.vectors = new Float32Array(memory.buffer, this.stride * 4, cap * this.stride);
      this.distancesView = new Float32Array(memory.buffer, (this.stride + cap * this.stride) * 4, cap);
      // Rows past the used ones held the old distances scratch: clear them (padding must be 0).
      this.vectors.fill(0, used);
    } else {
      const vectors = new Float32Array(cap * this.stride);
      vectors.set(this.vectors.subarray(0, used));
      this.vectors = vectors;
    }
    this.rowPerson = rowPerson;
    this.capacity = cap;
  }

  private checkVector(v: Float32Array): void {
    if (!(v instanceof Float32Array) || v.length !== this.dimension) {
      throw new RangeError(`embedding must be a Float32Array of length ${this.dimension}`);
    }
  }
}
