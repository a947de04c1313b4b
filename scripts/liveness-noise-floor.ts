/**
 * The landmark noise floor of the planar-motion signal, measured on sequences that are a
 * plane by construction: each committed ORL photo (AT&T faces, data/orl_faces) printed on
 * a sheet with a white border and moved in the hand — every frame one homography
 * (rotation ±8°, scale 0.9–1.15, shift ±40 px, a slight tilt) plus mild sensor noise —
 * through the live path's pieces (Haar detector, the shipped 68-point landmarker with its
 * plausibility rule, PlanarAccumulator). Whatever residual these show is landmark noise:
 * the spoof threshold must sit above it, the live threshold well above it. Also the motion
 * of a still photo (noise only): the floor under minMotion. And the blink signal's floor:
 * the same sheets moved for 2 s and tipped back and forth (vertical foreshortening 0.6–1,
 * a sheet's pitch of up to ~53°), their eyelid openings read by the vendored eye model
 * (src/liveness/eyelids.ts) and normalised as the judge does — a photo's eyes never close,
 * so any dip here is the reader's noise, and blinkClosedRatio must sit below it. And a
 * third pass with the sheets **bent** around a vertical axis (radius 60–480 px against a
 * 230 px wide face: from a gentle flex to curled round a quarter of the face's width),
 * turned ±20°, tipped ±10°, seen by a pinhole camera: the whole-face and the face-parts
 * residuals (expressionResidual) of paper that is not flat — the live thresholds must sit
 * above these too.
 *
 * Development tool, no evaluation data involved:
 * `nice -n 5 npx tsx scripts/liveness-noise-floor.ts [people=40] [frames=10]`
 */
import { join } from 'node:path';
import { DEFAULT_LIVENESS_CONFIG } from '../src/liveness/config.js';
import { warpGray, rmsMotion, type Homography } from '../src/liveness/geometry.js';
import { loadLandmarkPort } from '../src/liveness/landmark-port.js';
import { IrisEyelidReader, type EyeSide } from '../src/liveness/eyelids.js';
import {
  detectBlink,
  eyeOpennessSample,
  faceScale,
  PlanarAccumulator,
  type OpennessSample,
} from '../src/liveness/signals.js';
import { chooseBackend } from '../src/model/backend.js';
import { mulberry32 } from '../src/util/random.js';
import { silentLogger } from '../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../src/vision/config.js';
import { createFaceDetector } from '../src/vision/detector.js';
import { createGrayImage, type GrayImage, type Point } from '../src/vision/image.js';
import { readGrayImage } from '../src/vision/image-io.js';
import { makeBackground, pastePhoto, printOnPaper } from './make-replay.js';

const [peopleArg = '40', framesArg = '10'] = process.argv.slice(2);
const people = Number(peopleArg);
const frames = Number(framesArg);
await chooseBackend('auto', silentLogger());
const detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
const { port, dispose } = await loadLandmarkPort('models/landmarks/faceapi-68');
const eyelids = await IrisEyelidReader.load('models/liveness');
const rnd = mulberry32(13);
/** The blink pass draws from its own stream, so the planar sequences stay those of the docs. */
const rndEyes = mulberry32(29);
/** The bent-sheet pass, its own stream too. */
const rndBent = mulberry32(41);

function handHeld(deg: number, s: number, tx: number, ty: number, tilt: number): Homography {
  const a = (deg * Math.PI) / 180;
  const c = Math.cos(a) * s;
  const n = Math.sin(a) * s;
  return [c, -n, 320 - c * 320 + n * 240 + tx, n, c, 240 - n * 320 - c * 240 + ty, tilt, 0, 1];
}

function noisy(img: GrayImage, sigma: number, r = rnd): GrayImage {
  const out = createGrayImage(img.width, img.height, Uint8Array.from(img.data));
  for (let i = 0; i < out.data.length; i++)
    out.data[i] = Math.max(0, Math.min(255, Math.round(out.data[i] + sigma * (r() + r() + r() - 1.5))));
  return out;
}

/** The hand-held homography followed by a vertical squeeze `k` about the image centre (the sheet tipped). */
function tipped(h: Homography, k: number): Homography {
  const c = 240 * (1 - k);
  return [h[0], h[1], h[2], k * h[3] + c * h[6], k * h[4] + c * h[7], k * h[5] + c * h[8], h[6], h[7], h[8]];
}

/**
 * The sheet (640x480, the camera's size) bent around a vertical axis through its centre
 * (radius `r` px; Infinity = flat: its edges curl away from the camera), turned by yaw and
 * pitch (degrees), shifted and scaled, seen by a pinhole camera 1500 px away; drawn by
 * splatting the sheet at half-pixel steps, then sensor noise.
 */
function bentSheet(
  sheet: GrayImage,
  background: GrayImage,
  pose: { r: number; yawDeg: number; pitchDeg: number; tx: number; ty: number; scale: number },
): GrayImage {
  const out = createGrayImage(640, 480, Uint8Array.from(background.data));
  const d = 1500;
  const f = d * pose.scale;
  const [cy, sy] = [Math.cos((pose.yawDeg * Math.PI) / 180), Math.sin((pose.yawDeg * Math.PI) / 180)];
  const [cp, sp] = [Math.cos((pose.pitchDeg * Math.PI) / 180), Math.sin((pose.pitchDeg * Math.PI) / 180)];
  for (let y = 0; y < 480; y += 0.5) {
    for (let x = 0; x < 640; x += 0.5) {
      const u = x - 320;
      const x0 = Number.isFinite(pose.r) ? pose.r * Math.sin(u / pose.r) : u;
      const z0 = Number.isFinite(pose.r) ? pose.r * (1 - Math.cos(u / pose.r)) : 0;
      const x1 = cy * x0 + sy * z0;
      const z1 = -sy * x0 + cy * z0;
      const y2 = cp * (y - 240) - sp * z1;
      const z2 = sp * (y - 240) + cp * z1;
      const px = Math.round((f * x1) / (d + z2) + 320 + pose.tx);
      const py = Math.round((f * y2) / (d + z2) + 240 + pose.ty);
      if (px >= 0 && py >= 0 && px < 640 && py < 480)
        out.data[py * 640 + px] = sheet.data[Math.floor(y) * 640 + Math.floor(x)];
    }
  }
  return noisy(out, 4, rndBent);
}

/** A random hand-held pose (rotation ±8°, scale 0.9–1.15, shift ±40/±30 px, slight tilt) from `r`. */
function randomHandHeld(r: () => number): Homography {
  return handHeld(
    (r() - 0.5) * 16,
    0.9 + r() * 0.25,
    (r() - 0.5) * 80,
    (r() - 0.5) * 60,
    (r() - 0.5) * 0.0008,
  );
}

async function landmarks(img: GrayImage): Promise<readonly Point[] | null> {
  const boxes = await detector.detect(img);
  if (boxes.length === 0) return null;
  const biggest = boxes.reduce((a, b) => (b.width > a.width ? b : a));
  return (await port(img, [biggest]))[0];
}

const rigid: number[] = [];
const still: number[] = [];
const rigidExpression: number[] = [];
const bentResidual: number[] = [];
const bentExpression: number[] = [];
const blinkFloor: number[] = [];
const rawFloor: number[] = [];
let falseBlinks = 0;
let rawFalseBlinks = 0;
const normFloor: number[] = [];
let normFalseBlinks = 0;
const cfg = { ...DEFAULT_LIVENESS_CONFIG, minMovingFrames: 1 };
for (let p = 1; p <= people; p++) {
  const photo = await readGrayImage(join('data/orl_faces', `s${String(p).padStart(2, '0')}`, '1.pgm'));
  const paper = printOnPaper(photo);
  const sheet = makeBackground('plain', 7);
  pastePhoto(sheet, paper, 205, 60, 2.5, 0);
  const bg = makeBackground('plain', 9);
  let acc: PlanarAccumulator | null = null;
  let first: readonly Point[] | null = null;
  for (let i = 0; i < frames; i++) {
    const h = randomHandHeld(rnd);
    const pts = await landmarks(noisy(warpGray(sheet, h, bg), 4));
    if (!pts) continue;
    if (!acc) acc = new PlanarAccumulator(pts, cfg);
    else acc.add(pts);
  }
  // Still: the same unmoved sheet, new sensor noise each frame.
  for (let i = 0; i < 4; i++) {
    const pts = await landmarks(noisy(sheet, 4));
    if (!pts) continue;
    if (!first) first = pts;
    else still.push(rmsMotion(first, pts) / faceScale(first));
  }
  // Tipped back and forth while moved, 2 s at 15 fps: the eyelid reader's floor.
  const eyes: OpennessSample[] = [];
  const raw: OpennessSample[] = [];
  let side: EyeSide | undefined;
  for (let i = 0; i < 30; i++) {
    const k = 0.6 + 0.4 * Math.abs(Math.cos(i * 0.45 + p));
    const h = randomHandHeld(rndEyes);
    const img = noisy(warpGray(sheet, tipped(h, k), bg), 4, rndEyes);
    const pts = await landmarks(img);
    if (!pts) continue;
    const [reading] = await eyelids.read(img, [pts], [side]);
    if (!reading) continue;
    side = reading.side;
    eyes.push(eyeOpennessSample(i * 66.7, pts, reading));
    raw.push({ timestampMs: i * 66.7, side: reading.side, openness: reading.openness });
  }
  const closedRatio = DEFAULT_LIVENESS_CONFIG.blinkClosedRatio;
  const b = detectBlink(eyes, { closedRatio });
  const braw = detectBlink(raw, { closedRatio });
  const bnorm = detectBlink(
    eyes.map(({ timestampMs, side, openness }) => ({ timestampMs, side, openness })),
    { closedRatio },
  );
  if (eyes.length >= 10) {
    blinkFloor.push(b.minRatio);
    rawFloor.push(braw.minRatio);
    normFloor.push(bnorm.minRatio);
    if (b.blinked) falseBlinks++;
    if (braw.blinked) rawFalseBlinks++;
    if (bnorm.blinked) normFalseBlinks++;
  }
  // Bent, turned and tipped (12 frames, the first one flat).
  let bent: PlanarAccumulator | null = null;
  for (let i = 0; i < 12; i++) {
    const img = bentSheet(sheet, bg, {
      r: i === 0 ? Infinity : 60 * Math.pow(8, rndBent()),
      yawDeg: (rndBent() - 0.5) * 40,
      pitchDeg: (rndBent() - 0.5) * 20,
      tx: (rndBent() - 0.5) * 60,
      ty: (rndBent() - 0.5) * 40,
      scale: 0.9 + rndBent() * 0.25,
    });
    const pts = await landmarks(img);
    if (!pts) continue;
    if (!bent) bent = new PlanarAccumulator(pts, cfg);
    else bent.add(pts);
  }
  const rb = bent?.result();
  if (rb && rb.movingFrames >= 3) {
    bentResidual.push(rb.residual);
    bentExpression.push(rb.expression);
  }
  const r = acc?.result();
  if (r && r.movingFrames >= 3) {
    rigid.push(r.residual);
    rigidExpression.push(r.expression);
  }
  process.stderr.write(
    `s${p}: rigid residual ${r ? r.residual.toFixed(4) : '-'} (face parts ${r ? r.expression.toFixed(4) : '-'}) over ${r?.movingFrames ?? 0}; bent ${rb ? rb.residual.toFixed(4) : '-'} (face parts ${rb ? rb.expression.toFixed(4) : '-'}) over ${rb?.movingFrames ?? 0}; eyes read ${eyes.length}/30, least opening ${b.minRatio.toFixed(2)} of open (as read ${braw.minRatio.toFixed(2)}, over face height ${bnorm.minRatio.toFixed(2)})\n`,
  );
}
dispose();
eyelids.dispose();
await detector.stop();

const q = (xs: number[], f: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(f * xs.length) - 1)];
const stats = (xs: number[]) => ({
  sequences: xs.length,
  p50: q(xs, 0.5),
  p95: q(xs, 0.95),
  max: Math.max(...xs),
});
console.log(
  JSON.stringify(
    {
      rigid_residual: {
        sequences: rigid.length,
        p50: q(rigid, 0.5),
        p95: q(rigid, 0.95),
        max: Math.max(...rigid),
      },
      rigid_face_parts: stats(rigidExpression),
      bent_residual: stats(bentResidual),
      bent_face_parts: stats(bentExpression),
      still_motion: { pairs: still.length, p50: q(still, 0.5), p95: q(still, 0.95), max: Math.max(...still) },
      blink: {
        closed_ratio: DEFAULT_LIVENESS_CONFIG.blinkClosedRatio,
        sequences: blinkFloor.length,
        false_blinks: falseBlinks,
        least_ratio: { min: Math.min(...blinkFloor), p5: q(blinkFloor, 0.05), p50: q(blinkFloor, 0.5) },
        as_read_only: {
          false_blinks: rawFalseBlinks,
          least_ratio: { min: Math.min(...rawFloor), p5: q(rawFloor, 0.05), p50: q(rawFloor, 0.5) },
        },
        over_face_height_only: {
          false_blinks: normFalseBlinks,
          least_ratio: { min: Math.min(...normFloor), p5: q(normFloor, 0.05), p50: q(normFloor, 0.5) },
        },
      },
    },
    null,
    2,
  ),
);
