import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../src/enrollment/protocol.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { resolveBaseTopic } from '../../src/mqtt/topics.js';
import { silentLogger } from '../../src/util/log.js';
import { makeAdmin, type TestAdmin } from '../enrollment/keys-helper.js';
import { createFakeApp, recordingLogger, STRANGER, type FakeApp } from '../helpers/fake-app.js';
import { fakeFaceFrame } from '../fakes/face.js';
import { Observer, uniqueId, waitUntil } from '../mqtt/helpers.js';

/**
 * capture_enroll through the whole app in-process (fakes for the camera, face path and
 * GPIO; the real Mosquitto): the walk-up capture sees the live loop's frames beside the
 * live view (FrameObservers), enrolls through the app's PhotoEnroller into the real
 * gallery (nothing stored when it refuses).
 */
const BROKER = 'mqtt://127.0.0.1:1883';
let admin: TestAdmin;
let fake: FakeApp | null = null;
let observer: Observer | null = null;

beforeAll(async () => {
  admin = await makeAdmin();
});
afterEach(async () => {
  await fake?.dispose();
  fake = null;
  await observer?.close().catch(() => undefined);
  observer = null;
});

async function startApp() {
  const rec = recordingLogger();
  fake = await createFakeApp({
    mqtt: true,
    logger: rec.logger,
    env: { FACEGATE_MQTT_URL: BROKER, FACEGATE_LIVE_VIEW_ENABLED: 'true' },
    configure: (c) => {
      const keyFile = join(c.device.stateDir, 'admin.pub.pem');
      writeFileSync(keyFile, admin.publicPem);
      return { ...c, enrollment: { ...c.enrollment, trustedKeys: [keyFile] } };
    },
  });
  const base = resolveBaseTopic('', fake.config.device.id);
  observer = await Observer.connect(BROKER, [`${base}/response/capture_enroll`], uniqueId('admin'));
  await fake.app.start();
  await waitUntil('the door connected', () => rec.has('mqtt connected'), 10_000);
  return { base, deviceId: fake.config.device.id };
}

/** Sends a capture and feeds the camera `level` frames until the door answers. */
async function capture(base: string, deviceId: string, level: number | null, person: string) {
  const req = await signRequest(admin.admin.privateKey, admin.admin.kid, {
    cmd: 'capture_enroll',
    aud: deviceId,
    args: { person, name: person.toUpperCase(), seconds: 1 },
  });
  await observer!.publish(`${base}/request/capture_enroll`, req.jws);
  const topic = `${base}/response/capture_enroll`;
  const answered = () =>
    observer!.on(topic).some((m) => JSON.parse(m.text).transaction === req.claims.transaction);
  while (!answered()) {
    fake!.camera.push(fakeFaceFrame(level));
    await new Promise((r) => setTimeout(r, 40));
  }
  return JSON.parse(
    observer!.on(topic).find((m) => JSON.parse(m.text).transaction === req.claims.transaction)!.text,
  );
}

describe('capture_enroll on the in-process app', () => {
  it('captures from the live loop beside the live view: refuses an empty view, takes a face in view to the gallery', async () => {
    const { base, deviceId } = await startApp();
    const empty = await capture(base, deviceId, null, 'nobody');
    expect(empty.error?.code).toBe('no_face');

    // A face in view: the capture takes the loop's frames and enrolls them through the app's
    // own PhotoEnroller into the real gallery. The fake embedder's crops are 8x8 px, which
    // the gallery refuses to store (64..512): that refusal is the proof the frames got all
    // the way there. Real crops, templates and thumbnails: test/enrollment/walkup.test.ts.
    const answer = await capture(base, deviceId, STRANGER, 'carol');
    expect(answer.error?.code).toBe('invalid_payload');
    expect(answer.error?.message).toMatch(/crop must be 64\.\.512 pixels/);
    await fake!.app.stop('test over');
    const store = new GalleryStore(fake!.galleryPath, silentLogger());
    try {
      expect(store.listPeople().map((p) => p.id)).toEqual(['alice', 'bob']);
    } finally {
      store.close();
    }
  }, 60_000);
});
