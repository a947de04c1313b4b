import { allPairs } from './pairs.js';
import { auc, equalErrorRate, rank1, tarAtFar } from './metrics.js';

/**
 * Side-by-side evaluation of face pipelines on the same photos with the same protocol
 * (issue #9 item 5). Pure functions of per-photo results: which pipeline found a face in
 * which photo, its embedding, and how long it took.
 *
 * Protocol (the same for every pipeline):
 * - verification: every genuine and impostor pair among the photos where the pipeline
 *   found a face; EER, TAR at FAR 1% and 0.1%, AUC;
 * - identification (rank-1): one photo enrolled per person (the first, in folder order,
 *   where the pipeline found a face), every other found photo of the people is a probe, the
 *   most similar enrolled person wins; `rank1_all_photos` also counts the photos without a
 *   face as misses (what a user at the door sees);
 * - detector misses are reported (`faces_found` of `photos`), never dropped silently, and
 *   every figure is computed again on the `common` photos where ALL pipelines found a face,
 *   so no pipeline wins by skipping hard photos;
 * - time: wall-clock milliseconds per photo with a face, from decoded image to embedding
 *   (detection, landmarks/eyes, crop, embedding), after one warm-up photo.
 */

/** One pipeline's result on one photo; null = no face found. */
export interface PhotoResult {
  readonly embedding: Float32Array;
  readonly ms: number;
  /** facegate: whether the face was aligned on landmarks/eyes (undefined: not reported). */
  readonly aligned?: boolean;
  /** face-api.js: whether its detector found the face only in the padded photo. */
  readonly padded?: boolean;
}

/** One photo of the set with every pipeline's result, keyed by pipeline name. */
export interface ComparedPhoto {
  /** `<person>/<file>`. */
  readonly file: string;
  readonly label: number;
  readonly results: Readonly<Record<string, PhotoResult | null>>;
}

/** Figures of one pipeline on one subset of photos. Null where the subset cannot give it. */
export interface PipelineFigures {
  readonly photos: number;
  readonly faces_found: number;
  readonly people: number;
  readonly genuine_pairs: number;
  readonly impostor_pairs: number;
  readonly eer: number | null;
  readonly auc: number | null;
  readonly tar_at_far: { readonly '0.01': number | null; readonly '0.001': number | null };
  readonly rank1: number | null;
  readonly rank1_probes: number;
  /** Rank-1 where photos without a face count as wrong (null when every person has one photo). */
  readonly rank1_all_photos: number | null;
  /**
   * Rank-1 with up to `enrolled` photos enrolled per person (the first found ones; at least
   * one photo of each person is left as a probe), a person scored by the best of their
   * templates, by the mean of the template scores, and by both (their average). Null when
   * no person has more than one probe-able photo beyond the first.
   */
  readonly rank1_templates: {
    readonly enrolled: number;
    readonly probes: number;
    readonly best: number;
    readonly mean: number;
    readonly both: number;
  } | null;
  /**
   * At the pipeline's operating threshold (facegate: the model's `accept` threshold from its
   * metrics.json; face-api.js: its FaceMatcher's 0.6 distance): impostor pairs accepted (a
   * stranger let in, per frame pair) and the share of genuine pairs refused. Null without a
   * threshold or without pairs.
   */
  readonly at_threshold: {
    readonly threshold: number;
    readonly false_accepts: number;
    readonly impostor_pairs: number;
    readonly frr: number;
  } | null;
  /** Faces aligned by the pipeline (facegate reports it; absent for pipelines that do not). */
  readonly aligned?: number;
  /** Faces found only in the padded photo (face-api.js; absent for pipelines that do not pad). */
  readonly padded?: number;
  readonly ms_per_face: { readonly median: number; readonly mean: number; readonly p95: number } | null;
}

export interface ComparisonReport {
  readonly set: string;
  /** 'photo' = full photos through each pipeline's detector; 'crop' = ready face crops. */
  readonly kind: 'photo' | 'crop';
  readonly people: number;
  readonly photos: number;
  readonly pipelines: Readonly<Record<string, PipelineFigures>>;
  /** The same figures on the photos where every pipeline found a face. */
  readonly common: { readonly photos: number; readonly pipelines: Readonly<Record<string, PipelineFigures>> };
}

/** How a pipeline scores two of its embeddings; higher = more alike. */
export type Similarity = (a: Float32Array, b: Float32Array) => number;

/**
 * The comparison report from per-photo results. `similarity[name]` scores that pipeline's
 * embeddings (facegate: its Siamese head; face-api.js: negated Euclidean distance). Every
 * pipeline named in `similarity` must have a result (or null) for every photo.
 */
export function compareResults(
  set: string,
  kind: 'photo' | 'crop',
  photos: readonly ComparedPhoto[],
  similarity: Readonly<Record<string, Similarity>>,
  thresholds: Readonly<Record<string, number | null>> = {},
): ComparisonReport {
  const names = Object.keys(similarity);
  for (const p of photos)
    for (const n of names)
      if (!(n in p.results)) throw new Error(`photo ${p.file} has no result for pipeline ${n}`);
  const common = photos.filter((p) => names.every((n) => p.results[n] !== null));
  const pipelines: Record<string, PipelineFigures> = {};
  const onCommon: Record<string, PipelineFigures> = {};
  for (const n of names) {
    pipelines[n] = figures(photos, n, similarity[n], thresholds[n] ?? null);
    onCommon[n] = figures(common, n, similarity[n], thresholds[n] ?? null);
  }
  return {
    set,
    kind,
    people: new Set(photos.map((p) => p.label)).size,
    photos: photos.length,
    pipelines,
    common: { photos: common.length, pipelines: onCommon },
  };
}

/** One pipeline's figures on `photos` (its misses included in the counts). */
export function figures(
  photos: readonly ComparedPhoto[],
  name: string,
  similarity: Similarity,
  threshold: number | null = null,
): PipelineFigures {
  const found = photos.flatMap((p) => {
    const r = p.results[name];
    return r ? [{ photo: p, result: r }] : [];
  });
  const labels = found.map((f) => f.photo.label);
  const embeddings = found.map((f) => f.result.embedding);
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (const pair of allPairs(labels))
    (pair.same ? genuine : impostor).push(similarity(embeddings[pair.a], embeddings[pair.b]));
  const verifiable = genuine.length > 0 && impostor.length > 0;

  // Rank-1, one photo enrolled per person: the first found photo of each person.
  const enrolled = new Map<number, number>();
  found.forEach((f, i) => {
    if (!enrolled.has(f.photo.label)) enrolled.set(f.photo.label, i);
  });
  const gallery = [...enrolled.entries()];
  const enrolledIdx = new Set(enrolled.values());
  const probes = found.map((_, i) => i).filter((i) => !enrolledIdx.has(i));
  const rank = probes.length > 0 && gallery.length > 1;
  const r1 = rank
    ? rank1(
        gallery.map(([label]) => label),
        probes.map((i) => labels[i]),
        (p, g) => similarity(embeddings[probes[p]], embeddings[gallery[g][1]]),
      )
    : null;
  // The same with the photos without a face as wrong answers: every photo but one per person is a probe.
  const people = new Set(photos.map((p) => p.label));
  const allProbes = photos.length - people.size;
  const r1All = r1 !== null && allProbes > 0 ? (r1 * probes.length) / allProbes : null;

  const templates = rank1WithTemplates(labels, embeddings, similarity, TEMPLATES_ENROLLED);

  const times = found.map((f) => f.result.ms).sort((a, b) => a - b);
  const count = (flag: 'aligned' | 'padded') =>
    found.some((f) => f.result[flag] !== undefined)
      ? { [flag]: found.filter((f) => f.result[flag] === true).length }
      : {};
  return {
    photos: photos.length,
    faces_found: found.length,
    people: new Set(labels).size,
    genuine_pairs: genuine.length,
    impostor_pairs: impostor.length,
    eer: verifiable ? equalErrorRate(genuine, impostor).eer : null,
    auc: verifiable ? auc(genuine, impostor) : null,
    tar_at_far: {
      '0.01': verifiable ? tarAtFar(genuine, impostor, 0.01) : null,
      '0.001': verifiable ? tarAtFar(genuine, impostor, 0.001) : null,
    },
    rank1: r1,
    rank1_probes: probes.length,
    rank1_all_photos: r1All,
    rank1_templates: templates,
    at_threshold:
      threshold !== null && verifiable
        ? {
            threshold,
            false_accepts: impostor.filter((x) => x >= threshold).length,
            impostor_pairs: impostor.length,
            frr: genuine.filter((x) => x < threshold).length / genuine.length,
          }
        : null,
    ...count('aligned'),
    ...count('padded'),
    ms_per_face:
      times.length > 0
        ? {
            median: quantile(times, 0.5),
            mean: times.reduce((a, b) => a + b, 0) / times.length,
            p95: quantile(times, 0.95),
          }
        : null,
  };
}

/** Photos enrolled per person for `rank1_templates` (realfaces-dev has at least 4 per person). */
export const TEMPLATES_ENROLLED = 2;

/**
 * Rank-1 with several templates per person: the first min(k, n-1) faces of each person
 * (in order) are enrolled, the rest are probes; a person is scored by best / mean / both
 * (average of best and mean) of the probe's similarities to their templates.
 */
export function rank1WithTemplates(
  labels: readonly number[],
  embeddings: readonly Float32Array[],
  similarity: Similarity,
  k: number,
): PipelineFigures['rank1_templates'] {
  const byPerson = new Map<number, number[]>();
  labels.forEach((l, i) => byPerson.set(l, [...(byPerson.get(l) ?? []), i]));
  const gallery = new Map<number, number[]>();
  const probes: number[] = [];
  for (const [label, idx] of byPerson) {
    const n = Math.max(1, Math.min(k, idx.length - 1));
    gallery.set(label, idx.slice(0, n));
    probes.push(...idx.slice(n));
  }
  if (probes.length === 0 || gallery.size < 2 || ![...gallery.values()].some((g) => g.length > 1))
    return null;
  const hits = { best: 0, mean: 0, both: 0 };
  for (const p of probes) {
    const top = {
      best: { s: -Infinity, l: -1 },
      mean: { s: -Infinity, l: -1 },
      both: { s: -Infinity, l: -1 },
    };
    for (const [label, templates] of gallery) {
      const scores = templates.map((t) => similarity(embeddings[p], embeddings[t]));
      const best = Math.max(...scores);
      const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
      const rule = { best, mean, both: (best + mean) / 2 };
      for (const key of ['best', 'mean', 'both'] as const)
        if (rule[key] > top[key].s) top[key] = { s: rule[key], l: label };
    }
    for (const key of ['best', 'mean', 'both'] as const) if (top[key].l === labels[p]) hits[key]++;
  }
  return {
    enrolled: k,
    probes: probes.length,
    best: hits.best / probes.length,
    mean: hits.mean / probes.length,
    both: hits.both / probes.length,
  };
}

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
