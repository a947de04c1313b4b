import { generateKeyPair, exportJWK, CompactSign } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { EnrollmentError } from '../../src/enrollment/errors.js';
import { generateAdminKeyPair, parseAdminKey, parseTrustedKeys } from '../../src/enrollment/keys.js';
import { REQUEST_TYPE, signClaims, signRequest, type RequestClaims } from '../../src/enrollment/protocol.js';
import { RequestVerifier, peekTransaction } from '../../src/enrollment/verify.js';
import type { Clock } from '../../src/util/clock.js';
import { makeAdmin, type TestAdmin } from './keys-helper.js';

const NOW = Date.UTC(2026, 10, 27, 20, 0, 0);
const clock: Clock = { nowMs: () => NOW, monotonicMs: () => 0 };

let admin: TestAdmin;
let stranger: TestAdmin;

beforeAll(async () => {
  admin = await makeAdmin();
  stranger = await makeAdmin();
});

function verifier(
  overrides: Partial<ConstructorParameters<typeof RequestVerifier>[0]> = {},
): RequestVerifier {
  return new RequestVerifier({
    deviceId: 'door-1',
    keys: admin.trusted,
    maxClockSkewSeconds: 60,
    maxLifetimeSeconds: 600,
    maxRequestBytes: 64 * 1024,
    clock,
    ...overrides,
  });
}

function claims(over: Partial<RequestClaims> = {}): RequestClaims {
  const iat = Math.floor(NOW / 1000);
  return {
    v: 1,
    cmd: 'remove',
    aud: 'door-1',
    iat,
    exp: iat + 300,
    nonce: 'n0nce-n0nce-n0nce-0001',
    transaction: 'tx-1',
    args: { person: 'alice' },
    ...over,
  };
}

async function codeOf(payload: string | Uint8Array, cmd = 'remove', v = verifier()): Promise<string> {
  try {
    await v.verify(typeof payload === 'string' ? Buffer.from(payload) : payload, cmd);
    return 'accepted';
  } catch (err) {
    if (err instanceof EnrollmentError) return err.code;
    throw err;
  }
}

describe('RequestVerifier', () => {
  it('accepts a request signed by a trusted key, for this device or for all', async () => {
    const { jws } = await signClaims(admin.admin.privateKey, admin.admin.kid, claims());
    const ok = await verifier().verify(Buffer.from(jws), 'remove');
    expect(ok.kid).toBe(admin.admin.kid);
    expect(ok.claims.transaction).toBe('tx-1');
    expect(ok.nonceExpiresAtMs).toBe((claims().exp + 60) * 1000);
    const fleet = await signClaims(admin.admin.privateKey, admin.admin.kid, claims({ aud: 'all' }));
    expect(await codeOf(fleet.jws)).toBe('accepted');
  });

  it('accepts the signRequest output of the admin tool', async () => {
    const { jws } = await signRequest(admin.admin.privateKey, admin.admin.kid, {
      cmd: 'list',
      aud: 'door-1',
      args: {},
      nowMs: NOW,
    });
    expect(await codeOf(jws, 'list')).toBe('accepted');
  });

  it('accepts any of several trusted keys (rotation), with or without kid', async () => {
    const v = verifier({ keys: [...stranger.trusted, ...admin.trusted] });
    const withKid = await signClaims(admin.admin.privateKey, admin.admin.kid, claims());
    expect(await codeOf(withKid.jws, 'remove', v)).toBe('accepted');
    const withoutKid = await new CompactSign(Buffer.from(JSON.stringify(claims())))
      .setProtectedHeader({ alg: 'EdDSA', typ: REQUEST_TYPE })
      .sign(admin.admin.privateKey);
    expect(await codeOf(withoutKid, 'remove', v)).toBe('accepted');
  });

  it('rejects a request signed by an untrusted key: unknown_key by kid, bad_signature without', async () => {
    const forged = await signClaims(stranger.admin.privateKey, stranger.admin.kid, claims());
    expect(await codeOf(forged.jws)).toBe('unknown_key');
    // A forger who claims the trusted kid.
    const claimingKid = await signClaims(stranger.admin.privateKey, admin.admin.kid, claims());
    expect(await codeOf(claimingKid.jws)).toBe('bad_signature');
  });

  it('rejects a tampered payload as bad_signature', async () => {
    const { jws } = await signClaims(admin.admin.privateKey, admin.admin.kid, claims());
    const [h, , s] = jws.split('.');
    const evil = Buffer.from(JSON.stringify(claims({ args: { person: 'mallory' } }))).toString('base64url');
    expect(await codeOf(`${h}.${evil}.${s}`)).toBe('bad_signature');
    // One flipped signature character.
    const flipped = jws.slice(0, -2) + (jws.at(-2) === 'A' ? 'B' : 'A') + jws.at(-1);
    expect(await codeOf(flipped)).toBe('bad_signature');
  });

  it('rejects expired and future-dated requests beyond the skew, accepts within it', async () => {
    const iat = Math.floor(NOW / 1000);
    const sign = async (c: Partial<RequestClaims>): Promise<string> =>
      (await signClaims(admin.admin.privateKey, admin.admin.kid, claims(c))).jws;
    expect(await codeOf(await sign({ iat: iat - 400, exp: iat - 61 }))).toBe('expired');
    expect(await codeOf(await sign({ iat: iat - 400, exp: iat - 59 }))).toBe('accepted');
    expect(await codeOf(await sign({ iat: iat + 61, exp: iat + 300 }))).toBe('not_yet_valid');
    expect(await codeOf(await sign({ iat: iat + 59, exp: iat + 300 }))).toBe('accepted');
  });

  it('rejects a lifetime over the limit and exp before iat', async () => {
    const iat = Math.floor(NOW / 1000);
    const long = await signClaims(admin.admin.privateKey, admin.admin.kid, claims({ iat, exp: iat + 601 }));
    expect(await codeOf(long.jws)).toBe('lifetime_too_long');
    const backwards = await signClaims(
      admin.admin.privateKey,
      admin.admin.kid,
      claims({ iat, exp: iat - 1 }),
    );
    expect(await codeOf(backwards.jws)).toBe('malformed_request');
  });

  it('rejects a request for another device and a command sent to another topic', async () => {
    const other = await signClaims(admin.admin.privateKey, admin.admin.kid, claims({ aud: 'door-2' }));
    expect(await codeOf(other.jws)).toBe('wrong_device');
    const enrollOnRemove = await signClaims(
      admin.admin.privateKey,
      admin.admin.kid,
      claims({ cmd: 'enroll' }),
    );
    expect(await codeOf(enrollOnRemove.jws, 'remove')).toBe('wrong_command');
  });

  it('rejects oversized payloads before parsing', async () => {
    const { jws } = await signClaims(admin.admin.privateKey, admin.admin.kid, claims());
    expect(await codeOf(jws, 'remove', verifier({ maxRequestBytes: jws.length - 1 }))).toBe(
      'payload_too_large',
    );
  });

  it('rejects malformed envelopes, algorithms other than EdDSA, and missing or bad claims', async () => {
    for (const junk of [
      '',
      'hello',
      '{"cmd":"remove"}',
      'a.b',
      'a.b.c.d',
      '....',
      '\u0000\u00ff',
      'x'.repeat(1000),
    ]) {
      expect(await codeOf(junk)).toBe('malformed_request');
    }
    // "alg": "none" and an HMAC-signed token must never pass.
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: REQUEST_TYPE })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`;
    expect(await codeOf(none)).toBe('malformed_request');
    const hs = await new CompactSign(Buffer.from(JSON.stringify(claims())))
      .setProtectedHeader({ alg: 'HS256', typ: REQUEST_TYPE })
      .sign(new Uint8Array(32));
    expect(await codeOf(hs)).toBe('malformed_request');
    // Wrong typ (a JWT from another system signed by the same key must not be a request).
    const otherTyp = await signClaims(admin.admin.privateKey, admin.admin.kid, claims(), { typ: 'JWT' });
    expect(await codeOf(otherTyp.jws)).toBe('malformed_request');
    const bad: Record<string, unknown>[] = [
      { ...claims(), v: 2 },
      { ...claims(), nonce: 'short' },
      { ...claims(), nonce: undefined },
      { ...claims(), transaction: 'has spaces' },
      { ...claims(), iat: 1.5 },
      { ...claims(), aud: ['door-1'] },
    ];
    for (const c of bad) {
      const { jws } = await signClaims(admin.admin.privateKey, admin.admin.kid, c);
      expect(await codeOf(jws), JSON.stringify(c).slice(0, 80)).toBe('malformed_request');
    }
    const notJson = await new CompactSign(Buffer.from('not json'))
      .setProtectedHeader({ alg: 'EdDSA', typ: REQUEST_TYPE, kid: admin.admin.kid })
      .sign(admin.admin.privateKey);
    expect(await codeOf(notJson)).toBe('malformed_request');
  });

  it('refuses when the device trusts no key', async () => {
    const { jws } = await signClaims(admin.admin.privateKey, admin.admin.kid, claims());
    expect(await codeOf(jws, 'remove', verifier({ keys: [] }))).toBe('unknown_key');
  });

  it('peeks the transaction of a refused request without trusting it', async () => {
    const { jws } = await signClaims(
      stranger.admin.privateKey,
      stranger.admin.kid,
      claims({ transaction: 'tx-77' }),
    );
    expect(peekTransaction(Buffer.from(jws))).toBe('tx-77');
    expect(peekTransaction(Buffer.from('garbage'))).toBeNull();
  });
});

describe('trusted key files', () => {
  it('reads PEM SPKI, a public JWK and a JWK set, with matching key ids', async () => {
    const pair = await generateAdminKeyPair();
    const fromPem = await parseTrustedKeys(pair.publicPem, 'pem');
    const fromJwk = await parseTrustedKeys(JSON.stringify(pair.publicJwk), 'jwk');
    const other = await generateAdminKeyPair();
    const fromSet = await parseTrustedKeys(
      JSON.stringify({ keys: [pair.publicJwk, other.publicJwk] }),
      'jwks',
    );
    expect(fromPem[0].kid).toBe(pair.kid);
    expect(fromJwk[0].kid).toBe(pair.kid);
    expect(fromSet.map((k) => k.kid)).toEqual([pair.kid, other.kid]);
    expect((await parseAdminKey(JSON.stringify(pair.privateJwk), 'jwk')).kid).toBe(pair.kid);
    expect((await parseAdminKey(pair.privatePem, 'pem')).kid).toBe(pair.kid);
  });

  it('refuses private keys, other key types and garbage on the device', async () => {
    const pair = await generateAdminKeyPair();
    await expect(parseTrustedKeys(pair.privatePem, 'p')).rejects.toThrow(/private key/);
    await expect(parseTrustedKeys(JSON.stringify(pair.privateJwk), 'p')).rejects.toThrow(/private key/);
    const ec = await generateKeyPair('ES256', { extractable: true });
    await expect(parseTrustedKeys(JSON.stringify(await exportJWK(ec.publicKey)), 'ec')).rejects.toThrow(
      /Ed25519/,
    );
    await expect(parseTrustedKeys('ssh-ed25519 AAAA', 'ssh')).rejects.toThrow(/PEM public key or a JWK/);
  });
});
