import type { FacegateMetrics } from '../ops/metrics.js';
import type { DoorOpener } from '../pipeline/actuator.js';
import type { Door } from './door.js';

/**
 * The live loop's door: opens for the person the access policy granted, handing the
 * person id on to the door (its log line names who it opened for). Rejects when the relay
 * did not move, so the actuator's `access_granted` event carries `unlockFailed` (the door
 * itself has logged it and emitted the `error` event).
 */
export class FaceDoorOpener implements DoorOpener {
  constructor(
    private readonly door: Pick<Door, 'unlock'>,
    private readonly metrics?: Pick<FacegateMetrics, 'unlocks'>,
  ) {}

  async unlock(request: { readonly source: 'face'; readonly personId: string }): Promise<void> {
    const outcome = await this.door.unlock({ source: 'face', personId: request.personId });
    if (!outcome.ok) throw new Error(outcome.error);
    this.metrics?.unlocks.inc({ source: 'face' });
  }
}
