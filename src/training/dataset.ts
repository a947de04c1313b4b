import type { FaceCropper } from '../vision/face-cropper.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { createGrayImage, type GrayImage } from '../vision/image.js';
import { DEFAULT_PREPROCESS, preprocessFace, type PreprocessOptions } from '../vision/preprocess.js';
import { readPersonFolders } from '../util/person-folders.js';
import { decodePgm } from './pgm.js';

export const IMAGE_EXTENSIONS = ['.pgm', '.png', '.jpg', '.jpeg'] as const;

/** One face of a person-folder dataset, already through `preprocessFace`. */
export interface LabeledFace {
  readonly person: string;
  /** Index into `FaceDataset.people`. */
  readonly label: number;
  readonly file: string;
  readonly image: GrayImage;
}

export interface FaceDataset {
  readonly root: string;
  /** Person folder names, sorted (natural order: s2 before s10). */
  readonly people: readonly string[];
  readonly faces: readonly LabeledFace[];
}

export interface LoadDatasetOptions {
  readonly preprocess?: PreprocessOptions;
  /**
   * THE FaceCropper of the model being evaluated (aligned models: landmarks found in the
   * whole crop); when given it replaces `preprocess`.
   */
  readonly cropper?: Pick<FaceCropper, 'cropWhole'>;
  /** Only these people (folder names); unknown names are an error. */
  readonly include?: readonly string[];
  /** Leave these people out (e.g. the held-out strangers). Unknown names are an error. */
  readonly exclude?: readonly string[];
}

/** Decodes a PGM/PNG/JPEG file to 8-bit gray. */
export async function decodeGrayFile(file: string): Promise<GrayImage> {
  const bytes = await fs.readFile(file);
  if (path.extname(file).toLowerCase() === '.pgm') return decodePgm(bytes, file);
  try {
    // .grayscale() matters: without it a 1-channel PNG comes back as 3 channels.
    const { data, info } = await sharp(bytes).grayscale().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 1) throw new Error(`decoded to ${info.channels} channels, expected 1`);
    return createGrayImage(
      info.width,
      info.height,
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
  } catch (err) {
    throw new Error(`cannot decode image ${file}: ${(err as Error).message}`);
  }
}

/**
 * Loads a folder of person folders (`<root>/<person>/<any>.pgm|png|jpg|jpeg`, links
 * followed: `readPersonFolders`). Every
 * image is one face crop and goes through `preprocessFace(image, null, options)`, the
 * same function enrollment and live frames use. Other files are ignored.
 */
export async function loadFaceDataset(root: string, options: LoadDatasetOptions = {}): Promise<FaceDataset> {
  const preprocess = options.preprocess ?? DEFAULT_PREPROCESS;
  const folders = await readPersonFolders(root, {
    extensions: IMAGE_EXTENSIONS,
    include: options.include,
    exclude: options.exclude,
  });
  if (folders.length === 0)
    throw new Error(`dataset ${root} has no person folders (expected <root>/<person>/<image>)`);
  const people = folders.map((f) => f.person);
  const faces: LabeledFace[] = [];
  for (const [label, { person, dir, files }] of folders.entries()) {
    if (files.length === 0) throw new Error(`person folder ${dir} has no PGM/PNG/JPEG images`);
    for (const file of files) {
      const raw = await decodeGrayFile(file);
      const image = options.cropper
        ? (await options.cropper.cropWhole(raw)).input
        : preprocessFace(raw, null, preprocess);
      faces.push({ person, label, file, image });
    }
  }
  return { root, people, faces };
}

/** Faces grouped by label. */
export function facesByLabel(faces: readonly LabeledFace[]): Map<number, LabeledFace[]> {
  const map = new Map<number, LabeledFace[]>();
  for (const f of faces) {
    const list = map.get(f.label) ?? [];
    list.push(f);
    map.set(f.label, list);
  }
  return map;
}

/** A dataset restricted to some people (labels renumbered 0..n-1). */
export function subsetByPeople(data: FaceDataset, people: readonly string[]): FaceDataset {
  const keep = data.people.filter((p) => people.includes(p));
  const index = new Map(keep.map((p, i) => [p, i]));
  return {
    root: data.root,
    people: keep,
    faces: data.faces
      .filter((f) => index.has(f.person))
      .map((f) => ({ ...f, label: index.get(f.person) as number })),
  };
}
