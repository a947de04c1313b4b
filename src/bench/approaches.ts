import { join } from 'node:path';
import { createGrayImage, type Box, type GrayImage } from '../vision/image.js';
import { readGrayImage } from '../vision/image-io.js';
import { resampleRect } from '../vision/preprocess.js';
import { mulberry32 } from '../util/random.js';

/**
 * Walk-up sequences for the real-path bench: at camera rate, the hall is empty, then a person
 * steps up to the door (their ORL photo grows and drifts over `walkFrames` frames, the photo
 * changing every few frames like a face that moves), then the hall is empty again. The
 * scenes are made like `data/replay` (scripts/make-replay.ts: a lit wall, a door frame,
 * plain / noisy / wallpaper backgrounds, the photo feathered in) but rendered per frame on
 * demand, so a long run costs no memory for stored frames.
 */

export type ApproachBackground = 'plain' | 'noisy' | 'textured';

export interface Approach {
  /** ORL subject, e.g. "s36". */
  readonly person: string;
  /** True for an enrolled person (a grant is expected); false for a stranger. */
  readonly enrolled: boolean;
  /** Index of the first frame the person is in. */
  readonly firstFrame: number;
  /** Frames the person is in. */
  readonly frames: number;
}

export interface ApproachScriptOptions {
  /** Folder with the ORL subjects (sNN/M.pgm). */
  readonly orlDir: string;
  /** Enrolled people who walk up in turn. */
  readonly employees: readonly string[];
  /** Strangers who walk up now and then (never enrolled). */
  readonly strangers: readonly string[];
  /** How many enrolled approaches (every `strangerEvery`-th approach is a stranger, extra). */
  readonly approaches: number;
  readonly strangerEvery: number;
  /** Frames of empty hall before each approach. */
  readonly gapFrames: number;
  /** Frames a person is in view. */
  readonly walkFrames: number;
  /** ORL photo numbers shown during a walk (not the enrollment photos 1-3). */
  readonly photos: readonly number[];
  readonly width: number;
  readonly height: number;
  readonly seed: number;
}

export const DEFAULT_APPROACH_OPTIONS: Omit<ApproachScriptOptions, 'orlDir'> = {
  employees: ['s36', 's37'],
  strangers: ['s40'],
  approaches: 20,
  strangerEvery: 5,
  gapFrames: 45,
  walkFrames: 75,
  photos: [4, 5, 6, 7, 8, 9, 10],
  width: 640,
  height: 480,
  seed: 20261130,
};

/** A lit wall gradient with a door frame and optional noise or wallpaper (as scripts/make-replay.ts). */
export function renderBackground(
  kind: ApproachBackground,
  seed: number,
  width: number,
  height: number,
): GrayImage {
  const rnd = mulberry32(seed);
  const data = new Uint8Array(width * height);
  const base = 110 + rnd() * 60;
  const tilt = (rnd() - 0.5) * 60;
  const frameLeft = Math.round(width * (0.12 + rnd() * 0.05));
  const frameRight = Math.round(width * (0.83 + rnd() * 0.05));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = base + (tilt * x) / width - (25 * y) / height;
      if (Math.abs(x - frameLeft) < 10 || Math.abs(x - frameRight) < 10) v -= 55;
      if (kind === 'textured')
        v += 22 * Math.sin(x / 9.3) * Math.sin(y / 13.1) + 14 * Math.sin((x + 2 * y) / 6.7);
      if (kind === 'noisy') v += (rnd() + rnd() + rnd() - 1.5) * 12;
      data[y * width + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return createGrayImage(width, height, data);
}

/** Pastes `face` scaled to `w`x`h` at (x, y) into `scene` with a feathered edge; returns the covered box. */
function paste(
  scene: GrayImage,
  face: GrayImage,
  x: number,
  y: number,
  w: number,
  h: number,
  feather = 8,
): Box {
  const scaled = resampleRect(face, { x: 0, y: 0, width: face.width, height: face.height }, w, h);
  for (let j = 0; j < h; j++) {
    const sy = y + j;
    if (sy < 0 || sy >= scene.height) continue;
    for (let i = 0; i < w; i++) {
      const sx = x + i;
      if (sx < 0 || sx >= scene.width) continue;
      const alpha = Math.min(1, (Math.min(i, j, w - 1 - i, h - 1 - j) + 0.5) / feather);
      const k = sy * scene.width + sx;
      scene.data[k] = Math.round(alpha * scaled.data[j * w + i] + (1 - alpha) * scene.data[k]);
    }
  }
  return { x, y, width: w, height: h };
}

/**
 * The approach script: which frame shows whom, and a renderer for frame i. Frames are made
 * fresh on every call (a camera hands over a new buffer per frame too).
 */
export class ApproachScript {
  readonly approaches: readonly Approach[];
  readonly length: number;
  private readonly backgrounds: GrayImage[];
  private readonly photos = new Map<string, GrayImage>();
  private readonly walkers: {
    approach: Approach;
    x0: number;
    y0: number;
    dx: number;
    dy: number;
    bg: number;
  }[] = [];

  private constructor(
    private readonly o: ApproachScriptOptions,
    photos: Map<string, GrayImage>,
  ) {
    this.photos = photos;
    this.backgrounds = (['plain', 'noisy', 'textured'] as const).map((k, i) =>
      renderBackground(k, o.seed + i, o.width, o.height),
    );
    const rnd = mulberry32(o.seed);
    const list: Approach[] = [];
    let frame = 0;
    let enrolled = 0;
    let n = 0;
    while (enrolled < o.approaches) {
      n += 1;
      const stranger = o.strangers.length > 0 && o.strangerEvery > 0 && n % o.strangerEvery === 0;
      const person = stranger
        ? o.strangers[(n / o.strangerEvery - 1) % o.strangers.length]
        : o.employees[enrolled % o.employees.length];
      if (!stranger) enrolled += 1;
      frame += o.gapFrames;
      const approach: Approach = { person, enrolled: !stranger, firstFrame: frame, frames: o.walkFrames };
      list.push(approach);
      this.walkers.push({
        approach,
        x0: Math.round(o.width * (0.3 + rnd() * 0.15)),
        y0: Math.round(o.height * (0.12 + rnd() * 0.1)),
        dx: (rnd() - 0.5) * 1.2,
        dy: (rnd() - 0.5) * 0.6,
        bg: n % this.backgrounds.length,
      });
      frame += o.walkFrames;
    }
    this.approaches = list;
    this.length = frame + o.gapFrames;
  }

  /** Reads the photos of everyone in the script. Errors name the missing file. */
  static async load(o: ApproachScriptOptions): Promise<ApproachScript> {
    if (o.approaches < 1 || o.walkFrames < 1 || o.gapFrames < 0 || o.photos.length === 0)
      throw new RangeError('approach script needs approaches >= 1, walkFrames >= 1, gapFrames >= 0, photos');
    const photos = new Map<string, GrayImage>();
    for (const person of [...o.employees, ...o.strangers])
      for (const p of o.photos)
        photos.set(`${person}/${p}`, await readGrayImage(join(o.orlDir, person, `${p}.pgm`)));
    return new ApproachScript(o, photos);
  }

  /** The approach frame `index` belongs to, or null for an empty hall. */
  approachAt(index: number): Approach | null {
    const i = index % this.length;
    return this.approaches.find((a) => i >= a.firstFrame && i < a.firstFrame + a.frames) ?? null;
  }

  /** Renders frame `index` (wraps around at the end of the script). */
  render(index: number): GrayImage {
    const i = index % this.length;
    const walker = this.walkers.find(
      (w) => i >= w.approach.firstFrame && i < w.approach.firstFrame + w.approach.frames,
    );
    const bg = this.backgrounds[walker ? walker.bg : 0];
    const scene = createGrayImage(bg.width, bg.height, new Uint8Array(bg.data));
    if (!walker) return scene;
    const t = i - walker.approach.firstFrame;
    // The photo changes every 6 frames (0.2 s at 30 fps): pose and expression change while walking.
    const photo = this.o.photos[Math.floor(t / 6) % this.o.photos.length];
    const face = this.photos.get(`${walker.approach.person}/${photo}`) as GrayImage;
    // Steps closer: 1.8x → 2.4x of the 92x112 photo (a 165-220 px face box at 640x480).
    const scale = 1.8 + (0.6 * t) / Math.max(1, walker.approach.frames - 1);
    const w = Math.round(face.width * scale);
    const h = Math.round(face.height * scale);
    const x = Math.round(walker.x0 + walker.dx * t - (w - face.width * 1.8) / 2);
    const y = Math.round(walker.y0 + walker.dy * t - (h - face.height * 1.8) / 3);
    paste(scene, face, x, y, w, h);
    return scene;
  }
}
