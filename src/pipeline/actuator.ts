import type { AccessDecision } from '../access/policy.js';
import type { EventSink } from '../events.js';
import type { FacegateMetrics } from '../ops/metrics.js';
import type { Logger } from '../util/log.js';

/** What the actuator needs from the door: one unlock pulse. */
export interface DoorOpener {
  unlock(request: { readonly source: 'face'; readonly personId: string }): Promise<void>;
}

/**
 * Carries out a policy decision: for `access_granted` the door first (the person is
 * waiting), then the event. A failed unlock is still reported: the event says so and an
 * `error` event follows.
 */
export class DecisionActuator {
  private readonly logger: Logger;

  constructor(
    private readonly door: DoorOpener,
    private readonly events: EventSink,
    private readonly metrics: FacegateMetrics,
    logger: Logger,
  ) {
    this.logger = logger.child({ module: 'decisions' });
  }

  async act(decision: AccessDecision): Promise<void> {
    let unlockError: Error | null = null;
    if (decision.type === 'access_granted') {
      try {
        await this.door.unlock({ source: 'face', personId: decision.person.id });
        this.metrics.unlocks.inc({ source: 'face' });
      } catch (err) {
        unlockError = err as Error;
      }
    }
    const event = this.events.emit(
      unlockError && decision.type === 'access_granted'
        ? { ...decision, unlockFailed: unlockError.message }
        : decision,
    );
    this.logger.info({ event }, decision.type);
    if (unlockError) {
      const message = `unlock failed: ${unlockError.message}`;
      // component/reason: the v1 field names this event had; source/message: the one error shape.
      this.events.emit({ type: 'error', source: 'door', message, component: 'door', reason: message });
      throw unlockError;
    }
  }
}
