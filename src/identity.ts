/**
 * The identity rules of facegate, in ONE place: what a person id, a person's display name,
 * a device id, a request transaction id and a request nonce may look like. The gallery,
 * the signed request protocol, the admin tool, the MQTT topics and the config all check
 * against these, so a value one of them accepts is never refused by another.
 *
 * Each check is a type guard; callers throw their own error class (GalleryInputError,
 * EnrollmentError, a convict format error) with the matching `*_RULE` text.
 */

/** Person id: the folder name on import and the key in the gallery. 1..64 characters. */
export const PERSON_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PERSON_ID_RULE = "1..64 letters, digits, '.', '_' or '-', starting with a letter or digit";

/** Access group name: the same characters as a person id (it travels in MQTT payloads and logs). */
export const ACCESS_GROUP_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const ACCESS_GROUP_RULE = PERSON_ID_RULE;

/** Display name: shown in events, UIs and logs as is, so printable only. */
export const MAX_PERSON_NAME_LENGTH = 100;
export const PERSON_NAME_RULE = `1..${MAX_PERSON_NAME_LENGTH} printable characters`;

/** Device id: part of MQTT topics, so no '/', '+', '#' or spaces. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const DEVICE_ID_RULE = '1..64 letters, digits, "-" or "_" (it is part of MQTT topics)';

/** Request transaction id: chosen by the sender, echoed in the response, stored for idempotency. */
export const TRANSACTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const MAX_TRANSACTION_ID_LENGTH = 128;
export const TRANSACTION_ID_RULE = '1..128 characters [A-Za-z0-9._:-], starting with a letter or digit';

/** Request nonce (replay guard): 16..128 base64url characters (at least 96 bits). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
export const NONCE_RULE = '16..128 base64url characters';

/** Free text shown to people (unlock reasons): same printable rule as names. */
export const MAX_REASON_LENGTH = 200;

// Control characters and bidi overrides: names are shown in UIs and logs as they are.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export function isPersonId(value: unknown): value is string {
  return typeof value === 'string' && PERSON_ID_PATTERN.test(value);
}

/** True for 1..`max` characters (after trimming, at least one), none of them unprintable. */
export function isPrintableText(value: unknown, max: number): value is string {
  return (
    typeof value === 'string' && value.trim().length > 0 && value.length <= max && !UNPRINTABLE.test(value)
  );
}

/** A display name as stored: check with this, then store `value.trim()`. */
export function isPersonName(value: unknown): value is string {
  return isPrintableText(value, MAX_PERSON_NAME_LENGTH);
}

export function isAccessGroupName(value: unknown): value is string {
  return typeof value === 'string' && ACCESS_GROUP_PATTERN.test(value);
}

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID_PATTERN.test(value);
}

export function isTransactionId(value: unknown): value is string {
  return typeof value === 'string' && TRANSACTION_ID_PATTERN.test(value);
}

export function isNonce(value: unknown): value is string {
  return typeof value === 'string' && NONCE_PATTERN.test(value);
}
