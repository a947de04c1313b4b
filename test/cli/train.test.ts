import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as train } from '../../src/cli/train.js';

const OLIVETTI = path.resolve(__dirname, '../../data/olivetti');

describe('npm run train', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'facegate-train-cli-'));
    for (const person of ['s01', 's02', 's03', 's04', 's05']) {
      await fs.mkdir(path.join(root, 'data', person), { recursive: true });
      for (const k of [1, 2, 3])
        await fs.copyFile(
          path.join(OLIVETTI, person, `${k}.pgm`),
          path.join(root, 'data', person, `${k}.pgm`),
        );
    }
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('trains, writes the model folder and reports where', async () => {
    const out = path.join(root, 'model');
    const stdout: string[] = [];
    const spyOut = vi
      .spyOn(process.stdout, 'write')
      .mockImplementation((c: string | Uint8Array) => (stdout.push(String(c)), true));
    const spyErr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await train([
        '--data',
        path.join(root, 'data'),
        '--out',
        out,
        '--epochs',
        '1',
        '--seed',
        '3',
        '--hold-out',
        's05',
        '--val-people',
        '2',
        '--filters',
        '2,2,4',
        '--batch-size',
        '8',
        '--backend',
        'wasm',
        '--quiet',
      ]);
      expect(code).toBe(0);
    } finally {
      spyOut.mockRestore();
      spyErr.mockRestore();
    }
    expect(stdout.join('')).toMatch(/model written to .*model \(2 people/);
    const metrics = JSON.parse(await fs.readFile(path.join(out, 'metrics.json'), 'utf8'));
    expect(metrics.heldOutPeople).toEqual(['s05']);
    expect(metrics.seed).toBe(3);
    expect(metrics.backend).toBe('wasm');
    expect(metrics.options.sister.filters).toEqual([2, 2, 4]);
    expect(metrics.gitCommit === null || /^[0-9a-f]{40}$/.test(metrics.gitCommit)).toBe(true);
  });

  it('rejects bad options with clear errors', async () => {
    const data = path.join(root, 'data');
    await expect(train(['--data', data, '--out', path.join(root, 'x'), '--filters', '1,2'])).rejects.toThrow(
      /three positive integers/,
    );
    await expect(
      train(['--data', data, '--out', path.join(root, 'x'), '--pairs', 'triplets']),
    ).rejects.toThrow(/writeup or batch-all/);
    await expect(
      train([
        '--data',
        data,
        '--out',
        path.join(root, 'x'),
        '--hold-out',
        'nobody',
        '--backend',
        'wasm',
        '--quiet',
      ]),
    ).rejects.toThrow(/no person folder nobody/);
  });
});
