import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBroker, sendRequest } from '../../src/enrollment/admin-client.js';
import { registerEnrollmentCommands } from '../../src/enrollment/commands.js';
import { DEFAULT_ENROLLMENT_CONFIG } from '../../src/enrollment/config.js';
import { PhotoEnroller } from '../../src/enrollment/photo-enroller.js';
import { signRequest } from '../../src/enrollment/protocol.js';
import { poseOrder, spreadOrder, WalkupCapture } from '../../src/enrollment/walkup-capture.js';
import { GalleryStore } from '../../src/gallery/store.js';
import type { Embedder } from '../../src/model/embedder.js';
import { loadEmbedder } from '../../src/model/load.js';
import { defaultMqttConfig } from '../../src/mqtt/config.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { RequestRouter } from '../../src/mqtt/request-router.js';
import type { FrameSeen, SeenFace } from '../../src/pipeline/frame-observer.js';
import { FrameObservers } from '../../src/pipeline/frame-observer.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../../src/vision/config.js';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import { FaceCropper } from '../../src/vision/face-cropper.js';
import type { GrayImage } from '../../src/vision/image.js';
import { decodeToGray } from '../../src/vision/image-io.js';
import { DEFAULT_PREPROCESS } from '../../src/vision/preprocess.js';
import { RecordingSink } from '../fakes/events.js';
import { orlPhoto } from './images.js';
import { makeAdmin, type TestAdmin } from './keys-helper.js';

// capture_enroll behind the real RequestRouter on the real Mosquitto, with the real Haar
// detector, committed model and SQLite gallery. The camera is the one faked part: the
// capture's "wait" feeds frames (real ORL faces) as the live loop would tell its observers.
const BROKER = 'mqtt://127.0.0.1:1883';
const prefix = `fgtest-${randomUUID().slice(0, 8)}`;
const deviceId = 'door-walkup';

let detector: StoppableFaceDetector;
let embedder: Embedder;
let dir: string;
let store: GalleryStore;
let connection: MqttConnection;
let router: RequestRouter;
let client: MqttClient;
let admin: TestAdmin;
let capture: WalkupCapture;
const sink = new RecordingSink(deviceId, Date.now);
const observers = new FrameObservers();
/** What the next capture "sees": frames fed while it waits; `hold` delays the end. */
let script: FrameSeen[] = [];
let hold: Promise<void> = Promise.resolve();
let faceFrames: GrayImage[] = [];

const oneFace = (face: Partial<SeenFace> = {}): SeenFace => ({
  box: { x: 10, y: 10, width: 100, height: 100 },
  outcome: 'compared',
  reasons: ['ok'],
  ...face,
});
const frame = (image: GrayImage, seq: number, faces: SeenFace[]): FrameSeen => ({
  frame: { image, timestampMs: seq * 100, seq },
  faces,
  decisions: [],
});

beforeAll(async () => {
  detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  embedder = await loadEmbedder('models/siamese', silentLogger());
  const enroller = new PhotoEnroller({
    detector,
    embedder,
    cropper: new FaceCropper(null, { kind: 'box', ...DEFAULT_PREPROCESS, size: embedder.inputSize }),
    limits: DEFAULT_ENROLLMENT_CONFIG,
    logger: silentLogger(),
  });
  faceFrames = await Promise.all(
    [1, 2, 3, 4, 5, 6].map(async (shot) => decodeToGray(await orlPhoto(1, shot))),
  );
  capture = new WalkupCapture({
    enroller,
    monotonicMs: () => performance.now(),
    sleep: async () => {
      for (const seen of script) observers.frameSeen(seen);
      await hold;
    },
    logger: silentLogger(),
  });
  observers.add(capture);
  dir = mkdtempSync(join(tmpdir(), 'fg-walkup-'));
  store = new GalleryStore(join(dir, 'gallery.db'), silentLogger());
  admin = await makeAdmin();
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
    config: { ...DEFAULT_ENROLLMENT_CONFIG, captureMaxTemplates: 3, captureMinTemplates: 2 },
    trustedKeys: admin.trusted,
    enroller,
    modelId: embedder.modelId,
    store,
    events: sink,
    capture,
    onGalleryChanged: () => undefined,
    clock: systemClock,
    logger: silentLogger(),
  });
  connection.start();
  router.start();
  const deadline = Date.now() + 10_000;
  while (!connection.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300)); // the router's SUBACKs
  client = await connectBroker({ url: BROKER });
}, 60_000);

afterAll(async () => {
  await client?.endAsync();
  await router?.stop();
  await connection?.stop();
  store?.close();
  embedder?.dispose();
  await detector?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function send(args: object, timeoutMs = 30_000) {
  return sendRequest(client, admin.admin, 'capture_enroll', args as never, {
    device: deviceId,
    prefix,
    timeoutMs,
  });
}

describe('capture_enroll (walk-up enrollment)', () => {
  it('enrolls the one person in front of the camera with templates and answers with JPEG thumbnails', async () => {
    script = faceFrames.map((image, i) => frame(image, i + 1, [oneFace()]));
    const out = await send({ person: 'carol', name: 'Carol', seconds: 3, groups: ['staff'] });
    expect(out.responses[0].error).toBeUndefined();
    const data = out.responses[0].data as {
      person: string;
      faces: number;
      added: number;
      groups: string[];
      templates: { thumbnail: string; frame: number }[];
    };
    expect(data).toMatchObject({
      person: 'carol',
      name: 'Carol',
      groups: ['staff'],
      frames: 6,
      usableFrames: 6,
    });
    expect(data.added).toBeGreaterThanOrEqual(2);
    expect(data.added).toBeLessThanOrEqual(3);
    expect(data.templates).toHaveLength(data.added);
    // Spread over the capture: the first and the last usable frame are among those taken.
    expect(data.templates.map((t) => t.frame)).toContain(1);
    expect(data.templates.map((t) => t.frame)).toContain(6);
    for (const t of data.templates) {
      const meta = await sharp(Buffer.from(t.thumbnail, 'base64')).metadata();
      expect(meta.format).toBe('jpeg');
      expect(meta.width).toBeLessThanOrEqual(96);
    }
    const carol = store.listPeople().find((p) => p.id === 'carol');
    expect(carol?.faces).toBe(data.added);
    expect(sink.events.filter((e) => e.type === 'enrolled').at(-1)).toMatchObject({ person: 'carol' });

    // A second capture adds templates to the enrolled person, keeping the first ones.
    const again = await send({ person: 'carol', name: 'Carol', seconds: 2 });
    expect(again.responses[0].status).toBe('ok');
    expect(store.listPeople().find((p) => p.id === 'carol')?.faces).toBe(
      data.added + (again.responses[0].data as { added: number }).added,
    );
  }, 60_000);

  it('refuses a capture with no face in view, with several faces, or too few usable frames', async () => {
    script = faceFrames.map((image, i) => frame(image, i + 1, []));
    const none = await send({ person: 'dave', name: 'Dave', seconds: 2 });
    expect(none.responses[0].error?.code).toBe('no_face');

    script = faceFrames.map((image, i) => frame(image, i + 1, [oneFace(), oneFace()]));
    const several = await send({ person: 'dave', name: 'Dave', seconds: 2 });
    expect(several.responses[0].error?.code).toBe('several_faces');

    script = faceFrames.map((image, i) =>
      frame(image, i + 1, [oneFace(i === 0 ? {} : { outcome: 'refused', reasons: ['too_small'] })]),
    );
    const few = await send({ person: 'dave', name: 'Dave', seconds: 2 });
    expect(few.responses[0].error?.code).toBe('too_few_frames');
    expect(store.listPeople().some((p) => p.id === 'dave')).toBe(false);
  }, 60_000);

  it('refuses seconds over the bound, an unsigned request and a replayed one', async () => {
    const long = await send({ person: 'erin', name: 'Erin', seconds: 10_000 });
    expect(long.responses[0].error?.code).toBe('invalid_payload');

    script = faceFrames.map((image, i) => frame(image, i + 1, [oneFace()]));
    const signed = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'capture_enroll',
      aud: deviceId,
      args: { person: 'erin', name: 'Erin', seconds: 1 },
    });
    // Unsigned: the claims without the signature (a JSON payload, not a JWS).
    const unsigned = await publish(JSON.stringify(signed.claims), signed.claims.transaction);
    expect(unsigned.status).toBe('error');
    expect(store.listPeople().some((p) => p.id === 'erin')).toBe(false);
    // Tampered signature.
    const parts = signed.jws.split('.');
    const forged = `${parts[0]}.${parts[1]}.${parts[2].slice(0, -4)}AAAA`;
    const bad = await publish(forged, signed.claims.transaction);
    expect(bad.error?.code).toBe('bad_signature');

    const first = await publish(signed.jws, signed.claims.transaction);
    expect(first.status).toBe('ok');
    // The same nonce under a new transaction is a replay.
    const replay = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'capture_enroll',
      aud: deviceId,
      args: { person: 'erin', name: 'Erin', seconds: 1 },
      nonce: signed.claims.nonce,
    });
    const replayed = await publish(replay.jws, replay.claims.transaction);
    expect(replayed.error?.code).toBe('replayed');
    // The same transaction again is answered from the store, nothing captured twice.
    const faces = store.listPeople().find((p) => p.id === 'erin')?.faces;
    expect(await publish(signed.jws, signed.claims.transaction)).toEqual(first);
    expect(store.listPeople().find((p) => p.id === 'erin')?.faces).toBe(faces);
  }, 60_000);

  it('refuses a second capture while one is running, and answers a re-delivery of the running one with its answer', async () => {
    script = faceFrames.map((image, i) => frame(image, i + 1, [oneFace()]));
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    const running = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'capture_enroll',
      aud: deviceId,
      args: { person: 'finn', name: 'Finn', seconds: 5 },
    });
    const first = publish(running.jws, running.claims.transaction);
    while (!capture.busy) await new Promise((r) => setTimeout(r, 10));
    const second = await send({ person: 'gus', name: 'Gus', seconds: 5 });
    expect(second.responses[0].error?.code).toBe('capture_busy');
    // The admin tool re-publishes the same request while the door is still capturing.
    const redelivered = publish(running.jws, running.claims.transaction);
    release();
    hold = Promise.resolve();
    const [a, b] = await Promise.all([first, redelivered]);
    expect(a.status).toBe('ok');
    expect(b).toEqual(a);
    expect(store.listPeople().some((p) => p.id === 'gus')).toBe(false);
  }, 60_000);

  it('with liveness on takes only frames of a track judged live, and refuses a face never judged live', async () => {
    const bounds = { seconds: 1, minTemplates: 2, maxTemplates: 3, requireLive: true };
    script = faceFrames.map((image, i) =>
      frame(image, i + 1, [
        oneFace({ liveness: { verdict: i % 2 === 0 ? 'live' : 'undecided', reasons: [] } }),
      ]),
    );
    const taken = await capture.capture(bounds);
    expect(taken.usableFrames).toBe(3);
    expect(taken.templates.map((t) => t.frame).every((f) => f % 2 === 1)).toBe(true);

    script = faceFrames.map((image, i) =>
      frame(image, i + 1, [oneFace({ liveness: { verdict: 'spoof', reasons: ['planar'] } })]),
    );
    await expect(capture.capture(bounds)).rejects.toMatchObject({ code: 'not_live' });
  }, 60_000);

  it('picks spread frames first and falls back to the others', () => {
    expect(spreadOrder(6, 3)).toEqual([0, 3, 5, 1, 2, 4]);
    expect(spreadOrder(1, 3)).toEqual([0]);
    expect(spreadOrder(0, 3)).toEqual([]);
  });

  it('spreads the templates over head yaw when every candidate has one, else over time', () => {
    // Yaw of five candidates in capture order: turned right, frontal, left, frontal, right.
    const yaws = [20, 1, -25, -2, 12];
    const byPose = poseOrder(yaws.map((yawDeg) => ({ yawDeg })));
    expect(byPose.map((i) => yaws[i])).toEqual([-25, -2, 1, 12, 20]);
    // Three templates: both extremes and the middle pose, not the first/middle/last frames.
    const picked = spreadOrder(byPose.length, 3)
      .slice(0, 3)
      .map((i) => yaws[byPose[i]]);
    expect(picked).toEqual([-25, 1, 20]);
    // One candidate without landmarks: capture order.
    expect(poseOrder([{ yawDeg: 5 }, {}, { yawDeg: -5 }])).toEqual([0, 1, 2]);
  });
});

/** Publishes a prepared payload and waits for the response with its transaction. */
function publish(
  payload: string,
  transaction: string,
): Promise<{ status: string; error?: { code: string } }> {
  const responseTopic = `${prefix}/${deviceId}/response/capture_enroll`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no response to ${transaction}`)), 30_000);
    const onMessage = (t: string, body: Buffer): void => {
      const parsed = JSON.parse(body.toString()) as { transaction: string; status: string };
      if (t !== responseTopic || parsed.transaction !== transaction) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(parsed);
    };
    client.on('message', onMessage);
    void client
      .subscribeAsync(responseTopic, { qos: 1 })
      .then(() => client.publishAsync(`${prefix}/${deviceId}/request/capture_enroll`, payload, { qos: 1 }));
  });
}
