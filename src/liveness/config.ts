/**
 * convict slice `access.liveness` (presentation-attack detection), owned by src/liveness.
 * Every threshold is bounded; the defaults and how they were measured: docs/liveness.md.
 */

function bounded(min: number, max: number) {
  return (value: unknown): void => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new Error(`must be a number between ${min} and ${max}`);
    }
  };
}

function boundedInt(min: number, max: number) {
  return (value: unknown): void => {
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      throw new Error(`must be an integer between ${min} and ${max}`);
    }
  };
}

export const LIVENESS_MODES = ['off', 'on'] as const;
export type LivenessMode = (typeof LIVENESS_MODES)[number];

export const livenessSchema = {
  mode: {
    doc: 'Presentation-attack detection. on: a face opens the door only once its track is judged live (landmarks moving in a way no plane explains, brows and lips moving against the eyes and nose, or a blink — and no attack artefact); a sheet or screen moved as a plane, or whose edges move with the face, gives spoof_suspected. off: no check — a photo of an enrolled person opens the door (the log says so at start-up).',
    format: LIVENESS_MODES,
    default: 'on' as LivenessMode,
    env: 'FACEGATE_LIVENESS_MODE',
  },
  maxDecisionSeconds: {
    doc: 'How long (s) a recognised person may take to be judged live; after that the visit is refused with access_denied reason liveness_undecided.',
    format: bounded(0.5, 30),
    default: 4,
    env: 'FACEGATE_LIVENESS_MAX_DECISION_SECONDS',
  },
  minMotion: {
    doc: 'Landmark motion (RMS after removing the mean shift, in units of the outer-eye-corner distance) for a frame to count as moving.',
    format: bounded(0.005, 0.5),
    default: 0.04,
    env: 'FACEGATE_LIVENESS_MIN_MOTION',
  },
  minMovingFrames: {
    doc: 'Moving frames a track needs before the planar-motion signal can call it spoof.',
    format: boundedInt(2, 100),
    default: 3,
    env: 'FACEGATE_LIVENESS_MIN_MOVING_FRAMES',
  },
  minLiveMovingFrames: {
    doc: 'Moving frames a track needs before the planar-motion and face-parts signals can call it live (a live verdict opens the door, so it needs more evidence than a spoof verdict, which only refuses); with edges on, any live verdict (a blink too) also needs the ring around the face searched in at least this many frames (no_edge_search). At least minMovingFrames.',
    format: boundedInt(2, 100),
    default: 5,
    env: 'FACEGATE_LIVENESS_MIN_LIVE_MOVING_FRAMES',
  },
  planarMaxResidual: {
    doc: "spoof when the median residual of one homography fitted to the moving landmarks (/ eye-corner distance) is at most this: the face moved like a flat sheet. Near the landmarker's noise on photos moved rigidly (median 0.010, max 0.015; scripts/liveness-noise-floor.ts): spoof is final for the track; photos above it stay undecided (also refused).",
    format: bounded(0, 0.2),
    default: 0.012,
    env: 'FACEGATE_LIVENESS_PLANAR_MAX_RESIDUAL',
  },
  nonPlanarMinResidual: {
    doc: 'live when that median residual is at least this: head rotation or expression that no plane can make (2.2x the highest residual of photos moved rigidly; sheets bent as far as curling round a quarter of the face width reach 0.030, scripts/liveness-noise-floor.ts). Must be above planarMaxResidual.',
    format: bounded(0, 0.5),
    default: 0.035,
    env: 'FACEGATE_LIVENESS_NON_PLANAR_MIN_RESIDUAL',
  },
  expressionMinResidual: {
    doc: 'live also when the median face-parts residual is at least this: the brows and lips against one homography fitted to the eye corners and nose alone (/ eye-corner distance; speech, a smile, raised brows). A sheet carries its printed brows and lips with its printed eyes and nose: photos moved rigidly reach 0.021, sheets bent as far as curling round a quarter of the face width 0.040 (scripts/liveness-noise-floor.ts); 0.05 keeps above both. Must be above planarMaxResidual.',
    format: bounded(0, 0.5),
    default: 0.05,
    env: 'FACEGATE_LIVENESS_EXPRESSION_MIN_RESIDUAL',
  },
  blink: {
    doc: "Count a blink as live evidence: the eyelid opening of the eye nearer the camera (MediaPipe's iris landmark model, vendored in eyeModel; read only while a track is undecided) dips to blinkClosedRatio of its open level with the eye open (>= 0.8 of that level) within 0.8 s before and after. Needs the eye model: the daemon refuses to start without it (set false to run on motion alone).",
    format: Boolean,
    default: true,
    env: 'FACEGATE_LIVENESS_BLINK',
  },
  blinkClosedRatio: {
    doc: 'A frame is "eyes closed" when its eyelid opening is at most this fraction of the eye\'s open level both as read and divided by the face\'s height (a tipped sheet lowers the first alone, a landmark glitch the second alone; a blink both).',
    format: bounded(0.2, 0.95),
    default: 0.5,
    env: 'FACEGATE_LIVENESS_BLINK_CLOSED_RATIO',
  },
  eyeModel: {
    doc: 'Folder with the vendored eyelid model for the blink signal (iris.json + iris.bin; both sha256-checked, a different file is refused). Relative paths are relative to the working directory.',
    format: String,
    default: 'models/liveness',
    env: 'FACEGATE_LIVENESS_EYE_MODEL',
  },
  edges: {
    doc: 'The sheet/screen edge signal: straight segments (Canny + Hough, native OpenCV) in a ring around the face. Segments that move with the face on >= edgeMinSides sides give spoof (edges_move_with_face); a face framed on >= 3 sides in >= edgeMaxFramedShare of the frames is never judged live (edges_frame_face). Needs the native OpenCV binding.',
    format: Boolean,
    default: true,
    env: 'FACEGATE_LIVENESS_EDGES',
  },
  edgeMinShift: {
    doc: 'A segment votes only when the face moved enough that "moved with the face" and "stayed in the image" predict positions at least this many face sizes apart.',
    format: bounded(0.03, 1),
    default: 0.1,
    env: 'FACEGATE_LIVENESS_EDGE_MIN_SHIFT',
  },
  edgeMinVotes: {
    doc: 'Votes (frames in which a segment moved with the face) a side needs to count as moving with the face; it also needs three times more such votes than "stayed in the image" votes.',
    format: boundedInt(1, 100),
    default: 3,
    env: 'FACEGATE_LIVENESS_EDGE_MIN_VOTES',
  },
  edgeMinSides: {
    doc: 'Sides (left, right, top, bottom) whose segments must move with the face for a spoof verdict.',
    format: boundedInt(1, 4),
    default: 2,
    env: 'FACEGATE_LIVENESS_EDGE_MIN_SIDES',
  },
  edgeMaxFramedShare: {
    doc: 'Share of the searched frames framed on >= 3 sides (by any straight segments, moving or not) from which a track cannot be judged live (edges_frame_face: a screen or a sheet held still). Default 1 = off: rooms frame real faces as often as screens do (liveness-dev: more than half of the frames of 7 of 12 real clips, up to 93 %; 48 % of a phone replay held still; docs/liveness.md).',
    format: bounded(0.05, 1),
    default: 1,
    env: 'FACEGATE_LIVENESS_EDGE_MAX_FRAMED_SHARE',
  },
  historySeconds: {
    doc: 'Landmark history kept per face track (s); older frames are dropped.',
    format: bounded(1, 60),
    default: 10,
    env: 'FACEGATE_LIVENESS_HISTORY_SECONDS',
  },
} as const;

/** The typed `access.liveness` slice. */
export interface LivenessConfig {
  readonly mode: LivenessMode;
  readonly maxDecisionSeconds: number;
  readonly minMotion: number;
  readonly minMovingFrames: number;
  readonly minLiveMovingFrames: number;
  readonly planarMaxResidual: number;
  readonly nonPlanarMinResidual: number;
  readonly expressionMinResidual: number;
  readonly blink: boolean;
  readonly blinkClosedRatio: number;
  readonly eyeModel: string;
  readonly edges: boolean;
  readonly edgeMinShift: number;
  readonly edgeMinVotes: number;
  readonly edgeMinSides: number;
  readonly edgeMaxFramedShare: number;
  readonly historySeconds: number;
}

export const DEFAULT_LIVENESS_CONFIG: LivenessConfig = {
  mode: livenessSchema.mode.default,
  maxDecisionSeconds: livenessSchema.maxDecisionSeconds.default,
  minMotion: livenessSchema.minMotion.default,
  minMovingFrames: livenessSchema.minMovingFrames.default,
  minLiveMovingFrames: livenessSchema.minLiveMovingFrames.default,
  planarMaxResidual: livenessSchema.planarMaxResidual.default,
  nonPlanarMinResidual: livenessSchema.nonPlanarMinResidual.default,
  expressionMinResidual: livenessSchema.expressionMinResidual.default,
  blink: livenessSchema.blink.default,
  blinkClosedRatio: livenessSchema.blinkClosedRatio.default,
  eyeModel: livenessSchema.eyeModel.default,
  edges: livenessSchema.edges.default,
  edgeMinShift: livenessSchema.edgeMinShift.default,
  edgeMinVotes: livenessSchema.edgeMinVotes.default,
  edgeMinSides: livenessSchema.edgeMinSides.default,
  edgeMaxFramedShare: livenessSchema.edgeMaxFramedShare.default,
  historySeconds: livenessSchema.historySeconds.default,
};

/** Cross-key rules of the slice (each message names the keys). */
export function checkLivenessConfig(c: LivenessConfig): string[] {
  const errors: string[] = [];
  if (c.nonPlanarMinResidual <= c.planarMaxResidual) {
    errors.push(
      `access.liveness.nonPlanarMinResidual (${c.nonPlanarMinResidual}) must be above access.liveness.planarMaxResidual (${c.planarMaxResidual})`,
    );
  }
  if (c.expressionMinResidual <= c.planarMaxResidual) {
    errors.push(
      `access.liveness.expressionMinResidual (${c.expressionMinResidual}) must be above access.liveness.planarMaxResidual (${c.planarMaxResidual})`,
    );
  }
  if (c.minLiveMovingFrames < c.minMovingFrames) {
    errors.push(
      `access.liveness.minLiveMovingFrames (${c.minLiveMovingFrames}) must be at least access.liveness.minMovingFrames (${c.minMovingFrames})`,
    );
  }
  return errors;
}

/**
 * `key=value` overrides of the liveness slice (evaluate --liveness --set), each checked by
 * the schema's own format and the cross-key rules; throws one error naming every problem.
 */
export function applyLivenessOverrides(base: LivenessConfig, pairs: readonly string[]): LivenessConfig {
  const out: Record<string, unknown> = { ...base };
  const errors: string[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq) : pair;
    const raw = eq > 0 ? pair.slice(eq + 1) : '';
    if (!Object.hasOwn(livenessSchema, key)) {
      errors.push(`${key}: not a key of access.liveness (${Object.keys(livenessSchema).join(', ')})`);
      continue;
    }
    const spec = livenessSchema[key as keyof typeof livenessSchema];
    let value: unknown;
    if (spec.format === Boolean) {
      if (raw !== 'true' && raw !== 'false') {
        errors.push(`${key}: must be true or false, got '${raw}'`);
        continue;
      }
      value = raw === 'true';
    } else if (spec.format === String) {
      value = raw;
    } else if (Array.isArray(spec.format)) {
      if (!spec.format.includes(raw)) {
        errors.push(`${key}: must be one of ${spec.format.join(', ')}, got '${raw}'`);
        continue;
      }
      value = raw;
    } else {
      value = raw.trim() === '' ? Number.NaN : Number(raw);
      try {
        (spec.format as (v: unknown) => void)(value);
      } catch (err) {
        errors.push(`${key}: ${(err as Error).message}, got '${raw}'`);
        continue;
      }
    }
    out[key] = value;
  }
  const config = out as unknown as LivenessConfig;
  errors.push(...checkLivenessConfig(config));
  if (errors.length > 0) throw new Error(`liveness settings: ${errors.join('; ')}`);
  return Object.freeze(config);
}
