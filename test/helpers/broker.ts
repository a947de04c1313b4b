import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (for our own broker or a metrics endpoint). */
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

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `predicate` every `pollMs` until it holds; throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  predicate: () => boolean,
  timeoutMs = 15_000,
  pollMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export interface BrokerOptions {
  /** Keep sessions (and their queued messages) across restarts. */
  persistence: boolean;
  allowAnonymous?: boolean;
  /** Listener settings (TLS files, password_file...). */
  listenerLines?: string[];
  /** More mosquitto.conf lines (e.g. `autosave_interval 1`). */
  extraLines?: string[];
  tls?: boolean;
}

/**
 * Our own Mosquitto on a free loopback port, for outage tests: stop(), kill9() and
 * start() it at will. `persistence` keeps sessions (and their queued messages) across
 * restarts; `wipe()` deletes the saved state, as a broker that lost its disk would come back.
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
      ...(options.extraLines ?? []),
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

  /** SIGSTOP: the broker stops answering (a hung broker) while its connections stay open. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.child?.kill('SIGCONT');
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
    child.kill('SIGCONT'); // a paused broker cannot act on SIGTERM
    child.kill(signal);
    await exited;
    this.child = null;
  }

  /** kill -9: no goodbye to the clients, no final save. */
  kill9(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** Forget every session and queued message (as if the broker's disk was lost). */
  wipe(): boolean {
    const file = join(this.dir, 'mosquitto.db');
    const existed = existsSync(file);
    rmSync(file, { force: true });
    return existed;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
