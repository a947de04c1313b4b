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
  fleetTopic: {
    doc: 'Fleet-wide base topic: requests on <fleetTopic>/request/<cmd> reach every door.',
    format: String,
    default: 'facegate/all',
    env: 'FACEGATE_MQTT_FLEET_TOPIC',
  },
  clientId: {
    doc: 'MQTT client id; empty means facegate-<device.id>. Must be fixed per device so the broker keeps its session.',
    format: String,
    default: '',
    env: 'FACEGATE_MQTT_CLIENT_ID',
  },
  username: {
    doc: 'Username for the broker; empty for none.',
    format: String,
    default: '',
    env: 'FACEGATE_MQTT_USERNAME',
  },
  password: {
    doc: 'Broker password. Prefer passwordFile: a password here or in the environment is visible to more eyes.',
    format: String,
    default: '',
    sensitive: true,
    env: 'FACEGATE_MQTT_PASSWORD',
  },
  passwordFile: {
    doc: 'File holding the broker password (trailing newline ignored), read at start-up into mqtt.password; empty for none.',
    format: String,
    default: '',
    env: 'FACEGATE_MQTT_PASSWORD_FILE',
  },
  tls: {
    caFile: {
      doc: 'PEM file of the CA that signed the broker certificate (mqtts://); empty uses the system CAs.',
      format: String,
      default: '',
      env: 'FACEGATE_MQTT_CA_FILE',
    },
    certFile: {
      doc: 'PEM client certificate for mutual TLS; empty for none.',
      format: String,
      default: '',
      env: 'FACEGATE_MQTT_CERT_FILE',
    },
    keyFile: {
      doc: 'PEM private key of the client certificate; empty for none.',
      format: String,
      default: '',
      env: 'FACEGATE_MQTT_KEY_FILE',
    },
    rejectUnauthorized: {
      doc: 'Verify the broker certificate. Only turn off for a lab broker.',
      format: Boolean,
      default: true,
      env: 'FACEGATE_MQTT_TLS_REJECT_UNAUTHORIZED',
    },
  },
  keepaliveSeconds: {
    doc: 'MQTT keepalive; the broker publishes the last will (offline) after 1.5x this without traffic.',
    format: 'nat',
    default: 30,
    env: 'FACEGATE_MQTT_KEEPALIVE_SECONDS',
  },
  sessionExpirySeconds: {
    doc: "How long the broker keeps this door's session (subscriptions and queued QoS 1 requests) while it is offline.",
    format: 'nat',
    default: 7 * 24 * 3600,
    env: 'FACEGATE_MQTT_SESSION_EXPIRY_SECONDS',
  },
  connectTimeoutMs: {
    doc: 'Give up one connection attempt after this many milliseconds (then retry with backoff).',
    format: 'nat',
    default: 10_000,
    env: 'FACEGATE_MQTT_CONNECT_TIMEOUT_MS',
  },
  reconnect: {
    minMs: {
      doc: 'First reconnect delay after the connection is lost; doubles on each failure up to maxMs. Retries never stop.',
      format: 'nat',
      default: 1000,
      env: 'FACEGATE_MQTT_RECONNECT_MIN_MS',
    },
    maxMs: {
      doc: 'Largest reconnect delay.',
      format: 'nat',
      default: 30_000,
      env: 'FACEGATE_MQTT_RECONNECT_MAX_MS',
    },
  },
  requests: {
    maxBytes: {
      doc: 'Largest request payload accepted on <base>/request/<cmd>; larger ones get a payload_too_large error response.',
      format: 'nat',
      default: 8 * 1024 * 1024,
      env: 'FACEGATE_MQTT_REQUEST_MAX_BYTES',
    },
    maxConcurrent: {
      doc: 'Requests handled at the same time; more get a busy error response instead of piling up.',
      format: 'nat',
      default: 16,
      env: 'FACEGATE_MQTT_REQUEST_MAX_CONCURRENT',
    },
  },
  stateIntervalMs: {
    doc: 'How often <base>/state is checked and republished when it changed (retained).',
    format: 'nat',
    default: 5000,
    env: 'FACEGATE_MQTT_STATE_INTERVAL_MS',
  },
  homeAssistant: {
    enabled: {
      doc: 'Publish Home Assistant MQTT discovery configs.',
      format: Boolean,
      default: true,
      env: 'FACEGATE_HA_ENABLED',
    },
    prefix: {
      doc: 'Home Assistant discovery prefix; <prefix>/status "online" makes the door re-send its configs.',
      format: String,
      default: 'homeassistant',
      env: 'FACEGATE_HA_PREFIX',
    },
    allowUnlock: {
      doc: 'Let Home Assistant unlock the door (a lock entity with a command topic). Off: a read-only lock sensor. Anyone who can publish to the command topic can then open the door: protect it with broker ACLs.',
      format: Boolean,
      default: false,
      env: 'FACEGATE_HA_ALLOW_UNLOCK',
    },
    deviceName: {
      doc: 'Device name shown in Home Assistant; empty means "Facegate <device.id>".',
      format: String,
      default: '',
      env: 'FACEGATE_HA_DEVICE_NAME',
    },
  },
} as const;

/** The typed `mqtt` slice handed to the MQTT components. */
export interface MqttConfig {
  url: string;
  baseTopic: string;
  fleetTopic: string;
  clientId: string;
  username: string;
  password: string;
  passwordFile: string;
  tls: { caFile: string; certFile: string; keyFile: string; rejectUnauthorized: boolean };
  keepaliveSeconds: number;
  sessionExpirySeconds: number;
  connectTimeoutMs: number;
  reconnect: { minMs: number; maxMs: number };
  requests: { maxBytes: number; maxConcurrent: number };
  stateIntervalMs: number;
  homeAssistant: { enabled: boolean; prefix: string; allowUnlock: boolean; deviceName: string };
}

/** Defaults read from the schema above, for tests and tools that build a config without convict. */
export function defaultMqttConfig(overrides: Partial<MqttConfig> = {}): MqttConfig {
  return { ...(defaultsOf(mqttSchema) as MqttConfig), ...overrides };
}

function defaultsOf(node: object): unknown {
  if ('doc' in node && 'default' in node) return node.default;
  return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, defaultsOf(child as object)]));
}
