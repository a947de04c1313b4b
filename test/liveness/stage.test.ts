import { describe, expect, it } from 'vitest';
import { DEFAULT_LIVENESS_CONFIG } from '../../src/liveness/config.js';
import { LivenessStage } from '../../src/liveness/stage.js';
import { createGrayImage, type GrayImage } from '../../src/vision/image.js';
import { noiseSource, projectHead, regionOf } from './synthetic-face.js';

/**
 * The live loop's liveness stage with the real OpenCV line search: a head that turns is
 * live only when the stage is handed the frame's pixels (the edge signal must have looked
 * around the face); without them it fails closed.
 */

/** A plain textured wall: no straight edges anywhere. */
function wall(): GrayImage {
  const rnd = noiseSource(17);
  const img = createGrayImage(640, 480);
  for (let i = 0; i < img.data.length; i++) img.data[i] = 110 + Math.round(16 * rnd());
  return img;
}

const yaws = [0, 5, 10, 15, 20, 25, 20, 15, 10, 5, 0];

describe('LivenessStage (edges on, native line search)', () => {
  it('a turning head in front of a plain wall is live when the frames are passed', async () => {
    const stage = new LivenessStage({ ...DEFAULT_LIVENESS_CONFIG, mode: 'on' });
    const frame = wall();
    const rnd = noiseSource(5);
    const verdicts = [];
    for (const [i, yawDeg] of yaws.entries()) {
      const face = regionOf(projectHead({ yawDeg, pitchDeg: yawDeg / 3, noisePx: 0.5 }, rnd));
      verdicts.push((await stage.observe(i * 66, [face], frame))[0]);
    }
    expect(verdicts.at(-1)).toMatchObject({ verdict: 'live', trackId: 1 });
    expect(verdicts.at(-1)!.reasons).toContain('non_planar_motion');
    expect(verdicts.at(-1)!.scores.edge_sides_moving).toBe(0);
  });

  it('fails closed without the frames: the same head stays undecided (no_edge_search)', async () => {
    const stage = new LivenessStage({ ...DEFAULT_LIVENESS_CONFIG, mode: 'on' });
    const rnd = noiseSource(5);
    const verdicts = [];
    for (const [i, yawDeg] of yaws.entries()) {
      const face = regionOf(projectHead({ yawDeg, pitchDeg: yawDeg / 3, noisePx: 0.5 }, rnd));
      verdicts.push((await stage.observe(i * 66, [face]))[0]);
    }
    expect(verdicts.every((v) => v.verdict !== 'live')).toBe(true);
    expect(verdicts.at(-1)!.reasons).toEqual(['no_edge_search']);
  });

  it('with edges off, the landmarks alone decide (no OpenCV needed)', async () => {
    const stage = new LivenessStage({ ...DEFAULT_LIVENESS_CONFIG, mode: 'on', edges: false });
    const rnd = noiseSource(5);
    const verdicts = [];
    for (const [i, yawDeg] of yaws.entries()) {
      const face = regionOf(projectHead({ yawDeg, pitchDeg: yawDeg / 3, noisePx: 0.5 }, rnd));
      verdicts.push((await stage.observe(i * 66, [face]))[0]);
    }
    expect(verdicts.at(-1)!.verdict).toBe('live');
  });
});
