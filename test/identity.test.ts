import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnrollmentError } from '../src/enrollment/errors.js';
import { newNonce, newTransaction, parseEnrollArgs, parsePersonId } from '../src/enrollment/protocol.js';
import { GalleryInputError } from '../src/gallery/errors.js';
import { validatePersonId, validatePersonName, validateTransactionId } from '../src/gallery/validate.js';
import { GROUP_NAME_PATTERN } from '../src/access/schedule.js';
import {
  ACCESS_GROUP_PATTERN,
  isAccessGroupName,
  isDeviceId,
  isNonce,
  isPersonId,
  isPersonName,
  isTransactionId,
} from '../src/identity.js';
import { isValidDeviceId } from '../src/mqtt/topics.js';

/** True when `fn` accepts the value, false when it throws `errorClass`; anything else fails the test. */
function accepts(fn: () => unknown, errorClass: new (...args: never[]) => Error): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(errorClass);
    return false;
  }
}

// Strings near the rules' edges: the allowed alphabet, a few forbidden characters, lengths around the limits.
const edgy = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'aZ09._-:/ +#'.split('')), minLength: 0, maxLength: 140 }),
  fc.string({ maxLength: 140 }),
  fc.constantFrom('', 'a', '.a', '-a', 'a'.repeat(64), 'a'.repeat(65), 'a'.repeat(128), 'a'.repeat(129)),
);

describe('identity rules (src/identity.ts) are the ones every layer applies', () => {
  it('person ids: the gallery and the signed protocol accept exactly the same ones', () => {
    fc.assert(
      fc.property(edgy, (id) => {
        const gallery = accepts(() => validatePersonId(id), GalleryInputError);
        const protocol = accepts(() => parsePersonId(id), EnrollmentError);
        expect(gallery).toBe(isPersonId(id));
        expect(protocol).toBe(isPersonId(id));
      }),
    );
    expect(isPersonId('a'.repeat(64))).toBe(true);
    expect(isPersonId('a'.repeat(65))).toBe(false);
    expect(isPersonId('../etc')).toBe(false);
  });

  it('person names: a name the protocol accepts is stored as is (trimmed), and the other way round', () => {
    const names = fc.oneof(
      edgy,
      fc.constantFrom(' Alice ', 'Zoë', 'x'.repeat(100), 'x'.repeat(101), 'a\u202eb', 'a\nb', '\u0085'),
    );
    fc.assert(
      fc.property(names, (name) => {
        const gallery = accepts(() => validatePersonName(name), GalleryInputError);
        const protocol = accepts(
          () => parseEnrollArgs({ person: 'p', name, images: ['AAAA'] }, { maxImages: 1, maxImageBytes: 10 }),
          EnrollmentError,
        );
        expect(gallery).toBe(isPersonName(name));
        expect(protocol).toBe(isPersonName(name));
      }),
    );
  });

  it('transaction ids: what the admin tool generates the gallery stores', () => {
    fc.assert(
      fc.property(edgy, (id) => {
        expect(accepts(() => validateTransactionId(id), GalleryInputError)).toBe(isTransactionId(id));
      }),
    );
    for (let i = 0; i < 20; i++) {
      expect(isTransactionId(newTransaction())).toBe(true);
      expect(isNonce(newNonce())).toBe(true);
    }
  });

  it('device ids: the MQTT topics use the same rule', () => {
    fc.assert(
      fc.property(edgy, (id) => {
        expect(isValidDeviceId(id)).toBe(isDeviceId(id));
      }),
    );
    expect(isDeviceId('door-1')).toBe(true);
    expect(isDeviceId('door/1')).toBe(false);
    expect(isDeviceId('a'.repeat(65))).toBe(false);
  });

  it('access group names: the schedules and the gallery use the one rule', () => {
    expect(GROUP_NAME_PATTERN).toBe(ACCESS_GROUP_PATTERN);
    fc.assert(
      fc.property(edgy, (name) => {
        expect(isAccessGroupName(name)).toBe(ACCESS_GROUP_PATTERN.test(name));
      }),
    );
    expect(isAccessGroupName('night-shift')).toBe(true);
    expect(isAccessGroupName('-night')).toBe(false);
  });
});
