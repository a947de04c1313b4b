import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as evaluate } from '../../src/cli/evaluate.js';

const ROOT = path.resolve(__dirname, '../..');

describe('npm run evaluate', () => {
  let out: string;
  beforeAll(async () => {
    out = await fs.mkdtemp(path.join(os.tmpdir(), 'facegate-eval-'));
  });
  afterAll(async () => {
    await fs.rm(out, { recursive: true, force: true });
  });

  it('--model prints one JSON report and writes the ROC and demonstration PNGs', async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const code = await evaluate([
        '--data',
        path.join(ROOT, 'data/olivetti'),
        '--people',
        's36,s37,s38,s39,s40',
        '--model',
        path.join(ROOT, 'models/siamese'),
        '--out',
        out,
        '--backend',
        'wasm',
        '--json',
      ]);
      expect(code).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(writes.length).toBe(1);
    const report = JSON.parse(writes[0]);
    expect(Object.keys(report).sort()).toEqual(
      ['accuracy_at_0.5', 'auc', 'eer', 'pairs', 'people', 'rank1', 'tar_at_far'].sort(),
    );
    expect(report.people).toBe(5);
    expect(report.pairs).toBe((50 * 49) / 2);
    expect(Object.keys(report.tar_at_far).sort()).toEqual(['0.001', '0.01']);
    for (const v of [report.auc, report.eer, report.rank1, report['accuracy_at_0.5']]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    for (const f of ['roc.png', 'demo-grid.png']) {
      const meta = await sharp(path.join(out, f)).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBeGreaterThan(300);
    }
  });

  it('refuses a missing data folder with a clear error', async () => {
    await expect(
      evaluate(['--data', path.join(out, 'nope'), '--model', path.join(ROOT, 'models/siamese'), '--json']),
    ).rejects.toThrow(/does not exist/);
  });
});
