import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import {
  connectBroker,
  describeDeviceError,
  sendRequest,
  type DeviceResponse,
} from '../../src/enrollment/admin-client.js';
import { registerEnrollmentCommands, type FaceEnroller } from '../../src/enrollment/commands.js';
import { DEFAULT_ENROLLMENT_CONFIG } from '../../src/enrollment/config.js';
import { signRequest } from '../../src/enrollment/protocol.js';
import type { EventBody } from '../../src/events.js';
import { RecordingSink } from '../fakes/events.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { defaultMqttConfig } from '../../src/mqtt/config.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { RequestRouter } from '../../src/mqtt/request-router.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { PhotoEnroller } from '../../src/enrollment/photo-enroller.js';
import type { Embedder } from '../../src/model/embedder.js';
import { loadEmbedder } from '../../src/model/load.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../src/vision/config.js';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import { FaceCropper } from '../../src/vision/face-cropper.js';
import { DEFAULT_PREPROCESS } from '../../src/vision/preprocess.js';
import { orlPhoto, twoFacesPhoto } from './images.js';
import { makeAdmin, type TestAdmin } from './keys-helper.js';

// The enrollment commands behind the real RequestRouter on the real Mosquitto, with a real
// SQLite gallery; requests are sent by the admin tool's own client code.
const BROKER = 'mqtt://127.0.0.1:1883';
const prefix = `fgtest-${randomUUID().slice(0, 8)}`;
const deviceId = 'door-1';

// The real photo pipeline (Haar detector + committed model), counting how often it runs.
let photoRuns = 0;
let detector: StoppableFaceDetector;
let embedder: Embedder;
let enroller: FaceEnroller;

let dir: string;
let store: GalleryStore;
let connection: MqttConnection;
let router: RequestRouter;
let client: MqttClient;
let admin: TestAdmin;
let stranger: TestAdmin;
const sink = new RecordingSink(deviceId, Date.now);
let reloads = 0;
const unlocks: string[] = [];

beforeAll(async () => {
  detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  embedder = await loadEmbedder('models/siamese', silentLogger());
  const photoEnroller = new PhotoEnroller({
    detector,
    embedder,
    cropper: new FaceCropper(null, { kind: 'box', ...DEFAULT_PREPROCESS, size: embedder.inputSize }),
    limits: DEFAULT_ENROLLMENT_CONFIG,
    logger: silentLogger(),
  });
  enroller = { enrollPhotos: (photos) => (photoRuns++, photoEnroller.enrollPhotos(photos)) };
  dir = mkdtempSync(join(tmpdir(), 'fg-commands-'));
  store = new GalleryStore(join(dir, 'gallery.db'), silentLogger());
  admin = await makeAdmin();
  stranger = await makeAdmin();
  connection = new MqttConnection({
    config: defaultMqttConfig({
      url: BROKER,
      baseTopic: `${prefix}/${deviceId}`,
      fleetTopic: `${prefix}/all`,
      clientId: `${prefix}-${deviceId}`,
      sessionExpirySeconds: 30,
    }),
    deviceId,
    logger: silentLogger(),
  });
  router = new RequestRouter({
    transport: connection,
    logger: silentLogger(),
    maxPayloadBytes: 1 << 24,
    maxConcurrent: 8,
    events: sink,
  });
  await registerEnrollmentCommands(router, {
    deviceId,
    config: { ...DEFAULT_ENROLLMENT_CONFIG, allowUnlock: false },
    trustedKeys: admin.trusted,
    enroller,
    modelId: embedder.modelId,
    store,
    events: sink,
    onGalleryChanged: () => void reloads++,
    unlock: (reason) => void unlocks.push(reason),
    clock: systemClock,
    logger: silentLogger(),
  });
  connection.start();
  router.start();
  const deadline = Date.now() + 10_000;
  while (!connection.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300)); // the router's SUBACKs
  client = await connectBroker({ url: BROKER });
});

afterAll(async () => {
  await client?.endAsync();
  await router?.stop();
  await connection?.stop();
  store?.close();
  embedder?.dispose();
  await detector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function send(
  cmd: 'list' | 'remove' | 'unlock' | 'enroll',
  args: object,
  key = admin,
  device = deviceId,
) {
  return sendRequest(client, key.admin, cmd, args as never, { device, prefix, timeoutMs: 10_000 });
}

/** Publishes a prepared JWS and waits for the response with its transaction. */
async function publishRaw(
  cmd: string,
  jws: string,
  transaction: string | null,
  topic = `${prefix}/${deviceId}/request/${cmd}`,
): Promise<DeviceResponse> {
  const responseTopic = `${prefix}/${deviceId}/response/${cmd}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no response to ${transaction}`)), 10_000);
    const onMessage = (t: string, payload: Buffer): void => {
      const body = JSON.parse(payload.toString()) as DeviceResponse;
      if (t !== responseTopic || body.transaction !== transaction) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(body);
    };
    client.on('message', onMessage);
    void client
      .subscribeAsync(responseTopic, { qos: 1 })
      .then(() => client.publishAsync(topic, jws, { qos: 1 }));
  });
}

function rejections(): EventBody[] {
  return sink.events.filter((e) => e.type === 'rejected_request');
}

describe('enrollment commands over MQTT', () => {
  it('answers a signed list with the (empty) gallery', async () => {
    const out = await send('list', {});
    expect(out.ok).toBe(true);
    expect(out.responses[0]).toMatchObject({
      device: deviceId,
      status: 'ok',
      data: { people: [], version: 0 },
    });
  });

  it('answers a remove of an unknown person ok with removed:false and no reload', async () => {
    const out = await send('remove', { person: 'nobody' });
    expect(out.responses[0].data).toMatchObject({ person: 'nobody', removed: false });
    expect(reloads).toBe(0);
  });

  it('refuses a request signed by an untrusted key, with an event and no change', async () => {
    const before = rejections().length;
    const out = await send('remove', { person: 'nobody' }, stranger);
    expect(out.ok).toBe(false);
    expect(out.responses[0].error?.code).toBe('unknown_key');
    expect(out.responses[0].transaction).toBe(out.transaction);
    expect(rejections().length).toBe(before + 1);
    expect(rejections().at(-1)).toMatchObject({
      code: 'unknown_key',
      verified: false,
      transaction: out.transaction,
    });
  });

  it('answers a re-delivered list from the store, refuses a new transaction with a seen nonce, and answers a duplicate remove from the store', async () => {
    const list = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'list',
      aud: deviceId,
      args: {},
    });
    const before = rejections().length;
    const first = await publishRaw('list', list.jws, list.claims.transaction);
    expect(first.status).toBe('ok');
    expect(await publishRaw('list', list.jws, list.claims.transaction)).toEqual(first);
    expect(rejections().length).toBe(before);
    // Same nonce, another transaction: a replay, refused.
    const replay = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'list',
      aud: deviceId,
      args: {},
      nonce: list.claims.nonce,
    });
    const again = await publishRaw('list', replay.jws, replay.claims.transaction);
    expect(again.error?.code).toBe('replayed');

    const remove = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'remove',
      aud: deviceId,
      args: { person: 'ghost' },
    });
    const firstRemove = await publishRaw('remove', remove.jws, remove.claims.transaction);
    const second = await publishRaw('remove', remove.jws, remove.claims.transaction);
    expect(firstRemove.status).toBe('ok');
    expect(second).toEqual(firstRemove);
  });

  it('reports a refused payload once however often the same bytes arrive, and answers each', async () => {
    const forged = await signRequest(stranger.admin.privateKey, stranger.admin.kid, {
      cmd: 'remove',
      aud: deviceId,
      args: { person: 'nobody' },
    });
    const before = rejections().length;
    for (let i = 0; i < 3; i++) {
      const res = await publishRaw('remove', forged.jws, forged.claims.transaction);
      expect(res.error?.code).toBe('unknown_key');
    }
    expect(rejections().length).toBe(before + 1);
  });

  it('refuses a request for another door arriving on the fleet topic', async () => {
    const other = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'list',
      aud: 'door-9',
      args: {},
    });
    const res = await publishRaw('list', other.jws, other.claims.transaction, `${prefix}/all/request/list`);
    expect(res.error?.code).toBe('wrong_device');
  });

  it('refuses an enroll with invalid args, remembers the answer, and emits one event', async () => {
    const bad = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'enroll',
      aud: deviceId,
      args: { person: '../etc/passwd', name: 'x', images: ['AAAA'] },
    });
    const before = rejections().length;
    const first = await publishRaw('enroll', bad.jws, bad.claims.transaction);
    const second = await publishRaw('enroll', bad.jws, bad.claims.transaction);
    expect(first.error?.code).toBe('invalid_payload');
    expect(second).toEqual(first);
    expect(rejections().length).toBe(before + 1);
    expect(rejections().at(-1)).toMatchObject({ verified: true, code: 'invalid_payload' });
    expect(store.listPeople()).toEqual([]);
  });

  it('refuses unlock while it is disabled', async () => {
    const out = await send('unlock', {});
    expect(out.responses[0].error?.code).toBe('unlock_disabled');
    expect(unlocks).toEqual([]);
  });

  it('answers garbage on every command topic with malformed_request and changes nothing', async () => {
    const version = store.version();
    for (const cmd of ['enroll', 'remove', 'list']) {
      const res = await publishRaw(cmd, 'definitely not a jws', null);
      expect(res).toMatchObject({ status: 'error', transaction: null, error: { code: 'malformed_request' } });
    }
    expect(store.version()).toBe(version);
    expect(store.listPeople()).toEqual([]);
  });

  it('enrolls once for a transaction sent twice, answering the stored result again', async () => {
    const photo = (await orlPhoto(8, 1)).toString('base64');
    const req = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'enroll',
      aud: deviceId,
      args: { person: 'eve', name: 'Eve', images: [photo] },
    });
    const runsBefore = photoRuns;
    const reloadsBefore = reloads;
    const first = await publishRaw('enroll', req.jws, req.claims.transaction);
    expect(first).toMatchObject({ status: 'ok', data: { person: 'eve', faces: 1, updated: false } });
    const version = store.version();
    const second = await publishRaw('enroll', req.jws, req.claims.transaction);
    expect(second).toEqual(first);
    expect(photoRuns).toBe(runsBefore + 1);
    expect(store.version()).toBe(version);
    expect(store.listPeople()).toEqual([expect.objectContaining({ id: 'eve', faces: 1 })]);
    expect(reloads).toBe(reloadsBefore + 1);
    expect(sink.events.filter((e) => e.type === 'enrolled')).toHaveLength(1);
  });

  it('refuses a request for a photo with two faces and stores nothing', async () => {
    const out = await send('enroll', {
      person: 'pair',
      name: 'Pair',
      images: [(await twoFacesPhoto([4, 1], [6, 1])).toString('base64')],
    });
    expect(out.responses[0].error?.code).toBe('several_faces');
    expect(store.listPeople().map((p) => p.id)).toEqual(['eve']);
    expect(rejections().at(-1)).toMatchObject({ code: 'several_faces', verified: true });
  });

  it('answers a too-small photo with face_too_small, the measured size and a hint, also when asked again', async () => {
    // The 152x172 padded ORL photo shrunk to 70 px wide: a face of about 40 px in a photo wider than 48.
    const tiny = await sharp(await orlPhoto(9, 1, 'png', 1))
      .resize(70)
      .png()
      .toBuffer();
    const req = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'enroll',
      aud: deviceId,
      args: { person: 'tiny', name: 'Tiny', images: [tiny.toString('base64')] },
    });
    const first = await publishRaw('enroll', req.jws, req.claims.transaction);
    expect(first.error?.code).toBe('face_too_small');
    expect(first.error?.hint).toMatch(/at least 48 px/);
    expect(first.error?.details).toMatchObject({ limit: 48 });
    expect(first.error?.details?.measured as number).toBeLessThan(48);
    expect(describeDeviceError({ ...first, device: deviceId })).toEqual([
      expect.stringMatching(/^error from door-1: face_too_small: the face is \d+ px wide/),
      `  hint: ${first.error?.hint}`,
    ]);
    // The stored answer of the transaction keeps the hint.
    expect(await publishRaw('enroll', req.jws, req.claims.transaction)).toEqual(first);
    expect(rejections().at(-1)).toMatchObject({ code: 'face_too_small', hint: first.error?.hint });
    expect(store.listPeople().map((p) => p.id)).toEqual(['eve']);
  });
});

describe('unlock when enabled', () => {
  it('opens the door once per signed request and never again for its duplicate', async () => {
    const handlers = new Map<string, (payload: Buffer, info: never) => Promise<unknown>>();
    const opened: string[] = [];
    await registerEnrollmentCommands(
      { register: (cmd, handler) => void handlers.set(cmd, handler as never) },
      {
        deviceId: 'door-u',
        config: { ...DEFAULT_ENROLLMENT_CONFIG, allowUnlock: true },
        trustedKeys: admin.trusted,
        enroller,
        modelId: embedder.modelId,
        store,
        events: sink,
        onGalleryChanged: () => undefined,
        unlock: (reason) => void opened.push(reason),
        clock: systemClock,
        logger: silentLogger(),
      },
    );
    expect([...handlers.keys()].sort()).toEqual([
      'capture_enroll',
      'enroll',
      'list',
      'remove',
      'set_schedules',
      'unlock',
      'update_person',
    ]);
    const req = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'unlock',
      aud: 'door-u',
      args: { reason: 'delivery' },
    });
    const info = { topic: 'x/door-u/request/unlock' } as never;
    const first = await handlers.get('unlock')!(Buffer.from(req.jws), info);
    expect(first).toEqual({ transaction: req.claims.transaction, data: { unlocked: true } });
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatch(/^delivery/);
    expect(await handlers.get('unlock')!(Buffer.from(req.jws), info)).toEqual(first);
    expect(opened).toHaveLength(1);
    const forged = await signRequest(stranger.admin.privateKey, stranger.admin.kid, {
      cmd: 'unlock',
      aud: 'door-u',
      args: {},
    });
    await expect(handlers.get('unlock')!(Buffer.from(forged.jws), info)).rejects.toMatchObject({
      code: 'unknown_key',
    });
    expect(opened).toHaveLength(1);
  });
});
