import { promises as fs } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FaceTracker } from '../pipeline/tracker.js';
import type { FaceDetector } from '../vision/detector.js';
import type { Box, GrayImage, Point } from '../vision/image.js';
import type { LivenessConfig } from './config.js';
import { detailRatio } from './detail-ratio.js';
import { EdgeAccumulator, ringRegion, sidesMovingWithFace, type EdgeResult } from './edges.js';
import { judgeSamples, LivenessJudge, type LivenessVerdictKind } from './judge.js';
import type { LineFinder } from './line-finder.js';
import {
  readSample,
  sampleKind,
  type SampleFrame,
  type SampleKind,
  type SampleReadOptions,
} from './sample-reader.js';
import type { EyelidReader } from './eyelids.js';
import {
  detectBlink,
  eyeOpennessSample,
  planarMotion,
  type LandmarkSample,
  type OpennessSample,
} from './signals.js';
import type { TextureNets } from './texture-net.js';

/**
 * `evaluate --liveness <dir>`: every sample under `<dir>/bona-fide` (or `real`, `live`) and
 * `<dir>/attack` (or `spoof`, `fake`) — video files, photos, or folders of frames — goes
 * through the live path's pieces (Haar detector, landmarks, FaceTracker, LivenessJudge)
 * frame by frame, at the camera's rate. Reports ISO/IEC 30107-3 style error rates:
 *
 * - APCER: attack presentations accepted (judged `live`) / attack presentations;
 * - BPCER: bona-fide presentations not judged `live` within maxDecisionSeconds / bona fide;
 * - time from the face's first frame to a `live` verdict, p50 / p95 (bona fide);
 *
 * for the combined rule (what the door does) and per signal. The presentation is the
 * sample's longest face track (most frames with that face): the face held up to the
 * camera. The daemon judges every track on its own, and a real person beside a phone is
 * a real person on their own track (anit-spoofing replay: the man is beside the phone for
 * 1.5 s, his face on the phone is seen for ~5 s); every track's verdict is listed per
 * sample (`track_verdicts`). Single photos are one-frame presentations, which the motion
 * rule can never call live.
 */

/** Landmarks (68, image coordinates) for each box; null where there are none. */
export type LandmarkPort = (image: GrayImage, boxes: readonly Box[]) => Promise<(readonly Point[] | null)[]>;

export interface LivenessEvalDeps {
  readonly detector: FaceDetector;
  readonly landmarks: LandmarkPort;
  /** The vendored passive networks (optional: measured per signal, not part of the rule). */
  readonly textures?: TextureNets;
  /** The straight-segment search of the edge signal (absent: no edge evidence, never live with `edges` on). */
  readonly lines?: LineFinder;
  /** The blink signal's eyelid reader (absent: no blink evidence). */
  readonly eyelids?: EyelidReader;
  readonly config: LivenessConfig;
}

export type PresentationLabel = 'bona_fide' | 'attack';

const LABEL_FOLDERS: Record<string, PresentationLabel> = {
  'bona-fide': 'bona_fide',
  bona_fide: 'bona_fide',
  bonafide: 'bona_fide',
  real: 'bona_fide',
  live: 'bona_fide',
  attack: 'attack',
  attacks: 'attack',
  spoof: 'attack',
  fake: 'attack',
};

export interface SampleEntry {
  readonly file: string;
  readonly label: PresentationLabel;
  readonly kind: SampleKind;
}

/** The samples under `root` (label folders as above); throws when there are none. */
export async function listSamples(root: string): Promise<SampleEntry[]> {
  const out: SampleEntry[] = [];
  for (const dir of (await fs.readdir(root, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const label = dir.isDirectory() ? LABEL_FOLDERS[dir.name.toLowerCase()] : undefined;
    if (!label) continue;
    const base = path.join(root, dir.name);
    for (const name of (await fs.readdir(base)).sort()) {
      const file = path.join(base, name);
      const kind = await sampleKind(file);
      if (kind) out.push({ file, label, kind });
    }
  }
  if (out.length === 0)
    throw new Error(
      `${root}: no samples (expected bona-fide/ and attack/ folders of videos, photos or frame folders)`,
    );
  return out;
}

export interface SignalOutcome {
  readonly verdict: LivenessVerdictKind;
  /** ms from the track's first frame to the first live verdict (null: never live). */
  readonly timeToLiveMs: number | null;
}

export interface SampleResult {
  readonly file: string;
  readonly label: PresentationLabel;
  readonly kind: SampleKind;
  readonly frames: number;
  readonly faceFrames: number;
  readonly tracks: number;
  /** Frames in the presentation's (longest) track. */
  readonly trackFrames: number;
  /** What the door's rule (LivenessJudge) said: first final verdict, or undecided at the end. */
  readonly combined: SignalOutcome & {
    readonly reasons: readonly string[];
    readonly scores: Record<string, number>;
    /** ms from the track's first frame to its final verdict (null: undecided at the end). */
    readonly decidedAtMs: number | null;
  };
  readonly signals: {
    readonly planar: SignalOutcome;
    readonly blink: SignalOutcome;
    /** spoof when segments moved with the face on >= edgeMinSides sides; never live. */
    readonly edges: SignalOutcome;
  };
  /** The presentation track's edge evidence (votes per side, framed frames). */
  readonly edges?: EdgeResult;
  /** Every track with >= 3 frames: frames, first final verdict (or undecided) and its reasons. */
  readonly track_verdicts: readonly {
    frames: number;
    verdict: LivenessVerdictKind;
    reasons: readonly string[];
  }[];
  /**
   * Median over the track's frames: the recapture cue `detail_ratio` (src/liveness/detail-ratio.ts)
   * and, when the networks were given, their scores (1 = real).
   */
  readonly texture?: Record<string, number>;
  /** Mean ms per face frame of the liveness stage itself (tracker + judge), landmarks excluded. */
  readonly livenessMsPerFrame: number;
  readonly landmarkMsPerFrame: number;
}

interface TrackLog {
  readonly firstMs: number;
  samples: LandmarkSample[];
  /** Eyelid openings of the track's frames (the blink signal). */
  eyes: OpennessSample[];
  frames: number;
  combined: {
    verdict: LivenessVerdictKind;
    atMs: number;
    reasons: readonly string[];
    scores: Record<string, number>;
  } | null;
  planarAt: { verdict: LivenessVerdictKind; atMs: number } | null;
  blinkAt: number | null;
  edges: EdgeAccumulator;
  edgesAt: number | null;
  texture: Record<string, number[]>;
}

/** Runs one sample through detector → landmarks → tracker → judge. */
export async function evaluateSample(
  entry: SampleEntry,
  deps: LivenessEvalDeps,
  read: SampleReadOptions = {},
): Promise<SampleResult> {
  const tracker = new FaceTracker({ maxGapMs: 1000 });
  const judge = new LivenessJudge(deps.config);
  const logs = new Map<number, TrackLog>();
  let frames = 0;
  let faceFrames = 0;
  let livenessMs = 0;
  let landmarkMs = 0;
  for await (const frame of readSample(entry.file, read)) {
    frames++;
    const boxes = await deps.detector.detect(frame.gray);
    const t0 = performance.now();
    const points = boxes.length > 0 ? await deps.landmarks(frame.gray, boxes) : [];
    landmarkMs += performance.now() - t0;
    const t1 = performance.now();
    const update = tracker.update(frame.timestampMs, boxes);
    // Every face's eyes are read (the daemon reads only undecided tracks'), so the blink
    // signal can be timed on its own; the cost is counted in the liveness stage's.
    const eyes =
      deps.eyelids && deps.config.blink && boxes.length > 0
        ? await deps.eyelids.read(
            frame.gray,
            points.map((p) => p ?? []),
            update.trackIds.map((id) => logs.get(id)?.eyes.at(-1)?.side),
          )
        : [];
    const lines = boxes.map((box, i) =>
      deps.lines && !judge.isDecided(update.trackIds[i])
        ? deps.lines.find(frame.gray, ringRegion(box), Math.max(box.width, box.height))
        : null,
    );
    const verdicts = boxes.map((box, i) =>
      judge.observe(
        update.trackIds[i],
        frame.timestampMs,
        points[i] ?? undefined,
        lines[i] ? { box, lines: lines[i] } : undefined,
        eyes[i],
      ),
    );
    livenessMs += performance.now() - t1;
    if (boxes.length > 0) faceFrames++;
    boxes.forEach((box, i) => {
      const id = update.trackIds[i];
      let log = logs.get(id);
      if (!log) {
        log = {
          firstMs: frame.timestampMs,
          samples: [],
          eyes: [],
          frames: 0,
          combined: null,
          planarAt: null,
          blinkAt: null,
          edges: new EdgeAccumulator({ minShift: deps.config.edgeMinShift, windowMs: 2000 }),
          edgesAt: null,
          texture: {},
        };
        logs.set(id, log);
      }
      log.frames++;
      const v = verdicts[i];
      if (!log.combined && v.verdict !== 'undecided')
        log.combined = {
          verdict: v.verdict,
          atMs: frame.timestampMs,
          reasons: v.reasons,
          scores: { ...v.scores },
        };
      const found = lines[i];
      if (found) {
        log.edges.add(frame.timestampMs, box, found);
        if (
          log.edgesAt === null &&
          sidesMovingWithFace(log.edges.result(), deps.config.edgeMinVotes).length >= deps.config.edgeMinSides
        )
          log.edgesAt = frame.timestampMs;
      }
      const pts = points[i];
      if (pts) {
        log.samples.push({ timestampMs: frame.timestampMs, points: pts });
        const eye = eyes[i];
        if (eye) log.eyes.push(eyeOpennessSample(frame.timestampMs, pts, eye));
        signalsAt(log, frame.timestampMs, deps.config);
      }
      if (deps.textures) textureScores(log, deps.textures, frame, box);
      const detail = detailRatio(frame.gray, box);
      if (Number.isFinite(detail)) (log.texture.detail_ratio ??= []).push(detail);
    });
  }
  const byLength = [...logs.values()].sort((a, b) => b.frames - a.frames);
  const presentation = byLength[0];
  const track_verdicts = byLength
    .filter((l) => l.frames >= 3)
    .map((l) => ({
      frames: l.frames,
      verdict: l.combined?.verdict ?? ('undecided' as const),
      reasons: l.combined?.reasons ?? finalJudgement(l, deps.config).reasons,
    }));
  const faceCount = Math.max(1, faceFrames);
  const base = {
    file: entry.file,
    label: entry.label,
    kind: entry.kind,
    frames,
    faceFrames,
    tracks: logs.size,
    track_verdicts,
    livenessMsPerFrame: round(livenessMs / faceCount),
    landmarkMsPerFrame: round(landmarkMs / faceCount),
  };
  if (!presentation) {
    const none = { verdict: 'undecided' as const, timeToLiveMs: null };
    return {
      ...base,
      trackFrames: 0,
      combined: { ...none, reasons: ['no_face'], scores: {}, decidedAtMs: null },
      signals: { planar: none, blink: none, edges: none },
    };
  }
  const last = finalJudgement(presentation, deps.config);
  const combined = presentation.combined ?? {
    verdict: 'undecided' as const,
    atMs: NaN,
    reasons: last.reasons,
    scores: { ...last.scores },
  };
  const ttl = (at: number | null | undefined, live: boolean) =>
    live && at !== null && at !== undefined ? at - presentation.firstMs : null;
  const texture = Object.fromEntries(
    Object.entries(presentation.texture).map(([k, v]) => [k, round(median(v))]),
  );
  return {
    ...base,
    trackFrames: presentation.frames,
    combined: {
      verdict: combined.verdict,
      timeToLiveMs: ttl(combined.atMs, combined.verdict === 'live'),
      reasons: combined.reasons,
      scores: combined.scores,
      decidedAtMs: Number.isFinite(combined.atMs) ? combined.atMs - presentation.firstMs : null,
    },
    edges: presentation.edges.result(),
    signals: {
      planar: {
        verdict: presentation.planarAt?.verdict ?? 'undecided',
        timeToLiveMs: ttl(presentation.planarAt?.atMs, presentation.planarAt?.verdict === 'live'),
      },
      blink: {
        verdict: presentation.blinkAt !== null ? 'live' : 'undecided',
        timeToLiveMs: ttl(presentation.blinkAt, presentation.blinkAt !== null),
      },
      edges: { verdict: presentation.edgesAt !== null ? 'spoof' : 'undecided', timeToLiveMs: null },
    },
    texture,
  };
}

/** The judge's view of a track at the end of the sample (for the reasons of an undecided one). */
function finalJudgement(log: TrackLog, config: LivenessConfig) {
  return judgeSamples(log.samples, config, log.samples.length > 0, undefined, log.edges.result(), log.eyes);
}

/** Each signal alone, at its first verdict (the judge combines them; here they are apart). */
function signalsAt(log: TrackLog, nowMs: number, config: LivenessConfig): void {
  if (!log.planarAt) {
    const p = planarMotion(log.samples, config);
    if (p.movingFrames >= config.minMovingFrames && p.residual <= config.planarMaxResidual)
      log.planarAt = { verdict: 'spoof', atMs: nowMs };
    else if (
      p.movingFrames >= config.minLiveMovingFrames &&
      (p.residual >= config.nonPlanarMinResidual || p.expression >= config.expressionMinResidual)
    )
      log.planarAt = { verdict: 'live', atMs: nowMs };
  }
  if (log.blinkAt === null) {
    if (detectBlink(log.eyes, { closedRatio: config.blinkClosedRatio }).blinked) log.blinkAt = nowMs;
  }
}

function textureScores(log: TrackLog, nets: TextureNets, frame: SampleFrame, box: Box): void {
  const gray = nets.scoreGray(frame.gray, box);
  const colour = nets.scoreRgb(frame.rgb, box);
  const add = (k: string, v: number) => (log.texture[k] ??= []).push(v);
  add('antispoof_gray', gray.antispoof);
  add('antispoof_colour', colour.antispoof);
  add('liveness_gray', gray.liveness);
  add('liveness_colour', colour.liveness);
}

export interface RateReport {
  /** Attack presentations judged live / attacks (null without attacks). */
  readonly apcer: number | null;
  /** Bona-fide presentations not judged live within maxDecisionSeconds / bona fide (null without any). */
  readonly bpcer: number | null;
  /** Bona fide judged live within 2 s of the face appearing / bona fide. */
  readonly live_within_2s: number | null;
  readonly time_to_live_ms: { readonly p50: number | null; readonly p95: number | null };
  readonly attacks: number;
  readonly bona_fide: number;
}

/** Error rates of one signal's outcomes (`pick`) over the samples. */
export function rates(
  results: readonly SampleResult[],
  pick: (r: SampleResult) => SignalOutcome,
  maxDecisionMs: number,
): RateReport {
  const attacks = results.filter((r) => r.label === 'attack');
  const bona = results.filter((r) => r.label === 'bona_fide');
  const accepted = attacks.filter((r) => pick(r).verdict === 'live').length;
  const ttl = bona.map((r) => pick(r).timeToLiveMs).filter((t): t is number => t !== null);
  const inTime = ttl.filter((t) => t <= maxDecisionMs).length;
  return {
    apcer: attacks.length ? round(accepted / attacks.length) : null,
    bpcer: bona.length ? round(1 - inTime / bona.length) : null,
    live_within_2s: bona.length ? round(ttl.filter((t) => t <= 2000).length / bona.length) : null,
    time_to_live_ms: { p50: percentile(ttl, 0.5), p95: percentile(ttl, 0.95) },
    attacks: attacks.length,
    bona_fide: bona.length,
  };
}

/** Texture network at threshold 0.5 on its median score (1 = real): accepted when >= 0.5. */
function textureRates(results: readonly SampleResult[], key: string) {
  const attacks = results.filter((r) => r.label === 'attack' && r.texture?.[key] !== undefined);
  const bona = results.filter((r) => r.label === 'bona_fide' && r.texture?.[key] !== undefined);
  if (attacks.length + bona.length === 0) return null;
  return {
    threshold: 0.5,
    apcer: attacks.length
      ? round(attacks.filter((r) => r.texture![key] >= 0.5).length / attacks.length)
      : null,
    bpcer: bona.length ? round(bona.filter((r) => r.texture![key] < 0.5).length / bona.length) : null,
    median_bona_fide: round(median(bona.map((r) => r.texture![key]))),
    median_attack: round(median(attacks.map((r) => r.texture![key]))),
  };
}

export interface LivenessReport {
  readonly samples: number;
  readonly config: LivenessConfig;
  readonly combined: RateReport;
  /** The same rates over multi-frame samples only (videos, frame folders): photos cannot move. */
  readonly combined_clips: RateReport;
  readonly per_signal: Record<string, unknown>;
  readonly liveness_ms_per_frame: { readonly mean: number; readonly max: number };
  readonly landmark_ms_per_frame: { readonly mean: number };
  readonly results: readonly SampleResult[];
}

export function summarise(results: readonly SampleResult[], config: LivenessConfig): LivenessReport {
  const maxMs = config.maxDecisionSeconds * 1000;
  const clips = results.filter((r) => r.kind !== 'photo');
  const per: Record<string, unknown> = {
    planar_motion: rates(results, (r) => r.signals.planar, maxMs),
    blink: rates(results, (r) => r.signals.blink, maxMs),
    edges_move_with_face: {
      attacks_spoof: results.filter((r) => r.label === 'attack' && r.signals.edges.verdict === 'spoof')
        .length,
      bona_fide_spoof: results.filter((r) => r.label === 'bona_fide' && r.signals.edges.verdict === 'spoof')
        .length,
    },
  };
  for (const key of ['antispoof_gray', 'antispoof_colour', 'liveness_gray', 'liveness_colour']) {
    const t = textureRates(results, key);
    if (t) per[key] = t;
  }
  // The recapture cue has no agreed threshold: its spread per class (measured, not used).
  const detail = (label: PresentationLabel) =>
    results
      .filter((r) => r.label === label && r.texture?.detail_ratio !== undefined)
      .map((r) => r.texture!.detail_ratio)
      .sort((a, b) => a - b);
  per.detail_ratio = { bona_fide: detail('bona_fide'), attack: detail('attack') };
  const ms = results.map((r) => r.livenessMsPerFrame);
  return {
    samples: results.length,
    config,
    combined: rates(results, (r) => r.combined, maxMs),
    combined_clips: rates(clips, (r) => r.combined, maxMs),
    per_signal: per,
    liveness_ms_per_frame: { mean: round(mean(ms)), max: round(Math.max(0, ...ms)) },
    landmark_ms_per_frame: { mean: round(mean(results.map((r) => r.landmarkMsPerFrame))) },
    results,
  };
}

function percentile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
}

function median(xs: readonly number[]): number {
  return percentile(xs, 0.5) ?? Number.NaN;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
