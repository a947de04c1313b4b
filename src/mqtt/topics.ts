import { isDeviceId } from '../identity.js';

/**
 * Topic names of the public MQTT contract (docs/mqtt.md), built in one place so the
 * daemon, the admin tool and the tests agree.
 */
export interface Topics {
  readonly base: string;
  readonly fleet: string;
  readonly availability: string;
  readonly state: string;
  readonly events: string;
  /** `<base>/request/+` */
  readonly requestFilter: string;
  /** `<fleet>/request/+` */
  readonly fleetRequestFilter: string;
  request(cmd: string): string;
  fleetRequest(cmd: string): string;
  response(cmd: string): string;
}

/** The device id rule of src/identity.ts. */
export function isValidDeviceId(id: string): boolean {
  return isDeviceId(id);
}

/** `mqtt.baseTopic`, or `facegate/<deviceId>` when it is empty. */
export function resolveBaseTopic(baseTopic: string, deviceId: string): string {
  const base = baseTopic.trim() === '' ? `facegate/${deviceId}` : baseTopic.trim();
  validateTopicPrefix(base, 'mqtt.baseTopic');
  return base;
}

export function validateTopicPrefix(prefix: string, what: string): void {
  if (prefix === '' || /[#+\0]/.test(prefix) || prefix.startsWith('/') || prefix.endsWith('/')) {
    throw new Error(
      `${what} "${prefix}" is not a valid topic prefix (no wildcards, no leading/trailing "/")`,
    );
  }
}

export function topicsFor(base: string, fleet = 'facegate/all'): Topics {
  validateTopicPrefix(base, 'base topic');
  validateTopicPrefix(fleet, 'fleet topic');
  return {
    base,
    fleet,
    availability: `${base}/availability`,
    state: `${base}/state`,
    events: `${base}/events`,
    requestFilter: `${base}/request/+`,
    fleetRequestFilter: `${fleet}/request/+`,
    request: (cmd) => `${base}/request/${cmd}`,
    fleetRequest: (cmd) => `${fleet}/request/${cmd}`,
    response: (cmd) => `${base}/response/${cmd}`,
  };
}

/** MQTT topic filter matching (`+` one level, `#` the rest), as the broker does it. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // also matches the parent level, as in the spec
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
