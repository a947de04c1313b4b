import { resolve } from 'node:path';
import type { Logger } from '../util/log.js';
import type { CropGeometry } from '../vision/face-chip.js';
import { FaceCropper } from '../vision/face-cropper.js';
import { loadLandmarker } from './landmarks/landmarker.js';

/** Where the committed landmark model lives (models/landmarks/faceapi-68, see its README). */
export const DEFAULT_LANDMARK_MODEL = 'models/landmarks/faceapi-68';

/**
 * THE FaceCropper for a model's declared geometry: an aligned geometry loads the landmark
 * model from `landmarkDir` (disk only); a box geometry needs none. Throws when the
 * landmark model is missing or damaged: an aligned model without landmarks would see
 * unaligned faces everywhere, so that is a start-up error, not a silent fallback.
 */
export async function createFaceCropper(
  geometry: CropGeometry,
  landmarkDir: string,
  logger: Logger,
): Promise<FaceCropper> {
  if (geometry.kind === 'box') return new FaceCropper(null, geometry);
  const landmarker = await loadLandmarker(resolve(landmarkDir));
  logger
    .child({ module: 'face-cropper' })
    .info(
      { landmarks: landmarker.name, dir: landmarkDir, geometry },
      `face cropper ready (landmarks → ${fitName(geometry.fit)} similarity alignment → chip)`,
    );
  return new FaceCropper(landmarker, geometry);
}

/** How the chip is fitted, for the log: dlib's 33 landmarks, or the five points. */
function fitName(fit: 'dlib-33' | 'five' | undefined): string {
  return fit === 'dlib-33' ? "dlib's 33-point" : '5-point';
}
