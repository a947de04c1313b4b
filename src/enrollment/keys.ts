import { readFile } from 'node:fs/promises';
import {
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importJWK,
  importPKCS8,
  importSPKI,
  type CryptoKey,
  type JWK,
} from 'jose';
import { SIGNING_ALG } from './protocol.js';

/** A public admin key a device accepts; `kid` is its RFC 7638 JWK thumbprint. */
export interface TrustedKey {
  readonly kid: string;
  readonly key: CryptoKey;
  /** Where it came from (file path), for logs. */
  readonly source: string;
}

export interface AdminKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
}

function isEd25519Jwk(jwk: unknown): jwk is JWK {
  const k = jwk as JWK | null;
  return !!k && typeof k === 'object' && k.kty === 'OKP' && k.crv === 'Ed25519' && typeof k.x === 'string';
}

/** The key id both sides agree on without configuration: the thumbprint of the public key. */
export async function keyIdOf(publicJwk: JWK): Promise<string> {
  return calculateJwkThumbprint({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x } as JWK, 'sha256');
}

/**
 * Parses one trusted-key file: a PEM SPKI public key, a public Ed25519 JWK, or a JWK set
 * `{"keys": [...]}`. Private keys are refused: a door must never hold the admin's secret.
 */
export async function parseTrustedKeys(text: string, source: string): Promise<TrustedKey[]> {
  const trimmed = text.trim();
  if (trimmed.includes('PRIVATE KEY')) {
    throw new Error(`${source}: is a private key; devices need only the admin's PUBLIC key`);
  }
  let jwks: JWK[];
  if (trimmed.startsWith('-----BEGIN PUBLIC KEY-----')) {
    let key: CryptoKey;
    try {
      key = await importSPKI(trimmed, SIGNING_ALG, { extractable: true });
    } catch (err) {
      throw new Error(`${source}: not an Ed25519 SPKI public key (${(err as Error).message})`);
    }
    jwks = [await exportJWK(key)];
  } else if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`${source}: invalid JSON (${(err as Error).message})`);
    }
    const keys = (parsed as { keys?: unknown }).keys;
    jwks = Array.isArray(keys) ? (keys as JWK[]) : [parsed as JWK];
  } else {
    throw new Error(`${source}: expected a PEM public key or a JWK`);
  }
  const out: TrustedKey[] = [];
  for (const [i, jwk] of jwks.entries()) {
    const where = jwks.length > 1 ? `${source} key ${i}` : source;
    if (!isEd25519Jwk(jwk)) throw new Error(`${where}: not an Ed25519 (OKP) public JWK`);
    if ('d' in jwk) throw new Error(`${where}: is a private key; devices need only the admin's PUBLIC key`);
    const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
    const key = (await importJWK(publicJwk, SIGNING_ALG)) as CryptoKey;
    out.push({ kid: await keyIdOf(publicJwk), key, source: where });
  }
  return out;
}

/** Loads every configured key file; a bad file is a startup error (a silent gap would lock admins out). */
export async function loadTrustedKeys(paths: readonly string[]): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new Error(`enrollment.trustedKeys: cannot read ${path}: ${(err as Error).message}`);
    }
    keys.push(...(await parseTrustedKeys(text, path)));
  }
  const seen = new Set<string>();
  return keys.filter((k) => (seen.has(k.kid) ? false : (seen.add(k.kid), true)));
}

/** Reads the admin's private key (PEM PKCS#8 or private JWK). */
export async function parseAdminKey(text: string, source: string): Promise<AdminKey> {
  const trimmed = text.trim();
  let jwk: JWK;
  if (trimmed.startsWith('-----BEGIN PRIVATE KEY-----')) {
    const key = await importPKCS8(trimmed, SIGNING_ALG, { extractable: true });
    jwk = await exportJWK(key);
  } else if (trimmed.startsWith('{')) {
    try {
      jwk = JSON.parse(trimmed) as JWK;
    } catch (err) {
      throw new Error(`${source}: invalid JSON (${(err as Error).message})`);
    }
  } else {
    throw new Error(`${source}: expected a PEM PKCS#8 private key or a private JWK`);
  }
  if (!isEd25519Jwk(jwk) || typeof jwk.d !== 'string')
    throw new Error(`${source}: not an Ed25519 private key`);
  const privateKey = (await importJWK(
    { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d },
    SIGNING_ALG,
  )) as CryptoKey;
  return { kid: await keyIdOf(jwk), privateKey };
}

export interface GeneratedKeyPair {
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
  readonly privatePem: string;
  readonly publicPem: string;
}

export async function generateAdminKeyPair(): Promise<GeneratedKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await keyIdOf(publicJwk);
  return {
    kid,
    publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' },
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG, use: 'sig' },
    publicPem: await exportSPKI(publicKey),
    privatePem: await exportPKCS8(privateKey),
  };
}
