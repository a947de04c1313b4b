#!/usr/bin/env node
/**
 * `npm run evaluate:report [-- --model <dir>] [--sets realfaces-dev,tvfaces,olivetti,orl]`
 *
 * Runs `evaluate --peer` (facegate beside face-api.js's own pipeline, src/training/comparison.ts)
 * on every evaluation set and writes the numbers only — never an image or an embedding — to
 * `docs/evaluation.json` and the table between the evaluation-table markers in
 * `docs/evaluation.md` and `README.md` ("How well it recognises"). Sets from `../shared`
 * (evaluation only, never committed) are skipped with a message when absent. Results of sets not run this time are
 * kept from the existing JSON, so one set can be re-measured alone.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { chooseBackend, parseBackendPreference } from '../model/backend.js';
import {
  comparisonDetailMarkdown,
  comparisonMarkdown,
  comparisonTable,
  type SetReport,
} from '../training/comparison-format.js';
import { createLogger } from '../util/log.js';
import { barProgress, logProgress } from '../util/progress.js';
import { comparePipelines, PEERS } from './evaluate.js';
import { list } from './options.js';
import { runIfEntry } from './run-main.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HELD_OUT = ['s36', 's37', 's38', 's39', 's40'];

/** One evaluation set of the README table. */
export interface EvaluationSet {
  readonly key: string;
  readonly title: string;
  /** Folder relative to the repository, or under the shared folder when `shared`. */
  readonly folder: string;
  readonly shared: boolean;
  readonly detect: boolean;
  readonly people?: readonly string[];
  readonly peers: readonly (typeof PEERS)[number][];
}

export const EVALUATION_SETS: readonly EvaluationSet[] = [
  {
    key: 'realfaces-dev',
    title: 'realfaces-dev (32 people, full photos, `--detect`)',
    folder: 'data/realfaces-dev',
    shared: true,
    detect: true,
    // colour doubles the peer's time on this machine: run it on its own with `evaluate --peer faceapi-colour`
    peers: ['faceapi'],
  },
  {
    key: 'tvfaces',
    title: 'tvfaces (8 people x 5 crops)',
    folder: 'data/tvfaces',
    shared: true,
    detect: false,
    // gray PNGs: a colour run would be the same input
    peers: ['faceapi'],
  },
  {
    key: 'olivetti',
    title: 'Olivetti s36–s40 (64x64 crops, never trained on)',
    folder: 'data/olivetti',
    shared: false,
    detect: false,
    people: HELD_OUT,
    peers: ['faceapi'],
  },
  {
    key: 'orl',
    title: 'ORL s36–s40 (92x112 photos, `--detect`, never trained on)',
    folder: 'data/orl_faces',
    shared: false,
    detect: true,
    people: HELD_OUT,
    peers: ['faceapi'],
  },
];

const marker = (name: string) => ({
  start: `<!-- ${name}:start (written by npm run evaluate:report) -->`,
  end: `<!-- ${name}:end -->`,
});
/** The README table (docs/evaluation.md and README.md) and the detailed one (docs/evaluation.md). */
export const TABLE = marker('evaluation-table');
export const DETAILS = marker('evaluation-details');

interface StoredReport {
  readonly date: string;
  readonly model: string;
  readonly sets: Record<string, SetReport & { readonly date: string; readonly machine: unknown }>;
}

/** Replaces the text between a pair of markers in `markdown` (errors when they are missing). */
export function replaceTable(markdown: string, table: string, markers = TABLE): string {
  const a = markdown.indexOf(markers.start);
  const b = markdown.indexOf(markers.end);
  if (a < 0 || b < a) throw new Error(`the markers ${markers.start} … ${markers.end} are missing`);
  return markdown.slice(0, a + markers.start.length) + '\n\n' + table + '\n' + markdown.slice(b);
}

/** The text as the repository's prettier config formats it (so `npm run format:check` stays green). */
async function formatted(file: string, text: string): Promise<string> {
  // prettier is a dev dependency, and this is a development tool.
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...config, filepath: file });
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('evaluate:report')
    .description('facegate beside face-api.js on every evaluation set; writes docs/evaluation.{json,md}')
    .option('--model <dir>', 'the facegate model', 'models/faceapi-siamese')
    .option('--sets <list>', `sets to run (${EVALUATION_SETS.map((s) => s.key).join(', ')})`, list)
    .option(
      '--shared <dir>',
      'the shared data folder (default: FACEGATE_SHARED_DIR or ../shared beside the checkout)',
      process.env.FACEGATE_SHARED_DIR ?? path.join(REPO, '..', 'shared'),
    )
    .option('--json <file>', 'where the numbers go', 'docs/evaluation.json')
    .option(
      '--markdown <list>',
      'documents whose table (between the evaluation-table markers) is replaced',
      list,
      ['docs/evaluation.md', 'README.md'],
    )
    .option(
      '--cache <file>',
      'peer results reused between runs (embeddings: keep out of the repository; "" = none)',
      path.join(REPO, 'tmp', 'evaluate-cache.json'),
    )
    .option('--backend <name>', 'auto | node | wasm | cpu (default: FACEGATE_TF_BACKEND or auto)');
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    model: string;
    sets?: string[];
    shared: string;
    json: string;
    markdown: string[];
    cache: string;
    backend?: string;
  }>();
  const unknown = (o.sets ?? []).filter((k) => !EVALUATION_SETS.some((s) => s.key === k));
  if (unknown.length > 0) throw new Error(`unknown set ${unknown.join(', ')}`);
  const logger = createLogger(process.env.FACEGATE_LOG_LEVEL === 'debug' ? 'debug' : 'warn', process.stderr);
  const backend = await chooseBackend(
    parseBackendPreference(o.backend ?? process.env.FACEGATE_TF_BACKEND),
    logger,
  );
  const say = (m: string) => process.stderr.write(`evaluate:report: ${m}\n`);

  const stored: StoredReport = existsSync(o.json)
    ? (JSON.parse(await readFile(o.json, 'utf8')) as StoredReport)
    : { date: '', model: '', sets: {} };
  const sets = { ...stored.sets };
  let model = stored.model;
  for (const set of EVALUATION_SETS) {
    if (o.sets && !o.sets.includes(set.key)) continue;
    const folder = path.resolve(set.shared ? o.shared : REPO, set.folder);
    if (!existsSync(folder)) {
      say(`${set.key}: ${folder} is absent (evaluation data outside the repository), skipped`);
      continue;
    }
    say(`${set.key}: ${folder}`);
    const report = await comparePipelines(
      {
        data: folder,
        model: o.model,
        people: set.people ? [...set.people] : undefined,
        peer: [...set.peers],
        detect: set.detect,
        cache: o.cache || undefined,
      },
      backend,
      logger,
      process.stderr.isTTY
        ? barProgress(process.stderr)
        : logProgress(createLogger('info', { format: 'json', destination: 2 }).child({ set: set.key })),
    );
    process.stderr.write(comparisonTable(report));
    model = report.model;
    sets[set.key] = { title: set.title, report, date: new Date().toISOString(), machine: report.machine };
  }
  const ordered = EVALUATION_SETS.filter((s) => sets[s.key]).map((s) => sets[s.key]);
  const out: StoredReport = { date: new Date().toISOString(), model, sets };
  await writeFile(o.json, await formatted(o.json, JSON.stringify(out, null, 2) + '\n'));
  const table = comparisonMarkdown(ordered);
  const details = comparisonDetailMarkdown(ordered);
  let written = 0;
  for (const file of o.markdown) {
    let text = existsSync(file) ? await readFile(file, 'utf8') : '';
    if (!text.includes(TABLE.start)) {
      say(`${file} has no evaluation-table markers: left as it is`);
      continue;
    }
    text = replaceTable(text, table);
    if (text.includes(DETAILS.start)) text = replaceTable(text, details, DETAILS);
    await writeFile(file, await formatted(file, text));
    say(`wrote the table in ${file}`);
    written++;
  }
  say(`wrote ${o.json}`);
  if (written === 0) process.stdout.write(table);
  return 0;
}

runIfEntry(import.meta.url, 'evaluate:report', main);
