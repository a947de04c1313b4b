import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type * as FaceApi from '@vladmandic/face-api';
import sharp from 'sharp';
import { MAX_IMAGE_SIDE } from '../vision/image-io.js';
import type { GrayImage } from '../vision/image.js';

/**
 * face-api.js's own face pipeline, the peer facegate is measured against (issue #9 item 5):
 * its SSD MobileNet v1 detector → its 68-point landmark net → the box `FaceLandmarks68.align()`
 * derives from the landmarks → the ResNet-34 face descriptor (the same network facegate's
 * `faceapi` backbone runs). Loaded from `@vladmandic/face-api` 1.7.15 and its `model/` folder
 * (no network), run by its `node-wasm` build, which `require`s the same `@tensorflow/tfjs`
 * module facegate uses: both pipelines run on whatever backend `chooseBackend` picked.
 *
 * Defaults are face-api.js's own: SSD `minConfidence` 0.5; descriptors compared by Euclidean
 * distance (`euclidean`, as its FaceMatcher; 0.6 is its usual "same person" distance).
 */

/** An RGB image, 8 bits per channel, row-major, 3 bytes per pixel. */
export interface RgbImage {
  readonly channels: 3;
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** A face the peer found: its detector box (image pixels), detector score, and 128-d descriptor. */
export interface PeerFace {
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  /** SSD score in 0..1; 1 for a ready crop (no detector ran). */
  readonly score: number;
  readonly descriptor: Float32Array;
  /** True when SSD found the face only in the padded photo (see `describePhoto`). */
  readonly padded: boolean;
}

export interface FaceApiPeerOptions {
  /** Folder with the face-api.js weight manifests; default: the npm package's `model/`. */
  readonly modelDir?: string;
  /** SSD MobileNet minimum confidence (face-api.js default 0.5). */
  readonly minConfidence?: number;
  /**
   * When SSD finds no face, look again in the photo padded with mid-gray by this fraction of
   * its width/height on every side (0 = never). Default 0.5: SSD MobileNet's anchors do not
   * cover a face that fills the frame, so tight portraits (ORL: 92x112, the face is the
   * picture) give no detection without it, while Haar finds them (measured: 1 of 10 ORL
   * portraits plain, 10 of 10 padded by 0.5). Padding only makes the peer stronger.
   */
  readonly padFraction?: number;
}

type FaceApiModule = typeof FaceApi;

const requireHere = createRequire(import.meta.url);

/** The `model/` folder of the installed `@vladmandic/face-api` package. */
export function faceApiModelDir(): string {
  return path.join(path.dirname(requireHere.resolve('@vladmandic/face-api/package.json')), 'model');
}

export class FaceApiPeer {
  private constructor(
    private readonly api: FaceApiModule,
    private readonly minConfidence: number,
    private readonly padFraction: number,
  ) {}

  /** The options that change results (for caching them). */
  get optionsKey(): string {
    return `minConfidence=${this.minConfidence}|pad=${this.padFraction}`;
  }

  /**
   * Loads the three nets from disk. The TF.js backend must already be chosen
   * (`chooseBackend`); errors name the missing weight file.
   */
  static async load(options: FaceApiPeerOptions = {}): Promise<FaceApiPeer> {
    const minConfidence = options.minConfidence ?? 0.5;
    if (!(minConfidence > 0 && minConfidence < 1)) throw new RangeError('minConfidence must be in (0, 1)');
    const padFraction = options.padFraction ?? 0.5;
    if (!(padFraction >= 0 && padFraction <= 2)) throw new RangeError('padFraction must be in [0, 2]');
    // The node-wasm build requires @tensorflow/tfjs (ours) and sets no backend of its own.
    const api = requireHere('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
    if ((api.tf as unknown as typeof tf).engine() !== tf.engine())
      throw new Error('@vladmandic/face-api loaded a second TensorFlow.js: the comparison would not be fair');
    const dir = options.modelDir ?? faceApiModelDir();
    // The nets are module singletons: load each once per process (a reload would leak its weights).
    for (const net of [api.nets.ssdMobilenetv1, api.nets.faceLandmark68Net, api.nets.faceRecognitionNet])
      if (!net.isLoaded) await net.loadFromDisk(dir);
    return new FaceApiPeer(api, minConfidence, padFraction);
  }

  /**
   * Full photo: every SSD detection with landmarks and descriptor; returns the largest face
   * (the same "main face" rule facegate's detector uses), or null when SSD finds none, also
   * in the padded photo (`padFraction`). Boxes are in the photo's own coordinates.
   */
  async describePhoto(image: GrayImage | RgbImage): Promise<PeerFace | null> {
    const plain = await this.detectMain(image);
    if (plain || this.padFraction === 0) return plain && { ...plain, padded: false };
    const px = Math.round(image.width * this.padFraction);
    const py = Math.round(image.height * this.padFraction);
    const found = await this.detectMain(padImage(image, px, py));
    if (!found) return null;
    return { ...found, box: { ...found.box, x: found.box.x - px, y: found.box.y - py }, padded: true };
  }

  private async detectMain(image: GrayImage | RgbImage): Promise<Omit<PeerFace, 'padded'> | null> {
    const input = toTensor(image);
    try {
      const found = await this.api
        .detectAllFaces(
          input as unknown as FaceApi.TNetInput,
          new this.api.SsdMobilenetv1Options({ minConfidence: this.minConfidence }),
        )
        .withFaceLandmarks()
        .withFaceDescriptors();
      if (found.length === 0) return null;
      const area = (f: (typeof found)[number]) => f.detection.box.width * f.detection.box.height;
      const main = found.reduce((a, b) => (area(b) > area(a) ? b : a));
      const { x, y, width, height } = main.detection.box;
      return { box: { x, y, width, height }, score: main.detection.score, descriptor: main.descriptor };
    } finally {
      input.dispose();
    }
  }

  /**
   * Ready face crop (Olivetti, tvfaces): the whole image is the face box, as facegate treats
   * a crop; then face-api.js's own steps — 68 landmarks, the landmark-aligned box, descriptor.
   */
  async describeCrop(image: GrayImage | RgbImage): Promise<PeerFace> {
    const input = toTensor(image);
    try {
      const landmarks = (await this.api.nets.faceLandmark68Net.detectLandmarks(
        input as unknown as FaceApi.TNetInput,
      )) as FaceApi.FaceLandmarks68;
      const box = landmarks.align();
      const [chip] = await this.api.extractFaceTensors(input as unknown as FaceApi.tf.Tensor3D, [box]);
      try {
        const descriptor = (await this.api.nets.faceRecognitionNet.computeFaceDescriptor(
          chip as unknown as FaceApi.TNetInput,
        )) as Float32Array;
        return {
          box: { x: 0, y: 0, width: image.width, height: image.height },
          score: 1,
          descriptor,
          padded: false,
        };
      } finally {
        chip.dispose();
      }
    } finally {
      input.dispose();
    }
  }
}

/** The image with a mid-gray border of `px` columns left and right, `py` rows above and below. */
export function padImage<T extends GrayImage | RgbImage>(image: T, px: number, py: number): T {
  const channels = 'channels' in image ? 3 : 1;
  const width = image.width + 2 * px;
  const height = image.height + 2 * py;
  const data = new Uint8Array(width * height * channels).fill(128);
  const row = image.width * channels;
  for (let y = 0; y < image.height; y++)
    data.set(image.data.subarray(y * row, (y + 1) * row), ((y + py) * width + px) * channels);
  return { ...image, width, height, data };
}

/** [h, w, 3] int32 tensor; a gray image is replicated into the three channels. */
function toTensor(image: GrayImage | RgbImage): tf.Tensor3D {
  const { width, height } = image;
  if ('channels' in image) return tf.tensor3d(image.data, [height, width, 3], 'int32');
  if (image.data.length !== width * height) throw new RangeError('image data does not match its size');
  return tf.tidy(() => tf.tile(tf.tensor3d(image.data, [height, width, 1], 'int32'), [1, 1, 3]));
}

/**
 * Decodes an encoded photo (JPEG, PNG, ...) to RGB for the peer's colour variant; EXIF
 * orientation applied like `decodeToGray`. Gray files come back with the gray value in all
 * three channels. Throws on undecodable input (sharp's message).
 */
export async function decodeToRgb(bytes: Uint8Array): Promise<RgbImage> {
  const { data, info } = await sharp(bytes, { limitInputPixels: MAX_IMAGE_SIDE * MAX_IMAGE_SIDE })
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (info.channels === 3) return { channels: 3, width: info.width, height: info.height, data: pixels };
  if (info.channels !== 1) throw new Error(`decoded image has ${info.channels} channels, expected 1 or 3`);
  const rgb = new Uint8Array(info.width * info.height * 3);
  for (let i = 0; i < pixels.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = pixels[i];
  return { channels: 3, width: info.width, height: info.height, data: rgb };
}
