import * as tf from '@tensorflow/tfjs';
import type { AccessPolicy } from './access/policy.js';
import { LivenessStage } from './liveness/stage.js';
import { loadEyelidReader, type EyelidReader } from './liveness/eyelids.js';
import { TrackContinuity } from './liveness/track-continuity.js';
import type { FrameSource } from './camera/frame-source.js';
import { createFrameSource } from './camera/create-frame-source.js';
import type { FacegateConfig } from './config/schema.js';
import { PhotoEnroller } from './enrollment/photo-enroller.js';
import type { EventSink } from './events.js';
import type { Matcher } from './gallery/matcher.js';
import { createInput, createRelay, type GpioDeps } from './gpio/factory.js';
import { MqttRelayPublisher } from './gpio/mqtt-relay-publisher.js';
import type { DigitalInput, Relay } from './gpio/types.js';
import { cropGeometryOf, type Embedder } from './model/embedder.js';
import { createFaceCropper } from './model/face-path.js';
import { MqttConnection } from './mqtt/connection.js';
import type { FacegateMetrics } from './ops/metrics.js';
import { noServiceNotifier, type ServiceNotifier } from './ops/systemd.js';
import { DecisionActuator, type DoorOpener } from './pipeline/actuator.js';
import type { FrameObserver } from './pipeline/frame-observer.js';
import { LiveLoop } from './pipeline/live-loop.js';
import { TrackIdentities } from './pipeline/track-identities.js';
import { loadModelFor } from './pipeline/load-model.js';
import { FaceWorker } from './pipeline/face-worker.js';
import { systemClock, type Clock } from './util/clock.js';
import { createLogger, type Logger } from './util/log.js';
import { createFaceDetector, type StoppableFaceDetector } from './vision/detector.js';
import { FaceCropper, type LandmarkLocator } from './vision/face-cropper.js';
import { QualityGate } from './vision/quality.js';

/** The configured sister network (it declares its own crop geometry: `cropGeometryOf`). */
export interface LoadedModel {
  readonly embedder: Embedder;
}

/**
 * What a caller may put in place of a configured component (MQTT.js's
 * `options.store || new Store()` shape): tests pass fakes for the hardware (camera, GPIO)
 * or a small model; the bench passes `mqtt: null`. Whatever is given is used (and stopped
 * or disposed by the app like its own).
 */
export interface ComponentOverrides {
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** systemd notify; default: none. */
  readonly notifier?: ServiceNotifier;
  /** Instead of `camera.*`. */
  readonly camera?: FrameSource;
  /** Instead of `vision.detector.*`. */
  readonly detector?: StoppableFaceDetector;
  /** Instead of loading `model.*` (the embedder, which declares its crop). */
  readonly model?: LoadedModel;
  /**
   * The landmark model for models that declare an aligned crop; null: none (every face is cut
   * on the box fallback, flagged). Default: `vision.landmarks.model` from disk.
   */
  readonly landmarks?: LandmarkLocator | null;
  /** Instead of the eyelid model in `access.liveness.eyeModel` (null: none, no blink evidence). */
  readonly eyelids?: EyelidReader | null;
  /** Instead of `door.relay.*`. */
  readonly relay?: Relay;
  /** Instead of `door.contact.*` (null: none). */
  readonly contact?: DigitalInput | null;
  /** Instead of `door.exitButton.*` (null: none). */
  readonly exitButton?: DigitalInput | null;
  /** The MQTT connection; null: no MQTT at all (bench, tools): events stay in the outbox. */
  readonly mqtt?: MqttConnection | null;
  /** Instead of `gallery.path`. */
  readonly galleryPath?: string;
  /** GPIO driver seams (fake gpiod tools, a fake sysfs root), for tests. */
  readonly gpio?: Pick<GpioDeps, 'commandRunner' | 'onoffFactory' | 'sysfsRoot'>;
}

/** A component built on first call (loading, opening or spawning happens here, in start()). */
export type Provider<T> = () => Promise<T>;

/**
 * Every component of the daemon, ready to be started: constructed objects only store
 * their settings, and what needs I/O (models, OpenCV, GPIO lines, the camera) is a
 * provider called by the lifecycle. Nothing here opens, loads or connects.
 */
export interface Components {
  readonly config: FacegateConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly notifier: ServiceNotifier;
  readonly galleryPath: string;
  /** null when MQTT is off (overrides.mqtt = null). */
  readonly mqtt: MqttConnection | null;
  readonly camera: Provider<FrameSource>;
  readonly detector: Provider<StoppableFaceDetector>;
  readonly model: Provider<LoadedModel>;
  /** THE FaceCropper for this model's declared crop (landmarks loaded when it aligns). */
  readonly cropper: (model: LoadedModel) => Promise<FaceCropper>;
  /**
   * The blink signal's eyelid reader: loaded when `access.liveness` is on with `blink`,
   * else null. Throws (the daemon refuses to start) when the model cannot be loaded.
   */
  readonly eyelids: Provider<EyelidReader | null>;
  readonly relay: Provider<Relay>;
  readonly contact: Provider<DigitalInput | null>;
  readonly exitButton: Provider<DigitalInput | null>;
}

/**
 * Builds the daemon's components from the config with real defaults, each replaceable
 * through `overrides`. Throws only on bad local settings (an invalid device id for MQTT).
 */
export function buildComponents(config: FacegateConfig, overrides: ComponentOverrides = {}): Components {
  const logger = overrides.logger ?? createLogger(config.log.level);
  const clock = overrides.clock ?? systemClock;
  const mqtt =
    overrides.mqtt !== undefined
      ? overrides.mqtt
      : new MqttConnection({ config: config.mqtt, deviceId: config.device.id, logger });
  const gpioDeps = (): GpioDeps => ({
    logger,
    clock,
    ...overrides.gpio,
    // The relay's own MQTT client view: `connected` lets MqttRelay refuse an unlock while the broker is away.
    publisher: mqtt ? new MqttRelayPublisher(mqtt) : undefined,
  });
  const given =
    <T>(value: T): Provider<T> =>
    () =>
      Promise.resolve(value);
  return {
    config,
    logger,
    clock,
    notifier: overrides.notifier ?? noServiceNotifier,
    galleryPath: overrides.galleryPath ?? config.gallery.path,
    mqtt,
    camera: overrides.camera
      ? given(overrides.camera)
      : () => Promise.resolve().then(() => createFrameSource(config.camera, clock, logger)),
    detector: overrides.detector
      ? given(overrides.detector)
      : () => createFaceDetector(config.vision.detector, logger),
    model: overrides.model ? given(overrides.model) : () => loadConfiguredModel(config, logger),
    cropper: (model) =>
      overrides.landmarks !== undefined
        ? Promise.resolve(new FaceCropper(overrides.landmarks, cropGeometryOf(model.embedder)))
        : createFaceCropper(cropGeometryOf(model.embedder), config.vision.landmarks.model, logger),
    eyelids:
      overrides.eyelids !== undefined
        ? given(overrides.eyelids)
        : () => loadEyelidReader(config.access.liveness),
    relay: overrides.relay ? given(overrides.relay) : () => createRelay(config.door.relay, gpioDeps()),
    contact:
      overrides.contact !== undefined
        ? given(overrides.contact)
        : () => createInput('door contact', config.door.contact, gpioDeps()),
    exitButton:
      overrides.exitButton !== undefined
        ? given(overrides.exitButton)
        : () => createInput('exit button', config.door.exitButton, gpioDeps()),
  };
}

/** The configured sister network (`model.backbone`); it declares its own crop geometry. */
export async function loadConfiguredModel(config: FacegateConfig, logger: Logger): Promise<LoadedModel> {
  return { embedder: await loadModelFor(config.model, logger) };
}

/** The face path shared by the live loop and enrollment: the detector and THE FaceCropper. */
export interface FacePath {
  readonly detector: StoppableFaceDetector;
  /** Landmarks → alignment → the model's crop; one object for the live loop and enrollment. */
  readonly cropper: FaceCropper;
  readonly model: LoadedModel;
}

/** Loads the detector and the FaceCropper (with its landmark model) for a loaded model. */
export async function loadFacePath(components: Components, model: LoadedModel): Promise<FacePath> {
  const detector = await components.detector();
  let cropper: FaceCropper;
  try {
    cropper = await components.cropper(model);
  } catch (err) {
    await detector.stop().catch(() => undefined);
    throw err;
  }
  return { detector, cropper, model };
}

/** Stops what loadFacePath started (the embedder is disposed by its owner). */
export async function stopFacePath(path: FacePath): Promise<void> {
  path.cropper.dispose();
  await path.detector.stop().catch(() => undefined);
}

/** The photo enroller of the daemon and the gallery tool, on the shared face path. */
export function createPhotoEnroller(config: FacegateConfig, path: FacePath, logger: Logger): PhotoEnroller {
  return new PhotoEnroller({
    detector: path.detector,
    embedder: path.model.embedder,
    cropper: path.cropper,
    limits: {
      maxImageBytes: config.enrollment.maxImageBytes,
      maxImagePixels: config.enrollment.maxImagePixels,
      maxImageDimension: config.enrollment.maxImageDimension,
      workingMaxSide: config.enrollment.workingMaxSide,
    },
    // The live gate's face rules: a face the door would refuse live is not enrolled.
    rules: config.vision.quality,
    logger,
  });
}

export interface LiveLoopParts {
  readonly config: FacegateConfig;
  readonly camera: FrameSource;
  readonly face: FacePath;
  readonly matcher: Matcher;
  /** The access policy (in the daemon: as reviewed by the door's access rules). */
  readonly policy: Pick<AccessPolicy, 'observe'>;
  /** Opens the door for a granted face. */
  readonly door: DoorOpener;
  readonly events: EventSink;
  readonly metrics: FacegateMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  /** After every frame (feeds the systemd watchdog). */
  readonly onProgress?: () => void;
  /** What each frame held, for the live view. */
  readonly observer?: FrameObserver;
  /** The eyelid reader of the blink signal (Components.eyelids); absent: no blink evidence. */
  readonly eyelids?: EyelidReader | null;
}

/**
 * THE place the live loop is put together from the components (camera → detector →
 * quality gate → FaceCropper (landmarks, alignment) → liveness (face tracks) → embed → match →
 * policy → door and events). The
 * daemon and the bench both build it here.
 */
export function createLiveLoop(parts: LiveLoopParts): LiveLoop {
  const { face, config } = parts;
  const gate = new QualityGate(parts.config.vision.quality);
  // TF.js in a worker thread: the same model and landmark folders, checked by model id.
  const encoder =
    config.pipeline.worker === 'on'
      ? new FaceWorker({
          init: {
            model: config.model,
            landmarkDir: config.vision.landmarks.model,
            expectModelId: face.model.embedder.modelId,
            logLevel: config.log.level,
          },
          logger: parts.logger,
        })
      : undefined;
  return new LiveLoop(
    {
      source: parts.camera,
      detector: face.detector,
      gate,
      cropper: face.cropper,
      // Presentation-attack detection: face tracks and a liveness verdict per track (#13).
      liveness:
        parts.config.access.liveness.mode === 'on'
          ? new LivenessStage(parts.config.access.liveness, {
              verdicts: parts.metrics.livenessVerdicts,
              // A live verdict belongs to the face that earned it (a photo raised in front of a
              // live face continues its track): below unknownThreshold it is another person.
              continuity: new TrackContinuity(face.model.embedder.head, parts.config.access.unknownThreshold),
              faceChanges: parts.metrics.livenessFaceChanges,
              eyelids: parts.eyelids ?? undefined,
            })
          : undefined,
      embedder: face.model.embedder,
      encoder,
      // Decided face tracks reuse their match; re-embedded every k-th frame (docs/performance.md).
      identities:
        parts.config.pipeline.reembedEvery > 1
          ? new TrackIdentities(
              {
                agreeFrames: parts.config.pipeline.agreeFrames,
                reembedEvery: parts.config.pipeline.reembedEvery,
              },
              {
                accept: parts.config.access.acceptThreshold,
                unknown: parts.config.access.unknownThreshold,
                minMargin: parts.config.access.minMargin,
              },
            )
          : undefined,
      matcher: parts.matcher,
      policy: parts.policy,
      actuator: new DecisionActuator(parts.door, parts.events, parts.logger),
      events: parts.events,
      metrics: parts.metrics,
      clock: parts.clock,
      logger: parts.logger,
      onProgress: parts.onProgress,
      observer: parts.observer,
      // The engine's own count: needs no initialised backend (a fake embedder never starts one).
      tensorCount: () => tf.engine().state.numTensors + (encoder?.tensors ?? 0),
    },
    { detectAhead: parts.config.pipeline.detectAhead },
  );
}
