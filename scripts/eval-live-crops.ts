/**
 * How well do live crops (ORL 92x112 originals → Haar detector → preprocessFace with the
 * margins) work with the trained model, compared with the training format (Olivetti 64x64
 * → preprocessFace(image, null))? For the people the model never trained on:
 * gallery = photos 1-3 (enrollment), probes = photos 4-10 (the door camera).
 *
 *   npx tsx scripts/eval-live-crops.ts [--model models/siamese]
 *
 * Prints, per margin setting: detections, rank-1 accuracy, and at the Siamese threshold
 * 0.5 the genuine accept rate (TAR) and impostor accept rate (FAR) of probe-vs-person scores.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadEmbedder } from '../src/model/load.js';
import { similarityFromDistance, type Embedder } from '../src/model/embedder.js';
import { silentLogger } from '../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../src/vision/config.js';
import { createFaceDetector, type FaceDetector } from '../src/vision/detector.js';
import type { GrayImage } from '../src/vision/image.js';
import { readGrayImage } from '../src/vision/image-io.js';
import { DEFAULT_PREPROCESS, preprocessFace, type PreprocessOptions } from '../src/vision/preprocess.js';

const GALLERY = [1, 2, 3];
const PROBES = [4, 5, 6, 7, 8, 9, 10];

interface Row {
  setting: string;
  detected: string;
  rank1: number;
  tar: number;
  far: number;
  /** Probability a genuine probe-person distance is smaller than an impostor one (threshold-free). */
  auc: number;
}

function auc(genuine: number[], impostor: number[]): number {
  let wins = 0;
  for (const g of genuine) for (const i of impostor) wins += g < i ? 1 : g === i ? 0.5 : 0;
  return wins / (genuine.length * impostor.length);
}

function distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

async function crops(
  people: string[],
  photos: number[],
  make: (person: string, photo: number) => Promise<GrayImage | null>,
): Promise<{ person: string; face: GrayImage }[]> {
  const out: { person: string; face: GrayImage }[] = [];
  for (const person of people)
    for (const photo of photos) {
      const face = await make(person, photo);
      if (face) out.push({ person, face });
    }
  return out;
}

async function evaluate(
  setting: string,
  embedder: Embedder,
  people: string[],
  make: (p: string, k: number) => Promise<GrayImage | null>,
): Promise<Row> {
  const gallery = await crops(people, GALLERY, make);
  const probes = await crops(people, PROBES, make);
  const g = await embedder.embed(gallery.map((c) => c.face));
  const p = await embedder.embed(probes.map((c) => c.face));
  let correct = 0;
  let genuine = 0;
  let genuineOk = 0;
  let impostor = 0;
  let impostorOk = 0;
  const genuineD: number[] = [];
  const impostorD: number[] = [];
  probes.forEach((probe, i) => {
    const best = new Map<string, number>();
    gallery.forEach((entry, j) => {
      const d = distance(p[i], g[j]);
      if (!best.has(entry.person) || d < (best.get(entry.person) as number)) best.set(entry.person, d);
    });
    const ranked = [...best.entries()].sort((a, b) => a[1] - b[1]);
    if (ranked[0][0] === probe.person) correct++;
    for (const [person, d] of ranked) {
      const accepted = similarityFromDistance(embedder.head, d) >= 0.5;
      (person === probe.person ? genuineD : impostorD).push(d);
      if (person === probe.person) {
        genuine++;
        if (accepted) genuineOk++;
      } else {
        impostor++;
        if (accepted) impostorOk++;
      }
    }
  });
  const total = people.length * (GALLERY.length + PROBES.length);
  return {
    setting,
    detected: `${gallery.length + probes.length}/${total}`,
    rank1: correct / probes.length,
    tar: genuineOk / genuine,
    far: impostorOk / impostor,
    auc: auc(genuineD, impostorD),
  };
}

async function liveCrop(
  detector: FaceDetector,
  options: PreprocessOptions,
  person: string,
  photo: number,
): Promise<GrayImage | null> {
  const image = await readGrayImage(join('data/orl_faces', person, `${photo}.pgm`));
  const boxes = await detector.detect(image);
  return boxes.length > 0 ? preprocessFace(image, { box: boxes[0] }, options) : null;
}

const modelDir = process.argv.includes('--model')
  ? process.argv[process.argv.indexOf('--model') + 1]
  : 'models/siamese';
const metrics = JSON.parse(await readFile(join(modelDir, 'metrics.json'), 'utf8')) as {
  heldOutPeople?: string[];
  validationPeople?: string[];
};
const people = [...(metrics.heldOutPeople ?? []), ...(metrics.validationPeople ?? [])].sort();
const embedder = await loadEmbedder(modelDir, silentLogger());
const detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
const size = embedder.inputSize;
const rows: Row[] = [];
rows.push(
  await evaluate('training format (Olivetti 64x64, whole image)', embedder, people, async (p, k) =>
    preprocessFace(await readGrayImage(join('data/olivetti', p, `${k}.pgm`)), null, {
      ...DEFAULT_PREPROCESS,
      size,
    }),
  ),
);
const settings: [string, PreprocessOptions][] = [
  ['live, zero margins', { ...DEFAULT_PREPROCESS, size, marginX: 0, marginTop: 0, marginBottom: 0 }],
  [
    'live, skeleton margins (0, +0.1, +0.1)',
    { ...DEFAULT_PREPROCESS, size, marginX: 0, marginTop: 0.1, marginBottom: 0.1 },
  ],
  [
    'live, Olivetti-tuned (-0.1, -0.175, 0)',
    { ...DEFAULT_PREPROCESS, size, marginX: -0.1, marginTop: -0.175, marginBottom: 0 },
  ],
  [
    `live, DEFAULT_PREPROCESS (${DEFAULT_PREPROCESS.marginX}, ${DEFAULT_PREPROCESS.marginTop}, ${DEFAULT_PREPROCESS.marginBottom})`,
    { ...DEFAULT_PREPROCESS, size },
  ],
];
for (const [name, options] of settings)
  rows.push(await evaluate(name, embedder, people, (p, k) => liveCrop(detector, options, p, k)));
await detector.stop();
embedder.dispose();
console.log(
  `model ${embedder.modelId}, ${people.length} unseen people (${people.join(' ')}), gallery photos ${GALLERY.join(',')}, probes ${PROBES.join(',')}`,
);
console.log('| crops | detected | rank-1 | AUC | TAR@0.5 | FAR@0.5 |\n|---|---|---|---|---|---|');
for (const r of rows) {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  console.log(
    `| ${r.setting} | ${r.detected} | ${pct(r.rank1)} | ${r.auc.toFixed(3)} | ${pct(r.tar)} | ${pct(r.far)} |`,
  );
}
