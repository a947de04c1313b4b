/**
 * False accepts / rejects per pair of photos at candidate accept thresholds, for the
 * committed pretrained model through the live face path. Development tool:
 * `npx tsx scripts/threshold-check.ts <data dir> [photo|crop] [people,comma,list]`.
 */
import { chooseBackend } from '../src/model/backend.js';
import { similarityFromDistance } from '../src/model/embedder.js';
import { createFaceCropper, DEFAULT_LANDMARK_MODEL } from '../src/model/face-path.js';
import { loadPretrainedEmbedder } from '../src/model/pretrained/embedder.js';
import { euclidean } from '../src/model/pretrained/head.js';
import { prepareFolder } from '../src/training/pretrained/build.js';
import { silentLogger } from '../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../src/vision/config.js';
import { createFaceDetector } from '../src/vision/detector.js';

const [data, kind = 'photo', people] = process.argv.slice(2);
const only = people ? new Set(people.split(',')) : null;
await chooseBackend('auto', silentLogger());
const embedder = await loadPretrainedEmbedder('models/faceapi-siamese', silentLogger());
const cropper = await createFaceCropper(embedder.crop, DEFAULT_LANDMARK_MODEL, silentLogger());
const detector = kind === 'photo' ? await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger()) : null;
const set = await prepareFolder(data, detector, cropper, (p) => !only || only.has(p));
const emb = await embedder.embed(set.faces);
const genuine: number[] = [];
const impostor: number[] = [];
const closest: { s: number; a: string; b: string }[] = [];
for (let i = 0; i < emb.length; i++)
  for (let j = i + 1; j < emb.length; j++) {
    const s = similarityFromDistance(embedder.head, euclidean(emb[i], emb[j]));
    if (set.labels[i] === set.labels[j]) genuine.push(s);
    else {
      impostor.push(s);
      closest.push({ s, a: set.files[i], b: set.files[j] });
    }
  }
closest.sort((x, y) => y.s - x.s);
for (const c of closest.slice(0, Number(process.env.TOP ?? 0)))
  console.log(`  impostor ${c.s.toFixed(3)} ${c.a} ~ ${c.b}`);
impostor.sort((a, b) => b - a);
console.log(
  `${data}: ${set.faces.length} faces, ${genuine.length} genuine / ${impostor.length} impostor pairs; top impostor similarities ${impostor
    .slice(0, 8)
    .map((s) => s.toFixed(3))
    .join(' ')}`,
);
for (const t of [0.5, 0.6, 0.636, 0.7, 0.75, 0.8, 0.85, 0.9]) {
  const fa = impostor.filter((s) => s >= t).length;
  const fr = genuine.filter((s) => s < t).length;
  console.log(
    `  accept ${t}: false accepts ${fa} (${((100 * fa) / impostor.length).toFixed(3)}%), false rejects ${((100 * fr) / genuine.length).toFixed(1)}%`,
  );
}
await detector?.stop();
cropper.dispose();
embedder.dispose();
