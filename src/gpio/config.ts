/**
 * convict schema pieces and typed configs of the GPIO lines (relay, door contact, exit
 * button), owned by src/gpio; the `door` slice (src/access/config.ts) is built from them,
 * so src/gpio never imports src/access.
 */

const INPUT_TYPES = ['none', 'simulated', 'onoff', 'gpiod'] as const;

function gpioLine(value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 1023) {
    throw new Error('must be a GPIO line offset 0..1023');
  }
}

/** The `door.relay` schema: driver and line (or MQTT topic) of the lock relay. */
export const relaySchema = {
  type: {
    doc: 'Relay driver: simulated, onoff (sysfs GPIO), gpiod (libgpiod gpioset), mqtt (Shelly/Tasmota-style relay).',
    format: ['simulated', 'onoff', 'gpiod', 'mqtt'] as const,
    default: 'simulated' as 'simulated' | 'onoff' | 'gpiod' | 'mqtt',
    env: 'FACEGATE_RELAY_TYPE',
  },
  chip: {
    doc: 'onoff/gpiod: gpiochip label (pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 on a Pi 4), name (gpiochip0) or "auto" (the Raspberry Pi header chip).',
    format: String,
    default: 'auto',
    env: 'FACEGATE_RELAY_CHIP',
  },
  line: {
    doc: 'onoff/gpiod: line offset within the chip (the BCM GPIO number on a Raspberry Pi).',
    format: gpioLine,
    default: 17,
    env: 'FACEGATE_RELAY_LINE',
  },
  activeLow: {
    doc: 'onoff/gpiod: the relay is energised (door unlocked) by driving the line low (most opto-isolated relay boards).',
    format: Boolean,
    default: false,
    env: 'FACEGATE_RELAY_ACTIVE_LOW',
  },
  commandTopic: {
    doc: 'mqtt: topic that switches the relay (Shelly Gen1: shellies/<id>/relay/0/command; Tasmota: cmnd/<topic>/POWER).',
    format: String,
    default: '',
    env: 'FACEGATE_RELAY_COMMAND_TOPIC',
  },
  payloadUnlock: {
    doc: 'mqtt: payload that energises the relay (Shelly: on, Tasmota: ON).',
    format: String,
    default: 'on',
    env: 'FACEGATE_RELAY_PAYLOAD_UNLOCK',
  },
  payloadLock: {
    doc: 'mqtt: payload that releases the relay (Shelly: off, Tasmota: OFF).',
    format: String,
    default: 'off',
    env: 'FACEGATE_RELAY_PAYLOAD_LOCK',
  },
} as const;

/** The schema of one input line (`door.contact`, `door.exitButton`). */
export function inputSchema(name: string, envName: string, doc: string) {
  return {
    type: {
      doc: `${doc} driver: none, simulated (never changes by itself), onoff (sysfs), gpiod (gpiomon).`,
      format: INPUT_TYPES,
      default: 'none' as (typeof INPUT_TYPES)[number],
      env: `FACEGATE_DOOR_${envName}_TYPE`,
    },
    chip: {
      doc: `${name}: gpiochip label (e.g. pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 on a Pi 4), name (gpiochip0) or "auto" (the Raspberry Pi header chip).`,
      format: String,
      default: 'auto',
      env: `FACEGATE_DOOR_${envName}_CHIP`,
    },
    line: {
      doc: `${name}: line offset within the chip (the BCM GPIO number on a Raspberry Pi).`,
      format: gpioLine,
      default: 0,
      env: `FACEGATE_DOOR_${envName}_LINE`,
    },
    activeLow: {
      doc: `${name}: the input is active (door open / button pressed) when the line reads 0.`,
      format: Boolean,
      default: false,
      env: `FACEGATE_DOOR_${envName}_ACTIVE_LOW`,
    },
  };
}

export type RelayType = 'simulated' | 'onoff' | 'gpiod' | 'mqtt';
export type InputType = (typeof INPUT_TYPES)[number];

export interface GpioLineConfig {
  readonly chip: string;
  readonly line: number;
  readonly activeLow: boolean;
}

export interface RelayConfig extends GpioLineConfig {
  readonly type: RelayType;
  readonly commandTopic: string;
  readonly payloadUnlock: string;
  readonly payloadLock: string;
}

export interface InputConfig extends GpioLineConfig {
  readonly type: InputType;
}

/** The GPIO-level checks of a door's lines: MQTT relay settings, no line used twice. */
export function checkGpioLines(c: {
  readonly relay: RelayConfig;
  readonly contact: InputConfig;
  readonly exitButton: InputConfig;
}): string[] {
  const errors: string[] = [];
  if (c.relay.type === 'mqtt' && c.relay.commandTopic.trim() === '') {
    errors.push('door.relay.commandTopic is required when door.relay.type is mqtt');
  }
  if (c.relay.type === 'mqtt' && /[#+]/.test(c.relay.commandTopic)) {
    errors.push('door.relay.commandTopic must not contain MQTT wildcards');
  }
  if (c.relay.type === 'mqtt' && c.relay.payloadLock === c.relay.payloadUnlock) {
    errors.push('door.relay.payloadLock and door.relay.payloadUnlock must differ');
  }
  const gpio = (t: string) => t === 'onoff' || t === 'gpiod';
  const used: { what: string; cfg: GpioLineConfig; type: string }[] = [
    { what: 'door.relay', cfg: c.relay, type: c.relay.type },
    { what: 'door.contact', cfg: c.contact, type: c.contact.type },
    { what: 'door.exitButton', cfg: c.exitButton, type: c.exitButton.type },
  ].filter((u) => gpio(u.type));
  for (let i = 0; i < used.length; i++) {
    for (let j = i + 1; j < used.length; j++) {
      if (used[i].cfg.chip === used[j].cfg.chip && used[i].cfg.line === used[j].cfg.line) {
        errors.push(`${used[i].what} and ${used[j].what} use the same GPIO line ${used[i].cfg.line}`);
      }
    }
  }
  return errors;
}
