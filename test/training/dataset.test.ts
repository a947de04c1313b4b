import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeGrayFile, loadFaceDataset, subsetByPeople } from '../../src/training/dataset.js';
import { decodePgm } from '../../src/training/pgm.js';
import { createGrayImage } from '../../src/vision/image.js';
import { DEFAULT_PREPROCESS, preprocessFace } from '../../src/vision/preprocess.js';

const OLIVETTI = path.resolve(__dirname, '../../data/olivetti');

describe('PGM decoding', () => {
  it('reads binary P5 and ASCII P2 with comments, and scales 16-bit', () => {
    const p5 = new Uint8Array([...Buffer.from('P5\n# c\n2 2\n255\n'), 0, 100, 200, 255]);
    expect(Array.from(decodePgm(p5).data)).toEqual([0, 100, 200, 255]);
    const p2 = Buffer.from('P2 3 1 15\n0 15 # x\n 5\n');
    expect(Array.from(decodePgm(p2).data)).toEqual([0, 255, 85]);
    const p16 = new Uint8Array([...Buffer.from('P5 1 1 65535\n'), 0xff, 0xff]);
    expect(Array.from(decodePgm(p16).data)).toEqual([255]);
  });

  it('refuses garbage and truncation with the file name', () => {
    expect(() => decodePgm(Buffer.from('P6 1 1 255\n\0\0\0'), 'x.pgm')).toThrow(/x.pgm: not a PGM/);
    expect(() => decodePgm(Buffer.from('P5 4 4 255\n\0\0'), 'y.pgm')).toThrow(
      /y.pgm: PGM pixel data truncated/,
    );
    expect(() => decodePgm(Buffer.from('P5 4'), 'z.pgm')).toThrow(/truncated PGM header/);
  });
});

describe('person-folder dataset loader', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'facegate-ds-'));
    await fs.mkdir(path.join(root, 'alice'));
    await fs.mkdir(path.join(root, 'bob'));
    await fs.mkdir(path.join(root, 'carol10'));
    await fs.mkdir(path.join(root, 'carol2'));
    await fs.copyFile(path.join(OLIVETTI, 's01/1.pgm'), path.join(root, 'alice/1.pgm'));
    const gray = createGrayImage(
      80,
      100,
      Uint8Array.from({ length: 8000 }, (_, i) => (i * 7) % 256),
    );
    const raw = { raw: { width: 80, height: 100, channels: 1 as const } };
    await sharp(Buffer.from(gray.data), raw).png().toFile(path.join(root, 'alice/2.png'));
    await sharp(Buffer.from(gray.data), raw)
      .toColourspace('srgb')
      .jpeg({ quality: 95 })
      .toFile(path.join(root, 'bob/1.JPG'));
    await fs.writeFile(path.join(root, 'bob/notes.txt'), 'ignored');
    await fs.writeFile(path.join(root, 'README.md'), 'ignored');
    await fs.copyFile(path.join(OLIVETTI, 's02/1.pgm'), path.join(root, 'carol10/1.pgm'));
    await fs.copyFile(path.join(OLIVETTI, 's03/1.pgm'), path.join(root, 'carol2/1.pgm'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('loads PGM/PNG/JPEG through preprocessFace, people in natural order', async () => {
    const ds = await loadFaceDataset(root);
    expect(ds.people).toEqual(['alice', 'bob', 'carol2', 'carol10']);
    expect(ds.faces.map((f) => `${f.person}/${path.basename(f.file)}`)).toEqual([
      'alice/1.pgm',
      'alice/2.png',
      'bob/1.JPG',
      'carol2/1.pgm',
      'carol10/1.pgm',
    ]);
    expect(ds.faces.map((f) => f.label)).toEqual([0, 0, 1, 2, 3]);
    for (const f of ds.faces) {
      expect([f.image.width, f.image.height]).toEqual([64, 64]);
      const expected = preprocessFace(await decodeGrayFile(f.file), null, DEFAULT_PREPROCESS);
      expect(Buffer.from(f.image.data).equals(Buffer.from(expected.data))).toBe(true);
    }
    // A 1-channel PNG must decode as 1 channel with the original pixels.
    const png = await decodeGrayFile(path.join(root, 'alice/2.png'));
    expect([png.width, png.height]).toEqual([80, 100]);
    expect(png.data[3]).toBe(21);
  });

  it('include/exclude select people and unknown names are errors', async () => {
    const ds = await loadFaceDataset(root, { exclude: ['bob'] });
    expect(ds.people).toEqual(['alice', 'carol2', 'carol10']);
    await expect(loadFaceDataset(root, { exclude: ['dave'] })).rejects.toThrow(/no person folder dave/);
    const only = await loadFaceDataset(root, { include: ['bob', 'alice'] });
    expect(only.people).toEqual(['alice', 'bob']);
    const sub = subsetByPeople(ds, ['carol10']);
    expect(sub.faces.map((f) => f.label)).toEqual([0]);
  });

  it('gives clear errors for missing folders, empty people and broken images', async () => {
    await expect(loadFaceDataset(path.join(root, 'nope'))).rejects.toThrow(/does not exist/);
    const bad = await fs.mkdtemp(path.join(os.tmpdir(), 'facegate-bad-'));
    await fs.mkdir(path.join(bad, 'empty'));
    await expect(loadFaceDataset(bad)).rejects.toThrow(/empty has no PGM\/PNG\/JPEG images/);
    await fs.writeFile(path.join(bad, 'empty/1.png'), 'not a png');
    await expect(loadFaceDataset(bad)).rejects.toThrow(/cannot decode image .*1\.png/);
    await fs.rm(bad, { recursive: true, force: true });
  });

  it('loads the bundled Olivetti faces: 40 people x 10', async () => {
    const ds = await loadFaceDataset(OLIVETTI, { include: ['s01', 's40'] });
    expect(ds.faces.length).toBe(20);
  });
});
