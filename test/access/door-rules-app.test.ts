import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClockSync, ClockSyncState } from '../../src/access/clock-sync.js';
import { FacegateApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { connectBroker, sendRequest, watchEvents } from '../../src/enrollment/admin-client.js';
import type { AdminKey } from '../../src/enrollment/keys.js';
import { silentLogger } from '../../src/util/log.js';
import { orlPhoto } from '../enrollment/images.js';
import { freePort, waitUntil } from '../helpers/broker.js';
import { writeReplayFolder, writeTrustedAdminKey } from '../fleet/daemon.js';

// The whole daemon in-process on the real Mosquitto, its replay camera showing ORL subject
// 17 over and over. Signed requests from the admin client change the person's credential
// and the door's schedules while it runs; each change must decide the person's next visit.
// Only the clock-synchronisation probe is faked (a container has no systemd).
const BROKER = 'mqtt://127.0.0.1:1883';
const prefix = `fgrules-${randomUUID().slice(0, 8)}`;
const deviceId = 'door-rules';
const base = `${prefix}/${deviceId}`;

class FakeClockSync implements ClockSync {
  synchronized = true;
  state(): ClockSyncState {
    return this.synchronized
      ? { synchronized: true, source: 'test', detail: 'fake: synchronised' }
      : { synchronized: false, source: 'test', detail: 'fake: not synchronised' };
  }
}

interface AccessEvent {
  type: string;
  reason?: string;
  group?: string;
  suspended?: boolean;
  person?: { id: string; name: string; suspended: boolean; groups: string[] };
}

let dir: string;
let app: FacegateApp;
let client: MqttClient;
let admin: AdminKey;
let metricsPort: number;
const clockSync = new FakeClockSync();
const events: { at: number; event: AccessEvent }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-rules-'));
  const key = await writeTrustedAdminKey(dir, 'test');
  admin = key.admin;
  await writeReplayFolder(join(dir, 'replay'), 17, [1, 2]);
  metricsPort = await freePort();
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      device: { id: deviceId, stateDir: dir },
      camera: { type: 'replay', path: join(dir, 'replay'), fps: 4, loop: true },
      gallery: { path: join(dir, 'facegate.db'), bootstrapDir: '' },
      access: {
        cooldownSeconds: 1,
        noticeCooldownSeconds: 1,
        // The replay is still photos: only with liveness off can they open (docs/liveness.md).
        liveness: { mode: 'off' },
        timeZone: 'Europe/Berlin',
        // Open all week, but through windows: the grant depends on the clock.
        groups: {
          staff: {
            windows: [
              { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' },
            ],
          },
        },
      },
      door: {
        relay: { type: 'simulated' },
        pulseMs: 1000,
        contact: { type: 'none' },
        exitButton: { type: 'none' },
      },
      mqtt: {
        url: BROKER,
        baseTopic: base,
        fleetTopic: `${prefix}/all`,
        clientId: `${prefix}-${deviceId}`,
        homeAssistant: { enabled: false },
      },
      enrollment: { trustedKeys: [key.publicKeyFile] },
      metrics: { port: metricsPort },
    }),
  );
  const config = loadConfig({ files: [configFile], env: {} });
  app = new FacegateApp({ config, logger: silentLogger(), clockSync });
  await app.start();
  client = await connectBroker({ url: BROKER });
  await watchEvents(
    client,
    deviceId,
    (_device, event) => {
      const e = event as AccessEvent;
      if (e.type === 'access_granted' || e.type === 'access_denied')
        events.push({ at: Date.now(), event: e });
    },
    prefix,
  );
}, 120_000);

afterAll(async () => {
  await client?.endAsync();
  await app?.stop('test over');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const send = (cmd: 'enroll' | 'update_person' | 'set_schedules', args: object) =>
  sendRequest(client, admin, cmd, args as never, { device: deviceId, timeoutMs: 60_000, prefix });

/** The first access decision about s17 published after `since` (ms). */
async function nextDecision(since: number, what: string): Promise<AccessEvent> {
  let found: AccessEvent | undefined;
  await waitUntil(
    what,
    () => {
      found = events.find((e) => e.at >= since && (e.event.person?.id ?? '') === 's17')?.event;
      return found !== undefined;
    },
    60_000,
    50,
  );
  return found as AccessEvent;
}

describe('access rules on a running door', () => {
  it('grants a person of the door’s group, naming the group and the person’s state', async () => {
    const since = Date.now();
    const outcome = await send('enroll', {
      person: 's17',
      name: 'Subject Seventeen',
      images: [(await orlPhoto(17, 1)).toString('base64')],
      groups: ['staff'],
    });
    expect(outcome.ok).toBe(true);
    expect(outcome.responses[0].data).toMatchObject({ person: 's17', groups: ['staff'], suspended: false });
    const decision = await nextDecision(since, 'a decision about s17');
    expect(decision).toMatchObject({
      type: 'access_granted',
      group: 'staff',
      suspended: false,
      person: { id: 's17', name: 'Subject Seventeen', suspended: false, groups: ['staff'] },
    });
  }, 90_000);

  it('a signed suspension reaches the running door: the very next visit is denied "suspended"', async () => {
    const sent = Date.now();
    const outcome = await send('update_person', { person: 's17', suspended: true });
    const acked = Date.now();
    expect(outcome.ok).toBe(true);
    expect(outcome.responses[0].data).toMatchObject({ person: 's17', suspended: true });
    // Every decision after the acknowledgement refuses; the first one names the person.
    const decision = await nextDecision(acked, 'a decision after the suspension');
    expect(decision).toMatchObject({
      type: 'access_denied',
      reason: 'suspended',
      suspended: true,
      person: { id: 's17', suspended: true },
    });
    const after = events.filter((e) => e.at >= acked && e.event.person?.id === 's17');
    expect(after.every((e) => e.event.type === 'access_denied')).toBe(true);
    const denial = events.find((e) => e.at >= acked && e.event.type === 'access_denied');
    // Reported, not asserted (no wall-clock assertions): how long a suspension took end to end.
    console.log(
      `suspension: request→ack ${acked - sent} ms, ack→first denial ${(denial?.at ?? acked) - acked} ms`,
    );
    const resumed = await send('update_person', { person: 's17', suspended: false });
    expect(resumed.ok).toBe(true);
    const again = await nextDecision(Date.now(), 'a grant after the resumption');
    expect(again).toMatchObject({ type: 'access_granted', person: { suspended: false } });
  }, 90_000);

  it('an unsynchronised clock refuses windowed groups (clock_unsynced) and /health says why', async () => {
    clockSync.synchronized = false;
    try {
      const decision = await nextDecision(Date.now() + 1100, 'a decision with the clock unsynchronised');
      expect(decision).toMatchObject({ type: 'access_denied', reason: 'clock_unsynced' });
      const health = (await (await fetch(`http://127.0.0.1:${metricsPort}/health`)).json()) as {
        checks: Record<string, { ok: boolean; detail: { problems: string[] } }>;
      };
      expect(health.checks.access.ok).toBe(false);
      expect(health.checks.access.detail.problems.join(' ')).toMatch(
        /clock not synchronised.*clockUnsynced=deny/,
      );
    } finally {
      clockSync.synchronized = true;
    }
  }, 90_000);

  it('set_schedules overrides the config at run time (not_allowed_here); reset returns to the config', async () => {
    const set = await send('set_schedules', { groups: { contractors: { always: true } } });
    expect(set.ok).toBe(true);
    expect(set.responses[0].data).toMatchObject({
      schedules: { source: 'set_schedules', groups: ['contractors'], timeZone: 'Europe/Berlin' },
    });
    const denied = await nextDecision(Date.now(), 'a decision under the stored schedules');
    expect(denied).toMatchObject({
      type: 'access_denied',
      reason: 'not_allowed_here',
      person: { id: 's17' },
    });

    const list = await sendRequest(
      client,
      admin,
      'list',
      {},
      { device: deviceId, timeoutMs: 30_000, prefix },
    );
    expect(list.responses[0].data).toMatchObject({
      people: [{ id: 's17', groups: ['staff'], accessNow: { allowed: false, reason: 'not_allowed_here' } }],
      schedules: { source: 'set_schedules' },
    });

    const reset = await send('set_schedules', { reset: true });
    expect(reset.responses[0].data).toMatchObject({ schedules: { source: 'config', groups: ['staff'] } });
    const granted = await nextDecision(Date.now(), 'a grant under the config again');
    expect(granted).toMatchObject({ type: 'access_granted', group: 'staff' });
  }, 90_000);

  it('refuses a bad update and changes nothing', async () => {
    const bad = await send('update_person', {
      person: 's17',
      validFrom: '2027-01-01T00:00:00Z',
      validUntil: '2026-01-01T00:00:00Z',
    });
    expect(bad.ok).toBe(false);
    expect(bad.responses[0].error?.code).toBe('invalid_payload');
    const local = await send('update_person', { person: 's17', validUntil: '2027-01-01T00:00:00' });
    expect(local.responses[0].error?.code).toBe('invalid_payload'); // a local time without zone is ambiguous
    const unknown = await send('update_person', { person: 'nobody', suspended: true });
    expect(unknown.responses[0].error?.code).toBe('unknown_person');
  }, 60_000);
});
