/** convict schema slice for `mqtt` (owned by src/mqtt). */
export const mqttSchema = {
  url: {
    doc: 'Broker URL: mqtt://host:1883 or mqtts://host:8883.',
    format: String,
    default: 'mqtt://127.0.0.1:1883',
    env: 'FACEGATE_MQTT_URL',
  },
  baseTopic: {
    doc: 'Base topic of this device; empty means facegate/<device.id>.',
    format: String,
    default: '',
    env: 'FACEGATE_MQTT_BASE_TOPIC',
  },
} as const;
