import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ResultCache,
  runComparison,
  type ComparedPipeline,
  type DecodedPhoto,
} from '../../src/training/compared-pipelines.js';

/** A pipeline that embeds a photo as its mean brightness and counts its calls. */
function fake(name: string, cacheKey?: string): ComparedPipeline & { calls: number } {
  const p = {
    name,
    description: name,
    wantsColour: false,
    accept: null,
    similarity: (a: Float32Array, b: Float32Array) => -Math.abs(a[0] - b[0]),
    ...(cacheKey ? { cacheKey } : {}),
    calls: 0,
    async face(photo: DecodedPhoto) {
      p.calls++;
      const mean = photo.gray.data.reduce((s, v) => s + v, 0) / photo.gray.data.length;
      // "no face" in the darkest photo
      return mean < 20 ? null : { embedding: Float32Array.of(mean) };
    },
  };
  return p;
}

describe('runComparison', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'facegate-compare-'));
    const shades: Record<string, number[]> = { anna: [10, 60], ben: [200, 210] };
    for (const [person, values] of Object.entries(shades)) {
      await mkdir(path.join(root, person));
      for (const [i, v] of values.entries())
        await writeFile(
          path.join(root, person, `${i + 1}.png`),
          await sharp(Buffer.alloc(16 * 16, v), { raw: { width: 16, height: 16, channels: 1 } })
            .png()
            .toBuffer(),
        );
    }
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('runs every pipeline on every photo, warms each up once, and records misses as null', async () => {
    const a = fake('a');
    const b = fake('b');
    const { photos, people } = await runComparison(root, [a, b], { kind: 'photo' });
    expect(people).toEqual(['anna', 'ben']);
    expect(photos.map((p) => p.file)).toEqual(['anna/1.png', 'anna/2.png', 'ben/1.png', 'ben/2.png']);
    expect(photos[0].results.a).toBeNull();
    expect(photos[1].results.b?.embedding[0]).toBe(60);
    expect(photos[1].results.b?.ms).toBeGreaterThanOrEqual(0);
    expect(a.calls).toBe(5);
    const limited = await runComparison(root, [fake('a')], { kind: 'photo', perPerson: 1 });
    expect(limited.photos).toHaveLength(2);
  });

  it('reuses cached results of cacheable pipelines by photo content, and re-runs the others', async () => {
    const file = path.join(root, '..', `${path.basename(root)}-cache.json`);
    try {
      const cache = await ResultCache.open(file);
      const peer = fake('peer', 'peer-v1');
      await runComparison(root, [fake('facegate'), peer], { kind: 'photo', cache });
      await cache.save();
      expect(peer.calls).toBe(5);
      const again = fake('peer', 'peer-v1');
      const facegate = fake('facegate');
      const reopened = await ResultCache.open(file);
      const second = await runComparison(root, [facegate, again], { kind: 'photo', cache: reopened });
      expect(again.calls).toBe(0);
      expect(facegate.calls).toBe(5);
      expect(second.photos[0].results.peer).toBeNull();
      expect(second.photos[3].results.peer?.embedding[0]).toBe(210);
      // Another key (other weights/options) is not served from the cache.
      const other = fake('peer', 'peer-v2');
      await runComparison(root, [other], { kind: 'photo', cache: reopened });
      expect(other.calls).toBe(5);
    } finally {
      await rm(file, { force: true });
    }
  });

  it('refuses duplicate pipeline names and a foreign cache file', async () => {
    await expect(runComparison(root, [fake('a'), fake('a')], { kind: 'photo' })).rejects.toThrow(
      /given twice/,
    );
    const bad = path.join(root, 'bad.json');
    await writeFile(bad, '{"hello":1}');
    await expect(ResultCache.open(bad)).rejects.toThrow(/is not a facegate-evaluate-cache-v1 file/);
  });
});
