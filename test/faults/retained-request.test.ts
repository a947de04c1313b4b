import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAdminKeyPair, parseAdminKey, type AdminKey } from '../../src/enrollment/keys.js';
import { signRequest } from '../../src/enrollment/protocol.js';
import { orlPhoto } from '../enrollment/images.js';
import { Daemon, writeEmptyReplayFolder, writeTrustedAdminKey } from '../fleet/daemon.js';
import { OwnBroker, waitUntil } from '../helpers/broker.js';
import { integrityCheck, peopleIn } from './hostile.js';

// Field case "retained request": a signed request published with the retain flag reaches
// the door again on every reconnect. It must be applied once, answered every time (from
// the store), and leave ONE event and audit row, not one per reconnect. Our own Mosquitto
// (with persistence, so the retained message survives) is restarted under a real daemon.
const prefix = `fgretain-${randomUUID().slice(0, 8)}`;
const DEVICE = 'door-ret';
const RESTARTS = 3;

let dir: string;
let broker: OwnBroker;
let daemon: Daemon;
let admin: AdminKey;
let stranger: AdminKey;
let observer: MqttClient;
const responses: { transaction: string | null; status: string; error?: { code: string } }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-retained-'));
  broker = await OwnBroker.create({ persistence: true, extraLines: ['autosave_interval 1'] });
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
  });
  await daemon.start();
  observer = await mqtt.connectAsync(broker.url, {
    protocolVersion: 5,
    clientId: `${prefix}-observer`,
    reconnectPeriod: 200,
  });
  observer.on('message', (topic, payload) => {
    if (topic.startsWith(`${prefix}/${DEVICE}/response/`))
      responses.push(JSON.parse(payload.toString('utf8')) as (typeof responses)[number]);
  });
  await observer.subscribeAsync(`${prefix}/${DEVICE}/response/#`, { qos: 1 });
});

afterAll(async () => {
  await observer?.endAsync(true);
  await daemon?.stop();
  await broker?.dispose();
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

/** Rows of the daemon's database (read-only, beside the running daemon: WAL allows it). */
function count(sql: string, ...params: unknown[]): number {
  const db = new Database(daemon.galleryPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
}

const answersTo = (tx: string) => responses.filter((r) => r.transaction === tx);
const outboxOf = (type: string) =>
  count(`SELECT COUNT(*) AS n FROM outbox WHERE json_extract(payload, '$.type') = ?`, type);
const auditRows = () => count(`SELECT COUNT(*) AS n FROM audit`);

describe('a retained signed request and broker restarts', () => {
  it('is applied once, answered from the store on every re-delivery, with one event and no audit growth', async () => {
    // Valid for 3 s only: the later re-deliveries arrive after it expired, and must still
    // be answered from the store (not refused as expired with a new event each time).
    const enroll = await signRequest(admin.privateKey, admin.kid, {
      cmd: 'enroll',
      aud: DEVICE,
      args: { person: 'ret', name: 'Retained', images: [(await orlPhoto(12, 1)).toString('base64')] },
      lifetimeSeconds: 3,
    });
    const forged = await signRequest(stranger.privateKey, stranger.kid, {
      cmd: 'remove',
      aud: DEVICE,
      args: { person: 'ret' },
    });
    const tx = enroll.claims.transaction;
    const forgedTx = forged.claims.transaction;
    await observer.publishAsync(`${prefix}/${DEVICE}/request/enroll`, enroll.jws, { qos: 1, retain: true });
    await waitUntil('the enrollment answer', () => answersTo(tx).length >= 1, 60_000, 100);
    expect(answersTo(tx)[0].status).toBe('ok');
    await observer.publishAsync(`${prefix}/${DEVICE}/request/remove`, forged.jws, { qos: 1, retain: true });
    await waitUntil('the forged request answer', () => answersTo(forgedTx).length >= 1, 30_000, 100);
    expect(answersTo(forgedTx)[0].error?.code).toBe('unknown_key');
    await new Promise((r) => setTimeout(r, 1500)); // the broker's once-a-second save of the retained messages
    const audit = auditRows();
    const version = count(`SELECT CAST(value AS INTEGER) AS n FROM meta WHERE key = 'gallery_version'`);

    for (let i = 0; i < RESTARTS; i++) {
      const before = answersTo(tx).length;
      const forgedBefore = answersTo(forgedTx).length;
      await broker.stop();
      await broker.start();
      // The door reconnects, subscribes again, and gets both retained requests again.
      await waitUntil(
        `re-delivery ${i + 1} answered`,
        () => answersTo(tx).length > before && answersTo(forgedTx).length > forgedBefore,
        30_000,
        100,
      );
    }
    const answers = answersTo(tx);
    console.log(
      `retained requests: ${answers.length} answers to the enrollment and ${answersTo(forgedTx).length} to the forged one over ${RESTARTS} broker restarts`,
    );
    expect(answers.length).toBeGreaterThanOrEqual(RESTARTS + 1);
    // Every answer is the first one, from the store, though the request expired meanwhile.
    for (const a of answers) expect(a).toEqual(answers[0]);
    for (const a of answersTo(forgedTx)) expect(a.error?.code).toBe('unknown_key');
    expect(peopleIn(daemon.galleryPath)).toEqual(['ret']);
    expect(count(`SELECT CAST(value AS INTEGER) AS n FROM meta WHERE key = 'gallery_version'`)).toBe(version);
    expect(outboxOf('enrolled')).toBe(1);
    expect(outboxOf('rejected_request')).toBe(1); // the forged request, reported once
    expect(auditRows()).toBe(audit);
    expect(integrityCheck(daemon.galleryPath)).toEqual(['ok']);
    expect(daemon.running).toBe(true);
  });
});
