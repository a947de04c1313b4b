import { randomBytes, randomUUID } from 'node:crypto';
import { CompactSign, type CryptoKey, type KeyObject } from 'jose';
import {
  isPersonId,
  isPrintableText,
  MAX_PERSON_NAME_LENGTH as MAX_NAME_LENGTH,
  MAX_REASON_LENGTH,
  PERSON_ID_RULE,
} from '../identity.js';
import {
  ENROLL_ACCESS_ARGS,
  parseAccessFields,
  type PersonAccessArgs,
  type SetSchedulesArgs,
  type UpdatePersonArgs,
} from '../access/protocol.js';
import type { PersonAccessPatch } from '../gallery/person-access.js';
import { argsObject, EnrollmentError } from './errors.js';

/**
 * The signed request protocol, version 1 (public contract: docs/enrollment.md).
 *
 * The MQTT payload of `<base>/request/<cmd>` and `facegate/all/request/<cmd>` is ONE
 * compact JWS (ASCII, `header.payload.signature`):
 *   header  {"alg":"EdDSA","typ":"facegate-request+jwt","kid":"<RFC 7638 thumbprint>"}
 *   payload {"v":1,"cmd","aud","iat","exp","nonce","transaction","args"}
 */
export const PROTOCOL_VERSION = 1;
export const REQUEST_TYPE = 'facegate-request+jwt';
export const SIGNING_ALG = 'EdDSA';
/** `aud` of a request every door of the fleet should apply. */
export const FLEET_AUDIENCE = 'all';

export const SIGNED_COMMANDS = [
  'enroll',
  'remove',
  'list',
  'unlock',
  'update_person',
  'set_schedules',
  'capture_enroll',
] as const;
export type SignedCommand = (typeof SIGNED_COMMANDS)[number];

export interface RequestClaims {
  readonly v: number;
  readonly cmd: string;
  /** Device id or "all". */
  readonly aud: string;
  /** Issued at, seconds since the epoch. */
  readonly iat: number;
  /** Expires at, seconds since the epoch. */
  readonly exp: number;
  /** Single use; remembered by the device until exp + skew. */
  readonly nonce: string;
  /** Chosen by the admin; the same transaction is applied once and answered the same way. */
  readonly transaction: string;
  readonly args: unknown;
}

export interface EnrollArgs extends PersonAccessArgs {
  readonly person: string;
  readonly name: string;
  /** Standard base64 (RFC 4648 §4) of JPEG or PNG photos. */
  readonly images: readonly string[];
  /**
   * Enroll even when a face matches another enrolled person (identical twins). Signed like
   * every arg; the door logs and audits its use. Absent = false.
   */
  readonly allowDuplicate?: boolean;
}
/** `capture_enroll`: walk-up enrollment from the door camera (docs/enrollment.md). */
export interface CaptureEnrollArgs extends PersonAccessArgs {
  readonly person: string;
  readonly name: string;
  /** How long the door watches its camera, whole seconds, 1..enrollment.captureMaxSeconds. */
  readonly seconds: number;
  readonly allowDuplicate?: boolean;
}
export type { SetSchedulesArgs, UpdatePersonArgs } from '../access/protocol.js';
export interface RemoveArgs {
  readonly person: string;
}
export type ListArgs = Record<string, never>;
export interface UnlockArgs {
  readonly reason?: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface ArgLimits {
  readonly maxImages: number;
  readonly maxImageBytes: number;
}

export function parsePersonId(value: unknown): string {
  if (!isPersonId(value)) throw new EnrollmentError('invalid_payload', `person must be ${PERSON_ID_RULE}`);
  return value;
}

function parseText(value: unknown, what: string, max: number): string {
  if (!isPrintableText(value, max)) {
    throw new EnrollmentError('invalid_payload', `${what} must be 1..${max} printable characters`);
  }
  return value.trim();
}

/**
 * Validates enroll args and decodes the photos (size-checked before decoding). The
 * optional credential fields (groups, validFrom, validUntil) become `access`.
 */
export function parseEnrollArgs(
  args: unknown,
  limits: ArgLimits,
): {
  person: string;
  name: string;
  images: Buffer[];
  allowDuplicate: boolean;
  access: PersonAccessPatch;
} {
  const a = argsObject(args, 'enroll', ['person', 'name', 'images', 'allowDuplicate', ...ENROLL_ACCESS_ARGS]);
  if (a.allowDuplicate !== undefined && typeof a.allowDuplicate !== 'boolean') {
    throw new EnrollmentError('invalid_payload', 'allowDuplicate must be true or false');
  }
  const access = parseAccessFields(a);
  const person = parsePersonId(a.person);
  const name = parseText(a.name, 'name', MAX_NAME_LENGTH);
  if (!Array.isArray(a.images) || a.images.length === 0 || a.images.length > limits.maxImages) {
    throw new EnrollmentError(
      'invalid_payload',
      `images must be an array of 1..${limits.maxImages} base64 photos`,
    );
  }
  const images = a.images.map((img: unknown, i) => {
    if (typeof img !== 'string' || img.length % 4 !== 0 || !BASE64.test(img)) {
      throw new EnrollmentError('invalid_payload', `images[${i}] is not standard base64`);
    }
    const decodedLength = (img.length / 4) * 3 - (img.endsWith('==') ? 2 : img.endsWith('=') ? 1 : 0);
    if (decodedLength > limits.maxImageBytes) {
      throw new EnrollmentError(
        'too_large',
        `images[${i}] is ${decodedLength} bytes, limit ${limits.maxImageBytes}`,
      );
    }
    return Buffer.from(img, 'base64');
  });
  return { person, name, images, allowDuplicate: a.allowDuplicate === true, access };
}

/**
 * `capture_enroll` args: person, name, seconds (integer 1..maxSeconds), optional groups /
 * validFrom / validUntil as for `enroll`. Throws EnrollmentError invalid_payload.
 */
export function parseCaptureEnrollArgs(
  args: unknown,
  limits: { readonly captureMaxSeconds: number },
): { person: string; name: string; seconds: number; allowDuplicate: boolean; access: PersonAccessPatch } {
  const a = argsObject(args, 'capture_enroll', [
    'person',
    'name',
    'seconds',
    'allowDuplicate',
    ...ENROLL_ACCESS_ARGS,
  ]);
  if (a.allowDuplicate !== undefined && typeof a.allowDuplicate !== 'boolean') {
    throw new EnrollmentError('invalid_payload', 'allowDuplicate must be true or false');
  }
  const access = parseAccessFields(a);
  const person = parsePersonId(a.person);
  const name = parseText(a.name, 'name', MAX_NAME_LENGTH);
  const seconds = a.seconds;
  if (
    typeof seconds !== 'number' ||
    !Number.isInteger(seconds) ||
    seconds < 1 ||
    seconds > limits.captureMaxSeconds
  ) {
    throw new EnrollmentError(
      'invalid_payload',
      `seconds must be an integer in 1..${limits.captureMaxSeconds} (enrollment.captureMaxSeconds)`,
    );
  }
  return { person, name, seconds, allowDuplicate: a.allowDuplicate === true, access };
}

export function parseRemoveArgs(args: unknown): { person: string } {
  return { person: parsePersonId(argsObject(args, 'remove', ['person']).person) };
}

export function parseListArgs(args: unknown): ListArgs {
  argsObject(args, 'list', []);
  return {};
}

export function parseUnlockArgs(args: unknown): { reason: string } {
  const a = argsObject(args, 'unlock', ['reason']);
  return {
    reason: a.reason === undefined ? 'remote unlock' : parseText(a.reason, 'reason', MAX_REASON_LENGTH),
  };
}

export function newNonce(): string {
  return randomBytes(24).toString('base64url');
}

export function newTransaction(): string {
  return randomUUID();
}

export type RequestArgs =
  EnrollArgs | CaptureEnrollArgs | RemoveArgs | ListArgs | UnlockArgs | UpdatePersonArgs | SetSchedulesArgs;

export interface SignRequestInput {
  readonly cmd: SignedCommand;
  readonly aud: string;
  readonly args: RequestArgs;
  /** Default: a fresh UUID. */
  readonly transaction?: string;
  /** Default: 24 random bytes, base64url. */
  readonly nonce?: string;
  /** Default: now. */
  readonly nowMs?: number;
  /** Default: 300 s. */
  readonly lifetimeSeconds?: number;
}

export interface SignedRequest {
  readonly jws: string;
  readonly claims: RequestClaims;
}

/** Builds and signs a request (the admin tool and tests use this; devices only verify). */
export async function signRequest(
  privateKey: CryptoKey | KeyObject,
  kid: string,
  input: SignRequestInput,
): Promise<SignedRequest> {
  const iat = Math.floor((input.nowMs ?? Date.now()) / 1000);
  const claims: RequestClaims = {
    v: PROTOCOL_VERSION,
    cmd: input.cmd,
    aud: input.aud,
    iat,
    exp: iat + (input.lifetimeSeconds ?? 300),
    nonce: input.nonce ?? newNonce(),
    transaction: input.transaction ?? newTransaction(),
    args: input.args,
  };
  return signClaims(privateKey, kid, claims);
}

/** Signs arbitrary claims as given (tests use it to build hostile but correctly signed requests). */
export async function signClaims(
  privateKey: CryptoKey | KeyObject,
  kid: string,
  claims: RequestClaims | Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<SignedRequest> {
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: SIGNING_ALG, typ: REQUEST_TYPE, kid, ...header })
    .sign(privateKey);
  return { jws, claims: claims as RequestClaims };
}
