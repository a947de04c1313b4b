import { similarityFromDistance, type SimilarityHead } from '../model/embedder.js';
import { equalErrorRate, tarAtFar } from './metrics.js';

/**
 * How a person with several templates (enrollment photos) is scored against one probe:
 * - `best`: the similarity of the closest template (what the matcher does);
 * - `mean`: the mean similarity over the templates;
 * - `top2mean`: the mean of the two closest;
 * - `centroid`: the similarity to the mean embedding of the templates;
 * - `single`: only the person's first template (the one-photo baseline).
 */
export const TEMPLATE_RULES = ['single', 'best', 'mean', 'top2mean', 'centroid'] as const;
export type TemplateRule = (typeof TEMPLATE_RULES)[number];

export interface TemplateReport {
  readonly rule: TemplateRule;
  /** Held-out photos (of people with at least two photos). */
  readonly probes: number;
  readonly rank1: number;
  readonly eer: number;
  readonly tar_at_far: { readonly '0.01': number; readonly '0.001': number };
  /**
   * At `acceptThreshold` with margin `minMargin` over the runner-up person, one frame:
   * probes accepted as themselves / as somebody else; and with the probe's person not
   * enrolled at all (a stranger), probes accepted as somebody.
   */
  readonly atThreshold: {
    readonly acceptThreshold: number;
    readonly minMargin: number;
    readonly genuineAccepted: number;
    readonly wrongPersonAccepted: number;
    readonly strangerAccepted: number;
  };
}

/**
 * Leave-one-out over a labelled set of embeddings: each photo in turn is the probe and every
 * other photo is enrolled as a template of its person (so the probe's person has their
 * remaining photos). Each person is scored by `rule`; genuine scores are the probe's own
 * person's, impostor scores every other person's. Probes whose person has no other photo
 * are skipped.
 *
 * @param labels person index per embedding; @param head the Siamese head (distance → similarity).
 */
export function leaveOneOutTemplates(
  labels: readonly number[],
  embeddings: readonly Float32Array[],
  head: SimilarityHead,
  rule: TemplateRule,
  operating: { acceptThreshold: number; minMargin: number },
): TemplateReport {
  if (labels.length !== embeddings.length) throw new RangeError('one label per embedding');
  const n = embeddings.length;
  const people = [...new Set(labels)];
  const sim = (a: Float32Array, b: Float32Array): number => {
    let sum = 0;
    for (let k = 0; k < a.length; k++) sum += (a[k] - b[k]) ** 2;
    return similarityFromDistance(head, Math.sqrt(sum));
  };
  const genuine: number[] = [];
  const impostor: number[] = [];
  let probes = 0;
  let hits = 0;
  let genuineAccepted = 0;
  let wrongPersonAccepted = 0;
  let strangerAccepted = 0;
  for (let i = 0; i < n; i++) {
    const own = labels[i];
    if (!labels.some((l, j) => l === own && j !== i)) continue;
    probes++;
    const scores = new Map<number, number>();
    for (const person of people) {
      const templates = embeddings.filter((_, j) => j !== i && labels[j] === person);
      if (templates.length === 0) continue;
      scores.set(person, scorePerson(embeddings[i], templates, rule, sim));
    }
    const ranked = [...scores.entries()].sort((a, b) => b[1] - a[1]);
    if (ranked[0][0] === own) hits++;
    for (const [person, score] of scores) (person === own ? genuine : impostor).push(score);
    const accepted = (list: [number, number][]): number | null =>
      list.length > 0 &&
      list[0][1] >= operating.acceptThreshold &&
      list[0][1] - (list[1]?.[1] ?? 0) >= operating.minMargin
        ? list[0][0]
        : null;
    const winner = accepted(ranked);
    if (winner === own) genuineAccepted++;
    else if (winner !== null) wrongPersonAccepted++;
    if (accepted(ranked.filter(([p]) => p !== own)) !== null) strangerAccepted++;
  }
  return {
    rule,
    probes,
    rank1: probes ? hits / probes : 0,
    eer: equalErrorRate(genuine, impostor).eer,
    tar_at_far: { '0.01': tarAtFar(genuine, impostor, 0.01), '0.001': tarAtFar(genuine, impostor, 0.001) },
    atThreshold: { ...operating, genuineAccepted, wrongPersonAccepted, strangerAccepted },
  };
}

function scorePerson(
  probe: Float32Array,
  templates: readonly Float32Array[],
  rule: TemplateRule,
  sim: (a: Float32Array, b: Float32Array) => number,
): number {
  switch (rule) {
    case 'single':
      return sim(probe, templates[0]);
    case 'best':
      return Math.max(...templates.map((t) => sim(probe, t)));
    case 'mean':
      return templates.reduce((s, t) => s + sim(probe, t), 0) / templates.length;
    case 'top2mean': {
      const top = templates.map((t) => sim(probe, t)).sort((a, b) => b - a);
      return (top[0] + (top[1] ?? top[0])) / 2;
    }
    case 'centroid': {
      const c = new Float32Array(probe.length);
      for (const t of templates) for (let k = 0; k < c.length; k++) c[k] += t[k] / templates.length;
      return sim(probe, c);
    }
  }
  throw new RangeError(`unknown template rule ${String(rule)}`);
}
