import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importPersonFolders } from '../../src/pipeline/gallery-maintenance.js';
import { silentLogger } from '../../src/util/log.js';
import { createGrayImage } from '../../src/vision/image.js';

describe('gallery import reads person folders like evaluate (links followed)', () => {
  let root: string;
  let elsewhere: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'facegate-import-'));
    elsewhere = await mkdtemp(path.join(os.tmpdir(), 'facegate-import-src-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });

  it('imports a person folder that is a symbolic link, and reports an empty one as failed', async () => {
    await mkdir(path.join(elsewhere, 'alice'));
    await writeFile(path.join(elsewhere, 'alice', '1.png'), 'photo-a1');
    await writeFile(path.join(elsewhere, 'alice', '2.jpg'), 'photo-a2');
    await symlink(path.join(elsewhere, 'alice'), path.join(root, 'alice'));
    await mkdir(path.join(root, 'bob'));
    await writeFile(path.join(root, 'bob', 'notes.txt'), 'not a photo');
    const seen: { id: string; photos: string[] }[] = [];
    let current: string[] = [];
    const result = await importPersonFolders(root, {
      modelId: 'm',
      logger: silentLogger(),
      enroller: {
        enrollPhotos: async (photos) => {
          current = photos.map((p) => Buffer.from(p).toString());
          return photos.map(() => ({ crop: createGrayImage(2, 2), embedding: new Float32Array(2) }));
        },
      },
      store: {
        enroll: (r) => {
          seen.push({ id: r.id, photos: current });
          return { personId: r.id, faces: r.faces.length, version: 1, updated: false };
        },
      },
    });
    expect(seen).toEqual([{ id: 'alice', photos: ['photo-a1', 'photo-a2'] }]);
    expect(result.imported).toEqual([{ personId: 'alice', faces: 2 }]);
    expect(result.failed).toEqual([{ personId: 'bob', error: 'no .png/.jpg photos in the folder' }]);
  });

  it('says so when a folder has more photos than a person may have faces (32), naming the count left out', async () => {
    await mkdir(path.join(root, 'carol'));
    for (let i = 1; i <= 40; i++) await writeFile(path.join(root, 'carol', `${i}.jpg`), `photo-${i}`);
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const logger = silentLogger();
    logger.warn = ((obj: Record<string, unknown>, msg: string) => void warnings.push({ obj, msg })) as never;
    let sent: string[] = [];
    const result = await importPersonFolders(root, {
      modelId: 'm',
      logger,
      enroller: {
        enrollPhotos: async (photos) => {
          sent = photos.map((p) => Buffer.from(p).toString());
          return photos.map(() => ({ crop: createGrayImage(2, 2), embedding: new Float32Array(2) }));
        },
      },
      store: { enroll: (r) => ({ personId: r.id, faces: r.faces.length, version: 1, updated: false }) },
    });
    expect(sent).toHaveLength(32);
    expect(sent[0]).toBe('photo-1');
    expect(sent[31]).toBe('photo-32'); // natural order: 1..32, not 1, 10, 11...
    expect(result.imported).toEqual([{ personId: 'carol', faces: 32 }]);
    expect(result.skipped).toEqual([
      {
        personId: 'carol',
        found: 40,
        used: 32,
        skippedPhotos: ['33.jpg', '34.jpg', '35.jpg', '36.jpg', '37.jpg', '38.jpg', '39.jpg', '40.jpg'],
      },
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].msg).toMatch(/only the first 32 photos.*8 left out/);
  });
});
