import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAdminKeyPair } from '../../src/enrollment/keys.js';
import { noisePhoto, orlPhoto } from '../enrollment/images.js';
import { integrityCheck, peopleIn } from '../faults/hostile.js';
import { Daemon, writeEmptyReplayFolder } from './daemon.js';
import { runAdmin } from './run-admin.js';

// The admin tool end to end: keygen, then enroll/list/remove against a real daemon on the
// real Mosquitto, checking exit codes, JSON output and the daemon's database.
const BROKER = 'mqtt://127.0.0.1:1883';
const prefix = `fgcli-${randomUUID().slice(0, 8)}`;
let dir: string;
let daemon: Daemon;
let common: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-admin-cli-'));
  const keygen = await runAdmin(['keygen', '--out', join(dir, 'keys')]);
  expect(keygen.code).toBe(0);
  await writeEmptyReplayFolder(join(dir, 'replay'));
  writeFileSync(join(dir, 'alice.jpg'), await orlPhoto(11, 1, 'jpeg'));
  writeFileSync(join(dir, 'alice2.png'), await orlPhoto(11, 2, 'png'));
  writeFileSync(join(dir, 'noise.png'), await noisePhoto());
  daemon = new Daemon({
    id: 'door-cli',
    prefix,
    dir: join(dir, 'door'),
    brokerUrl: BROKER,
    trustedKeyFiles: [join(dir, 'keys', 'admin.pub.pem')],
    replayDir: join(dir, 'replay'),
  });
  await daemon.start();
  common = [
    '--broker',
    BROKER,
    '--prefix',
    prefix,
    '--key',
    join(dir, 'keys', 'admin.key.pem'),
    '--no-progress',
  ];
});

afterAll(async () => {
  await daemon?.stop();
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

describe('facegate-admin against a running daemon', () => {
  it('keygen wrote the private keys 0600 and refuses to overwrite them', async () => {
    expect(statSync(join(dir, 'keys', 'admin.key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys', 'admin.private.jwk.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'keys', 'admin.pub.pem')).mode & 0o777).toBe(0o644);
    const again = await runAdmin(['keygen', '--out', join(dir, 'keys')]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to overwrite/);
  });

  it('enrolls a person from two photos: exit 0, the ok response as JSON, the person in the DB', async () => {
    const out = await runAdmin([
      'enroll',
      ...common,
      '--device',
      'door-cli',
      '--person',
      'alice',
      '--name',
      'Alice Example',
      join(dir, 'alice.jpg'),
      join(dir, 'alice2.png'),
    ]);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as {
      ok: boolean;
      responses: { device: string; status: string; data: { faces: number } }[];
    };
    expect(result.ok).toBe(true);
    expect(result.responses).toHaveLength(1);
    expect(result.responses[0]).toMatchObject({
      device: 'door-cli',
      status: 'ok',
      data: { person: 'alice', faces: 2 },
    });
    // Acknowledged means committed: it is in the database file now.
    expect(peopleIn(daemon.galleryPath)).toContain('alice');
  });

  it('lists the gallery', async () => {
    const out = await runAdmin(['list', ...common, '--device', 'door-cli']);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as {
      responses: { data: { people: { id: string; name: string }[] } }[];
    };
    expect(result.responses[0].data.people).toEqual([
      expect.objectContaining({ id: 'alice', name: 'Alice Example', faces: 2 }),
    ]);
  });

  it('person set|suspend|resume change the credential without photos; list --table shows the state', async () => {
    const set = await runAdmin([
      'person',
      'set',
      ...common,
      '--device',
      'door-cli',
      '--person',
      'alice',
      '--groups',
      'default,night',
      '--valid-until',
      '2099-01-01T00:00:00+01:00',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({
      ok: true,
      responses: [
        { data: { person: 'alice', groups: ['default', 'night'], validUntil: '2098-12-31T23:00:00.000Z' } },
      ],
    });
    const suspend = await runAdmin([
      'person',
      'suspend',
      ...common,
      '--device',
      'door-cli',
      '--person',
      'alice',
    ]);
    expect(suspend.code, suspend.stderr).toBe(0);
    const table = await runAdmin(['list', ...common, '--device', 'door-cli', '--table']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /door-cli.*alice.*default, night.*2098-12-31T23:00:00.000Z.*yes.*denied: suspended/,
    );
    const resume = await runAdmin([
      'person',
      'resume',
      ...common,
      '--device',
      'door-cli',
      '--person',
      'alice',
    ]);
    expect(JSON.parse(resume.stdout)).toMatchObject({
      ok: true,
      responses: [{ data: { suspended: false } }],
    });
    const nobody = await runAdmin([
      'person',
      'suspend',
      ...common,
      '--device',
      'door-cli',
      '--person',
      'nobody',
    ]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/unknown_person/);
    const empty = await runAdmin(['person', 'set', ...common, '--device', 'door-cli', '--person', 'alice']);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/give --groups/);
    expect(peopleIn(daemon.galleryPath)).toEqual(['alice']);
  });

  it('exits 1 with the reason when the photo shows no face, and enrolls nothing', async () => {
    const out = await runAdmin([
      'enroll',
      ...common,
      '--device',
      'door-cli',
      '--person',
      'bob',
      '--name',
      'Bob',
      join(dir, 'noise.png'),
    ]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/error from door-cli: no_face: /);
    // The door's hint, printed under the error (docs/enrollment.md).
    expect(out.stderr).toMatch(/\n {2}hint: .*some background around it/);
    expect(JSON.parse(out.stdout)).toMatchObject({
      ok: false,
      responses: [{ status: 'error', error: { code: 'no_face', hint: expect.any(String) } }],
    });
    expect(peopleIn(daemon.galleryPath)).toEqual(['alice']);
  });

  it('exits 2 on a timeout when the addressed device does not answer', async () => {
    const out = await runAdmin(['list', ...common, '--device', 'door-nowhere', '--timeout', '2']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/timeout: 0 of 1/);
  });

  it('exits 2 when the broker is unreachable', async () => {
    const out = await runAdmin([
      'list',
      ...common.slice(2),
      '--broker',
      'mqtt://127.0.0.1:1',
      '--device',
      'door-cli',
    ]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/cannot connect/);
  });

  it('watch prints the rejected_request event of a request signed by another key', async () => {
    const watch = runAdmin([
      'watch',
      '--broker',
      BROKER,
      '--prefix',
      prefix,
      '--device',
      'door-cli',
      '--count',
      '1',
      '--timeout',
      '60',
    ]);
    await new Promise((r) => setTimeout(r, 3000)); // the watcher's subscription
    const other = await generateAdminKeyPair();
    writeFileSync(join(dir, 'other.key.pem'), other.privatePem, { mode: 0o600 });
    const forged = await runAdmin([
      'remove',
      ...common.slice(0, 4),
      '--key',
      join(dir, 'other.key.pem'),
      '--no-progress',
      '--device',
      'door-cli',
      '--person',
      'alice',
    ]);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/unknown_key/);
    const watched = await watch;
    expect(watched.code).toBe(0);
    const line = JSON.parse(watched.stdout.trim().split('\n')[0]) as {
      device: string;
      event: { type: string; code: string };
    };
    expect(line).toMatchObject({
      device: 'door-cli',
      event: { type: 'rejected_request', code: 'unknown_key' },
    });
    expect(peopleIn(daemon.galleryPath)).toEqual(['alice']);
  });

  it('removes the person: exit 0, gone from the DB, database intact', async () => {
    const out = await runAdmin(['remove', ...common, '--device', 'door-cli', '--person', 'alice']);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      ok: true,
      responses: [{ data: { person: 'alice', removed: true } }],
    });
    expect(peopleIn(daemon.galleryPath)).toEqual([]);
    expect(integrityCheck(daemon.galleryPath)).toEqual(['ok']);
  });
});
