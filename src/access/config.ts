/** convict schema slices for `access` (decision policy) and `door` (relay and inputs); owned by src/access. */
export const accessSchema = {} as const;

export const doorSchema = {
  relay: {
    type: {
      doc: 'Relay driver: simulated, onoff (sysfs GPIO), gpiod (libgpiod), mqtt (Shelly/Tasmota-style relay).',
      format: ['simulated', 'onoff', 'gpiod', 'mqtt'],
      default: 'simulated',
      env: 'FACEGATE_RELAY_TYPE',
    },
  },
  pulseMs: {
    doc: 'How long the relay holds the door unlocked, in milliseconds.',
    format: 'nat',
    default: 3000,
    env: 'FACEGATE_DOOR_PULSE_MS',
  },
} as const;
