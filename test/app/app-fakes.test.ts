import { afterEach, describe, expect, it } from 'vitest';
import { GalleryStore } from '../../src/gallery/store.js';
import { silentLogger } from '../../src/util/log.js';
import { waitUntil } from '../helpers/broker.js';
import { ALICE, createFakeApp, STRANGER, type FakeApp } from '../helpers/fake-app.js';

/**
 * The whole app in-process, built through buildComponents with fakes for the camera,
 * face path and relay: no child process, no model, no broker. Recognition still goes
 * through the real quality gate, preprocessing, matcher, access policy, door, outbox and
 * audit log.
 */
let fake: FakeApp | null = null;
afterEach(async () => {
  await fake?.dispose();
  fake = null;
});

function audit(path: string) {
  const store = new GalleryStore(path, silentLogger());
  try {
    return store.listAudit(1000).reverse();
  } finally {
    store.close();
  }
}

describe('FacegateApp with fakes (in-process)', () => {
  it('opens the door for an enrolled face within a few frames, and records it', async () => {
    fake = await createFakeApp({ frames: [null, ALICE, ALICE, ALICE, ALICE, null] });
    const t0 = performance.now();
    await fake.app.start();
    expect(fake.camera.started).toBe(true);
    await waitUntil('a grant', () => (fake!.app.doorState?.unlocks ?? 0) > 0, 5000, 2);
    const ms = performance.now() - t0;
    expect(fake.app.doorState).toMatchObject({ locked: false, unlocks: 1 });
    expect(fake.relay.unlocked).toBe(true);
    // Reported, not asserted (no wall-clock assertions): start + grant time on this machine.
    console.info(`in-process start to grant: ${ms.toFixed(0)} ms, ${fake.camera.delivered} frames`);

    await fake.app.stop('test over');
    expect(fake.relay.unlocked).toBe(false);
    expect(fake.detector.stopped).toBe(true);
    expect(fake.embedder.disposed).toBe(true);
    expect(fake.camera.stopped).toBe(true);
    const granted = audit(fake.galleryPath).filter((a) => a.kind === 'access_granted');
    expect(granted).toHaveLength(1);
    expect(granted[0].detail).toMatchObject({ type: 'access_granted', person: { id: 'alice' } });
  });

  it('keeps the door shut for a stranger and reports the unknown face', async () => {
    fake = await createFakeApp({ frames: Array(8).fill(STRANGER) });
    await fake.app.start();
    await waitUntil('all frames', () => fake!.camera.delivered === 8, 5000, 2);
    await fake.app.stop('test over');
    expect(fake.app.doorState).toMatchObject({ locked: true, unlocks: 0 });
    const kinds = audit(fake.galleryPath).map((a) => a.kind);
    expect(kinds).toContain('unknown_face');
    expect(kinds).not.toContain('access_granted');
  });

  it('a start-up failure leaves the relay locked and stop() releases what had started', async () => {
    fake = await createFakeApp({ frames: [] });
    const camera = fake.camera;
    camera.start = () => Promise.reject(new Error('no camera'));
    await expect(fake.app.start()).rejects.toThrow('no camera');
    expect(fake.relay.unlocked).toBe(false);
    await fake.app.stop('start failed');
    expect(fake.detector.stopped).toBe(true);
    expect(fake.embedder.disposed).toBe(true);
    expect(fake.app.doorState).toMatchObject({ locked: true });
  });
});
