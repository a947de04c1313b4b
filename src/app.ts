import type { ClockSync } from './access/clock-sync.js';
import { DoorAccess } from './access/door-access.js';
import { Door } from './access/door.js';
import { FaceDoorOpener } from './access/door-opener.js';
import { AccessPolicy } from './access/policy.js';
import {
  buildComponents,
  createLiveLoop,
  createPhotoEnroller,
  loadFacePath,
  stopFacePath,
  type ComponentOverrides,
  type Components,
  type FacePath,
  type LoadedModel,
} from './compose.js';
import type { FacegateConfig } from './config/schema.js';
import { registerEnrollmentCommands, type EnrollmentService } from './enrollment/commands.js';
import { RemoteUnlock } from './enrollment/remote-unlock.js';
import { WalkupCapture } from './enrollment/walkup-capture.js';
import { FrameObservers } from './pipeline/frame-observer.js';
import type { EyelidReader } from './liveness/eyelids.js';
import type { PhotoEnroller } from './enrollment/photo-enroller.js';
import { AppEventSink } from './event-sink.js';
import type { EventSink } from './events.js';
import { MatcherDuplicateFinder } from './gallery/duplicates.js';
import { Matcher } from './gallery/matcher.js';
import { HOUSEKEEPING_INTERVAL_MS } from './gallery/retention.js';
import { GalleryStore } from './gallery/store.js';
import type { DigitalInput, Relay } from './gpio/types.js';
import { isTransactionId } from './identity.js';
import type { MqttConnection } from './mqtt/connection.js';
import { EventPublisher, type EventTransport } from './mqtt/event-publisher.js';
import { HomeAssistantDiscovery } from './mqtt/discovery.js';
import { HomeAssistantLock } from './mqtt/home-assistant-lock.js';
import { RequestRouter } from './mqtt/request-router.js';
import { StatePublisher } from './mqtt/state-publisher.js';
import { HealthMonitor } from './ops/health.js';
import { OpsHttpServer } from './ops/http-server.js';
import { isLoopbackHost, LiveView } from './ops/live-view.js';
import { logProgress, type ProgressFactory } from './util/progress.js';
import { FacegateMetrics } from './ops/metrics.js';
import { WatchdogFeeder, type ServiceNotifier } from './ops/systemd.js';
import { GallerySync, importPersonFolders, reembedGallery } from './pipeline/gallery-maintenance.js';
import type { LiveLoop } from './pipeline/live-loop.js';
import { Lifecycle, type Service } from './lifecycle.js';
import type { Clock } from './util/clock.js';
import type { Logger } from './util/log.js';

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
  /** Components to use instead of the configured ones (fakes in tests; `mqtt: null` for a bench). */
  readonly overrides?: Omit<ComponentOverrides, 'logger' | 'clock' | 'notifier'>;
}

/** With MQTT off: events wait in the outbox, nothing is sent. */
const offlineTransport: EventTransport = {
  connected: false,
  topics: { events: '' },
  publish: () => Promise.reject(new Error('MQTT is off')),
  onConnect: () => () => undefined,
};

/**
 * The daemon: the components from `buildComponents` (each replaceable), started as an
 * ordered list of services and stopped in exactly the reverse order, each stop step
 * time-bounded (src/lifecycle.ts). Fail-secure: the relay is driven to locked before
 * anything but the ops endpoint starts, first thing in stop() and last, and by lockSync()
 * from the crash handlers in main.ts.
 *
 * Start order: ops endpoint → door (relay locked) → gallery database → model (+ re-embed,
 * matcher) → face path (detector, eyes) → bootstrap import → gallery sync → MQTT services
 * (handlers registered before the connection opens, so a persistent session's queued
 * requests find them) → camera and live loop → health, housekeeping, watchdog → systemd READY.
 */
export class FacegateApp {
  readonly metrics = new FacegateMetrics();
  readonly health: HealthMonitor;
  private readonly components: Components;
  private readonly config: FacegateConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly notifier: ServiceNotifier;
  private readonly galleryPollMs: number;
  private readonly softwareVersion: string;
  private readonly feeder: WatchdogFeeder;
  private readonly sink: AppEventSink;
  private readonly lifecycle: Lifecycle;
  private readonly mqtt: MqttConnection | null;
  private readonly clockSync: ClockSync | undefined;

  // Filled in by the services as they start.
  private relay: Relay | null = null;
  private door: Door | null = null;
  private gallery: GalleryStore | null = null;
  private publisher: EventPublisher | null = null;
  private model: LoadedModel | null = null;
  private matcher: Matcher | null = null;
  private policy: AccessPolicy | null = null;
  private access: DoorAccess | null = null;
  private sync: GallerySync | null = null;
  private face: FacePath | null = null;
  private enroller: PhotoEnroller | null = null;
  private enrollment: EnrollmentService | null = null;
  private state: StatePublisher | null = null;
  private loop: LiveLoop | null = null;
  /** The blink signal's eyelid model (loaded with the live loop when liveness and blink are on). */
  private eyelids: EyelidReader | null = null;
  private http: OpsHttpServer | null = null;
  /** The installer's live view (liveView.enabled), served on the ops endpoint. */
  private readonly liveView: LiveView | null;
  /** Everything that watches the live loop's frames (the live view, a walk-up capture). */
  private readonly observers: FrameObservers;
  /** Walk-up enrollment (capture_enroll) from the live loop's frames; set once the face path loaded. */
  private walkup: WalkupCapture | null = null;
  private cameraName: string | null = null;
  private stopReason = 'stop requested';
  private stopping: Promise<void> | null = null;

  constructor(options: AppOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.components = buildComponents(options.config, {
      ...options.overrides,
      logger: options.logger,
      clock: options.clock,
      notifier: options.notifier,
    });
    this.clock = this.components.clock;
    this.notifier = this.components.notifier;
    this.mqtt = this.components.mqtt;
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
    this.sink = new AppEventSink(this.config.device.id, this.clock, this.logger);
    this.liveView = this.config.liveView.enabled ? this.createLiveView() : null;
    this.observers = new FrameObservers((err) =>
      this.logger.warn({ err, module: 'frame-observers' }, 'frame observer failed'),
    );
    if (this.liveView) this.observers.add(this.liveView);
    this.lifecycle = new Lifecycle(this.services(), {
      logger: this.logger,
      clock: this.clock,
      stopTimeoutMs: options.stopTimeoutMs ?? 10_000,
    });
  }

  private createLiveView(): LiveView {
    const view = new LiveView({
      config: this.config.liveView,
      thresholds: {
        accept: this.config.access.acceptThreshold,
        unknown: this.config.access.unknownThreshold,
      },
      loopbackOnly: isLoopbackHost(this.config.metrics.host),
      doorState: () => this.door?.state() ?? null,
      audit: (kind, detail) => {
        // Fail closed: no audit row, no page.
        if (!this.gallery) throw new Error('the gallery (audit log) is not open');
        this.gallery.audit.append(kind, detail);
      },
      clock: this.clock,
      logger: this.logger,
    });
    this.sink.onEvent((event) => view.eventSeen(event));
    return view;
  }

  /** The events sink (outbox-backed once started). */
  get events(): EventSink {
    return this.sink;
  }

  /** Door state for tests and health. */
  get doorState() {
    return this.door?.state() ?? null;
  }

  async start(): Promise<void> {
    this.logger.child({ module: 'app' }).info({ device: this.config.device.id }, 'facegate starting');
    await this.lifecycle.start();
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
    this.stopReason = reason;
    this.health.setPhase('stopping');
    this.feeder.stop();
    await this.lifecycle.stop();
    this.lockSync();
    log.info({ door: this.door?.state() ?? null }, 'facegate stopped');
  }

  /** The daemon's services in start order (stopped in reverse). */
  private services(): Service[] {
    const { config, logger, clock } = this;
    const c = this.components;
    const mqtt = this.mqtt;
    const log = logger.child({ module: 'app' });
    const need = <T>(value: T | null, what: string): T => {
      if (value === null) throw new Error(`${what} is not started`);
      return value;
    };
    const unsubscribers: (() => void)[] = [];
    const services: Service[] = [];

    // Ops endpoint first, so a slow start-up (re-embedding) can be watched.
    services.push({
      name: 'ops endpoint',
      stopBoundMs: 1000,
      start: async () => {
        if (config.metrics.port <= 0) return;
        const http = new OpsHttpServer(
          { host: config.metrics.host, port: config.metrics.port },
          this.metrics,
          this.health,
          logger,
          this.liveView ?? undefined,
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
      },
      stop: async () => {
        this.liveView?.stop();
        await this.http?.stop();
      },
    });

    // Opened after the door (below), closed after it: what the door reports while it stops
    // (a relay that would not lock) is still stored and audited.
    services.push({
      name: 'gallery close',
      start: () => undefined,
      stop: () => {
        this.sink.detach();
        this.gallery?.close();
      },
    });

    // The door, locked, before anything else can go wrong.
    let pulses = 0;
    services.push({
      name: 'door',
      start: async () => {
        if (config.door.relay.type === 'mqtt') need(mqtt, 'MQTT (for the mqtt relay)').start();
        this.relay = await c.relay();
        let contact: DigitalInput | null = null;
        let exitButton: DigitalInput | null = null;
        try {
          contact = await c.contact();
          exitButton = await c.exitButton();
        } catch (err) {
          this.relay.lockSync();
          throw err;
        }
        const door = new Door(
          {
            pulseMs: config.door.pulseMs,
            heldOpenSeconds: config.door.heldOpenSeconds,
            openGraceMs: config.door.openGraceMs,
          },
          { relay: this.relay, contact, exitButton, events: this.sink, clock, logger },
        );
        this.door = door;
        try {
          await door.start();
        } catch (err) {
          // Owns the relay now: release it locked before giving up.
          await door.stop().catch(() => undefined);
          throw err;
        }
        unsubscribers.push(
          door.onStateChange((state) => {
            // Every pulse, whoever asked for it (face, remote, exit button).
            if (state.unlocks > pulses) this.metrics.relayPulses.inc(state.unlocks - pulses);
            pulses = state.unlocks;
          }),
        );
      },
      stop: async () => {
        for (const off of unsubscribers.splice(0)) off();
        await this.door?.stop();
        this.lockSync();
      },
    });

    // The gallery database (events are stored in its outbox from here on).
    services.push({
      name: 'gallery',
      start: () => {
        const gallery = new GalleryStore(c.galleryPath, logger, { clock });
        this.gallery = gallery;
        this.publisher = new EventPublisher({
          deviceId: config.device.id,
          // Each event and its audit row in one SQL transaction.
          outbox: gallery.auditedOutbox,
          transport: mqtt ?? offlineTransport,
          clock,
          logger,
        });
        this.sink.attach(this.publisher);
      },
      stop: () => undefined, // closed by 'gallery close', after the door stopped
    });

    // The model, then the gallery's embeddings for exactly this model, and the matcher.
    services.push({
      name: 'model',
      start: async () => {
        const gallery = need(this.gallery, 'the gallery');
        await this.notifier.status('loading the model');
        const model = await c.model();
        this.model = model;
        const { embedder } = model;
        await this.notifier.status('re-embedding the gallery');
        await reembedGallery(gallery, embedder, logger.child({ module: 'gallery-reembed' }));
        const matcher = new Matcher(embedder.head, embedder.dimension);
        const policy = new AccessPolicy(config.access);
        if (config.access.liveness.mode === 'off') {
          // Said loudly: without presentation-attack detection a printed photo is a key.
          logger
            .child({ module: 'app' })
            .warn(
              { liveness: 'off' },
              'liveness off: a photo of an enrolled person opens this door (access.liveness.mode)',
            );
        } else {
          logger
            .child({ module: 'app' })
            .info(
              { liveness: config.access.liveness },
              'liveness on: the door opens only for a face judged live',
            );
        }
        const sync = new GallerySync(
          gallery,
          matcher,
          embedder.modelId,
          logger.child({ module: 'gallery-sync' }),
        );
        sync.onChange((change) => {
          this.metrics.gallerySize.set({ kind: 'people' }, change.people);
          this.metrics.gallerySize.set({ kind: 'embeddings' }, change.faces);
          for (const id of change.removed) policy.forgetPerson(id);
        });
        sync.reload();
        this.matcher = matcher;
        this.policy = policy;
        this.sync = sync;
      },
      stop: () => this.model?.embedder.dispose(),
    });

    // The policy confirms WHO; the door's access rules decide whether now (docs/access.md).
    services.push({
      name: 'access rules',
      start: async () => {
        const access = new DoorAccess({
          config: config.access,
          store: need(this.gallery, 'the gallery'),
          clock,
          logger,
          clockSync: this.clockSync,
        });
        this.access = access;
        await access.start();
      },
      stop: () => this.access?.stop(),
    });

    // The detector and the eyes (shared by the live loop and enrollment).
    services.push({
      name: 'face path',
      start: async () => {
        this.face = await loadFacePath(c, need(this.model, 'the model'));
        // The blink signal's eyelid model: checked here, before the camera starts.
        try {
          this.eyelids = await c.eyelids();
        } catch (err) {
          await stopFacePath(this.face);
          this.face = null;
          throw err;
        }
        if (this.eyelids)
          log.info(
            { eyeModel: config.access.liveness.eyeModel },
            'eyelid model loaded (liveness blink signal)',
          );
        this.enroller = createPhotoEnroller(config, this.face, logger);
        this.walkup = new WalkupCapture({
          enroller: this.enroller,
          monotonicMs: () => clock.monotonicMs(),
          sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          logger,
        });
        this.observers.add(this.walkup);
      },
      stop: () => {
        this.eyelids?.dispose();
        this.eyelids = null;
        return this.face ? stopFacePath(this.face) : undefined;
      },
    });

    services.push({
      name: 'bootstrap import',
      start: async () => {
        const gallery = need(this.gallery, 'the gallery');
        if (!config.gallery.bootstrapDir || gallery.stats().people > 0) return;
        log.info({ dir: config.gallery.bootstrapDir }, 'gallery is empty: importing the bootstrap people');
        const result = await importPersonFolders(config.gallery.bootstrapDir, {
          enroller: need(this.enroller, 'the enroller'),
          store: gallery,
          modelId: need(this.model, 'the model').embedder.modelId,
          logger: logger.child({ module: 'gallery-import' }),
          // The enrollment identity rules (duplicate_face) apply to the bootstrap people too.
          duplicates: new MatcherDuplicateFinder(
            need(this.matcher, 'the matcher'),
            need(this.model, 'the model').embedder.head,
            { accept: () => config.access.acceptThreshold, unknown: () => config.access.unknownThreshold },
            () => void this.sync?.refreshIfChanged(),
          ),
        });
        log.info({ imported: result.imported.length, failed: result.failed }, 'bootstrap import done');
        need(this.sync, 'gallery sync').reload();
      },
      stop: () => undefined,
    });

    services.push({
      name: 'gallery sync',
      start: () => need(this.sync, 'gallery sync').watch(this.galleryPollMs),
      stop: () => this.sync?.stop(),
    });

    if (mqtt) services.push(...this.mqttServices(mqtt, need));

    // Camera and the live loop.
    services.push({
      name: 'live loop',
      start: async () => {
        const camera = await c.camera();
        this.cameraName = camera.name;
        try {
          await camera.start();
        } catch (err) {
          await camera.stop().catch(() => undefined);
          throw err;
        }
        const door = need(this.door, 'the door');
        this.loop = createLiveLoop({
          config,
          camera,
          face: need(this.face, 'the face path'),
          matcher: need(this.matcher, 'the matcher'),
          // Every grant the policy confirms is reviewed by the door's access rules.
          policy: need(this.access, 'the access rules').rules.guard(need(this.policy, 'the access policy')),
          door: new FaceDoorOpener(door, this.metrics),
          events: this.sink,
          metrics: this.metrics,
          clock,
          logger,
          onProgress: () => this.feeder.progress(),
          observer: this.observers,
          eyelids: this.eyelids,
        });
        this.loop.start();
      },
      stop: () => this.loop?.stop(),
    });

    let housekeeping: NodeJS.Timeout | null = null;
    services.push({
      name: 'health and housekeeping',
      start: () => {
        this.addHealthChecks();
        housekeeping = setInterval(() => this.houseKeep(), HOUSEKEEPING_INTERVAL_MS);
        housekeeping.unref();
        this.feeder.start();
        this.health.setPhase('running');
      },
      stop: () => {
        if (housekeeping) clearInterval(housekeeping);
        this.feeder.stop();
      },
    });

    services.push({
      name: 'systemd',
      stopBoundMs: 1000,
      start: async () => {
        const matcher = need(this.matcher, 'the matcher');
        const { embedder } = need(this.model, 'the model');
        await this.notifier.ready(`recognising: ${matcher.people} people, model ${embedder.modelId}`);
        log.info(
          {
            people: matcher.people,
            modelId: embedder.modelId,
            detector: this.face?.detector.name,
            camera: this.cameraName,
            relay: this.relay?.name,
            metrics: this.http?.port ?? null,
          },
          'facegate running',
        );
      },
      stop: () => this.notifier.stopping(this.stopReason),
    });
    return services;
  }

  /**
   * MQTT never blocks: with no broker the door still works and events wait in the outbox.
   * The connection is closed after every MQTT service stopped, and opened after every
   * handler is registered.
   */
  private mqttServices(mqtt: MqttConnection, need: <T>(value: T | null, what: string) => T): Service[] {
    const { config, logger, clock } = this;
    const unsubscribers: (() => void)[] = [];
    let discovery: HomeAssistantDiscovery | null = null;
    let router: RequestRouter | null = null;
    return [
      {
        name: 'mqtt',
        start: () => {
          unsubscribers.push(mqtt.onStatus((connected) => this.metrics.mqttConnected.set(connected ? 1 : 0)));
        },
        stop: async () => {
          for (const off of unsubscribers.splice(0)) off();
          await mqtt.stop(2000);
        },
      },
      {
        name: 'events',
        start: () => need(this.publisher, 'the event publisher').start(),
        stop: () => this.publisher?.stop(),
      },
      {
        name: 'home assistant',
        start: () => {
          const haLock = new HomeAssistantLock(need(this.door, 'the door'), logger, this.metrics);
          discovery = new HomeAssistantDiscovery({
            transport: mqtt,
            deviceId: config.device.id,
            config: config.mqtt.homeAssistant,
            softwareVersion: this.softwareVersion,
            hasDoorContact: config.door.contact.type !== 'none',
            onCommand: (command) => void haLock.handle(command),
            logger,
          });
          discovery.start();
        },
        stop: () => discovery?.stop(),
      },
      {
        name: 'state',
        start: () => {
          const door = need(this.door, 'the door');
          const gallery = need(this.gallery, 'the gallery');
          const { embedder } = need(this.model, 'the model');
          const fps = new FpsMeter(
            () => this.loop?.counters.processed ?? 0,
            () => clock.monotonicMs(),
          );
          const state = new StatePublisher({
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
          this.state = state;
          unsubscribers.push(door.onStateChange(() => state.refresh()));
          need(this.sync, 'gallery sync').onChange(() => state.refresh());
          state.start();
        },
        stop: () => this.state?.stop(),
      },
      {
        name: 'requests',
        start: async () => {
          const access = need(this.access, 'the access rules');
          const policy = need(this.policy, 'the access policy');
          const remoteUnlock = new RemoteUnlock(need(this.door, 'the door'), this.metrics);
          router = new RequestRouter({
            transport: mqtt,
            logger,
            maxPayloadBytes: config.mqtt.requests.maxBytes,
            maxConcurrent: config.mqtt.requests.maxConcurrent,
            events: this.sink,
          });
          this.enrollment = await registerEnrollmentCommands(router, {
            deviceId: config.device.id,
            config: config.enrollment,
            enroller: need(this.enroller, 'the enroller'),
            modelId: need(this.model, 'the model').embedder.modelId,
            store: need(this.gallery, 'the gallery'),
            events: this.sink,
            capture: this.walkup ?? undefined,
            livenessOn: config.access.liveness.mode !== 'off',
            // duplicate_face: a face another person already has, at the door's own accept threshold.
            duplicates: new MatcherDuplicateFinder(
              need(this.matcher, 'the matcher'),
              need(this.model, 'the model').embedder.head,
              { accept: () => config.access.acceptThreshold, unknown: () => config.access.unknownThreshold },
              () => void this.sync?.refreshIfChanged(),
            ),
            onGalleryChanged: () => void this.sync?.refreshIfChanged(),
            unlock: (_reason, request) => remoteUnlock.unlock(request),
            accessNow: (id) => access.accessNow(id),
            schedulesNow: () => access.schedulesNow(),
            // A changed person starts a new visit: the next confirmation is decided under the new rules.
            onAccessChanged: ({ personId }) => (personId ? policy.forgetPerson(personId) : undefined),
            clock,
            logger,
          });
          router.register('health_check', async (payload) => ({
            transaction: transactionOf(payload),
            data: this.health.report(),
          }));
          router.start();
        },
        stop: () => router?.stop(2000),
      },
      {
        name: 'mqtt connect',
        start: () => mqtt.start(),
        stop: () => undefined,
      },
    ];
  }

  private addHealthChecks(): void {
    const mqtt = this.mqtt;
    const gallery = this.gallery;
    const embedder = this.model?.embedder ?? null;
    this.health.add({
      name: 'loop',
      critical: true,
      check: () => ({
        ok: !this.feeder.stalled,
        detail: { idleSeconds: Math.round(this.feeder.idleSeconds * 10) / 10, ...this.loop?.counters },
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

/**
 * `facegate gallery import <dir>`: enrolls every `<dir>/<personId>/` folder of photos with
 * the configured model and detector (the daemon's own factory), straight into the gallery
 * database. A running daemon picks the change up within seconds (it polls the gallery version).
 */
export async function importGalleryFolders(
  config: FacegateConfig,
  logger: Logger,
  dir: string,
  overrides: Pick<ComponentOverrides, 'detector' | 'model' | 'landmarks' | 'galleryPath'> = {},
  progress?: ProgressFactory,
) {
  const c = buildComponents(config, { ...overrides, logger, mqtt: null });
  const gallery = new GalleryStore(c.galleryPath, logger);
  let model: LoadedModel | null = null;
  let face: FacePath | null = null;
  try {
    model = await c.model();
    const reembedLog = logger.child({ module: 'gallery-reembed' });
    await reembedGallery(gallery, model.embedder, reembedLog, 64, progress ?? logProgress(reembedLog));
    face = await loadFacePath(c, model);
    // The enrollment identity rules over what is already in the database (and what this import adds).
    const matcher = new Matcher(model.embedder.head, model.embedder.dimension);
    const sync = new GallerySync(
      gallery,
      matcher,
      model.embedder.modelId,
      logger.child({ module: 'gallery-sync' }),
    );
    sync.reload();
    const result = await importPersonFolders(dir, {
      progress,
      enroller: createPhotoEnroller(config, face, logger),
      store: gallery,
      modelId: model.embedder.modelId,
      logger: logger.child({ module: 'gallery-import' }),
      duplicates: new MatcherDuplicateFinder(
        matcher,
        model.embedder.head,
        { accept: () => config.access.acceptThreshold, unknown: () => config.access.unknownThreshold },
        () => void sync.refreshIfChanged(),
      ),
    });
    return { ...result, modelId: model.embedder.modelId, gallery: gallery.stats() };
  } finally {
    if (face) await stopFacePath(face);
    model?.embedder.dispose();
    gallery.close();
  }
}
