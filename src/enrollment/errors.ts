/**
 * Why a request or photo was refused. The codes are part of the public MQTT contract
 * (docs/enrollment.md): the admin tool shows them and fleets alert on them.
 */
export type EnrollmentErrorCode =
  // photo
  | 'too_large' // the photo's bytes exceed enrollment.maxImageBytes
  | 'not_an_image' // not a JPEG or PNG, or it does not decode
  | 'image_too_big' // declared dimensions over the limits (decompression-bomb guard)
  | 'no_face'
  | 'several_faces'
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
  | 'internal_error';

export class EnrollmentError extends Error {
  constructor(
    readonly code: EnrollmentErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EnrollmentError';
  }
}
