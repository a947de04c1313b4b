import { existsSync } from 'node:fs';
import type { Logger } from '../util/log.js';
import type { HaarEngine } from './haar-engine.js';
import { createNativeHaarEngine } from './haar-native.js';
import { createWasmHaarEngine } from './haar-wasm.js';
import type { Box, EyePair, GrayImage, Point } from './image.js';
import { resampleRect } from './preprocess.js';

/**
 * Finds the two eyes inside a Haar face box with OpenCV's eye cascades (plain eyes first,
 * then the one trained on eyeglasses). Only the upper part of the box is searched, at a
 * fixed resolution, and the best left/right pair is chosen by geometry. Returns null when
 * no plausible pair is found: the caller falls back to the plain box and flags it.
 */
export interface EyeFinder {
  readonly name: string;
  find(image: GrayImage, face: Box): Promise<EyeSearch>;
  stop(): Promise<void>;
}

export interface EyeSearch {
  readonly eyes: EyePair | null;
  /** Which cascade found them ('none' when not found). */
  readonly method: 'eye' | 'eyeglasses' | 'none';
}

export const DEFAULT_EYE_CASCADES = {
  eye: '/usr/share/opencv4/haarcascades/haarcascade_eye.xml',
  eyeglasses: '/usr/share/opencv4/haarcascades/haarcascade_eye_tree_eyeglasses.xml',
} as const;

export interface EyeFinderOptions {
  readonly backend: 'auto' | 'native' | 'wasm';
  readonly cascades?: { readonly eye: string; readonly eyeglasses: string };
  /** Native OpenCV threads (0 = OpenCV default). */
  readonly threads?: number;
}

/** The eye search region inside a face box, as fractions of the box. */
const REGION = { top: 0.15, bottom: 0.6, left: 0.0, right: 1.0 } as const;
/** The region is resampled to this width before the cascade runs (box-size independent). */
const REGION_WIDTH = 120;

export async function createEyeFinder(options: EyeFinderOptions, logger: Logger): Promise<EyeFinder> {
  const log = logger.child({ module: 'eyes' });
  const cascades = options.cascades ?? DEFAULT_EYE_CASCADES;
  for (const path of [cascades.eye, cascades.eyeglasses]) {
    if (!existsSync(path))
      throw new Error(`eye cascade not found: ${path} (Debian: apt-get install opencv-data)`);
  }
  const make = async (path: string): Promise<HaarEngine> => {
    if (options.backend !== 'wasm') {
      try {
        return createNativeHaarEngine(path, options.threads ?? 1);
      } catch (err) {
        if (options.backend === 'native') throw err;
        log.warn(
          { err: (err as Error).message },
          'native OpenCV unavailable, eye finder uses WebAssembly OpenCV',
        );
      }
    }
    return createWasmHaarEngine(path);
  };
  const eye = await make(cascades.eye);
  let glasses: HaarEngine;
  try {
    glasses = await make(cascades.eyeglasses);
  } catch (err) {
    await eye.stop();
    throw err;
  }
  log.info({ engine: eye.name }, `eye finder: ${eye.name}`);
  return new CascadeEyeFinder(eye, glasses);
}

/** Two eye cascades (plain, eyeglasses) on any HaarEngine; exported for tests. */
export class CascadeEyeFinder implements EyeFinder {
  readonly name: string;
  constructor(
    private readonly eye: HaarEngine,
    private readonly glasses: HaarEngine,
  ) {
    this.name = `haar-eyes/${eye.name}`;
  }

  async find(image: GrayImage, face: Box): Promise<EyeSearch> {
    if (!(face.width >= 16 && face.height >= 16)) return { eyes: null, method: 'none' };
    const region: Box = {
      x: face.x + REGION.left * face.width,
      y: face.y + REGION.top * face.height,
      width: (REGION.right - REGION.left) * face.width,
      height: (REGION.bottom - REGION.top) * face.height,
    };
    const scale = REGION_WIDTH / region.width;
    const regionH = Math.max(24, Math.round(region.height * scale));
    const patch = resampleRect(image, region, REGION_WIDTH, regionH);
    // pad: no replicated border around the eye region (the eyes are well inside it).
    const request = {
      scaledWidth: patch.width,
      scaledHeight: patch.height,
      // An eye is ~1/5 of the face width; allow a generous range.
      minSize: Math.round(REGION_WIDTH * 0.1),
      scaleFactor: 1.05,
      minNeighbors: 3,
      pad: 0,
    };
    for (const [engine, method] of [
      [this.eye, 'eye'],
      [this.glasses, 'eyeglasses'],
    ] as const) {
      const flat = await engine.detect(patch, request);
      const pair = bestEyePair(flat, REGION_WIDTH);
      if (pair) {
        const back = (p: Point): Point => ({ x: region.x + p.x / scale, y: region.y + p.y / scale });
        return { eyes: { left: back(pair.left), right: back(pair.right) }, method };
      }
    }
    return { eyes: null, method: 'none' };
  }

  async stop(): Promise<void> {
    await Promise.all([this.eye.stop(), this.glasses.stop()]);
  }
}

/**
 * Picks the most plausible eye pair from cascade hits [x,y,w,h,...] in a region `width`
 * wide that spans the face box's width: one hit in each half, nearly level, of similar
 * size, a plausible distance apart. Returns eye centres in region coordinates.
 */
export function bestEyePair(flat: ArrayLike<number>, width: number): EyePair | null {
  const hits: { cx: number; cy: number; size: number }[] = [];
  for (let i = 0; i + 3 < flat.length; i += 4) {
    hits.push({
      cx: flat[i] + flat[i + 2] / 2,
      cy: flat[i + 1] + flat[i + 3] / 2,
      size: (flat[i + 2] + flat[i + 3]) / 2,
    });
  }
  let best: EyePair | null = null;
  let bestCost = Infinity;
  for (const l of hits) {
    for (const r of hits) {
      if (!(l.cx < width * 0.5 && r.cx > width * 0.5)) continue;
      const dx = r.cx - l.cx;
      const dy = r.cy - l.cy;
      const distance = dx / width;
      if (distance < 0.25 || distance > 0.7) continue;
      // Heads at a door tilt little: more than ~25 degrees is a false hit.
      if (Math.abs(dy) > dx * 0.45) continue;
      const sizeRatio = Math.max(l.size, r.size) / Math.min(l.size, r.size);
      if (sizeRatio > 1.8) continue;
      // Prefer level, equally sized, symmetric pairs about 0.4 of the face width apart.
      const symmetry = Math.abs((l.cx + r.cx) / 2 - width / 2) / width;
      const cost = Math.abs(dy) / dx + (sizeRatio - 1) * 0.5 + Math.abs(distance - 0.4) + symmetry * 2;
      if (cost < bestCost) {
        bestCost = cost;
        best = { left: { x: l.cx, y: l.cy }, right: { x: r.cx, y: r.cy } };
      }
    }
  }
  return best;
}
