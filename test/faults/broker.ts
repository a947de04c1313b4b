import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * Our own Mosquitto on a free loopback port that a test may SIGKILL and restart.
 * Persistence saves sessions every second (so a session older than that survives a
 * kill -9); `restart({ wipe: true })` deletes the saved state, as a broker that lost its
 * disk would come back.
 */
export class KillableBroker {
  readonly url: string;
  private child: ChildProcess | null = null;
  private readonly dir: string;

  private constructor(readonly port: number) {
    this.url = `mqtt://127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), 'fg-broker-'));
    writeFileSync(
      join(this.dir, 'mosquitto.conf'),
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        `user ${userInfo().username}`,
        'persistence true',
        `persistence_location ${this.dir}/`,
        'autosave_interval 1',
        'max_queued_messages 10000',
        'log_dest none',
        '',
      ].join('\n'),
    );
  }

  static async create(): Promise<KillableBroker> {
    const broker = new KillableBroker(await freePort());
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

  /** kill -9: no goodbye to the clients, no final save. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  /** Forget every session and queued message (as if the broker's disk was lost). */
  wipe(): boolean {
    const file = join(this.dir, 'mosquitto.db');
    const existed = existsSync(file);
    rmSync(file, { force: true });
    return existed;
  }

  async dispose(): Promise<void> {
    await this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
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

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
