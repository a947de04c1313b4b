import type { Counter } from 'prom-client';
import { FaceTracker, type TrackerOptions } from '../pipeline/tracker.js';
import type { FaceRegion, GrayImage } from '../vision/image.js';
import type { LivenessConfig } from './config.js';
import { ringRegion } from './edges.js';
import type { EyelidReader, EyeReading } from './eyelids.js';
import { LivenessJudge, type TrackVerdict } from './judge.js';
import { createNativeLineFinder, type LineFinder } from './line-finder.js';
import type { TrackContinuity } from './track-continuity.js';

/**
 * The live loop's liveness stage: face tracks (FaceTracker) + evidence per track
 * (LivenessJudge). Call it once per processed frame with the faces that go on to
 * recognition — also with none, so tracks end and their history is freed — and the frame's
 * pixels (the sheet/screen edge signal searches a ring around each face; without the frame
 * a track cannot be judged live while `edges` is on: it fails closed; the eyelid reader
 * reads the eyes of undecided tracks in it).
 */
export interface LivenessStageDeps {
  /** facegate_liveness_verdicts_total (each track counted once). */
  readonly verdicts?: Pick<Counter<'verdict'>, 'inc'>;
  readonly tracker?: TrackerOptions;
  /**
   * The straight-segment search for the edge signal; default the native OpenCV one when
   * `config.edges` is on (throws when the binding is missing: turn `access.liveness.edges`
   * off to run without it).
   */
  readonly lineFinder?: LineFinder;
  /** Whether a track's face is still the same person (see faceChanged); absent: not checked. */
  readonly continuity?: TrackContinuity;
  /** Counts faces changed within a track (facegate_liveness_face_changes_total). */
  readonly faceChanges?: Pick<Counter, 'inc'>;
  /**
   * Reads the eyelids of undecided tracks' faces (the blink signal, `config.blink`); absent:
   * no blink evidence (a track can still be judged live by its motion).
   */
  readonly eyelids?: EyelidReader;
}

export class LivenessStage {
  private readonly tracker: FaceTracker;
  private readonly judge: LivenessJudge;
  /** Per live track: whether its live/spoof verdict was counted (the metric counts each track once). */
  private readonly decided = new Map<number, boolean>();
  private readonly lines: LineFinder | null;

  private readonly verdicts?: Pick<Counter<'verdict'>, 'inc'>;
  private readonly continuity?: TrackContinuity;
  private readonly faceChanges?: Pick<Counter, 'inc'>;
  private readonly eyelids: EyelidReader | null;

  constructor(config: LivenessConfig, deps: LivenessStageDeps = {}) {
    this.tracker = new FaceTracker(deps.tracker ?? {});
    this.judge = new LivenessJudge(config);
    this.lines = config.edges ? (deps.lineFinder ?? nativeLineFinder()) : null;
    this.verdicts = deps.verdicts;
    this.continuity = deps.continuity;
    this.faceChanges = deps.faceChanges;
    this.eyelids = config.blink ? (deps.eyelids ?? null) : null;
  }

  /** Verdicts for `faces` (same order), judged at frame time `timestampMs` (ms) on `frame`. */
  async observe(
    timestampMs: number,
    faces: readonly FaceRegion[],
    frame?: GrayImage,
  ): Promise<TrackVerdict[]> {
    const update = this.tracker.update(
      timestampMs,
      faces.map((f) => f.box),
    );
    const endedIds = update.ended.map((t) => t.trackId);
    for (const id of endedIds) {
      if (this.decided.get(id) === false) this.verdicts?.inc({ verdict: 'undecided' });
      this.decided.delete(id);
    }
    this.judge.forget(endedIds);
    const eyes = frame ? await this.readEyes(frame, faces, update.trackIds) : [];
    return faces.map((face, i) => {
      const trackId = update.trackIds[i];
      const lines =
        frame && this.lines && !this.judge.isDecided(trackId)
          ? this.lines.find(frame, ringRegion(face.box), Math.max(face.box.width, face.box.height))
          : null;
      const verdict = this.judge.observe(
        trackId,
        timestampMs,
        face.landmarks?.points,
        lines ? { box: face.box, lines } : undefined,
        eyes[i],
      );
      const counted = this.decided.get(trackId) ?? false;
      if (!this.decided.has(trackId)) this.decided.set(trackId, false);
      if (verdict.verdict !== 'undecided' && !counted) {
        this.decided.set(trackId, true);
        this.verdicts?.inc({ verdict: verdict.verdict });
      }
      return verdict;
    });
  }

  /** Eyelid readings of the faces (same order) whose track is undecided and has 68 landmarks. */
  private async readEyes(
    frame: GrayImage,
    faces: readonly FaceRegion[],
    trackIds: readonly number[],
  ): Promise<(EyeReading | null)[]> {
    const reader = this.eyelids;
    if (!reader) return [];
    const wanted = faces.flatMap((face, i) => {
      const points = face.landmarks?.points;
      return points && points.length >= 68 && !this.judge.isDecided(trackIds[i]) ? [{ i, points }] : [];
    });
    if (wanted.length === 0) return [];
    const readings = await reader.read(
      frame,
      wanted.map((w) => w.points),
      wanted.map((w) => this.judge.lastEyeSide(trackIds[w.i])),
    );
    const out: (EyeReading | null)[] = faces.map(() => null);
    wanted.forEach((w, k) => (out[w.i] = readings[k]));
    return out;
  }

  /**
   * Call after a face of track `trackId` was embedded (frame time `atMs`, ms). When the
   * embedding is a different person from the track's previous one (TrackContinuity: a photo
   * raised in front of a live face continues its track), the track's liveness evidence is
   * dropped, to be gathered again from this face only, and true is returned: the caller must
   * not use this frame's verdict (the face before earned it). False without a continuity check.
   */
  faceChanged(trackId: number, atMs: number, embedding: Float32Array): boolean {
    if (!this.continuity?.changed(trackId, atMs, embedding)) return false;
    this.judge.forget([trackId]);
    this.decided.delete(trackId);
    this.faceChanges?.inc();
    return true;
  }
}

/** The native finder, or an error that says what to do (fail closed: no silent fallback). */
function nativeLineFinder(): LineFinder {
  try {
    return createNativeLineFinder();
  } catch (err) {
    throw new Error(
      `access.liveness.edges needs the native OpenCV binding (@u4/opencv4nodejs, built by scripts/setup.sh): ${(err as Error).message}. Build it, or set access.liveness.edges to false (the door then relies on the landmark signals alone; docs/liveness.md)`,
      { cause: err },
    );
  }
}
