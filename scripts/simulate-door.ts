/**
 * How the access rules behave with a real model on faces it never trained on (prints
 * numbers; not a test). People the model did not train on (metrics.json validation +
 * held-out people, Olivetti) are split into members (2 photos enrolled) and strangers;
 * each "visit" is 10 frames at 10 fps fed to AccessPolicy. Frames are either independent
 * photos of the person (optimistic for N-of-M) or one photo repeated (fully correlated
 * video: N-of-M adds nothing, only thresholds and margin work).
 *
 *   npx tsx scripts/simulate-door.ts [modelDir=models/siamese] [visitsPerPerson=40]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ACCESS_CONFIG, parseModelThresholds, type AccessConfig } from '../src/access/config.js';
import { AccessPolicy } from '../src/access/policy.js';
import { Matcher } from '../src/gallery/matcher.js';
import { loadFaceDataset } from '../src/training/dataset.js';
import { loadEmbedder } from '../src/model/load.js';
import type { Clock } from '../src/util/clock.js';
import { silentLogger } from '../src/util/log.js';

const modelDir = process.argv[2] ?? 'models/siamese';
const visitsPerPerson = Number(process.argv[3] ?? 40);
const metrics = JSON.parse(readFileSync(join(modelDir, 'metrics.json'), 'utf8')) as {
  validationPeople?: string[];
  heldOutPeople?: string[];
};
const unseen = [...(metrics.validationPeople ?? []), ...(metrics.heldOutPeople ?? [])];
if (unseen.length < 4)
  throw new Error(`${modelDir}/metrics.json lists fewer than 4 people the model never trained on`);
const thresholds = parseModelThresholds(metrics);

const embedder = await loadEmbedder(modelDir, silentLogger());
const data = await loadFaceDataset('data/olivetti', { include: unseen });
const vectors = await embedder.embed(data.faces.map((f) => f.image));
const byPerson = new Map<string, Float32Array[]>();
data.faces.forEach((f, i) => byPerson.set(f.person, [...(byPerson.get(f.person) ?? []), vectors[i]]));
embedder.dispose();

let seed = 12345;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];

class StepClock implements Clock {
  t = 0;
  nowMs = () => this.t;
  monotonicMs = () => this.t;
}

const fromModel: AccessConfig = thresholds
  ? {
      ...DEFAULT_ACCESS_CONFIG,
      acceptThreshold: thresholds.accept,
      unknownThreshold: thresholds.unknown,
      minMargin: thresholds.margin,
    }
  : DEFAULT_ACCESS_CONFIG;
const rules: [string, AccessConfig][] = [
  ['default: N-of-M + margin', fromModel],
  ['N-of-M, no margin', { ...fromModel, minMargin: 0 }],
  ['single frame at accept', { ...fromModel, confirmFrames: 1, windowFrames: 1, minMargin: 0 }],
  [
    'single frame at 0.5',
    {
      ...fromModel,
      acceptThreshold: 0.5,
      unknownThreshold: 0.5,
      confirmFrames: 1,
      windowFrames: 1,
      minMargin: 0,
    },
  ],
];

const people = [...byPerson.keys()];
const strangersPerSplit = Math.max(2, Math.floor(people.length / 2));
console.log(
  `model ${modelDir}: ${people.length} unseen people (${people.join(' ')}), accept ${fromModel.acceptThreshold.toFixed(3)}, unknown ${fromModel.unknownThreshold.toFixed(3)}, margin ${fromModel.minMargin.toFixed(3)}, N=${fromModel.confirmFrames} of M=${fromModel.windowFrames}`,
);
for (const correlated of [false, true]) {
  console.log(`\nframes: ${correlated ? 'one photo repeated (correlated video)' : 'independent photos'}`);
  console.log(
    'rule                         | member visits: let in / wrong person / refused | stranger visits let in',
  );
  for (const [name, config] of rules) {
    let memberVisits = 0;
    let memberIn = 0;
    let wrong = 0;
    let strangerVisits = 0;
    let strangerIn = 0;
    for (let split = 0; split < people.length; split++) {
      const strangers = new Set(
        Array.from({ length: strangersPerSplit }, (_, k) => people[(split + k) % people.length]),
      );
      const matcher = new Matcher(embedder.head, embedder.dimension);
      const frames = new Map<string, Float32Array[]>();
      const entries = [];
      for (const p of people) {
        const v = byPerson.get(p)!;
        if (strangers.has(p)) frames.set(p, v);
        else {
          entries.push(...v.slice(0, 2).map((vector) => ({ personId: p, personName: p, vector })));
          frames.set(p, v.slice(2));
        }
      }
      matcher.rebuild(entries);
      for (const p of people) {
        for (let visit = 0; visit < visitsPerPerson; visit++) {
          const clock = new StepClock();
          const policy = new AccessPolicy(config);
          const photo = pick(frames.get(p)!);
          let granted: string | null = null;
          for (let f = 0; f < 10 && !granted; f++) {
            const match = matcher.match(correlated ? photo : pick(frames.get(p)!));
            const [d] = policy.observe(clock.monotonicMs(), [
              { region: { box: { x: 0, y: 0, width: 1, height: 1 } }, quality: 'ok', reasons: [], match },
            ]);
            if (d?.type === 'access_granted') granted = d.person.id;
            clock.t += 100;
          }
          if (strangers.has(p)) {
            strangerVisits++;
            if (granted) strangerIn++;
          } else {
            memberVisits++;
            if (granted === p) memberIn++;
            else if (granted) wrong++;
          }
        }
      }
    }
    const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`.padStart(6);
    console.log(
      `${name.padEnd(28)} | ${pct(memberIn, memberVisits)} / ${pct(wrong, memberVisits)} / ${pct(memberVisits - memberIn - wrong, memberVisits)}     | ${pct(strangerIn, strangerVisits)}  (${memberVisits} / ${strangerVisits} visits)`,
    );
  }
}
