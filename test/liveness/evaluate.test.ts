import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLivenessEvaluation } from '../../src/cli/evaluate-liveness.js';
import type { LivenessReport } from '../../src/liveness/evaluate-run.js';
import { describeWithShared, sharedDataPath } from '../helpers/shared-data.js';
import { writeLivenessFixture } from './fixture.js';

/**
 * `evaluate --liveness` through the real pieces (Haar detector, 68-point landmarks, tracker,
 * judge) on a generated ORL fixture: one photo moved rigidly (attack) and the same
 * person's photos with different poses (the bona-fide stand-in).
 */
const dir = mkdtempSync(join(tmpdir(), 'facegate-liveness-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('evaluate --liveness on the generated fixture', () => {
  beforeAll(async () => {
    await writeLivenessFixture(join(dir, 'fixture'));
  }, 60_000);

  it('calls the rigidly moved photo spoof (planar motion) and reports APCER 0, as JSON', async () => {
    const { text } = await runLivenessEvaluation([
      '--liveness',
      join(dir, 'fixture'),
      '--json',
      '--no-texture',
    ]);
    const parsed = JSON.parse(text) as LivenessReport;
    expect(parsed.combined.attacks).toBe(1);
    expect(parsed.combined.bona_fide).toBe(1);
    expect(parsed.combined.apcer).toBe(0);
    const attack = parsed.results.find((r) => r.label === 'attack')!;
    expect(attack.combined.verdict).toBe('spoof');
    expect(attack.combined.reasons).toEqual(['planar_motion']);
    expect(attack.combined.scores.planar_residual).toBeLessThan(parsed.config.planarMaxResidual);
    const bona = parsed.results.find((r) => r.label === 'bona_fide')!;
    // Different poses are not a plane: never spoof (live or, with too little motion, undecided).
    expect(bona.combined.verdict).not.toBe('spoof');
    expect(bona.combined.scores.planar_residual).toBeGreaterThan(parsed.config.planarMaxResidual);
    expect(parsed.per_signal.planar_motion).toMatchObject({ apcer: 0 });
    // The edge signal searched the ring around the faces; the photos of different poses in
    // front of a fixed door frame never have edges moving with the face.
    expect(bona.edges!.frames).toBeGreaterThan(0);
    expect(bona.signals.edges.verdict).toBe('undecided');
    expect(parsed.per_signal.edges_move_with_face).toMatchObject({ bona_fide_spoof: 0 });
    expect(attack.track_verdicts[0]).toMatchObject({ verdict: 'spoof', frames: attack.trackFrames });
    expect(parsed.liveness_ms_per_frame.mean).toBeGreaterThan(0);
  }, 180_000);

  it('refuses a folder without bona-fide/ or attack/ samples', async () => {
    mkdirSync(join(dir, 'empty'), { recursive: true });
    await expect(runLivenessEvaluation(['--liveness', join(dir, 'empty'), '--no-texture'])).rejects.toThrow(
      /no samples/,
    );
  });
});

describeWithShared(
  ['data', 'liveness-dev'],
  'evaluate --liveness on liveness-dev (same person live / replayed)',
  () => {
    it('does not accept the phone replay; reports the network scores gray and colour', async () => {
      const set = join(dir, 'pair');
      mkdirSync(join(set, 'bona-fide'), { recursive: true });
      mkdirSync(join(set, 'attack'), { recursive: true });
      const dev = sharedDataPath('data', 'liveness-dev');
      symlinkSync(join(dev, 'bona-fide', 'cnn-face-detection-real.mp4'), join(set, 'bona-fide', 'real.mp4'));
      symlinkSync(
        join(dev, 'attack', 'cnn-face-detection-fake-phone-replay.mp4'),
        join(set, 'attack', 'replay.mp4'),
      );
      const { report } = await runLivenessEvaluation(['--liveness', set, '--json']);
      expect(report.combined.apcer).toBe(0);
      expect(report.results.every((r) => r.faceFrames > 0)).toBe(true);
      expect(report.per_signal).toHaveProperty('antispoof_gray');
      expect(report.per_signal).toHaveProperty('antispoof_colour');
    }, 300_000);
  },
);
