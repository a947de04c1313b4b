/**
 * convict schema slices for `access` (decision policy) and `door` (relay and inputs);
 * owned by src/access. Cross-field rules (threshold order, N <= M, driver settings) are in
 * `checkAccessConfig` / `checkDoorConfig`, which the config loader runs after convict.
 */

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
  return errors;
}

// ------------------------------------------------------------------------------- door

/** Hard bounds of the unlock pulse: long enough for a strike, never a door left open. */
export const MIN_PULSE_MS = 100;
export const MAX_PULSE_MS = 30_000;

const INPUT_TYPES = ['none', 'simulated', 'onoff', 'gpiod'] as const;

function gpioLine(value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 1023) {
    throw new Error('must be a GPIO line offset 0..1023');
  }
}

function pulseMs(value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < MIN_PULSE_MS || (value as number) > MAX_PULSE_MS) {
    throw new Error(`must be an integer between ${MIN_PULSE_MS} and ${MAX_PULSE_MS} ms`);
  }
}

function inputSchema(name: string, envName: string, doc: string) {
  return {
    type: {
      doc: `${doc} driver: none, simulated (never changes by itself), onoff (sysfs), gpiod (gpiomon).`,
      format: INPUT_TYPES,
      default: 'none' as (typeof INPUT_TYPES)[number],
      env: `FACEGATE_DOOR_${envName}_TYPE`,
    },
    chip: {
      doc: `${name}: gpiochip label (e.g. pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 on a Pi 4), name (gpiochip0) or "auto" (the Raspberry Pi header chip).`,
      format: String,
      default: 'auto',
      env: `FACEGATE_DOOR_${envName}_CHIP`,
    },
    line: {
      doc: `${name}: line offset within the chip (the BCM GPIO number on a Raspberry Pi).`,
      format: gpioLine,
      default: 0,
      env: `FACEGATE_DOOR_${envName}_LINE`,
    },
    activeLow: {
      doc: `${name}: the input is active (door open / button pressed) when the line reads 0.`,
      format: Boolean,
      default: false,
      env: `FACEGATE_DOOR_${envName}_ACTIVE_LOW`,
    },
  };
}

export const doorSchema = {
  relay: {
    type: {
      doc: 'Relay driver: simulated, onoff (sysfs GPIO), gpiod (libgpiod gpioset), mqtt (Shelly/Tasmota-style relay).',
      format: ['simulated', 'onoff', 'gpiod', 'mqtt'] as const,
      default: 'simulated' as 'simulated' | 'onoff' | 'gpiod' | 'mqtt',
      env: 'FACEGATE_RELAY_TYPE',
    },
    chip: {
      doc: 'onoff/gpiod: gpiochip label (pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 on a Pi 4), name (gpiochip0) or "auto" (the Raspberry Pi header chip).',
      format: String,
      default: 'auto',
      env: 'FACEGATE_RELAY_CHIP',
    },
    line: {
      doc: 'onoff/gpiod: line offset within the chip (the BCM GPIO number on a Raspberry Pi).',
      format: gpioLine,
      default: 17,
      env: 'FACEGATE_RELAY_LINE',
    },
    activeLow: {
      doc: 'onoff/gpiod: the relay is energised (door unlocked) by driving the line low (most opto-isolated relay boards).',
      format: Boolean,
      default: false,
      env: 'FACEGATE_RELAY_ACTIVE_LOW',
    },
    commandTopic: {
      doc: 'mqtt: topic that switches the relay (Shelly Gen1: shellies/<id>/relay/0/command; Tasmota: cmnd/<topic>/POWER).',
      format: String,
      default: '',
      env: 'FACEGATE_RELAY_COMMAND_TOPIC',
    },
    payloadUnlock: {
      doc: 'mqtt: payload that energises the relay (Shelly: on, Tasmota: ON).',
      format: String,
      default: 'on',
      env: 'FACEGATE_RELAY_PAYLOAD_UNLOCK',
    },
    payloadLock: {
      doc: 'mqtt: payload that releases the relay (Shelly: off, Tasmota: OFF).',
      format: String,
      default: 'off',
      env: 'FACEGATE_RELAY_PAYLOAD_LOCK',
    },
  },
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

export type RelayType = 'simulated' | 'onoff' | 'gpiod' | 'mqtt';
export type InputType = (typeof INPUT_TYPES)[number];

export interface GpioLineConfig {
  readonly chip: string;
  readonly line: number;
  readonly activeLow: boolean;
}

export interface RelayConfig extends GpioLineConfig {
  readonly type: RelayType;
  readonly commandTopic: string;
  readonly payloadUnlock: string;
  readonly payloadLock: string;
}

export interface InputConfig extends GpioLineConfig {
  readonly type: InputType;
}

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
  if (c.relay.type === 'mqtt' && c.relay.commandTopic.trim() === '') {
    errors.push('door.relay.commandTopic is required when door.relay.type is mqtt');
  }
  if (c.relay.type === 'mqtt' && /[#+]/.test(c.relay.commandTopic)) {
    errors.push('door.relay.commandTopic must not contain MQTT wildcards');
  }
  if (c.relay.type === 'mqtt' && c.relay.payloadLock === c.relay.payloadUnlock) {
    errors.push('door.relay.payloadLock and door.relay.payloadUnlock must differ');
  }
  const gpio = (t: string) => t === 'onoff' || t === 'gpiod';
  const used: { what: string; cfg: GpioLineConfig; type: string }[] = [
    { what: 'door.relay', cfg: c.relay, type: c.relay.type },
    { what: 'door.contact', cfg: c.contact, type: c.contact.type },
    { what: 'door.exitButton', cfg: c.exitButton, type: c.exitButton.type },
  ].filter((u) => gpio(u.type));
  for (let i = 0; i < used.length; i++) {
    for (let j = i + 1; j < used.length; j++) {
      if (used[i].cfg.chip === used[j].cfg.chip && used[i].cfg.line === used[j].cfg.line) {
        errors.push(`${used[i].what} and ${used[j].what} use the same GPIO line ${used[i].cfg.line}`);
      }
    }
  }
  if (c.heldOpenSeconds * 1000 < c.pulseMs) {
    errors.push(
      `door.heldOpenSeconds (${c.heldOpenSeconds}) must be at least the unlock pulse (${c.pulseMs} ms)`,
    );
  }
  return errors;
}
