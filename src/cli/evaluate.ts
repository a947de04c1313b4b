#!/usr/bin/env node
/**
 * `npm run evaluate -- --data <dir> [--model <dir>] [--folds K] [--json]`
 * With --model: that model on every person in the data (people it never saw, if the data
 * is not its training set). Without: k-fold by person, training a model per fold.
 * Prints ONE JSON object with --json; writes roc.png and demo-grid.png into --out.
 */
import path from 'node:path';
import { Command } from 'commander';
import { chooseBackend, parseBackendPreference } from '../model/backend.js';
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
import { prepareFolder } from '../training/pretrained/build.js';
import type { PretrainedPreprocess } from '../model/pretrained/prepare.js';
import { DEFAULT_DETECTOR_CONFIG } from '../vision/config.js';
import { createFaceDetector } from '../vision/detector.js';
import { createEyeFinder } from '../vision/eyes.js';
import { DEFAULT_PREPROCESS } from '../vision/preprocess.js';
import type { Logger } from '../util/log.js';
import { createLogger } from '../util/log.js';
import { int, list } from './options.js';
import { runIfEntry } from './run-main.js';

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
      'with --model: run the live Haar detector (and the eye finder when the model aligns) on full photos instead of treating each image as a crop',
    )
    .option('--json', 'print only the JSON report on stdout');
}

/**
 * `--detect`: every image is a full photo; the live detector finds the face (images without
 * one are skipped and counted on stderr), the eye finder its eyes when the model aligns.
 */
async function loadDetectedDataset(
  root: string,
  people: string[] | undefined,
  options: PretrainedPreprocess,
  logger: Logger,
): Promise<FaceDataset> {
  const backend = (process.env.FACEGATE_DETECTOR_BACKEND as 'auto' | 'native' | 'wasm' | undefined) ?? 'auto';
  const detector = await createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, backend }, logger);
  const eyes = options.align ? await createEyeFinder({ backend }, logger) : null;
  try {
    const only = people ? new Set(people) : null;
    const set = await prepareFolder(
      path.resolve(root),
      { detector, eyes },
      'photo',
      options,
      (p) => !only || only.has(p),
    );
    process.stderr.write(
      `detect: ${set.faces.length} faces, ${set.aligned.filter(Boolean).length} aligned, ${set.skipped.length} images without a face${set.skipped.length ? ` (${set.skipped.join(', ')})` : ''}\n`,
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
    await eyes?.stop();
  }
}

export async function main(argv: string[]): Promise<number> {
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
    json?: boolean;
  }>();
  const logger = createLogger(process.env.FACEGATE_LOG_LEVEL === 'debug' ? 'debug' : 'warn', process.stderr);
  await chooseBackend(parseBackendPreference(o.backend ?? process.env.FACEGATE_TF_BACKEND), logger);
  let output: EvaluationOutput;
  let title: string;
  if (o.model) {
    const embedder = await loadEmbedder(o.model, logger);
    try {
      // The model's own preprocessing (size, and eye alignment for the pretrained backbone).
      const preprocess = { ...DEFAULT_PREPROCESS, ...embedder.preprocess, size: embedder.inputSize };
      const dataset = o.detect
        ? await loadDetectedDataset(
            o.data,
            o.people,
            { ...preprocess, align: preprocess.align ?? null },
            logger,
          )
        : await loadFaceDataset(o.data, { include: o.people, preprocess });
      const embedded = await embedDataset(embedder, dataset);
      output = evaluateEmbedded(embedded, embedder.head);
      title = `${embedder.modelId} on ${path.basename(path.resolve(o.data))} (${dataset.people.length} people)`;
    } finally {
      embedder.dispose();
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
    process.stdout.write(JSON.stringify(output.report) + '\n');
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
  }
  return 0;
}

runIfEntry(import.meta.url, 'evaluate', main);
