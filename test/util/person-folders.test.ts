import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFaceDataset } from '../../src/training/dataset.js';
import { readPersonFolders } from '../../src/util/person-folders.js';

const ROOT = path.resolve(__dirname, '../..');

describe('readPersonFolders', () => {
  let root: string;
  let elsewhere: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'facegate-folders-'));
    elsewhere = await mkdtemp(path.join(os.tmpdir(), 'facegate-folders-src-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });

  async function touch(file: string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, 'x');
  }

  it('follows linked person folders and linked photos, in natural order', async () => {
    await touch(path.join(root, 's10', '2.png'));
    await touch(path.join(root, 's10', '10.PNG'));
    await touch(path.join(root, 's10', '1.jpg'));
    await touch(path.join(root, 's10', 'notes.txt'));
    await touch(path.join(root, 's10', '.hidden.png'));
    await touch(path.join(elsewhere, 'alice', 'a.jpg'));
    await symlink(path.join(elsewhere, 'alice'), path.join(root, 's2'));
    await touch(path.join(elsewhere, 'bob.png'));
    await mkdir(path.join(root, 's3'));
    await symlink(path.join(elsewhere, 'bob.png'), path.join(root, 's3', 'linked.png'));
    await touch(path.join(root, 'README.md'));
    const folders = await readPersonFolders(root, { extensions: ['.png', '.jpg'] });
    expect(folders.map((f) => f.person)).toEqual(['s2', 's3', 's10']);
    expect(folders[0].files).toEqual([path.join(root, 's2', 'a.jpg')]);
    expect(folders[1].files).toEqual([path.join(root, 's3', 'linked.png')]);
    expect(folders[2].files.map((f) => path.basename(f))).toEqual(['1.jpg', '2.png', '10.PNG']);
  });

  it('keeps an empty person folder (files: []) and applies include/exclude', async () => {
    await mkdir(path.join(root, 'empty'), { recursive: true });
    await touch(path.join(root, 'p1', '1.png'));
    await touch(path.join(root, 'p2', '1.png'));
    const all = await readPersonFolders(root, { extensions: ['.png'] });
    expect(all.find((f) => f.person === 'empty')?.files).toEqual([]);
    const some = await readPersonFolders(root, {
      extensions: ['.png'],
      include: ['p1', 'p2'],
      exclude: ['p2'],
    });
    expect(some.map((f) => f.person)).toEqual(['p1']);
    await expect(readPersonFolders(root, { extensions: ['.png'], include: ['nobody'] })).rejects.toThrow(
      /include: no person folder nobody/,
    );
  });

  it('names a broken link and a missing root', async () => {
    await symlink(path.join(elsewhere, 'gone'), path.join(root, 'ghost'));
    await expect(readPersonFolders(root, { extensions: ['.png'] })).rejects.toThrow(
      /ghost is a broken symbolic link/,
    );
    await expect(readPersonFolders(path.join(root, 'nope'), { extensions: ['.png'] })).rejects.toThrow(
      /does not exist or is not a folder/,
    );
  });

  it('evaluate/training data loading takes linked person folders (issue #15.6)', async () => {
    for (const p of ['s36', 's37']) await symlink(path.join(ROOT, 'data/olivetti', p), path.join(root, p));
    const set = await loadFaceDataset(root);
    expect(set.people).toEqual(['s36', 's37']);
    expect(set.faces.length).toBe(20);
  });
});
