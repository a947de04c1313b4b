#!/usr/bin/env node
/**
 * `npm run train -- --data <dir> --out <dir> [--epochs N --seed S --hold-out s36,s37]`
 * Trains the Siamese network on a folder of person folders and writes model.json +
 * weights.bin, metrics.json and training.png into --out.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { chooseBackend, parseBackendPreference } from '../model/backend.js';
import { runTraining, type TrainCommandOptions } from '../training/train-run.js';
import { createLogger } from '../util/log.js';
import { int, list } from './options.js';
import { runIfEntry } from './run-main.js';

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('train')
    .description('Train the facegate Siamese network on a folder of person folders (PGM/PNG/JPEG).')
    .requiredOption('--data <dir>', 'dataset: <dir>/<person>/<image>')
    .requiredOption('--out <dir>', 'output folder for model.json, weights.bin, metrics.json, training.png')
    .option('--epochs <n>', 'epochs', int('epochs', 1), 100)
    .option('--seed <n>', 'random seed (pairs, augmentation, splits, initial weights)', int('seed', 0), 1)
    .option('--batch-size <n>', 'pairs per batch', int('batch size', 2), 64)
    .option(
      '--hold-out <people>',
      'people left out of training entirely (comma-separated folder names)',
      list,
      [],
    )
    .option(
      '--val-people <n>',
      'people (of the rest) used for validation and thresholds',
      int('val people', 0),
      4,
    )
    .option('--filters <a,b,c>', 'conv filters of the three blocks', list, ['16', '32', '64'])
    .option('--learning-rate <x>', 'Adam learning rate', '0.001')
    .option('--no-augment', 'train on the faces as they are (the write-up)')
    .option(
      '--pairs <mode>',
      'writeup (each face one positive + one negative partner) | batch-all (every pair in P people x K faces batches)',
      'batch-all',
    )
    .option('--faces-per-person <k>', 'batch-all: faces per person in a batch', int('faces per person', 2), 4)
    .option('--no-fresh-pairs', "one fixed set of pairs for all epochs (the write-up's)")
    .option(
      '--hard-negatives <fraction>',
      'writeup pairs: fraction of negatives mined as the closest of 8 candidates (0 = off)',
      '0.5',
    )
    .option(
      '--embedding-norm <none|l2>',
      'scale embeddings to unit length (l2) or not (none, the write-up)',
      'none',
    )
    .option(
      '--pooling <flatten|gap>',
      'before the embedding: flatten (the write-up) or global average pooling',
      'flatten',
    )
    .option('--max-minutes <m>', 'stop after the epoch that crosses this wall-clock budget (shared CPUs)')
    .option('--backend <name>', 'auto | node | wasm | cpu (default: FACEGATE_TF_BACKEND or auto)')
    .option('--quiet', 'no progress bar');
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    data: string;
    out: string;
    epochs: number;
    seed: number;
    batchSize: number;
    holdOut: string[];
    valPeople: number;
    filters: string[];
    learningRate: string;
    augment: boolean;
    freshPairs: boolean;
    pairs: string;
    facesPerPerson: number;
    hardNegatives: string;
    backend?: string;
    maxMinutes?: string;
    embeddingNorm: string;
    pooling: string;
    quiet?: boolean;
  }>();
  const logger = createLogger(process.env.FACEGATE_LOG_LEVEL === 'debug' ? 'debug' : 'warn');
  const filters = o.filters.map(Number);
  if (filters.length !== 3 || filters.some((f) => !Number.isInteger(f) || f < 1)) {
    throw new InvalidArgumentError('--filters needs three positive integers, e.g. 16,32,64');
  }
  const hardFraction = Number(o.hardNegatives);
  if (!(hardFraction >= 0 && hardFraction <= 1))
    throw new InvalidArgumentError('--hard-negatives must be in 0..1');
  if (o.pairs !== 'writeup' && o.pairs !== 'batch-all')
    throw new InvalidArgumentError('--pairs must be writeup or batch-all');
  if (o.embeddingNorm !== 'none' && o.embeddingNorm !== 'l2')
    throw new InvalidArgumentError('--embedding-norm must be none or l2');
  if (o.pooling !== 'flatten' && o.pooling !== 'gap')
    throw new InvalidArgumentError('--pooling must be flatten or gap');
  const maxMinutes = o.maxMinutes === undefined ? null : Number(o.maxMinutes);
  if (maxMinutes !== null && !(maxMinutes > 0))
    throw new InvalidArgumentError('--max-minutes must be positive');
  const learningRate = Number(o.learningRate);
  if (!(learningRate > 0)) throw new InvalidArgumentError('--learning-rate must be positive');

  const backend = await chooseBackend(
    parseBackendPreference(o.backend ?? process.env.FACEGATE_TF_BACKEND),
    logger,
  );
  const bar = o.quiet
    ? null
    : new cliProgress.SingleBar(
        {
          format:
            'epoch {epoch}/{epochs} [{bar}] {percentage}% | loss {loss} acc {acc} | val loss {vloss} acc {vacc} | {eta_formatted}',
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
  const options: TrainCommandOptions = {
    data: o.data,
    out: o.out,
    epochs: o.epochs,
    seed: o.seed,
    batchSize: o.batchSize,
    holdOut: o.holdOut,
    valPeople: o.valPeople,
    filters: filters as [number, number, number],
    learningRate,
    augment: o.augment,
    freshPairs: o.freshPairs,
    pairMode: o.pairs,
    facesPerPerson: o.facesPerPerson,
    hardNegativeFraction: hardFraction,
    maxMinutes,
    embeddingNorm: o.embeddingNorm,
    pooling: o.pooling,
    backend,
    gitCommit: gitCommit(),
    machine:
      `${os.cpus().length}-core ${os.arch()} ${os.cpus()[0]?.model ?? ''}, Node ${process.version}`.trim(),
  };
  let last = { loss: '-', acc: '-', vloss: '-', vacc: '-' };
  bar?.start(o.epochs, 0, { epoch: 1, epochs: o.epochs, ...last });
  const result = await runTraining(options, logger, {
    onBatch: (epoch, b, n) => bar?.update(epoch - 1 + b / n, { epoch, ...last }),
    onEpoch: (s) => {
      last = {
        loss: s.loss.toFixed(3),
        acc: s.accuracy.toFixed(3),
        vloss: s.valLoss?.toFixed(3) ?? '-',
        vacc: s.valAccuracy?.toFixed(3) ?? '-',
      };
      bar?.update(s.epoch, { epoch: s.epoch, ...last });
      if (!bar) process.stderr.write(`epoch ${s.epoch}: ${JSON.stringify(s)}\n`);
    },
  });
  bar?.stop();
  process.stdout.write(
    `model written to ${path.resolve(o.out)} (${result.metrics.trainedPeople.length} people, ${result.metrics.timeSeconds.toFixed(0)} s, backend ${backend})\n` +
      `thresholds: ${JSON.stringify(result.metrics.thresholds)}\n`,
  );
  await fs.access(path.join(o.out, 'model.json'));
  tf.disposeVariables();
  return 0;
}

runIfEntry(import.meta.url, 'train', main);
