import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { FacegateApp, type AppOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import type { FacegateConfig } from '../../src/config/schema.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { SimulatedInput, SimulatedRelay } from '../../src/gpio/simulated.js';
import { systemClock } from '../../src/util/clock.js';
import { createLogger, silentLogger, type Logger } from '../../src/util/log.js';
import { preprocessFace } from '../../src/vision/preprocess.js';
import { ListFrameSource } from '../fakes/camera.js';
import {
  BrightnessEmbedder,
  FAKE_FACE_BOX,
  FAKE_FACE_PREPROCESS,
  FakeFaceDetector,
  fakeCrop,
  fakeFaceFrame,
} from '../fakes/face.js';

/** A logger whose JSON lines are kept in `lines` (and `has(msg)` looks for one). */
export function recordingLogger(level: 'debug' | 'info' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text) lines.push(JSON.parse(text));
      done();
    },
  });
  const logger = createLogger(level, stream);
  return { logger, lines, has: (msg: string) => lines.some((l) => l.msg === msg) };
}

/** Brightness levels of the fake people (see test/fakes/face.ts). */
export const ALICE = 60;
export const BOB = 180;
export const STRANGER = 120;

export interface FakeApp {
  readonly app: FacegateApp;
  readonly config: FacegateConfig;
  readonly dir: string;
  readonly camera: ListFrameSource;
  readonly detector: FakeFaceDetector;
  readonly embedder: BrightnessEmbedder;
  readonly relay: SimulatedRelay;
  readonly exitButton: SimulatedInput;
  /** The gallery database (audit log, outbox), opened on its own. */
  readonly galleryPath: string;
  /** Stops the app and deletes its folder. */
  dispose(): Promise<void>;
}

/**
 * The whole daemon in-process with fakes only for the hardware and the face path: a list
 * camera, the fake face detector and embedder (through the real quality gate, preprocess,
 * matcher, policy and door), the simulated relay and exit button, a real SQLite gallery
 * with alice and bob enrolled. MQTT is off unless `env` gives `FACEGATE_MQTT_URL`
 * (`mqtt: true`).
 */
export async function createFakeApp(
  options: {
    frames?: (number | null)[];
    env?: Record<string, string>;
    mqtt?: boolean;
    logger?: Logger;
    app?: Partial<AppOptions>;
    /** Changes to the loaded config (e.g. the mqtt relay). */
    configure?: (config: FacegateConfig) => FacegateConfig;
    /** Build the relay from the config instead of the simulated one. */
    configuredRelay?: boolean;
  } = {},
): Promise<FakeApp> {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-fakeapp-'));
  const galleryPath = join(dir, 'facegate.db');
  const loaded = loadConfig({
    env: {
      FACEGATE_DEVICE_ID: `fake-${Math.random().toString(36).slice(2, 10)}`,
      FACEGATE_STATE_DIR: dir,
      FACEGATE_GALLERY_PATH: galleryPath,
      FACEGATE_GALLERY_BOOTSTRAP_DIR: '',
      FACEGATE_METRICS_PORT: '0',
      FACEGATE_ACCESS_THRESHOLDS_FROM: 'config',
      // Fake faces carry no landmarks, so they can never be judged live (test/liveness covers on).
      FACEGATE_LIVENESS_MODE: 'off',
      ...options.env,
    },
  });
  const config = options.configure ? options.configure(loaded) : loaded;
  const logger = options.logger ?? silentLogger();
  const embedder = new BrightnessEmbedder();
  const store = new GalleryStore(galleryPath, logger);
  try {
    for (const [id, level] of [
      ['alice', ALICE],
      ['bob', BOB],
    ] as const) {
      const crop = preprocessFace(fakeFaceFrame(level), { box: FAKE_FACE_BOX }, FAKE_FACE_PREPROCESS);
      const [embedding] = await embedder.embed([crop]);
      store.enroll({ id, modelId: embedder.modelId, faces: [{ crop: fakeCrop(level), embedding }] });
    }
  } finally {
    store.close();
  }
  const camera = new ListFrameSource((options.frames ?? []).map((level) => fakeFaceFrame(level)));
  const detector = new FakeFaceDetector();
  const relay = new SimulatedRelay(logger, systemClock);
  const exitButton = new SimulatedInput('exit button');
  const app = new FacegateApp({
    config,
    logger,
    galleryPollMs: 100_000,
    ...options.app,
    overrides: {
      camera,
      detector,
      model: { embedder },
      landmarks: null,
      ...(options.configuredRelay ? {} : { relay }),
      contact: null,
      exitButton,
      ...(options.mqtt ? {} : { mqtt: null }),
      ...options.app?.overrides,
    },
  });
  return {
    app,
    config,
    dir,
    camera,
    detector,
    embedder,
    relay,
    exitButton,
    galleryPath,
    async dispose() {
      await app.stop('test over');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
