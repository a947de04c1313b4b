import {
  generateAdminKeyPair,
  parseAdminKey,
  parseTrustedKeys,
  type AdminKey,
  type TrustedKey,
} from '../../src/enrollment/keys.js';

/** A real Ed25519 admin key pair as the admin tool makes it, and the device's view of it. */
export interface TestAdmin {
  readonly admin: AdminKey;
  readonly trusted: TrustedKey[];
  readonly publicPem: string;
  readonly privatePem: string;
}

export async function makeAdmin(): Promise<TestAdmin> {
  const pair = await generateAdminKeyPair();
  return {
    admin: await parseAdminKey(pair.privatePem, 'test private key'),
    trusted: await parseTrustedKeys(pair.publicPem, 'test public key'),
    publicPem: pair.publicPem,
    privatePem: pair.privatePem,
  };
}
