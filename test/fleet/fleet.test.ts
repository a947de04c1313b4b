import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBroker, sendRequest, watchEvents } from '../../src/enrollment/admin-client.js';
import type { AdminKey } from '../../src/enrollment/keys.js';
import { orlPhoto } from '../enrollment/images.js';
import { peopleIn } from '../faults/hostile.js';
import { waitUntil } from '../helpers/broker.js';
import { Daemon, writeTrustedAdminKey, writeReplayFolder } from './daemon.js';

// Three real daemons on the shared Mosquitto, each with its own database and a replay
// camera showing ORL subject 17. The admin enrolls subject 17 to "all": every door answers
// ok and then recognises the person. One door is stopped while the next fleet enrollment
// is sent; its persistent session holds the request and it catches up when started.
const BROKER = 'mqtt://127.0.0.1:1883';
const prefix = `fgfleet-${randomUUID().slice(0, 8)}`;
const DOORS = ['door-a', 'door-b', 'door-c'];
let dir: string;
let daemons: Daemon[];
let client: MqttClient;
let admin: AdminKey;
const events: { device: string; event: { type: string; person?: { id: string } } }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-fleet-'));
  ({ admin } = await writeTrustedAdminKey(dir, 'test'));
  await writeReplayFolder(join(dir, 'replay'), 17, [1]);
  daemons = DOORS.map(
    (id) =>
      new Daemon({
        id,
        prefix,
        dir: join(dir, id),
        brokerUrl: BROKER,
        trustedKeyFiles: [join(dir, 'admin.pub.pem')],
        replayDir: join(dir, 'replay'),
        fps: 3,
      }),
  );
  await Promise.all(daemons.map((d) => d.start(90_000)));
  client = await connectBroker({ url: BROKER });
  await watchEvents(client, 'all', (device, event) => events.push({ device, event: event as never }), prefix);
});

afterAll(async () => {
  await client?.endAsync();
  await Promise.all((daemons ?? []).map((d) => d.stop()));
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

/** Polls every 100 ms: these tests watch whole daemons, not single messages. */
const waitFor = (what: string, predicate: () => boolean, timeoutMs: number) =>
  waitUntil(what, predicate, timeoutMs, 100);

describe('a fleet of three doors', () => {
  it('enrolls to "all": all three answer ok, then each recognises the person', async () => {
    const outcome = await sendRequest(
      client,
      admin,
      'enroll',
      { person: 's17', name: 'Subject Seventeen', images: [(await orlPhoto(17, 1)).toString('base64')] },
      { device: 'all', expect: 3, timeoutMs: 60_000, prefix },
    );
    expect(outcome.ok).toBe(true);
    expect(outcome.responses.map((r) => r.device)).toEqual(DOORS);
    for (const r of outcome.responses) expect(r.data).toMatchObject({ person: 's17', faces: 1 });
    for (const d of daemons) expect(peopleIn(d.galleryPath)).toEqual(['s17']);

    // Each camera shows subject 17: each door grants access to s17.
    await waitFor(
      'access_granted for s17 on every door',
      () =>
        DOORS.every((id) =>
          events.some(
            (e) => e.device === id && e.event.type === 'access_granted' && e.event.person?.id === 's17',
          ),
        ),
      45_000,
    );
  });

  it('a door that went offline (kill -9) during a fleet enrollment catches up when it starts again', async () => {
    const late = daemons[2];
    // Offline the hard way (power cut): no goodbye to the broker, the session stays.
    await late.kill9();
    let answered = 0;
    const request = sendRequest(
      client,
      admin,
      'enroll',
      { person: 's23', name: 'Subject Twenty-three', images: [(await orlPhoto(23, 1)).toString('base64')] },
      {
        device: 'all',
        expect: 3,
        timeoutMs: 100_000,
        lifetimeSeconds: 600,
        prefix,
        onResponse: () => void answered++,
      },
    );
    await waitFor('the two running doors to answer', () => answered >= 2, 60_000);
    expect(peopleIn(late.galleryPath)).toEqual(['s17']);
    await late.start(90_000);
    const outcome = await request;
    expect(outcome.ok).toBe(true);
    expect(outcome.responses.map((r) => [r.device, r.status])).toEqual(DOORS.map((id) => [id, 'ok']));
    for (const d of daemons) expect(peopleIn(d.galleryPath)).toEqual(['s17', 's23']);
  });
});
