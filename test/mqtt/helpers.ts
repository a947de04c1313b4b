import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';

export const SHARED_BROKER = 'mqtt://127.0.0.1:1883';

/** A prefix no other test run uses, so tests on the shared broker do not see each other. */
export function uniqueId(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface BrokerOptions {
  /** Keep sessions (and their queued messages) across restarts. */
  persistence: boolean;
  allowAnonymous?: boolean;
  /** Listener settings (TLS files, password_file...). */
  listenerLines?: string[];
  tls?: boolean;
}

/**
 * Our own Mosquitto on a free loopback port, for outage tests: stop() and start() it at
 * will. `persistence` keeps sessions (and their queued messages) across restarts.
 */
export class OwnBroker {
  readonly port: number;
  readonly url: string;
  private readonly dir: string;
  private child: ChildProcess | null = null;

  private constructor(port: number, options: BrokerOptions) {
    this.port = port;
    this.url = `${options.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), 'facegate-mosquitto-'));
    const conf = [
      `listener ${port} 127.0.0.1`,
      ...(options.listenerLines ?? []),
      `allow_anonymous ${options.allowAnonymous ?? true}`,
      // Mosquitto started as root drops to the "mosquitto" user, which cannot write our temp dir.
      `user ${userInfo().username}`,
      `persistence ${options.persistence}`,
      `persistence_location ${this.dir}/`,
      'log_dest none',
      '',
    ].join('\n');
    writeFileSync(join(this.dir, 'mosquitto.conf'), conf);
  }

  static async create(options: BrokerOptions): Promise<OwnBroker> {
    const broker = new OwnBroker(await freePort(), options);
    await broker.start();
    return broker;
  }

  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: 'ignore' });
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(this.port))) {
      if (Date.now() > deadline) throw new Error(`mosquitto did not start on port ${this.port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGHUP: Mosquitto re-reads its ACL and password files. */
  reload(): void {
    this.child?.kill('SIGHUP');
  }

  /**
   * SIGTERM: Mosquitto saves its persistence file and exits; clients see the connection
   * drop. SIGKILL: a crash, nothing saved.
   */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    this.child = null;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
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
