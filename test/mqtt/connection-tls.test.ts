import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultMqttConfig, type MqttConfig } from '../../src/mqtt/config.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { silentLogger } from '../../src/util/log.js';
import { OwnBroker, uniqueId, waitUntil } from './helpers.js';

// A private CA, a broker certificate for 127.0.0.1 and a client certificate, made with openssl.
let dir: string;
let broker: OwnBroker;
const file = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCertificates(): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=facegate test CA',
  );
  for (const [name, cn, san] of [
    ['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1'],
    ['client', 'door-tls', 'extendedKeyUsage=clientAuth'],
  ]) {
    openssl('req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(file(`${name}.ext`), `${san}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    );
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'facegate-tls-'));
  makeCertificates();
  execFileSync('mosquitto_passwd', ['-b', '-c', file('passwd'), 'door-tls', 'correct horse']);
  writeFileSync(file('password'), 'correct horse\n');
  writeFileSync(file('wrong-password'), 'battery staple\n');
  broker = await OwnBroker.create({
    persistence: false,
    tls: true,
    allowAnonymous: false,
    listenerLines: [
      `cafile ${file('ca.crt')}`,
      `certfile ${file('server.crt')}`,
      `keyfile ${file('server.key')}`,
      'require_certificate true',
      `password_file ${file('passwd')}`,
    ],
  });
});

afterAll(async () => {
  await broker?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tlsConnection(overrides: Partial<MqttConfig> = {}): MqttConnection {
  const conn = new MqttConnection({
    config: defaultMqttConfig({
      url: broker.url,
      username: 'door-tls',
      passwordFile: file('password'),
      tls: {
        caFile: file('ca.crt'),
        certFile: file('client.crt'),
        keyFile: file('client.key'),
        rejectUnauthorized: true,
      },
      reconnect: { minMs: 100, maxMs: 300 },
      sessionExpirySeconds: 60,
      ...overrides,
    }),
    deviceId: uniqueId('tls'),
    logger: silentLogger(),
  });
  cleanups.push(() => conn.stop());
  return conn;
}

describe('MqttConnection over TLS with a client certificate and a password', () => {
  it('connects with the CA, client certificate and password file, and publishes availability', async () => {
    const conn = tlsConnection();
    conn.start();
    await waitUntil('connected over TLS', () => conn.connected);
    // An observer with the same credentials sees the retained availability.
    const observer = await mqtt.connectAsync(broker.url, {
      ca: readFileSync(file('ca.crt')),
      cert: readFileSync(file('client.crt')),
      key: readFileSync(file('client.key')),
      username: 'door-tls',
      password: 'correct horse',
    });
    cleanups.push(() => observer.endAsync(true));
    const seen: string[] = [];
    observer.on('message', (_t, payload) => seen.push(payload.toString()));
    await observer.subscribeAsync(conn.topics.availability, { qos: 1 });
    await waitUntil('availability seen', () => seen.includes('online'));
  });

  it('a wrong password or a missing client certificate never connects, and keeps retrying without crashing', async () => {
    const wrongPassword = tlsConnection({ passwordFile: file('wrong-password') });
    const noClientCert = tlsConnection({
      tls: { caFile: file('ca.crt'), certFile: '', keyFile: '', rejectUnauthorized: true },
    });
    const untrustedBroker = tlsConnection({
      tls: {
        caFile: '',
        certFile: file('client.crt'),
        keyFile: file('client.key'),
        rejectUnauthorized: true,
      },
    });
    for (const conn of [wrongPassword, noClientCert, untrustedBroker]) conn.start();
    await new Promise((r) => setTimeout(r, 1500));
    expect([wrongPassword.connected, noClientCert.connected, untrustedBroker.connected]).toEqual([
      false,
      false,
      false,
    ]);
  });

  it('unreadable TLS or password files are reported at start with the config key', () => {
    expect(() => tlsConnection({ passwordFile: file('nope') }).start()).toThrow(
      /mqtt\.passwordFile: cannot read/,
    );
    expect(() =>
      tlsConnection({
        tls: { caFile: file('missing-ca.crt'), certFile: '', keyFile: '', rejectUnauthorized: true },
      }).start(),
    ).toThrow(/mqtt\.tls\.caFile/);
  });
});
