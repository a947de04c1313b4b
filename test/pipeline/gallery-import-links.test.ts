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
});
