import { describe, expect, it } from 'vitest';
import { DEFAULT_QUALITY_CONFIG } from '../../src/vision/config.js';
import { checkFace, implausibleLandmarks, validateFaceRules } from '../../src/vision/face-rules.js';
import {
  createGrayImage,
  type Box,
  type FaceLandmarks,
  type FivePoints,
  type Point,
} from '../../src/vision/image.js';
import { QualityGate } from '../../src/vision/quality.js';
import { composeScene } from './scenes.js';

const rules = { ...DEFAULT_QUALITY_CONFIG, minSharpness: 0 };

/** Five landmarks of a face in `box` at the iBUG mean-shape positions, turned by yawDeg and rolled by rollDeg. */
function landmarksIn(box: Box, yawDeg = 0, rollDeg = 0): FaceLandmarks {
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height * 0.45;
  const s = box.width / 400; // model units: eyes ±80, mouth ±55, nose 0; depths as in pose.test
  const yaw = (yawDeg * Math.PI) / 180;
  const roll = (rollDeg * Math.PI) / 180;
  const p = (x: number, y: number, z: number): Point => {
    const xt = x * Math.cos(yaw) + z * Math.sin(yaw);
    return {
      x: cx + s * (xt * Math.cos(roll) - y * Math.sin(roll)),
      y: cy + s * (xt * Math.sin(roll) + y * Math.cos(roll)),
    };
  };
  const five: FivePoints = {
    leftEye: p(-80, -60, -70),
    rightEye: p(80, -60, -70),
    nose: p(0, 20, 0),
    mouthLeft: p(-55, 90, -65),
    mouthRight: p(55, 90, -65),
  };
  return { points: Object.values(five), five };
}

const flat = createGrayImage(400, 400, new Uint8Array(400 * 400).fill(120));
const box = { x: 100, y: 100, width: 200, height: 200 };

describe('the shared face rules', () => {
  it('passes a frontal, level face and reports its pose', () => {
    const result = checkFace(flat, { box, landmarks: landmarksIn(box) }, rules);
    expect(result.ok).toBe(true);
    if (result.ok) expect(Math.abs(result.pose!.yawDeg)).toBeLessThan(1);
  });

  it('refuses a face under minFacePixels with the measured size and the minimum', () => {
    const small = { x: 10, y: 10, width: 40, height: 48 };
    const result = checkFace(flat, { box: small }, rules);
    expect(result).toMatchObject({ ok: false, reason: 'too_small', measured: 40, limit: 48 });
    expect(!result.ok && result.detail).toBe('40 px < 48 px');
  });

  it('refuses a tilted head beyond maxRollDeg and a turned head beyond maxYawDeg, in both directions', () => {
    for (const sign of [1, -1]) {
      const tilted = checkFace(flat, { box, landmarks: landmarksIn(box, 0, sign * 35) }, rules);
      expect(tilted).toMatchObject({ ok: false, reason: 'tilted', limit: 25 });
      expect(!tilted.ok && Math.sign(tilted.measured!)).toBe(sign);
      const turned = checkFace(flat, { box, landmarks: landmarksIn(box, sign * 40, 0) }, rules);
      expect(turned).toMatchObject({ ok: false, reason: 'turned', limit: 25 });
      expect(!turned.ok && turned.hint).toMatch(/face the camera/);
    }
    // Inside the limits: accepted.
    expect(checkFace(flat, { box, landmarks: landmarksIn(box, 15, 15) }, rules).ok).toBe(true);
    // The limits are configuration: a stricter door refuses the same face.
    expect(checkFace(flat, { box, landmarks: landmarksIn(box, 15, 0) }, { ...rules, maxYawDeg: 10 }).ok).toBe(
      false,
    );
  });

  it('refuses landmarks a face cannot have', () => {
    const good = landmarksIn(box);
    const bad = (five: Partial<FivePoints>) =>
      implausibleLandmarks(box, { points: [], five: { ...good.five, ...five } });
    expect(implausibleLandmarks(box, good)).toBeNull();
    expect(bad({ nose: { x: 900, y: 900 } })).toMatch(/outside the face box/);
    expect(bad({ leftEye: good.five.rightEye, rightEye: good.five.leftEye })).toMatch(/wrong order/);
    expect(bad({ rightEye: { x: good.five.leftEye.x + 5, y: good.five.leftEye.y } })).toMatch(/eye distance/);
    expect(bad({ nose: { x: 200, y: good.five.leftEye.y } })).toMatch(/nose is not below/);
    expect(bad({ mouthLeft: { x: 170, y: 150 }, mouthRight: { x: 230, y: 150 } })).toMatch(
      /mouth is not below/,
    );
    const result = checkFace(
      flat,
      { box, landmarks: { points: [], five: { ...good.five, nose: { x: 900, y: 0 } } } },
      rules,
    );
    expect(result).toMatchObject({ ok: false, reason: 'landmarks_implausible' });
  });

  it('bounds the configurable limits', () => {
    expect(() => validateFaceRules({ ...rules, maxRollDeg: 90 })).toThrow(/maxRollDeg/);
    expect(() => validateFaceRules({ ...rules, maxYawDeg: 0 })).toThrow(/maxYawDeg/);
    expect(() => new QualityGate({ ...DEFAULT_QUALITY_CONFIG, maxYawDeg: 61 })).toThrow(/maxYawDeg/);
  });
});

describe('the live quality gate uses the same rules', () => {
  it('marks a turned face with landmarks poor (turned), and accepts the same face frontal ok', async () => {
    const { image } = await composeScene('plain', [{ person: 's36', photo: 4, x: 230, y: 100 }]);
    const face = { x: 250, y: 140, width: 150, height: 150 };
    const gate = new QualityGate(DEFAULT_QUALITY_CONFIG);
    const turned = gate.assess(image, [{ box: face, landmarks: landmarksIn(face, 45) }]);
    // The gate's vocabulary (#10.2): recognised, but its vote cannot open the door.
    expect(turned.rejected).toEqual([]);
    expect(turned.accepted[0]).toMatchObject({ quality: 'poor', reasons: ['turned'] });
    const frontal = gate.assess(image, [{ box: face, landmarks: landmarksIn(face) }]);
    expect(frontal.rejected).toEqual([]);
    expect(frontal.accepted[0].pose?.rollDeg).toBeCloseTo(0, 5);
  });

  it('applies the same minimum face size as enrollment', () => {
    const image = createGrayImage(320, 240, new Uint8Array(320 * 240).fill(90));
    const gate = new QualityGate({ ...DEFAULT_QUALITY_CONFIG, minFaceFraction: 0, minSharpness: 0 });
    const small = { x: 10, y: 10, width: 46, height: 56 };
    expect(gate.assess(image, [small]).rejected[0]).toMatchObject({
      reason: 'too_small',
      detail: '46 px < 48 px',
    });
    expect(checkFace(image, { box: small }, DEFAULT_QUALITY_CONFIG)).toMatchObject({
      ok: false,
      reason: 'too_small',
      detail: '46 px < 48 px',
    });
  });
});
