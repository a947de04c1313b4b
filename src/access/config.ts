/**
 * convict schema slices for `access` (decision policy) and `door` (relay and inputs);
 * owned by src/access. Cross-field rules (threshold order, N <= M, driver settings) are in
 * `checkAccessConfig` / `checkDoorConfig`, which the config loader runs after convict.
 */
import {
  checkGpioLines,
  inputSchema,
  relaySchema,
  type InputConfig,
  type RelayConfig,
} from '../gpio/config.js';

// The line configs live in src/gpio/config.ts (src/gpio never imports src/access).
export type { GpioLineConfig, InputConfig, InputType, RelayConfig, RelayType } from '../gpio/config.js';

import { checkLivenessConfig, livenessSchema, type LivenessConfig } from '../liveness/config.js';

/** convict format: a number in [0, 1] (env strings are parsed as numbers from the default's type). */
function fraction(value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error('must be a number between 0 and 1');
  }
}

function positiveNumber(value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error('must be a positive number');
  }
}

function positiveInt(value: unknown): void {
  if (!Number.isInteger(value) || (value as number) <= 0) throw new Error('must be a positive integer');
}

import { accessRulesSchema, checkAccessRulesConfig, type AccessRulesConfig } from './rules-config.js';

/**
 * Defaults: see docs/door.md ("Choosing the thresholds"). The similarity is the Siamese
 * head's sigmoid score; 0.5 is the write-up's match threshold, the accept threshold sits
 * above it so a single lucky frame of a stranger is not enough.
 */
export const accessSchema = {
  thresholdsFrom: {
    doc: 'model: acceptThreshold, unknownThreshold and minMargin come from the evaluation in metrics.json of the model in use (in model.path, or model.pretrainedPath with the faceapi backbone) (thresholds.accept / .unknown / .margin, margin defaulting to (accept - unknown) / 2), so a retrained model brings its own; the values below are used only when that file has none. config: always use the values below.',
    format: ['model', 'config'] as const,
    default: 'model' as 'model' | 'config',
    env: 'FACEGATE_ACCESS_THRESHOLDS_FROM',
  },
  acceptThreshold: {
    doc: 'Lowest similarity (0..1, the Siamese head score) of the best person for a frame to count as a vote for them.',
    format: fraction,
    default: 0.7,
    env: 'FACEGATE_ACCESS_ACCEPT_THRESHOLD',
  },
  unknownThreshold: {
    doc: 'Below this similarity the face is unknown (unknown_face); between it and acceptThreshold the frame is inconclusive (access_denied if it persists). Must be <= acceptThreshold.',
    format: fraction,
    default: 0.5,
    env: 'FACEGATE_ACCESS_UNKNOWN_THRESHOLD',
  },
  minMargin: {
    doc: 'How far (in similarity) the best person must lead the runner-up person for a frame to count.',
    format: fraction,
    default: 0.05,
    env: 'FACEGATE_ACCESS_MIN_MARGIN',
  },
  confirmFrames: {
    doc: 'N: the same person must win N of the last M frames (within windowSeconds) to be let in.',
    format: positiveInt,
    default: 3,
    env: 'FACEGATE_ACCESS_CONFIRM_FRAMES',
  },
  windowFrames: {
    doc: 'M: how many recent face frames are considered (>= confirmFrames).',
    format: positiveInt,
    default: 5,
    env: 'FACEGATE_ACCESS_WINDOW_FRAMES',
  },
  windowSeconds: {
    doc: 'T: frames older than this many seconds no longer count.',
    format: positiveNumber,
    default: 3,
    env: 'FACEGATE_ACCESS_WINDOW_SECONDS',
  },
  cooldownSeconds: {
    doc: 'After letting a person in, ignore them for this many seconds (one grant per visit).',
    format: positiveNumber,
    default: 10,
    env: 'FACEGATE_ACCESS_COOLDOWN_SECONDS',
  },
  noticeCooldownSeconds: {
    doc: 'At most one unknown_face and one access_denied event per this many seconds (a stranger standing at the door is one event, not one per frame).',
    format: positiveNumber,
    default: 10,
    env: 'FACEGATE_ACCESS_NOTICE_COOLDOWN_SECONDS',
  },
  // Who may pass this door when (time zone, access groups, clock fallback): docs/access.md.
  ...accessRulesSchema,
  liveness: livenessSchema,
} as const;

/** The typed `access` slice AccessPolicy takes. */
export interface AccessConfig {
  readonly thresholdsFrom?: 'model' | 'config';
  readonly acceptThreshold: number;
  readonly unknownThreshold: number;
  readonly minMargin: number;
  readonly confirmFrames: number;
  readonly windowFrames: number;
  readonly windowSeconds: number;
  readonly cooldownSeconds: number;
  readonly noticeCooldownSeconds: number;
  /** Presentation-attack detection (src/liveness); absent: off (unit tests of the vote logic). */
  readonly liveness?: LivenessConfig;
}

export const DEFAULT_ACCESS_CONFIG: AccessConfig = {
  thresholdsFrom: accessSchema.thresholdsFrom.default,
  acceptThreshold: accessSchema.acceptThreshold.default,
  unknownThreshold: accessSchema.unknownThreshold.default,
  minMargin: accessSchema.minMargin.default,
  confirmFrames: accessSchema.confirmFrames.default,
  windowFrames: accessSchema.windowFrames.default,
  windowSeconds: accessSchema.windowSeconds.default,
  cooldownSeconds: accessSchema.cooldownSeconds.default,
  noticeCooldownSeconds: accessSchema.noticeCooldownSeconds.default,
  // No `liveness`: the recognition rules alone (tests, simulate-door). A loaded config
  // always has it, on unless the file says otherwise (DEFAULT_LIVENESS_CONFIG).
};

/** Thresholds an evaluation recorded next to the model (metrics.json `thresholds`). */
export interface ModelThresholds {
  readonly accept: number;
  readonly unknown: number;
  readonly margin: number;
}

/**
 * Reads `thresholds` from a model's metrics.json content. Returns null when there are
 * none; throws with a message when they are present but unusable.
 */
export function parseModelThresholds(metrics: unknown): ModelThresholds | null {
  const t = (metrics as { thresholds?: unknown } | null)?.thresholds as Record<string, unknown> | undefined;
  if (t === undefined || t === null) return null;
  const isFraction = (x: unknown): x is number =>
    typeof x === 'number' && Number.isFinite(x) && x > 0 && x < 1;
  if (!isFraction(t.accept) || !isFraction(t.unknown)) {
    throw new Error('thresholds.accept and thresholds.unknown must be numbers between 0 and 1');
  }
  if (t.unknown > t.accept)
    throw new Error(`thresholds.unknown (${t.unknown}) is above thresholds.accept (${t.accept})`);
  if (t.margin !== undefined && !(typeof t.margin === 'number' && t.margin >= 0 && t.margin < 1)) {
    throw new Error('thresholds.margin must be a number in [0, 1)');
  }
  const margin = typeof t.margin === 'number' ? t.margin : (t.accept - t.unknown) / 2;
  return { accept: t.accept, unknown: t.unknown, margin };
}

export function checkAccessConfig(c: AccessConfig & Partial<AccessRulesConfig>): string[] {
  const errors: string[] = checkAccessRulesConfig(c);
  if (c.unknownThreshold > c.acceptThreshold) {
    errors.push(
      `access.unknownThreshold (${c.unknownThreshold}) must not be above access.acceptThreshold (${c.acceptThreshold})`,
    );
  }
  if (c.confirmFrames > c.windowFrames) {
    errors.push(
      `access.confirmFrames (${c.confirmFrames}) must not exceed access.windowFrames (${c.windowFrames})`,
    );
  }
  if (c.windowFrames > 100) errors.push(`access.windowFrames (${c.windowFrames}) must be at most 100`);
  if (c.liveness) errors.push(...checkLivenessConfig(c.liveness));
  return errors;
}

// ------------------------------------------------------------------------------- door

/** Hard bounds of the unlock pulse: long enough for a strike, never a door left open. */
export const MIN_PULSE_MS = 100;
export const MAX_PULSE_MS = 30_000;

function pulseMs(value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < MIN_PULSE_MS || (value as number) > MAX_PULSE_MS) {
    throw new Error(`must be an integer between ${MIN_PULSE_MS} and ${MAX_PULSE_MS} ms`);
  }
}

export const doorSchema = {
  relay: relaySchema,
  pulseMs: {
    doc: `How long the relay holds the door unlocked, in milliseconds (${MIN_PULSE_MS}..${MAX_PULSE_MS}).`,
    format: pulseMs,
    default: 3000,
    env: 'FACEGATE_DOOR_PULSE_MS',
  },
  heldOpenSeconds: {
    doc: 'door_held_open is reported when the door contact stays open this long.',
    format: positiveNumber,
    default: 30,
    env: 'FACEGATE_DOOR_HELD_OPEN_SECONDS',
  },
  openGraceMs: {
    doc: 'The door may still be pushed open this long after the relay relocked without counting as forced.',
    format: 'nat',
    default: 1000,
    env: 'FACEGATE_DOOR_OPEN_GRACE_MS',
  },
  contact: inputSchema('Door contact', 'CONTACT', 'Door contact (reed switch)'),
  exitButton: inputSchema('Request-to-exit button', 'EXIT_BUTTON', 'Request-to-exit button'),
} as const;

/** The typed `door` slice the Door and createRelay/createInput take. */
export interface DoorConfig {
  readonly relay: RelayConfig;
  readonly pulseMs: number;
  readonly heldOpenSeconds: number;
  readonly openGraceMs: number;
  readonly contact: InputConfig;
  readonly exitButton: InputConfig;
}

export function checkDoorConfig(c: DoorConfig): string[] {
  const errors: string[] = [];
  errors.push(...checkGpioLines(c));
  if (c.heldOpenSeconds * 1000 < c.pulseMs) {
    errors.push(
      `door.heldOpenSeconds (${c.heldOpenSeconds}) must be at least the unlock pulse (${c.pulseMs} ms)`,
    );
  }
  return errors;
}
