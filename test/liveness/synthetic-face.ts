import type { FaceRegion, Point } from '../../src/vision/image.js';
import { applyHomography, type Homography } from '../../src/liveness/geometry.js';

/**
 * Constructed 68-point landmark tracks (iBUG order) for the liveness signal tests: a face
 * with depth (nose tip forward, jaw sides back), seen by a camera, rotated (a head turn),
 * with eyes open or closed (a blink), or drawn flat and moved by homographies (a photo).
 * Units: face-sized (outer eye corners ~0.9 apart) before `scale`.
 */

interface P3 {
  x: number;
  y: number;
  z: number;
}

function eye(cx: number, open: number): P3[] {
  // 36..41 / 42..47: corner, two upper lid points, corner, two lower lid points.
  const h = 0.06 * open;
  return [
    { x: cx - 0.15, y: 0, z: 0 },
    { x: cx - 0.05, y: -h, z: 0.02 },
    { x: cx + 0.05, y: -h, z: 0.02 },
    { x: cx + 0.15, y: 0, z: 0 },
    { x: cx + 0.05, y: h, z: 0.02 },
    { x: cx - 0.05, y: h, z: 0.02 },
  ];
}

/**
 * The 3D model, eyes open by `open` (1 open, 0 shut), the mouth opened by `mouth` (0
 * closed, 1 open: the lower lip drops 0.15 units) and the brows raised by `brows` (1: 0.08).
 */
export function faceModel(open = 1, mouth = 0, brows = 0): P3[] {
  const pts: P3[] = [];
  for (let i = 0; i <= 16; i++) {
    const a = Math.PI * (i / 16); // jaw: a U from the left temple to the right
    pts.push({ x: -0.75 * Math.cos(a), y: 0.1 + 0.75 * Math.sin(a), z: -0.45 * Math.abs(Math.cos(a)) });
  }
  const brow = -0.2 - 0.08 * brows;
  for (let i = 0; i < 5; i++)
    pts.push({ x: -0.6 + i * 0.1, y: brow - 0.04 * Math.sin((i / 4) * Math.PI), z: 0.05 });
  for (let i = 0; i < 5; i++)
    pts.push({ x: 0.2 + i * 0.1, y: brow - 0.04 * Math.sin((i / 4) * Math.PI), z: 0.05 });
  for (let i = 0; i < 4; i++) pts.push({ x: 0, y: -0.05 + i * 0.1, z: 0.1 + i * 0.1 }); // 27..30 nose bridge to tip
  for (let i = 0; i < 5; i++) pts.push({ x: -0.12 + i * 0.06, y: 0.35, z: 0.2 }); // 31..35 nostrils
  pts.push(...eye(-0.3, open), ...eye(0.3, open)); // 36..47
  for (let i = 0; i < 12; i++) {
    const a = (2 * Math.PI * i) / 12; // 48..59 outer lip
    const drop = Math.sin(a) > 1e-9 ? 0.15 * mouth : 0; // the lower lip
    pts.push({ x: 0.25 * Math.cos(a + Math.PI), y: 0.55 + 0.1 * Math.sin(a) + drop, z: 0.1 });
  }
  for (let i = 0; i < 8; i++) {
    const a = (2 * Math.PI * i) / 8; // 60..67 inner lip
    const drop = Math.sin(a) > 1e-9 ? 0.15 * mouth : 0;
    pts.push({ x: 0.15 * Math.cos(a + Math.PI), y: 0.55 + 0.04 * Math.sin(a) + drop, z: 0.1 });
  }
  return pts;
}

/** Deterministic noise (a small LCG) so tests never flake. */
export function noiseSource(seed = 1): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/**
 * A head seen by a pinhole camera: rotated by yaw/pitch (degrees), at distance 6 face
 * units, `scale` px per unit, centred on (cx, cy), landmark noise `noisePx` (uniform).
 */
export function projectHead(
  o: {
    yawDeg?: number;
    pitchDeg?: number;
    open?: number;
    mouth?: number;
    brows?: number;
    scale?: number;
    cx?: number;
    cy?: number;
    noisePx?: number;
  },
  rnd = noiseSource(),
): Point[] {
  const yaw = ((o.yawDeg ?? 0) * Math.PI) / 180;
  const pitch = ((o.pitchDeg ?? 0) * Math.PI) / 180;
  const scale = o.scale ?? 100;
  const f = 6;
  return faceModel(o.open ?? 1, o.mouth ?? 0, o.brows ?? 0).map((p) => {
    const x1 = p.x * Math.cos(yaw) + p.z * Math.sin(yaw);
    const z1 = -p.x * Math.sin(yaw) + p.z * Math.cos(yaw);
    const y2 = p.y * Math.cos(pitch) - z1 * Math.sin(pitch);
    const z2 = p.y * Math.sin(pitch) + z1 * Math.cos(pitch);
    const w = f / (f - z2);
    return {
      x: (o.cx ?? 320) + scale * x1 * w + (o.noisePx ?? 0) * rnd(),
      y: (o.cy ?? 240) + scale * y2 * w + (o.noisePx ?? 0) * rnd(),
    };
  });
}

/** A photo of the frontal face (flat), moved by the homography `h`, plus landmark noise. */
export function movedPhoto(h: Homography, noisePx = 0, rnd = noiseSource()): Point[] {
  return projectHead({}).map((p) => {
    const q = applyHomography(h, p);
    return { x: q.x + noisePx * rnd(), y: q.y + noisePx * rnd() };
  });
}

/** A hand-held sheet: rotation `deg` about the image centre, scale `s`, shift, and a slight tilt (perspective). */
export function handHeld(deg: number, s: number, tx: number, ty: number, tilt: number): Homography {
  const a = (deg * Math.PI) / 180;
  const c = Math.cos(a) * s;
  const n = Math.sin(a) * s;
  // Similarity about (320, 240), then a projective row.
  const h = [c, -n, 320 - c * 320 + n * 240 + tx, n, c, 240 - n * 320 - c * 240 + ty, tilt, 0, 1];
  // Keep (320,240) fixed under the projective part: divide by w there.
  return h as unknown as Homography;
}

/** 68 landmark points → the face region a detector + landmark model would hand the stage. */
export function regionOf(points: readonly Point[]): FaceRegion {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  const box = { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
  const five = {
    leftEye: points[36],
    rightEye: points[45],
    nose: points[30],
    mouthLeft: points[48],
    mouthRight: points[54],
  };
  return { box, landmarks: { points, five } };
}
