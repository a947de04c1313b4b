import { createGrayImage, type GrayImage } from '../vision/image.js';

/**
 * Decodes a PGM (Netpbm gray) image: binary P5 or ASCII P2, 8- or 16-bit (16-bit is
 * scaled to 8). sharp/libvips builds do not read PGM, and the Olivetti/ORL faces are PGM.
 */
export function decodePgm(bytes: Uint8Array, name = 'image'): GrayImage {
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < bytes.length && isSpace(bytes[pos])) pos++;
      if (bytes[pos] === 0x23) {
        while (pos < bytes.length && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) pos++;
        continue;
      }
      break;
    }
    const start = pos;
    while (pos < bytes.length && !isSpace(bytes[pos]) && bytes[pos] !== 0x23) pos++;
    if (start === pos) throw new Error(`${name}: truncated PGM header`);
    return String.fromCharCode(...bytes.subarray(start, pos));
  };
  const magic = token();
  if (magic !== 'P5' && magic !== 'P2')
    throw new Error(`${name}: not a PGM (magic ${JSON.stringify(magic.slice(0, 4))})`);
  const width = parseHeaderInt(token(), 'width', name);
  const height = parseHeaderInt(token(), 'height', name);
  const maxval = parseHeaderInt(token(), 'maxval', name);
  if (maxval > 65535) throw new Error(`${name}: PGM maxval ${maxval} out of range`);
  if (width * height > 64e6) throw new Error(`${name}: PGM ${width}x${height} is too large`);
  const n = width * height;
  const out = new Uint8Array(n);
  const scale = 255 / maxval;
  if (magic === 'P5') {
    pos++; // exactly one whitespace byte after maxval
    const bpp = maxval > 255 ? 2 : 1;
    if (bytes.length - pos < n * bpp)
      throw new Error(`${name}: PGM pixel data truncated (${bytes.length - pos} of ${n * bpp} bytes)`);
    for (let i = 0; i < n; i++) {
      const v = bpp === 1 ? bytes[pos + i] : (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
      out[i] = Math.min(255, Math.round(v * scale));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = parseHeaderInt(token(), 'pixel', name);
      out[i] = Math.min(255, Math.round(v * scale));
    }
  }
  return createGrayImage(width, height, out);
}

function parseHeaderInt(s: string, what: string, name: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`${name}: bad PGM ${what} ${JSON.stringify(s.slice(0, 10))}`);
  const v = Number(s);
  if (v < 1 && what !== 'pixel') throw new Error(`${name}: PGM ${what} must be positive`);
  return v;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
}
