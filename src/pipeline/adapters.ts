import type { AccessPolicy, FrameObservation } from '../access/policy.js';
import type { EventSink } from '../events.js';
import type { MatchResult, Matcher } from '../gallery/matcher.js';
import type { FacegateMetrics } from '../ops/metrics.js';
import type { Logger } from '../util/log.js';
import type { QualityGate } from '../vision/quality.js';
import type { Box, GrayImage } from '../vision/image.js';
import type {
  FaceObservation,
  LoopActuator,
  LoopDecision,
  LoopMatcher,
  LoopPolicy,
  LoopQualityGate,
  MatchCandidate,
  QualityVerdict,
  RejectedFace,
} from './ports.js';

/**
 * Adapters from the components (src/vision QualityGate, src/gallery Matcher,
 * src/access AccessPolicy, the door) to the live loop's ports.
 */

/** Reasons that still let a face be recognised, with an inconclusive (poor_quality) vote. */
const SOFT_REASONS = new Set(['blurry']);

export function gateAdapter(gate: Pick<QualityGate, 'assess'>): LoopQualityGate {
  return {
    assess(image: GrayImage, boxes: readonly Box[]): QualityVerdict {
      const result = gate.assess(image, boxes);
      const accepted = result.accepted.map((f) => ({
        region: { box: f.box },
        qualityReasons: [] as string[],
      }));
      const rejected: RejectedFace[] = [];
      for (const r of result.rejected) {
        // A blurry face at the door is still the person at the door: recognise it, but its
        // vote cannot open the door (the policy makes it inconclusive: poor_quality).
        if (SOFT_REASONS.has(r.reason)) accepted.push({ region: { box: r.box }, qualityReasons: [r.reason] });
        else rejected.push({ box: r.box, reasons: [r.reason] });
      }
      return { accepted, rejected };
    },
  };
}

export function matcherAdapter(matcher: Pick<Matcher, 'match'>): LoopMatcher {
  return {
    match(embedding: Float32Array): MatchCandidate {
      const result = matcher.match(embedding);
      if (!result) return { personId: null, score: 0, margin: 0, detail: null };
      const margin = result.best.similarity - (result.runnerUp?.similarity ?? 0);
      return {
        personId: result.best.personId,
        personName: result.best.name,
        score: result.best.similarity,
        margin,
        detail: result,
      };
    },
  };
}

export function policyAdapter(policy: Pick<AccessPolicy, 'observe'>): LoopPolicy {
  return {
    observe(_frameMs: number, faces: readonly FaceObservation[]): readonly LoopDecision[] {
      const decisions: LoopDecision[] = [];
      for (const face of faces) {
        const observation: FrameObservation = {
          match: (face.match.detail as MatchResult | null) ?? null,
          qualityReasons: face.qualityReasons,
        };
        const decision = policy.observe(observation);
        if (!decision) continue;
        decisions.push(
          decision.type === 'access_granted'
            ? { event: decision, unlockFor: { personId: decision.person.id } }
            : { event: decision },
        );
      }
      return decisions;
    },
  };
}

/** What the actuator needs from the door: one unlock pulse. */
export interface DoorOpener {
  unlock(request: { readonly source: 'face'; readonly personId: string }): Promise<void>;
}

/**
 * Carries out a decision: the door first (the person is waiting), then the event. A
 * failed unlock is still reported: the event says so and an `error` event follows.
 */
export class DecisionActuator implements LoopActuator {
  private readonly logger: Logger;

  constructor(
    private readonly door: DoorOpener,
    private readonly events: EventSink,
    private readonly metrics: FacegateMetrics,
    logger: Logger,
  ) {
    this.logger = logger.child({ module: 'decisions' });
  }

  async act(decision: LoopDecision): Promise<void> {
    let unlockError: Error | null = null;
    if (decision.unlockFor) {
      try {
        await this.door.unlock({ source: 'face', personId: decision.unlockFor.personId });
        this.metrics.unlocks.inc({ source: 'face' });
      } catch (err) {
        unlockError = err as Error;
      }
    }
    const event = this.events.emit(
      unlockError ? { ...decision.event, unlockFailed: unlockError.message } : decision.event,
    );
    this.logger.info({ event }, decision.event.type);
    if (unlockError) {
      this.events.emit({ type: 'error', component: 'door', reason: `unlock failed: ${unlockError.message}` });
      throw unlockError;
    }
  }
}
