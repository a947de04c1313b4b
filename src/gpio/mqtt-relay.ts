import type { Logger } from '../util/log.js';
import type { Relay, RelayPublisher } from './types.js';

export interface MqttRelayOptions {
  /** e.g. shellies/shelly1-AABBCC/relay/0/command (Shelly Gen1) or cmnd/door/POWER (Tasmota). */
  readonly commandTopic: string;
  readonly payloadUnlock: string;
  readonly payloadLock: string;
}

/**
 * How long an unlock command stays meaningful (s): it goes out with this MQTT 5 message
 * expiry, so a broker holding it for a relay that is away drops it, and it is withdrawn
 * from the client when not acknowledged in time. A person waits at the door for a few
 * seconds at most; an unlock delivered later opens the door for nobody.
 */
export const UNLOCK_EXPIRY_SECONDS = 5;

/**
 * A network relay (Shelly, Tasmota...) switched by publishing to its command topic.
 * Messages are QoS 1 and never retained: a retained "unlock" would reopen the door
 * whenever the relay reconnects. An unlock is never queued while the broker is away and
 * expires after UNLOCK_EXPIRY_SECONDS; a lock may arrive late (locking is always safe). Because this process cannot hold the relay physically,
 * configure the device's own auto-off (Shelly "auto off", Tasmota PulseTime) to the
 * pulse length as the fail-secure backstop (docs/door.md).
 */
export class MqttRelay implements Relay {
  readonly name = 'mqtt';
  private isUnlocked = false;
  private readonly log: Logger;

  constructor(
    private readonly options: MqttRelayOptions,
    private readonly publisher: RelayPublisher,
    logger: Logger,
  ) {
    this.log = logger.child({ module: 'relay', relay: 'mqtt', topic: options.commandTopic });
  }

  get unlocked(): boolean {
    return this.isUnlocked;
  }

  async start(): Promise<void> {
    if (this.publisher.connected === false) {
      // The daemon must start without its broker; the device's own auto-off keeps it locked.
      this.log.warn('broker not connected at start: lock command not sent (relay auto-off is the backstop)');
      return;
    }
    await this.lock();
  }

  async unlock(): Promise<void> {
    if (this.publisher.connected === false) {
      throw new Error('MQTT relay: not connected to the broker, refusing to queue an unlock');
    }
    await this.publisher.publish(this.options.commandTopic, this.options.payloadUnlock, {
      qos: 1,
      retain: false,
      expiresInSeconds: UNLOCK_EXPIRY_SECONDS,
    });
    this.isUnlocked = true;
  }

  async lock(): Promise<void> {
    this.isUnlocked = false;
    await this.publisher.publish(this.options.commandTopic, this.options.payloadLock, {
      qos: 1,
      retain: false,
    });
  }

  lockSync(): void {
    // Cannot wait for the broker here: send and hope; the device's auto-off is the backstop.
    this.isUnlocked = false;
    this.publisher
      .publish(this.options.commandTopic, this.options.payloadLock, { qos: 1, retain: false })
      .catch((err: unknown) => this.log.error({ err }, 'could not send the lock command'));
  }

  async close(): Promise<void> {
    await this.lock();
  }
}
