import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../util/log.js';
import type { MqttConfig } from './config.js';
import { describeReasonCode, SESSION_TAKEN_OVER } from './reason-codes.js';
import { isValidDeviceId, resolveBaseTopic, topicMatches, topicsFor, type Topics } from './topics.js';

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

export interface PublishOptions {
  qos?: 0 | 1;
  retain?: boolean;
  properties?: IPublishPacket['properties'];
  /**
   * For a command whose meaning expires (an unlock): refused at once while disconnected,
   * sent with this MQTT 5 message expiry (seconds) so the broker drops it for a subscriber
   * that is away, and withdrawn from mqtt.js's outgoing store (never re-sent after a
   * reconnect) when not acknowledged within it or when the connection drops first.
   */
  expiresInSeconds?: number;
}

export interface MqttConnectionOptions {
  config: MqttConfig;
  deviceId: string;
  logger: Logger;
}

interface Subscription {
  filter: string;
  qos: 0 | 1;
  handler: MessageHandler;
}

/** What `/health` shows about the connection (`MqttConnection.status()`). */
export interface MqttStatus {
  readonly connected: boolean;
  readonly clientId: string;
  /** Connection attempts that failed or ended early in a row (drives the backoff). */
  readonly consecutiveFailures: number;
  /** Delay before the next attempt while disconnected, ms (null while connected). */
  readonly nextReconnectMs: number | null;
  /** Times the broker said another client took this session over (DISCONNECT 0x8E). */
  readonly sessionTakeovers: number;
  /** The broker's last DISCONNECT, if any. */
  readonly lastDisconnect: {
    readonly reasonCode: number;
    readonly reason: string;
    readonly agoSeconds: number;
  } | null;
  /** Set while a takeover happened within the last 10 minutes: two devices share a client id. */
  readonly problem: string | null;
}

/** A takeover this recent still marks the connection as a problem in `/health`. */
const TAKEOVER_MEMORY_MS = 10 * 60_000;

export const AVAILABILITY_ONLINE = 'online';
export const AVAILABILITY_OFFLINE = 'offline';

/**
 * The device's one MQTT client: a fixed client id and a persistent MQTT 5 session (so
 * QoS 1 requests sent while the door was offline arrive when it returns), retained
 * availability with the last will, reconnect with backoff forever, and every subscription
 * re-sent on every (re)connect. `start()` never waits for the broker: the door works
 * without it.
 */
/**
 * Drops a subscription's handler. `keepAtBroker` leaves the subscription in the broker's
 * persistent session, so QoS 1 messages keep queueing there while this client is away
 * (a door being restarted must still receive the requests sent meanwhile).
 */
export type Unsubscribe = (options?: { keepAtBroker?: boolean }) => void;

export class MqttConnection {
  readonly topics: Topics;
  readonly clientId: string;
  private readonly config: MqttConfig;
  private readonly log: Logger;
  private client: MqttClient | null = null;
  private readonly subscriptions = new Set<Subscription>();
  private readonly connectListeners = new Set<() => void>();
  private readonly statusListeners = new Set<(connected: boolean) => void>();
  private isConnected = false;
  private subscribesInFlight = 0;
  /** Bumped on every connection loss, so late SUBACK callbacks of an old connection are ignored. */
  private generation = 0;
  private failures = 0;
  private connectedAtMs: number | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private plannedDelayMs: number | null = null;
  private takeovers = 0;
  private watchingAvailability = false;
  private lastDisconnect: { reasonCode: number; atMs: number } | null = null;
  private lastTakeoverMs: number | null = null;
  private readonly now: () => number;
  /** This process's connection; sent as a user property with availability, to spot a twin. */
  readonly instanceId = randomUUID();

  constructor(options: MqttConnectionOptions & { monotonicMs?: () => number }) {
    if (!isValidDeviceId(options.deviceId)) {
      throw new Error(`device id "${options.deviceId}" must be 1-64 letters, digits, "-" or "_"`);
    }
    this.config = options.config;
    this.log = options.logger.child({ module: 'mqtt' });
    this.topics = topicsFor(
      resolveBaseTopic(options.config.baseTopic, options.deviceId),
      options.config.fleetTopic,
    );
    if (this.topics.base === this.topics.fleet) {
      throw new Error(
        `base topic "${this.topics.base}" is the fleet topic: choose another device id or mqtt.baseTopic`,
      );
    }
    this.clientId = options.config.clientId.trim() || `facegate-${options.deviceId}`;
    this.now = options.monotonicMs ?? (() => performance.now());
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** Connected, and the broker has acknowledged every subscription (tests and tools wait for this). */
  get ready(): boolean {
    return this.isConnected && this.subscribesInFlight === 0;
  }

  /** Starts connecting in the background. Throws only on bad local settings (unreadable TLS/password files). */
  start(): void {
    if (this.client) return;
    if (!this.watchingAvailability) {
      this.watchingAvailability = true;
      this.subscribe(this.topics.availability, (_topic, payload, packet) =>
        this.onAvailability(payload, packet),
      );
    }
    const client = mqtt.connect(this.config.url, this.clientOptions());
    this.client = client;
    client.on('connect', (connack) => {
      this.connectedAtMs = this.now();
      this.plannedDelayMs = null;
      this.log.info(
        { url: this.config.url, sessionPresent: connack.sessionPresent, clientId: this.clientId },
        'mqtt connected',
      );
      this.resubscribeAll(client);
      client.publish(this.topics.availability, AVAILABILITY_ONLINE, this.availabilityOptions(), (err) => {
        if (err) this.log.warn({ err: err.message }, 'could not publish availability');
      });
      this.setConnected(true);
      for (const listener of this.connectListeners) this.safely(listener, 'connect listener');
    });
    // The broker's DISCONNECT (MQTT 5) says why; 'close' follows.
    client.on('disconnect', (packet) => {
      const reasonCode = packet.reasonCode ?? 0;
      this.lastDisconnect = { reasonCode, atMs: this.now() };
      if (reasonCode === SESSION_TAKEN_OVER) {
        this.recordTakeover('broker DISCONNECT 0x8e session taken over');
      } else {
        this.log.warn({ reasonCode, reason: describeReasonCode(reasonCode) }, 'mqtt broker disconnected us');
      }
    });
    client.on('close', () => this.onClose(client));
    client.on('error', (err) => this.log.warn({ err: err.message }, 'mqtt error'));
    client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
  }

  private availabilityOptions(): { qos: 1; retain: true; properties: IPublishPacket['properties'] } {
    return { qos: 1, retain: true, properties: { userProperties: { instance: this.instanceId } } };
  }

  /**
   * Our own availability topic, as the broker delivers it: an `online` or `offline` sent by
   * another instance (user property `instance`) means another process connects with this
   * device's identity. Brokers that close the old connection without DISCONNECT 0x8E on a
   * takeover (Mosquitto 2.0) are caught this way too. A retained `offline` of another
   * instance is only the previous run of this door and is ignored.
   */
  private onAvailability(payload: Buffer, packet: IPublishPacket): void {
    const raw = packet.properties?.userProperties?.instance;
    const instance = Array.isArray(raw) ? raw[0] : raw;
    if (instance === undefined || instance === this.instanceId) return;
    const text = payload.toString('utf8');
    if (text !== AVAILABILITY_ONLINE && text !== AVAILABILITY_OFFLINE) return;
    if (packet.retain && text === AVAILABILITY_OFFLINE) return;
    this.recordTakeover(
      `another instance (${instance.slice(0, 8)}) published "${text}" on ${this.topics.availability}`,
    );
  }

  private recordTakeover(evidence: string): void {
    const now = this.now();
    // One takeover is often seen twice (the DISCONNECT and the twin's availability).
    if (this.lastTakeoverMs !== null && now - this.lastTakeoverMs < 200) return;
    this.takeovers++;
    this.lastTakeoverMs = now;
    this.log.error(
      { clientId: this.clientId, evidence, takeovers: this.takeovers },
      'mqtt session taken over: another client connects with the same client id (two devices with one device.id / mqtt.clientId?); backing off',
    );
  }

  /** How the connection is doing, for `/health`. */
  status(): MqttStatus {
    const now = this.now();
    const recentTakeover = this.lastTakeoverMs !== null && now - this.lastTakeoverMs < TAKEOVER_MEMORY_MS;
    return {
      connected: this.isConnected,
      clientId: this.clientId,
      consecutiveFailures: this.failures,
      nextReconnectMs: this.isConnected ? null : this.plannedDelayMs,
      sessionTakeovers: this.takeovers,
      lastDisconnect: this.lastDisconnect
        ? {
            reasonCode: this.lastDisconnect.reasonCode,
            reason: describeReasonCode(this.lastDisconnect.reasonCode),
            agoSeconds: Math.round((now - this.lastDisconnect.atMs) / 1000),
          }
        : null,
      problem: recentTakeover
        ? `session taken over ${this.takeovers} time(s): another client uses client id "${this.clientId}" (two devices with one device.id?)`
        : null,
    };
  }

  /**
   * A connection ended (or an attempt failed). The reconnect delay is ours, not MQTT.js's
   * fixed reconnectPeriod: it doubles with every attempt that fails or does not stay up
   * for STABLE_FACTOR x maxMs (a session taken over right after connecting counts as
   * failed), up to `reconnect.maxMs`, with "equal jitter" (half fixed, half random;
   * AWS Architecture Blog, "Exponential Backoff And Jitter", 2015) so a fleet, or two
   * doors fighting over one client id, do not reconnect in lockstep.
   */
  private onClose(client: MqttClient): void {
    this.subscribesInFlight = 0; // unanswered SUBSCRIBEs are sent again on the next connect
    this.generation++;
    const wasConnected = this.isConnected;
    this.setConnected(false);
    if (this.client !== client) return; // stopped: no reconnect, no "lost" message
    const { minMs, maxMs } = this.config.reconnect;
    const stable =
      this.connectedAtMs !== null && this.now() - this.connectedAtMs >= Math.max(5000, STABLE_FACTOR * maxMs);
    this.failures = stable ? 0 : this.failures + 1;
    this.connectedAtMs = null;
    const base = Math.min(Math.max(maxMs, 100), Math.max(100, minMs) * 2 ** Math.min(this.failures, 20));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.plannedDelayMs = delay;
    if (wasConnected) {
      const recentTakeover =
        this.lastTakeoverMs !== null && this.now() - this.lastTakeoverMs < TAKEOVER_MEMORY_MS;
      const reason =
        this.lastDisconnect && this.now() - this.lastDisconnect.atMs < 1000
          ? describeReasonCode(this.lastDisconnect.reasonCode)
          : recentTakeover
            ? 'session taken over (again) by the client with the same client id'
            : 'connection lost';
      this.log.warn(
        { reason, reconnectInMs: delay, failures: this.failures },
        `mqtt ${reason}; reconnecting`,
      );
    }
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.client !== client || client.connected) return;
      // Keep the stores: QoS 1 messages in flight are sent again on the new connection.
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    }, delay);
    this.reconnectTimer.unref();
  }

  /** Publishes `offline` (retained) and disconnects cleanly, within `timeoutMs`. The session stays on the broker. */
  async stop(timeoutMs = 3000): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = null;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        client.publish(this.topics.availability, AVAILABILITY_OFFLINE, this.availabilityOptions(), () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.end(true);
        resolve();
      }, timeoutMs);
      client.end(!client.connected, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.setConnected(false);
  }

  /** Registers a handler for a topic filter; (re)subscribed on every connect. Returns an unsubscribe function. */
  subscribe(filter: string, handler: MessageHandler, qos: 0 | 1 = 1): Unsubscribe {
    const sub: Subscription = { filter, qos, handler };
    this.subscriptions.add(sub);
    if (this.client?.connected) this.sendSubscribe(this.client, [sub]);
    return (options) => {
      this.subscriptions.delete(sub);
      const stillWanted = [...this.subscriptions].some((s) => s.filter === filter);
      if (!stillWanted && !options?.keepAtBroker && this.client?.connected) this.client.unsubscribe(filter);
    };
  }

  /** Called after every (re)connect, once subscriptions and availability are sent. */
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /** Connected/disconnected changes, for metrics and health. */
  onStatus(listener: (connected: boolean) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /**
   * Publishes a message. QoS 1 resolves on PUBACK. While disconnected mqtt.js keeps the
   * message in memory and sends it after reconnecting; callers that must survive a restart
   * (events) use the outbox and check `connected` first.
   */
  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const client = this.client;
    if (!client) return Promise.reject(new Error('mqtt connection is not started'));
    if (options.expiresInSeconds !== undefined) return this.publishExpiring(client, topic, payload, options);
    return new Promise((resolve, reject) => {
      client.publish(
        topic,
        payload,
        { qos: options.qos ?? 1, retain: options.retain ?? false, properties: options.properties },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  private publishExpiring(
    client: MqttClient,
    topic: string,
    payload: string | Buffer,
    options: PublishOptions,
  ): Promise<void> {
    const seconds = Math.max(1, Math.round(options.expiresInSeconds ?? 1));
    if (!this.isConnected || !client.connected) {
      return Promise.reject(
        new Error(`not connected to the broker: a command that expires is not queued (${topic})`),
      );
    }
    return new Promise((resolve, reject) => {
      let withdrawn: string | null = null;
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const callback = (err?: Error): void => finish(err && withdrawn ? new Error(withdrawn) : err);
      const withdraw = (why: string): void => {
        withdrawn = why;
        // Out of mqtt.js's outgoing store (and its store-processing queue): never re-sent after a reconnect.
        for (const [id, entry] of Object.entries(client.outgoing)) {
          if (entry.cb === callback) client.removeOutgoingMessage(Number(id));
        }
        const queue = (client as unknown as { _storeProcessingQueue?: { callback?: unknown }[] })
          ._storeProcessingQueue;
        const queued = queue?.findIndex((f) => f.callback === callback) ?? -1;
        if (queue && queued >= 0) queue.splice(queued, 1);
        finish(new Error(why));
      };
      const onClose = (): void =>
        withdraw(`connection lost before the broker acknowledged the command (${topic}); not re-sent`);
      const timer = setTimeout(
        () => withdraw(`command not acknowledged within its ${seconds} s expiry (${topic}); withdrawn`),
        seconds * 1000,
      );
      client.on('close', onClose);
      client.publish(
        topic,
        payload,
        {
          qos: options.qos ?? 1,
          retain: options.retain ?? false,
          properties: { ...options.properties, messageExpiryInterval: seconds },
        },
        callback,
      );
    });
  }

  /** For tests only: drop the TCP connection without DISCONNECT, as a crash or a cut cable would. */
  simulateConnectionLoss(): void {
    this.client?.stream.destroy();
  }

  private clientOptions(): IClientOptions {
    const cfg = this.config;
    const options: IClientOptions = {
      clientId: this.clientId,
      protocolVersion: 5,
      clean: false,
      properties: {
        sessionExpiryInterval: cfg.sessionExpirySeconds,
        // The broker drops (for us) any message far over the request limit, so a hostile
        // 200 MB publish never reaches this process's memory. Between maxBytes and this
        // the router still answers payload_too_large.
        maximumPacketSize: maximumPacketSize(cfg.requests.maxBytes),
      },
      keepalive: cfg.keepaliveSeconds,
      connectTimeout: cfg.connectTimeoutMs,
      // 0: MQTT.js's reconnect timer has a fixed period; onClose() schedules reconnects with backoff.
      reconnectPeriod: 0,
      // We resubscribe ourselves on every connect: mqtt.js skips it when the broker claims a session.
      resubscribe: false,
      will: {
        topic: this.topics.availability,
        payload: Buffer.from(AVAILABILITY_OFFLINE),
        properties: { userProperties: { instance: this.instanceId } },
        qos: 1,
        retain: true,
      },
    };
    if (cfg.username) options.username = cfg.username;
    // loadConfig has normally read passwordFile into password already; tools may pass only the file.
    if (cfg.password) options.password = Buffer.from(cfg.password);
    else if (cfg.passwordFile) options.password = readSecret(cfg.passwordFile, 'mqtt.passwordFile');
    if (cfg.tls.caFile) options.ca = readSecret(cfg.tls.caFile, 'mqtt.tls.caFile');
    if (cfg.tls.certFile) options.cert = readSecret(cfg.tls.certFile, 'mqtt.tls.certFile');
    if (cfg.tls.keyFile) options.key = readSecret(cfg.tls.keyFile, 'mqtt.tls.keyFile');
    if (cfg.tls.certFile && !cfg.tls.keyFile)
      throw new Error('mqtt.tls.certFile is set but mqtt.tls.keyFile is empty');
    options.rejectUnauthorized = cfg.tls.rejectUnauthorized;
    return options;
  }

  private resubscribeAll(client: MqttClient): void {
    this.sendSubscribe(client, [...this.subscriptions]);
  }

  private sendSubscribe(client: MqttClient, subs: Subscription[]): void {
    const map: Record<string, { qos: 0 | 1 }> = {};
    for (const s of subs) map[s.filter] = { qos: Math.max(map[s.filter]?.qos ?? 0, s.qos) as 0 | 1 };
    if (Object.keys(map).length === 0) return;
    this.subscribesInFlight++;
    const generation = this.generation;
    client.subscribe(map, (err, granted) => {
      if (generation === this.generation) this.subscribesInFlight--;
      if (err) {
        this.log.warn({ err: err.message }, 'subscribe failed');
        return;
      }
      for (const g of granted ?? []) {
        if (g.qos > 2) this.log.error({ topic: g.topic, reasonCode: g.qos }, 'broker refused subscription');
      }
    });
  }

  private dispatch(topic: string, payload: Buffer, packet: IPublishPacket): void {
    for (const sub of this.subscriptions) {
      if (topicMatches(sub.filter, topic))
        this.safely(() => sub.handler(topic, payload, packet), `handler ${sub.filter}`);
    }
  }

  private setConnected(connected: boolean): void {
    if (connected === this.isConnected) return;
    this.isConnected = connected;
    for (const listener of this.statusListeners) this.safely(() => listener(connected), 'status listener');
  }

  private safely(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, what }, 'mqtt listener threw');
    }
  }
}

/** A connection that stayed up this many times reconnect.maxMs (at least 5 s) resets the backoff. */
const STABLE_FACTOR = 2;

/** MQTT packet limit for incoming messages: the request limit plus room for topic and properties. */
export function maximumPacketSize(maxRequestBytes: number): number {
  return Math.min(268_435_455, maxRequestBytes + 64 * 1024);
}

function readSecret(path: string, key: string): Buffer {
  try {
    const data = readFileSync(path);
    return key === 'mqtt.passwordFile' ? Buffer.from(data.toString('utf8').replace(/\r?\n$/, '')) : data;
  } catch (err) {
    throw new Error(`${key}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}
