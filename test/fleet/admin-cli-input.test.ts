import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orlPhoto } from '../enrollment/images.js';
import { runAdmin } from './run-admin.js';

// The admin tool refuses bad input itself, before any broker round trip: a bad person id, a
// bad display name, a photo or key file that cannot be read. Exit code 1 (bad usage or input, see the tool's header) and one line
// naming the problem, never a stack trace. The broker URL points at a closed port: if the
// tool tried to connect, the answer would be "broker unreachable", not the usage error.
const CLOSED = 'mqtt://127.0.0.1:9';
let dir: string;
let base: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-admin-input-'));
  const keygen = await runAdmin(['keygen', '--out', join(dir, 'keys')]);
  expect(keygen.code).toBe(0);
  writeFileSync(join(dir, 'alice.jpg'), await orlPhoto(11, 1, 'jpeg'));
  base = [
    '--broker',
    CLOSED,
    '--device',
    'door-1',
    '--key',
    join(dir, 'keys', 'admin.key.pem'),
    '--timeout',
    '3',
  ];
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function usageError(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(stderr).not.toMatch(/unreachable|ECONNREFUSED/i);
}

describe('facegate-admin input checks', () => {
  it('refuses a person id outside the protocol rule, naming the rule', async () => {
    const r = await runAdmin([
      'enroll',
      ...base,
      '--person',
      'bad id/1',
      '--name',
      'X',
      join(dir, 'alice.jpg'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--person.*letters, digits/);
    usageError(r.stderr);
    const remove = await runAdmin(['remove', ...base, '--person', '../etc']);
    expect(remove.code).toBe(1);
    expect(remove.stderr).toMatch(/--person/);
  }, 60_000);

  it('refuses an over-long display name', async () => {
    const r = await runAdmin([
      'enroll',
      ...base,
      '--person',
      'alice',
      '--name',
      'x'.repeat(101),
      join(dir, 'alice.jpg'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--name.*printable characters/);
    usageError(r.stderr);
  }, 60_000);

  it('names a missing photo instead of a raw ENOENT', async () => {
    const missing = join(dir, 'nope.jpg');
    const r = await runAdmin(['enroll', ...base, '--person', 'alice', '--name', 'Alice', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot read photo ${missing}: no such file`);
    usageError(r.stderr);
  }, 60_000);

  it('names a missing signing key and a photo path that is a directory', async () => {
    const noKey = await runAdmin([
      'enroll',
      '--broker',
      CLOSED,
      '--device',
      'door-1',
      '--key',
      join(dir, 'missing.pem'),
      '--person',
      'alice',
      '--name',
      'Alice',
      join(dir, 'alice.jpg'),
    ]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('cannot read signing key');
    const isDir = await runAdmin(['enroll', ...base, '--person', 'alice', '--name', 'Alice', dir]);
    expect(isDir.code).toBe(1);
    expect(isDir.stderr).toContain(`cannot read photo ${dir}: is a directory`);
    usageError(isDir.stderr);
  }, 60_000);
});
