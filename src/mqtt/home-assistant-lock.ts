import type { Door } from '../access/door.js';
import type { FacegateMetrics } from '../ops/metrics.js';
import type { Logger } from '../util/log.js';
import type { HomeAssistantCommand } from './discovery.js';

/**
 * Home Assistant's lock entity on the door: `UNLOCK`/`OPEN` give one pulse whose trace is a
 * `door_unlocked` event with source `home_assistant` (the command itself is not signed:
 * broker ACLs decide who may publish it, docs/mqtt.md); `LOCK` ends a pulse early.
 * HomeAssistantDiscovery hands only live commands on (never a retained or queued one).
 */
export class HomeAssistantLock {
  private readonly log: Logger;

  constructor(
    private readonly door: Pick<Door, 'unlock' | 'lock'>,
    logger: Logger,
    private readonly metrics?: Pick<FacegateMetrics, 'unlocks'>,
  ) {
    this.log = logger.child({ module: 'ha-lock' });
  }

  /** Carries out a command; resolves when the door has acted (never rejects). */
  async handle(command: HomeAssistantCommand): Promise<void> {
    if (command === 'lock') {
      await this.door.lock();
      return;
    }
    const outcome = await this.door.unlock({ source: 'home_assistant' });
    if (outcome.ok) this.metrics?.unlocks.inc({ source: 'home_assistant' });
    else this.log.warn({ error: outcome.error }, 'Home Assistant unlock: the door did not open');
  }
}
