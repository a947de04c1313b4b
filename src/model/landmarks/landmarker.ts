import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Box, GrayImage, Point } from '../../vision/image.js';
import { fiveFrom68, type FaceLandmarks } from '../../vision/landmarks.js';
import { resampleRect } from '../../vision/preprocess.js';
import { FaceLandmarkNet, LANDMARK_POINTS } from './landmark-net.js';

/**
 * Landmarks for detector boxes: the square around the box (grown by `boxScale`) is resampled
 * to the net's 112x112 input; with `refine`, a second pass runs on the square the first
 * pass's 68 points imply (the net was trained on boxes of another detector — face-api.js's
 * SSD — so the Haar box is only a first guess). Points are mapped back to image pixels.
 */
export interface LandmarkerOptions {
  /** Side of the first-pass square as a multiple of the box side. */
  readonly boxScale: number;
  /** Run the second pass on the square the first landmarks imply. */
  readonly refine: boolean;
  /** Second pass: side of the square as a multiple of the 68 points' extent. */
  readonly refineScale: number;
}

export const DEFAULT_LANDMARKER_OPTIONS: LandmarkerOptions = {
  boxScale: 1.1,
  refine: true,
  refineScale: 1.1,
};

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
  }

  get name(): string {
    return this.net.variant;
  }

  /** Landmarks of each box (one batch per pass). */
  async locate(image: GrayImage, boxes: readonly Box[]): Promise<FaceLandmarks[]> {
    if (boxes.length === 0) return [];
    const first = boxes.map((b) =>
      squareAround(b.x + b.width / 2, b.y + b.height / 2, b.width * this.options.boxScale),
    );
    let points = await this.pass(image, first);
    if (this.options.refine) {
      const second = points.map((pts) => {
        let x0 = Infinity;
        let y0 = Infinity;
        let x1 = -Infinity;
        let y1 = -Infinity;
        for (const p of pts) {
          x0 = Math.min(x0, p.x);
          y0 = Math.min(y0, p.y);
          x1 = Math.max(x1, p.x);
          y1 = Math.max(y1, p.y);
        }
        const side = Math.max(x1 - x0, y1 - y0) * this.options.refineScale;
        return squareAround((x0 + x1) / 2, (y0 + y1) / 2, side);
      });
      points = await this.pass(image, second);
    }
    return points.map((pts) => ({ points: pts, five: fiveFrom68(pts) }));
  }

  private async pass(image: GrayImage, squares: readonly Box[]): Promise<Point[][]> {
    const size = this.net.inputSize;
    const inputs = squares.map((sq) => resampleRect(image, sq, size, size));
    const raw = await this.net.predict(inputs);
    return raw.map((v, i) => {
      const sq = squares[i];
      const pts: Point[] = [];
      for (let k = 0; k < LANDMARK_POINTS; k++)
        pts.push({ x: sq.x + v[2 * k] * sq.width, y: sq.y + v[2 * k + 1] * sq.height });
      return pts;
    });
  }

  dispose(): void {
    this.net.dispose();
  }
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
