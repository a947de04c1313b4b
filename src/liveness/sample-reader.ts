import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createGrayImage, type GrayImage } from '../vision/image.js';
import type { RgbImage } from './texture-net.js';

/**
 * Reads presentation samples for `evaluate --liveness`: a video file (decoded by ffmpeg),
 * a photo, or a folder of frames. Every frame is scaled to fit the door camera's size
 * (640x480 by default, aspect kept) WITHOUT black bars — a camera frame has none, and the
 * bars' borders are straight edges beside the face that the edge signal would see — at a
 * fixed rate, in colour and in gray (BT.601 luma, as ffmpeg's `-pix_fmt gray` gives the
 * live camera).
 */

export interface SampleFrame {
  readonly rgb: RgbImage;
  readonly gray: GrayImage;
  /** Time from the start of the sample, ms. */
  readonly timestampMs: number;
}

export interface SampleReadOptions {
  readonly width?: number;
  readonly height?: number;
  /** Frames per second taken from videos (default 15, see DEFAULT_SAMPLE_FPS). */
  readonly fps?: number;
  /** Stop after this many seconds of a video. */
  readonly maxSeconds?: number;
}

/**
 * The evaluation's default rate: the live loop processes ~15–30 frames per second on the
 * door's hardware (docs/performance.md); 15 is the low end, so the liveness evidence the
 * evaluation sees per second is what the slowest door gets.
 */
export const DEFAULT_SAMPLE_FPS = 15;

export const VIDEO_EXTENSIONS = new Set(['.mp4', '.mov', '.avi', '.mkv', '.webm', '.m4v']);
export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.pgm', '.bmp', '.webp']);

export type SampleKind = 'video' | 'photo' | 'frames';

export async function sampleKind(p: string): Promise<SampleKind | null> {
  const stat = await fs.stat(p);
  if (stat.isDirectory()) return 'frames';
  const ext = path.extname(p).toLowerCase();
  if (VIDEO_EXTENSIONS.has(ext)) return 'video';
  if (IMAGE_EXTENSIONS.has(ext)) return 'photo';
  return null;
}

/** Frames of one sample, in order. Throws with the file name when it cannot be read. */
export async function* readSample(p: string, options: SampleReadOptions = {}): AsyncGenerator<SampleFrame> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const fps = options.fps ?? DEFAULT_SAMPLE_FPS;
  const kind = await sampleKind(p);
  if (kind === 'video') {
    yield* readVideo(p, width, height, fps, options.maxSeconds ?? 60);
  } else if (kind === 'photo') {
    yield await readPhoto(p, width, height, 0);
  } else if (kind === 'frames') {
    const files = (await fs.readdir(p))
      .filter((f) => IMAGE_EXTENSIONS.has(path.extname(f).toLowerCase()))
      .sort();
    if (files.length === 0) throw new Error(`${p}: no image frames`);
    for (let i = 0; i < files.length; i++)
      yield await readPhoto(path.join(p, files[i]), width, height, (i * 1000) / fps);
  } else {
    throw new Error(`${p}: not a video, a photo or a folder of frames`);
  }
}

async function readPhoto(
  file: string,
  width: number,
  height: number,
  timestampMs: number,
): Promise<SampleFrame> {
  // rotate(): honour EXIF orientation (the silentface JPEGs are stored turned by 90°).
  const data = await sharp(file)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(width, height, { fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((err: Error) => {
      throw new Error(`${file}: cannot decode image: ${err.message}`);
    });
  const rgb = {
    width: data.info.width,
    height: data.info.height,
    data: new Uint8Array(data.data.buffer, data.data.byteOffset, data.data.byteLength),
  };
  return { rgb, gray: toGray(rgb), timestampMs };
}

async function* readVideo(
  file: string,
  width: number,
  height: number,
  fps: number,
  maxSeconds: number,
): AsyncGenerator<SampleFrame> {
  // Fit inside width x height, aspect kept, no bars; the frame size is read from each PPM
  // header (binary P6: "P6\n<w> <h>\n255\n" then w·h·3 bytes), so it need not be known here.
  const vf = `fps=${fps},scale=${width}:${height}:force_original_aspect_ratio=decrease`;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file, '-t', String(maxSeconds)];
  args.push('-an', '-sn', '-vf', vf, '-c:v', 'ppm', '-f', 'image2pipe', 'pipe:1');
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        const header = parsePpmHeader(pending, file);
        if (!header || pending.length < header.offset + header.width * header.height * 3) break;
        const end = header.offset + header.width * header.height * 3;
        const data = new Uint8Array(pending.subarray(header.offset, end));
        pending = pending.subarray(end);
        const rgb = { width: header.width, height: header.height, data };
        yield { rgb, gray: toGray(rgb), timestampMs: (index++ * 1000) / fps };
      }
    }
    const code = await exited;
    if (code !== 0) throw new Error(`${file}: ffmpeg exited with ${code}: ${stderr.trim()}`);
    if (index === 0) throw new Error(`${file}: no frames decoded`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** The header of a binary PPM at the start of `buf` (null: not all of it yet); throws on anything else. */
function parsePpmHeader(buf: Buffer, file: string): { width: number; height: number; offset: number } | null {
  if (buf.length < 2) return null;
  if (buf[0] !== 0x50 || buf[1] !== 0x36) throw new Error(`${file}: ffmpeg did not give a PPM frame`);
  const m = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(buf.subarray(0, 64).toString('latin1'));
  if (!m) {
    if (buf.length >= 64) throw new Error(`${file}: bad PPM header from ffmpeg`);
    return null;
  }
  if (m[3] !== '255') throw new Error(`${file}: PPM with maxval ${m[3]} (expected 255)`);
  return { width: Number(m[1]), height: Number(m[2]), offset: m[0].length };
}

/** BT.601 luma, rounded (what ffmpeg's gray pixel format gives). */
export function toGray(rgb: RgbImage): GrayImage {
  const n = rgb.width * rgb.height;
  const out = new Uint8Array(n);
  const d = rgb.data;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    out[i] = Math.round(0.299 * d[j] + 0.587 * d[j + 1] + 0.114 * d[j + 2]);
  }
  return createGrayImage(rgb.width, rgb.height, out);
}
