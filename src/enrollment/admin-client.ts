import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
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
  readonly error?: { readonly code: string; readonly message: string };
}

export interface RequestOutcome {
  readonly transaction: string;
  /** ok responses from `expect` distinct devices, and no error. */
  readonly ok: boolean;
  readonly timedOut: boolean;
  readonly responses: DeviceResponse[];
}

export interface SendOptions {
  /** Device id or "all". */
  readonly device: string;
  /** How many devices must answer ok (default 1). */
  readonly expect?: number;
  readonly timeoutMs: number;
  readonly lifetimeSeconds?: number;
  readonly prefix?: string;
  /** Called whenever a response arrives (progress display). */
  readonly onResponse?: (response: DeviceResponse, received: number, expected: number) => void;
}

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

/** Connects or fails with the broker's reason (bad credentials, TLS, unreachable). */
export async function connectBroker(broker: BrokerOptions, clientIdPrefix?: string): Promise<MqttClient> {
  const client = mqtt.connect(broker.url, clientOptions(broker, clientIdPrefix));
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
 * `<prefix>/+/response/<cmd>` until `expect` devices answered or the time is up.
 */
export async function sendRequest(
  client: MqttClient,
  key: AdminKey,
  cmd: SignedCommand,
  args: RequestArgs,
  options: SendOptions,
): Promise<RequestOutcome> {
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

  const responseFilter = `${prefix}/+/response/${cmd}`;
  const byDevice = new Map<string, DeviceResponse>();
  let finish: (timedOut: boolean) => void = () => undefined;
  const done = new Promise<boolean>((resolve) => (finish = resolve));
  const onMessage = (topic: string, payload: Buffer): void => {
    const parts = topic.split('/');
    if (topic !== `${prefix}/${parts.at(-3)}/response/${cmd}`) return;
    let body: Partial<DeviceResponse>;
    try {
      body = JSON.parse(payload.toString('utf8')) as Partial<DeviceResponse>;
    } catch {
      return;
    }
    if (body.transaction !== claims.transaction) return;
    const device = parts.at(-3) ?? '?';
    const response: DeviceResponse = {
      device,
      transaction: body.transaction,
      status: body.status === 'ok' ? 'ok' : 'error',
      ...(body.data !== undefined ? { data: body.data } : {}),
      ...(body.error !== undefined ? { error: body.error } : {}),
    };
    byDevice.set(device, response);
    options.onResponse?.(response, byDevice.size, expected);
    if (byDevice.size >= expected) finish(false);
  };
  const onClose = (): void => finish(true);
  client.on('message', onMessage);
  client.once('close', onClose);
  const timer = setTimeout(() => finish(true), options.timeoutMs);
  try {
    await client.subscribeAsync(responseFilter, { qos: 1 });
    const requestTopic = `${prefix}/${options.device}/request/${cmd}`;
    await client.publishAsync(requestTopic, jws, { qos: 1 });
    const timedOut = await done;
    const responses = [...byDevice.values()].sort((a, b) => a.device.localeCompare(b.device));
    const ok = !timedOut && responses.length >= expected && responses.every((r) => r.status === 'ok');
    return { transaction: claims.transaction, ok, timedOut, responses };
  } finally {
    clearTimeout(timer);
    client.off('message', onMessage);
    client.off('close', onClose);
    await client.unsubscribeAsync(responseFilter).catch(() => undefined);
  }
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
