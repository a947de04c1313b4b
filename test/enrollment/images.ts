import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { createGrayImage, type GrayImage } from '../../src/vision/image.js';

/** Test images built from the committed ORL photos (sharp cannot read PGM). */

export function readPgm(path: string): GrayImage {
  const bytes = readFileSync(path);
  // P5 header: magic, width, height, maxval, each separated by whitespace (no comments in ORL files).
  const header = bytes.subarray(0, 64).toString('latin1');
  const match = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(header);
  if (!match) throw new Error(`${path} is not a binary PGM`);
  const [whole, w, h] = match;
  const width = Number(w);
  const height = Number(h);
  return createGrayImage(
    width,
    height,
    new Uint8Array(bytes.subarray(whole.length, whole.length + width * height)),
  );
}

export function orlPath(subject: number, shot: number): string {
  return `data/orl_faces/s${String(subject).padStart(2, '0')}/${shot}.pgm`;
}

/** An ORL photo padded with a plain border (the detector needs context around the face) and scaled. */
export async function orlPhoto(
  subject: number,
  shot: number,
  format: 'png' | 'jpeg' = 'png',
  scale = 3,
): Promise<Buffer> {
  const img = readPgm(orlPath(subject, shot));
  let pipeline = sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 1 } })
    .resize(img.width * scale, img.height * scale)
    .extend({
      top: 30 * scale,
      bottom: 30 * scale,
      left: 30 * scale,
      right: 30 * scale,
      background: grayBorder(img),
    });
  pipeline = format === 'png' ? pipeline.png() : pipeline.jpeg({ quality: 92 });
  return pipeline.toBuffer();
}

/** Two ORL people side by side in one photo. */
export async function twoFacesPhoto(a: [number, number], b: [number, number], scale = 3): Promise<Buffer> {
  const left = await orlPhoto(a[0], a[1], 'png', scale);
  const right = await orlPhoto(b[0], b[1], 'png', scale);
  const meta = await sharp(left).metadata();
  const width = meta.width! * 2;
  const height = meta.height!;
  return sharp({ create: { width, height, channels: 3, background: '#808080' } })
    .composite([
      { input: left, left: 0, top: 0 },
      { input: right, left: meta.width!, top: 0 },
    ])
    .png()
    .toBuffer();
}

/** Uniform noise: no face anywhere. */
export async function noisePhoto(width = 320, height = 240, seed = 7): Promise<Buffer> {
  const data = new Uint8Array(width * height);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    data[i] = s >> 23;
  }
  return sharp(Buffer.from(data), { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

/**
 * A real decompression bomb: a valid 1-bit PNG of side x side black pixels whose
 * compressed size is tiny (20000² = 400 Mpixel in ~50 KB).
 */
export function bombPng(side = 20_000): Buffer {
  const rowBytes = Math.ceil(side / 8);
  const raw = Buffer.alloc((rowBytes + 1) * side); // filter byte 0 + zero bits per row
  const idat = deflateSync(raw, { level: 9 });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

function grayBorder(img: GrayImage): { r: number; g: number; b: number } {
  // The mean of the photo's own edge pixels, so the padding does not draw a strong edge.
  let sum = 0;
  for (let x = 0; x < img.width; x++) sum += img.data[x] + img.data[(img.height - 1) * img.width + x];
  const v = Math.round(sum / (2 * img.width));
  return { r: v, g: v, b: v };
}
