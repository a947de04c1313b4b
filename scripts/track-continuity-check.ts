/**
 * How often does TrackContinuity (src/liveness/track-continuity.ts) take one real person's
 * face track for a changed face? Runs every clip of `<dir>` (e.g. the liveness-dev
 * `bona-fide/` folder: one real person each, evaluation only) through the live path's
 * pieces — Haar detector, FaceTracker, the shipped FaceCropper and model — and prints, per
 * clip, the embedded frames, the least similarity between consecutive embeddings of a track
 * and the number of "face changed" calls at the policy's unknownThreshold. Also the same for
 * a swap made by construction: consecutive frames of two different ORL people in one box.
 *
 * Development tool: `nice -n 5 npx tsx scripts/track-continuity-check.ts <dir> [fps=15]`
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TrackContinuity } from '../src/liveness/track-continuity.js';
import { readSample } from '../src/liveness/sample-reader.js';
import { chooseBackend } from '../src/model/backend.js';
import { similarityFromDistance } from '../src/model/embedder.js';
import { createFaceCropper } from '../src/model/face-path.js';
import { loadPretrainedEmbedder } from '../src/model/pretrained/embedder.js';
import { FaceTracker } from '../src/pipeline/tracker.js';
import { silentLogger } from '../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../src/vision/config.js';
import { createFaceDetector } from '../src/vision/detector.js';
import { readGrayImage } from '../src/vision/image-io.js';
import { clipArgs } from './clip-args.js';

const { dir, fps } = clipArgs(process.argv.slice(2), 'track-continuity-check.ts');
await chooseBackend('auto', silentLogger());
const detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
const embedder = await loadPretrainedEmbedder('models/faceapi-siamese', silentLogger());
const cropper = await createFaceCropper(embedder.crop, 'models/landmarks/faceapi-68', silentLogger());
const unknown = embedder.thresholds.unknown;
if (unknown === undefined) throw new Error('the model stores no unknown threshold');
const similarity = (a: Float32Array, b: Float32Array): number =>
  similarityFromDistance(embedder.head, Math.hypot(...a.map((v, i) => v - b[i])));

console.log(`unknownThreshold ${unknown.toFixed(3)}`);
for (const name of (await readdir(dir)).sort()) {
  const continuity = new TrackContinuity(embedder.head, unknown);
  const tracker = new FaceTracker({ maxGapMs: 1000 });
  const last = new Map<number, Float32Array>();
  let embedded = 0;
  let changes = 0;
  let least = 1;
  try {
    for await (const frame of readSample(join(dir, name), { fps })) {
      const boxes = await detector.detect(frame.gray);
      const ids = tracker.update(frame.timestampMs, boxes).trackIds;
      if (boxes.length === 0) continue;
      const crops = await cropper.crop(
        frame.gray,
        boxes.map((box) => ({ box })),
      );
      const vectors = await embedder.embed(crops.map((c) => c.input));
      vectors.forEach((v, i) => {
        embedded++;
        const before = last.get(ids[i]);
        if (before) least = Math.min(least, similarity(before, v));
        last.set(ids[i], v);
        if (continuity.changed(ids[i], frame.timestampMs, v)) changes++;
      });
    }
  } catch (err) {
    console.log(`${name}: ${(err as Error).message}`);
    continue;
  }
  console.log(
    `${name.padEnd(48)} embedded ${String(embedded).padStart(4)}  least consecutive similarity ${least.toFixed(3)}  face changes ${changes}`,
  );
}

// A swap by construction: ORL s36..s40, photo 1 then another person's photo 1 in the same box.
const swap = new TrackContinuity(embedder.head, unknown);
let caught = 0;
let pairs = 0;
for (let a = 36; a <= 40; a++)
  for (let b = 36; b <= 40; b++) {
    if (a === b) continue;
    const [fa, fb] = await Promise.all([
      readGrayImage(`data/orl_faces/s${a}/1.pgm`),
      readGrayImage(`data/orl_faces/s${b}/1.pgm`),
    ]);
    const [ca, cb] = [await cropper.cropWhole(fa), await cropper.cropWhole(fb)];
    const [ea, eb] = await embedder.embed([ca.input, cb.input]);
    const id = pairs++;
    swap.changed(id, 0, ea);
    if (swap.changed(id, 66, eb)) caught++;
  }
console.log(`ORL swaps in one track caught: ${caught} / ${pairs}`);
cropper.dispose();
embedder.dispose();
await detector.stop();
