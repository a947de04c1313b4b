import type { Counter } from 'prom-client';
import { FaceTracker, type TrackerOptions } from '../pipeline/tracker.js';
import type { FaceRegion, GrayImage } from '../vision/image.js';
import type { LivenessConfig } from './config.js';
import { ringRegion } from './edges.js';
import { LivenessJudge, type TrackVerdict } from './judge.js';
import { createNativeLineFinder, type LineFinder } from './line-finder.js';
import type { TrackContinuity } from './track-continuity.js';

/**
 * The live loop's liveness stage: face tracks (FaceTracker) + evidence per track
 * (LivenessJudge). Call it once per processed frame with the faces that go on to
 * recognition — also with none, so tracks end and their history is freed — and the frame's
 * pixels (the sheet/screen edge signal searches a ring around each face; without the frame
 * a track cannot be judged live while `edges` is on: it fails closed).
 */
export class LivenessStage {
  private readonly tracker: FaceTracker;
  private readonly judge: LivenessJudge;
  /** Per live track: whether its live/spoof verdict was counted (the metric counts each track once). */
  private readonly decided = new Map<number, boolean>();
  private readonly lines: LineFinder | null;

  /**
   * `lineFinder`: the straight-segment search for the edge signal; default the native
   * OpenCV one when `config.edges` is on (throws when the binding is missing: turn
   * `access.liveness.edges` off to run without it).
   */
  constructor(
    config: LivenessConfig,
    private readonly verdicts?: Pick<Counter<'verdict'>, 'inc'>,
    trackerOptions: TrackerOptions = {},
    lineFinder?: LineFinder,
    /** Whether a track's face is still the same person (see faceChanged); absent: not checked. */
    private readonly continuity?: TrackContinuity,
    /** Counts faces changed within a track (facegate_liveness_face_changes_total). */
    private readonly faceChanges?: Pick<Counter, 'inc'>,
  ) {
    this.tracker = new FaceTracker(trackerOptions);
    this.judge = new LivenessJudge(config);
    this.lines = config.edges ? (lineFinder ?? nativeLineFinder()) : null;
  }

  /** Verdicts for `faces` (same order), judged at frame time `timestampMs` (ms) on `frame`. */
  observe(timestampMs: number, faces: readonly FaceRegion[], frame?: GrayImage): TrackVerdict[] {
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
