import { join } from 'node:path';
import type { Box, GrayImage } from '../../src/vision/image.js';
import { readGrayImage } from '../../src/vision/image-io.js';
import { makeBackground, pastePhoto, type Background } from '../../scripts/make-replay.js';

export const REPO = join(import.meta.dirname, '..', '..');

export function orlPath(person: string, photo: number): string {
  return join(REPO, 'data', 'orl_faces', person, `${photo}.pgm`);
}

export interface PlacedFace {
  readonly person: string;
  readonly photo: number;
  /** Where the photo was pasted (the face is inside it). */
  readonly photoBox: Box;
}

/** A 640x480 scene with ORL photos pasted at the given places (scale ~2 like a person near the door). */
export async function composeScene(
  background: Background,
  faces: readonly { person: string; photo: number; x: number; y: number; scale?: number }[],
  seed = 7,
): Promise<{ image: GrayImage; faces: PlacedFace[] }> {
  const image = makeBackground(background, seed);
  const placed: PlacedFace[] = [];
  for (const f of faces) {
    const photo = await readGrayImage(orlPath(f.person, f.photo));
    placed.push({
      person: f.person,
      photo: f.photo,
      photoBox: pastePhoto(image, photo, f.x, f.y, f.scale ?? 2),
    });
  }
  return { image, faces: placed };
}

export function centre(box: Box): { x: number; y: number } {
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

export function inside(box: Box, p: { x: number; y: number }): boolean {
  return p.x >= box.x && p.x <= box.x + box.width && p.y >= box.y && p.y <= box.y + box.height;
}

/** Pearson correlation of two equally sized images. */
export function correlation(a: GrayImage, b: GrayImage): number {
  let sa = 0,
    sb = 0,
    saa = 0,
    sbb = 0,
    sab = 0;
  const n = a.data.length;
  for (let i = 0; i < n; i++) {
    const x = a.data[i],
      y = b.data[i];
    sa += x;
    sb += y;
    saa += x * x;
    sbb += y * y;
    sab += x * y;
  }
  const ma = sa / n,
    mb = sb / n;
  const den = Math.sqrt((saa / n - ma * ma) * (sbb / n - mb * mb));
  return den > 0 ? (sab / n - ma * mb) / den : 0;
}
