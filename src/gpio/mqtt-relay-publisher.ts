import type { PublishOptions } from '../mqtt/connection.js';
import type { RelayPublisher } from './types.js';

/** The piece of MqttConnection the relay publisher uses. */
export interface RelayTransport {
  readonly connected: boolean;
  publish(topic: string, payload: string, options?: PublishOptions): Promise<void>;
}

/**
 * The MQTT relay's view of the device's MQTT connection. It exposes `connected`, so
 * `MqttRelay.unlock` refuses (instead of queueing) while the broker is away, and passes a
 * command's expiry on as the MQTT 5 message expiry, so neither this client nor the broker
 * hands an unlock to the relay after its moment has passed.
 */
export class MqttRelayPublisher implements RelayPublisher {
  constructor(private readonly transport: RelayTransport) {}

  get connected(): boolean {
    return this.transport.connected;
  }

  publish(
    topic: string,
    payload: string,
    options: { qos?: 0 | 1 | 2; retain?: boolean; expiresInSeconds?: number } = {},
  ): Promise<void> {
    return this.transport.publish(topic, payload, {
      qos: options.qos === 0 ? 0 : 1,
      retain: options.retain ?? false,
      expiresInSeconds: options.expiresInSeconds,
    });
  }
}
