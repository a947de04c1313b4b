import { similarityFromDistance, type SimilarityHead } from '../model/embedder.js';

/**
 * Is the face on a track still the same person? A face track follows boxes by overlap, so a
 * printed photo raised in front of a live face (or a phone slid into its place) continues
 * the live face's track — and a liveness verdict is final per track. Without this check the
 * live verdict earned by the attacker's own face would carry over to the photo of an
 * employee.
 *
 * Rule: two consecutive embeddings of one track whose Siamese similarity is below
 * `minSimilarity` (the policy's unknownThreshold: below it the model takes two faces for
 * different people, the same rule as enrollment's `inconsistent_faces`) mean the face
 * changed; the caller then restarts the track's liveness evidence. One person's embeddings
 * from frame to frame are far closer than that (pose and light change slowly at camera
 * rate), so a real visitor is not slowed down.
 */
export class TrackContinuity {
  private readonly last = new Map<number, { embedding: Float32Array; atMs: number }>();

  /**
   * @param head the model's distance → similarity head
   * @param minSimilarity similarity in (0, 1) below which two embeddings are different people
   * @param forgetAfterMs a track not seen this long is forgotten (ms; tracks end after ~1 s)
   * @throws RangeError when minSimilarity is not in (0, 1)
   */
  constructor(
    private readonly head: SimilarityHead,
    private readonly minSimilarity: number,
    private readonly forgetAfterMs = 5000,
  ) {
    if (!(minSimilarity > 0 && minSimilarity < 1)) throw new RangeError('minSimilarity must be in (0, 1)');
  }

  /**
   * Records the track's embedding of this frame (frame time in ms) and returns whether it is
   * a different person from the track's previous embedding (false for a track's first one).
   */
  changed(trackId: number, atMs: number, embedding: Float32Array): boolean {
    this.prune(atMs);
    const before = this.last.get(trackId);
    this.last.set(trackId, { embedding, atMs });
    if (!before || before.embedding.length !== embedding.length) return false;
    let sum = 0;
    for (let i = 0; i < embedding.length; i++) sum += (embedding[i] - before.embedding[i]) ** 2;
    return similarityFromDistance(this.head, Math.sqrt(sum)) < this.minSimilarity;
  }

  /** Tracks remembered (for tests and metrics). */
  get size(): number {
    return this.last.size;
  }

  private prune(nowMs: number): void {
    for (const [id, entry] of this.last) if (nowMs - entry.atMs > this.forgetAfterMs) this.last.delete(id);
  }
}
