import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateAdminKeyPair } from '../../src/enrollment/keys.js';
import { Daemon, writeEmptyReplayFolder } from './daemon.js';
import { runAdmin } from './run-admin.js';

// A locked-down broker: TLS only (our own CA), client certificates required, a password
// for every identity, no anonymous access. The daemon and the admin tool both connect
// with mqtts://, CA, client certificate and username/password file.
const prefix = `fgtls-${randomUUID().slice(0, 8)}`;
const DEVICE = 'door-tls';
let dir: string;
let port: number;
let broker: ChildProcess | undefined;
let daemon: Daemon | undefined;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

function issue(name: string, subjectAltName?: string): void {
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, subjectAltName ? `subjectAltName=${subjectAltName}\n` : 'basicConstraints=CA:FALSE\n');
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForPort(p: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(p, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${p}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-tls-'));
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=facegate test CA',
  ]);
  issue('broker', 'IP:127.0.0.1');
  issue('admin');
  issue(DEVICE);
  execFileSync('mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), 'admin', 'admin-secret']);
  execFileSync('mosquitto_passwd', ['-b', join(dir, 'passwd'), DEVICE, 'door-secret']);
  writeFileSync(join(dir, 'admin.password'), 'admin-secret\n');
  writeFileSync(join(dir, 'door.password'), 'door-secret\n');
  writeFileSync(join(dir, 'wrong.password'), 'guess\n');
  port = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      `listener ${port} 127.0.0.1`,
      `cafile ${join(dir, 'ca.pem')}`,
      `certfile ${join(dir, 'broker.pem')}`,
      `keyfile ${join(dir, 'broker.key')}`,
      'require_certificate true',
      'allow_anonymous false',
      `password_file ${join(dir, 'passwd')}`,
      `user ${userInfo().username}`,
      'log_dest none',
      '',
    ].join('\n'),
  );
  broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  await waitForPort(port);

  const pair = await generateAdminKeyPair();
  writeFileSync(join(dir, 'admin.pub.pem'), pair.publicPem);
  writeFileSync(join(dir, 'admin.key.pem'), pair.privatePem, { mode: 0o600 });
  await writeEmptyReplayFolder(join(dir, 'replay'));
  daemon = new Daemon({
    id: DEVICE,
    prefix,
    dir: join(dir, 'door'),
    brokerUrl: `mqtts://127.0.0.1:${port}`,
    trustedKeyFiles: [join(dir, 'admin.pub.pem')],
    replayDir: join(dir, 'replay'),
    fps: 1,
    extra: {
      mqtt: {
        username: DEVICE,
        passwordFile: join(dir, 'door.password'),
        tls: {
          caFile: join(dir, 'ca.pem'),
          certFile: join(dir, `${DEVICE}.pem`),
          keyFile: join(dir, `${DEVICE}.key`),
          rejectUnauthorized: true,
        },
      },
    },
    // The test's own readiness watcher must get through the same broker.
    watcherOptions: {
      ca: join(dir, 'ca.pem'),
      cert: join(dir, 'admin.pem'),
      key: join(dir, 'admin.key'),
      username: 'admin',
      password: 'admin-secret',
    },
  });
  await daemon.start();
});

afterAll(async () => {
  await daemon?.stop();
  broker?.kill('SIGTERM');
  if (!process.env.FACEGATE_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
});

function adminArgs(overrides: Record<string, string | null> = {}): string[] {
  const flags: Record<string, string | null> = {
    '--broker': `mqtts://127.0.0.1:${port}`,
    '--ca': join(dir, 'ca.pem'),
    '--cert': join(dir, 'admin.pem'),
    '--key-file': join(dir, 'admin.key'),
    '--username': 'admin',
    '--password-file': join(dir, 'admin.password'),
    '--prefix': prefix,
    '--key': join(dir, 'admin.key.pem'),
    '--device': DEVICE,
    '--timeout': '20',
    ...overrides,
  };
  return [...Object.entries(flags).flatMap(([k, v]) => (v === null ? [] : [k, v])), '--no-progress'];
}

describe('TLS, client certificates and passwords on both sides', () => {
  it('the admin tool reaches the daemon over mqtts:// with CA, client certificate and password file', async () => {
    const out = await runAdmin(['list', ...adminArgs()]);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ ok: true, responses: [{ device: DEVICE, status: 'ok' }] });
  });

  it('refuses a broker it cannot verify without the CA (exit 2)', async () => {
    const out = await runAdmin(['list', ...adminArgs({ '--ca': null })]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/cannot connect/);
  });

  it('is refused by the broker with a wrong password (exit 2)', async () => {
    const out = await runAdmin(['list', ...adminArgs({ '--password-file': join(dir, 'wrong.password') })]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/cannot connect/i);
  });
});
