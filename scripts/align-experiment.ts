/**
 * Measures the face path choices (landmark model, first-pass box scale, refinement,
 * template padding) by verification EER / rank-1 of the face-api.js ResNet on a dataset
 * run through the Haar detector. Development tool: `npx tsx scripts/align-experiment.ts
 * <data dir> [people prefix filter]`. Prints one line per variant.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { chooseBackend } from '../src/model/backend.js';
import { evaluationReport } from '../src/training/evaluation.js';
import { FaceLandmarkNet } from '../src/model/landmarks/landmark-net.js';
import { FaceLandmarker } from '../src/model/landmarks/landmarker.js';
import { FaceApiBackbone } from '../src/model/pretrained/faceapi-backbone.js';
import { silentLogger } from '../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../src/vision/config.js';
import { createFaceDetector } from '../src/vision/detector.js';
import { warpSimilarity, fitSimilarity } from '../src/vision/align.js';
import { cutChip, fiveFromBox } from '../src/vision/face-chip.js';
import { readGrayImage } from '../src/vision/image-io.js';
import { equalizeHistogram } from '../src/vision/preprocess.js';
import type { Box, GrayImage } from '../src/vision/image.js';
import { implausibleLandmarks } from '../src/vision/face-rules.js';
import { DLIB_MEAN_FACE_17_67 } from '../src/vision/landmarks.js';

const [data, filter = ''] = process.argv.slice(2);
const only = process.env.PEOPLE ? new Set(process.env.PEOPLE.split(',')) : null;
await chooseBackend('auto', silentLogger());
const detector = await createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, backend: 'auto' }, silentLogger());
const backbone = await FaceApiBackbone.load({
  manifestPath: 'models/faceapi-siamese/backbone/face_recognition_model-weights_manifest.json',
  weightsDir: 'models/faceapi-siamese/backbone',
});
const nets = {
  full: await FaceLandmarkNet.load({
    manifestPath: 'node_modules/@vladmandic/face-api/model/face_landmark_68_model-weights_manifest.json',
  }),
  tiny: await FaceLandmarkNet.load({
    manifestPath: 'node_modules/@vladmandic/face-api/model/face_landmark_68_tiny_model-weights_manifest.json',
  }),
};
const people = (await readdir(data, { withFileTypes: true }))
  .filter((e) => e.isDirectory() && e.name.startsWith(filter) && (!only || only.has(e.name)))
  .map((e) => e.name)
  .sort();
const items: { label: number; image: GrayImage; box: Box; file: string }[] = [];
let missed = 0;
for (const [label, p] of people.entries()) {
  for (const f of (await readdir(join(data, p))).filter((f) => /\.(pgm|png|jpe?g)$/i.test(f)).sort()) {
    const image = await readGrayImage(join(data, p, f));
    const boxes = await detector.detect(image);
    if (boxes.length === 0) {
      missed++;
      continue;
    }
    items.push({ label, image, box: boxes[0], file: `${p}/${f}` });
  }
}
console.log(
  `${data}: ${people.length} people, ${items.length} faces, ${missed} without a Haar face; backend ${tf.getBackend()}`,
);

async function embed(chips: GrayImage[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let s = 0; s < chips.length; s += 16) {
    const chunk = chips.slice(s, s + 16);
    const px = new Float32Array(chunk.length * 150 * 150);
    chunk.forEach((c, i) => px.set(c.data, i * 150 * 150));
    const e = tf.tidy(() => backbone.forward(tf.tensor4d(px, [chunk.length, 150, 150, 1])));
    const d = (await e.data()) as Float32Array;
    e.dispose();
    for (let i = 0; i < chunk.length; i++) out.push(d.slice(i * 128, (i + 1) * 128));
  }
  return out;
}

const head = { weight: -26.7, bias: 14.7 };
type Variant = {
  name: string;
  net: keyof typeof nets | null;
  boxScale: number;
  refine: boolean;
  refineScale: number;
  padding: number;
  fit?: 'five' | 'all51';
  flip?: boolean;
  equalize?: boolean;
};
const variants: Variant[] = JSON.parse(
  process.env.VARIANTS ??
    JSON.stringify([
      { name: 'box-only', net: null, boxScale: 1, refine: false, refineScale: 1, padding: 0.25 },
      { name: 'full s1.0', net: 'full', boxScale: 1.0, refine: false, refineScale: 1.1, padding: 0.25 },
      { name: 'full s1.2', net: 'full', boxScale: 1.2, refine: false, refineScale: 1.1, padding: 0.25 },
      {
        name: 'full s1.1 refine1.1',
        net: 'full',
        boxScale: 1.1,
        refine: true,
        refineScale: 1.1,
        padding: 0.25,
      },
      {
        name: 'full s1.1 refine1.0',
        net: 'full',
        boxScale: 1.1,
        refine: true,
        refineScale: 1.0,
        padding: 0.25,
      },
      {
        name: 'tiny s1.1 refine1.1',
        net: 'tiny',
        boxScale: 1.1,
        refine: true,
        refineScale: 1.1,
        padding: 0.25,
      },
    ]),
);
for (const v of variants) {
  const t0 = performance.now();
  let fallbacks = 0;
  const chips: GrayImage[] = [];
  const lm = v.net
    ? new FaceLandmarker(nets[v.net], {
        boxScale: v.boxScale,
        boxShiftY: 0,
        derollDeg: 90,
        refine: v.refine,
        refineScale: v.refineScale,
      })
    : null;
  const sums = { lx: 0, ly: 0, rx: 0, ry: 0, nx: 0, ny: 0, mlx: 0, mly: 0, mrx: 0, mry: 0, n: 0 };
  for (const it of items) {
    let five = fiveFromBox(it.box);
    if (lm) {
      const [found] = await lm.locate(it.image, [it.box]);
      const problem = implausibleLandmarks(it.box, found);
      if (problem) fallbacks++;
      else {
        five = found.five;
        if (v.fit === 'all51') {
          const to = found.points.slice(17);
          const from = DLIB_MEAN_FACE_17_67.map((q) => ({
            x: ((v.padding + q.x) / (1 + 2 * v.padding)) * 150,
            y: ((v.padding + q.y) / (1 + 2 * v.padding)) * 150,
          }));
          chips.push(warpSimilarity(it.image, fitSimilarity(from, to), 150, 150));
          continue;
        }
        const b = it.box;
        const rel = (p: { x: number; y: number }) => [(p.x - b.x) / b.width, (p.y - b.y) / b.height];
        const [lx, ly] = rel(five.leftEye),
          [rx, ry] = rel(five.rightEye),
          [nx, ny] = rel(five.nose),
          [mlx, mly] = rel(five.mouthLeft),
          [mrx, mry] = rel(five.mouthRight);
        Object.assign(sums, {
          lx: sums.lx + lx,
          ly: sums.ly + ly,
          rx: sums.rx + rx,
          ry: sums.ry + ry,
          nx: sums.nx + nx,
          ny: sums.ny + ny,
          mlx: sums.mlx + mlx,
          mly: sums.mly + mly,
          mrx: sums.mrx + mrx,
          mry: sums.mry + mry,
          n: sums.n + 1,
        });
      }
    }
    chips.push(cutChip(it.image, five, { size: 150, padding: v.padding }));
  }
  const t1 = performance.now();
  if (v.equalize) chips.splice(0, chips.length, ...chips.map((c) => equalizeHistogram(c)));
  let emb = await embed(chips);
  if (v.flip) {
    const mirrored = chips.map((c) => {
      const d = new Uint8Array(c.data.length);
      for (let y = 0; y < c.height; y++)
        for (let x = 0; x < c.width; x++) d[y * c.width + x] = c.data[y * c.width + c.width - 1 - x];
      return { width: c.width, height: c.height, data: d };
    });
    const e2 = await embed(mirrored);
    emb = emb.map((e, i) => e.map((val, k) => (val + e2[i][k]) / 2));
  }
  const t2 = performance.now();
  const { report } = evaluationReport(
    items.map((i) => i.label),
    emb,
    head,
  );
  const r = (x: number) => (x * 100).toFixed(2);
  console.log(
    `${v.name.padEnd(24)} EER ${r(report.eer)}%  TAR@0.1% ${r(report.tar_at_far['0.001'])}%  rank-1 ${r(report.rank1)}%  fallbacks ${fallbacks}  lm+align ${((t1 - t0) / items.length).toFixed(1)} ms/face, embed ${((t2 - t1) / items.length).toFixed(1)} ms/face`,
  );
  if (sums.n > 0 && process.env.TYPICAL) {
    const m = (k: keyof typeof sums) => (sums[k] / sums.n).toFixed(3);
    console.log(
      `  typical five in box: L(${m('lx')},${m('ly')}) R(${m('rx')},${m('ry')}) N(${m('nx')},${m('ny')}) ML(${m('mlx')},${m('mly')}) MR(${m('mrx')},${m('mry')})`,
    );
  }
}
await detector.stop();
