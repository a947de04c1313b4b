import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';
import { createGrayImage, type GrayImage } from './image.js';

/** Largest image side we decode; anything bigger is refused rather than eating the board's memory. */
export const MAX_IMAGE_SIDE = 8192;

/**
 * Parses a binary PGM (P5, maxval < 256). libvips in sharp's prebuilt binaries has no PGM
 * loader, and the ORL/Olivetti faces ship as PGM, so this tiny reader covers them.
 */
export function parsePgm(bytes: Uint8Array): GrayImage {
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < bytes.length && isSpace(bytes[pos])) pos++;
      if (bytes[pos] === 0x23 /* # */) {
        while (pos < bytes.length && bytes[pos] !== 0x0a) pos++;
        continue;
      }
      break;
    }
    const start = pos;
    while (pos < bytes.length && !isSpace(bytes[pos])) pos++;
    return Buffer.from(bytes.subarray(start, pos)).toString('ascii');
  };
  if (token() !== 'P5') throw new Error('not a binary PGM (P5) image');
  const width = Number(token());
  const height = Number(token());
  const maxval = Number(token());
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width <= 0 ||
    height <= 0 ||
    width > MAX_IMAGE_SIDE ||
    height > MAX_IMAGE_SIDE
  ) {
    throw new Error(`PGM has a bad size ${width}x${height}`);
  }
  if (!Number.isInteger(maxval) || maxval <= 0 || maxval > 255)
    throw new Error(`PGM maxval ${maxval} not supported (8-bit only)`);
  pos++; // exactly one whitespace byte after maxval
  const data = bytes.subarray(pos, pos + width * height);
  if (data.length !== width * height)
    throw new Error(`PGM is truncated: ${data.length} of ${width * height} pixel bytes`);
  const pixels = new Uint8Array(data);
  if (maxval !== 255)
    for (let i = 0; i < pixels.length; i++)
      pixels[i] = Math.round((Math.min(pixels[i], maxval) * 255) / maxval);
  return createGrayImage(width, height, pixels);
}

export function encodePgm(image: GrayImage): Buffer {
  return Buffer.concat([
    Buffer.from(`P5\n${image.width} ${image.height}\n255\n`, 'ascii'),
    Buffer.from(image.data),
  ]);
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function looksLikePgm(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === 0x50 /* P */ && bytes[1] === 0x35; /* 5 */
}

/**
 * Decodes an encoded image (JPEG, PNG, WebP, ... or binary PGM) to gray. Colour is turned
 * to luminance the way the camera path does it (sharp's greyscale, Rec. 601 weights).
 */
export async function decodeToGray(bytes: Uint8Array): Promise<GrayImage> {
  if (looksLikePgm(bytes)) return parsePgm(bytes);
  let result: { data: Buffer; info: OutputInfo };
  try {
    result = await sharp(bytes, { limitInputPixels: MAX_IMAGE_SIDE * MAX_IMAGE_SIDE })
      .rotate() // honour EXIF orientation of phone photos
      .greyscale()
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`cannot decode image: ${(err as Error).message}`);
  }
  const { width, height, channels } = result.info;
  if (channels !== 1) throw new Error(`decoded image has ${channels} channels, expected 1`);
  return createGrayImage(
    width,
    height,
    new Uint8Array(result.data.buffer, result.data.byteOffset, result.data.length),
  );
}

export async function readGrayImage(path: string): Promise<GrayImage> {
  const bytes = await readFile(path);
  try {
    return await decodeToGray(bytes);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

export async function encodePng(image: GrayImage): Promise<Buffer> {
  return sharp(Buffer.from(image.data), { raw: { width: image.width, height: image.height, channels: 1 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}
