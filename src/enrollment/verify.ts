import { compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import type { Clock } from '../util/clock.js';
import { isNonce, isTransactionId, NONCE_RULE, TRANSACTION_ID_RULE } from '../identity.js';
import { EnrollmentError } from './errors.js';
import type { TrustedKey } from './keys.js';
import { FLEET_AUDIENCE, PROTOCOL_VERSION, REQUEST_TYPE, type RequestClaims } from './protocol.js';

export interface VerifierOptions {
  readonly deviceId: string;
  readonly keys: readonly TrustedKey[];
  readonly maxClockSkewSeconds: number;
  readonly maxLifetimeSeconds: number;
  readonly maxRequestBytes: number;
  readonly clock: Clock;
}

export interface VerifiedRequest {
  readonly claims: RequestClaims;
  /** The admin key that signed it. */
  readonly kid: string;
  /** Until when the nonce must be remembered: after exp + skew the request is refused as expired anyway. */
  readonly nonceExpiresAtMs: number;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const ACCEPTED_ALGS = ['EdDSA', 'Ed25519'];
const CLAIMS = ['v', 'cmd', 'aud', 'iat', 'exp', 'nonce', 'transaction', 'args'];

/**
 * Checks a request before anything acts on it, cheapest check first: size, shape,
 * header, signature by a trusted key, then the claims (version, command, addressee,
 * validity window, nonce and transaction format). Throws EnrollmentError naming the
 * reason. The nonce's single use is enforced by the caller against the gallery DB.
 */
export class RequestVerifier {
  constructor(private readonly opts: VerifierOptions) {}

  /**
   * `checkWindow: false` leaves the validity window (iat/exp) to `checkWindow()`: a request
   * whose transaction was already answered is answered again from the store even after it
   * expired (a retained or re-delivered copy), without counting as a new refusal.
   */
  async verify(
    payload: Uint8Array,
    cmd: string,
    options: { checkWindow?: boolean } = {},
  ): Promise<VerifiedRequest> {
    const { opts } = this;
    if (payload.length > opts.maxRequestBytes) {
      throw new EnrollmentError(
        'payload_too_large',
        `request is ${payload.length} bytes, limit ${opts.maxRequestBytes}`,
      );
    }
    const jws = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('latin1').trim();
    if (!COMPACT_JWS.test(jws))
      throw new EnrollmentError('malformed_request', 'payload is not a compact JWS');

    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(jws);
    } catch {
      throw new EnrollmentError('malformed_request', 'JWS header does not decode');
    }
    if (typeof header.alg !== 'string' || !ACCEPTED_ALGS.includes(header.alg)) {
      throw new EnrollmentError(
        'malformed_request',
        `signature algorithm must be EdDSA, got ${String(header.alg).slice(0, 20)}`,
      );
    }
    if (header.typ !== REQUEST_TYPE)
      throw new EnrollmentError('malformed_request', `JWS typ must be ${REQUEST_TYPE}`);
    if (header.crit !== undefined)
      throw new EnrollmentError('malformed_request', 'no critical header extensions are understood');

    let candidates: readonly TrustedKey[];
    if (header.kid !== undefined) {
      candidates = opts.keys.filter((k) => k.kid === header.kid);
      if (candidates.length === 0)
        throw new EnrollmentError('unknown_key', 'signed by a key this device does not trust');
    } else {
      candidates = opts.keys;
      if (candidates.length === 0)
        throw new EnrollmentError('unknown_key', 'this device trusts no admin keys');
    }

    let claimBytes: Uint8Array | undefined;
    let kid = '';
    for (const candidate of candidates) {
      try {
        claimBytes = (await compactVerify(jws, candidate.key, { algorithms: ACCEPTED_ALGS })).payload;
        kid = candidate.kid;
        break;
      } catch {
        // Try the next key (rotation without kid); all failing means a forged or altered request.
      }
    }
    if (!claimBytes)
      throw new EnrollmentError('bad_signature', 'signature does not verify with any trusted key');

    const claims = parseClaims(claimBytes);
    this.checkClaims(claims, cmd);
    if (options.checkWindow ?? true) this.checkWindow(claims);
    return { claims, kid, nonceExpiresAtMs: (claims.exp + opts.maxClockSkewSeconds) * 1000 };
  }

  private checkClaims(c: RequestClaims, cmd: string): void {
    const { opts } = this;
    if (c.cmd !== cmd) {
      throw new EnrollmentError(
        'wrong_command',
        `request is for "${String(c.cmd).slice(0, 32)}" but arrived on the "${cmd}" topic`,
      );
    }
    if (c.aud !== opts.deviceId && c.aud !== FLEET_AUDIENCE) {
      throw new EnrollmentError(
        'wrong_device',
        `request is addressed to "${String(c.aud).slice(0, 64)}", this is ${opts.deviceId}`,
      );
    }
    if (c.exp <= c.iat) throw new EnrollmentError('malformed_request', 'exp must be after iat');
    if (c.exp - c.iat > opts.maxLifetimeSeconds) {
      throw new EnrollmentError(
        'lifetime_too_long',
        `request is valid for ${c.exp - c.iat} s, limit ${opts.maxLifetimeSeconds} s`,
      );
    }
  }

  /** Throws `not_yet_valid` / `expired` when now (± the allowed skew) is outside [iat, exp]. */
  checkWindow(c: RequestClaims): void {
    const { opts } = this;
    const now = opts.clock.nowMs() / 1000;
    if (c.iat > now + opts.maxClockSkewSeconds) {
      throw new EnrollmentError(
        'not_yet_valid',
        // A fixed instant, not "N s from now": a re-delivered copy gets the same answer.
        `request is issued in the future (iat ${new Date(c.iat * 1000).toISOString()})`,
      );
    }
    if (c.exp < now - opts.maxClockSkewSeconds) {
      throw new EnrollmentError('expired', `request expired at ${new Date(c.exp * 1000).toISOString()}`);
    }
  }
}

function parseClaims(bytes: Uint8Array): RequestClaims {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new EnrollmentError('malformed_request', 'signed payload is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new EnrollmentError('malformed_request', 'signed payload is not a JSON object');
  }
  const c = parsed as Record<string, unknown>;
  if (c.v !== PROTOCOL_VERSION) {
    throw new EnrollmentError(
      'malformed_request',
      `unsupported protocol version ${JSON.stringify(c.v)?.slice(0, 16)}; this device speaks ${PROTOCOL_VERSION}`,
    );
  }
  const missing = CLAIMS.filter((k) => c[k] === undefined);
  if (missing.length > 0)
    throw new EnrollmentError('malformed_request', `missing claims: ${missing.join(', ')}`);
  if (typeof c.cmd !== 'string' || typeof c.aud !== 'string') {
    throw new EnrollmentError('malformed_request', 'cmd and aud must be strings');
  }
  if (!Number.isSafeInteger(c.iat) || !Number.isSafeInteger(c.exp)) {
    throw new EnrollmentError('malformed_request', 'iat and exp must be integer seconds');
  }
  if (!isNonce(c.nonce)) throw new EnrollmentError('malformed_request', `nonce must be ${NONCE_RULE}`);
  if (!isTransactionId(c.transaction)) {
    throw new EnrollmentError('malformed_request', `transaction must be ${TRANSACTION_ID_RULE}`);
  }
  return c as unknown as RequestClaims;
}

/**
 * The transaction id of a request WITHOUT verifying it, only so a refusal can be matched
 * by the sender; never used for any decision.
 */
export function peekTransaction(payload: Uint8Array): string | null {
  if (payload.length > 64 * 1024 * 1024) return null;
  try {
    const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('latin1');
    const firstDot = text.indexOf('.');
    const secondDot = text.indexOf('.', firstDot + 1);
    if (firstDot < 0 || secondDot < 0) return null;
    const claimsJson = Buffer.from(text.slice(firstDot + 1, secondDot), 'base64url').toString('utf8');
    const tx = (JSON.parse(claimsJson) as { transaction?: unknown }).transaction;
    return isTransactionId(tx) ? tx : null;
  } catch {
    return null;
  }
}
