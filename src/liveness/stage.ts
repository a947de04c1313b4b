import type { Counter } from 'prom-client';
import { FaceTracker, type TrackerOptions } from '../pipeline/tracker.js';
import type { FaceRegion } from '../vision/image.js';
import type { LivenessConfig } from './config.js';
import { LivenessJudge, type TrackVerdict } from './judge.js';

/**
 * The live loop's liveness stage: face tracks (FaceTracker) + evidence per track
 * (LivenessJudge). Call it once per processed frame with the faces that go on to
 * recognition — also with none, so tracks end and their history is freed.
 */
export class LivenessStage {
  private readonly tracker: FaceTracker;
  private readonly judge: LivenessJudge;
  /** Per live track: whether its live/spoof verdict was counted (the metric counts each track once). */
  private readonly decided = new Map<number, boolean>();

  constructor(
    config: LivenessConfig,
    private readonly verdicts?: Pick<Counter<'verdict'>, 'inc'>,
    trackerOptions: TrackerOptions = {},
  ) {
    this.tracker = new FaceTracker(trackerOptions);
    this.judge = new LivenessJudge(config);
  }

  /** Verdicts for `faces` (same order), judged at frame time `timestampMs` (ms). */
  observe(timestampMs: number, faces: readonly FaceRegion[]): TrackVerdict[] {
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
      const verdict = this.judge.observe(trackId, timestampMs, face.landmarks?.points);
      const counted = this.decided.get(trackId) ?? false;
      if (!this.decided.has(trackId)) this.decided.set(trackId, false);
      if (verdict.verdict !== 'undecided' && !counted) {
        this.decided.set(trackId, true);
        this.verdicts?.inc({ verdict: verdict.verdict });
      }
      return verdict;
    });
  }
}
