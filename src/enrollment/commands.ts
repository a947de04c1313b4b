import type {
  EnrolledEvent,
  EventSink,
  PersonUpdatedEvent,
  RejectedRequestEvent,
  RemovedEvent,
  SchedulesSetEvent,
} from '../events.js';
import { GalleryInputError } from '../gallery/errors.js';
import { RepeatedRefusals } from '../mqtt/repeated-refusals.js';
import { RequestError, type RequestHandler, type RequestResult } from '../mqtt/request-router.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { GrayImage } from '../vision/image.js';
import type { RemoteUnlockRequest } from './remote-unlock.js';
import type { EnrollmentConfig } from './config.js';
import { EnrollmentError, type EnrollmentErrorCode } from './errors.js';
import type { EnrolledFace } from './photo-enroller.js';
import { loadTrustedKeys, type TrustedKey } from './keys.js';
import type { ScheduleOrigin } from '../access/door-schedules.js';
import { parseSetSchedulesArgs, parseUpdatePersonArgs } from '../access/protocol.js';
import type { PersonAccess } from '../access/rules.js';
import type { PersonAccessPatch } from '../gallery/person-access.js';
import {
  SIGNED_COMMANDS,
  parseCaptureEnrollArgs,
  parseEnrollArgs,
  parseListArgs,
  parsePersonId,
  parseRemoveArgs,
  parseUnlockArgs,
  type SignedCommand,
} from './protocol.js';
import { RequestVerifier, peekTransaction, type VerifiedRequest } from './verify.js';
import type { CaptureRequest, CaptureResult } from './walkup-capture.js';

/** Where request handlers are registered (src/mqtt RequestRouter satisfies it). */
export interface RequestRegistry {
  register(cmd: string, handler: RequestHandler): void;
}

/** Photos → faces (PhotoEnroller satisfies it). */
export interface FaceEnroller {
  enrollPhotos(photos: readonly Uint8Array[]): Promise<EnrolledFace[]>;
}

/** Another enrolled person a new face matches (src/gallery/duplicates.ts). */
export interface DuplicateMatch {
  readonly personId: string;
  readonly name: string;
  /** The Siamese head's similarity of the closest pair of faces, in (0, 1). */
  readonly similarity: number;
  /** The threshold it reached (the access accept threshold). */
  readonly threshold: number;
}

/**
 * Finds an enrolled person OTHER than `personId` whom one of `embeddings` matches at or
 * above the accept threshold (the closest such person), or null.
 */
export interface DuplicateFinder {
  findDuplicate(embeddings: readonly Float32Array[], personId: string): DuplicateMatch | null;
  /**
   * The face of a request's set that is not the same person as the others (best similarity
   * to them under the unknown threshold), or null (inconsistent_faces).
   */
  findOutlier?(embeddings: readonly Float32Array[]): OutlierFace | null;
  /** The first added template that does not match the enrolled person (inconsistent_faces). */
  findForeign?(embeddings: readonly Float32Array[], personId: string): OutlierFace | null;
}

/** A face that does not look like the rest of the person's set. */
export interface OutlierFace {
  readonly index: number;
  readonly similarity: number;
  readonly threshold: number;
}

interface TransactionOption<R> {
  readonly transaction?: { readonly id: string; readonly response: (result: R) => unknown };
}
interface EnrollOutcome {
  readonly version: number;
  readonly personId: string;
  readonly name: string;
  readonly faces: number;
  readonly updated: boolean;
  readonly access: PersonAccess;
}
interface UpdateAccessOutcome {
  readonly personId: string;
  readonly found: boolean;
  readonly name: string;
  readonly access: PersonAccess | null;
}
interface RemoveOutcome {
  readonly version: number;
  readonly personId: string;
  readonly removed: boolean;
}

/** The gallery operations enrollment needs (src/gallery GalleryStore satisfies it). */
export interface EnrollmentStore {
  /** All faces in ONE database transaction, together with the stored response. */
  enroll(
    request: {
      id: string;
      name?: string;
      modelId: string;
      faces: readonly { crop: GrayImage; embedding: Float32Array }[];
      access?: PersonAccessPatch;
    },
    options?: TransactionOption<EnrollOutcome> & { replace?: boolean },
  ): EnrollOutcome;
  remove(personId: string, options?: TransactionOption<RemoveOutcome>): RemoveOutcome;
  /** Adds faces to an existing person (their name and other faces kept), in one transaction. */
  addTemplates(
    personId: string,
    modelId: string,
    faces: readonly { crop: GrayImage; embedding: Float32Array }[],
  ): EnrollOutcome;
  appendAudit(kind: string, detail: unknown): number;
  /** Validity / suspension / groups, no photos; `found: false` for an unknown person. */
  updatePersonAccess(
    personId: string,
    patch: PersonAccessPatch,
    options?: TransactionOption<UpdateAccessOutcome>,
  ): UpdateAccessOutcome;
  /** Stores the door's schedules override (null: back to the config). */
  setStoredSchedules(
    spec: unknown,
    options?: TransactionOption<{ changed: boolean }> & { kid?: string },
  ): { changed: boolean };
  listPeople(): readonly ({
    id: string;
    name: string;
    faces: number;
    createdMs: number;
    updatedMs: number;
  } & PersonAccess)[];
  version(): number;
  /** False when the nonce was seen before (persisted across restarts). */
  rememberNonce(nonce: string, expiresAtMs: number): boolean;
  getTransaction(transactionId: string): unknown;
  putTransaction(transactionId: string, response: unknown): boolean;
}

export interface EnrollmentDeps {
  readonly deviceId: string;
  readonly config: EnrollmentConfig;
  /** Already loaded keys; when absent they are loaded from `config.trustedKeys`. */
  readonly trustedKeys?: readonly TrustedKey[];
  readonly enroller: FaceEnroller;
  /** Model id of the embedder the enroller uses (stored with each embedding). */
  readonly modelId: string;
  readonly store: EnrollmentStore;
  readonly events: EventSink;
  /**
   * Refuses a face that is already enrolled under another person id (`duplicate_face`).
   * Without it no duplicate check runs (the daemon always passes one).
   */
  readonly duplicates?: DuplicateFinder;
  /** Called after every committed gallery change (the matcher reloads its embeddings). */
  readonly onGalleryChanged: () => void | Promise<void>;
  /**
   * Opens the door once (RemoteUnlock, src/enrollment/remote-unlock.ts); only used when
   * `config.allowUnlock`. Rejects when the door did not open.
   */
  readonly unlock?: (reason: string, request: RemoteUnlockRequest) => void | Promise<void>;
  /**
   * This door's view of a person's access now (e.g. `{allowed: false, reason: "suspended"}`),
   * added to each person in `list`; absent: list shows the stored fields only.
   */
  readonly accessNow?: (personId: string) => unknown;
  /** This door's schedules as `list` shows them (source, time zone, groups). */
  readonly schedulesNow?: () => ScheduleOrigin;
  /** Called after a committed `update_person` / `set_schedules` (e.g. the policy forgets a cooldown). */
  readonly onAccessChanged?: (change: { readonly personId?: string }) => void;
  /**
   * Walk-up enrollment from the door camera (WalkupCapture, src/enrollment/walkup-capture.ts);
   * absent: `capture_enroll` is refused with capture_unavailable.
   */
  readonly capture?: {
    readonly busy: boolean;
    capture(request: CaptureRequest): Promise<CaptureResult>;
  };
  /** Liveness is on at this door: a capture takes only frames of a track judged `live`. */
  readonly livenessOn?: boolean;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What is stored per processed transaction and answered again for a duplicate. */
type StoredResponse =
  | { readonly status: 'ok'; readonly data: unknown }
  | {
      readonly status: 'error';
      readonly error: {
        readonly code: string;
        readonly message: string;
        readonly hint?: string;
        readonly details?: Record<string, unknown>;
      };
    };

/**
 * Registers `enroll`, `remove`, `list` and `unlock` on the router. Every command needs a
 * request signed by a trusted admin key (list too: the gallery is personal data and
 * tells an attacker whose face to copy). Returns the service (for tests and health).
 */
export async function registerEnrollmentCommands(
  router: RequestRegistry,
  deps: EnrollmentDeps,
): Promise<EnrollmentService> {
  const keys = deps.trustedKeys ?? (await loadTrustedKeys(deps.config.trustedKeys));
  const service = new EnrollmentService(deps, keys);
  for (const cmd of SIGNED_COMMANDS) {
    router.register(cmd, (payload, info) => service.handle(cmd, payload, info.topic));
  }
  return service;
}

/** What the service did with the requests it received since start (health, tests, fuzzer). */
export interface EnrollmentStats {
  /** Requests carried out (a gallery change, a list, an unlock) and answered ok. */
  readonly applied: number;
  /** Re-deliveries of an already answered transaction, answered from the store (no event). */
  readonly answeredFromStore: number;
  /** Refusals reported with a `rejected_request` event. */
  readonly rejected: number;
  /** Refusals of a payload already refused and reported recently: answered, not reported again. */
  readonly repeatedRefusals: number;
}

export class EnrollmentService {
  private readonly verifier: RequestVerifier;
  private readonly log: Logger;
  private readonly repeats: RepeatedRefusals;
  private counts = { applied: 0, answeredFromStore: 0, rejected: 0 };
  /** Requests are applied one at a time: no two enrollments race for the detector or the DB. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The capture_enroll queued or running, by transaction. */
  private capturing: { readonly transaction: string; readonly result: Promise<RequestResult> } | null = null;

  constructor(
    private readonly deps: EnrollmentDeps,
    readonly keys: readonly TrustedKey[],
  ) {
    this.log = deps.logger.child({ module: 'enrollment' });
    this.repeats = new RepeatedRefusals(() => deps.clock.monotonicMs());
    this.verifier = new RequestVerifier({
      deviceId: deps.deviceId,
      keys,
      maxClockSkewSeconds: deps.config.maxClockSkewSeconds,
      maxLifetimeSeconds: deps.config.maxLifetimeSeconds,
      maxRequestBytes: deps.config.maxRequestBytes,
      clock: deps.clock,
    });
    if (keys.length === 0) this.log.warn('no trusted admin keys: every enrollment request will be refused');
    else this.log.info({ keys: keys.map((k) => ({ kid: k.kid, source: k.source })) }, 'trusted admin keys');
  }

  get stats(): EnrollmentStats {
    return { ...this.counts, repeatedRefusals: this.repeats.repeated };
  }

  /**
   * Verifies and applies one request; throws RequestError (code + reason) on refusal.
   *
   * Order: signature, addressee and claims first; then, one request at a time, a
   * transaction already answered is answered again from the store (even when the copy
   * has expired meanwhile: retained and re-delivered requests), and only a new transaction
   * has its validity window and nonce checked and is applied. A refusal is reported once
   * per payload (see RepeatedRefusals), however often the same bytes arrive.
   */
  async handle(cmd: SignedCommand, payload: Buffer, topic: string): Promise<RequestResult> {
    let request: VerifiedRequest | undefined;
    try {
      request = await this.verifier.verify(payload, cmd, { checkWindow: false });
      const verified = request;
      if (cmd === 'capture_enroll') return await this.captureOnce(verified);
      return await this.serially(() => this.answerOrApply(cmd, verified));
    } catch (err) {
      if (err instanceof DuplicateError) throw err.requestError;
      const transaction = request?.claims.transaction ?? peekTransaction(payload);
      const refusal = toEnrollmentError(err, this.log);
      if (!this.repeats.shouldReport(payload, refusal.code)) {
        this.log.debug(
          { cmd, code: refusal.code, transaction },
          'repeated request refused again (not reported)',
        );
        throw new RequestError(refusal.code, refusal.message, transaction, {
          hint: refusal.hint,
          details: refusal.details,
        });
      }
      this.counts.rejected++;
      this.log.warn(
        {
          cmd,
          topic,
          code: refusal.code,
          reason: refusal.message,
          details: refusal.details,
          kid: request?.kid,
        },
        'request rejected',
      );
      this.emit({
        type: 'rejected_request',
        cmd,
        code: refusal.code,
        reason: refusal.message,
        ...(refusal.hint !== undefined ? { hint: refusal.hint } : {}),
        ...(refusal.details !== undefined ? { details: refusal.details } : {}),
        transaction,
        verified: request !== undefined,
      });
      throw new RequestError(refusal.code, refusal.message, transaction, {
        hint: refusal.hint,
        details: refusal.details,
      });
    }
  }

  /**
   * One capture at a time: a second one is refused at once (capture_busy) rather than queued
   * behind the running one; a re-delivery of the running request (the admin tool re-publishes
   * while the door is still capturing) gets the running capture's answer.
   */
  private async captureOnce(request: VerifiedRequest): Promise<RequestResult> {
    const running = this.capturing;
    if (running) {
      if (running.transaction === request.claims.transaction) return running.result;
      throw new EnrollmentError('capture_busy', 'a walk-up capture is already running on this door', {
        hint: 'wait until the running capture has answered, then send again',
      });
    }
    if (this.deps.capture?.busy === true) {
      throw new EnrollmentError('capture_busy', 'a walk-up capture is already running on this door');
    }
    const result = this.serially(() => this.answerOrApply('capture_enroll', request));
    this.capturing = { transaction: request.claims.transaction, result };
    try {
      return await result;
    } finally {
      this.capturing = null;
    }
  }

  private async answerOrApply(cmd: SignedCommand, request: VerifiedRequest): Promise<RequestResult> {
    const { transaction } = request.claims;
    // A transaction already processed is answered as it was the first time, changing nothing.
    const stored = this.deps.store.getTransaction(transaction) as StoredResponse | undefined;
    if (stored !== undefined) {
      this.counts.answeredFromStore++;
      this.log.info({ cmd, transaction }, 'duplicate transaction answered from the store');
      if (stored.status === 'ok') return { transaction, data: stored.data };
      const { code, message, hint, details } = stored.error;
      throw new DuplicateError(new RequestError(code, message, transaction, { hint, details }));
    }
    this.verifier.checkWindow(request.claims);
    const result = await this.apply(cmd, request);
    this.counts.applied++;
    return result;
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(cmd: SignedCommand, request: VerifiedRequest): Promise<RequestResult> {
    const { store } = this.deps;
    const { transaction, nonce } = request.claims;
    if (!store.rememberNonce(nonce, request.nonceExpiresAtMs)) {
      throw new EnrollmentError('replayed', 'this request was already received (nonce seen before)');
    }
    try {
      switch (cmd) {
        case 'enroll':
          return await this.enroll(request);
        case 'remove':
          return await this.remove(request);
        case 'list': {
          parseListArgs(request.claims.args);
          // Stored like every answer, so a re-delivered list is answered, not refused as a replay.
          const data = this.listData();
          store.putTransaction(transaction, { status: 'ok', data });
          return { transaction, data };
        }
        case 'unlock':
          return await this.unlock(request);
        case 'update_person':
          return this.updatePerson(request);
        case 'set_schedules':
          return this.setSchedules(request);
        case 'capture_enroll':
          return await this.captureEnroll(request);
      }
    } catch (err) {
      // A verified request that failed is remembered with its answer too, so a retry of the
      // same transaction gets the same reason instead of "replayed".
      const refusal = toEnrollmentError(err, this.log);
      if (refusal.code !== 'internal_error') {
        store.putTransaction(transaction, {
          status: 'error',
          error: {
            code: refusal.code,
            message: refusal.message,
            ...(refusal.hint !== undefined ? { hint: refusal.hint } : {}),
            ...(refusal.details !== undefined ? { details: refusal.details } : {}),
          },
        });
      }
      throw refusal;
    }
  }

  private async enroll(request: VerifiedRequest): Promise<RequestResult> {
    const { config, store, enroller, modelId } = this.deps;
    const { transaction } = request.claims;
    const args = parseEnrollArgs(request.claims.args, config);
    const faces = await enroller.enrollPhotos(args.images);
    this.checkConsistent(
      this.deps.duplicates?.findOutlier?.(faces.map((f) => f.embedding)) ?? null,
      faces.length,
    );
    const duplicate = this.checkDuplicate(
      args.person,
      faces.map((f) => f.embedding),
      args.allowDuplicate,
      { transaction, kid: request.kid },
    );
    const result = store.enroll(
      { id: args.person, name: args.name, modelId, faces, access: args.access },
      {
        replace: true,
        transaction: { id: transaction, response: (r) => ({ status: 'ok', data: enrollData(r) }) },
      },
    );
    // The transaction has committed: from here on the enrollment is durable.
    this.log.info(
      { person: result.personId, faces: result.faces, version: result.version, kid: request.kid },
      'enrolled',
    );
    this.emit(enrolledEvent(result, { transaction, kid: request.kid }, { duplicate }));
    await this.galleryChanged();
    return { transaction, data: enrollData(result) };
  }

  /**
   * Adds templates (faces with embeddings by this door's model) to an enrolled person,
   * keeping their other faces: for walk-up enrollment from the door camera. The same duplicate
   * rule as `enroll` applies (a face of someone else never becomes this person's template);
   * commits in one transaction, then emits `enrolled` (with `added`) and reloads the matcher.
   *
   * @throws EnrollmentError `unknown_person`, `duplicate_face`, `invalid_payload` (bad faces, over the per-person limit).
   */
  async addTemplates(
    personId: string,
    faces: readonly EnrolledFace[],
    origin: { readonly transaction: string; readonly kid: string },
  ): Promise<EnrollOutcome> {
    return this.serially(() => this.addTemplatesNow(personId, faces, origin));
  }

  /** addTemplates inside the request queue (the caller holds it). */
  private async addTemplatesNow(
    personId: string,
    faces: readonly EnrolledFace[],
    origin: { readonly transaction: string; readonly kid: string },
  ): Promise<EnrollOutcome> {
    const { store, modelId } = this.deps;
    if (!store.listPeople().some((p) => p.id === personId)) {
      throw new EnrollmentError('unknown_person', `person ${personId} is not enrolled`);
    }
    const embeddings = faces.map((f) => f.embedding);
    // Someone else's face first (the more useful answer: it names them), then not this person.
    this.checkDuplicate(personId, embeddings, false, origin);
    this.checkConsistent(
      this.deps.duplicates?.findForeign?.(embeddings, personId) ?? null,
      faces.length,
      `person ${personId}'s enrolled faces`,
    );
    let result: EnrollOutcome;
    try {
      result = store.addTemplates(personId, modelId, faces);
    } catch (err) {
      throw toEnrollmentError(err, this.log);
    }
    this.log.info({ person: personId, added: faces.length, faces: result.faces }, 'templates added');
    this.emit(enrolledEvent(result, origin, { added: faces.length }));
    await this.galleryChanged();
    return result;
  }

  /**
   * `capture_enroll`: watches the door camera for `seconds` (WalkupCapture), then enrolls
   * the templates it took: a new person is created (with the request's access fields), an
   * enrolled one gets them added (their name and other faces kept). The same identity
   * rules as `enroll` (inconsistent_faces, duplicate_face). Answers with the person and,
   * per template, a small base64 JPEG of the stored crop.
   */
  private async captureEnroll(request: VerifiedRequest): Promise<RequestResult> {
    const { config, store, modelId, capture } = this.deps;
    const { transaction } = request.claims;
    const args = parseCaptureEnrollArgs(request.claims.args, config);
    if (!capture) {
      throw new EnrollmentError('capture_unavailable', 'this door has no camera loop to capture from');
    }
    const taken = await capture.capture({
      seconds: args.seconds,
      minTemplates: Math.min(config.captureMinTemplates, config.captureMaxTemplates),
      maxTemplates: config.captureMaxTemplates,
      requireLive: this.deps.livenessOn === true,
    });
    const faces = taken.templates.map((t) => t.face);
    const embeddings = faces.map((f) => f.embedding);
    this.checkConsistent(this.deps.duplicates?.findOutlier?.(embeddings) ?? null, faces.length);
    const exists = store.listPeople().some((p) => p.id === args.person);
    let result: EnrollOutcome;
    let duplicate: DuplicateMatch | null = null;
    if (exists) {
      result = await this.addTemplatesNow(args.person, faces, { transaction, kid: request.kid });
    } else {
      duplicate = this.checkDuplicate(args.person, embeddings, args.allowDuplicate, {
        transaction,
        kid: request.kid,
      });
      result = store.enroll({ id: args.person, name: args.name, modelId, faces, access: args.access });
      this.log.info(
        { person: result.personId, faces: result.faces, kid: request.kid },
        'enrolled at the door',
      );
      this.emit(enrolledEvent(result, { transaction, kid: request.kid }, { added: faces.length, duplicate }));
      await this.galleryChanged();
    }
    const data = {
      ...enrollData(result),
      added: faces.length,
      frames: taken.frames,
      usableFrames: taken.usableFrames,
      templates: taken.templates.map((t) => ({
        frame: t.frame,
        atMs: t.atMs,
        alignment: t.face.alignment,
        thumbnail: t.thumbnail,
      })),
    };
    store.putTransaction(transaction, { status: 'ok', data });
    return { transaction, data };
  }

  /**
   * One person, one face: every photo of an enrollment must look like the others (a person
   * is matched by their best template, so one wrong photo would let that face in under their
   * name); an added template must look like the person's enrolled faces.
   */
  private checkConsistent(outlier: OutlierFace | null, count: number, against = 'the other photos'): void {
    if (!outlier) return;
    const similarity = round3(outlier.similarity);
    throw new EnrollmentError(
      'inconsistent_faces',
      count === 2 && against === 'the other photos'
        ? `the two photos do not look like the same person (similarity ${similarity} < ${round3(outlier.threshold)})`
        : `photo ${outlier.index + 1} of ${count} does not look like ${against} (best similarity ${similarity} < ${round3(outlier.threshold)})`,
      {
        hint: 'check that every photo shows the same person, and only them; leave out a photo that is very dark, blurred or turned away',
        details: { photo: outlier.index + 1, similarity, threshold: round3(outlier.threshold) },
      },
    );
  }

  /**
   * The duplicate rule: a face matching ANOTHER enrolled person at or above the accept
   * threshold is refused (`duplicate_face`, naming them), unless the signed request says
   * `allowDuplicate` (identical twins): then it is enrolled, logged as a warning and
   * written to the audit log before the change. Returns the duplicate that was allowed.
   */
  private checkDuplicate(
    personId: string,
    embeddings: readonly Float32Array[],
    allow: boolean,
    context: { transaction?: string; kid?: string },
  ): DuplicateMatch | null {
    const duplicate = this.deps.duplicates?.findDuplicate(embeddings, personId) ?? null;
    if (!duplicate) return null;
    const similarity = Math.round(duplicate.similarity * 1000) / 1000;
    if (!allow) {
      throw new EnrollmentError(
        'duplicate_face',
        `this face is already enrolled as ${duplicate.personId} (${duplicate.name}), similarity ${similarity} >= ${round3(duplicate.threshold)}`,
        {
          hint: `if this is the same person, re-enroll ${duplicate.personId} instead (or remove that id first); if they are really two people (identical twins), send again with --allow-duplicate`,
          details: { duplicateOf: duplicateOf(duplicate) },
        },
      );
    }
    const detail = { personId, duplicateOf: duplicateOf(duplicate), ...context };
    this.log.warn(detail, 'duplicate face enrolled on explicit override (allowDuplicate)');
    // Audited before the change: the record of the override exists even if the enroll then fails.
    this.deps.store.appendAudit('duplicate_allowed', detail);
    return duplicate;
  }

  private async remove(request: VerifiedRequest): Promise<RequestResult> {
    const { store } = this.deps;
    const { transaction } = request.claims;
    const { person } = parseRemoveArgs(request.claims.args);
    const result = store.remove(person, {
      transaction: { id: transaction, response: (r) => ({ status: 'ok', data: removeData(r) }) },
    });
    if (result.removed) {
      this.log.info({ person, version: result.version, kid: request.kid }, 'removed');
      this.emit({ type: 'removed', person, version: result.version, transaction, kid: request.kid });
      await this.galleryChanged();
    }
    return { transaction, data: removeData(result) };
  }

  /** `list`: every person with their stored credential and, per door, whether they may pass now. */
  private listData(): Record<string, unknown> {
    const { store, accessNow, schedulesNow } = this.deps;
    const people = store.listPeople().map((p) => ({
      ...p,
      ...(accessNow ? { accessNow: accessNow(p.id) } : {}),
    }));
    return { version: store.version(), people, ...(schedulesNow ? { schedules: schedulesNow() } : {}) };
  }

  private updatePerson(request: VerifiedRequest): RequestResult {
    const { transaction } = request.claims;
    const { person, patch } = parseUpdatePersonArgs(request.claims.args, parsePersonId);
    const result = this.deps.store.updatePersonAccess(person, patch, {
      transaction: {
        id: transaction,
        response: (r) =>
          r.found
            ? { status: 'ok', data: personData(r) }
            : {
                status: 'error',
                error: { code: 'unknown_person', message: `no person ${person} on this door` },
              },
      },
    });
    // Stored with its answer above; a retry of this transaction gets the same one.
    if (!result.found) throw new EnrollmentError('unknown_person', `no person ${person} on this door`);
    this.log.info({ person, patch, kid: request.kid }, 'person access updated');
    this.emit({ type: 'person_updated', ...personData(result), transaction, kid: request.kid });
    this.accessChanged({ personId: person });
    return { transaction, data: personData(result) };
  }

  private setSchedules(request: VerifiedRequest): RequestResult {
    const { transaction } = request.claims;
    const spec = parseSetSchedulesArgs(request.claims.args);
    const result = this.deps.store.setStoredSchedules(spec, {
      kid: request.kid,
      transaction: {
        id: transaction,
        response: (r) => ({ status: 'ok', data: this.schedulesData(r.changed) }),
      },
    });
    const data = this.schedulesData(result.changed);
    this.log.info({ reset: spec === null, kid: request.kid }, 'door schedules set');
    this.emit({ type: 'schedules_set', reset: spec === null, ...data, transaction, kid: request.kid });
    this.accessChanged({});
    return { transaction, data };
  }

  private schedulesData(changed: boolean): { changed: boolean; schedules?: ScheduleOrigin } {
    return { changed, ...(this.deps.schedulesNow ? { schedules: this.deps.schedulesNow() } : {}) };
  }

  private accessChanged(change: { personId?: string }): void {
    try {
      this.deps.onAccessChanged?.(change);
    } catch (err) {
      this.log.error({ err }, 'onAccessChanged failed');
    }
  }

  private async unlock(request: VerifiedRequest): Promise<RequestResult> {
    const { transaction, iat } = request.claims;
    const { reason } = parseUnlockArgs(request.claims.args);
    // Checked after verification, so the refusal is stored with the transaction like any other.
    if (!this.deps.config.allowUnlock) {
      throw new EnrollmentError(
        'unlock_disabled',
        'remote unlock is disabled on this device (enrollment.allowUnlock)',
      );
    }
    if (!this.deps.unlock) throw new EnrollmentError('unlock_disabled', 'this device has no door to unlock');
    // The lifetime (exp) bounds how long a request is valid; an unlock's moment is much shorter.
    const ageSeconds = this.deps.clock.nowMs() / 1000 - iat;
    const maxAge = this.deps.config.unlockMaxAgeSeconds;
    if (ageSeconds > maxAge) {
      throw new EnrollmentError(
        'stale_unlock',
        `unlock issued ${Math.round(ageSeconds)} s ago (limit ${maxAge} s, enrollment.unlockMaxAgeSeconds): not carried out late`,
      );
    }
    await this.deps.unlock(reason, { reason, transaction, keyId: request.kid });
    const data = { unlocked: true };
    this.deps.store.putTransaction(transaction, { status: 'ok', data });
    return { transaction, data };
  }

  private async galleryChanged(): Promise<void> {
    try {
      await this.deps.onGalleryChanged();
    } catch (err) {
      // The change is committed; a failed reload is logged, the matcher retries on its own schedule.
      this.log.error({ err }, 'matcher reload after a gallery change failed');
    }
  }

  private emit(
    body: EnrolledEvent | RemovedEvent | PersonUpdatedEvent | SchedulesSetEvent | RejectedRequestEvent,
  ): void {
    try {
      this.deps.events.emit(body);
    } catch (err) {
      this.log.error({ err, type: body.type }, 'could not record event');
    }
  }
}

/** The one `enrolled` event of a committed enrollment (photo, walk-up or added templates). */
function enrolledEvent(
  r: EnrollOutcome,
  origin: { readonly transaction: string; readonly kid: string },
  extra: { readonly added?: number; readonly duplicate?: DuplicateMatch | null },
): EnrolledEvent {
  return {
    type: 'enrolled',
    person: r.personId,
    name: r.name,
    faces: r.faces,
    ...(extra.added !== undefined ? { added: extra.added } : {}),
    version: r.version,
    transaction: origin.transaction,
    kid: origin.kid,
    ...(extra.duplicate ? { duplicateOf: duplicateOf(extra.duplicate) } : {}),
  };
}

function duplicateOf(d: DuplicateMatch): NonNullable<EnrolledEvent['duplicateOf']> {
  return {
    person: d.personId,
    name: d.name,
    similarity: round3(d.similarity),
    threshold: round3(d.threshold),
  };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

function enrollData(r: EnrollOutcome): Record<string, unknown> {
  return {
    person: r.personId,
    name: r.name,
    faces: r.faces,
    updated: r.updated,
    version: r.version,
    ...accessData(r.access),
  };
}

/** The answer and event fields of an applied update (`r.access` is set when the person was found). */
function personData(r: UpdateAccessOutcome): Omit<PersonUpdatedEvent, 'type' | 'transaction' | 'kid'> {
  const access = r.access ?? { groups: [], suspended: false, validFromMs: null, validUntilMs: null };
  return { person: r.personId, name: r.name, ...accessData(access) };
}

/** A credential as the protocol shows it: ISO instants, null for no bound. */
function accessData(
  a: PersonAccess,
): Pick<PersonUpdatedEvent, 'groups' | 'suspended' | 'validFrom' | 'validUntil'> {
  return {
    groups: a.groups,
    suspended: a.suspended,
    validFrom: a.validFromMs === null ? null : new Date(a.validFromMs).toISOString(),
    validUntil: a.validUntilMs === null ? null : new Date(a.validUntilMs).toISOString(),
  };
}

function removeData(r: RemoveOutcome): Record<string, unknown> {
  return { person: r.personId, removed: r.removed, version: r.version };
}

/** A stored error answered again: not a new rejection (no second event). */
class DuplicateError extends Error {
  constructor(readonly requestError: RequestError) {
    super(requestError.message);
  }
}

function toEnrollmentError(err: unknown, log: Logger): EnrollmentError {
  if (err instanceof EnrollmentError) return err;
  if (err instanceof GalleryInputError) return new EnrollmentError('invalid_payload', err.message);
  log.error({ err }, 'enrollment request failed unexpectedly');
  const code: EnrollmentErrorCode = 'internal_error';
  return new EnrollmentError(code, 'the request could not be processed; see the device log');
}
