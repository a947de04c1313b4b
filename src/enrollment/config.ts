function secondsUpTo600(value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 600) {
    throw new Error('must be an integer number of seconds in 1..600');
  }
}

/** convict schema slice for `enrollment` (signed MQTT requests; owned by src/enrollment). */
export const enrollmentSchema = {
  trustedKeys: {
    doc: 'Admin public keys (Ed25519, PEM/SPKI or JWK files) whose signed requests this device accepts. Several for rotation.',
    format: Array,
    default: [] as string[],
    env: 'FACEGATE_ENROLLMENT_TRUSTED_KEYS',
  },
  maxClockSkewSeconds: {
    doc: "How far a request's iat may lie in the future and its exp in the past (clock differences between admin and door).",
    format: 'nat',
    default: 60,
    env: 'FACEGATE_ENROLLMENT_MAX_CLOCK_SKEW_SECONDS',
  },
  maxLifetimeSeconds: {
    doc: 'Longest validity window (exp - iat) a request may have; bounds how long a leaked request stays usable.',
    format: 'nat',
    default: 3600,
    env: 'FACEGATE_ENROLLMENT_MAX_LIFETIME_SECONDS',
  },
  maxRequestBytes: {
    doc: 'Largest MQTT request payload accepted (bytes); larger ones are rejected before any parsing.',
    format: 'nat',
    default: 8 * 1024 * 1024,
    env: 'FACEGATE_ENROLLMENT_MAX_REQUEST_BYTES',
  },
  maxImageBytes: {
    doc: 'Largest single enrollment photo (decoded from base64, bytes).',
    format: 'nat',
    default: 4 * 1024 * 1024,
    env: 'FACEGATE_ENROLLMENT_MAX_IMAGE_BYTES',
  },
  maxImages: {
    doc: 'Most photos in one enroll request.',
    format: 'nat',
    default: 5,
    env: 'FACEGATE_ENROLLMENT_MAX_IMAGES',
  },
  maxImagePixels: {
    doc: 'Largest width*height a photo may declare in its header (decompression-bomb guard).',
    format: 'nat',
    default: 25_000_000,
    env: 'FACEGATE_ENROLLMENT_MAX_IMAGE_PIXELS',
  },
  maxImageDimension: {
    doc: 'Largest width or height a photo may declare in its header.',
    format: 'nat',
    default: 8000,
    env: 'FACEGATE_ENROLLMENT_MAX_IMAGE_DIMENSION',
  },
  workingMaxSide: {
    doc: 'Photos are shrunk so their longer side is at most this many pixels before face detection (speed; faces stay far above the 64 px model input).',
    format: 'nat',
    default: 1024,
    env: 'FACEGATE_ENROLLMENT_WORKING_MAX_SIDE',
  },
  unlockMaxAgeSeconds: {
    doc: 'A signed remote unlock older than this (now - iat, seconds, 1..600) is refused with stale_unlock: a request delivered late (a persistent session, a bridge catching up) must not open the door for nobody.',
    format: secondsUpTo600,
    default: 30,
    env: 'FACEGATE_ENROLLMENT_UNLOCK_MAX_AGE_SECONDS',
  },
  allowUnlock: {
    doc: 'Accept signed remote `unlock` requests (off: a remote unlock is a door key sent over the network).',
    format: Boolean,
    default: false,
    env: 'FACEGATE_ENROLLMENT_ALLOW_UNLOCK',
  },
  captureMaxSeconds: {
    doc: 'Longest walk-up capture (capture_enroll `seconds`, 1..120): the door watches its camera this long at most, and other enrollment requests wait meanwhile.',
    format: (value: unknown): void => {
      if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 120) {
        throw new Error('must be an integer number of seconds in 1..120');
      }
    },
    default: 20,
    env: 'FACEGATE_ENROLLMENT_CAPTURE_MAX_SECONDS',
  },
  captureMaxTemplates: {
    doc: 'Most templates one walk-up capture enrolls (1..10), spread over the capture.',
    format: (value: unknown): void => {
      if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 10) {
        throw new Error('must be an integer in 1..10');
      }
    },
    default: 5,
    env: 'FACEGATE_ENROLLMENT_CAPTURE_MAX_TEMPLATES',
  },
  captureMinTemplates: {
    doc: 'Fewest usable face frames a walk-up capture needs, else it is refused with too_few_frames (1..10, at most captureMaxTemplates).',
    format: (value: unknown): void => {
      if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 10) {
        throw new Error('must be an integer in 1..10');
      }
    },
    default: 2,
    env: 'FACEGATE_ENROLLMENT_CAPTURE_MIN_TEMPLATES',
  },
} as const;

/** The typed slice the enrollment components take (what convict returns for `enrollment`). */
export interface EnrollmentConfig {
  readonly trustedKeys: readonly string[];
  readonly maxClockSkewSeconds: number;
  readonly maxLifetimeSeconds: number;
  readonly maxRequestBytes: number;
  readonly maxImageBytes: number;
  readonly maxImages: number;
  readonly maxImagePixels: number;
  readonly maxImageDimension: number;
  readonly workingMaxSide: number;
  readonly unlockMaxAgeSeconds: number;
  readonly allowUnlock: boolean;
  readonly captureMaxSeconds: number;
  readonly captureMaxTemplates: number;
  readonly captureMinTemplates: number;
}

/** The defaults as a typed object (tests and tools that build components without convict). */
export const DEFAULT_ENROLLMENT_CONFIG: EnrollmentConfig = {
  trustedKeys: [],
  maxClockSkewSeconds: enrollmentSchema.maxClockSkewSeconds.default,
  maxLifetimeSeconds: enrollmentSchema.maxLifetimeSeconds.default,
  maxRequestBytes: enrollmentSchema.maxRequestBytes.default,
  maxImageBytes: enrollmentSchema.maxImageBytes.default,
  maxImages: enrollmentSchema.maxImages.default,
  maxImagePixels: enrollmentSchema.maxImagePixels.default,
  maxImageDimension: enrollmentSchema.maxImageDimension.default,
  workingMaxSide: enrollmentSchema.workingMaxSide.default,
  unlockMaxAgeSeconds: enrollmentSchema.unlockMaxAgeSeconds.default,
  allowUnlock: enrollmentSchema.allowUnlock.default,
  captureMaxSeconds: enrollmentSchema.captureMaxSeconds.default,
  captureMaxTemplates: enrollmentSchema.captureMaxTemplates.default,
  captureMinTemplates: enrollmentSchema.captureMinTemplates.default,
};
