import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFacegate } from '../e2e/harness.js';

describe('facegate command (child process)', () => {
  it('exits 78 on a bad configuration, naming every problem at once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'facegate-main-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ door: { pulseMs: 5 }, camera: { fps: -1 }, bogus: 1 }));
    const r = await runFacegate(['--config', file]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('3 problems');
    expect(r.stderr).toContain('door.pulseMs');
    expect(r.stderr).toContain('camera.fps');
    expect(r.stderr).toContain("'bogus'");
  });

  it('exits 2 on a usage error and 0 for --version', async () => {
    const usage = await runFacegate(['gallery', 'frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown command 'frobnicate'");
    const version = await runFacegate(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('gallery list on a fresh database prints an empty gallery as JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-main-'));
    const r = await runFacegate(['gallery', 'list'], { FACEGATE_GALLERY_PATH: join(dir, 'g.db') });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ count: 0, faces: 0, version: 0, people: [] });
  });
});
