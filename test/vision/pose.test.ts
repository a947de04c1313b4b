import { describe, expect, it } from 'vitest';
import type { FivePoints, Point } from '../../src/vision/image.js';
import { estimatePose } from '../../src/vision/pose.js';

/**
 * Five landmarks of a generic 3D head (units ~0.1 mm, y down, z towards the camera; the
 * solvePnP reference model's depths: eyes 135 and mouth corners 125 behind the nose tip),
 * turned by `yawDeg` about the vertical axis, projected orthographically, then rolled by
 * `rollDeg` in the image plane, scaled and shifted.
 */
function head(
  yawDeg: number,
  rollDeg: number,
  options: { scale?: number; at?: Point; noseDepth?: number } = {},
): FivePoints {
  const { scale = 0.4, at = { x: 320, y: 240 }, noseDepth = 130 } = options;
  const model = {
    leftEye: [-150, -110, -noseDepth - 5],
    rightEye: [150, -110, -noseDepth - 5],
    nose: [0, 0, 0],
    mouthLeft: [-90, 110, -noseDepth + 5],
    mouthRight: [90, 110, -noseDepth + 5],
  } as const;
  const yaw = (yawDeg * Math.PI) / 180;
  const roll = (rollDeg * Math.PI) / 180;
  const project = ([x, y, z]: readonly number[]): Point => {
    const xt = x * Math.cos(yaw) + z * Math.sin(yaw);
    const xr = xt * Math.cos(roll) - y * Math.sin(roll);
    const yr = xt * Math.sin(roll) + y * Math.cos(roll);
    return { x: at.x + scale * xr, y: at.y + scale * yr };
  };
  return {
    leftEye: project(model.leftEye),
    rightEye: project(model.rightEye),
    nose: project(model.nose),
    mouthLeft: project(model.mouthLeft),
    mouthRight: project(model.mouthRight),
  };
}

describe('estimatePose', () => {
  it('reads a frontal, level face as roll 0 and yaw 0', () => {
    const pose = estimatePose(head(0, 0));
    expect(pose.rollDeg).toBeCloseTo(0, 6);
    expect(pose.yawDeg).toBeCloseTo(0, 6);
  });

  it('measures roll from the eye line, in both directions, whatever the yaw', () => {
    for (const roll of [-40, -15, 7, 25]) {
      for (const yaw of [0, 20]) {
        expect(estimatePose(head(yaw, roll)).rollDeg).toBeCloseTo(roll, 6);
      }
    }
  });

  it('measures yaw from the nose offset, signed, unaffected by roll, scale and position', () => {
    for (const yaw of [-45, -30, -10, 10, 30, 45]) {
      for (const roll of [0, -20, 30]) {
        const pose = estimatePose(
          head(yaw, roll, { scale: 0.15 + Math.abs(roll) / 100, at: { x: 50, y: 900 } }),
        );
        expect(Math.abs(pose.yawDeg - yaw)).toBeLessThan(1.5);
        expect(Math.sign(pose.yawDeg)).toBe(Math.sign(yaw));
      }
    }
  });

  it('stays a usable estimate for a flatter or longer nose than the model assumes (±25% depth)', () => {
    for (const noseDepth of [100, 160]) {
      expect(Math.abs(estimatePose(head(30, 0, { noseDepth })).yawDeg - 30)).toBeLessThan(8);
      expect(Math.abs(estimatePose(head(0, 10, { noseDepth })).yawDeg)).toBeLessThan(0.5);
    }
  });

  it('refuses landmarks without an eye line or with non-finite points', () => {
    const p = { x: 10, y: 10 };
    expect(() => estimatePose({ leftEye: p, rightEye: p, nose: p, mouthLeft: p, mouthRight: p })).toThrow(
      RangeError,
    );
    expect(() => estimatePose({ ...head(0, 0), nose: { x: Number.NaN, y: 0 } })).toThrow(RangeError);
  });
});
