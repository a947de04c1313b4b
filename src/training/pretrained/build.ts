import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FaceApiBackbone, FACEAPI_CHANNELS } from '../../model/pretrained/faceapi-backbone.js';
import {
  PRETRAINED_FORMAT,
  PRETRAINED_METADATA_FILE,
  type PretrainedModelMetadata,
} from '../../model/pretrained/embedder.js';
import { positivePairs, trainSiameseHead, type HeadTrainOptions } from '../../model/pretrained/head.js';
import { readPersonFolders } from '../../util/person-folders.js';
import { detectWithTurnedRetry, type FaceDetector } from '../../vision/detector.js';
import { DLIB_CHIP_150, type AlignedGeometry } from '../../vision/face-chip.js';
import type { CroppedFace, FaceCropper } from '../../vision/face-cropper.js';
import { readGrayImage } from '../../vision/image-io.js';
import type { GrayImage } from '../../vision/image.js';
import { IMAGE_EXTENSIONS } from '../dataset.js';
import { evaluationReport, recommendThresholds } from '../evaluation.js';

/** The face-api.js (dlib) ResNet's input: dlib's 150x150 chip with padding 0.25. */
export const FACEAPI_CROP: AlignedGeometry = DLIB_CHIP_150;

export interface PreparedSet {
  readonly people: string[];
  readonly labels: number[];
  readonly files: string[];
  readonly faces: GrayImage[];
  /** Per face: cut on its own landmarks (false: the box fallback). */
  readonly aligned: boolean[];
  /** Images where the detector found no face (photos only). */
  readonly skipped: string[];
}

/**
 * Person folders of images → model inputs through THE FaceCropper. `detector` given
 * (photos): the main face of each image (FaceCropper.cropMain; none: skipped); null (ready
 * crops): the image is the face.
 */
export async function prepareFolder(
  root: string,
  detector: FaceDetector | null,
  cropper: FaceCropper,
  filter: (person: string) => boolean = () => true,
): Promise<PreparedSet> {
  const folders = (await readPersonFolders(root, { extensions: IMAGE_EXTENSIONS })).filter((f) =>
    filter(f.person),
  );
  const people = folders.map((f) => f.person);
  if (people.length < 2) throw new Error(`${root}: need at least two person folders`);
  const set: PreparedSet = { people, labels: [], files: [], faces: [], aligned: [], skipped: [] };
  for (const [label, { person, files }] of folders.entries()) {
    for (const path of files) {
      const file = basename(path);
      const image = await readGrayImage(path);
      let face: CroppedFace;
      if (detector) {
        // The largest face with plausible landmarks (detector boxes come largest first); none
        // upright: the photo turned ±15°, a face only with plausible landmarks.
        const { boxes, turned } = await detectWithTurnedRetry(detector, image);
        const main = await cropper.cropMain(image, boxes, { requireLandmarks: turned });
        if (!main) {
          set.skipped.push(`${person}/${file}`);
          continue;
        }
        face = main;
      } else {
        face = await cropper.cropWhole(image);
      }
      set.labels.push(label);
      set.files.push(`${person}/${file}`);
      set.faces.push(face.input);
      set.aligned.push(face.alignment === 'landmarks');
    }
  }
  return set;
}

/** Backbone embeddings of prepared faces, `batch` at a time, nothing left on the tf heap. */
export async function embedWithBackbone(
  backbone: FaceApiBackbone,
  faces: readonly GrayImage[],
  batch = 16,
): Promise<Float32Array[]> {
  const size = backbone.inputSize;
  const out: Float32Array[] = [];
  for (let start = 0; start < faces.length; start += batch) {
    const chunk = faces.slice(start, start + batch);
    const pixels = new Float32Array(chunk.length * size * size);
    chunk.forEach((f, i) => pixels.set(f.data, i * size * size));
    const emb = tf.tidy(() => backbone.forward(tf.tensor4d(pixels, [chunk.length, size, size, 1])));
    const data = (await emb.data()) as Float32Array;
    emb.dispose();
    for (let i = 0; i < chunk.length; i++)
      out.push(data.slice(i * backbone.dimension, (i + 1) * backbone.dimension));
  }
  return out;
}

export interface BuildPretrainedOptions {
  readonly data: string;
  readonly kind: 'photo' | 'crop';
  readonly heldOut: readonly string[];
  readonly out: string;
  /** Folder with face_recognition_model-weights_manifest.json + .bin (the npm package's model/). */
  readonly backboneDir: string;
  readonly crop: AlignedGeometry;
  readonly head: HeadTrainOptions;
  readonly name: string;
  /** Extra provenance for the metadata (commit, backend, detector names). */
  readonly provenance: Record<string, unknown>;
}

const MANIFEST = 'face_recognition_model-weights_manifest.json';

/**
 * Builds `models/faceapi-siamese`: copies the backbone weights, prepares and embeds the
 * training people (held-out people are never read), trains the Siamese head on their
 * pairs and writes the metadata with thresholds measured on the training pairs.
 */
export async function buildPretrainedModel(
  options: BuildPretrainedOptions,
  detector: FaceDetector | null,
  cropper: FaceCropper,
  progress: (message: string) => void = () => undefined,
): Promise<PretrainedModelMetadata> {
  const started = Date.now();
  const held = new Set(options.heldOut);
  const backbone = await FaceApiBackbone.load({
    manifestPath: join(options.backboneDir, MANIFEST),
    weightsDir: options.backboneDir,
  });
  try {
    progress(`preparing ${options.data} (${options.kind}), held out: ${[...held].join(', ') || 'none'}`);
    if (JSON.stringify(cropper.geometry) !== JSON.stringify(options.crop))
      throw new Error('the cropper must cut the crop the model declares');
    const set = await prepareFolder(
      options.data,
      options.kind === 'photo' ? detector : null,
      cropper,
      (p) => !held.has(p),
    );
    const alignedCount = set.aligned.filter(Boolean).length;
    progress(
      `${set.faces.length} faces of ${set.people.length} people (${alignedCount} on their landmarks, ${set.skipped.length} without a face)`,
    );
    const embeddings = await embedWithBackbone(backbone, set.faces);
    progress('training the Siamese head');
    const trained = await trainSiameseHead(embeddings, set.labels, options.head);
    if (trained.projection) throw new Error('projection heads are not stored by this builder yet');
    // Thresholds on the training people, as the scratch model's (src/training/evaluation.ts):
    // 0.5 is the write-up's match; `accept` keeps the training false-accept rate <= 0.1%,
    // `unknown` is the equal-error point.
    const { scores, report } = evaluationReport(set.labels, embeddings, trained.head);
    const recommended = recommendThresholds(scores, 0.001);
    const maxImpostor = Math.max(...scores.impostor);
    const genuineBelowHalf = scores.genuine.filter((s) => s < 0.5).length;
    const positives = positivePairs(set.labels);
    await mkdir(join(options.out, 'backbone'), { recursive: true });
    for (const file of [MANIFEST, 'face_recognition_model.bin']) {
      await copyFile(join(options.backboneDir, file), join(options.out, 'backbone', file));
    }
    const last = trained.history[trained.history.length - 1];
    const metadata: PretrainedModelMetadata = {
      format: PRETRAINED_FORMAT,
      name: options.name,
      backbone: {
        id: 'faceapi-resnet34-128',
        manifest: `backbone/${MANIFEST}`,
        sha256: backbone.weightsSha256,
        inputSize: backbone.inputSize,
        channels: FACEAPI_CHANNELS,
        source:
          '@vladmandic/face-api 1.7.15 model/face_recognition_model (face-api.js port of dlib_face_recognition_resnet_model_v1)',
        license:
          'weights: dlib model released into the public domain by Davis King; face-api.js port MIT (Vincent Mühler); @vladmandic/face-api MIT',
      },
      projection: null,
      head: trained.head,
      thresholds: {
        match: 0.5,
        accept: recommended.accept,
        unknown: recommended.unknown,
        maxFar: recommended.maxFar,
      },
      crop: options.crop,
      training: {
        data: basename(options.data),
        kind: options.kind,
        people: set.people,
        heldOutPeople: [...held],
        faces: set.faces.length,
        aligned: alignedCount,
        landmarks: cropper.landmarkModel,
        skipped: set.skipped,
        positivePairs: positives.length,
        head: options.head,
        finalLoss: last?.loss,
        finalAccuracy: last?.accuracy,
        maxImpostorSimilarity: maxImpostor,
        trainingReport: report,
        genuinePairsBelowHalf: genuineBelowHalf,
        seconds: (Date.now() - started) / 1000,
        date: new Date().toISOString(),
        ...options.provenance,
      },
    };
    await writeFile(join(options.out, PRETRAINED_METADATA_FILE), JSON.stringify(metadata, null, 2) + '\n');
    // The same thresholds where the config loader looks for every model's (access.thresholdsFrom = model).
    const metrics = {
      model: options.name,
      thresholds: {
        accept: recommended.accept,
        unknown: recommended.unknown,
        maxFar: recommended.maxFar,
        eer: recommended.eer,
      },
      trainedPeople: set.people,
      heldOutPeople: [...held],
      training: report,
    };
    await writeFile(join(options.out, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    progress(
      `wrote ${join(options.out, PRETRAINED_METADATA_FILE)} (head ${JSON.stringify(trained.head)}, thresholds ${JSON.stringify(recommended)})`,
    );
    return metadata;
  } finally {
    backbone.dispose();
  }
}
