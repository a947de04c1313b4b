import Table from 'cli-table3';
import type { ComparisonReport, PipelineFigures } from './comparison.js';

/** Human names of the pipelines in tables. */
export const PIPELINE_LABELS: Readonly<Record<string, string>> = {
  facegate: 'facegate',
  faceapi: 'face-api.js (gray)',
  'faceapi-colour': 'face-api.js (colour)',
};

const label = (name: string): string => PIPELINE_LABELS[name] ?? name;

/** `0.0123` → `1.23 %`; null → `–`. */
export function percent(v: number | null, digits = 1): string {
  return v === null ? '–' : `${(v * 100).toFixed(digits)} %`;
}

function ms(f: PipelineFigures): string {
  return f.ms_per_face ? `${Math.round(f.ms_per_face.median)}` : '–';
}

function found(f: PipelineFigures): string {
  return `${f.faces_found}/${f.photos}`;
}

/** Faces found, with how many only after the peer's padded retry (so its plain detector count shows). */
function foundNoted(f: PipelineFigures): string {
  return found(f) + (f.padded ? ` (${f.padded} padded)` : '');
}

function row(name: string, f: PipelineFigures): string[] {
  return [
    label(name),
    found(f) +
      (f.aligned !== undefined ? ` (${f.aligned} aligned)` : '') +
      (f.padded !== undefined ? ` (${f.padded} padded)` : ''),
    percent(f.eer, 2),
    percent(f.tar_at_far['0.001']),
    percent(f.tar_at_far['0.01']),
    percent(f.rank1),
    percent(f.rank1_all_photos),
    f.rank1_templates
      ? `${percent(f.rank1_templates.best)} / ${percent(f.rank1_templates.mean)} / ${percent(f.rank1_templates.both)}`
      : '–',
    f.at_threshold ? `${f.at_threshold.false_accepts}/${f.at_threshold.impostor_pairs}` : '–',
    ms(f),
  ];
}

const HEAD = [
  'pipeline',
  'faces found',
  'EER',
  'TAR@FAR 0.1%',
  'TAR@FAR 1%',
  'rank-1',
  'rank-1 (misses count)',
  'rank-1, 2 enrolled: best / mean / both',
  'strangers accepted at its threshold',
  'ms/face (median)',
];

/** The terminal table of one set: every pipeline on its own faces, then on the common photos. */
export function comparisonTable(report: ComparisonReport): string {
  const table = new Table({ head: HEAD, style: { head: [], border: [] } });
  for (const [name, f] of Object.entries(report.pipelines)) table.push(row(name, f));
  const common = new Table({ head: HEAD, style: { head: [], border: [] } });
  for (const [name, f] of Object.entries(report.common.pipelines)) common.push(row(name, f));
  return (
    `${report.set}: ${report.people} people, ${report.photos} ${report.kind === 'photo' ? 'full photos (each pipeline detects)' : 'face crops'}\n` +
    `each pipeline on the photos where it found a face:\n${table.toString()}\n` +
    `on the ${report.common.photos} photos where every pipeline found a face:\n${common.toString()}\n`
  );
}

/** A named set for the README table. */
export interface SetReport {
  /** e.g. "realfaces-dev (32 people, full photos, --detect)". */
  readonly title: string;
  readonly report: ComparisonReport;
}

/**
 * The README table (markdown): one row per set and pipeline — faces found, EER, TAR@FAR
 * 0.1 %, rank-1 (own faces, then on the photos all pipelines found), ms per face.
 */
export function comparisonMarkdown(sets: readonly SetReport[]): string {
  const lines = [
    '| set | pipeline | faces found | EER | TAR @ FAR 0.1 % | rank-1 | EER / TAR@0.1% / rank-1 on photos all found | ms per face |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const { title, report } of sets) {
    for (const [name, f] of Object.entries(report.pipelines)) {
      const c = report.common.pipelines[name];
      lines.push(
        `| ${title} | ${label(name)} | ${foundNoted(f)} | ${percent(f.eer, 2)} | ${percent(f.tar_at_far['0.001'])} | ${percent(f.rank1)} | ` +
          `${percent(c.eer, 2)} / ${percent(c.tar_at_far['0.001'])} / ${percent(c.rank1)} (${report.common.photos} photos) | ${ms(f)} |`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * The detailed table for docs/evaluation.md: per set and pipeline, on its own faces and on
 * the photos all pipelines found — TAR@FAR 1 %, AUC, rank-1 with misses counted as wrong,
 * rank-1 with two photos enrolled (best / mean / both), ms per face (median, p95).
 */
export function comparisonDetailMarkdown(sets: readonly SetReport[]): string {
  const lines = [
    '| set | pipeline | photos | faces found | EER | TAR @ FAR 1 % | TAR @ FAR 0.1 % | AUC | rank-1 | rank-1, misses count | rank-1, 2 enrolled: best / mean / both | at its operating threshold: strangers accepted / genuine refused | ms per face p50 / p95 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const cells = (f: PipelineFigures): string =>
    [
      percent(f.eer, 2),
      percent(f.tar_at_far['0.01']),
      percent(f.tar_at_far['0.001']),
      f.auc === null ? '–' : f.auc.toFixed(4),
      percent(f.rank1),
      percent(f.rank1_all_photos),
      f.rank1_templates
        ? `${percent(f.rank1_templates.best)} / ${percent(f.rank1_templates.mean)} / ${percent(f.rank1_templates.both)}`
        : '–',
      f.at_threshold
        ? `${f.at_threshold.false_accepts} of ${f.at_threshold.impostor_pairs} / ${percent(f.at_threshold.frr)}`
        : '–',
      f.ms_per_face ? `${Math.round(f.ms_per_face.median)} / ${Math.round(f.ms_per_face.p95)}` : '–',
    ].join(' | ');
  for (const { title, report } of sets) {
    for (const [name, f] of Object.entries(report.pipelines))
      lines.push(`| ${title} | ${label(name)} | all | ${foundNoted(f)}${alignedNote(f)} | ${cells(f)} |`);
    for (const [name, f] of Object.entries(report.common.pipelines))
      lines.push(`| ${title} | ${label(name)} | found by all | ${found(f)} | ${cells(f)} |`);
  }
  return lines.join('\n') + '\n';
}

function alignedNote(f: PipelineFigures): string {
  return f.aligned !== undefined ? `, ${f.aligned} aligned` : '';
}
