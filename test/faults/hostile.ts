import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { signClaims, type RequestClaims } from '../../src/enrollment/protocol.js';
import type { AdminKey } from '../../src/enrollment/keys.js';
import { mulberry32 } from '../../src/util/random.js';
import { bombPng, noisePhoto, orlPhoto, twoFacesPhoto } from '../enrollment/images.js';

export interface HostileContext {
  readonly deviceId: string;
  /** A key the device trusts: its requests pass the signature and fail on the claims. */
  readonly trusted: AdminKey;
  /** A key the device does not trust. */
  readonly stranger: AdminKey;
  readonly maxBytes: number;
}

const CMDS = ['enroll', 'remove', 'list', 'unlock'];
const b64u = (v: unknown): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * Builds `count` hostile payloads: random bytes, text, JSON, JWS look-alikes, `alg: none`,
 * HMAC, forged signatures, correctly signed requests with bad claims, bombs inside forged
 * requests, truncations, and a few over the size limit. None may change the gallery.
 */
export interface HostileRequest {
  /** The command topic it is sent to (a few are not commands at all). */
  readonly cmd: string;
  /** Sent on the fleet topic instead of the device's own. */
  readonly fleet: boolean;
  readonly payload: Buffer;
}

const TOPIC_CMDS = [
  'enroll',
  'enroll',
  'enroll',
  'remove',
  'remove',
  'list',
  'list',
  'unlock',
  'health_check',
  'nope',
  'ENROLL',
];

export async function hostilePayloads(
  count: number,
  seed: number,
  ctx: HostileContext,
): Promise<HostileRequest[]> {
  const r = mulberry32(seed);
  const int = (n: number): number => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const now = Math.floor(Date.now() / 1000);
  const bomb = bombPng(20_000).toString('base64');
  let cmd = 'enroll';
  const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    v: 1,
    cmd: r() < 0.9 ? cmd : pick(CMDS),
    aud: ctx.deviceId,
    iat: now,
    exp: now + 120,
    nonce: randomBytes(18).toString('base64url'),
    transaction: `fz-${int(1e9)}`,
    args: { person: 'mallory', name: 'Mallory', images: [bomb] },
    ...over,
  });
  const badClaims: Record<string, unknown>[] = [
    { exp: now - 3600, iat: now - 3700 },
    { iat: now + 3600, exp: now + 3700 },
    { aud: 'door-elsewhere' },
    { aud: ['all'] },
    { v: 0 },
    { v: '1' },
    { exp: now + 999_999 },
    { nonce: 'x' },
    { nonce: 12345 },
    { transaction: '' },
    { transaction: 'a b' },
    { iat: 'now' },
    { cmd: 'format_disk' },
    { exp: Number.MAX_SAFE_INTEGER + 2 },
  ];
  // Correctly signed, inside the window, but hostile arguments: these reach argument
  // checks and the photo decoder (each one uses up its nonce, and nothing else).
  const noFace = (await noisePhoto(200, 150)).toString('base64');
  const truncated = (await orlPhoto(3, 4, 'jpeg')).subarray(0, 3000).toString('base64');
  const twoFaces = (await twoFacesPhoto([1, 2], [2, 2])).toString('base64');
  const hostileArgs: Record<string, unknown>[] = [
    { person: '../../etc/passwd', name: 'x', images: [noFace] },
    { person: 'a'.repeat(65), name: 'x', images: [noFace] },
    { person: 'ok', name: '\u202eevil', images: [noFace] },
    { person: 'ok', name: 'x'.repeat(101), images: [noFace] },
    { person: 'ok', name: 'x', images: [] },
    { person: 'ok', name: 'x', images: Array.from({ length: 50 }, () => 'AAAA') },
    { person: 'ok', name: 'x', images: ['!!!notbase64'] },
    { person: 'ok', name: 'x', images: [Buffer.from('GIF89a').toString('base64')] },
    { person: 'ok', name: 'x', images: [bomb] },
    { person: 'ok', name: 'x', images: [truncated] },
    { person: 'ok', name: 'x', images: [noFace] },
    { person: 'ok', name: 'x', images: [twoFaces] },
    { person: 'ok', name: 'x', images: [noFace], admin: true },
    { person: ['ok'] },
    {},
  ];
  const generators: (() => Promise<Buffer> | Buffer)[] = [
    () => Buffer.alloc(0),
    () => randomBytes(int(4096)),
    () => Buffer.from(Array.from({ length: int(2000) }, () => String.fromCharCode(32 + int(95))).join('')),
    () =>
      Buffer.from(
        JSON.stringify({
          transaction: `t${int(1000)}`,
          cmd: pick(CMDS),
          args: { person: '../../etc/passwd' },
        }),
      ),
    () => Buffer.from('['.repeat(int(20_000)) + ']'.repeat(int(20_000))),
    () =>
      Buffer.from(`${b64u(randomBytes(int(200)))}.${b64u(randomBytes(int(500)))}.${b64u(randomBytes(64))}`),
    () => Buffer.from(`${b64u({ alg: 'none', typ: 'facegate-request+jwt' })}.${b64u(claims())}.`),
    () =>
      Buffer.from(
        `${b64u({ alg: 'HS256', typ: 'facegate-request+jwt' })}.${b64u(claims())}.${b64u(randomBytes(32))}`,
      ),
    () =>
      Buffer.from(
        `${b64u({ alg: 'EdDSA', typ: 'facegate-request+jwt', kid: ctx.trusted.kid })}.${b64u(claims())}.${b64u(randomBytes(64))}`,
      ),
    () =>
      Buffer.from(
        `${b64u({ alg: 'EdDSA', typ: 'facegate-request+jwt', crit: ['x'], x: 1 })}.${b64u(claims())}.AAAA`,
      ),
    () => Buffer.from(`${b64u('not json')}.${b64u(claims())}.${b64u(randomBytes(64))}`),
    () =>
      Buffer.from(`${b64u({ alg: 'EdDSA', typ: 'facegate-request+jwt', kid: 'x'.repeat(5000) })}.e30.AAAA`),
    async () => Buffer.from((await signClaims(ctx.stranger.privateKey, ctx.stranger.kid, claims())).jws),
    async () => Buffer.from((await signClaims(ctx.stranger.privateKey, ctx.trusted.kid, claims())).jws),
    async () =>
      Buffer.from((await signClaims(ctx.trusted.privateKey, ctx.trusted.kid, claims(pick(badClaims)))).jws),
    async () => {
      const { jws } = await signClaims(
        ctx.trusted.privateKey,
        ctx.trusted.kid,
        claims({ exp: now - 7200, iat: now - 7300 }),
      );
      return Buffer.from(jws.slice(0, int(jws.length)));
    },
    async () => {
      // A valid signature over valid claims, but altered in flight (one payload character).
      const { jws } = await signClaims(
        ctx.trusted.privateKey,
        ctx.trusted.kid,
        claims() as unknown as RequestClaims,
      );
      const [h, p, s] = jws.split('.');
      const i = int(p.length);
      const flipped = p.slice(0, i) + (p[i] === 'A' ? 'B' : 'A') + p.slice(i + 1);
      return Buffer.from(`${h}.${flipped}.${s}`);
    },
    () => Buffer.from(`\u202e${'\u0000'.repeat(int(50))}\uffff\ud800`, 'utf8'),
  ];
  const signedHostile = async (): Promise<Buffer> => {
    const args = cmd === 'enroll' || cmd === 'remove' ? pick(hostileArgs) : { unexpected: 1 };
    return Buffer.from(
      (await signClaims(ctx.trusted.privateKey, ctx.trusted.kid, claims({ cmd, args }))).jws,
    );
  };
  const out: HostileRequest[] = [];
  for (let i = 0; i < count; i++) {
    cmd = pick(TOPIC_CMDS);
    const payload = r() < 0.03 ? await signedHostile() : await pick(generators)();
    out.push({ cmd, fleet: r() < 0.3, payload });
  }
  // A few over the size limit (the router and the verifier refuse them unread).
  for (let i = 0; i < 3; i++) {
    out[int(out.length)] = {
      cmd: 'enroll',
      fleet: false,
      payload: Buffer.alloc(ctx.maxBytes + 1 + int(1000), 0x41),
    };
  }
  return out;
}

/** SHA-256 of everything that makes up the gallery (people, faces with crops, embeddings, version). */
export function gallerySnapshot(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const hash = createHash('sha256');
    for (const sql of [
      'SELECT key, value FROM meta ORDER BY key',
      'SELECT id, name, created_ms, updated_ms FROM people ORDER BY id',
      'SELECT id, person_id, crop_width, crop_height, hex(crop), created_ms FROM faces ORDER BY id',
      'SELECT face_id, model_id, dim, hex(vector) FROM embeddings ORDER BY face_id, model_id',
    ]) {
      hash.update(sql);
      for (const row of db.prepare(sql).raw().all()) hash.update(JSON.stringify(row));
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

export function integrityCheck(path: string): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]).map(
      (r) => r.integrity_check,
    );
  } finally {
    db.close();
  }
}

export function peopleIn(path: string): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id FROM people ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}
