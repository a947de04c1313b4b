/** convict schema slice for `enrollment` (signed MQTT requests; owned by src/enrollment). */
export const enrollmentSchema = {
  trustedKeys: {
    doc: 'Admin public keys (Ed25519, PEM/SPKI or JWK files) whose signed requests this device accepts. Several for rotation.',
    format: Array,
    default: [] as string[],
    env: 'FACEGATE_ENROLLMENT_TRUSTED_KEYS',
  },
} as const;
