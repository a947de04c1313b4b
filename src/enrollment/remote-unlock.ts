import type { Door } from '../access/door.js';
import type { FacegateMetrics } from '../ops/metrics.js';
import { EnrollmentError } from './errors.js';

/** A verified signed `unlock` request, as the door's log and its `door_unlocked` event name it. */
export interface RemoteUnlockRequest {
  /** The admin's reason (args.reason, or "remote unlock"). */
  readonly reason: string;
  readonly transaction: string;
  /** Id of the admin key that signed it. */
  readonly keyId: string;
}

/**
 * The remote unlock of a signed request: one door pulse whose trace (`door_unlocked`,
 * source `remote`) keeps the reason, transaction and key id. Rejects with `unlock_failed`
 * when the relay did not move, so the admin's response says the door stayed shut.
 */
export class RemoteUnlock {
  constructor(
    private readonly door: Pick<Door, 'unlock'>,
    private readonly metrics?: Pick<FacegateMetrics, 'unlocks'>,
  ) {}

  async unlock(request: RemoteUnlockRequest): Promise<void> {
    const outcome = await this.door.unlock({
      source: 'remote',
      reason: request.reason,
      transaction: request.transaction,
      keyId: request.keyId,
    });
    if (!outcome.ok) throw new EnrollmentError('unlock_failed', `the door did not open: ${outcome.error}`);
    this.metrics?.unlocks.inc({ source: 'remote' });
  }
}
