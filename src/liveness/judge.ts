import type { Box, Point } from '../vision/image.js';
import type { LivenessConfig } from './config.js';
import { EdgeAccumulator, sidesMovingWithFace, type EdgeResult } from './edges.js';
import type { EdgeLine } from './line-finder.js';
import type { EyeReading } from './eyelids.js';
import {
  detectBlink,
  eyeOpennessSample,
  PlanarAccumulator,
  planarMotion,
  type LandmarkSample,
  type OpennessSample,
  type PlanarResult,
} from './signals.js';

/**
 * Liveness per face track: gathers the landmarks of every frame of a track and judges it.
 *
 * - `spoof` (reason `planar_motion`): the face moved (>= minMovingFrames frames with
 *   landmark motion >= minMotion) and one homography per frame explains that motion up to
 *   planarMaxResidual: a printed photo or a phone moved in the hand.
 * - `live` (reasons `non_planar_motion`, `expression_motion`, `blink`): over >=
 *   minLiveMovingFrames moving frames the residual of that fit is >= nonPlanarMinResidual
 *   (a head turns, a face talks), or the brows and lips moved against the eye corners and
 *   nose by >= expressionMinResidual (expressionResidual), or, with `blink` on, an eye closed and opened again (detectBlink on the eyelid
 *   readings the stage hands in: the lids move against the face, which a print's cannot).
 * - `spoof` (reason `edges_move_with_face`, when `edges` is on): straight segments beside
 *   the face moved with it on >= edgeMinSides sides (a sheet's or a screen's edges).
 * - `undecided` otherwise (reasons: `no_landmarks`, `too_few_frames`, `no_motion`,
 *   `ambiguous_motion`, and `edges_frame_face` / `no_edge_search` when the edges block a
 *   live verdict). The policy waits `maxDecisionSeconds` for a live verdict.
 *
 * The combination (issue #13): spoof on any strong attack artefact; live only with positive
 * evidence (non-planar motion, face parts moving, a blink) AND no artefact; undecided otherwise.
 *
 * Verdicts `live` and `spoof` are final for the track (a spoof verdict is never lifted by
 * later frames; a live person is not re-examined every frame). Pure: time is the frame's.
 */

export type LivenessVerdictKind = 'live' | 'spoof' | 'undecided';

/** The agreed verdict shape (brief: shared vocabulary). */
export interface LivenessVerdict {
  readonly verdict: LivenessVerdictKind;
  readonly reasons: readonly string[];
  readonly scores: Readonly<Record<string, number>>;
}

/** A verdict for one face of a frame, with the track it belongs to. */
export interface TrackVerdict extends LivenessVerdict {
  readonly trackId: number;
  /** Frame time the track was first seen (ms): the start of the wait for a live verdict. */
  readonly sinceMs: number;
}

interface TrackHistory {
  readonly firstSeenMs: number;
  /** Recent landmarks (historySeconds). */
  samples: LandmarkSample[];
  /** Recent eyelid openings (historySeconds): the blink signal. */
  eyes: OpennessSample[];
  /** Planar-motion fits against the track's reference landmarks (medoid of its first 4 frames), one per frame. */
  planar: PlanarAccumulator | null;
  /** The sheet/screen edge evidence (frames with a line search). */
  edges: EdgeAccumulator | null;
  final: LivenessVerdict | null;
}

/** Most frames kept per track (the planar fit is O(frames)). */
const MAX_SAMPLES = 120;

export class LivenessJudge {
  private readonly tracks = new Map<number, TrackHistory>();

  constructor(private readonly config: LivenessConfig) {}

  /**
   * One face of a frame: its track, the frame time (ms), its 68 landmarks (absent when
   * none were found: the frame adds no evidence) and, when the frame's pixels were searched,
   * its box and the straight segments found in the ring around it (LineFinder). Returns the
   * track's verdict so far.
   */
  observe(
    trackId: number,
    timestampMs: number,
    points: readonly Point[] | undefined,
    edges?: { readonly box: Box; readonly lines: readonly EdgeLine[] },
    /** The eyelid reading of this face (EyelidReader), when the blink signal is on. */
    eye?: EyeReading | null,
  ): TrackVerdict {
    let track = this.tracks.get(trackId);
    if (!track) {
      track = { firstSeenMs: timestampMs, samples: [], eyes: [], planar: null, edges: null, final: null };
      this.tracks.set(trackId, track);
    }
    const sinceMs = track.firstSeenMs;
    if (track.final) return { ...track.final, trackId, sinceMs };
    if (edges && this.config.edges) {
      track.edges ??= new EdgeAccumulator({
        minShift: this.config.edgeMinShift,
        windowMs: 2000,
      });
      track.edges.add(timestampMs, edges.box, edges.lines);
    }
    if (points && points.length >= 68) {
      if (track.planar) track.planar.add(points);
      else track.planar = new PlanarAccumulator(points, this.config);
      track.samples.push({ timestampMs, points });
      const oldest = timestampMs - this.config.historySeconds * 1000;
      while (
        track.samples.length > MAX_SAMPLES ||
        (track.samples.length > 0 && track.samples[0].timestampMs < oldest)
      )
        track.samples.shift();
      if (eye) {
        track.eyes.push(eyeOpennessSample(timestampMs, points, eye));
        while (
          track.eyes.length > MAX_SAMPLES ||
          (track.eyes.length > 0 && track.eyes[0].timestampMs < oldest)
        )
          track.eyes.shift();
      }
    }
    const verdict = judgeSamples(
      track.samples,
      this.config,
      points !== undefined && points.length >= 68,
      track.planar?.result(),
      track.edges?.result(),
      track.eyes,
    );
    if (verdict.verdict !== 'undecided') track.final = verdict;
    return { ...verdict, trackId, sinceMs };
  }

  /** The eye the track's last eyelid reading was of (the reader keeps to it: see widerEye). */
  lastEyeSide(trackId: number): 'left' | 'right' | undefined {
    return this.tracks.get(trackId)?.eyes.at(-1)?.side;
  }

  /** Whether the track already has its final (live or spoof) verdict: no more evidence needed. */
  isDecided(trackId: number): boolean {
    return this.tracks.get(trackId)?.final != null;
  }

  /** Forget tracks that ended (FaceTracker's `ended`). */
  forget(trackIds: Iterable<number>): void {
    for (const id of trackIds) this.tracks.delete(id);
  }

  get trackCount(): number {
    return this.tracks.size;
  }
}

/** The verdict for one track's landmark history (exported for the evaluation and tests). */
export function judgeSamples(
  samples: readonly LandmarkSample[],
  config: LivenessConfig,
  hasLandmarks = samples.length > 0,
  /** The planar-motion result when computed incrementally (else from `samples`). */
  planarResult?: PlanarResult,
  /** The edge evidence (absent: no frame of the track was searched). */
  edgeResult?: EdgeResult,
  /** The track's eyelid openings (empty: no eyelid reader, no blink evidence). */
  eyes: readonly OpennessSample[] = [],
): LivenessVerdict {
  const edge = config.edges ? edgeVerdict(edgeResult, config) : null;
  if (edge?.spoof) return { verdict: 'spoof', reasons: ['edges_move_with_face'], scores: edge.scores };
  if (samples.length === 0) {
    return {
      verdict: 'undecided',
      reasons: [hasLandmarks ? 'too_few_frames' : 'no_landmarks'],
      scores: edge?.scores ?? {},
    };
  }
  const planar =
    planarResult ??
    planarMotion(samples, {
      minMotion: config.minMotion,
      minMovingFrames: config.minMovingFrames,
    });
  const blink = detectBlink(eyes, { closedRatio: config.blinkClosedRatio });
  const scores: Record<string, number> = {
    frames: samples.length,
    moving_frames: planar.movingFrames,
    planar_residual: round(planar.residual),
    motion: round(planar.motion),
    expression_residual: round(planar.expression),
    eye_frames: eyes.length,
    eye_min_ratio: round(blink.minRatio),
    blink: blink.blinked ? 1 : 0,
    ...edge?.scores,
  };
  if (!Number.isFinite(scores.planar_residual)) delete scores.planar_residual;
  if (!Number.isFinite(scores.motion)) delete scores.motion;
  if (!Number.isFinite(scores.expression_residual)) delete scores.expression_residual;
  const enoughMotion = planar.movingFrames >= config.minMovingFrames;
  if (enoughMotion && planar.residual <= config.planarMaxResidual) {
    return { verdict: 'spoof', reasons: ['planar_motion'], scores };
  }
  const reasons: string[] = [];
  if (planar.movingFrames >= config.minLiveMovingFrames && planar.residual >= config.nonPlanarMinResidual)
    reasons.push('non_planar_motion');
  if (planar.movingFrames >= config.minLiveMovingFrames && planar.expression >= config.expressionMinResidual)
    reasons.push('expression_motion');
  if (config.blink && blink.blinked) reasons.push('blink');
  if (reasons.length > 0 && edge?.blocksLive)
    return { verdict: 'undecided', reasons: [edge.blocksLive], scores };
  if (reasons.length > 0) return { verdict: 'live', reasons, scores };
  if (samples.length < 3) return { verdict: 'undecided', reasons: ['too_few_frames'], scores };
  return { verdict: 'undecided', reasons: [enoughMotion ? 'ambiguous_motion' : 'no_motion'], scores };
}

/**
 * The edge signal's part of the verdict: `spoof` when segments moved with the face on
 * >= edgeMinSides sides; `blocksLive` when the face is framed on >= 3 sides in at least
 * edgeMaxFramedShare of the searched frames (a screen or a sheet held still: weak
 * evidence, it only withholds `live`), or when too few frames were searched to know.
 */
function edgeVerdict(
  r: EdgeResult | undefined,
  config: LivenessConfig,
): { spoof: boolean; blocksLive: string | null; scores: Record<string, number> } {
  if (!r || r.frames === 0) return { spoof: false, blocksLive: 'no_edge_search', scores: {} };
  const moving = sidesMovingWithFace(r, config.edgeMinVotes);
  const framedShare = r.framed3 / r.frames;
  const scores = {
    edge_frames: r.frames,
    edge_framed3_share: round(framedShare),
    edge_sides_moving: moving.length,
    edge_rigid_votes: r.rigid.left + r.rigid.right + r.rigid.top + r.rigid.bottom,
    edge_static_votes: r.static.left + r.static.right + r.static.top + r.static.bottom,
  };
  const blocksLive =
    r.frames < config.minLiveMovingFrames
      ? 'no_edge_search'
      : config.edgeMaxFramedShare < 1 && framedShare >= config.edgeMaxFramedShare
        ? 'edges_frame_face'
        : null;
  return { spoof: moving.length >= config.edgeMinSides, blocksLive, scores };
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
