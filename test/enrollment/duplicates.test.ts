import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerEnrollmentCommands, type EnrollmentService } from '../../src/enrollment/commands.js';
import { DEFAULT_ENROLLMENT_CONFIG } from '../../src/enrollment/config.js';
import { PhotoEnroller } from '../../src/enrollment/photo-enroller.js';
import { signRequest, type EnrollArgs } from '../../src/enrollment/protocol.js';
import type { EventBody, EventSink, FacegateEvent } from '../../src/events.js';
import { MatcherDuplicateFinder } from '../../src/gallery/duplicates.js';
import { Matcher } from '../../src/gallery/matcher.js';
import { GalleryStore } from '../../src/gallery/store.js';
import {
  loadPretrainedEmbedder,
  type PretrainedSiameseEmbedder,
} from '../../src/model/pretrained/embedder.js';
import { RequestError } from '../../src/mqtt/request-router.js';
import { GallerySync, importPersonFolders } from '../../src/pipeline/gallery-maintenance.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG, DEFAULT_QUALITY_CONFIG } from '../../src/vision/config.js';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import { createFaceCropper } from '../../src/model/face-path.js';
import type { FaceCropper } from '../../src/vision/face-cropper.js';
import { orlPhoto } from './images.js';
import { makeAdmin, type TestAdmin } from './keys-helper.js';

// Field case "same face, two ids" (../shared/field-cases/README.md): enroll
// data/demo/enroll/s36/1.png as s36, then the same photo as s38. With the daemon's parts: the
// real detector, the default model (faceapi) and its accept threshold, a SQLite gallery, the
// matcher kept in step by GallerySync, and the enrollment service verifying signed requests.

const deviceId = 'door-1';
const photo = (person: string, n: number) => readFileSync(`data/demo/enroll/${person}/${n}.png`);
/** An ORL photo as a PNG file with a plain border (test/enrollment/images.ts). */
let orlPhotos: Map<string, Buffer>;
const orlPhotoFile = (subject: number, shot: number) => orlPhotos.get(`${subject}/${shot}`)!;

class RecordingSink implements EventSink {
  readonly events: EventBody[] = [];
  emit(body: EventBody): FacegateEvent {
    this.events.push(body);
    return { ...body, id: String(this.events.length), ts: new Date().toISOString(), device: deviceId };
  }
}

let detector: StoppableFaceDetector;
let embedder: PretrainedSiameseEmbedder;
let enroller: PhotoEnroller;
let cropper: FaceCropper;
let store: GalleryStore;
let matcher: Matcher;
let sync: GallerySync;
let service: EnrollmentService;
let admin: TestAdmin;
let dir: string;
let threshold: number;
let unknownThreshold: number;
const sink = new RecordingSink();

beforeAll(async () => {
  detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  embedder = await loadPretrainedEmbedder('models/faceapi-siamese', silentLogger());
  const thresholds = (
    JSON.parse(readFileSync('models/faceapi-siamese/metrics.json', 'utf8')) as {
      thresholds: { accept: number; unknown: number };
    }
  ).thresholds;
  threshold = thresholds.accept;
  unknownThreshold = thresholds.unknown;
  cropper = await createFaceCropper(embedder.crop, 'models/landmarks/faceapi-68', silentLogger());
  enroller = new PhotoEnroller({
    detector,
    embedder,
    cropper,
    limits: DEFAULT_ENROLLMENT_CONFIG,
    rules: DEFAULT_QUALITY_CONFIG,
    logger: silentLogger(),
  });
  dir = mkdtempSync(join(tmpdir(), 'fg-duplicates-'));
  store = new GalleryStore(join(dir, 'gallery.db'), silentLogger());
  matcher = new Matcher(embedder.head, embedder.dimension);
  sync = new GallerySync(store, matcher, embedder.modelId, silentLogger());
  sync.reload();
  admin = await makeAdmin();
  orlPhotos = new Map([['5/1', await orlPhoto(5, 1)]]);
  service = await registerEnrollmentCommands(
    { register: () => undefined },
    {
      deviceId,
      config: DEFAULT_ENROLLMENT_CONFIG,
      trustedKeys: admin.trusted,
      enroller,
      modelId: embedder.modelId,
      store,
      events: sink,
      duplicates: new MatcherDuplicateFinder(
        matcher,
        embedder.head,
        { accept: () => threshold, unknown: () => unknownThreshold },
        () => void sync.refreshIfChanged(),
      ),
      onGalleryChanged: () => void sync.refreshIfChanged(),
      clock: systemClock,
      logger: silentLogger(),
    },
  );
}, 60_000);

afterAll(async () => {
  store?.close();
  cropper?.dispose();
  embedder?.dispose();
  await detector?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function enroll(person: string, photos: Buffer[], extra: Partial<EnrollArgs> = {}) {
  const req = await signRequest(admin.admin.privateKey, admin.admin.kid, {
    cmd: 'enroll',
    aud: deviceId,
    args: { person, name: `Person ${person}`, images: photos.map((p) => p.toString('base64')), ...extra },
  });
  const outcome = await service
    .handle('enroll', Buffer.from(req.jws), `facegate/${deviceId}/request/enroll`)
    .then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({ ok: false as const, error: error as RequestError }),
    );
  return { ...outcome, transaction: req.claims.transaction };
}

describe('field case "same face, two ids": duplicate_face', () => {
  it('enrolls s36, then refuses the same photo as s38, naming s36, and changes nothing', async () => {
    expect((await enroll('s36', [photo('s36', 1)])).ok).toBe(true);
    const version = store.version();
    const second = await enroll('s38', [photo('s36', 1)]);
    expect(second.ok).toBe(false);
    if (second.ok) return;
    expect(second.error).toBeInstanceOf(RequestError);
    expect(second.error.code).toBe('duplicate_face');
    expect(second.error.message).toMatch(/already enrolled as s36 \(Person s36\)/);
    expect(second.error.hint).toMatch(/--allow-duplicate/);
    expect(second.error.details).toMatchObject({ duplicateOf: { person: 's36', name: 'Person s36' } });
    expect(store.version()).toBe(version);
    expect(store.listPeople().map((p) => p.id)).toEqual(['s36']);
    expect(sink.events.at(-1)).toMatchObject({
      type: 'rejected_request',
      code: 'duplicate_face',
      verified: true,
    });
  });

  it('refuses another photo of the same face under a new id too (the rule is about the face, not the file)', async () => {
    const other = await enroll('s38', [photo('s36', 2), photo('s36', 3)]);
    expect(!other.ok && other.error.code).toBe('duplicate_face');
  });

  it('keeps the real s36 recognised with a clear margin (no second id to share the face with)', async () => {
    const [probe] = await enroller.enrollPhotos([photo('s36', 3)]);
    const result = matcher.match(probe.embedding)!;
    expect(result.best.personId).toBe('s36');
    expect(result.best.similarity).toBeGreaterThanOrEqual(threshold);
    expect(result.runnerUp).toBeNull();
  });

  it('enrolls a different person, and re-enrolls s36 under its own id, without a duplicate refusal', async () => {
    expect((await enroll('s37', [photo('s37', 1)])).ok).toBe(true);
    const again = await enroll('s36', [photo('s36', 1), photo('s36', 2)]);
    expect(again.ok).toBe(true);
    expect(store.getPerson('s36')?.faces).toBe(2);
  });

  it('enrolls a look-alike on the signed allowDuplicate override: logged in the event and audited', async () => {
    const twin = await enroll('s38', [photo('s36', 1)], { allowDuplicate: true });
    expect(twin.ok).toBe(true);
    expect(store.getPerson('s38')?.faces).toBe(1);
    expect(sink.events.at(-1)).toMatchObject({
      type: 'enrolled',
      person: 's38',
      duplicateOf: { person: 's36' },
    });
    const audit = store.listAudit(10).find((a) => a.kind === 'duplicate_allowed');
    expect(audit?.detail).toMatchObject({
      personId: 's38',
      duplicateOf: { person: 's36' },
      transaction: twin.transaction,
      kid: admin.admin.kid,
    });
  });

  it('refuses an enrollment whose photos are of two people (inconsistent_faces), naming the odd photo', async () => {
    const mixed = await enroll('s39', [photo('s37', 2), photo('s37', 3), orlPhotoFile(5, 1)]);
    expect(mixed.ok).toBe(false);
    if (mixed.ok) return;
    expect(mixed.error.code).toBe('inconsistent_faces');
    expect(mixed.error.message).toMatch(/^photo 3 of 3 does not look like the other photos/);
    expect(mixed.error.details).toMatchObject({ photo: 3, threshold: expect.closeTo(unknownThreshold, 3) });
    expect(mixed.error.hint).toMatch(/same person/);
    expect(store.getPerson('s39')).toBeUndefined();
  });

  it('refuses a non-boolean allowDuplicate as invalid_payload', async () => {
    const bad = await enroll('s39', [photo('s37', 2)], { allowDuplicate: 'yes' as unknown as boolean });
    expect(!bad.ok && bad.error.code).toBe('invalid_payload');
  });
});

describe('addTemplates (walk-up enrollment adds faces from the door camera)', () => {
  const walkUp = { transaction: 'walk-up-1', kid: 'test-kid' };
  it('adds templates to an enrolled person, keeping the name and earlier faces; the matcher scores the best one', async () => {
    const before = store.getPerson('s37')!;
    const faces = await enroller.enrollPhotos([photo('s37', 2), photo('s37', 3)]);
    const result = await service.addTemplates('s37', faces, walkUp);
    expect(result).toMatchObject({ personId: 's37', name: before.name, faces: before.faces + 2 });
    expect(matcher.match(faces[1].embedding)!.best).toMatchObject({ personId: 's37', distance: 0 });
    expect(sink.events.at(-1)).toMatchObject({ type: 'enrolled', person: 's37', added: 2, ...walkUp });
  });

  it("refuses someone else's face as a new template (duplicate_face) and an unknown person", async () => {
    const [s36face] = await enroller.enrollPhotos([photo('s36', 3)]);
    const faces = store.getPerson('s37')!.faces;
    await expect(service.addTemplates('s37', [s36face], walkUp)).rejects.toMatchObject({
      code: 'duplicate_face',
    });
    expect(store.getPerson('s37')!.faces).toBe(faces);
    await expect(service.addTemplates('nobody', [s36face], walkUp)).rejects.toMatchObject({
      code: 'unknown_person',
    });
    // A face of nobody enrolled is not s37 either.
    const [stranger] = await enroller.enrollPhotos([orlPhotoFile(5, 1)]);
    await expect(service.addTemplates('s37', [stranger], walkUp)).rejects.toMatchObject({
      code: 'inconsistent_faces',
    });
    expect(store.getPerson('s37')!.faces).toBe(faces);
  });
});

describe('gallery import (bootstrap and `facegate gallery import`) applies the same rule', () => {
  it('imports s36 and s37, and fails a folder holding s36 under another id, naming s36', async () => {
    const root = join(dir, 'import');
    for (const [folder, source] of [
      ['s36', 's36/1.png'],
      ['s37', 's37/1.png'],
      ['zz-copy', 's36/2.png'],
    ]) {
      mkdirSync(join(root, folder), { recursive: true });
      copyFileSync(`data/demo/enroll/${source}`, join(root, folder, '1.png'));
    }
    // Two people in one person's folder.
    mkdirSync(join(root, 'mixed'));
    copyFileSync('data/demo/enroll/s37/3.png', join(root, 'mixed', '1.png'));
    writeFileSync(join(root, 'mixed', '2.png'), orlPhotoFile(5, 1));
    const importStore = new GalleryStore(join(dir, 'import.db'), silentLogger());
    try {
      const importMatcher = new Matcher(embedder.head, embedder.dimension);
      const importSync = new GallerySync(importStore, importMatcher, embedder.modelId, silentLogger());
      importSync.reload();
      const result = await importPersonFolders(root, {
        enroller,
        store: importStore,
        modelId: embedder.modelId,
        logger: silentLogger(),
        duplicates: new MatcherDuplicateFinder(
          importMatcher,
          embedder.head,
          { accept: () => threshold, unknown: () => unknownThreshold },
          () => void importSync.refreshIfChanged(),
        ),
      });
      expect(result.imported.map((p) => p.personId)).toEqual(['s36', 's37']);
      expect(result.failed).toEqual([
        {
          personId: 'mixed',
          error: expect.stringMatching(
            /^inconsistent_faces: the two photos do not look like the same person/,
          ),
        },
        { personId: 'zz-copy', error: expect.stringMatching(/^duplicate_face: .*already enrolled as s36/) },
      ]);
      expect(importStore.listPeople().map((p) => p.id)).toEqual(['s36', 's37']);
    } finally {
      importStore.close();
    }
  });
});
