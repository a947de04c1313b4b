#!/usr/bin/env node
/**
 * `npm run evaluate -- --data <dir> [--model <dir>] [--folds K] [--json]`
 * `npm run evaluate -- --data <dir> --model <dir> [--detect] --peer faceapi[,faceapi-colour] [--json]`
 * `npm run evaluate -- --liveness <dir> [--json]`: presentation-attack detection (evaluate-liveness.ts).
 * With --model: that model on every person in the data (people it never saw, if the data
 * is not its training set). Without: k-fold by person, training a model per fold.
 * Prints ONE JSON object with --json; writes roc.png and demo-grid.png into --out.
 * With --peer: facegate and face-api.js's own pipeline on the same photos, same protocol
 * (src/model/comparison.ts), as a table or one JSON object; no plots.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { accessSchema, parseModelThresholds } from '../access/config.js';
import { Command } from 'commander';
import { chooseBackend, parseBackendPreference } from '../model/backend.js';
import {
  faceApiPipeline,
  facegatePipeline,
  ResultCache,
  runComparison,
} from '../training/compared-pipelines.js';
import { compareResults, type ComparisonReport } from '../training/comparison.js';
import { comparisonTable } from '../training/comparison-format.js';
import { FaceApiPeer } from '../training/peer-faceapi.js';
import { loadFaceDataset } from '../training/dataset.js';
import {
  crossValidate,
  DEFAULT_CV_TRAIN,
  embedDataset,
  evaluateEmbedded,
  writeDemoGrid,
  writeRocPng,
  type EvaluationOutput,
} from '../training/evaluate-run.js';
import { loadEmbedder } from '../model/load.js';
import type { FaceDataset } from '../training/dataset.js';
import { cropGeometryOf } from '../model/embedder.js';
import { createFaceCropper, DEFAULT_LANDMARK_MODEL } from '../model/face-path.js';
import { prepareFolder } from '../training/pretrained/build.js';
import { DEFAULT_DETECTOR_CONFIG } from '../vision/config.js';
import { createFaceDetector } from '../vision/detector.js';
import type { FaceCropper } from '../vision/face-cropper.js';
import type { Logger } from '../util/log.js';
import { createLogger } from '../util/log.js';
import { leaveOneOutTemplates, TEMPLATE_RULES, type TemplateReport } from '../training/templates.js';
import { barProgress, logProgress, noProgress, type ProgressFactory } from '../util/progress.js';
import { int, list } from './options.js';
import { runIfEntry } from './run-main.js';
import { main as livenessMain } from './evaluate-liveness.js';

export function buildEvaluateCommand(): Command {
  return new Command()
    .name('evaluate')
    .description('Evaluate face verification/identification on a folder of person folders (PGM/PNG/JPEG).')
    .requiredOption('--data <dir>', 'dataset: <dir>/<person>/<image>')
    .option('--model <dir>', 'a trained model folder; without it: k-fold by person')
    .option('--people <list>', 'only these person folders (comma-separated)', list)
    .option('--folds <k>', 'k-fold: number of folds', int('folds', 2), 5)
    .option('--epochs <n>', 'k-fold: epochs per fold', int('epochs', 1), DEFAULT_CV_TRAIN.epochs)
    .option('--seed <n>', 'k-fold: seed', int('seed', 0), 1)
    .option('--out <dir>', 'where roc.png and demo-grid.png go', 'evaluation')
    .option('--backend <name>', 'auto | node | wasm | cpu (default: FACEGATE_TF_BACKEND or auto)')
    .option(
      '--detect',
      'with --model: run the live Haar detector and face cropper (landmarks, alignment) on full photos instead of treating each image as a crop',
    )
    .option(
      '--peer <list>',
      'with --model: also run a peer pipeline on the same photos with the same protocol and print both (faceapi = face-api.js SSD + 68 landmarks + ResNet on gray, faceapi-colour = the same on colour)',
      list,
    )
    .option(
      '--per-person <n>',
      'with --peer: at most the first n photos of each person',
      int('per-person', 1),
    )
    .option(
      '--cache <file>',
      'with --peer: reuse the peer results (by photo content) from this JSON file and add new ones; keep it out of the repository (embeddings)',
    )
    .option(
      '--templates',
      'with --model: also compare how a person with several photos is scored (best template, mean, top-2 mean, centroid, one photo), leave-one-out: every photo but the probe enrolled',
    )
    .option('--landmarks <dir>', 'landmark model folder (aligned models)', DEFAULT_LANDMARK_MODEL)
    .option('--json', 'print only the JSON report on stdout');
}

export const PEERS = ['faceapi', 'faceapi-colour'] as const;

/** Where and on what the numbers were measured (they depend on the machine and its load). */
export function machineInfo(backend: string, detector: string): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    arch: process.arch,
    node: process.version,
    tfjs_backend: backend,
    detector,
    loadavg_1min: Number(os.loadavg()[0].toFixed(2)),
  };
}

/** The model's accept threshold (metrics.json, what the door uses with thresholdsFrom=model), or null. */
async function modelAcceptThreshold(modelDir: string): Promise<number | null> {
  const text = await readFile(path.join(modelDir, 'metrics.json'), 'utf8').catch(() => null);
  return text === null ? null : (parseModelThresholds(JSON.parse(text))?.accept ?? null);
}

/**
 * `--peer`: facegate (the model's own face path) and the peer pipelines on the same photos;
 * `kind` photo = each pipeline detects (`--detect`), crop = the image is the face.
 */
export async function comparePipelines(
  o: {
    data: string;
    model: string;
    people?: string[];
    peer: string[];
    perPerson?: number;
    detect?: boolean;
    cache?: string;
    /** Landmark model folder (aligned models); default DEFAULT_LANDMARK_MODEL. */
    landmarks?: string;
  },
  backend: string,
  logger: Logger,
  progress: ProgressFactory = noProgress,
): Promise<
  ComparisonReport & {
    pipelines_run: Record<string, string>;
    model: string;
    machine: Record<string, unknown>;
  }
> {
  const unknown = o.peer.filter((p) => !(PEERS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new Error(`unknown --peer ${unknown.join(', ')}: expected ${PEERS.join(', ')}`);
  const kind = o.detect ? 'photo' : 'crop';
  const detectorBackend =
    (process.env.FACEGATE_DETECTOR_BACKEND as 'auto' | 'native' | 'wasm' | undefined) ?? 'auto';
  const embedder = await loadEmbedder(o.model, logger);
  const detector =
    kind === 'photo'
      ? await createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, backend: detectorBackend }, logger)
      : null;
  // The model's own crop through THE FaceCropper (landmarks, alignment), as the door cuts faces.
  const cropper = await createFaceCropper(
    cropGeometryOf(embedder),
    o.landmarks ?? DEFAULT_LANDMARK_MODEL,
    logger,
  );
  try {
    const peer = await FaceApiPeer.load();
    const pipelines = [
      facegatePipeline(embedder, detector, cropper, await modelAcceptThreshold(o.model)),
      ...o.peer.map((p) => faceApiPipeline(peer, p === 'faceapi-colour')),
    ];
    const cache = o.cache ? await ResultCache.open(o.cache) : undefined;
    const bar = progress('evaluating', 'photos');
    let started = false;
    const { photos } = await runComparison(path.resolve(o.data), pipelines, {
      kind,
      people: o.people,
      perPerson: o.perPerson,
      cache,
      onPhoto: async (done, total) => {
        if (!started) {
          bar.start(total);
          started = true;
        }
        bar.update(done);
        if (done % 10 === 0 || done === total) await cache?.save();
      },
    });
    bar.stop();
    const report = compareResults(
      path.basename(path.resolve(o.data)),
      kind,
      photos,
      Object.fromEntries(pipelines.map((p) => [p.name, p.similarity])),
      Object.fromEntries(pipelines.map((p) => [p.name, p.accept])),
    );
    return {
      ...report,
      model: embedder.modelId,
      pipelines_run: Object.fromEntries(pipelines.map((p) => [p.name, p.description])),
      machine: machineInfo(backend, detector?.name ?? 'none (crops)'),
    };
  } finally {
    embedder.dispose();
    cropper.dispose();
    await detector?.stop();
  }
}

/**
 * `--detect`: every image is a full photo; the live detector finds the face (images without
 * one are skipped and counted on stderr) and THE FaceCropper cuts it as the live loop does.
 */
async function loadDetectedDataset(
  root: string,
  people: string[] | undefined,
  cropper: FaceCropper,
  logger: Logger,
): Promise<FaceDataset> {
  const backend = (process.env.FACEGATE_DETECTOR_BACKEND as 'auto' | 'native' | 'wasm' | undefined) ?? 'auto';
  const detector = await createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, backend }, logger);
  try {
    const only = people ? new Set(people) : null;
    const set = await prepareFolder(path.resolve(root), detector, cropper, (p) => !only || only.has(p));
    process.stderr.write(
      `detect: ${set.faces.length} faces, ${set.aligned.filter(Boolean).length} aligned on landmarks, ${set.skipped.length} images without a face${set.skipped.length ? ` (${set.skipped.join(', ')})` : ''}\n`,
    );
    const faces = set.faces.map((image, i) => ({
      person: set.people[set.labels[i]],
      label: set.labels[i],
      file: set.files[i],
      image,
    }));
    return { root, people: set.people, faces };
  } finally {
    await detector.stop();
  }
}

/**
 * The accept threshold and margin stored with the model (metrics.json → thresholds, the
 * margin defaulting to (accept - unknown) / 2 as in access.thresholdsFrom = model), or the
 * access defaults when the model has none.
 */
function modelOperatingPoint(modelDir: string): { acceptThreshold: number; minMargin: number } {
  try {
    const metrics = JSON.parse(readFileSync(path.join(modelDir, 'metrics.json'), 'utf8')) as unknown;
    const t = parseModelThresholds(metrics);
    if (t) return { acceptThreshold: t.accept, minMargin: t.margin };
  } catch {
    // no metrics.json: fall through to the defaults
  }
  return { acceptThreshold: accessSchema.acceptThreshold.default, minMargin: accessSchema.minMargin.default };
}

export async function main(argv: string[]): Promise<number> {
  // Presentation-attack detection has its own options (src/cli/evaluate-liveness.ts).
  if (argv.some((a) => a === '--liveness' || a.startsWith('--liveness='))) return livenessMain(argv);
  const program = buildEvaluateCommand();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    data: string;
    model?: string;
    people?: string[];
    folds: number;
    epochs: number;
    seed: number;
    out: string;
    backend?: string;
    detect?: boolean;
    peer?: string[];
    perPerson?: number;
    cache?: string;
    templates?: boolean;
    landmarks: string;
    json?: boolean;
  }>();
  const logger = createLogger(process.env.FACEGATE_LOG_LEVEL === 'debug' ? 'debug' : 'warn', process.stderr);
  // A bar at a terminal; progress lines on stderr otherwise (stdout carries the report).
  const progress = process.stderr.isTTY
    ? barProgress(process.stderr)
    : logProgress(createLogger('info', { format: 'json', destination: 2 }));
  const backend = await chooseBackend(
    parseBackendPreference(o.backend ?? process.env.FACEGATE_TF_BACKEND),
    logger,
  );
  if (o.peer) {
    if (!o.model) throw new Error('--peer needs --model (the facegate model to compare)');
    const report = await comparePipelines({ ...o, model: o.model, peer: o.peer }, backend, logger, progress);
    process.stdout.write(o.json ? JSON.stringify(report) + '\n' : comparisonTable(report));
    return 0;
  }
  if (o.perPerson !== undefined || o.cache) throw new Error('--per-person and --cache are for --peer runs');
  let output: EvaluationOutput;
  let title: string;
  let templates: TemplateReport[] | undefined;
  if (o.model) {
    const embedder = await loadEmbedder(o.model, logger);
    // The model's own crop (landmark-aligned chip for the pretrained backbone) through THE cropper.
    const cropper = await createFaceCropper(cropGeometryOf(embedder), o.landmarks, logger);
    try {
      const dataset = o.detect
        ? await loadDetectedDataset(o.data, o.people, cropper, logger)
        : await loadFaceDataset(o.data, { include: o.people, cropper });
      const embedded = await embedDataset(embedder, dataset, progress);
      output = evaluateEmbedded(embedded, embedder.head);
      if (o.templates) {
        const labels = dataset.faces.map((f) => f.label);
        const operating = modelOperatingPoint(o.model);
        templates = TEMPLATE_RULES.map((rule) =>
          leaveOneOutTemplates(labels, embedded.embeddings, embedder.head, rule, operating),
        );
      }
      title = `${embedder.modelId} on ${path.basename(path.resolve(o.data))} (${dataset.people.length} people)`;
    } finally {
      embedder.dispose();
      cropper.dispose();
    }
  } else {
    const dataset = await loadFaceDataset(o.data, { include: o.people });
    output = await crossValidate(
      dataset,
      {
        folds: o.folds,
        seed: o.seed,
        train: { ...DEFAULT_CV_TRAIN, epochs: o.epochs },
        onFold: (k, n, r) => process.stderr.write(`fold ${k}/${n}: ${JSON.stringify(r)}\n`),
      },
      logger,
    );
    title = `${o.folds}-fold by person, ${o.epochs} epochs (${dataset.people.length} people)`;
  }
  const roc = path.join(o.out, 'roc.png');
  const grid = path.join(o.out, 'demo-grid.png');
  await writeRocPng(output.scores, title, roc);
  await writeDemoGrid(output.demo, grid);
  if (o.json) {
    process.stdout.write(JSON.stringify(templates ? { ...output.report, templates } : output.report) + '\n');
  } else {
    const r = output.report;
    process.stdout.write(
      `${title}\n` +
        `people ${r.people}, pairs ${r.pairs}\n` +
        `AUC ${r.auc.toFixed(4)}  EER ${(r.eer * 100).toFixed(2)}%  ` +
        `TAR@FAR1% ${(r.tar_at_far['0.01'] * 100).toFixed(1)}%  TAR@FAR0.1% ${(r.tar_at_far['0.001'] * 100).toFixed(1)}%\n` +
        `accuracy at 0.5 ${(r['accuracy_at_0.5'] * 100).toFixed(2)}%  rank-1 ${(r.rank1 * 100).toFixed(2)}%\n` +
        `plots: ${roc}, ${grid}\n`,
    );
    for (const t of templates ?? []) {
      const a = t.atThreshold;
      process.stdout.write(
        `templates ${t.rule.padEnd(8)} probes ${t.probes}  rank-1 ${(t.rank1 * 100).toFixed(1)}%  EER ${(t.eer * 100).toFixed(2)}%  ` +
          `TAR@FAR0.1% ${(t.tar_at_far['0.001'] * 100).toFixed(1)}%  at ${a.acceptThreshold.toFixed(3)}: ` +
          `genuine ${a.genuineAccepted}, wrong person ${a.wrongPersonAccepted}, stranger ${a.strangerAccepted}\n`,
      );
    }
  }
  return 0;
}

runIfEntry(import.meta.url, 'evaluate', main);
