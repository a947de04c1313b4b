import type { EventBody } from '../events.js';
import type { Box, FaceRegion, GrayImage } from '../vision/image.js';

/**
 * The narrow ports the live loop needs. app.ts adapts the real components (quality gate,
 * matcher, access policy, door) to these, so the loop is testable with small fakes and
 * does not change when a component's wider API does.
 */

export interface RejectedFace {
  readonly box: Box;
  /** Why the quality gate refused it, e.g. "too_small", "blurry", "outside_zone". */
  readonly reasons: readonly string[];
}

/** A face that goes on to recognition; quality reasons make its vote inconclusive (e.g. blurry). */
export interface GatedFace {
  readonly region: FaceRegion;
  readonly qualityReasons: readonly string[];
}

export interface QualityVerdict {
  /** Faces to recognise, most important (largest / nearest) first. */
  readonly accepted: readonly GatedFace[];
  /** Faces not recognised at all (too small, outside the door zone, too many). */
  readonly rejected: readonly RejectedFace[];
}

export interface LoopQualityGate {
  assess(image: GrayImage, boxes: readonly Box[]): QualityVerdict;
}

/** The 1:N answer for one face. */
export interface MatchCandidate {
  /** Best person, or null with an empty gallery. */
  readonly personId: string | null;
  readonly personName?: string;
  readonly score: number;
  /** Best person's score minus the runner-up person's (score when there is no runner-up). */
  readonly margin: number;
  /** Extra fields the policy needs (kept opaque to the loop). */
  readonly detail?: unknown;
}

export interface FaceObservation {
  readonly region: FaceRegion;
  readonly qualityReasons: readonly string[];
  readonly match: MatchCandidate;
}

export interface LoopMatcher {
  match(embedding: Float32Array): MatchCandidate;
}

export interface LoopDecision {
  /** The event to publish (`access_granted`, `access_denied`, `unknown_face`). */
  readonly event: EventBody;
  /** Set when the door must open for this decision. */
  readonly unlockFor?: { readonly personId: string };
}

export interface LoopPolicy {
  /** Everything seen in one frame (possibly nothing) → decisions to act on now. */
  observe(
    frameMonotonicMs: number,
    faces: readonly FaceObservation[],
    rejected: readonly RejectedFace[],
  ): readonly LoopDecision[];
}

/** Carries out a decision: the door pulse and the event. */
export interface LoopActuator {
  act(decision: LoopDecision): Promise<void>;
}
