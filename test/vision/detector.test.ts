import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFaceDetector, type StoppableFaceDetector } from '../../src/vision/detector.js';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from '../../src/vision/config.js';
import { createGrayImage } from '../../src/vision/image.js';
import { readGrayImage } from '../../src/vision/image-io.js';
import { loadNativeOpenCv } from '../../src/vision/haar-native.js';
import { makeBackground } from '../../scripts/make-replay.js';
import { silentLogger } from '../../src/util/log.js';
import { REPO, centre, composeScene, inside } from './scenes.js';

function nativeAvailable(): boolean {
  try {
    loadNativeOpenCv();
    return true;
  } catch {
    return false;
  }
}

// The WebAssembly detector always runs; the native one where the binding is built (it is
// optional). When it is missing, "auto" must fall back to WebAssembly, which is tested too.
const backends: DetectorConfig['backend'][] = nativeAvailable() ? ['wasm', 'native'] : ['wasm', 'auto'];

describe.each(backends)('Haar face detector (%s)', (backend) => {
  let detector: StoppableFaceDetector;
  beforeAll(async () => {
    detector = await createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, backend }, silentLogger());
  });
  afterAll(() => detector.stop());

  it('says which OpenCV runs', () => {
    expect(detector.name).toBe(backend === 'native' ? 'opencv4nodejs' : 'opencv-wasm');
  });

  it('finds one face per pasted photo, inside the photo, on plain, noisy and textured scenes', async () => {
    const cases = [
      { bg: 'plain' as const, faces: [{ person: 's05', photo: 1, x: 60, y: 100 }] },
      { bg: 'noisy' as const, faces: [{ person: 's17', photo: 2, x: 400, y: 40 }] },
      { bg: 'textured' as const, faces: [{ person: 's29', photo: 3, x: 230, y: 200 }] },
    ];
    for (const c of cases) {
      const scene = await composeScene(c.bg, c.faces);
      const boxes = await detector.detect(scene.image);
      expect(boxes, `${c.bg}`).toHaveLength(1);
      expect(inside(scene.faces[0].photoBox, centre(boxes[0]))).toBe(true);
      // A face box of a 2x ORL photo (184 px wide) is roughly 100-200 px wide.
      expect(boxes[0].width).toBeGreaterThan(100);
      expect(boxes[0].width).toBeLessThanOrEqual(200);
    }
  });

  it('finds two people at their places, largest first', async () => {
    const scene = await composeScene('plain', [
      { person: 's11', photo: 1, x: 20, y: 120, scale: 1.5 },
      { person: 's22', photo: 1, x: 360, y: 60, scale: 2.4 },
    ]);
    const boxes = await detector.detect(scene.image);
    expect(boxes).toHaveLength(2);
    expect(boxes[0].width).toBeGreaterThan(boxes[1].width);
    expect(inside(scene.faces[1].photoBox, centre(boxes[0]))).toBe(true);
    expect(inside(scene.faces[0].photoBox, centre(boxes[1]))).toBe(true);
  });

  it('finds no face in blank, noisy or textured frames', async () => {
    const frames = [
      createGrayImage(640, 480, new Uint8Array(640 * 480).fill(128)),
      createGrayImage(640, 480, new Uint8Array(640 * 480)),
      makeBackground('plain', 3),
      makeBackground('noisy', 4),
      makeBackground('textured', 5),
    ];
    for (const frame of frames) expect(await detector.detect(frame)).toEqual([]);
  });

  it('finds the astronaut in a real photo', async () => {
    const photo = await readGrayImage(join(REPO, 'test', 'fixtures', 'astronaut-gray.jpg'));
    const boxes = await detector.detect(photo);
    expect(boxes).toHaveLength(1);
    // Her face is around x 175-275, y 65-165 in the 512x512 picture.
    expect(inside({ x: 170, y: 55, width: 110, height: 120 }, centre(boxes[0]))).toBe(true);
  });

  it('finds a face that fills a small portrait (ORL photo as an enrollment picture)', async () => {
    const photo = await readGrayImage(join(REPO, 'data', 'orl_faces', 's36', '1.pgm'));
    const boxes = await detector.detect(photo);
    expect(boxes).toHaveLength(1);
    expect(boxes[0].width).toBeGreaterThan(50);
  });

  it('serves concurrent callers (the live loop and enrollment share it)', async () => {
    const scene = await composeScene('plain', [{ person: 's03', photo: 4, x: 200, y: 100 }]);
    const results = await Promise.all([
      detector.detect(scene.image),
      detector.detect(scene.image),
      detector.detect(makeBackground('plain', 9)),
    ]);
    expect(results[0]).toEqual(results[1]);
    expect(results[0]).toHaveLength(1);
    expect(results[2]).toEqual([]);
  });

  it('rejects an image whose data does not match its size', async () => {
    await expect(detector.detect({ width: 10, height: 10, data: new Uint8Array(5) })).rejects.toThrow(
      RangeError,
    );
  });
});

describe('detector backends agree', () => {
  it.runIf(nativeAvailable())('native and WebAssembly OpenCV return the same boxes', async () => {
    const native = await createFaceDetector(
      { ...DEFAULT_DETECTOR_CONFIG, backend: 'native' },
      silentLogger(),
    );
    const wasm = await createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, backend: 'wasm' }, silentLogger());
    try {
      const scene = await composeScene('noisy', [
        { person: 's08', photo: 5, x: 50, y: 60 },
        { person: 's09', photo: 6, x: 380, y: 150 },
      ]);
      expect(await native.detect(scene.image)).toEqual(await wasm.detect(scene.image));
    } finally {
      await native.stop();
      await wasm.stop();
    }
  });

  it('refuses a missing cascade file and a backend that cannot load', async () => {
    await expect(
      createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, cascade: 'models/nope.xml' }, silentLogger()),
    ).rejects.toThrow(/not found/);
    if (!nativeAvailable()) {
      await expect(
        createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, backend: 'native' }, silentLogger()),
      ).rejects.toThrow(/native OpenCV/);
    }
    await expect(
      createFaceDetector({ ...DEFAULT_DETECTOR_CONFIG, scaleFactor: 1 }, silentLogger()),
    ).rejects.toThrow(/scaleFactor/);
  });
});
