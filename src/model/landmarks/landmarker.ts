import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Box, GrayImage, Point } from '../../vision/image.js';
import { fiveFrom68, pointBounds, type FaceLandmarks } from '../../vision/landmarks.js';
import { applySimilarity, warpSimilarity } from '../../vision/align.js';
import { resampleRect } from '../../vision/preprocess.js';
import { FaceLandmarkNet, LANDMARK_POINTS } from './landmark-net.js';

/**
 * Landmarks for detector boxes: a square around the box (side `boxScale` x the box width,
 * centre moved down by `boxShiftY` x the box width) is resampled to the net's 112x112 input
 * and the 68 points are mapped back to image pixels. With `refine`, a second pass runs on
 * the square the first pass's points imply, framed as the net's training boxes frame a face
 * (face-api.js trained it on SSD detector boxes padded to a square).
 */
export interface LandmarkerOptions {
  /** Side of the first-pass square as a multiple of the box width. */
  readonly boxScale: number;
  /** Shift of the first-pass square's centre below the box centre, as a fraction of the box width. */
  readonly boxShiftY: number;
  /** Run the second pass on the square the first landmarks imply (one more net pass). */
  readonly refine: boolean;
  /** Second pass: side of the square as a multiple of the 68 points' span (mean of width and height). */
  readonly refineScale: number;
  /**
   * A face whose eye line is tilted more than this (degrees) after the first pass gets one
   * more pass on the box square turned by that angle, so the net sees it upright (it was
   * trained on mostly upright faces); 0 = always, 90 = never.
   */
  readonly derollDeg: number;
}

/**
 * One pass on the square face-api.js's own detector (SSD MobileNet v1, whose boxes the net
 * was trained on, padded to a square) puts around a face, relative to our Haar box: side
 * 1.09 x the Haar box width, centre 0.01 x the width lower (medians over 170 ORL s01–s35
 * training photos where both found the face). The refinement pass is off: on realfaces-dev
 * it changed no figure beyond the set's noise (docs/evaluation.md) and costs a second net
 * pass (~14 ms CPU per face here).
 */
export const DEFAULT_LANDMARKER_OPTIONS: LandmarkerOptions = {
  boxScale: 1.09,
  boxShiftY: 0.01,
  refine: false,
  refineScale: 1.3,
  derollDeg: 10,
};

/** Where the net's training square sits on a face, relative to the 68 points' span: centre this far above their centre. */
const REFINE_SHIFT_UP = 0.1;

export interface LandmarkModelMetadata {
  readonly format: 'facegate-landmarks/1';
  readonly name: string;
  readonly manifest: string;
  readonly sha256: string;
  readonly source: string;
  readonly license: string;
}

export const LANDMARK_METADATA_FILE = 'facegate-landmarks.json';

export class FaceLandmarker {
  constructor(
    readonly net: FaceLandmarkNet,
    readonly options: LandmarkerOptions = DEFAULT_LANDMARKER_OPTIONS,
  ) {
    if (
      !(options.boxScale >= 0.8 && options.boxScale <= 2) ||
      !(options.refineScale >= 0.8 && options.refineScale <= 2)
    )
      throw new RangeError('landmarker scales must be in 0.8..2');
    if (!(Math.abs(options.boxShiftY) <= 0.5))
      throw new RangeError('landmarker boxShiftY must be in -0.5..0.5');
    if (!(options.derollDeg >= 0 && options.derollDeg <= 90))
      throw new RangeError('landmarker derollDeg must be in 0..90');
  }

  get name(): string {
    return this.net.variant;
  }

  /**
   * Landmarks of each box, 68 points in image pixels (one batch per pass): the first pass,
   * the refinement pass when asked (`options.refine` overrides the landmarker's own setting
   * for this call), then one upright pass for each face tilted over `derollDeg` (a 25°-tilted
   * ORL face's chip correlates 0.82 with the upright one's without it, over 0.9 with it:
   * test/vision/face-cropper.test.ts).
   */
  async locate(
    image: GrayImage,
    boxes: readonly Box[],
    options: { readonly refine?: boolean } = {},
  ): Promise<FaceLandmarks[]> {
    if (boxes.length === 0) return [];
    const o = this.options;
    const first = boxes.map((b) =>
      squareAround(b.x + b.width / 2, b.y + b.height / 2 + o.boxShiftY * b.width, b.width * o.boxScale),
    );
    let points = await this.pass(
      image,
      first.map((square) => ({ square, angle: 0 })),
    );
    if (options.refine ?? o.refine) {
      const second = points.map((pts) => {
        const { x0, y0, x1, y1 } = pointBounds(pts);
        const side = ((x1 - x0 + (y1 - y0)) / 2) * o.refineScale;
        return squareAround((x0 + x1) / 2, (y0 + y1) / 2 - REFINE_SHIFT_UP * side, side);
      });
      points = await this.pass(
        image,
        second.map((square) => ({ square, angle: 0 })),
      );
    }
    // Tilted heads: once more on the first square turned by the eye line's angle.
    const tilted: number[] = [];
    const turned: View[] = [];
    points.forEach((pts, i) => {
      const f = fiveFrom68(pts);
      const angle = Math.atan2(f.rightEye.y - f.leftEye.y, f.rightEye.x - f.leftEye.x);
      if (Math.abs(angle) * (180 / Math.PI) <= o.derollDeg) return;
      const b = boxes[i];
      const shift = o.boxShiftY * b.width;
      const centre = {
        x: b.x + b.width / 2 - Math.sin(angle) * shift,
        y: b.y + b.height / 2 + Math.cos(angle) * shift,
      };
      tilted.push(i);
      turned.push({ square: squareAround(centre.x, centre.y, b.width * o.boxScale), angle });
    });
    if (turned.length > 0) {
      const again = await this.pass(image, turned);
      tilted.forEach((i, k) => (points[i] = again[k]));
    }
    return points.map((pts) => ({ points: pts, five: fiveFrom68(pts) }));
  }

  /** One net pass over views (a square, turned by `angle` radians about its centre); points in image pixels. */
  private async pass(image: GrayImage, views: readonly View[]): Promise<Point[][]> {
    const size = this.net.inputSize;
    const transforms = views.map(({ square: sq, angle }) => {
      const s = sq.width / size;
      const a = s * Math.cos(angle);
      const b = s * Math.sin(angle);
      const cx = sq.x + sq.width / 2;
      const cy = sq.y + sq.height / 2;
      const h = size / 2;
      return { a, b, tx: cx - (a * h - b * h), ty: cy - (b * h + a * h) };
    });
    const inputs = views.map((v, i) =>
      v.angle === 0
        ? resampleRect(image, v.square, size, size)
        : warpSimilarity(image, transforms[i], size, size),
    );
    const raw = await this.net.predict(inputs);
    return raw.map((v, i) => {
      const t = transforms[i];
      const pts: Point[] = [];
      for (let k = 0; k < LANDMARK_POINTS; k++)
        pts.push(applySimilarity(t, { x: v[2 * k] * size, y: v[2 * k + 1] * size }));
      return pts;
    });
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** A landmark net input: `square` in image pixels, turned by `angle` radians about its centre. */
interface View {
  readonly square: Box;
  readonly angle: number;
}

function squareAround(cx: number, cy: number, side: number): Box {
  const s = Math.max(side, 4);
  return { x: cx - s / 2, y: cy - s / 2, width: s, height: s };
}

/**
 * Loads a landmark model folder (`facegate-landmarks.json` + the tfjs weights it names),
 * from disk only; the weights' sha256 must match the metadata.
 */
export async function loadLandmarker(
  dir: string,
  options: LandmarkerOptions = DEFAULT_LANDMARKER_OPTIONS,
): Promise<FaceLandmarker> {
  const root = resolve(dir);
  const metaPath = join(root, LANDMARK_METADATA_FILE);
  if (!existsSync(metaPath))
    throw new Error(`${root}: no ${LANDMARK_METADATA_FILE} (not a landmark model folder)`);
  const meta = JSON.parse(await readFile(metaPath, 'utf8')) as Partial<LandmarkModelMetadata>;
  if (
    meta.format !== 'facegate-landmarks/1' ||
    typeof meta.manifest !== 'string' ||
    meta.manifest.includes('..') ||
    meta.manifest.startsWith('/') ||
    !/^[0-9a-f]{64}$/.test(String(meta.sha256))
  ) {
    throw new Error(`${metaPath}: not a facegate-landmarks/1 metadata file with a manifest and a sha256`);
  }
  const net = await FaceLandmarkNet.load({ manifestPath: join(root, meta.manifest), sha256: meta.sha256 });
  return new FaceLandmarker(net, options);
}
