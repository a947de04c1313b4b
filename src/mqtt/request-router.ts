import type { IPublishPacket } from 'mqtt';
import type { EventSink } from '../events.js';
import { isTransactionId } from '../identity.js';
import type { Logger } from '../util/log.js';
import type { MessageHandler, PublishOptions, Unsubscribe } from './connection.js';
import { RepeatedRefusals } from './repeated-refusals.js';
import type { Topics } from './topics.js';

/** Where a request came from. */
export interface RequestInfo {
  cmd: string;
  /** `device`: on `<base>/request/<cmd>`; `fleet`: on `<fleet>/request/<cmd>` (every door gets it). */
  addressedTo: 'device' | 'fleet';
  topic: string;
  /** MQTT 5 publish properties of the request (user properties, correlation data...). */
  properties: IPublishPacket['properties'];
}

/** What a handler returns: the transaction it answered (from the verified request) and the data. */
export interface RequestResult {
  transaction: string | null;
  data?: unknown;
}

export type RequestHandler = (payload: Buffer, info: RequestInfo) => Promise<RequestResult>;

/**
 * A refusal with a machine-readable code (e.g. `bad_signature`, `expired`, `replayed`,
 * `no_face`) and a human message; becomes `{status: "error", error: {code, message}}`.
 */
export class RequestError extends Error {
  readonly code: string;
  readonly transaction: string | null;
  /** What the sender can do about it (optional; e.g. enrollment photo refusals). */
  readonly hint?: string;
  /** Machine-readable facts about the refusal (optional, JSON). */
  readonly details?: Readonly<Record<string, unknown>>;
  constructor(
    code: string,
    message: string,
    transaction?: string | null,
    extras: { hint?: string; details?: Readonly<Record<string, unknown>> } = {},
  ) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
    this.transaction = transaction ?? null;
    if (extras.hint !== undefined) this.hint = extras.hint;
    if (extras.details !== undefined) this.details = extras.details;
  }

  /** The `error` object of the response: code and message, hint and details when present. */
  toBody(): ErrorBody {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}

/** The `error` of a response. `hint` and `details` are optional additions (still protocol v1). */
export interface ErrorBody {
  code: string;
  message: string;
  hint?: string;
  details?: Readonly<Record<string, unknown>>;
}

/** The body published on `<base>/response/<cmd>`. */
export interface ResponseBody {
  transaction: string | null;
  status: 'ok' | 'error';
  data?: unknown;
  error?: ErrorBody;
}

/** The part of `MqttConnection` the router uses. */
export interface RequestTransport {
  readonly topics: Pick<Topics, 'requestFilter' | 'fleetRequestFilter' | 'base' | 'fleet' | 'response'>;
  subscribe(filter: string, handler: MessageHandler, qos?: 0 | 1): Unsubscribe;
  publish(topic: string, payload: string, options?: PublishOptions): Promise<void>;
}

export interface RequestRouterOptions {
  transport: RequestTransport;
  logger: Logger;
  /** Larger payloads get `payload_too_large` without reaching a handler. */
  maxPayloadBytes: number;
  /** More requests in progress than this get `busy`. */
  maxConcurrent: number;
  /** Router-level refusals (unknown command, too large, busy) become `rejected_request` events. */
  events?: EventSink;
}

const COMMAND = /^[a-z][a-z0-9_]{0,31}$/;

/**
 * Routes `<base>/request/<cmd>` and `<fleet>/request/<cmd>` (QoS 1) to the handler
 * registered for `<cmd>` and answers every request on `<base>/response/<cmd>`, errors
 * included. Handlers run concurrently; a throw or a rejected promise becomes an error
 * response, never a crash.
 */
export class RequestRouter {
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly opts: RequestRouterOptions;
  private readonly log: Logger;
  private readonly unsubscribers: Unsubscribe[] = [];
  private readonly running = new Set<Promise<void>>();
  /** The same oversized / unknown payload re-delivered is answered again but reported once. */
  private readonly repeats = new RepeatedRefusals(() => performance.now());

  constructor(options: RequestRouterOptions) {
    this.opts = options;
    this.log = options.logger.child({ module: 'requests' });
  }

  /** Registers the handler for `<cmd>`; one handler per command. */
  register(cmd: string, handler: RequestHandler): void {
    if (!COMMAND.test(cmd)) throw new Error(`invalid command name "${cmd}"`);
    if (this.handlers.has(cmd)) throw new Error(`a handler for "${cmd}" is already registered`);
    this.handlers.set(cmd, handler);
  }

  get commands(): string[] {
    return [...this.handlers.keys()];
  }

  start(): void {
    if (this.unsubscribers.length > 0) return;
    const { topics } = this.opts.transport;
    const onMessage: MessageHandler = (topic, payload, packet) => this.onMessage(topic, payload, packet);
    this.unsubscribers.push(this.opts.transport.subscribe(topics.requestFilter, onMessage, 1));
    this.unsubscribers.push(this.opts.transport.subscribe(topics.fleetRequestFilter, onMessage, 1));
  }

  /**
   * Stops taking requests and waits (bounded) for the ones in progress to answer. The
   * broker keeps the request subscriptions of the persistent session, so requests sent
   * while the door is stopped are delivered when it comes back.
   */
  async stop(timeoutMs = 5000): Promise<void> {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe({ keepAtBroker: true });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** Requests in progress (for health and tests). */
  get inProgress(): number {
    return this.running.size;
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const { topics } = this.opts.transport;
    const addressedTo = topic.startsWith(`${topics.base}/request/`) ? 'device' : 'fleet';
    const cmd = topic.slice(topic.lastIndexOf('/') + 1);
    const info: RequestInfo = { cmd, addressedTo, topic, properties: packet.properties };
    const task = this.handle(payload, info).finally(() => this.running.delete(task));
    this.running.add(task);
  }

  private async handle(payload: Buffer, info: RequestInfo): Promise<void> {
    let body: ResponseBody;
    try {
      const result = await this.route(payload, info);
      body = { transaction: cleanTransaction(result.transaction), status: 'ok' };
      if (result.data !== undefined) body.data = result.data;
    } catch (err) {
      body = this.errorBody(err, payload, info);
    }
    // A command name we cannot answer under (e.g. with odd characters) gets no response topic of its own.
    const responseCmd = COMMAND.test(info.cmd) ? info.cmd : 'invalid';
    const properties = info.properties?.correlationData
      ? { correlationData: info.properties.correlationData }
      : undefined;
    try {
      await this.opts.transport.publish(
        this.opts.transport.topics.response(responseCmd),
        JSON.stringify(body),
        {
          qos: 1,
          properties,
        },
      );
    } catch (err) {
      this.log.warn({ err: (err as Error).message, cmd: info.cmd }, 'could not publish response');
    }
  }

  private async route(payload: Buffer, info: RequestInfo): Promise<RequestResult> {
    const handler = COMMAND.test(info.cmd) ? this.handlers.get(info.cmd) : undefined;
    if (!handler) throw new RequestError('unknown_command', `unknown command "${info.cmd}"`);
    if (payload.length > this.opts.maxPayloadBytes) {
      throw new RequestError(
        'payload_too_large',
        `request is ${payload.length} bytes; the limit is ${this.opts.maxPayloadBytes}`,
      );
    }
    // Runs before this request is added to `running`: size counts the others.
    if (this.running.size >= this.opts.maxConcurrent) {
      throw new RequestError(
        'busy',
        `more than ${this.opts.maxConcurrent} requests in progress; retry later`,
      );
    }
    return handler(payload, info);
  }

  private errorBody(err: unknown, payload: Buffer, info: RequestInfo): ResponseBody {
    if (err instanceof RequestError) {
      const transaction = cleanTransaction(err.transaction) ?? peekTransaction(payload);
      if (['unknown_command', 'payload_too_large', 'busy'].includes(err.code)) {
        // busy is about the moment, not the payload: every one is reported.
        if (err.code === 'busy' || this.repeats.shouldReport(payload, err.code)) {
          this.log.warn({ cmd: info.cmd, topic: info.topic, code: err.code }, 'request refused');
          this.emitRejected(info, err.code, err.message, transaction);
        }
      } else {
        this.log.info({ cmd: info.cmd, code: err.code, reason: err.message }, 'request failed');
      }
      return { transaction, status: 'error', error: err.toBody() };
    }
    this.log.error({ err, cmd: info.cmd }, 'request handler failed');
    return {
      transaction: peekTransaction(payload),
      status: 'error',
      error: { code: 'internal_error', message: 'the request could not be processed; see the device log' },
    };
  }

  private emitRejected(info: RequestInfo, code: string, reason: string, transaction: string | null): void {
    try {
      this.opts.events?.emit({
        type: 'rejected_request',
        cmd: info.cmd.slice(0, 64),
        code,
        reason,
        transaction,
      });
    } catch (err) {
      this.log.error({ err }, 'could not record rejected_request event');
    }
  }
}

function cleanTransaction(value: unknown): string | null {
  return isTransactionId(value) ? value : null;
}

/** Best effort: the `transaction` of a plain JSON request, so even a refusal can be matched by the sender. */
function peekTransaction(payload: Buffer): string | null {
  if (payload.length > 64 * 1024 || payload[0] !== 0x7b /* { */) return null;
  try {
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    return parsed && typeof parsed === 'object'
      ? cleanTransaction((parsed as Record<string, unknown>).transaction)
      : null;
  } catch {
    return null;
  }
}
