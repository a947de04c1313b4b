import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBroker, sendRequest } from '../../src/enrollment/admin-client.js';
import { generateAdminKeyPair, parseAdminKey, type AdminKey } from '../../src/enrollment/keys.js';
import { orlPhoto } from '../enrollment/images.js';
import { Daemon, writeTrustedAdminKey, writeEmptyReplayFolder } from '../fleet/daemon.js';
import { gallerySnapshot, hostilePayloads, integrityCheck } from './hostile.js';

// Thousands of malformed and hostile payloads (seeded, reproducible) at every request
// topic of one real daemon, on loopback: it must stay up, answer every one of them, and
// leave the gallery (people, faces, crops, embeddings, version) byte-for-byte unchanged.
// (The database FILE does change: every refusal is a rejected_request event in the
// outbox and the audit log, by design.)
const BROKER = 'mqtt://127.0.0.1:1883';
const prefix = `fgfuzz-${randomUUID().slice(0, 8)}`;
const DEVICE = 'door-fuzz';
const COUNT = Number(process.env.FACEGATE_FUZZ_COUNT ?? 2000);
const SEED = Number(process.env.FACEGATE_FUZZ_SEED ?? 20261127);
const IN_FLIGHT = 12; // below the router's maxConcurrent, so refusals are mostly verification, not `busy`
const MAX_BYTES = 8 * 1024 * 1024;

let dir: string;
let daemon: Daemon;
let client: MqttClient;
let admin: AdminKey;
let stranger: AdminKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-fuzz-'));
  ({ admin } = await writeTrustedAdminKey(dir));
  stranger = await parseAdminKey((await generateAdminKeyPair()).privatePem, 'stranger');
  await writeEmptyReplayFolder(join(dir, 'replay'));
  daemon = new Daemon({
    id: DEVICE,
    prefix,
    dir: join(dir, 'door'),
    brokerUrl: BROKER,
    trustedKeyFiles: [join(dir, 'admin.pub.pem')],
    replayDir: join(dir, 'replay'),
    fps: 1,
    extra: { log: { level: 'warn' } },
  });
  await daemon.start();
  client = await connectBroker({ url: BROKER });
});

afterAll(async () => {
  await client?.endAsync();
  await daemon?.stop();
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

describe('hostile request fuzzing', () => {
  it(`answers ${COUNT} hostile payloads on every request topic, stays up, and the gallery is unchanged`, async () => {
    // A gallery with one real person, so "unchanged" means something.
    const enrolled = await sendRequest(
      client,
      admin,
      'enroll',
      { person: 'keeper', name: 'Keeper', images: [(await orlPhoto(30, 1)).toString('base64')] },
      { device: DEVICE, prefix, timeoutMs: 30_000 },
    );
    expect(enrolled.ok).toBe(true);
    const before = gallerySnapshot(daemon.galleryPath);

    const payloads = await hostilePayloads(COUNT, SEED, {
      deviceId: DEVICE,
      trusted: admin,
      stranger,
      maxBytes: MAX_BYTES,
    });
    const topicOf = (i: number): string =>
      `${prefix}/${payloads[i].fleet ? 'all' : DEVICE}/request/${payloads[i].cmd}`;

    // Every request carries its index as MQTT 5 correlation data; the router copies it onto the answer.
    const answered = new Map<number, string>();
    let wake: () => void = () => undefined;
    client.on('message', (topic, payload, packet) => {
      const corr = packet.properties?.correlationData;
      if (!topic.startsWith(`${prefix}/${DEVICE}/response/`) || !corr || corr.length !== 4) return;
      const body = JSON.parse(payload.toString('utf8')) as { status: string; error?: { code: string } };
      answered.set(corr.readUInt32BE(0), body.status === 'ok' ? 'ok' : (body.error?.code ?? '?'));
      wake();
    });
    await client.subscribeAsync(`${prefix}/${DEVICE}/response/+`, { qos: 1 });

    const started = Date.now();
    let sent = 0;
    while (sent < payloads.length || answered.size < payloads.length) {
      while (sent < payloads.length && sent - answered.size < IN_FLIGHT) {
        const correlationData = Buffer.alloc(4);
        correlationData.writeUInt32BE(sent);
        void client.publishAsync(topicOf(sent), payloads[sent].payload, {
          qos: 1,
          properties: { correlationData },
        });
        sent++;
      }
      const progress = answered.size;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 15_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (answered.size === progress) break; // 15 s without any answer: the daemon is stuck or gone
    }
    const seconds = (Date.now() - started) / 1000;
    const histogram: Record<string, number> = {};
    for (const code of answered.values()) histogram[code] = (histogram[code] ?? 0) + 1;
    console.log(
      `fuzz: ${payloads.length} payloads, ${answered.size} answered in ${seconds.toFixed(1)} s`,
      histogram,
    );

    expect(daemon.running).toBe(true);
    expect(answered.size).toBe(payloads.length);
    // Nothing hostile got through: the only ok answers are unsigned health checks.
    for (const [index, code] of answered) {
      if (code === 'ok') expect(topicOf(index)).toMatch(/health_check$/);
    }
    expect(gallerySnapshot(daemon.galleryPath)).toBe(before);
    expect(integrityCheck(daemon.galleryPath)).toEqual(['ok']);

    // Still fully working afterwards.
    const list = await sendRequest(client, admin, 'list', {}, { device: DEVICE, prefix, timeoutMs: 30_000 });
    expect(list.ok).toBe(true);
    expect(list.responses[0].data).toMatchObject({ people: [expect.objectContaining({ id: 'keeper' })] });
  });
});
