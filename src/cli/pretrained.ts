#!/usr/bin/env node
/**
 * The pretrained sister network (issue 6):
 *   tsx src/cli/pretrained.ts build    --data data/orl_faces --kind photo --held-out s36,s37,s38,s39,s40 --out models/faceapi-siamese
 *   tsx src/cli/pretrained.ts evaluate --model models/faceapi-siamese --data <dir> --kind photo|crop [--people a,b] [--no-align] [--json]
 * `photo`: run the Haar detector and THE FaceCropper (landmarks, alignment) on each image,
 * as live frames are; `crop`: every image already is a face crop (Olivetti, tvfaces) whose
 * landmarks are found in the whole image.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { chooseBackend, parseBackendPreference } from '../model/backend.js';
import { evaluationReport } from '../training/evaluation.js';
import { similarityFromDistance } from '../model/embedder.js';
import { createFaceCropper, DEFAULT_LANDMARK_MODEL } from '../model/face-path.js';
import { buildPretrainedModel, FACEAPI_CROP, prepareFolder } from '../training/pretrained/build.js';
import { loadPretrainedEmbedder } from '../model/pretrained/embedder.js';
import { DEFAULT_HEAD_TRAIN, euclidean } from '../model/pretrained/head.js';
import { DEFAULT_DETECTOR_CONFIG } from '../vision/config.js';
import { createFaceDetector } from '../vision/detector.js';
import type { CropGeometry } from '../vision/face-chip.js';
import { FaceCropper } from '../vision/face-cropper.js';
import { createLogger, type Logger } from '../util/log.js';
import { runIfEntry } from './run-main.js';

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function kindOf(v: string): 'photo' | 'crop' {
  if (v !== 'photo' && v !== 'crop') throw new InvalidArgumentError('kind must be photo or crop');
  return v;
}

/** The detector (photos only) and THE FaceCropper for a geometry; `align` false: no landmark model. */
async function makeFacePath(
  kind: 'photo' | 'crop',
  geometry: CropGeometry,
  align: boolean,
  landmarks: string,
  logger: Logger,
) {
  const backend = (process.env.FACEGATE_DETECTOR_BACKEND as 'auto' | 'native' | 'wasm' | undefined) ?? 'auto';
  const detector =
    kind === 'photo' ? await createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, backend }, logger) : null;
  const cropper = align
    ? await createFaceCropper(geometry, landmarks, logger)
    : new FaceCropper(null, geometry);
  return {
    detector,
    cropper,
    names: { detector: detector?.name ?? 'none (crops)', landmarks: cropper.landmarkModel },
    stop: async () => {
      await detector?.stop();
      cropper.dispose();
    },
  };
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export async function main(argv: string[]): Promise<number> {
  const logger = createLogger(process.env.FACEGATE_LOG_LEVEL === 'debug' ? 'debug' : 'warn', process.stderr);
  const program = new Command()
    .name('pretrained')
    .description('Pretrained sister network + Siamese head: build and evaluate.');
  program
    .command('build')
    .requiredOption('--data <dir>', 'training person folders')
    .option('--kind <kind>', 'photo (detector + eyes) or crop', kindOf, 'photo')
    .option('--held-out <list>', 'people never read (kept for tests and the demo)', list, [
      's36',
      's37',
      's38',
      's39',
      's40',
    ])
    .option('--out <dir>', 'model folder', 'models/faceapi-siamese')
    .option('--epochs <n>', 'head training epochs', (v) => Number(v), DEFAULT_HEAD_TRAIN.epochs)
    .option('--seed <n>', 'seed', (v) => Number(v), DEFAULT_HEAD_TRAIN.seed)
    .option('--backend <name>', 'auto | node | wasm | cpu')
    .option('--landmarks <dir>', 'landmark model folder', DEFAULT_LANDMARK_MODEL)
    .action(
      async (o: {
        data: string;
        kind: 'photo' | 'crop';
        landmarks: string;
        heldOut: string[];
        out: string;
        epochs: number;
        seed: number;
        backend?: string;
      }) => {
        const backend = await chooseBackend(
          parseBackendPreference(o.backend ?? process.env.FACEGATE_TF_BACKEND),
          logger,
        );
        const backboneDir = join(
          dirname(createRequire(import.meta.url).resolve('@vladmandic/face-api/package.json')),
          'model',
        );
        const loc = await makeFacePath(o.kind, FACEAPI_CROP, true, o.landmarks, logger);
        try {
          await buildPretrainedModel(
            {
              data: o.data,
              kind: o.kind,
              heldOut: o.heldOut,
              out: o.out,
              backboneDir,
              crop: FACEAPI_CROP,
              head: { ...DEFAULT_HEAD_TRAIN, epochs: o.epochs, seed: o.seed },
              name: 'faceapi-siamese',
              provenance: { commit: gitCommit(), backend, ...loc.names },
            },
            loc.detector,
            loc.cropper,
            (m) => process.stderr.write(`${m}\n`),
          );
        } finally {
          await loc.stop();
        }
      },
    );
  program
    .command('evaluate')
    .requiredOption('--data <dir>', 'person folders')
    .option('--model <dir>', 'model folder', 'models/faceapi-siamese')
    .option('--kind <kind>', 'photo (detector + landmarks) or crop', kindOf, 'photo')
    .option('--people <list>', 'only these person folders', list)
    .option('--no-align', 'no landmark model (every face on the box fallback)')
    .option('--landmarks <dir>', 'landmark model folder', DEFAULT_LANDMARK_MODEL)
    .option('--backend <name>', 'auto | node | wasm | cpu')
    .option('--json', 'print only the JSON report')
    .action(
      async (o: {
        data: string;
        model: string;
        kind: 'photo' | 'crop';
        people?: string[];
        align: boolean;
        landmarks: string;
        backend?: string;
        json?: boolean;
      }) => {
        await chooseBackend(parseBackendPreference(o.backend ?? process.env.FACEGATE_TF_BACKEND), logger);
        const embedder = await loadPretrainedEmbedder(o.model, logger);
        const loc = await makeFacePath(o.kind, embedder.crop, o.align, o.landmarks, logger);
        try {
          const only = o.people ? new Set(o.people) : null;
          const t0 = performance.now();
          const set = await prepareFolder(
            resolve(o.data),
            loc.detector,
            loc.cropper,
            (p) => !only || only.has(p),
          );
          const prepareMs = (performance.now() - t0) / Math.max(1, set.faces.length + set.skipped.length);
          const t1 = performance.now();
          const embeddings = await embedder.embed(set.faces);
          const embedMs = (performance.now() - t1) / Math.max(1, set.faces.length);
          const { report } = evaluationReport(set.labels, embeddings, embedder.head);
          let strangersAccepted = 0;
          let genuineRejected = 0;
          let impostorPairs = 0;
          let genuinePairs = 0;
          for (let i = 0; i < embeddings.length; i++) {
            for (let j = i + 1; j < embeddings.length; j++) {
              const s = similarityFromDistance(embedder.head, euclidean(embeddings[i], embeddings[j]));
              if (set.labels[i] === set.labels[j]) {
                genuinePairs++;
                if (s < embedder.thresholds.accept) genuineRejected++;
              } else {
                impostorPairs++;
                if (s >= embedder.thresholds.accept) strangersAccepted++;
              }
            }
          }
          const out = {
            ...report,
            model: embedder.modelId,
            faces: set.faces.length,
            aligned: set.faces.length === 0 ? 0 : set.aligned.filter(Boolean).length,
            skipped: set.skipped.length,
            accept_threshold: embedder.thresholds.accept,
            far_at_accept: impostorPairs ? strangersAccepted / impostorPairs : 0,
            frr_at_accept: genuinePairs ? genuineRejected / genuinePairs : 0,
            ms_per_face_prepare: +prepareMs.toFixed(1),
            ms_per_face_embed: +embedMs.toFixed(1),
            backend: tf.getBackend(),
            detector: loc.names.detector,
            landmarks: loc.names.landmarks,
          };
          process.stdout.write(o.json ? JSON.stringify(out) + '\n' : JSON.stringify(out, null, 2) + '\n');
        } finally {
          await loc.stop();
          embedder.dispose();
        }
      },
    );
  program.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
    if (e.exitCode !== undefined && e.code?.startsWith('commander.')) return e.exitCode;
    throw err;
  }
  return 0;
}

runIfEntry(import.meta.url, 'pretrained', main);
