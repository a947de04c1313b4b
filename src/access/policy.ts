import type { AccessDeniedEvent, AccessGrantedEvent, DenyReason, UnknownFaceEvent } from '../events.js';
import type { MatchResult } from '../gallery/matcher.js';
import type { FaceRegion } from '../vision/image.js';
import type { FaceQuality } from '../vision/quality.js';
import type { AccessConfig } from './config.js';

/**
 * The access decision, pure: no I/O, no clock — time is the frame's own monotonic
 * timestamp (a frame decided late is still judged at the moment it was taken). Each face
 * in a frame is one vote:
 *
 * - best similarity < unknownThreshold            → an "unknown" vote
 * - best similarity >= acceptThreshold and it leads the runner-up PERSON by >= minMargin
 *                                                 → a vote for that person
 * - anything in between (or a `poor` face)          → an inconclusive vote with a reason
 *
 * Only the last `windowFrames` votes within `windowSeconds` count. A person with
 * `confirmFrames` votes there (and not in their cooldown) is granted; the window is then
 * cleared. `confirmFrames` unknown votes in the window give `unknown_face`; a full window
 * (windowFrames votes) in which nobody is being confirmed gives `access_denied` with the
 * most common reason. Both notices are rate-limited by `noticeCooldownSeconds`
 * (access_denied per closest person, so one refusal does not mute the next visitor's).
 */

/** One recognised face of a frame: where it is, the quality gate's mark and the 1:N match. */
export interface ObservedFace {
  readonly region: FaceRegion;
  /** `poor` faces (e.g. blurry) vote inconclusive (`poor_quality`): they never open the door. */
  readonly quality: FaceQuality;
  /** Why the face is `poor` (empty for `ok`). */
  readonly reasons: readonly string[];
  /** The matcher's answer for the face, or null when the gallery is empty. */
  readonly match: MatchResult | null;
}

/** The decisions' event shapes live with the other events in src/events.ts (contract v1). */
export type AccessGranted = AccessGrantedEvent;
export type AccessDenied = AccessDeniedEvent;
export type UnknownFace = UnknownFaceEvent;
export type AccessDecision = AccessGranted | AccessDenied | UnknownFace;
export type { DenyReason };

type Vote =
  | { kind: 'person'; atMs: number; personId: string; name: string; score: number; margin: number }
  | { kind: 'unknown'; atMs: number; score: number; quality: readonly string[] }
  | {
      kind: 'inconclusive';
      atMs: number;
      score: number;
      reason: DenyReason;
      closest: { id: string; name: string } | null;
      quality: readonly string[];
    };

export class AccessPolicy {
  private votes: Vote[] = [];
  private readonly cooldownUntil = new Map<string, number>();
  private unknownNoticeAt = -Infinity;
  /** Last access_denied per closest person: one person's refusal does not mute the next one's. */
  private readonly deniedNoticeAt = new Map<string, number>();

  constructor(private readonly config: AccessConfig) {}

  /**
   * Every recognised face of one frame, in the gate's order (largest first), each one vote;
   * `frameTimestampMs` is the frame's monotonic capture time (Frame.timestampMs). Returns the
   * decisions to act on now (usually none; at most one per face).
   */
  observe(frameTimestampMs: number, faces: readonly ObservedFace[]): AccessDecision[] {
    if (!Number.isFinite(frameTimestampMs)) throw new RangeError('frame timestamp must be finite');
    const decisions: AccessDecision[] = [];
    for (const face of faces) {
      const decision = this.observeFace(frameTimestampMs, face);
      if (decision) decisions.push(decision);
    }
    return decisions;
  }

  private observeFace(now: number, face: ObservedFace): AccessDecision | null {
    this.expire(now);
    const vote = this.vote(face, now);
    this.votes.push(vote);
    if (this.votes.length > this.config.windowFrames) this.votes.shift();

    if (vote.kind === 'person') {
      const mine = this.votes.filter(
        (v): v is Extract<Vote, { kind: 'person' }> => v.kind === 'person' && v.personId === vote.personId,
      );
      if (mine.length >= this.config.confirmFrames) {
        if ((this.cooldownUntil.get(vote.personId) ?? -Infinity) > now) {
          // Already let in moments ago: the same visit, not a new decision.
          this.votes = [];
          return null;
        }
        this.cooldownUntil.set(vote.personId, now + this.config.cooldownSeconds * 1000);
        this.votes = [];
        this.pruneCooldowns(now);
        return {
          type: 'access_granted',
          person: { id: vote.personId, name: vote.name },
          score: round(Math.max(...mine.map((v) => v.score))),
          margin: round(Math.min(...mine.map((v) => v.margin))),
          frames: mine.length,
        };
      }
      return null;
    }

    const quality = [...new Set(this.votes.flatMap((v) => (v.kind === 'person' ? [] : v.quality)))];
    const unknownVotes = this.votes.filter((v) => v.kind === 'unknown');
    if (unknownVotes.length >= this.config.confirmFrames) {
      if (now - this.unknownNoticeAt < this.config.noticeCooldownSeconds * 1000) return null;
      this.unknownNoticeAt = now;
      this.votes = [];
      // Score and frames of the unknown face itself, not of an enrolled person seen moments before.
      const score = round(Math.max(...unknownVotes.map((v) => v.score)));
      return { type: 'unknown_face', score, frames: unknownVotes.length, quality };
    }
    // A full window and nobody confirmed.
    if (this.votes.length < this.config.windowFrames) return null;
    if (this.votes.some((v) => v.kind === 'person')) return null; // someone is still being confirmed
    const inconclusive = this.votes.filter(
      (v): v is Extract<Vote, { kind: 'inconclusive' }> => v.kind === 'inconclusive',
    );
    const reason = mostCommon(inconclusive.map((v) => v.reason)) ?? 'not_confirmed';
    const best = inconclusive.reduce<Extract<Vote, { kind: 'inconclusive' }> | null>(
      (a, v) => (a === null || v.score > a.score ? v : a),
      null,
    );
    const key = best?.closest?.id ?? '';
    if (now - (this.deniedNoticeAt.get(key) ?? -Infinity) < this.config.noticeCooldownSeconds * 1000)
      return null;
    this.deniedNoticeAt.set(key, now);
    for (const [id, at] of this.deniedNoticeAt) {
      if (now - at >= this.config.noticeCooldownSeconds * 1000) this.deniedNoticeAt.delete(id);
    }
    // No person votes are left in this full window: the score is the closest anyone came.
    const score = round(Math.max(...this.votes.map((v) => v.score)));
    const frames = this.votes.length;
    this.votes = [];
    return { type: 'access_denied', score, closest: best?.closest ?? null, reason, frames };
  }

  /** Forget the current window (e.g. after the camera restarted). Cooldowns stay. */
  reset(): void {
    this.votes = [];
  }

  /** Forget a person's cooldown (e.g. after they were removed). */
  forgetPerson(personId: string): void {
    this.cooldownUntil.delete(personId);
    this.votes = this.votes.filter((v) => v.kind !== 'person' || v.personId !== personId);
  }

  private vote(face: ObservedFace, now: number): Vote {
    const quality = face.reasons;
    const match = face.match;
    const score = match ? match.best.similarity : 0;
    if (!match || score < this.config.unknownThreshold) return { kind: 'unknown', atMs: now, score, quality };
    const closest = { id: match.best.personId, name: match.best.name };
    if (face.quality !== 'ok') {
      return { kind: 'inconclusive', atMs: now, score, reason: 'poor_quality', closest, quality };
    }
    if (score < this.config.acceptThreshold) {
      return { kind: 'inconclusive', atMs: now, score, reason: 'below_accept_threshold', closest, quality };
    }
    // The one place the margin is computed: lead over the runner-up PERSON (score alone without one).
    const margin = score - (match.runnerUp?.similarity ?? 0);
    if (margin < this.config.minMargin) {
      return { kind: 'inconclusive', atMs: now, score, reason: 'margin_too_small', closest, quality };
    }
    return { kind: 'person', atMs: now, personId: closest.id, name: closest.name, score, margin };
  }

  private expire(now: number): void {
    const oldest = now - this.config.windowSeconds * 1000;
    while (this.votes.length > 0 && this.votes[0].atMs < oldest) this.votes.shift();
  }

  private pruneCooldowns(now: number): void {
    for (const [id, until] of this.cooldownUntil) if (until <= now) this.cooldownUntil.delete(id);
  }
}

function mostCommon<T>(items: readonly T[]): T | undefined {
  const counts = new Map<T, number>();
  let best: T | undefined;
  let bestCount = 0;
  for (const item of items) {
    const n = (counts.get(item) ?? 0) + 1;
    counts.set(item, n);
    if (n > bestCount) {
      best = item;
      bestCount = n;
    }
  }
  return best;
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
