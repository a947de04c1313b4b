import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt, { type MqttClient } from 'mqtt';
import { makeBackground, pastePhoto } from '../../scripts/make-replay.js';
import { encodePng, readGrayImage } from '../../src/vision/image-io.js';

/** Runs `facegate` from the sources (node + tsx loader): what `npx facegate` runs, without a build. */
export const FACEGATE = ['--import', 'tsx', 'src/main.ts'];

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly module?: string;
  readonly [key: string]: unknown;
}

/**
 * A door-camera replay from ORL photos the gallery is NOT enrolled with (4..10):
 * 2 empty frames, s36 walks up (7), 3 empty, the stranger s40 walks up (7), 2 empty.
 */
export async function buildReplay(folder: string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  const plan: { person: string | null; photo: number }[] = [
    ...[0, 0].map(() => ({ person: null, photo: 0 })),
    ...[4, 5, 6, 7, 8, 9, 10].map((photo) => ({ person: 's36', photo })),
    ...[0, 0, 0].map(() => ({ person: null, photo: 0 })),
    ...[4, 5, 6, 7, 8, 9, 10].map((photo) => ({ person: 's40', photo })),
    ...[0, 0].map(() => ({ person: null, photo: 0 })),
  ];
  for (const [i, step] of plan.entries()) {
    const scene = makeBackground('plain', 4242);
    if (step.person) {
      const face = await readGrayImage(join('data/orl_faces', step.person, `${step.photo}.pgm`));
      pastePhoto(scene, face, 230 + (i % 3) * 10, 90, 2);
    }
    await writeFile(join(folder, `${String(i).padStart(3, '0')}.png`), await encodePng(scene));
  }
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export { freePort } from '../helpers/broker.js';

/** Runs a facegate command to completion. */
export function runFacegate(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...FACEGATE, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The daemon as a child process, its JSON log lines parsed as they come. */
export class DaemonProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [...FACEGATE, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { level: 30, msg: text };
      }
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(line)) return true;
        w.resolve(line);
        return false;
      });
    });
    createInterface({ input: this.child.stderr! }).on('line', (text) => this.stderr.push(text));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /** Resolves with the first log line (already seen or future) matching `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last log lines:\n${this.tail()}`),
        );
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void this.exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`daemon exited (${code}) while waiting for ${what}:\n${this.tail()}`));
      });
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Index of the first line matching `pred` (or -1). */
  indexOf(pred: (l: LogLine) => boolean, from = 0): number {
    for (let i = from; i < this.lines.length; i++) if (pred(this.lines[i])) return i;
    return -1;
  }

  tail(n = 25): string {
    return [...this.lines.slice(-n).map((l) => JSON.stringify(l)), ...this.stderr.slice(-10)].join('\n');
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Collects the JSON messages published on a topic of the real broker. */
export class TopicRecorder {
  readonly messages: Record<string, unknown>[] = [];
  private constructor(private readonly client: MqttClient) {}

  static async start(url: string, topic: string): Promise<TopicRecorder> {
    const client = await mqtt.connectAsync(url, { clientId: uniqueId('facegate-e2e-listener'), clean: true });
    const recorder = new TopicRecorder(client);
    client.on('message', (_t, payload) => {
      try {
        recorder.messages.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
      } catch {
        recorder.messages.push({ unparsable: payload.toString('utf8') });
      }
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return recorder;
  }

  ofType(type: string): Record<string, unknown>[] {
    return this.messages.filter((m) => m.type === type);
  }

  async waitFor(
    pred: (m: Record<string, unknown>) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<Record<string, unknown>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}
