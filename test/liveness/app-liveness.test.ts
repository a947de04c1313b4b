import { afterEach, describe, expect, it } from 'vitest';
import { GalleryStore } from '../../src/gallery/store.js';
import { silentLogger } from '../../src/util/log.js';
import { waitUntil } from '../helpers/broker.js';
import { ALICE, createFakeApp, type FakeApp } from '../helpers/fake-app.js';
import { fakeFaceFrame } from '../fakes/face.js';

/**
 * The liveness stage wired into the whole app (buildComponents, in-process, fakes for the
 * camera and the face path): an enrolled face that carries no landmarks can never be judged
 * live, so with liveness on the door stays shut and the visit is refused with
 * `liveness_undecided` once access.liveness.maxDecisionSeconds have passed.
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

describe('FacegateApp with liveness on (fakes)', () => {
  it('never opens for a face that is not judged live; refuses with liveness_undecided', async () => {
    fake = await createFakeApp({
      frames: [ALICE],
      env: { FACEGATE_LIVENESS_MODE: 'on', FACEGATE_LIVENESS_MAX_DECISION_SECONDS: '0.5' },
    });
    await fake.app.start();
    // Alice stands at the door for ~1.5 s (a frame every 50 ms).
    const timer = setInterval(() => fake?.camera.push(fakeFaceFrame(ALICE)), 50);
    try {
      await waitUntil(
        'access_denied liveness_undecided',
        () => audit(fake!.galleryPath).some((a) => a.kind === 'access_denied'),
        10_000,
        20,
      );
    } finally {
      clearInterval(timer);
    }
    const entries = audit(fake.galleryPath);
    expect(entries.map((a) => a.kind)).not.toContain('access_granted');
    const denied = entries.find((a) => a.kind === 'access_denied')!;
    expect(denied.detail).toMatchObject({
      reason: 'liveness_undecided',
      closest: { id: 'alice' },
      liveness: { verdict: 'undecided', reasons: ['no_landmarks'] },
    });
    expect(fake.app.doorState).toMatchObject({ locked: true, unlocks: 0 });
  }, 30_000);

  it('refuses to start with blink on when the eyelid model is missing, and says how to fix it', async () => {
    fake = await createFakeApp({
      frames: [ALICE],
      env: { FACEGATE_LIVENESS_MODE: 'on', FACEGATE_LIVENESS_EYE_MODEL: '/nonexistent/eyes' },
    });
    await expect(fake.app.start()).rejects.toThrow(/access\.liveness\.eyeModel.*blink to false/s);
    expect(fake.app.doorState).toMatchObject({ locked: true, unlocks: 0 });
  }, 30_000);

  it('starts without the eyelid model when blink is off (motion alone)', async () => {
    fake = await createFakeApp({
      frames: [ALICE],
      env: {
        FACEGATE_LIVENESS_MODE: 'on',
        FACEGATE_LIVENESS_BLINK: 'false',
        FACEGATE_LIVENESS_EYE_MODEL: '/nonexistent/eyes',
      },
    });
    await expect(fake.app.start()).resolves.toBeUndefined();
  }, 30_000);
});
