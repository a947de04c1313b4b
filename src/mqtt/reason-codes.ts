/**
 * MQTT 5 reason codes (OASIS MQTT Version 5.0, §2.4 "Reason Code") that facegate names in
 * its logs, health report and admin messages. Codes >= 0x80 are failures.
 */
export const REASON_CODES: Readonly<Record<number, string>> = {
  0x00: 'success',
  0x04: 'disconnect with will message',
  0x10: 'no matching subscribers',
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x82: 'protocol error',
  0x83: 'implementation specific error',
  0x87: 'not authorized',
  0x89: 'server busy',
  0x8b: 'server shutting down',
  0x8d: 'keep alive timeout',
  0x8e: 'session taken over',
  0x90: 'topic name invalid',
  0x93: 'receive maximum exceeded',
  0x95: 'packet too large',
  0x96: 'message rate too high',
  0x97: 'quota exceeded',
  0x98: 'administrative action',
  0x99: 'payload format invalid',
  0x9a: 'retain not supported',
  0x9b: 'QoS not supported',
  0x9c: 'use another server',
  0x9d: 'server moved',
  0x9f: 'connection rate exceeded',
  0xa0: 'maximum connect time',
};

/** DISCONNECT 0x8E: another client connected with the same client id and took the session over. */
export const SESSION_TAKEN_OVER = 0x8e;
/** DISCONNECT / PUBACK 0x95: a packet exceeded the receiver's Maximum Packet Size. */
export const PACKET_TOO_LARGE = 0x95;
/** PUBACK 0x97: an implementation or administrative limit (e.g. Mosquitto message_size_limit). */
export const QUOTA_EXCEEDED = 0x97;
/** PUBACK / DISCONNECT 0x87: the broker's ACL refused the operation. */
export const NOT_AUTHORIZED = 0x87;

/** "0x8e session taken over" (unknown codes get only the hex). */
export function describeReasonCode(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  const name = REASON_CODES[code];
  return name ? `${hex} ${name}` : hex;
}

/**
 * Size in bytes of an MQTT 5 QoS 1 PUBLISH packet without properties (fixed header +
 * topic + packet id + empty properties + payload), to compare with a broker's Maximum
 * Packet Size before sending (§3.3).
 */
export function publishPacketSize(topic: string, payloadBytes: number): number {
  const remaining = 2 + Buffer.byteLength(topic) + 2 + 1 + payloadBytes;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}
