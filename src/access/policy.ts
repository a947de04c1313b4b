import type {
  AccessDeniedEvent,
  AccessGrantedEvent,
  DenyReason,
  LivenessEvidence,
  SpoofSuspectedEvent,
  UnknownFaceEvent,
} from '../events.js';
import type { MatchResult } from '../gallery/matcher.js';
import type { FaceRegion } from '../vision/image.js';
import type { FaceQuality } from '../vision/quality.js';
import type { TrackVerdict } from '../liveness/judge.js';
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
 *
 * With `liveness.mode` on, a confirmed person is granted only when the confirming face's
 * track is judged `live`; until then the votes are kept (the person is waiting), and after
 * `liveness.maxDecisionSeconds` from the face appearing the visit is refused
 * (`access_denied`, reason `liveness_undecided`). A `spoof` track gives one
 * `spoof_suspected` per track and its votes never count.
 */

/** One recognised face of a frame: where it is, the quality gate's mark and the 1:N match. */
export interface ObservedFace {
  readonly region: FaceRegion;
  /** `poor` faces (e.g. blurry) vote inconclusive (`poor_quality`): they never open the door. */
  readonly quality: FaceQuality;
  /** Why the face is `poor` (empty for `ok`). */
  readonly reasons: readonly string[];
  /** Set when the face was not aligned on its own landmarks (the FaceCropper's reason). */
  readonly alignmentFallback?: string;
  /** The matcher's answer for the face, or null when the gallery is empty. */
  readonly match: MatchResult | null;
  /** The face track's liveness verdict (absent when liveness is off, or no stage ran: never live). */
  readonly liveness?: TrackVerdict;
}

/** The decisions' event shapes live with the other events in src/events.ts (contract v1). */
export type AccessGranted = AccessGrantedEvent;
export type AccessDenied = AccessDeniedEvent;
export type UnknownFace = UnknownFaceEvent;
export type SpoofSuspected = SpoofSuspectedEvent;

/**
 * On a decision whose votes include faces cut without their own landmarks: the reasons
 * (no_landmark_model, implausible_landmarks). Absent when every face was aligned on landmarks.
 */
export interface AlignmentNote {
  readonly alignmentFallback?: readonly string[];
}
export type AccessDecision = AccessGranted | AccessDenied | UnknownFace | SpoofSuspected;
export type { DenyReason };

type Vote = { readonly fallback?: string } & (
  | { kind: 'person'; atMs: number; personId: string; name: string; score: number; margin: number }
  | { kind: 'unknown'; atMs: number; score: number; quality: readonly string[] }
  | {
      kind: 'inconclusive';
      atMs: number;
      score: number;
      reason: DenyReason;
      closest: { id: string; name: string } | null;
      quality: readonly string[];
    }
);

export class AccessPolicy {
  private votes: Vote[] = [];
  private readonly cooldownUntil = new Map<string, number>();
  private unknownNoticeAt = -Infinity;
  /** Last access_denied per closest person: one person's refusal does not mute the next one's. */
  private readonly deniedNoticeAt = new Map<string, number>();
  /** Confirmed people waiting for a live verdict: since when (face appeared) and last seen. */
  private readonly awaitingLive = new Map<string, { sinceMs: number; lastMs: number }>();
  /** Tracks already reported as spoof_suspected (one event per track). */
  private readonly reportedSpoofTracks = new Set<number>();

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
    const livenessOn = this.config.liveness?.mode === 'on';
    if (livenessOn && face.liveness?.verdict === 'spoof') return this.spoof(now, face, face.liveness);
    const vote: Vote = face.alignmentFallback
      ? { ...this.vote(face, now), fallback: face.alignmentFallback }
      : this.vote(face, now);
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
        if (livenessOn && face.liveness?.verdict !== 'live') return this.awaitLive(now, vote, mine, face);
        this.awaitingLive.delete(vote.personId);
        this.cooldownUntil.set(vote.personId, now + this.config.cooldownSeconds * 1000);
        this.votes = [];
        this.pruneCooldowns(now);
        return {
          type: 'access_granted',
          person: { id: vote.personId, name: vote.name },
          score: round(Math.max(...mine.map((v) => v.score))),
          margin: round(Math.min(...mine.map((v) => v.margin))),
          frames: mine.length,
          ...(livenessOn && face.liveness ? { liveness: evidence(face.liveness) } : {}),
          ...alignmentNote(mine),
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
      return {
        type: 'unknown_face',
        score,
        frames: unknownVotes.length,
        quality,
        ...alignmentNote(unknownVotes),
      };
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
    const note = alignmentNote(this.votes);
    this.votes = [];
    return { type: 'access_denied', score, closest: best?.closest ?? null, reason, frames, ...note };
  }

  /**
   * A confirmed person whose face is not (yet) judged live: keep waiting, or refuse once
   * maxDecisionSeconds passed since the face appeared (`liveness_undecided`).
   */
  private awaitLive(
    now: number,
    vote: Extract<Vote, { kind: 'person' }>,
    mine: readonly Extract<Vote, { kind: 'person' }>[],
    face: ObservedFace,
  ): AccessDecision | null {
    const maxWaitMs = (this.config.liveness?.maxDecisionSeconds ?? 0) * 1000;
    const previous = this.awaitingLive.get(vote.personId);
    // A wait that lapsed (person gone longer than the vote window) starts again.
    const fresh = !previous || now - previous.lastMs > this.config.windowSeconds * 1000;
    const sinceMs = Math.min(fresh ? now : previous.sinceMs, face.liveness?.sinceMs ?? now);
    this.awaitingLive.set(vote.personId, { sinceMs, lastMs: now });
    if (now - sinceMs < maxWaitMs) return null;
    this.awaitingLive.delete(vote.personId);
    this.votes = [];
    if (!this.noticeDue(vote.personId, now)) return null;
    return {
      type: 'access_denied',
      score: round(Math.max(...mine.map((v) => v.score))),
      closest: { id: vote.personId, name: vote.name },
      reason: 'liveness_undecided',
      frames: mine.length,
      liveness: face.liveness
        ? evidence(face.liveness)
        : { verdict: 'undecided', reasons: ['no_liveness_stage'], scores: {} },
    };
  }

  /** A face on a spoof track: its vote never counts; one spoof_suspected per track. */
  private spoof(now: number, face: ObservedFace, verdict: TrackVerdict): SpoofSuspected | null {
    const match = face.match;
    const score = match ? match.best.similarity : 0;
    const person =
      match && score >= this.config.unknownThreshold
        ? { id: match.best.personId, name: match.best.name }
        : null;
    if (person) {
      this.votes = this.votes.filter((v) => v.kind !== 'person' || v.personId !== person.id);
      this.awaitingLive.delete(person.id);
      // The spoof event is the notice: no access_denied for the same presentation right after.
      this.deniedNoticeAt.set(person.id, now);
    }
    if (this.reportedSpoofTracks.has(verdict.trackId)) return null;
    this.reportedSpoofTracks.add(verdict.trackId);
    if (this.reportedSpoofTracks.size > 1000) {
      const oldest = this.reportedSpoofTracks.values().next().value as number;
      this.reportedSpoofTracks.delete(oldest);
    }
    return {
      type: 'spoof_suspected',
      person,
      score: round(score),
      trackId: verdict.trackId,
      reasons: verdict.reasons,
      scores: verdict.scores,
    };
  }

  /** True (and remembered) when an access_denied for `key` is not rate-limited now. */
  private noticeDue(key: string, now: number): boolean {
    const cooldownMs = this.config.noticeCooldownSeconds * 1000;
    if (now - (this.deniedNoticeAt.get(key) ?? -Infinity) < cooldownMs) return false;
    this.deniedNoticeAt.set(key, now);
    return true;
  }

  /** Forget the current window (e.g. after the camera restarted). Cooldowns stay. */
  reset(): void {
    this.votes = [];
  }

  /** Forget a person's cooldown (e.g. after they were removed). */
  forgetPerson(personId: string): void {
    this.cooldownUntil.delete(personId);
    this.awaitingLive.delete(personId);
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

function evidence(v: TrackVerdict): LivenessEvidence {
  return { verdict: v.verdict, reasons: v.reasons, scores: v.scores };
}

/** The fallback reasons among the deciding votes, only when there are any (events stay as before). */
function alignmentNote(votes: readonly Vote[]): AlignmentNote {
  const reasons = [...new Set(votes.flatMap((v) => (v.fallback ? [v.fallback] : [])))];
  return reasons.length > 0 ? { alignmentFallback: reasons } : {};
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
