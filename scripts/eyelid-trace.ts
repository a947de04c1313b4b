/**
 * The eyelid signal frame by frame: runs every clip of `<dir>` through the live path's
 * pieces (Haar detector, the shipped 68-point landmarker, the vendored iris model,
 * src/liveness/eyelids.ts) and prints, per clip, one line per second of cells: the opening
 * of the eye read in each frame divided by the face's height (what the judge calls
 * tilt-free), suffixed `l`/`r` for the image's left or right eye ("-" no face, "." no
 * reading). It follows the largest face of each frame, not a face track. The summary line
 * gives the first blink the judge's rule finds and the least opening over the open level —
 * the rule's own ratio: per frame the larger of "as read" and "over the face's height",
 * each against its own open level (so it can differ from the cells). Evaluation only: use
 * it to see whether blinks seen by eye are seen by the model, and the noise of eyes that
 * stay open. A clip takes ~10–20 s.
 *
 * Development tool: `nice -n 5 npx tsx scripts/eyelid-trace.ts <dir> [fps=15]`
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LIVENESS_CONFIG } from '../src/liveness/config.js';
import { IrisEyelidReader } from '../src/liveness/eyelids.js';
import { readSample } from '../src/liveness/sample-reader.js';
import { detectBlink, eyeOpennessSample, type OpennessSample } from '../src/liveness/signals.js';
import { chooseBackend } from '../src/model/backend.js';
import { loadLandmarker } from '../src/model/landmarks/landmarker.js';
import { silentLogger } from '../src/util/log.js';
import { DEFAULT_DETECTOR_CONFIG } from '../src/vision/config.js';
import { createFaceDetector } from '../src/vision/detector.js';
import { clipArgs } from './clip-args.js';

const { dir, fps } = clipArgs(process.argv.slice(2), 'eyelid-trace.ts');
await chooseBackend('auto', silentLogger());
const detector = await createFaceDetector(DEFAULT_DETECTOR_CONFIG, silentLogger());
const landmarker = await loadLandmarker('models/landmarks/faceapi-68');
const eyes = await IrisEyelidReader.load('models/liveness');
for (const name of (await readdir(dir)).sort()) {
  const cells: string[] = [];
  const series: OpennessSample[] = [];
  let firstBlinkMs: number | null = null;
  for await (const frame of readSample(join(dir, name), { fps })) {
    const boxes = await detector.detect(frame.gray);
    if (boxes.length === 0) {
      cells.push('  -  ');
      continue;
    }
    const box = boxes.reduce((a, b) => (b.width > a.width ? b : a));
    const [lm] = await landmarker.locate(frame.gray, [box]);
    const [reading] = await eyes.read(frame.gray, [lm.points], [series.at(-1)?.side]);
    if (!reading) {
      cells.push('  .  ');
      continue;
    }
    const s = eyeOpennessSample(frame.timestampMs, lm.points, reading);
    series.push(s);
    cells.push(`${s.openness.toFixed(2)}${s.side[0]}`);
    const blink = detectBlink(series, { closedRatio: DEFAULT_LIVENESS_CONFIG.blinkClosedRatio });
    if (blink.blinked && firstBlinkMs === null) firstBlinkMs = frame.timestampMs;
  }
  const b = detectBlink(series, { closedRatio: DEFAULT_LIVENESS_CONFIG.blinkClosedRatio });
  console.log(
    `${name}: blink ${firstBlinkMs === null ? 'none' : `first found at ${(firstBlinkMs / 1000).toFixed(2)} s`}, least openness/open level ${b.minRatio.toFixed(2)}`,
  );
  for (let i = 0; i < cells.length; i += fps)
    console.log(`  ${String(i / fps).padStart(3)}s ${cells.slice(i, i + fps).join(' ')}`);
}
eyes.dispose();
landmarker.dispose();
await detector.stop();
