import * as tf from '@tensorflow/tfjs';
import type { ClockSync } from './access/clock-sync.js';
import { DoorAccess } from './access/door-access.js';
import { Door } from './access/door.js';
import { AccessPolicy } from './access/policy.js';
import type { FrameSource } from './camera/frame-source.js';
import { createFrameSource } from './camera/create-frame-source.js';
import type { FacegateConfig } from './config/schema.js';
import { registerEnrollmentCommands, type EnrollmentService } from './enrollment/commands.js';
import { PhotoEnroller } from './enrollment/photo-enroller.js';
import type { EventBody, EventSink, FacegateEvent } from './events.js';
import { MatcherDuplicateFinder } from './gallery/duplicates.js';
import { Matcher } from './gallery/matcher.js';
import { HOUSEKEEPING_INTERVAL_MS } from './gallery/retention.js';
import { GalleryStore } from './gallery/store.js';
import { createInput, createRelay } from './gpio/factory.js';
import type { Relay } from './gpio/types.js';
import { isTransactionId } from './identity.js';
import type { Embedder } from './model/embedder.js';
import { modelDirFor } from './model/config.js';
import { loadEmbedder } from './model/load.js';
import { loadPretrainedEmbedder } from './model/pretrained/embedder.js';
import { MqttConnection } from './mqtt/connection.js';
import { EventPublisher } from './mqtt/event-publisher.js';
import { HomeAssistantDiscovery } from './mqtt/discovery.js';
import { RequestRouter } from './mqtt/request-router.js';
import { StatePublisher } from './mqtt/state-publisher.js';
import { HealthMonitor } from './ops/health.js';
import { OpsHttpServer } from './ops/http-server.js';
import { FacegateMetrics } from './ops/metrics.js';
import { noServiceNotifier, WatchdogFeeder, type ServiceNotifier } from './ops/systemd.js';
import { DecisionActuator } from './pipeline/actuator.js';
import { FaceLocator } from './pipeline/face-locator.js';
import { GallerySync, importPersonFolders, reembedGallery } from './pipeline/gallery-maintenance.js';
import { LiveLoop } from './pipeline/live-loop.js';
import { systemClock, type Clock } from './util/clock.js';
import type { Logger } from './util/log.js';
import { createFaceDetector, type StoppableFaceDetector } from './vision/detector.js';
import { createEyeFinder } from './vision/eyes.js';
import { DEFAULT_PREPROCESS, type PreprocessOptions } from './vision/preprocess.js';
import { QualityGate } from './vision/quality.js';

export interface AppOptions {
  readonly config: FacegateConfig;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** systemd notify (main.ts builds it from the environment); a no-op by default. */
  readonly notifier?: ServiceNotifier;
  /** Whole stop() bound; each step also has its own. */
  readonly stopTimeoutMs?: number;
  /** How often the running daemon looks for gallery changes made by other processes. */
  readonly galleryPollMs?: number;
  /** facegate's version (package.json), for Home Assistant's device page. */
  readonly softwareVersion?: string;
  /** Replaces the clock-synchronisation check of the access rules (tests). */
  readonly clockSync?: ClockSync;
}

/**
 * The daemon: builds every component from the config (each gets its typed slice and a
 * child logger), starts them in pipeline order and stops them in reverse. Fail-secure:
 * the relay is driven to locked before anything else starts, first thing in stop(), and
 * by lockSync() from the crash handlers in main.ts.
 */
export class FacegateApp {
  readonly metrics = new FacegateMetrics();
  readonly health: HealthMonitor;
  private readonly config: FacegateConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly notifier: ServiceNotifier;
  private readonly stopTimeoutMs: number;
  private readonly galleryPollMs: number;
  private readonly softwareVersion: string;
  private readonly feeder: WatchdogFeeder;
  private readonly clockSync: ClockSync | undefined;
  private access: DoorAccess | null = null;

  private relay: Relay | null = null;
  private door: Door | null = null;
  private gallery: GalleryStore | null = null;
  private embedder: Embedder | null = null;
  private detector: StoppableFaceDetector | null = null;
  private locator: FaceLocator | null = null;
  private sync: GallerySync | null = null;
  private mqtt: MqttConnection | null = null;
  private publisher: EventPublisher | null = null;
  private router: RequestRouter | null = null;
  private enrollment: EnrollmentService | null = null;
  private state: StatePublisher | null = null;
  private discovery: HomeAssistantDiscovery | null = null;
  private camera: FrameSource | null = null;
  private loop: LiveLoop | null = null;
  private http: OpsHttpServer | null = null;
  private housekeeping: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private unsubscribers: (() => void)[] = [];

  constructor(options: AppOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.notifier = options.notifier ?? noServiceNotifier;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.galleryPollMs = options.galleryPollMs ?? 2000;
    this.softwareVersion = options.softwareVersion ?? 'unknown';
    this.clockSync = options.clockSync;
    this.health = new HealthMonitor(() => this.clock.monotonicMs());
    this.feeder = new WatchdogFeeder(
      this.notifier,
      () => this.clock.monotonicMs(),
      this.config.metrics.stallSeconds * 1000,
      this.logger.child({ module: 'watchdog' }),
    );
    this.metrics.bindLastFrameAge(() => this.feeder.idleSeconds);
  }

  /** The events sink (outbox-backed once started). */
  get events(): EventSink {
    return this.eventSink;
  }

  /** Door state for tests and health. */
  get doorState() {
    return this.door?.state() ?? null;
  }

  async start(): Promise<void> {
    const { config, logger, clock } = this;
    const log = logger.child({ module: 'app' });
    log.info({ device: config.device.id }, 'facegate starting');

    // Ops endpoint first, so a slow start-up (re-embedding) can be watched.
    if (config.metrics.port > 0) {
      const http = new OpsHttpServer(
        { host: config.metrics.host, port: config.metrics.port },
        this.metrics,
        this.health,
        logger,
      );
      try {
        await http.start();
        this.http = http;
      } catch (err) {
        // The door matters more than its metrics: run without the endpoint.
        log.error(
          { err, port: config.metrics.port },
          'metrics/health endpoint could not listen; running without it',
        );
      }
    }

    // 1. The door, locked, before anything else can go wrong.
    this.mqtt = new MqttConnection({ config: config.mqtt, deviceId: config.device.id, logger });
    const mqtt = this.mqtt;
    if (config.door.relay.type === 'mqtt') mqtt.start(); // the relay itself talks MQTT
    const gpioDeps = {
      logger,
      clock,
      publisher: {
        publish: (topic: string, payload: string, o?: { qos?: 0 | 1 | 2; retain?: boolean }) =>
          mqtt.publish(topic, payload, { qos: o?.qos === 0 ? 0 : 1, retain: o?.retain }),
      },
    };
    this.relay = await createRelay(config.door.relay, gpioDeps);
    this.door = new Door(
      {
        pulseMs: config.door.pulseMs,
        heldOpenSeconds: config.door.heldOpenSeconds,
        openGraceMs: config.door.openGraceMs,
      },
      {
        relay: this.relay,
        contact: await createInput('door contact', config.door.contact, gpioDeps),
        exitButton: await createInput('exit button', config.door.exitButton, gpioDeps),
        events: this.eventSink,
        clock,
        logger,
      },
    );
    await this.door.start();
    let pulses = 0;
    this.unsubscribers.push(
      this.door.onStateChange((state) => {
        // Every pulse, whoever asked for it (face, remote, exit button).
        if (state.unlocks > pulses) this.metrics.relayPulses.inc(state.unlocks - pulses);
        pulses = state.unlocks;
      }),
    );

    // 2. The gallery database (events are stored in its outbox from here on).
    this.gallery = new GalleryStore(config.gallery.path, logger, { clock });
    const gallery = this.gallery;
    this.publisher = new EventPublisher({
      deviceId: config.device.id,
      // Each event and its audit row in one SQL transaction.
      outbox: gallery.auditedOutbox,
      transport: mqtt,
      clock,
      logger,
    });

    // 3. The model, then the gallery's embeddings for exactly this model.
    await this.notifier.status('loading the model');
    const model = await loadConfiguredModel(config, logger);
    this.embedder = model.embedder;
    const embedder = this.embedder;
    await this.notifier.status('re-embedding the gallery');
    await reembedGallery(gallery, embedder, logger.child({ module: 'gallery-reembed' }));
    const matcher = new Matcher(embedder.head, embedder.dimension);
    const policy = new AccessPolicy(config.access);
    // The policy confirms WHO; the door's access rules decide whether now (docs/access.md).
    this.access = new DoorAccess({
      config: config.access,
      store: gallery,
      clock,
      logger,
      clockSync: this.clockSync,
    });
    const access = this.access;
    await access.start();
    this.sync = new GallerySync(gallery, matcher, embedder.modelId, logger.child({ module: 'gallery-sync' }));
    this.sync.onChange((change) => {
      this.metrics.gallerySize.set({ kind: 'people' }, change.people);
      this.metrics.gallerySize.set({ kind: 'embeddings' }, change.faces);
      for (const id of change.removed) policy.forgetPerson(id);
    });
    this.sync.reload();

    // 4. The detector (shared by the live loop and enrollment).
    this.detector = await createFaceDetector(config.vision.detector, logger);
    this.locator = await createFaceLocator(config, model.preprocess, logger);
    const locator = this.locator;
    // THE preprocessing, one function object shared by the live loop and enrollment.
    const facePreprocess = locator.preprocessor(model.preprocess);
    const enroller = new PhotoEnroller({
      detector: locator.wrapDetector(this.detector),
      embedder,
      preprocess: facePreprocess,
      limits: photoLimits(config),
      // The live gate's face rules: a face the door would refuse live is not enrolled.
      rules: config.vision.quality,
      logger,
    });
    if (config.gallery.bootstrapDir && gallery.stats().people === 0) {
      log.info({ dir: config.gallery.bootstrapDir }, 'gallery is empty: importing the bootstrap people');
      const result = await importPersonFolders(config.gallery.bootstrapDir, {
        enroller,
        store: gallery,
        modelId: embedder.modelId,
        logger: logger.child({ module: 'gallery-import' }),
      });
      log.info({ imported: result.imported.length, failed: result.failed }, 'bootstrap import done');
      this.sync.reload();
    }
    this.sync.watch(this.galleryPollMs);

    // 5. MQTT: never blocks; with no broker the door still works and events wait in the outbox.
    this.router = new RequestRouter({
      transport: mqtt,
      logger,
      maxPayloadBytes: config.mqtt.requests.maxBytes,
      maxConcurrent: config.mqtt.requests.maxConcurrent,
      events: this.eventSink,
    });
    const door = this.door;
    this.enrollment = await registerEnrollmentCommands(this.router, {
      deviceId: config.device.id,
      config: config.enrollment,
      enroller,
      modelId: embedder.modelId,
      store: gallery,
      events: this.eventSink,
      // duplicate_face: a face another person already has, at the door's own accept threshold.
      duplicates: new MatcherDuplicateFinder(
        matcher,
        () => config.access.acceptThreshold,
        () => void this.sync?.refreshIfChanged(),
      ),
      onGalleryChanged: () => void this.sync?.refreshIfChanged(),
      unlock: async () => {
        this.metrics.unlocks.inc({ source: 'remote' });
        await door.unlock('remote');
      },
      accessNow: (id) => access.accessNow(id),
      schedulesNow: () => access.schedulesNow(),
      // A changed person starts a new visit: the next confirmation is decided under the new rules.
      onAccessChanged: ({ personId }) => (personId ? policy.forgetPerson(personId) : undefined),
      clock,
      logger,
    });
    this.router.register('health_check', async (payload) => ({
      transaction: transactionOf(payload),
      data: this.health.report(),
    }));
    this.unsubscribers.push(mqtt.onStatus((connected) => this.metrics.mqttConnected.set(connected ? 1 : 0)));
    const fps = new FpsMeter(
      () => this.loop?.counters.processed ?? 0,
      () => this.clock.monotonicMs(),
    );
    this.state = new StatePublisher({
      transport: mqtt,
      provider: () => {
        const stats = gallery.stats();
        return {
          door: door.state(),
          gallery: { people: stats.people, faces: stats.faces, version: stats.version },
          model: { id: embedder.modelId },
          fps: fps.sample(),
        };
      },
      clock,
      logger,
      intervalMs: config.mqtt.stateIntervalMs,
    });
    const state = this.state;
    this.unsubscribers.push(door.onStateChange(() => state.refresh()));
    this.sync.onChange(() => state.refresh());
    this.discovery = new HomeAssistantDiscovery({
      transport: mqtt,
      deviceId: config.device.id,
      config: config.mqtt.homeAssistant,
      softwareVersion: this.softwareVersion,
      hasDoorContact: config.door.contact.type !== 'none',
      onCommand: (command) => {
        if (command === 'unlock') {
          this.metrics.unlocks.inc({ source: 'home_assistant' });
          void door.unlock('home_assistant');
        } else {
          void door.lock();
        }
      },
      logger,
    });
    this.router.start();
    this.publisher.start();
    this.state.start();
    this.discovery.start();
    mqtt.start();

    // 6. Camera and the live loop.
    this.camera = createFrameSource(config.camera, clock, logger);
    await this.camera.start();
    const gate = new QualityGate(config.vision.quality);
    this.loop = new LiveLoop({
      source: this.camera,
      detector: this.detector,
      gate,
      locate: locator.aligns ? (image, face) => locator.locate(image, face.box) : undefined,
      preprocess: facePreprocess,
      embedder,
      matcher,
      // Every grant the policy confirms is reviewed by the door's access rules.
      policy: access.rules.guard(policy),
      actuator: new DecisionActuator(
        { unlock: () => door.unlock('access_granted') },
        this.eventSink,
        this.metrics,
        logger,
      ),
      events: this.eventSink,
      metrics: this.metrics,
      clock,
      logger,
      onProgress: () => this.feeder.progress(),
      tensorCount: () => tf.memory().numTensors,
    });
    this.loop.start();
    this.addHealthChecks();
    this.housekeeping = setInterval(() => this.houseKeep(), HOUSEKEEPING_INTERVAL_MS);
    this.housekeeping.unref();

    this.feeder.start();
    this.health.setPhase('running');
    await this.notifier.ready(`recognising: ${matcher.people} people, model ${embedder.modelId}`);
    log.info(
      {
        people: matcher.people,
        modelId: embedder.modelId,
        detector: this.detector.name,
        camera: this.camera.name,
        relay: this.relay.name,
        metrics: this.http?.port ?? null,
      },
      'facegate running',
    );
  }

  /** Stops everything in reverse order, within the stop bound; the door is locked first and last. */
  stop(reason = 'stop requested'): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  /** Synchronous best-effort lock for crash handlers (no await possible there). */
  lockSync(): void {
    try {
      if (this.door) this.door.lockSync();
      else this.relay?.lockSync();
    } catch {
      // lockSync implementations never throw; nothing more can be done on a crash path.
    }
  }

  private async doStop(reason: string): Promise<void> {
    const log = this.logger.child({ module: 'app' });
    log.info({ reason }, 'facegate stopping');
    this.lockSync();
    this.health.setPhase('stopping');
    this.feeder.stop();
    const deadline = this.clock.monotonicMs() + this.stopTimeoutMs;
    const step = async (name: string, fn: () => Promise<unknown> | unknown, capMs = 3000): Promise<void> => {
      const budget = Math.max(100, Math.min(capMs, deadline - this.clock.monotonicMs()));
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(fn),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${budget} ms`)), budget);
          }),
        ]);
      } catch (err) {
        log.warn({ step: name, err: (err as Error).message }, 'stop step failed; going on');
      } finally {
        clearTimeout(timer);
      }
    };
    await step('systemd', () => this.notifier.stopping(reason), 1000);
    if (this.housekeeping) clearInterval(this.housekeeping);
    for (const off of this.unsubscribers.splice(0)) off();
    await step('live loop and camera', () => (this.loop ? this.loop.stop() : this.camera?.stop()));
    await step('gallery sync', () => this.sync?.stop());
    await step('access rules', () => this.access?.stop());
    await step('requests', () => this.router?.stop(2000));
    await step('state', () => this.state?.stop());
    await step('discovery', () => this.discovery?.stop());
    await step('events', () => this.publisher?.stop());
    await step('mqtt', () => this.mqtt?.stop(2000));
    await step('detector', () => this.detector?.stop());
    await step('eye finder', () => this.locator?.stop());
    await step('model', () => this.embedder?.dispose());
    await step('door', () => this.door?.stop());
    this.lockSync();
    await step('gallery', () => this.gallery?.close());
    await step('ops endpoint', () => this.http?.stop(), 1000);
    log.info({ door: this.door?.state() ?? null }, 'facegate stopped');
  }

  private addHealthChecks(): void {
    const loop = this.loop;
    const mqtt = this.mqtt;
    const gallery = this.gallery;
    const embedder = this.embedder;
    this.health.add({
      name: 'loop',
      critical: true,
      check: () => ({
        ok: !this.feeder.stalled,
        detail: { idleSeconds: Math.round(this.feeder.idleSeconds * 10) / 10, ...loop?.counters },
      }),
    });
    this.health.add({
      name: 'model',
      critical: true,
      check: () => ({ ok: embedder !== null, detail: { modelId: embedder?.modelId } }),
    });
    this.health.add({
      name: 'gallery',
      critical: true,
      check: () => {
        const stats = gallery?.stats();
        return {
          ok: stats !== undefined,
          detail: { ...stats, outboxPending: gallery?.outboxPendingCount() },
        };
      },
    });
    this.health.add({
      name: 'mqtt',
      critical: false,
      // Not ok while disconnected, or for a while after the broker said the session was taken over.
      check: () => {
        const status = mqtt?.status();
        return { ok: status !== undefined && status.connected && status.problem === null, detail: status };
      },
    });
    const access = this.access;
    this.health.add({
      name: 'access',
      critical: false,
      check: () => access?.health() ?? { ok: false, detail: 'access rules not started' },
    });
    this.health.add({
      name: 'requests',
      critical: false,
      // Signed requests since start: applied, answered again from the store, refused (reported / repeats).
      check: () => ({ ok: true, detail: this.enrollment?.stats }),
    });
    this.health.add({
      name: 'door',
      critical: false,
      check: () => ({ ok: this.door !== null, detail: this.door?.state() }),
    });
  }

  private houseKeep(): void {
    try {
      // Retention periods: src/gallery/retention.ts.
      this.gallery?.pruneExpired();
    } catch (err) {
      this.logger.warn({ err }, 'housekeeping failed');
    }
  }

  /**
   * Events go to the outbox-backed publisher, which stores each with its audit row in one
   * SQL transaction; before the gallery is open (a relay fault during start-up) they can
   * only be logged.
   */
  private readonly eventSink: EventSink = {
    emit: (body: EventBody): FacegateEvent => {
      if (this.publisher) return this.publisher.emit(body);
      const event: FacegateEvent = {
        ...body,
        id: 'unstored',
        ts: new Date(this.clock.nowMs()).toISOString(),
        device: this.config.device.id,
      };
      this.logger.warn({ event }, 'event before the gallery opened: logged only');
      return event;
    },
  };
}

/** Frames per second of the live loop since the previous sample. */
class FpsMeter {
  private lastCount = 0;
  private lastMs: number;
  private value = 0;

  constructor(
    private readonly count: () => number,
    private readonly now: () => number,
  ) {
    this.lastMs = now();
  }

  sample(): number {
    const now = this.now();
    const elapsed = now - this.lastMs;
    if (elapsed >= 1000) {
      const count = this.count();
      this.value = ((count - this.lastCount) * 1000) / elapsed;
      this.lastCount = count;
      this.lastMs = now;
    }
    return this.value;
  }
}

function transactionOf(payload: Buffer): string | null {
  try {
    const t = (JSON.parse(payload.toString('utf8')) as { transaction?: unknown }).transaction;
    return isTransactionId(t) ? t : null;
  } catch {
    return null;
  }
}

// ----------------------------------------------------------------- gallery tool

/** The configured sister network (`model.backbone`) and how faces must be preprocessed for it. */
async function loadConfiguredModel(
  config: FacegateConfig,
  logger: Logger,
): Promise<{ embedder: Embedder; preprocess: PreprocessOptions }> {
  if (config.model.backbone === 'faceapi') {
    const embedder = await loadPretrainedEmbedder(modelDirFor(config.model), logger, {
      backend: config.model.tfBackend,
    });
    return { embedder, preprocess: embedder.preprocess };
  }
  const embedder = await loadEmbedder(config.model.path, logger, { backend: config.model.tfBackend });
  return { embedder, preprocess: { ...DEFAULT_PREPROCESS, size: embedder.inputSize } };
}

/** Eyes are looked for only when the model aligns faces on them. */
async function createFaceLocator(
  config: FacegateConfig,
  preprocess: PreprocessOptions,
  logger: Logger,
): Promise<FaceLocator> {
  if (!preprocess.align) return new FaceLocator(null);
  const eyes = await createEyeFinder({ backend: config.vision.detector.backend, threads: 1 }, logger);
  return new FaceLocator(eyes);
}

/** The photo limits of the `enrollment` slice, for PhotoEnroller. */
function photoLimits(config: FacegateConfig) {
  return {
    maxImageBytes: config.enrollment.maxImageBytes,
    maxImagePixels: config.enrollment.maxImagePixels,
    maxImageDimension: config.enrollment.maxImageDimension,
    workingMaxSide: config.enrollment.workingMaxSide,
  };
}

/**
 * `facegate gallery import <dir>`: enrolls every `<dir>/<personId>/` folder of photos with
 * the configured model and detector, straight into the gallery database. A running
 * daemon picks the change up within seconds (it polls the gallery version).
 */
export async function importGalleryFolders(config: FacegateConfig, logger: Logger, dir: string) {
  const gallery = new GalleryStore(config.gallery.path, logger);
  let embedder: Embedder | null = null;
  let detector: StoppableFaceDetector | null = null;
  let locator: FaceLocator | null = null;
  try {
    const model = await loadConfiguredModel(config, logger);
    embedder = model.embedder;
    await reembedGallery(gallery, embedder, logger.child({ module: 'gallery-reembed' }));
    detector = await createFaceDetector(config.vision.detector, logger);
    locator = await createFaceLocator(config, model.preprocess, logger);
    const enroller = new PhotoEnroller({
      detector: locator.wrapDetector(detector),
      embedder,
      preprocess: locator.preprocessor(model.preprocess),
      limits: photoLimits(config),
      // The live gate's face rules: a face the door would refuse live is not enrolled.
      rules: config.vision.quality,
      logger,
    });
    const result = await importPersonFolders(dir, {
      enroller,
      store: gallery,
      modelId: embedder.modelId,
      logger: logger.child({ module: 'gallery-import' }),
    });
    return { ...result, modelId: embedder.modelId, gallery: gallery.stats() };
  } finally {
    await detector?.stop().catch(() => undefined);
    await locator?.stop().catch(() => undefined);
    embedder?.dispose();
    gallery.close();
  }
}
