import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBroker, sendRequest, watchEvents } from '../../src/enrollment/admin-client.js';
import type { AdminKey } from '../../src/enrollment/keys.js';
import { orlPhoto } from '../enrollment/images.js';
import { waitUntil } from '../helpers/broker.js';
import { Daemon, writeReplayFolder, writeTrustedAdminKey } from './daemon.js';

// Two real daemons on the shared Mosquitto, both cameras showing ORL subject 29. ONE signed
// fleet-wide enrollment (aud "all") carries the person's groups and validity; each door
// applies its own rules: the lobby admits "staff" and grants, the lab admits only "lab"
// and refuses with not_allowed_here, still naming the person.
const BROKER = 'mqtt://127.0.0.1:1883';
const prefix = `fgacl-${randomUUID().slice(0, 8)}`;
let dir: string;
let doors: Daemon[];
let client: MqttClient;
let admin: AdminKey;
const events: {
  device: string;
  event: { type: string; reason?: string; person?: { id: string; groups?: string[]; validUntil?: string } };
}[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-acl-'));
  ({ admin } = await writeTrustedAdminKey(dir, 'test'));
  await writeReplayFolder(join(dir, 'replay'), 29, [1, 2]);
  const door = (id: string, groups: Record<string, unknown>) =>
    new Daemon({
      id,
      prefix,
      dir: join(dir, id),
      brokerUrl: BROKER,
      trustedKeyFiles: [join(dir, 'admin.pub.pem')],
      replayDir: join(dir, 'replay'),
      fps: 3,
      extra: { access: { groups, timeZone: 'America/New_York', clockSync: 'assume_synced' } },
    });
  doors = [
    door('lobby', {
      staff: {
        windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }],
      },
    }),
    door('lab', { lab: { always: true } }),
  ];
  await Promise.all(doors.map((d) => d.start(90_000)));
  client = await connectBroker({ url: BROKER });
  await watchEvents(client, 'all', (device, event) => events.push({ device, event: event as never }), prefix);
}, 120_000);

afterAll(async () => {
  await client?.endAsync();
  await Promise.all((doors ?? []).map((d) => d.stop()));
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

describe('fleet-wide enrollment with access groups', () => {
  it('grants on the door of the person’s group and refuses not_allowed_here on the other', async () => {
    const validUntil = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const outcome = await sendRequest(
      client,
      admin,
      'enroll',
      {
        person: 's29',
        name: 'Subject Twenty-nine',
        images: [(await orlPhoto(29, 1)).toString('base64')],
        groups: ['staff'],
        validFrom: '2026-01-01T00:00:00Z',
        validUntil,
      },
      { device: 'all', expect: 2, timeoutMs: 60_000, prefix },
    );
    expect(outcome.ok).toBe(true);
    for (const r of outcome.responses)
      expect(r.data).toMatchObject({ person: 's29', groups: ['staff'], validUntil, suspended: false });

    const decided = (device: string) =>
      events.find(
        (e) =>
          e.device === device &&
          (e.event.type === 'access_granted' || e.event.type === 'access_denied') &&
          e.event.person?.id === 's29',
      );
    await waitUntil(
      'a decision about s29 on both doors',
      () => !!decided('lobby') && !!decided('lab'),
      60_000,
      100,
    );
    expect(decided('lobby')?.event).toMatchObject({ type: 'access_granted', person: { groups: ['staff'] } });
    expect(decided('lab')?.event).toMatchObject({
      type: 'access_denied',
      reason: 'not_allowed_here',
      person: { id: 's29', groups: ['staff'] },
    });
    // The lab's door never opened for s29.
    expect(events.some((e) => e.device === 'lab' && e.event.type === 'access_granted')).toBe(false);

    // `list` on the whole fleet shows the person's state on each door.
    const list = await sendRequest(
      client,
      admin,
      'list',
      {},
      { device: 'all', expect: 2, timeoutMs: 30_000, prefix },
    );
    const state = Object.fromEntries(
      list.responses.map((r) => [
        r.device,
        (r.data as { people: { accessNow: unknown }[] }).people[0].accessNow,
      ]),
    );
    expect(state).toEqual({
      lobby: { allowed: true, group: 'staff' },
      lab: { allowed: false, reason: 'not_allowed_here' },
    });
  }, 120_000);
});
