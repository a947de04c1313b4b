/**
 * Cost of the face path per face, one face at a time as at the door: landmarks (two
 * passes) + alignment (the FaceCropper) and the embedding, in wall ms and in process CPU
 * ms (less sensitive to other jobs on a shared machine); and the liveness stage's eyelid
 * read (src/liveness/eyelids.ts, one eye), which runs while a face's track is undecided.
 * `npx tsx scripts/face-path-cost.ts [n]`.
 */
import { IrisEyelidReader } from '../src/liveness/eyelids.js';
import { chooseBackend } from '../src/model/backend.js';
import { cropGeometryOf } from '../src/model/embedder.js';
import { createFaceCropper, DEFAULT_LANDMARK_MODEL } from '../src/model/face-path.js';
import { loadEmbedder } from '../src/model/load.js';
import { silentLogger } from '../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../src/vision/config.js';
import { createFaceDetector } from '../src/vision/detector.js';
import { readGrayImage } from '../src/vision/image-io.js';

const n = Number(process.argv[2] ?? 30);
const backend = await chooseBackend('auto', silentLogger());
const embedder = await loadEmbedder('models/faceapi-siamese', silentLogger());
const cropper = await createFaceCropper(cropGeometryOf(embedder), DEFAULT_LANDMARK_MODEL, silentLogger());
const detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
const eyelids = await IrisEyelidReader.load('models/liveness');
const faces = [];
for (let p = 36; p <= 40 && faces.length < n; p++) {
  for (let k = 1; k <= 10 && faces.length < n; k++) {
    const image = await readGrayImage(`data/orl_faces/s${p}/${k}.pgm`);
    const [box] = await detector.detect(image);
    if (box) faces.push({ image, box });
  }
}
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const rows = {
  cropWall: [] as number[],
  cropCpu: [] as number[],
  embedWall: [] as number[],
  embedCpu: [] as number[],
  eyeWall: [] as number[],
  eyeCpu: [] as number[],
};
for (let round = 0; round < 2; round++) {
  for (const f of faces) {
    const w0 = performance.now();
    const c0 = cpu();
    const [c] = await cropper.crop(f.image, [{ box: f.box }]);
    const w1 = performance.now();
    const c1 = cpu();
    await embedder.embed([c.input]);
    const w2 = performance.now();
    const c2 = cpu();
    const points = c.region.landmarks?.points;
    if (points) await eyelids.read(f.image, [points]);
    const w3 = performance.now();
    const c3 = cpu();
    if (round === 0) continue; // warm-up round
    if (points) {
      rows.eyeWall.push(w3 - w2);
      rows.eyeCpu.push(c3 - c2);
    }
    rows.cropWall.push(w1 - w0);
    rows.cropCpu.push(c1 - c0);
    rows.embedWall.push(w2 - w1);
    rows.embedCpu.push(c2 - c1);
  }
}
const r = (x: number) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify({
    faces: faces.length,
    backend,
    landmarks_align_ms: { wall_p50: r(median(rows.cropWall)), cpu_p50: r(median(rows.cropCpu)) },
    embed_ms: { wall_p50: r(median(rows.embedWall)), cpu_p50: r(median(rows.embedCpu)) },
    total_cpu_p50: r(median(rows.cropCpu) + median(rows.embedCpu)),
    liveness_eyelids_ms: { wall_p50: r(median(rows.eyeWall)), cpu_p50: r(median(rows.eyeCpu)) },
  }),
);
await detector.stop();
cropper.dispose();
embedder.dispose();
eyelids.dispose();
