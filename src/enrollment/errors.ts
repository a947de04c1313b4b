/**
 * Why a request or photo was refused. The codes are part of the public MQTT contract
 * (docs/enrollment.md): the admin tool shows them and fleets alert on them.
 */
export type EnrollmentErrorCode =
  // photo
  | 'too_large' // the photo's bytes exceed enrollment.maxImageBytes
  | 'not_an_image' // not a JPEG or PNG, or it does not decode
  | 'image_too_big' // declared dimensions over the limits (decompression-bomb guard)
  | 'no_face' // no face found, even after padding the photo (hint says why)
  | 'several_faces'
  // the shared face rules (src/vision/face-rules.ts), the same as the live quality gate
  | 'face_too_small' // face narrower than vision.quality.minFacePixels (never upscaled)
  | 'face_blurry' // below vision.quality.minSharpness
  | 'face_tilted' // roll over vision.quality.maxRollDeg
  | 'face_turned' // yaw over vision.quality.maxYawDeg
  | 'face_landmarks_implausible' // landmarks a face cannot have
  | 'duplicate_face' // the face matches ANOTHER enrolled person above the accept threshold
  | 'inconsistent_faces' // a photo of the request is not the same person as the others (unknown threshold)
  // request envelope and signature
  | 'payload_too_large' // the whole MQTT request exceeds enrollment.maxRequestBytes
  | 'malformed_request'
  | 'bad_signature'
  | 'unknown_key'
  | 'expired'
  | 'not_yet_valid'
  | 'lifetime_too_long'
  | 'wrong_device'
  | 'wrong_command'
  | 'replayed'
  | 'invalid_payload'
  // commands
  | 'unknown_person'
  | 'unlock_disabled'
  | 'stale_unlock' // a remote unlock older than enrollment.unlockMaxAgeSeconds: never carried out late
  // walk-up enrollment (capture_enroll)
  | 'capture_busy' // another walk-up capture is running on this door
  | 'capture_unavailable' // this door has no camera loop to capture from
  | 'not_live' // liveness on and the face was never judged live
  | 'too_few_frames' // fewer usable face frames than enrollment.captureMinTemplates
  | 'unlock_failed' // the door did not open (relay fault, broker of an MQTT relay away)
  | 'internal_error';

/** What goes with a refusal besides the code and message (all optional, all in the MQTT response). */
export interface RefusalExtras {
  /** What the admin can do about it, one sentence (facegate-admin prints it). */
  readonly hint?: string;
  /** Machine-readable facts: measured value and limit, the duplicated person, ... (JSON). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export class EnrollmentError extends Error {
  readonly hint?: string;
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(
    readonly code: EnrollmentErrorCode,
    message: string,
    extras: RefusalExtras = {},
  ) {
    super(message);
    this.name = 'EnrollmentError';
    if (extras.hint !== undefined) this.hint = extras.hint;
    if (extras.details !== undefined) this.details = extras.details;
  }

  /** The same refusal with a prefix on the message (e.g. which photo of a batch). */
  withContext(prefix: string): EnrollmentError {
    return new EnrollmentError(this.code, `${prefix}: ${this.message}`, {
      hint: this.hint,
      details: this.details,
    });
  }
}

/**
 * A command's `args`: a plain JSON object with only the `allowed` keys.
 *
 * @throws EnrollmentError `invalid_payload` naming the command and up to five unknown keys.
 */
export function argsObject(args: unknown, cmd: string, allowed: readonly string[]): Record<string, unknown> {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new EnrollmentError('invalid_payload', `${cmd}: args must be a JSON object`);
  }
  const extra = Object.keys(args).filter((k) => !allowed.includes(k));
  if (extra.length > 0) {
    throw new EnrollmentError('invalid_payload', `${cmd}: unknown args ${extra.slice(0, 5).join(', ')}`);
  }
  return args as Record<string, unknown>;
}
