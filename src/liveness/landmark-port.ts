import { resolve } from 'node:path';
import { loadLandmarker } from '../model/landmarks/landmarker.js';
import { implausibleLandmarks } from '../vision/face-rules.js';
import type { LandmarkPort } from './evaluate-run.js';

/**
 * Landmarks for `evaluate --liveness`, exactly as the live path gets them: the same landmark
 * model folder (`vision.landmarks.model`, default models/landmarks/faceapi-68) and the same
 * plausibility rule the FaceCropper applies — implausible landmarks are dropped (the
 * cropper's fallback), so they add no liveness evidence, as in the daemon.
 */
export async function loadLandmarkPort(
  dir = 'models/landmarks/faceapi-68',
): Promise<{ port: LandmarkPort; dispose: () => void }> {
  const landmarker = await loadLandmarker(resolve(dir));
  const port: LandmarkPort = async (image, boxes) => {
    const found = await landmarker.locate(image, boxes);
    return found.map((lm, i) => (implausibleLandmarks(boxes[i], lm) === null ? lm.points : null));
  };
  return { port, dispose: () => landmarker.dispose() };
}
