import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeBackground, pastePhoto, printOnPaper } from '../../scripts/make-replay.js';
import { warpGray } from '../../src/liveness/geometry.js';
import { encodePng, readGrayImage } from '../../src/vision/image-io.js';
import { handHeld } from './synthetic-face.js';

/**
 * A small liveness evaluation set built from the committed ORL faces (AT&T), generated on
 * the fly (deterministic):
 *
 * - `attack/rigid-photo/`: ONE photo of `person` on a white sheet, moved in the hand —
 *   each frame the whole scene content of the sheet is warped by one homography
 *   (rotation, scale, shift, a slight tilt). A flat object: every landmark moves as a plane.
 * - `bona-fide/pose-change/`: the same person's ORL photos with different head poses and
 *   expressions, one after another at the same place: landmark motion no plane explains
 *   (a stand-in for a live person; ORL has no video).
 */
export async function writeLivenessFixture(dir: string, person = 's37'): Promise<void> {
  const attack = join(dir, 'attack', 'rigid-photo');
  const bona = join(dir, 'bona-fide', 'pose-change');
  mkdirSync(attack, { recursive: true });
  mkdirSync(bona, { recursive: true });
  const photo = await readGrayImage(join('data/orl_faces', person, '1.pgm'));
  const sheet = makeBackground('plain', 7);
  const paper = printOnPaper(photo);
  pastePhoto(sheet, paper, 205, 60, 2.5, 0);
  for (let i = 0; i < 12; i++) {
    const h = handHeld(-6 + i * 1.2, 0.92 + i * 0.02, (i % 4) * 6 - 9, (i % 3) * 5 - 5, (i - 6) * 0.00006);
    await writeFile(
      join(attack, `${String(i).padStart(3, '0')}.png`),
      await encodePng(warp(sheet, h, makeBackground('plain', 9))),
    );
  }
  const poses = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  for (const [i, p] of poses.entries()) {
    const scene = makeBackground('plain', 9);
    const face = await readGrayImage(join('data/orl_faces', person, `${p}.pgm`));
    pastePhoto(scene, face, 205 + 8, 60 + 8, 2.5);
    await writeFile(join(bona, `${String(i).padStart(3, '0')}.png`), await encodePng(scene));
  }
}

/** `src` seen through the homography `h` (src → dst), over `background`; bilinear. */
export const warp = warpGray;
