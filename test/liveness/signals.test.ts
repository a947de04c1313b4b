import { describe, expect, it } from 'vitest';
import { DEFAULT_LIVENESS_CONFIG } from '../../src/liveness/config.js';
import { applyHomography, fitHomography, homographyResidual } from '../../src/liveness/geometry.js';
import { judgeSamples, LivenessJudge } from '../../src/liveness/judge.js';
import {
  detectBlink,
  expressionResidual,
  eyeOpennessSample,
  faceAspect,
  faceScale,
  planarMotion,
  type LandmarkSample,
  type OpennessSample,
} from '../../src/liveness/signals.js';
import { handHeld, movedPhoto, noiseSource, projectHead } from './synthetic-face.js';

const at = (i: number, points: LandmarkSample['points']): LandmarkSample => ({
  timestampMs: i * 100,
  points,
});

describe('fitHomography', () => {
  it('recovers a projective map from exact point pairs (residual ~0)', () => {
    const from = projectHead({});
    const h = handHeld(12, 1.2, 30, -20, 0.0004);
    const to = from.map((p) => applyHomography(h, p));
    const fit = fitHomography(from, to)!;
    expect(homographyResidual(fit, from, to)).toBeLessThan(1e-6);
  });

  it('returns null for degenerate points (all on one line)', () => {
    const line = [0, 1, 2, 3, 4].map((i) => ({ x: i, y: 2 * i }));
    expect(fitHomography(line, line)).toBeNull();
  });
});

describe('blink (eyelid opening over the track)', () => {
  const series = (
    values: readonly number[],
    side: 'left' | 'right' = 'left',
    stepMs = 66,
  ): OpennessSample[] => values.map((openness, i) => ({ timestampMs: i * stepMs, side, openness }));

  it('finds open → shut → open, with reading noise', () => {
    const rnd = noiseSource(7);
    const v = [0.36, 0.37, 0.35, 0.36, 0.27, 0.13, 0.1, 0.14, 0.27, 0.34, 0.35, 0.36].map(
      (x) => x + (rnd() - 0.5) * 0.02,
    );
    const r = detectBlink(series(v));
    expect(r.blinked).toBe(true);
    expect(r.minRatio).toBeLessThan(0.4);
  });

  it('no blink: eyes open throughout (noise only), or shut throughout (a photo with shut eyes)', () => {
    const rnd = noiseSource(3);
    const open = Array.from({ length: 30 }, () => 0.35 + (rnd() - 0.5) * 0.06);
    expect(detectBlink(series(open)).blinked).toBe(false);
    const shut = Array.from({ length: 30 }, () => 0.1 + (rnd() - 0.5) * 0.02);
    expect(detectBlink(series(shut)).blinked).toBe(false);
  });

  it('an eye that stays shut longer than a blink is not a blink', () => {
    const v = [0.35, 0.35, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.35, 0.35];
    expect(detectBlink(series(v, 'left', 100), { maxBlinkMs: 300 }).blinked).toBe(false);
    expect(detectBlink(series(v, 'left', 100), { maxBlinkMs: 1500 }).blinked).toBe(true);
  });

  it('switching the eye read (two eyes, two open levels) is not a blink', () => {
    // The head turns back and forth: the wider eye changes; the right eye reads narrower.
    const samples: OpennessSample[] = [];
    for (let i = 0; i < 30; i++) {
      const side = Math.floor(i / 3) % 2 === 0 ? 'left' : 'right';
      samples.push({ timestampMs: i * 66, side, openness: side === 'left' ? 0.38 : 0.15 });
    }
    expect(detectBlink(samples).blinked).toBe(false);
    // The same readings as one series would have looked like blinks.
    expect(detectBlink(samples.map((s) => ({ ...s, side: 'left' as const }))).blinked).toBe(true);
  });

  it('a sheet tipped back and forth is not a blink: the opening is divided by the face height', () => {
    const face = projectHead({});
    const cy = face.reduce((acc, p) => acc + p.y, 0) / face.length;
    const tipped = (k: number) => face.map((p) => ({ x: p.x, y: cy + (p.y - cy) * k }));
    expect(faceAspect(tipped(0.5)) / faceAspect(face)).toBeCloseTo(0.5, 5);
    // The eye model sees the printed eye foreshortened by the same factor.
    const tilt = [1, 1, 1, 1, 0.5, 0.45, 0.5, 1, 1, 1, 1, 1];
    const samples = tilt.map((k, i) =>
      eyeOpennessSample(i * 66, tipped(k), { side: 'left', openness: 0.35 * k }),
    );
    expect(detectBlink(samples).blinked).toBe(false);
    const raw = tilt.map((k, i) => ({ timestampMs: i * 66, side: 'left' as const, openness: 0.35 * k }));
    expect(detectBlink(raw).blinked).toBe(true);
  });
});

describe('planar motion (homography residual over the track)', () => {
  // The landmark signals alone (the edge signal needs frames: test/liveness/edges.test.ts).
  const config = { ...DEFAULT_LIVENESS_CONFIG, edges: false };

  it('a photo moved in the hand (rotation, scale, shift, tilt) is explained by one homography', () => {
    const rnd = noiseSource(11);
    const track = [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
      at(i, movedPhoto(handHeld(i * 2.5, 1 + i * 0.03, i * 6, -i * 3, i * 0.00008), 0.5, rnd)),
    );
    const r = planarMotion(track, config);
    expect(r.movingFrames).toBeGreaterThanOrEqual(3);
    expect(r.residual).toBeLessThan(config.planarMaxResidual);
    expect(judgeSamples(track, config)).toMatchObject({ verdict: 'spoof', reasons: ['planar_motion'] });
  });

  it('a bad set of landmarks on the first frame does not make a moved photo look live (medoid reference)', () => {
    const rnd = noiseSource(21);
    const track = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) =>
      at(i, movedPhoto(handHeld(i * 2.5, 1 + i * 0.03, i * 6, -i * 3, i * 0.00008), 0.5, rnd)),
    );
    // A landmarker glitch on the track's first frame: every point off by up to ±6 px.
    const glitch = noiseSource(99);
    const bad = track[0].points.map((p) => ({ x: p.x + 12 * glitch(), y: p.y + 12 * glitch() }));
    const glitched = [at(0, bad), ...track.slice(1)];
    const r = planarMotion(glitched, config);
    expect(r.residual).toBeLessThan(config.planarMaxResidual);
    expect(judgeSamples(glitched, config)).toMatchObject({ verdict: 'spoof', reasons: ['planar_motion'] });
  });

  it('a head turning (yaw and pitch) leaves a residual no plane explains', () => {
    const rnd = noiseSource(5);
    const track = [0, 5, 10, 15, 20, 25, 20, 15].map((yawDeg, i) =>
      at(i, projectHead({ yawDeg, pitchDeg: yawDeg / 3, noisePx: 0.5 }, rnd)),
    );
    const r = planarMotion(track, config);
    expect(r.movingFrames).toBeGreaterThanOrEqual(3);
    expect(r.residual).toBeGreaterThan(config.nonPlanarMinResidual);
    expect(judgeSamples(track, config).verdict).toBe('live');
    expect(judgeSamples(track, config).reasons).toContain('non_planar_motion');
  });

  it('a face that talks and raises its brows without turning is live by its face parts (expression_motion)', () => {
    const rnd = noiseSource(13);
    const mouth = [0, 0, 0, 0, 1, 0.2, 1, 0, 1, 0.8, 1, 0];
    const track = mouth.map((m, i) =>
      at(i, projectHead({ mouth: m, brows: m > 0.5 ? 1 : 0, noisePx: 0.5 }, rnd)),
    );
    const r = planarMotion(track, config);
    expect(r.movingFrames).toBeGreaterThanOrEqual(config.minLiveMovingFrames);
    expect(r.expression).toBeGreaterThan(config.expressionMinResidual);
    // The whole-face fit bends towards the moving lips: its residual says much less.
    expect(r.residual).toBeLessThan(r.expression);
    expect(judgeSamples(track, config)).toMatchObject({ verdict: 'live' });
    expect(judgeSamples(track, config).reasons).toContain('expression_motion');
  });

  it("a photo's printed lips and brows move with its printed eyes and nose: face-parts residual at noise", () => {
    const rnd = noiseSource(17);
    const track = [0, 1, 2, 3, 4, 5, 6, 7].map((i) =>
      at(i, movedPhoto(handHeld(i * 2.5, 1 + i * 0.03, i * 6, -i * 3, i * 0.00008), 0.5, rnd)),
    );
    const r = planarMotion(track, config);
    expect(r.expression).toBeLessThan(config.planarMaxResidual);
    expect(expressionResidual(track[0].points, track[5].points)).toBeLessThan(
      0.02 * faceScale(track[0].points),
    );
  });

  it('a still face (noise only) says nothing: undecided, no_motion', () => {
    const rnd = noiseSource(9);
    const track = Array.from({ length: 15 }, (_, i) => at(i, projectHead({ noisePx: 0.5 }, rnd)));
    expect(planarMotion(track, config).movingFrames).toBe(0);
    expect(judgeSamples(track, config)).toMatchObject({ verdict: 'undecided', reasons: ['no_motion'] });
  });

  it('a blink counts as live only when enabled, and only from eyelid readings', () => {
    const face = projectHead({});
    const track = Array.from({ length: 7 }, (_, i) => at(i, face));
    const eyes: OpennessSample[] = [0.35, 0.36, 0.35, 0.08, 0.34, 0.35, 0.36].map((openness, i) => ({
      timestampMs: i * 100,
      side: 'right',
      openness,
    }));
    expect(judgeSamples(track, { ...config, blink: false }, true, undefined, undefined, eyes).verdict).toBe(
      'undecided',
    );
    expect(judgeSamples(track, { ...config, blink: true }).verdict).toBe('undecided');
    expect(judgeSamples(track, { ...config, blink: true }, true, undefined, undefined, eyes)).toMatchObject({
      verdict: 'live',
      reasons: ['blink'],
    });
  });

  it('the judge gathers the eyelid readings of a track: a blink of a still face is live', () => {
    const judge = new LivenessJudge({ ...config, blink: true });
    const face = projectHead({});
    const open = [0.35, 0.36, 0.35, 0.36, 0.1, 0.12, 0.34, 0.35];
    const verdicts = open.map((openness, i) =>
      judge.observe(2, i * 66, face, undefined, { side: 'left', openness: openness * faceAspect(face) }),
    );
    expect(verdicts[5].verdict).toBe('undecided');
    expect(verdicts.at(-1)).toMatchObject({ verdict: 'live', reasons: ['blink'] });
  });
});

describe('LivenessJudge', () => {
  it('keeps a spoof verdict for the track even when later frames look live', () => {
    const judge = new LivenessJudge(DEFAULT_LIVENESS_CONFIG);
    for (let i = 0; i < 6; i++)
      judge.observe(1, i * 100, movedPhoto(handHeld(i * 3, 1 + i * 0.04, i * 8, 0, 0)));
    expect(judge.observe(1, 600, movedPhoto(handHeld(15, 1.2, 40, 0, 0))).verdict).toBe('spoof');
    const turned = judge.observe(1, 700, projectHead({ yawDeg: 25 }));
    expect(turned).toMatchObject({ verdict: 'spoof', trackId: 1, sinceMs: 0 });
  });

  it('without landmarks a track stays undecided (no_landmarks): never live', () => {
    const judge = new LivenessJudge(DEFAULT_LIVENESS_CONFIG);
    for (let i = 0; i < 10; i++) expect(judge.observe(4, i * 100, undefined).verdict).toBe('undecided');
    expect(judge.observe(4, 1000, undefined).reasons).toEqual(['no_landmarks']);
    judge.forget([4]);
    expect(judge.trackCount).toBe(0);
  });
});
