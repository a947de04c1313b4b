import type { MatchResult } from '../gallery/matcher.js';
import type { Box } from '../vision/image.js';
import type { FaceQuality } from '../vision/quality.js';
import { FaceTracker, type TrackerOptions } from './tracker.js';

/**
 * Which faces of a frame need a fresh embedding: face tracks (FaceTracker, box IoU) whose
 * identity is already decided reuse their last match, and are embedded again only on every
 * `reembedEvery`-th frame.
 *
 * A track is **decided** when its last `agreeFrames` embeddings all gave the same identity —
 * one enrolled person at the accept threshold leading the runner-up by the margin, or
 * `unknown` below the unknown threshold (the vote classes of the access policy) — each on a
 * face the gate marked `ok`, aligned on its own landmarks, and, with liveness on, with a
 * final liveness verdict (live or spoof). Anything else (inconclusive, poor, fallback,
 * liveness undecided) starts the count again.
 *
 * Why it is safe: a reused frame casts **no vote** (the live loop gives the policy only
 * freshly embedded faces), so a reused match can never open the door; the policy sees a
 * decided track's face again at each re-embedding, as a normal vote. A different person
 * stepping into the same box is embedded at the latest `reembedEvery - 1` frames later; that
 * embedding disagrees with the decided identity, which ends the reuse (every frame is
 * embedded again until the new face is decided in turn).
 */

/** The identity an embedding points to (the access policy's vote classes), or null: inconclusive. */
export type TrackIdentity = `person:${string}` | 'unknown';

export interface IdentityThresholds {
  /** Similarity at or above which the best person is a vote for them (access.acceptThreshold). */
  readonly accept: number;
  /** Below this similarity a face is unknown (access.unknownThreshold). */
  readonly unknown: number;
  /** How far the best person must lead the runner-up (access.minMargin). */
  readonly minMargin: number;
}

export interface ReuseOptions {
  /** Consecutive agreeing embeddings that decide a track (>= 1). */
  readonly agreeFrames: number;
  /** A decided track is embedded on every k-th frame (>= 1; 1 = never reuse). */
  readonly reembedEvery: number;
  readonly tracker?: TrackerOptions;
}

/** What the loop learnt from one fresh embedding of a tracked face. */
export interface EmbeddedOutcome {
  readonly match: MatchResult | null;
  readonly quality: FaceQuality;
  /** Set when the face was not aligned on its own landmarks. */
  readonly alignmentFallback?: string;
  /** Whether the track's liveness verdict is final (live or spoof); true when liveness is off. */
  readonly livenessFinal: boolean;
}

export interface FacePlan {
  readonly trackId: number;
  /** The decided track's last match (embed nothing), or undefined: embed this face now. */
  readonly reuse?: { readonly match: MatchResult | null; readonly identity: TrackIdentity };
}

interface TrackState {
  /** Identity of the current run of agreeing embeddings, and its length. */
  identity: TrackIdentity | null;
  run: number;
  decided: boolean;
  /** Frames seen since the last embedding. */
  sinceEmbed: number;
  match: MatchResult | null;
}

/** The access policy's vote class of a match (null: inconclusive). */
export function identityOf(match: MatchResult | null, t: IdentityThresholds): TrackIdentity | null {
  if (!match) return 'unknown';
  const s = match.best.similarity;
  if (s < t.unknown) return 'unknown';
  if (s >= t.accept && (match.runnerUp === null || s - match.runnerUp.similarity >= t.minMargin))
    return `person:${match.best.personId}`;
  return null;
}

export class TrackIdentities {
  private readonly tracker: FaceTracker;
  private readonly states = new Map<number, TrackState>();

  constructor(
    private readonly options: ReuseOptions,
    private readonly thresholds: IdentityThresholds,
  ) {
    if (!(Number.isInteger(options.agreeFrames) && options.agreeFrames >= 1))
      throw new RangeError(`agreeFrames must be an integer >= 1, got ${options.agreeFrames}`);
    if (!(Number.isInteger(options.reembedEvery) && options.reembedEvery >= 1))
      throw new RangeError(`reembedEvery must be an integer >= 1, got ${options.reembedEvery}`);
    this.tracker = new FaceTracker(options.tracker);
  }

  /**
   * One frame's accepted boxes (frame time in ms, non-decreasing; also call it with none so
   * tracks end) → per box its track and whether its match can be reused. Counts the frame
   * for the decided tracks (their re-embedding comes every `reembedEvery`-th frame).
   */
  plan(timestampMs: number, boxes: readonly Box[]): FacePlan[] {
    const update = this.tracker.update(timestampMs, boxes);
    for (const t of update.ended) this.states.delete(t.trackId);
    return update.trackIds.map((trackId) => {
      const st = this.states.get(trackId);
      if (!st || !st.decided || st.identity === null) return { trackId };
      st.sinceEmbed += 1;
      if (st.sinceEmbed >= this.options.reembedEvery) return { trackId };
      return { trackId, reuse: { match: st.match, identity: st.identity } };
    });
  }

  /**
   * A fresh embedding of a track's face: continues or restarts its run of agreeing
   * identities; a decided track whose new embedding disagrees is undecided again.
   */
  record(trackId: number, outcome: EmbeddedOutcome): void {
    let st = this.states.get(trackId);
    if (!st) {
      st = { identity: null, run: 0, decided: false, sinceEmbed: 0, match: null };
      this.states.set(trackId, st);
    }
    st.sinceEmbed = 0;
    st.match = outcome.match;
    const clean = outcome.quality === 'ok' && !outcome.alignmentFallback && outcome.livenessFinal;
    const identity = clean ? identityOf(outcome.match, this.thresholds) : null;
    if (identity === null || identity !== st.identity) {
      st.identity = identity;
      st.run = identity === null ? 0 : 1;
      st.decided = false;
    } else {
      st.run += 1;
    }
    if (st.identity !== null && st.run >= this.options.agreeFrames) st.decided = true;
  }

  /** Whether a track is decided (for tests and the live view). */
  isDecided(trackId: number): boolean {
    return this.states.get(trackId)?.decided ?? false;
  }

  /** Live tracks with state. */
  get size(): number {
    return this.states.size;
  }
}
