import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingSink } from '../fakes/events.js';
import { defaultMqttConfig } from '../../src/mqtt/config.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import {
  RequestError,
  RequestRouter,
  type RequestInfo,
  type ResponseBody,
} from '../../src/mqtt/request-router.js';
import { silentLogger } from '../../src/util/log.js';
import { Observer, SHARED_BROKER, uniqueId, waitUntil } from './helpers.js';

// One device and one admin-side observer for the whole file; every test uses its own transactions.
const fleet = uniqueId('fleet');
let connection: MqttConnection;
let router: RequestRouter;
let admin: Observer;
const sink = new RecordingSink();
const calls: { payload: Buffer; info: RequestInfo }[] = [];
let releaseSlow: () => void = () => undefined;

beforeAll(async () => {
  connection = new MqttConnection({
    config: defaultMqttConfig({
      url: SHARED_BROKER,
      fleetTopic: `${fleet}/all`,
      sessionExpirySeconds: 60,
      requests: { maxBytes: 1024, maxConcurrent: 3 },
    }),
    deviceId: uniqueId('router'),
    logger: silentLogger(),
  });
  router = new RequestRouter({
    transport: connection,
    logger: silentLogger(),
    maxPayloadBytes: 1024,
    maxConcurrent: 3,
    events: sink,
  });
  router.register('echo', async (payload, info) => {
    calls.push({ payload, info });
    const request = JSON.parse(payload.toString('utf8')) as { transaction: string; value: unknown };
    return {
      transaction: request.transaction,
      data: { value: request.value, addressedTo: info.addressedTo },
    };
  });
  router.register('refuse', async (payload) => {
    throw new RequestError(
      'bad_signature',
      'signature does not verify',
      payload.toString('utf8').slice(0, 10),
    );
  });
  router.register('crash', async () => {
    throw new TypeError('cannot read properties of undefined');
  });
  router.register('raw', async (payload) => ({ transaction: 'raw', data: { bytes: payload.length } }));
  router.register(
    'slow',
    () => new Promise((resolve) => (releaseSlow = () => resolve({ transaction: 'slow' }))),
  );
  connection.start();
  router.start();
  await waitUntil('connected', () => connection.connected);
  admin = await Observer.connect(SHARED_BROKER, [`${connection.topics.base}/response/+`]);
  await waitUntil('the router subscribed', () => connection.ready);
});

afterAll(async () => {
  await admin.publish(connection.topics.availability, '', true);
  await admin.close();
  await router.stop(1000);
  await connection.stop();
});

async function responseFor(
  cmd: string,
  transaction: string | null,
  match?: (r: ResponseBody) => boolean,
): Promise<ResponseBody> {
  const topic = connection.topics.response(cmd);
  const message = await admin.waitFor(topic, (m) => {
    const body = JSON.parse(m.text) as ResponseBody;
    return body.transaction === transaction && (match ? match(body) : true);
  });
  return JSON.parse(message.text) as ResponseBody;
}

describe('RequestRouter', () => {
  it('answers a device-addressed request with the handler data', async () => {
    await admin.publish(
      connection.topics.request('echo'),
      JSON.stringify({ transaction: 't-dev', value: 42 }),
    );
    expect(await responseFor('echo', 't-dev')).toEqual({
      transaction: 't-dev',
      status: 'ok',
      data: { value: 42, addressedTo: 'device' },
    });
  });

  it('answers a fleet request on its own response topic and says it was fleet-addressed', async () => {
    await admin.publish(`${fleet}/all/request/echo`, JSON.stringify({ transaction: 't-fleet', value: 'x' }));
    const response = await responseFor('echo', 't-fleet');
    expect(response.data).toEqual({ value: 'x', addressedTo: 'fleet' });
    expect(calls.find((c) => c.info.topic === `${fleet}/all/request/echo`)?.info.cmd).toBe('echo');
  });

  it('refuses unknown commands with an error response and a rejected_request event', async () => {
    await admin.publish(
      connection.topics.request('format_disk'),
      JSON.stringify({ transaction: 't-unknown' }),
    );
    const response = await responseFor('format_disk', 't-unknown');
    expect(response.status).toBe('error');
    expect(response.error?.code).toBe('unknown_command');
    expect(sink.events.some((e) => e.type === 'rejected_request' && e.code === 'unknown_command')).toBe(true);
  });

  it('turns a RequestError into its code and a plain throw into internal_error', async () => {
    await admin.publish(connection.topics.request('refuse'), 'tx-refused-and-more');
    const refused = await responseFor('refuse', 'tx-refused');
    expect(refused).toEqual({
      transaction: 'tx-refused',
      status: 'error',
      error: { code: 'bad_signature', message: 'signature does not verify' },
    });
    await admin.publish(connection.topics.request('crash'), JSON.stringify({ transaction: 't-crash' }));
    const crashed = await responseFor('crash', 't-crash');
    expect(crashed.error?.code).toBe('internal_error');
    expect(crashed.error?.message).not.toMatch(/undefined/); // internals stay in the log
  });

  it('survives malformed payloads: the handler error becomes a response', async () => {
    // echo parses JSON: garbage makes it throw; the router answers and keeps going.
    for (const payload of [
      Buffer.from([0xff, 0x00, 0xfe]),
      Buffer.alloc(0),
      Buffer.from('{"transaction":'),
      Buffer.from('null'),
    ]) {
      await admin.publish(connection.topics.request('echo'), payload);
    }
    await waitUntil(
      '4 error responses',
      () =>
        admin
          .on(connection.topics.response('echo'))
          .filter((m) => (JSON.parse(m.text) as ResponseBody).status === 'error').length >= 4,
    );
    // Raw bytes reach handlers untouched.
    await admin.publish(connection.topics.request('raw'), Buffer.from([0, 1, 2, 3, 255]));
    expect((await responseFor('raw', 'raw')).data).toEqual({ bytes: 5 });
    await admin.publish(
      connection.topics.request('echo'),
      JSON.stringify({ transaction: 't-after', value: 1 }),
    );
    expect((await responseFor('echo', 't-after')).status).toBe('ok');
  });

  it('refuses oversized payloads before the handler sees them', async () => {
    const before = calls.length;
    const big = JSON.stringify({ transaction: 't-big', value: 'x'.repeat(2000) });
    await admin.publish(connection.topics.request('echo'), big);
    const response = await responseFor('echo', 't-big');
    expect(response.error?.code).toBe('payload_too_large');
    expect(calls.length).toBe(before);
  });

  it('far larger payloads are dropped by the broker before they reach the process; the door stays up', async () => {
    // maximumPacketSize = 1024 + 64 KiB for this connection: 200 KiB never arrives.
    const before = calls.length;
    await admin.publish(connection.topics.request('echo'), Buffer.alloc(200 * 1024, 0x41));
    await admin.publish(
      connection.topics.request('echo'),
      JSON.stringify({ transaction: 't-after-huge', value: 5 }),
    );
    expect((await responseFor('echo', 't-after-huge')).status).toBe('ok');
    expect(calls.length).toBe(before + 1);
    expect(connection.connected).toBe(true);
    // Never delivered, so never answered (the router would have said payload_too_large with no transaction).
    const untracked = admin
      .on(connection.topics.response('echo'))
      .map((m) => JSON.parse(m.text) as ResponseBody)
      .filter((r) => r.transaction === null && r.error?.code === 'payload_too_large');
    expect(untracked).toHaveLength(0);
  });

  it('a slow handler does not block others, and too many at once get busy', async () => {
    await admin.publish(connection.topics.request('slow'), '1');
    await waitUntil('slow running', () => router.inProgress === 1);
    await admin.publish(
      connection.topics.request('echo'),
      JSON.stringify({ transaction: 't-fast', value: 2 }),
    );
    expect((await responseFor('echo', 't-fast')).status).toBe('ok');
    expect(admin.on(connection.topics.response('slow'))).toHaveLength(0);

    // maxConcurrent is 3: slow holds one; two more slow ones fill it; the fourth is busy.
    const releases: (() => void)[] = [releaseSlow];
    for (let i = 0; i < 2; i++) {
      await admin.publish(connection.topics.request('slow'), String(i));
      await waitUntil('another slow running', () => router.inProgress === 2 + i);
      releases.push(releaseSlow);
    }
    await admin.publish(
      connection.topics.request('echo'),
      JSON.stringify({ transaction: 't-busy', value: 3 }),
    );
    expect((await responseFor('echo', 't-busy')).error?.code).toBe('busy');
    for (const release of releases) release();
    await waitUntil('3 slow answers', () => admin.on(connection.topics.response('slow')).length === 3);
    await waitUntil('all requests finished', () => router.inProgress === 0);
  });

  it('refuses to register a command twice or with a bad name', () => {
    expect(() => router.register('echo', async () => ({ transaction: null }))).toThrow(/already/);
    expect(() => router.register('Bad/Name', async () => ({ transaction: null }))).toThrow(/invalid/);
    expect(router.commands).toContain('echo');
  });
});
