/**
 * Builds the committed demo data from the ORL faces (AT&T Laboratories Cambridge):
 * - data/demo/enroll/s36/, s37/: photos 1-3 of two people held out of training, as PNG,
 *   used to enroll them as "employees";
 * - data/replay/NNN.png: a loop of 640x480 gray door-camera scenes in which OTHER photos
 *   (4-10) of s36, s37 and the stranger s40 appear, scaled ~2x onto plain and noisy
 *   backgrounds, with empty frames between people;
 * - data/replay/manifest.json: for every frame, who is in it and where (ground truth for
 *   tests and the benchmark).
 *
 * Deterministic (seeded), so re-running it reproduces the same files:
 *   npx tsx scripts/make-replay.ts [--check]
 * --check runs the Haar detector over the result and fails if a face is missed or found
 * in an empty frame.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createGrayImage, type Box, type GrayImage } from '../src/vision/image.js';
import { encodePng, readGrayImage } from '../src/vision/image-io.js';
import { resampleRect } from '../src/vision/preprocess.js';
import { mulberry32 } from '../src/util/random.js';

export const SCENE_WIDTH = 640;
export const SCENE_HEIGHT = 480;

export type Background = 'plain' | 'noisy' | 'textured';

/** A door-camera-ish background: a lit wall gradient, a door frame, optional sensor noise or texture. */
export function makeBackground(
  kind: Background,
  seed: number,
  width = SCENE_WIDTH,
  height = SCENE_HEIGHT,
): GrayImage {
  const rnd = mulberry32(seed);
  const data = new Uint8Array(width * height);
  const base = 110 + rnd() * 60;
  const tilt = (rnd() - 0.5) * 60;
  const frameLeft = Math.round(width * (0.12 + rnd() * 0.05));
  const frameRight = Math.round(width * (0.83 + rnd() * 0.05));
  // Sensor noise drawn per 2x2 block (like a noisy, slightly soft camera; 4x smaller PNGs).
  const noise = new Float32Array(Math.ceil(width / 2) * Math.ceil(height / 2));
  if (kind === 'noisy') for (let i = 0; i < noise.length; i++) noise[i] = (rnd() + rnd() + rnd() - 1.5) * 12;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = base + (tilt * x) / width - (25 * y) / height;
      if (Math.abs(x - frameLeft) < 10 || Math.abs(x - frameRight) < 10) v -= 55; // door frame
      if (kind === 'textured')
        v += 22 * Math.sin(x / 9.3) * Math.sin(y / 13.1) + 14 * Math.sin((x + 2 * y) / 6.7); // wallpaper
      if (kind === 'noisy') v += noise[(y >> 1) * Math.ceil(width / 2) + (x >> 1)];
      data[y * width + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return createGrayImage(width, height, data);
}

/**
 * A photo printed on paper: the photo with a white (235) border of `border` px on every side,
 * as a print held up to the camera shows it (the liveness attack fixtures and noise floor).
 */
export function printOnPaper(photo: GrayImage, border = 8): GrayImage {
  const width = photo.width + 2 * border;
  const height = photo.height + 2 * border;
  const paper = createGrayImage(width, height, new Uint8Array(width * height).fill(235));
  for (let y = 0; y < photo.height; y++)
    paper.data.set(
      photo.data.subarray(y * photo.width, (y + 1) * photo.width),
      (y + border) * width + border,
    );
  return paper;
}

/**
 * Pastes `face` scaled by `scale` with its top-left at (x, y), blending the outer
 * `feather` pixels into the background so there is no hard photo edge. Returns the
 * rectangle the photo covers in the scene.
 */
export function pastePhoto(
  scene: GrayImage,
  face: GrayImage,
  x: number,
  y: number,
  scale: number,
  feather = 8,
): Box {
  const w = Math.round(face.width * scale);
  const h = Math.round(face.height * scale);
  const scaled = resampleRect(face, { x: 0, y: 0, width: face.width, height: face.height }, w, h);
  for (let j = 0; j < h; j++) {
    const sy = y + j;
    if (sy < 0 || sy >= scene.height) continue;
    for (let i = 0; i < w; i++) {
      const sx = x + i;
      if (sx < 0 || sx >= scene.width) continue;
      const edge = Math.min(i, j, w - 1 - i, h - 1 - j);
      const alpha = feather > 0 ? Math.min(1, (edge + 0.5) / feather) : 1;
      const k = sy * scene.width + sx;
      scene.data[k] = Math.round(alpha * scaled.data[j * w + i] + (1 - alpha) * scene.data[k]);
    }
  }
  return { x, y, width: w, height: h };
}

export interface ManifestFrame {
  readonly file: string;
  /** ORL subject (e.g. "s36") or null for an empty frame. */
  readonly person: string | null;
  readonly photo: number | null;
  /** Where the pasted photo lies in the scene (the face is inside it). */
  readonly photoBox: Box | null;
  readonly background: Background;
}

export interface Manifest {
  readonly source: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly employees: string[];
  readonly strangers: string[];
  readonly frames: ManifestFrame[];
}

interface Segment {
  person: string | null;
  photos: number[];
  background: Background;
}

const EMPLOYEES = ['s36', 's37'];
const STRANGERS = ['s40'];
const ENROLL_PHOTOS = [1, 2, 3];
/** Each person walks up with 7 photos they were not enrolled with, then the hall is empty. */
const SEGMENTS: Segment[] = [
  { person: null, photos: [0, 0, 0], background: 'plain' },
  { person: 's36', photos: [4, 5, 6, 7, 8, 9, 10], background: 'plain' },
  { person: null, photos: [0, 0, 0], background: 'noisy' },
  { person: 's37', photos: [4, 5, 6, 7, 8, 9, 10], background: 'noisy' },
  { person: null, photos: [0, 0, 0], background: 'textured' },
  { person: 's40', photos: [4, 5, 6, 7, 8, 9, 10], background: 'textured' },
  { person: null, photos: [0, 0], background: 'plain' },
];

export async function buildDemo(root: string): Promise<Manifest> {
  const orl = join(root, 'data/orl_faces');
  const enrollDir = join(root, 'data/demo/enroll');
  const replayDir = join(root, 'data/replay');
  await rm(enrollDir, { recursive: true, force: true });
  await mkdir(enrollDir, { recursive: true });
  for (const person of EMPLOYEES) {
    await mkdir(join(enrollDir, person), { recursive: true });
    for (const n of ENROLL_PHOTOS) {
      const img = await readGrayImage(join(orl, person, `${n}.pgm`));
      await writeFile(join(enrollDir, person, `${n}.png`), await encodePng(img));
    }
  }

  await mkdir(replayDir, { recursive: true });
  for (const name of await readdir(replayDir))
    if (/^\d+\.png$/.test(name) || name === 'manifest.json') await rm(join(replayDir, name));

  const frames: ManifestFrame[] = [];
  const rnd = mulberry32(20261127);
  let index = 0;
  for (const [s, segment] of SEGMENTS.entries()) {
    const background = segment.background;
    for (const photo of segment.photos) {
      const scene = makeBackground(background, 1000 + s, SCENE_WIDTH, SCENE_HEIGHT);
      let photoBox: Box | null = null;
      if (segment.person) {
        const face = await readGrayImage(join(orl, segment.person, `${photo}.pgm`));
        const scale = 1.9 + rnd() * 0.3; // the person steps closer
        const w = face.width * scale;
        const x = Math.round((SCENE_WIDTH - w) / 2 + (rnd() - 0.5) * 120);
        const y = Math.round(80 + (rnd() - 0.5) * 60);
        photoBox = pastePhoto(scene, face, x, y, scale);
      }
      const file = `${String(index).padStart(3, '0')}.png`;
      await writeFile(join(replayDir, file), await encodePng(scene));
      frames.push({
        file,
        person: segment.person,
        photo: segment.person ? photo : null,
        photoBox,
        background,
      });
      index += 1;
    }
  }
  const manifest: Manifest = {
    source:
      'ORL / AT&T "The Database of Faces" (AT&T Laboratories Cambridge), composited by scripts/make-replay.ts',
    width: SCENE_WIDTH,
    height: SCENE_HEIGHT,
    fps: 10,
    employees: EMPLOYEES,
    strangers: STRANGERS,
    frames,
  };
  await writeFile(join(replayDir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

async function check(root: string, manifest: Manifest): Promise<number> {
  const { createFaceDetector } = await import('../src/vision/detector.js');
  const { DEFAULT_DETECTOR_CONFIG } = await import('../src/vision/config.js');
  const { silentLogger } = await import('../src/util/log.js');
  const detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
  let problems = 0;
  try {
    for (const frame of manifest.frames) {
      const boxes = await detector.detect(await readGrayImage(join(root, 'data/replay', frame.file)));
      const inside = frame.photoBox
        ? boxes.filter((b) =>
            contains(frame.photoBox as Box, { x: b.x + b.width / 2, y: b.y + b.height / 2 }),
          )
        : [];
      const ok = frame.person ? boxes.length === 1 && inside.length === 1 : boxes.length === 0;
      if (!ok) problems += 1;
      console.log(
        `${frame.file} ${frame.person ?? '-'} ${frame.background} faces=${boxes.length} ${ok ? 'ok' : 'PROBLEM'} ${JSON.stringify(boxes)}`,
      );
    }
  } finally {
    await detector.stop();
  }
  console.log(`${detector.name}: ${problems} problem frame(s)`);
  return problems;
}

function contains(box: Box, p: { x: number; y: number }): boolean {
  return p.x >= box.x && p.x <= box.x + box.width && p.y >= box.y && p.y <= box.y + box.height;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('make-replay.ts')) {
  const root = process.cwd();
  const manifest = await buildDemo(root);
  console.log(`wrote ${manifest.frames.length} replay frames and the enrollment photos`);
  if (process.argv.includes('--check')) {
    const problems = await check(root, manifest);
    if (problems > 0) process.exitCode = 1;
  }
}
