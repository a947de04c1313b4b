import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  NOT_AUTHORIZED,
  PACKET_TOO_LARGE,
  QUOTA_EXCEEDED,
  describeReasonCode,
  publishPacketSize,
} from '../mqtt/reason-codes.js';
import type { AdminKey } from './keys.js';
import { DEVICE_ID_RULE, isDeviceId } from '../identity.js';
import { FLEET_AUDIENCE, signRequest, type RequestArgs, type SignedCommand } from './protocol.js';

/** How the admin reaches the broker (TLS and credentials optional). */
export interface BrokerOptions {
  /** mqtt://, mqtts://, ws:// or wss:// */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** PEM CA bundle to trust for mqtts:// */
  readonly ca?: Buffer;
  /** PEM client certificate and its key (mutual TLS). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly connectTimeoutMs?: number;
}

/** Topic namespace: device base topics are `<prefix>/<device>`, the fleet is `<prefix>/all`. */
export const DEFAULT_TOPIC_PREFIX = 'facegate';

export interface DeviceResponse {
  readonly device: string;
  readonly transaction: string | null;
  readonly status: 'ok' | 'error';
  readonly data?: unknown;
  readonly error?: {
    readonly code: string;
    readonly message: string;
    /** What to do about it (enrollment photo refusals, duplicate_face). */
    readonly hint?: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
}

/**
 * One device's error answer as lines for a person: `error from <device>: <code>: <message>`,
 * then `  hint: <hint>` when the door gave one.
 */
export function describeDeviceError(response: DeviceResponse): string[] {
  const e = response.error;
  const lines = [`error from ${response.device}: ${e?.code ?? 'unknown'}: ${e?.message ?? '(no message)'}`];
  if (typeof e?.hint === 'string' && e.hint.length > 0) lines.push(`  hint: ${e.hint}`);
  return lines;
}

/**
 * The step at which a request failed, as the admin tool reports it:
 * - `not_connected`: no connection to the broker (or it was lost and not regained);
 * - `too_large`: the signed request exceeds the broker's Maximum Packet Size (CONNACK) or
 *   the broker disconnected with 0x95 "packet too large" / refused it with 0x97;
 * - `publish_refused`: the broker answered the PUBLISH with a failure reason code (e.g. 0x87
 *   not authorized by its ACL);
 * - `publish_unacknowledged`: the broker never acknowledged the PUBLISH (PUBACK) in time;
 * - `subscribe_refused`: the broker refused the subscription to the answers (ACL);
 * - `no_answer`: the broker took the request but not every expected door answered;
 * - `error_answer`: a door answered with an error.
 */
export type FailedStep =
  | 'not_connected'
  | 'too_large'
  | 'publish_refused'
  | 'publish_unacknowledged'
  | 'subscribe_refused'
  | 'no_answer'
  | 'error_answer';

export interface RequestFailure {
  readonly step: FailedStep;
  /** What happened, in one sentence. */
  readonly message: string;
  /** What to do about it. */
  readonly hint: string;
  /** The MQTT 5 reason code behind it, when the broker gave one. */
  readonly reasonCode?: number;
}

export interface RequestOutcome {
  readonly transaction: string;
  /** ok responses from `expect` distinct devices, and no error. */
  readonly ok: boolean;
  readonly timedOut: boolean;
  readonly responses: DeviceResponse[];
  /** How often the same signed request was published (1 + re-publishes). */
  readonly published: number;
  /** How many of those publishes the broker acknowledged (PUBACK success). */
  readonly acknowledged: number;
  /** Bytes of the signed request (the MQTT payload). */
  readonly requestBytes: number;
  /** Why it is not ok (absent when ok). */
  readonly failure?: RequestFailure;
}

export interface SendOptions {
  /** Device id or "all". */
  readonly device: string;
  /** How many devices must answer ok (default 1). */
  readonly expect?: number;
  /** The whole request, from this call until every answer: publish, PUBACK and answers included. */
  readonly timeoutMs: number;
  readonly lifetimeSeconds?: number;
  readonly prefix?: string;
  /**
   * First re-publish of the same signed request after this many ms without every expected
   * answer (then doubling, at most 15 s); 0 publishes once. Default 3000. A request is
   * idempotent per transaction, so a door that already answered answers again from its store.
   */
  readonly resendMs?: number;
  /** Called whenever a response arrives (progress display). */
  readonly onResponse?: (response: DeviceResponse, received: number, expected: number) => void;
}

/** Error codes a door answers when the request may succeed later: the admin keeps re-publishing. */
const TRANSIENT_ERRORS = new Set(['busy']);
const MAX_RESEND_MS = 15_000;

export class AdminError extends Error {
  constructor(
    message: string,
    readonly kind: 'connect' | 'usage' | 'timeout',
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export function clientOptions(broker: BrokerOptions, clientIdPrefix = 'facegate-admin'): IClientOptions {
  return {
    protocolVersion: 5,
    clientId: `${clientIdPrefix}-${Math.random().toString(16).slice(2, 10)}`,
    clean: true,
    reconnectPeriod: 0, // a tool reports a lost connection instead of hiding it
    connectTimeout: broker.connectTimeoutMs ?? 10_000,
    username: broker.username,
    password: broker.password,
    ca: broker.ca,
    cert: broker.cert,
    key: broker.key,
    rejectUnauthorized: true,
  };
}

/** What the broker announced in its CONNACK, per connected client. */
const serverLimits = new WeakMap<MqttClient, { maximumPacketSize?: number }>();

/** The broker's Maximum Packet Size from its CONNACK (MQTT 5), if it announced one. */
export function brokerMaximumPacketSize(client: MqttClient): number | undefined {
  return serverLimits.get(client)?.maximumPacketSize;
}

/** Connects or fails with the broker's reason (bad credentials, TLS, unreachable). */
export async function connectBroker(broker: BrokerOptions, clientIdPrefix?: string): Promise<MqttClient> {
  const client = mqtt.connect(broker.url, clientOptions(broker, clientIdPrefix));
  // Every CONNACK (also after a reconnect) may announce other limits.
  client.on('connect', (connack) => {
    serverLimits.set(client, { maximumPacketSize: connack.properties?.maximumPacketSize });
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      client.end(true);
      reject(new AdminError(`cannot connect to ${broker.url}: ${err.message}`, 'connect'));
    };
    client.once('connect', () => {
      client.off('error', fail);
      resolve();
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error('connection closed')));
  });
  client.removeAllListeners('close');
  // A tool must not crash on a late socket error: the request in progress reports it.
  client.on('error', () => undefined);
  return client;
}

function checkDevice(device: string): void {
  if (device !== FLEET_AUDIENCE && !isDeviceId(device)) {
    throw new AdminError(
      `--device must be a device id (${DEVICE_ID_RULE}) or "all", got "${device}"`,
      'usage',
    );
  }
}

/**
 * Signs one request, publishes it (QoS 1) and collects the answers from every device on
 * `<prefix>/+/response/<cmd>` until `expect` devices answered or `timeoutMs` has passed
 * (counted from this call: an unacknowledged publish uses up the same time).
 *
 * The same signed request (same transaction and nonce) is re-published while answers are
 * missing (`resendMs`, doubling): a broker bridge that was reconnecting may have lost it,
 * and a door answers a transaction it already processed from its store. A request larger
 * than the broker's Maximum Packet Size is not sent at all. A lost connection is re-tried
 * (re-subscribe, re-publish) until the time is up. Never throws for broker or door
 * problems: `outcome.failure` names the step that failed and what to do.
 */
export async function sendRequest(
  client: MqttClient,
  key: AdminKey,
  cmd: SignedCommand,
  args: RequestArgs,
  options: SendOptions,
): Promise<RequestOutcome> {
  const startedMs = Date.now();
  checkDevice(options.device);
  const prefix = options.prefix ?? DEFAULT_TOPIC_PREFIX;
  const expected = options.expect ?? 1;
  if (!Number.isInteger(expected) || expected < 1)
    throw new AdminError('--expect must be a positive integer', 'usage');
  const { jws, claims } = await signRequest(key.privateKey, key.kid, {
    cmd,
    aud: options.device,
    args,
    lifetimeSeconds: options.lifetimeSeconds ?? 300,
  });
  const run = new RequestRun(client, {
    cmd,
    prefix,
    expected,
    jws,
    transaction: claims.transaction,
    requestTopic: `${prefix}/${options.device}/request/${cmd}`,
    deadlineMs: startedMs + options.timeoutMs,
    resendMs: options.resendMs ?? 3000,
    onResponse: options.onResponse,
    brokerUrl: `${client.options.protocol ?? 'mqtt'}://${client.options.hostname ?? client.options.host ?? '?'}:${client.options.port ?? '?'}`,
  });
  return run.run();
}

interface RunOptions {
  readonly cmd: string;
  readonly prefix: string;
  readonly expected: number;
  readonly jws: string;
  readonly transaction: string;
  readonly requestTopic: string;
  readonly deadlineMs: number;
  readonly resendMs: number;
  readonly onResponse?: SendOptions['onResponse'];
  readonly brokerUrl: string;
}

/** One request from publish to the last answer (the state of `sendRequest`). */
class RequestRun {
  private readonly byDevice = new Map<string, DeviceResponse>();
  private readonly responseFilter: string;
  private published = 0;
  private acknowledged = 0;
  /** A publish is on its way and not yet acknowledged. */
  private awaitingAck = false;
  /** The most specific thing that went wrong so far (kept if nothing better happens). */
  private problem: RequestFailure | undefined;
  private finished = false;
  private deadlineReached = false;
  /** The client can no longer parse what the broker sends: it must be closed, not reused. */
  private brokenClient = false;
  private finish: () => void = () => undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private resendDelayMs: number;
  private readonly requestBytes: number;

  constructor(
    private readonly client: MqttClient,
    private readonly o: RunOptions,
  ) {
    this.responseFilter = `${o.prefix}/+/response/${o.cmd}`;
    this.resendDelayMs = o.resendMs;
    this.requestBytes = Buffer.byteLength(o.jws);
  }

  async run(): Promise<RequestOutcome> {
    const { client } = this;
    const done = new Promise<void>((resolve) => (this.finish = resolve));
    const onMessage = (topic: string, payload: Buffer): void => this.onMessage(topic, payload);
    const onDisconnect = (packet: { reasonCode?: number }): void => this.onDisconnect(packet.reasonCode ?? 0);
    const onClose = (): void => this.onClose();
    const onConnect = (): void => this.subscribeAndPublish();
    const onError = (err: Error): void => this.onError(err);
    client.on('message', onMessage);
    client.on('error', onError);
    client.on('disconnect', onDisconnect);
    client.on('close', onClose);
    client.on('connect', onConnect);
    this.after(Math.max(0, this.o.deadlineMs - Date.now()), () => {
      this.deadlineReached = true;
      this.end();
    });
    try {
      const limit = brokerMaximumPacketSize(client);
      const packet = publishPacketSize(this.o.requestTopic, this.requestBytes);
      if (limit !== undefined && packet > limit) {
        this.problem = tooLarge(packet, limit);
        this.end();
      } else if (!client.connected) {
        this.onClose();
      } else {
        this.subscribeAndPublish();
      }
      await done;
    } finally {
      for (const t of this.timers) clearTimeout(t);
      client.off('message', onMessage);
      client.off('disconnect', onDisconnect);
      client.off('close', onClose);
      client.off('connect', onConnect);
      client.off('error', onError);
      if (this.brokenClient) client.end(true);
      else if (client.connected) await bounded(client.unsubscribeAsync(this.responseFilter), 1000);
    }
    return this.outcome();
  }

  private outcome(): RequestOutcome {
    const responses = [...this.byDevice.values()].sort((a, b) => a.device.localeCompare(b.device));
    const oks = responses.filter((r) => r.status === 'ok').length;
    const errors = responses.filter((r) => r.status === 'error');
    const ok = errors.length === 0 && oks >= this.o.expected;
    let failure: RequestFailure | undefined;
    if (!ok) {
      if (errors.length > 0) {
        const first = errors[0];
        failure = {
          step: 'error_answer',
          message: `${errors.length} door(s) answered with an error; ${first.device}: ${first.error?.code}: ${first.error?.message}`,
          hint: 'the door refused the request for the reason given; fix that and send it again',
        };
      } else if (this.problem && (this.acknowledged === 0 || this.problem.step !== 'not_connected')) {
        failure = this.problem;
      } else if (this.published > 0 && this.acknowledged === 0) {
        failure = {
          step: 'publish_unacknowledged',
          message: `the broker ${this.o.brokerUrl} never acknowledged the request (no PUBACK): it did not reach any door`,
          hint: 'check the broker (load, queue limits, its log) and the network, then send it again',
        };
      } else {
        failure = {
          step: 'no_answer',
          message: `the broker took the request (${this.acknowledged} of ${this.published} publish(es) acknowledged) but only ${responses.length} of ${this.o.expected} door(s) answered`,
          hint: 'the missing door is offline, on another prefix/broker, or still busy; it applies the request when it returns while the request is valid (--lifetime). Check `facegate-admin watch` and the door log',
        };
      }
    }
    return {
      transaction: this.o.transaction,
      ok,
      timedOut: this.deadlineReached,
      responses,
      published: this.published,
      acknowledged: this.acknowledged,
      requestBytes: this.requestBytes,
      ...(failure ? { failure } : {}),
    };
  }

  private subscribeAndPublish(): void {
    if (this.finished) return;
    // Not waiting for the SUBACK: a broker handles one client's packets in order, so the
    // subscription is in place before the request is routed, and a broker that answers
    // nothing is reported as "publish not acknowledged" instead of hiding behind the SUBACK.
    this.client.subscribe(this.responseFilter, { qos: 1 }, (err, granted) => {
      const refused = granted?.find((g) => g.qos >= 0x80);
      if (!err && refused && !this.finished) {
        this.problem = {
          step: 'subscribe_refused',
          reasonCode: refused.qos,
          message: `the broker refused the subscription to the answers on ${this.responseFilter} (${describeReasonCode(refused.qos)})`,
          hint: "the broker's ACL must let the admin identity subscribe to <prefix>/+/response/#",
        };
        this.end();
      }
    });
    this.publish();
  }

  private publish(): void {
    if (this.finished || !this.client.connected || this.awaitingAck) return;
    this.published++;
    this.awaitingAck = true;
    this.client.publish(this.o.requestTopic, this.o.jws, { qos: 1 }, (err) => {
      this.awaitingAck = false;
      if (this.finished) return;
      if (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number' && code >= 0x80) {
          this.problem =
            code === PACKET_TOO_LARGE || code === QUOTA_EXCEEDED
              ? tooLarge(publishPacketSize(this.o.requestTopic, this.requestBytes), undefined, code)
              : {
                  step: 'publish_refused',
                  reasonCode: code,
                  message: `the broker refused the request: ${describeReasonCode(code)}; it did not reach any door`,
                  hint:
                    code === NOT_AUTHORIZED
                      ? `the broker's ACL does not let this identity publish to ${this.o.requestTopic}: use the admin identity (--username/--cert)`
                      : 'see the broker log for why, then send it again',
                };
          this.end();
        }
        // Other errors (connection closed) are handled by the close/reconnect path.
        return;
      }
      this.acknowledged++;
      this.scheduleResend();
    });
  }

  private scheduleResend(): void {
    if (this.o.resendMs <= 0 || this.finished) return;
    const delay = this.resendDelayMs;
    this.resendDelayMs = Math.min(MAX_RESEND_MS, this.resendDelayMs * 2);
    this.after(delay, () => {
      if (this.finalAnswers() < this.o.expected) this.publish();
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parts = topic.split('/');
    if (topic !== `${this.o.prefix}/${parts.at(-3)}/response/${this.o.cmd}`) return;
    let body: Partial<DeviceResponse>;
    try {
      body = JSON.parse(payload.toString('utf8')) as Partial<DeviceResponse>;
    } catch {
      return;
    }
    if (body.transaction !== this.o.transaction) return;
    const device = parts.at(-3) ?? '?';
    const response: DeviceResponse = {
      device,
      transaction: body.transaction,
      status: body.status === 'ok' ? 'ok' : 'error',
      ...(body.data !== undefined ? { data: body.data } : {}),
      ...(body.error !== undefined ? { error: body.error } : {}),
    };
    // A door's ok is final; a re-delivered copy answered differently (e.g. busy) does not undo it.
    if (this.byDevice.get(device)?.status === 'ok') return;
    this.byDevice.set(device, response);
    this.o.onResponse?.(response, this.byDevice.size, this.o.expected);
    if (this.finalAnswers() >= this.o.expected) this.end();
  }

  /** Devices whose answer will not change by asking again. */
  private finalAnswers(): number {
    let n = 0;
    for (const r of this.byDevice.values())
      if (r.status === 'ok' || !TRANSIENT_ERRORS.has(r.error?.code ?? '')) n++;
    return n;
  }

  private onError(err: Error): void {
    // Mosquitto answers a PUBLISH over its message_size_limit with PUBACK 0x95, a code MQTT 5
    // does not allow in PUBACK; MQTT.js cannot parse it and its connection stops reading.
    if (/puback/i.test(err.message) && this.awaitingAck) {
      this.brokenClient = true;
      this.problem = {
        step: 'too_large',
        message: `the broker refused the ${publishPacketSize(this.o.requestTopic, this.requestBytes)}-byte request with a PUBACK this client cannot read (${err.message}); Mosquitto does that when a message exceeds its message_size_limit: it never reached the door`,
        hint: "send fewer or smaller photos (--max-side), or raise the broker's message_size_limit / max_packet_size",
      };
      this.end();
    }
  }

  private onDisconnect(reasonCode: number): void {
    if (reasonCode === PACKET_TOO_LARGE || reasonCode === QUOTA_EXCEEDED) {
      this.problem = tooLarge(
        publishPacketSize(this.o.requestTopic, this.requestBytes),
        undefined,
        reasonCode,
      );
      this.end(); // sending it again would only be refused again
      return;
    }
    this.problem = {
      step: 'not_connected',
      reasonCode,
      message: `the broker ${this.o.brokerUrl} disconnected the admin tool (${describeReasonCode(reasonCode)})`,
      hint: 'see the broker log; the request is sent again if the connection comes back in time',
    };
  }

  private onClose(): void {
    this.awaitingAck = false;
    if (this.finished) return;
    this.problem ??= {
      step: 'not_connected',
      message: `not connected to the broker ${this.o.brokerUrl}: the connection was lost and could not be regained in time`,
      hint: 'check that the broker runs and is reachable (address, port, TLS, credentials), then send it again',
    };
    // Try again shortly; the connect handler re-subscribes and re-publishes.
    this.after(500, () => {
      if (!this.finished && !this.client.connected && !this.client.reconnecting) this.client.reconnect();
    });
  }

  private end(): void {
    if (this.finished) return;
    this.finished = true;
    this.finish();
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}

/** Waits for `promise` at most `ms` (cleanup steps must not hold the tool up). */
async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

function tooLarge(packetBytes: number, limit: number | undefined, reasonCode?: number): RequestFailure {
  return {
    step: 'too_large',
    ...(reasonCode !== undefined ? { reasonCode } : {}),
    message:
      limit !== undefined
        ? `the request is ${packetBytes} bytes but the broker accepts packets of at most ${limit} bytes (its Maximum Packet Size): it was not sent and never reached the door`
        : `the broker refused the ${packetBytes}-byte request (${describeReasonCode(reasonCode ?? PACKET_TOO_LARGE)}; e.g. Mosquitto max_packet_size / message_size_limit): it never reached the door`,
    hint: "send fewer or smaller photos (--max-side), or raise the broker's packet size limit",
  };
}

/** Streams events of one device or all (`<prefix>/<device|+>/events`) to `onEvent`. */
export async function watchEvents(
  client: MqttClient,
  device: string,
  onEvent: (device: string, event: unknown) => void,
  prefix = DEFAULT_TOPIC_PREFIX,
): Promise<() => Promise<void>> {
  if (device !== FLEET_AUDIENCE) checkDevice(device);
  const filter = `${prefix}/${device === FLEET_AUDIENCE ? '+' : device}/events`;
  const onMessage = (topic: string, payload: Buffer): void => {
    const parts = topic.split('/');
    if (parts.length !== prefix.split('/').length + 2 || parts.at(-1) !== 'events') return;
    let event: unknown;
    try {
      event = JSON.parse(payload.toString('utf8'));
    } catch {
      event = { unparsable: payload.toString('utf8').slice(0, 200) };
    }
    onEvent(parts.at(-2) ?? '?', event);
  };
  client.on('message', onMessage);
  await client.subscribeAsync(filter, { qos: 1 });
  return async () => {
    client.off('message', onMessage);
    await client.unsubscribeAsync(filter).catch(() => undefined);
  };
}
