import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main as evaluate } from '../../src/cli/evaluate.js';
import type { ComparisonReport, PipelineFigures } from '../../src/training/comparison.js';
import { describeWithShared, sharedDataPath } from '../helpers/shared-data.js';

const ROOT = path.resolve(__dirname, '../..');
const MODEL = path.join(ROOT, 'models/faceapi-siamese');

type Report = ComparisonReport & { pipelines_run: Record<string, string>; machine: Record<string, unknown> };

/** Runs `evaluate` and returns its one JSON line. */
async function runJson(args: string[]): Promise<Report> {
  const writes: string[] = [];
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await evaluate([...args, '--backend', 'wasm', '--json'])).toBe(0);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  expect(writes).toHaveLength(1);
  return JSON.parse(writes[0]) as Report;
}

/** The figures every run must have, whatever the machine: counts add up, rates are rates. */
function expectSane(f: PipelineFigures, photos: number): void {
  expect(f.photos).toBe(photos);
  expect(f.faces_found).toBeGreaterThanOrEqual(0);
  expect(f.faces_found).toBeLessThanOrEqual(photos);
  for (const v of [f.eer, f.tar_at_far['0.01'], f.tar_at_far['0.001'], f.rank1, f.rank1_all_photos, f.auc])
    if (v !== null) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  if (f.eer !== null) expect(f.eer).toBeLessThanOrEqual(0.5);
  if (f.faces_found > 0) expect(f.ms_per_face?.median).toBeGreaterThan(0);
}

describe('npm run evaluate -- --peer faceapi', () => {
  it('prints facegate and face-api.js on the same ORL s36-s40 photos (--detect) with sane figures', async () => {
    const r = await runJson([
      '--data',
      path.join(ROOT, 'data/orl_faces'),
      '--people',
      's36,s37,s38,s39,s40',
      '--per-person',
      '4',
      '--model',
      MODEL,
      '--detect',
      '--peer',
      'faceapi',
    ]);
    expect(r.kind).toBe('photo');
    expect(r.people).toBe(5);
    expect(r.photos).toBe(20);
    expect(Object.keys(r.pipelines)).toEqual(['facegate', 'faceapi']);
    expect(r.pipelines_run.faceapi).toMatch(/SSD MobileNet/);
    expect(r.machine.tfjs_backend).toBe('wasm');
    for (const f of Object.values(r.pipelines)) expectSane(f, 20);
    // Both find faces in these portraits (Haar; SSD with its padded retry) and tell the five
    // people apart: an EER must exist for both, and stay far from chance.
    for (const name of ['facegate', 'faceapi']) {
      const f = r.pipelines[name];
      expect(f.faces_found).toBeGreaterThanOrEqual(15);
      expect(f.eer).not.toBeNull();
      expect(f.eer as number).toBeLessThan(0.25);
      expect(f.rank1 as number).toBeGreaterThan(0.5);
    }
    expect(r.pipelines.facegate.aligned).toBeDefined();
    expect(r.pipelines.faceapi.padded).toBeDefined();
    // The common photos are those both found: never more than either found.
    const common = r.common.photos;
    expect(common).toBeLessThanOrEqual(
      Math.min(r.pipelines.facegate.faces_found, r.pipelines.faceapi.faces_found),
    );
    for (const f of Object.values(r.common.pipelines)) expect(f.faces_found).toBe(common);
  }, 600_000);

  it('refuses an unknown peer and --peer without --model', async () => {
    await expect(
      evaluate(['--data', path.join(ROOT, 'data/orl_faces'), '--model', MODEL, '--peer', 'dlib']),
    ).rejects.toThrow(/unknown --peer dlib/);
    await expect(
      evaluate(['--data', path.join(ROOT, 'data/orl_faces'), '--peer', 'faceapi']),
    ).rejects.toThrow(/--peer needs --model/);
  });
});

describeWithShared(['data', 'realfaces-dev'], 'evaluate --peer on realfaces-dev (shared data)', () => {
  it('runs facegate, face-api.js gray and colour on real photos; misses are counted, not dropped', async () => {
    const people = ['will_smith', 'mel_gibson', 'chris_pratt'];
    const r = await runJson([
      '--data',
      sharedDataPath('data', 'realfaces-dev'),
      '--people',
      people.join(','),
      '--per-person',
      '3',
      '--model',
      MODEL,
      '--detect',
      '--peer',
      'faceapi,faceapi-colour',
    ]);
    expect(r.photos).toBe(9);
    expect(Object.keys(r.pipelines)).toEqual(['facegate', 'faceapi', 'faceapi-colour']);
    for (const f of Object.values(r.pipelines)) expectSane(f, 9);
    // Real photos of three clearly different people: each pipeline finds most faces.
    for (const f of Object.values(r.pipelines)) expect(f.faces_found).toBeGreaterThanOrEqual(5);
    expect(r.common.photos).toBeLessThanOrEqual(9);
  }, 600_000);
});
