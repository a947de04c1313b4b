import type { Box, GrayImage } from '../vision/image.js';
import { EDGE_GEOMETRY } from './edges.js';

/**
 * A recapture cue (measured by `evaluate --liveness`, not used by the door): a face shown
 * on a screen or a print was imaged twice (display/print, then the door camera), which
 * loses fine detail, while the bezel, the hand and the room around it were imaged once.
 * Score: mean absolute 4-neighbour Laplacian over the inner face (the central 60 % of the
 * box) divided by the same over the ring around it (0.6–1.8 face sizes from the centre,
 * the edge signal's ring), clipped to the image. NaN when either part has no pixels.
 */
export function detailRatio(image: GrayImage, box: Box): number {
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const innerX = 0.3 * box.width;
  const innerY = 0.3 * box.height;
  const outX = EDGE_GEOMETRY.ringOuter * box.width;
  const outY = EDGE_GEOMETRY.ringOuter * box.height;
  const inX = EDGE_GEOMETRY.ringInner * box.width;
  const inY = EDGE_GEOMETRY.ringInner * box.height;
  const x0 = Math.max(1, Math.floor(cx - outX));
  const x1 = Math.min(image.width - 1, Math.ceil(cx + outX));
  const y0 = Math.max(1, Math.floor(cy - outY));
  const y1 = Math.min(image.height - 1, Math.ceil(cy + outY));
  const d = image.data;
  const w = image.width;
  let face = 0;
  let faceN = 0;
  let ring = 0;
  let ringN = 0;
  for (let y = y0; y < y1; y++) {
    const dy = Math.abs(y - cy);
    for (let x = x0; x < x1; x++) {
      const dx = Math.abs(x - cx);
      const inFace = dx <= innerX && dy <= innerY;
      const inRing = !(dx < inX && dy < inY);
      if (!inFace && !inRing) continue;
      const i = y * w + x;
      const lap = Math.abs(4 * d[i] - d[i - 1] - d[i + 1] - d[i - w] - d[i + w]);
      if (inFace) {
        face += lap;
        faceN++;
      } else {
        ring += lap;
        ringN++;
      }
    }
  }
  if (faceN === 0 || ringN === 0 || ring === 0) return Number.NaN;
  return face / faceN / (ring / ringN);
}
