import type { AccessDecision } from '../access/policy.js';
import type { EventSink } from '../events.js';
import type { Logger } from '../util/log.js';

/**
 * What the actuator needs from the door: one unlock pulse for this person; rejects when
 * the door did not open (FaceDoorOpener, src/access/door-opener.ts).
 */
export interface DoorOpener {
  unlock(request: { readonly source: 'face'; readonly personId: string }): Promise<void>;
}

/**
 * Carries out a policy decision: for `access_granted` the door first (the person is
 * waiting), then the event — the face unlock's one trace. A failed unlock is still
 * reported: the event carries `unlockFailed` (the door has logged the relay fault and
 * emitted its `error` event), and the loop goes on.
 */
export class DecisionActuator {
  private readonly logger: Logger;

  constructor(
    private readonly door: DoorOpener,
    private readonly events: EventSink,
    logger: Logger,
  ) {
    this.logger = logger.child({ module: 'decisions' });
  }

  async act(decision: AccessDecision): Promise<void> {
    let unlockError: Error | null = null;
    if (decision.type === 'access_granted') {
      try {
        await this.door.unlock({ source: 'face', personId: decision.person.id });
      } catch (err) {
        unlockError = err as Error;
      }
    }
    const event = this.events.emit(
      unlockError && decision.type === 'access_granted'
        ? { ...decision, unlockFailed: unlockError.message }
        : decision,
    );
    if (unlockError) this.logger.error({ event }, 'access granted but the door did not open');
    else this.logger.info({ event }, headline(decision));
  }
}

/** The log line's message: the decision and who, so a person reading the log sees it first. */
function headline(d: AccessDecision): string {
  const score = d.score.toFixed(3);
  switch (d.type) {
    case 'access_granted':
      return `access_granted ${d.person.id} (score ${score})`;
    case 'access_denied':
      return `access_denied ${d.closest?.id ?? 'nobody'}: ${d.reason} (score ${score})`;
    case 'unknown_face':
      return `unknown_face (best score ${score})`;
    case 'spoof_suspected':
      return `spoof_suspected ${d.person?.id ?? 'unknown person'}: ${d.reasons.join(', ')}`;
  }
}
