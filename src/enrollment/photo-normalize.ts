import sharp from 'sharp';

/**
 * Enrollment photos as the admin sends them: an ordinary phone photo (12-48 MP, 3-10 MB,
 * often stored sideways with an EXIF Orientation tag) would exceed the request limit and
 * carries far more pixels than the door uses (it shrinks every photo to
 * `enrollment.workingMaxSide`, 1024 px by default, before face detection). So the admin
 * tool applies the EXIF rotation, scales the photo down to `maxSide` and re-encodes it as
 * JPEG; the metadata (GPS, camera) is dropped on the way.
 */
export interface NormalizeOptions {
  /** Longest side after scaling, px (never enlarged). Default 1024 (the door's workingMaxSide). */
  readonly maxSide?: number;
  /** JPEG quality 1..100. Default 90 (faces keep their fine texture). */
  readonly quality?: number;
  /** Refuse inputs declaring more pixels than this (decompression-bomb guard). Default 100 MP. */
  readonly maxInputPixels?: number;
}

export interface NormalizedPhoto {
  readonly jpeg: Buffer;
  readonly width: number;
  readonly height: number;
  readonly originalBytes: number;
  /** EXIF orientation that was applied (1 = none). */
  readonly orientation: number;
}

export const DEFAULT_MAX_SIDE = 1024;

export class PhotoNormalizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhotoNormalizeError';
  }
}

/** Rotates by EXIF, scales the longer side down to `maxSide`, re-encodes as JPEG. */
export async function normalizePhoto(
  bytes: Uint8Array,
  options: NormalizeOptions = {},
): Promise<NormalizedPhoto> {
  const maxSide = options.maxSide ?? DEFAULT_MAX_SIDE;
  if (!Number.isInteger(maxSide) || maxSide < 64 || maxSide > 8192)
    throw new PhotoNormalizeError(`maxSide must be an integer 64..8192, got ${maxSide}`);
  const quality = options.quality ?? 90;
  const limitInputPixels = options.maxInputPixels ?? 100_000_000;
  let orientation = 1;
  try {
    const meta = await sharp(bytes, { limitInputPixels }).metadata();
    orientation = meta.orientation ?? 1;
    const { data, info } = await sharp(bytes, { limitInputPixels })
      .rotate() // applies the EXIF orientation, then drops the tag
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality, mozjpeg: false })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, width: info.width, height: info.height, originalBytes: bytes.length, orientation };
  } catch (err) {
    throw new PhotoNormalizeError(`cannot read the photo: ${(err as Error).message}`);
  }
}

/** Bytes of `n` raw bytes in standard base64 (how photos travel inside a request). */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}
