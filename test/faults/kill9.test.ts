import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBroker, sendRequest } from '../../src/enrollment/admin-client.js';
import type { AdminKey } from '../../src/enrollment/keys.js';
import { orlPhoto } from '../enrollment/images.js';
import { Daemon, writeTrustedAdminKey, writeEmptyReplayFolder } from '../fleet/daemon.js';
import { mulberry32 } from '../../src/util/random.js';
import { integrityCheck, peopleIn } from './hostile.js';

// kill -9 of a real daemon at random (seeded) moments during a stream of signed
// enrollments, then restart: every enrollment the daemon acknowledged is in the database,
// the database passes PRAGMA integrity_check, and the restarted door reports itself locked.
const BROKER = 'mqtt://127.0.0.1:1883';
const prefix = `fgkill-${randomUUID().slice(0, 8)}`;
const DEVICE = 'door-kill';
const KILLS = Number(process.env.FACEGATE_KILLS ?? 3);
const SEED = Number(process.env.FACEGATE_KILL_SEED ?? 9);

let dir: string;
let daemon: Daemon;
let client: MqttClient;
let admin: AdminKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-kill9-'));
  ({ admin } = await writeTrustedAdminKey(dir));
  await writeEmptyReplayFolder(join(dir, 'replay'));
  daemon = new Daemon({
    id: DEVICE,
    prefix,
    dir: join(dir, 'door'),
    brokerUrl: BROKER,
    trustedKeyFiles: [join(dir, 'admin.pub.pem')],
    replayDir: join(dir, 'replay'),
    fps: 2,
  });
  await daemon.start();
  client = await connectBroker({ url: BROKER });
});

afterAll(async () => {
  await client?.endAsync();
  await daemon?.stop();
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

/** The newest retained `<base>/state` the broker holds (what a dashboard sees). */
async function retainedState(): Promise<{ door: { locked: boolean } }> {
  const watcher = await connectBroker({ url: BROKER }, 'fg-state');
  try {
    const state = new Promise<string>((resolve) =>
      watcher.on('message', (_t, payload) => {
        if (payload.length > 0) resolve(payload.toString('utf8'));
      }),
    );
    await watcher.subscribeAsync(`${daemon.baseTopic}/state`, { qos: 1 });
    return JSON.parse(await state) as { door: { locked: boolean } };
  } finally {
    await watcher.endAsync();
  }
}

describe('kill -9 during enrollments', () => {
  it(`loses no acknowledged enrollment over ${KILLS} kills`, async () => {
    const random = mulberry32(SEED);
    const photos = await Promise.all(Array.from({ length: 40 }, (_, i) => orlPhoto(i + 1, 1)));
    const acknowledged: string[] = [];
    let sent = 0;
    let streaming = true;

    // The admin side: one enrollment after another, whatever happens to the door.
    const stream = (async () => {
      while (streaming) {
        const person = `p${sent}`;
        const outcome = await sendRequest(
          client,
          admin,
          'enroll',
          { person, name: `Person ${sent}`, images: [photos[sent % photos.length].toString('base64')] },
          { device: DEVICE, prefix, timeoutMs: 6000 },
        );
        sent++;
        if (outcome.ok) acknowledged.push(person);
      }
    })();

    for (let kill = 0; kill < KILLS; kill++) {
      // Let at least one enrollment through, then pull the plug at a random moment.
      const target = acknowledged.length + 1;
      while (acknowledged.length < target) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, Math.floor(random() * 2500)));
      await daemon.kill9();
      console.log(`kill ${kill + 1}: after ${acknowledged.length} acknowledged of ${sent} sent`);
      await daemon.start();
    }
    streaming = false;
    await stream;

    const stored = peopleIn(daemon.galleryPath);
    console.log(
      `acknowledged ${acknowledged.length}, stored ${stored.length}, sent ${sent}, daemon starts ${daemon.starts}`,
    );
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILLS);
    for (const person of acknowledged) expect(stored).toContain(person);
    expect(integrityCheck(daemon.galleryPath)).toEqual(['ok']);
    expect((await retainedState()).door.locked).toBe(true);

    // And the restarted door still takes requests.
    const list = await sendRequest(client, admin, 'list', {}, { device: DEVICE, prefix, timeoutMs: 20_000 });
    expect(list.ok).toBe(true);
    const listed = (list.responses[0].data as { people: { id: string }[] }).people.map((p) => p.id);
    for (const person of acknowledged) expect(listed).toContain(person);
  });
});
