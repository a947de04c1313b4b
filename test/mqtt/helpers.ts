import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { EventSink, EventType, FacegateEvent } from '../../src/events.js';
import { waitUntil } from '../helpers/broker.js';

export { freePort, OwnBroker, waitUntil, type BrokerOptions } from '../helpers/broker.js';

export const SHARED_BROKER = 'mqtt://127.0.0.1:1883';

/** A prefix no other test run uses, so tests on the shared broker do not see each other. */
export function uniqueId(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  text: string;
}

/**
 * A plain mqtt.js client that records what arrives on its subscriptions, like an
 * observer (Home Assistant, the admin tool) would see it.
 */
export class Observer {
  readonly messages: Received[] = [];
  readonly client: MqttClient;

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, retain: packet.retain, text: payload.toString('utf8') });
    });
  }

  /** `sessionId`: a persistent session (clean start off) that survives reconnects and broker restarts. */
  static async connect(url: string, filters: string[], sessionId?: string): Promise<Observer> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clientId: sessionId ?? uniqueId('observer'),
      clean: sessionId === undefined,
      properties: sessionId ? { sessionExpiryInterval: 300 } : undefined,
      reconnectPeriod: 200,
    });
    const observer = new Observer(client);
    if (filters.length > 0) await client.subscribeAsync(filters, { qos: 1 });
    return observer;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  async waitFor(
    topic: string,
    predicate: (m: Received) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<Received> {
    let found: Received | undefined;
    await waitUntil(
      `a message on ${topic}`,
      () => (found = this.on(topic).find(predicate)) !== undefined,
      timeoutMs,
    );
    return found as Received;
  }

  async publish(topic: string, payload: string | Buffer, retain = false): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Deletes retained messages a test left (e.g. `offline` availability) from a broker. */
export async function clearRetained(url: string, topics: string[]): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: uniqueId('cleaner'), reconnectPeriod: 0 });
  try {
    for (const topic of new Set(topics)) await client.publishAsync(topic, '', { qos: 1, retain: true });
  } finally {
    await client.endAsync(true);
  }
}

/**
 * Delivery tests treat events as opaque JSON (the publisher and outboxes never look inside
 * a body), so they send numbered bodies of any type, e.g. `{ type: 'door_forced', n: 3 }`,
 * that the typed `EventSink` (src/events.ts) would refuse from a real producer.
 */
export type OpaqueEvent = FacegateEvent & { readonly [field: string]: unknown };
export interface OpaqueEventPublisher {
  emit(body: { readonly type: EventType; readonly [field: string]: unknown }): OpaqueEvent;
}
export interface OpaqueOutbox {
  pendingOutbox(limit: number): { seq: number; event: OpaqueEvent }[];
}

/** The same publisher, typed to take opaque numbered bodies (see OpaqueEvent). */
export function opaque<P extends EventSink>(publisher: P): OpaqueEventPublisher & P {
  return publisher as OpaqueEventPublisher & P;
}
