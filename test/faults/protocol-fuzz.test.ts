import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/enrollment/admin-client.js';
import { generateAdminKeyPair, parseAdminKey, type AdminKey } from '../../src/enrollment/keys.js';
import { signRequest, type SignedCommand } from '../../src/enrollment/protocol.js';
import { mulberry32 } from '../../src/util/random.js';
import { orlPhoto } from '../enrollment/images.js';
import { Daemon, writeEmptyReplayFolder, writeTrustedAdminKey } from '../fleet/daemon.js';
import { OwnBroker, waitUntil } from '../helpers/broker.js';
import { integrityCheck, peopleIn } from './hostile.js';

// A fuzzer at the protocol level (#15.7): a real daemon on our own Mosquitto, driven by a
// real MQTT client through QoS 0/1/2, retained, duplicated and reordered deliveries,
// oversize packets, and broker restarts (SIGTERM and kill -9) in the middle of requests.
// Seeded and bounded (FACEGATE_PROTOCOL_FUZZ_OPS, _SEED), loopback only. Checks: nothing is
// applied twice (every answer to a transaction is the first answer again; at most one
// event per transaction), nothing is acknowledged that was not stored (every ok
// transaction is in the database, every ok enrollment's person too), nothing unlocks late
// (no ok to an expired unlock, no ok answered after exp + skew), and the daemon stays up.
const prefix = `fgpfuzz-${randomUUID().slice(0, 8)}`;
const DEVICE = 'door-pfuzz';
const OPS = Number(process.env.FACEGATE_PROTOCOL_FUZZ_OPS ?? 160);
const SEED = Number(process.env.FACEGATE_PROTOCOL_FUZZ_SEED ?? 20261130);
const MAX_BYTES = 256 * 1024; // mqtt.requests.maxBytes of the daemon under test
const SKEW_SECONDS = 2; // enrollment.maxClockSkewSeconds of the daemon under test
const VICTIMS = ['victim1', 'victim2', 'victim3'];

interface Req {
  readonly cmd: SignedCommand | 'oversize';
  readonly transaction: string;
  readonly payload: string | Buffer;
  readonly expMs: number;
  /** Signed by the trusted admin and inside its window when sent. */
  readonly valid: boolean;
  readonly person?: string;
}

interface Answer {
  readonly transaction: string | null;
  readonly status: 'ok' | 'error';
  readonly data?: Record<string, unknown>;
  readonly error?: { code: string };
  readonly atMs: number;
  readonly cmd: string;
}

let dir: string;
let broker: OwnBroker;
let daemon: Daemon;
let admin: AdminKey;
let stranger: AdminKey;
let client: MqttClient;
const answers: Answer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-protocol-fuzz-'));
  broker = await OwnBroker.create({
    persistence: true,
    extraLines: ['autosave_interval 1', 'max_queued_messages 10000'],
  });
  ({ admin } = await writeTrustedAdminKey(dir));
  stranger = await parseAdminKey((await generateAdminKeyPair()).privatePem, 'stranger');
  await writeEmptyReplayFolder(join(dir, 'replay'));
  daemon = new Daemon({
    id: DEVICE,
    prefix,
    dir: join(dir, 'door'),
    brokerUrl: broker.url,
    trustedKeyFiles: [join(dir, 'admin.pub.pem')],
    replayDir: join(dir, 'replay'),
    fps: 1,
    extra: {
      enrollment: { allowUnlock: true, maxClockSkewSeconds: SKEW_SECONDS },
      door: { pulseMs: 300 },
      mqtt: { requests: { maxBytes: MAX_BYTES, maxConcurrent: 16 } },
      log: { level: 'warn' },
    },
  });
  await daemon.start();
  // The fuzzing admin: a persistent session, so answers published while the broker was
  // restarting are kept for it; MQTT.js queues what is published while disconnected.
  client = await mqtt.connectAsync(broker.url, {
    protocolVersion: 5,
    clientId: `${prefix}-fuzzer`,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
    reconnectPeriod: 200,
  });
  client.on('error', () => undefined);
  client.on('message', (topic, payload) => {
    const cmd = topic.slice(topic.lastIndexOf('/') + 1);
    if (!topic.startsWith(`${prefix}/${DEVICE}/response/`)) return;
    const body = JSON.parse(payload.toString('utf8')) as Omit<Answer, 'atMs' | 'cmd'>;
    answers.push({ ...body, atMs: Date.now(), cmd });
  });
  await client.subscribeAsync(`${prefix}/${DEVICE}/response/+`, { qos: 2 });
});

afterAll(async () => {
  await client?.endAsync(true);
  await daemon?.stop();
  await broker?.dispose();
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

function db<T>(fn: (d: Database.Database) => T): T {
  const d = new Database(daemon.galleryPath, { readonly: true, fileMustExist: true });
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

async function healthCheck(): Promise<{ checks: Record<string, { detail?: Record<string, number> }> }> {
  const transaction = `health-${randomUUID()}`;
  await client.publishAsync(`${prefix}/${DEVICE}/request/health_check`, JSON.stringify({ transaction }), {
    qos: 1,
  });
  await waitUntil('the health answer', () => answers.some((a) => a.transaction === transaction), 30_000);
  return answers.find((a) => a.transaction === transaction)!.data as never;
}

describe('protocol-level fuzzing of the request path', () => {
  it(`${OPS} seeded operations: nothing applied twice, nothing acknowledged unstored, no late unlock, daemon up`, async () => {
    const random = mulberry32(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

    // Set-up: people the fuzz may remove.
    for (const [i, person] of VICTIMS.entries()) {
      const out = await sendRequest(
        client,
        admin,
        'enroll',
        { person, name: person, images: [(await orlPhoto(20 + i, 1)).toString('base64')] },
        { device: DEVICE, prefix, timeoutMs: 60_000 },
      );
      expect(out.ok, JSON.stringify(out.failure)).toBe(true);
    }
    const photos = await Promise.all([1, 2, 3, 4].map((s) => orlPhoto(24 + s, 2)));
    answers.length = 0;

    const requests: Req[] = [];
    let enrolls = 0;
    const sign = async (
      cmd: SignedCommand,
      args: object,
      opts: { key?: AdminKey; lifetimeSeconds?: number; nowMs?: number } = {},
    ): Promise<Req> => {
      const key = opts.key ?? admin;
      const signed = await signRequest(key.privateKey, key.kid, {
        cmd,
        aud: DEVICE,
        args: args as never,
        lifetimeSeconds: opts.lifetimeSeconds ?? 120,
        nowMs: opts.nowMs,
      });
      const expMs = signed.claims.exp * 1000;
      return {
        cmd,
        transaction: signed.claims.transaction,
        payload: signed.jws,
        expMs,
        valid: key === admin && expMs + SKEW_SECONDS * 1000 > Date.now(),
        person: (args as { person?: string }).person,
      };
    };
    const newRequest = async (): Promise<Req> => {
      const r = random();
      if (r < 0.25) return sign('list', {});
      if (r < 0.4) return sign('unlock', { reason: 'fuzz' }, { lifetimeSeconds: 30 });
      // Already expired beyond the allowed skew: must never open the door.
      if (r < 0.5)
        return sign('unlock', { reason: 'stale' }, { nowMs: Date.now() - 20_000, lifetimeSeconds: 5 });
      // Short-lived: may expire while a broker restart holds it.
      if (r < 0.58) return sign('unlock', { reason: 'short' }, { lifetimeSeconds: 1 });
      if (r < 0.66 && enrolls < 8) {
        enrolls++;
        return sign('enroll', {
          person: `p${enrolls}`,
          name: `Person ${enrolls}`,
          images: [pick(photos).toString('base64')],
        });
      }
      if (r < 0.76)
        return sign('remove', {
          person: random() < 0.5 ? pick(VICTIMS) : `nobody${Math.floor(random() * 5)}`,
        });
      if (r < 0.84) return sign('remove', { person: pick(VICTIMS) }, { key: stranger });
      // Oversize: over the router's limit (answered payload_too_large) or over the door's
      // MQTT Maximum Packet Size (the broker drops it for the door: no answer).
      const bytes = random() < 0.5 ? MAX_BYTES + 10_000 : MAX_BYTES + 100_000;
      return {
        cmd: 'oversize',
        transaction: `oversize-${randomUUID()}`,
        payload: randomBytes(bytes),
        expMs: 0,
        valid: false,
      };
    };

    const counts = { published: 0, qos: [0, 0, 0], retained: 0, duplicates: 0, restarts: 0, kill9: 0 };
    const publish = (req: Req, qos: 0 | 1 | 2, retain: boolean): void => {
      const topic = `${prefix}/${DEVICE}/request/${req.cmd === 'oversize' ? pick(['enroll', 'list']) : req.cmd}`;
      counts.published++;
      counts.qos[qos]++;
      if (retain) counts.retained++;
      client.publish(topic, req.payload, { qos, retain }, () => undefined);
    };

    let op = 0;
    while (op < OPS) {
      // A batch of requests, each sent 1-3 times with random QoS / retain, in shuffled order.
      const batch: Req[] = [];
      const size = 2 + Math.floor(random() * 4);
      for (let i = 0; i < size && op < OPS; i++, op++) batch.push(await newRequest());
      requests.push(...batch);
      const deliveries: [Req, 0 | 1 | 2, boolean][] = [];
      for (const req of batch) {
        const copies = 1 + Math.floor(random() * random() * 3);
        counts.duplicates += copies - 1;
        for (let c = 0; c < copies; c++)
          deliveries.push([req, pick([0, 1, 1, 2] as const), req.cmd !== 'oversize' && random() < 0.12]);
      }
      for (let i = deliveries.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
      }
      const restartAt = random() < 0.12 ? Math.floor(random() * deliveries.length) : -1;
      for (const [i, [req, qos, retain]] of deliveries.entries()) {
        if (i === restartAt) {
          // In the middle of a batch: some requests are on their way, some wait in the client.
          const crash = random() < 0.5;
          counts.restarts++;
          if (crash) counts.kill9++;
          await (crash ? broker.kill9() : broker.stop());
          await new Promise((r) => setTimeout(r, 300 + random() * 1500));
          await broker.start();
        }
        publish(req, qos, retain);
      }
      await new Promise((r) => setTimeout(r, random() * 400));
    }

    // Quiet: no new answer for 6 s (or give up after 120 s).
    let last = -1;
    const quietDeadline = Date.now() + 120_000;
    while (Date.now() < quietDeadline) {
      const n = answers.length;
      if (n === last) break;
      last = n;
      await new Promise((r) => setTimeout(r, 6000));
    }
    expect(daemon.running).toBe(true);

    // ---------------------------------------------------------------- the checks
    const byTx = new Map<string, Answer[]>();
    for (const a of answers)
      if (a.transaction) byTx.set(a.transaction, [...(byTx.get(a.transaction) ?? []), a]);
    const final = (list: Answer[]) => list.filter((a) => a.error?.code !== 'busy');
    const strip = (a: Answer) => JSON.stringify({ s: a.status, d: a.data, e: a.error });
    let duplicatesAnswered = 0;
    const firstCodes: Record<string, number> = {};
    let applied = 0;
    let unanswered = 0;
    for (const req of requests.filter((r) => r.cmd !== 'oversize')) {
      const list = final(byTx.get(req.transaction) ?? []);
      if (list.length === 0) {
        unanswered++;
        continue;
      }
      const first = list[0];
      // Nothing applied twice: every later answer is the first one again.
      for (const again of list.slice(1))
        expect(strip(again), `${req.cmd} ${req.transaction}`).toBe(strip(first));
      duplicatesAnswered += list.length - 1;
      const code = first.status === 'ok' ? 'ok' : (first.error?.code ?? '?');
      firstCodes[code] = (firstCodes[code] ?? 0) + 1;
      if (first.status === 'ok') applied++;
      // Forged, stale and oversize requests are never carried out.
      if (!req.valid) expect(first.status, `${req.cmd} ${req.transaction}`).toBe('error');
      // No late unlock: an ok comes before the request's exp + skew (+2 s of processing).
      if (req.cmd === 'unlock' && first.status === 'ok')
        expect(first.atMs).toBeLessThanOrEqual(req.expMs + SKEW_SECONDS * 1000 + 2000);
    }

    const okTransactions = requests.filter((r) => final(byTx.get(r.transaction) ?? [])[0]?.status === 'ok');
    const stored = new Set(
      db((d) => (d.prepare('SELECT id FROM transactions').all() as { id: string }[]).map((r) => r.id)),
    );
    // Nothing acknowledged that was not stored.
    for (const r of okTransactions)
      expect(stored.has(r.transaction), `${r.cmd} ${r.transaction} stored`).toBe(true);
    const people = peopleIn(daemon.galleryPath);
    for (const r of okTransactions.filter((r) => r.cmd === 'enroll')) expect(people).toContain(r.person);
    // At most one event per transaction.
    const twice = db(
      (d) =>
        d
          .prepare(
            `SELECT json_extract(payload, '$.transaction') AS tx, json_extract(payload, '$.type') AS type, COUNT(*) AS n
               FROM outbox WHERE json_extract(payload, '$.transaction') IS NOT NULL
              GROUP BY tx, type HAVING n > 1`,
          )
          .all() as { tx: string; type: string; n: number }[],
    );
    expect(twice).toEqual([]);

    const health = await healthCheck();
    const unlocksOk = okTransactions.filter((r) => r.cmd === 'unlock').length;
    const pulses = (health.checks.door.detail as { unlocks: number }).unlocks;
    expect(pulses).toBeLessThanOrEqual(unlocksOk); // never more pulses than granted unlock requests
    expect(integrityCheck(daemon.galleryPath)).toEqual(['ok']);
    const list = await sendRequest(client, admin, 'list', {}, { device: DEVICE, prefix, timeoutMs: 30_000 });
    expect(list.ok).toBe(true);

    const report = {
      seed: SEED,
      operations: requests.length,
      published: counts.published,
      byQos: { 0: counts.qos[0], 1: counts.qos[1], 2: counts.qos[2] },
      retained: counts.retained,
      duplicateCopies: counts.duplicates,
      brokerRestarts: counts.restarts,
      brokerKill9: counts.kill9,
      oversize: requests.filter((r) => r.cmd === 'oversize').length,
      oversizeAnsweredTooLarge: answers.filter((a) => a.error?.code === 'payload_too_large').length,
      answeredTransactions: requests.filter((r) => r.cmd !== 'oversize').length - unanswered,
      unanswered,
      applied,
      firstAnswers: firstCodes,
      duplicatesAnswered,
      unlockPulses: pulses,
      daemon: health.checks.requests?.detail,
    };
    console.log(`protocol fuzz: ${JSON.stringify(report)}`);
    expect(applied).toBeGreaterThan(0);
    expect(duplicatesAnswered).toBeGreaterThan(0);
  });
});
