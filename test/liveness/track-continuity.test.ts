import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIVENESS_CONFIG } from '../../src/liveness/config.js';
import { LivenessStage } from '../../src/liveness/stage.js';
import { TrackContinuity } from '../../src/liveness/track-continuity.js';
import {
  loadPretrainedEmbedder,
  type PretrainedSiameseEmbedder,
} from '../../src/model/pretrained/embedder.js';
import { createFaceCropper } from '../../src/model/face-path.js';
import { silentLogger } from '../../src/util/log.js';
import type { FaceCropper } from '../../src/vision/face-cropper.js';
import { readGrayImage } from '../../src/vision/image-io.js';
import { noiseSource, projectHead, regionOf } from './synthetic-face.js';

/**
 * A live verdict belongs to the face that earned it. A face track follows boxes by overlap,
 * so a printed photo raised in front of a live face continues its track; the committed model
 * embeds real ORL faces, and TrackContinuity (at the model's unknown threshold) must tell a
 * different person in the track from the same person in another photo.
 */

let embedder: PretrainedSiameseEmbedder;
let cropper: FaceCropper;

beforeAll(async () => {
  embedder = await loadPretrainedEmbedder('models/faceapi-siamese', silentLogger());
  cropper = await createFaceCropper(embedder.crop, 'models/landmarks/faceapi-68', silentLogger());
}, 60_000);

afterAll(() => {
  cropper?.dispose();
  embedder?.dispose();
});

/** The model's stored unknown threshold (the daemon's access.unknownThreshold). */
function unknownThreshold(): number {
  const t = embedder.thresholds.unknown;
  if (t === undefined) throw new Error('the committed model stores no unknown threshold');
  return t;
}

async function embed(person: number, shot: number): Promise<Float32Array> {
  const face = await cropper.cropWhole(await readGrayImage(`data/orl_faces/s${person}/${shot}.pgm`));
  const [e] = await embedder.embed([face.input]);
  return e;
}

describe('TrackContinuity on the committed model', () => {
  it('keeps one person (other photos of them) and flags another person in the same track', async () => {
    const continuity = new TrackContinuity(embedder.head, unknownThreshold());
    const same = [await embed(37, 1), await embed(37, 2), await embed(37, 3)];
    expect(continuity.changed(1, 0, same[0])).toBe(false); // a track's first face
    expect(continuity.changed(1, 66, same[1])).toBe(false);
    expect(continuity.changed(1, 133, same[2])).toBe(false);
    expect(continuity.changed(1, 200, await embed(39, 1))).toBe(true); // another person
    // Tracks are separate; a track not seen for forgetAfterMs is forgotten.
    expect(continuity.changed(2, 200, await embed(36, 1))).toBe(false);
    expect(continuity.size).toBe(2);
    expect(continuity.changed(3, 10_000, same[0])).toBe(false);
    expect(continuity.size).toBe(1);
  }, 60_000);

  it('refuses a threshold outside (0, 1)', () => {
    expect(() => new TrackContinuity(embedder.head, 1.2)).toThrow(RangeError);
  });
});

describe('LivenessStage.faceChanged', () => {
  it("drops a live track's evidence when its face becomes another person: undecided again", async () => {
    const config = { ...DEFAULT_LIVENESS_CONFIG, mode: 'on' as const, edges: false };
    const stage = new LivenessStage(config, {
      continuity: new TrackContinuity(embedder.head, unknownThreshold()),
    });
    const rnd = noiseSource(5);
    const yaws = [0, 5, 10, 15, 20, 25, 20, 15, 10, 5, 0];
    const live = await embed(38, 1);
    let t = 0;
    for (const yawDeg of yaws) {
      const [v] = await stage.observe(t, [
        regionOf(projectHead({ yawDeg, pitchDeg: yawDeg / 3, noisePx: 0.5 }, rnd)),
      ]);
      expect(stage.faceChanged(v.trackId, t, live)).toBe(false);
      t += 66;
    }
    const [earned] = await stage.observe(t, [
      regionOf(projectHead({ yawDeg: 0, pitchDeg: 0, noisePx: 0.5 }, rnd)),
    ]);
    expect(earned.verdict).toBe('live');
    // A photo of someone else raised in the same place: same track, another person.
    expect(stage.faceChanged(earned.trackId, t, await embed(40, 1))).toBe(true);
    t += 66;
    const [after] = await stage.observe(t, [
      regionOf(projectHead({ yawDeg: 0, pitchDeg: 0, noisePx: 0.5 }, rnd)),
    ]);
    expect(after.trackId).toBe(earned.trackId);
    expect(after.verdict).toBe('undecided');
    expect(after.sinceMs).toBe(t); // the wait for a live verdict starts again
  }, 60_000);
});
