import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import sharp from 'sharp';
import { generateAdminKeyPair, parseAdminKey, type AdminKey } from '../../src/enrollment/keys.js';
import { readPgm, orlPath } from '../enrollment/images.js';

/**
 * A real facegate daemon (src/main.ts through tsx) in its own state directory, on a unique
 * topic prefix, with a simulated relay and a replay camera. Its log goes to <dir>/daemon.log.
 */
export interface DaemonOptions {
  readonly id: string;
  /** Topic namespace of this test run: base topic `<prefix>/<id>`, fleet `<prefix>/all`. */
  readonly prefix: string;
  readonly dir: string;
  readonly brokerUrl: string;
  readonly trustedKeyFiles: readonly string[];
  /** Replay folder for the camera. */
  readonly replayDir: string;
  readonly fps?: number;
  readonly metricsPort?: number;
  /** How the test's own readiness watcher connects (TLS files and credentials), when the broker needs it. */
  readonly watcherOptions?: {
    ca?: string;
    cert?: string;
    key?: string;
    username?: string;
    password?: string;
  };
  /** Extra config merged over the generated one (shallow per top-level section). */
  readonly extra?: Record<string, Record<string, unknown>>;
}

export class Daemon {
  readonly configPath: string;
  readonly galleryPath: string;
  readonly baseTopic: string;
  private child: ChildProcess | null = null;
  private exitInfo: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  private log: WriteStream | null = null;
  starts = 0;

  constructor(readonly opts: DaemonOptions) {
    mkdirSync(opts.dir, { recursive: true });
    this.configPath = join(opts.dir, 'config.json');
    this.galleryPath = join(opts.dir, 'facegate.db');
    this.baseTopic = `${opts.prefix}/${opts.id}`;
    const base: Record<string, Record<string, unknown>> = {
      device: { id: opts.id, stateDir: opts.dir },
      camera: { type: 'replay', path: opts.replayDir, fps: opts.fps ?? 4, loop: true },
      gallery: { path: this.galleryPath, bootstrapDir: '' },
      door: {
        relay: { type: 'simulated' },
        pulseMs: 1000,
        contact: { type: 'none' },
        exitButton: { type: 'none' },
      },
      mqtt: {
        url: opts.brokerUrl,
        baseTopic: this.baseTopic,
        fleetTopic: `${opts.prefix}/all`,
        clientId: `${opts.prefix}-${opts.id}`,
        sessionExpirySeconds: 600,
        reconnect: { minMs: 200, maxMs: 1000 },
        homeAssistant: { enabled: false },
      },
      enrollment: { trustedKeys: [...opts.trustedKeyFiles] },
      metrics: { port: opts.metricsPort ?? 0 },
      log: { level: 'info' },
      // The replays are still photos: no face in them can be judged live (docs/liveness.md).
      access: { liveness: { mode: 'off' } },
    };
    for (const [section, values] of Object.entries(opts.extra ?? {}))
      base[section] = { ...base[section], ...values };
    writeFileSync(this.configPath, JSON.stringify(base, null, 2));
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the daemon and waits until it announces itself online (after its request subscriptions). */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.child) throw new Error(`${this.opts.id} already running`);
    const w = this.opts.watcherOptions ?? {};
    const watcher = await mqtt.connectAsync(this.opts.brokerUrl, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      ca: w.ca ? readFileSync(w.ca) : undefined,
      cert: w.cert ? readFileSync(w.cert) : undefined,
      key: w.key ? readFileSync(w.key) : undefined,
      username: w.username,
      password: w.password,
    });
    const online = waitForLive(
      watcher,
      `${this.baseTopic}/availability`,
      (text) => text === 'online',
      timeoutMs,
    );
    await watcher.subscribeAsync(`${this.baseTopic}/availability`, { qos: 1 });
    this.log ??= createWriteStream(join(this.opts.dir, 'daemon.log'), { flags: 'a' });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', this.configPath], {
      cwd: process.cwd(),
      env: { ...process.env, FACEGATE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.starts++;
    this.child = child;
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.exitInfo = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        resolve({ code, signal });
      }),
    );
    const exitedEarly = this.exitInfo.then(({ code, signal }) => {
      throw new Error(
        `${this.opts.id} exited during start-up (code ${code}, signal ${signal}); see ${this.opts.dir}/daemon.log`,
      );
    });
    try {
      await Promise.race([online, exitedEarly]);
    } finally {
      exitedEarly.catch(() => undefined);
      await watcher.endAsync();
    }
  }

  /** SIGTERM and wait for the clean exit code. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const child = this.child;
    if (!child || !this.exitInfo) return { code: null, signal: null };
    child.kill('SIGTERM');
    return this.exitInfo;
  }

  /** kill -9: no handler runs, nothing is flushed. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || !this.exitInfo) return;
    child.kill('SIGKILL');
    await this.exitInfo;
  }

  /** Resolves with the exit status if the daemon exits. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null {
    return this.exitInfo;
  }
}

/** Resolves on the first NON-retained message on `topic` that passes `accept` (a fresh publish, not an old retained one). */
export function waitForLive(
  client: MqttClient,
  topic: string,
  accept: (text: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`nothing on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (t: string, payload: Buffer, packet: { retain?: boolean }): void => {
      if (t !== topic || packet.retain) return;
      const text = payload.toString('utf8');
      if (!accept(text)) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(text);
    };
    client.on('message', onMessage);
  });
}

/**
 * A replay folder showing ORL subject `subject`'s photos in a 640x480 door scene (face
 * scaled 2x on a plain background), `count` frames cycling through `shots`.
 */
export async function writeReplayFolder(
  dir: string,
  subject: number,
  shots: readonly number[],
  count = 6,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const img = readPgm(orlPath(subject, shots[i % shots.length]));
    const face = await sharp(Buffer.from(img.data), {
      raw: { width: img.width, height: img.height, channels: 1 },
    })
      .resize(img.width * 2, img.height * 2)
      .png()
      .toBuffer();
    await sharp({ create: { width: 640, height: 480, channels: 3, background: '#6e6e6e' } })
      .composite([{ input: face, left: 320 - img.width, top: 60 }])
      .png()
      .toFile(join(dir, `${String(i).padStart(3, '0')}.png`));
  }
}

/** A replay folder with no face at all (plain scenes), for daemons that should stay quiet. */
export async function writeEmptyReplayFolder(dir: string, count = 3): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    await sharp({
      create: {
        width: 640,
        height: 480,
        channels: 3,
        background: { r: 100 + i * 5, g: 100 + i * 5, b: 100 + i * 5 },
      },
    })
      .png()
      .toFile(join(dir, `${String(i).padStart(3, '0')}.png`));
  }
}

/**
 * A fresh admin key pair for a test: the public key is written to `<dir>/admin.pub.pem`
 * (pass `publicKeyFile` in `trustedKeyFiles`), the private key is returned ready to sign.
 */
export async function writeTrustedAdminKey(
  dir: string,
  source = 'admin',
): Promise<{ admin: AdminKey; privatePem: string; publicKeyFile: string }> {
  const pair = await generateAdminKeyPair();
  const publicKeyFile = join(dir, 'admin.pub.pem');
  writeFileSync(publicKeyFile, pair.publicPem);
  return { admin: await parseAdminKey(pair.privatePem, source), privatePem: pair.privatePem, publicKeyFile };
}
