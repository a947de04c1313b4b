import { accessSchema, doorSchema } from '../access/config.js';
import { cameraSchema } from '../camera/config.js';
import { enrollmentSchema } from '../enrollment/config.js';
import { gallerySchema } from '../gallery/config.js';
import { modelSchema } from '../model/config.js';
import { mqttSchema } from '../mqtt/config.js';
import { pipelineSchema } from '../pipeline/config.js';
import { liveViewSchema, logSchema, metricsSchema } from '../ops/config.js';
import { DEVICE_ID_RULE, isDeviceId } from '../identity.js';
import { visionSchema } from '../vision/config.js';

/** convict format of device.id: it becomes part of MQTT topics, so no '/', '+', '#' or spaces. */
function deviceId(value: unknown): void {
  if (!isDeviceId(value)) throw new Error(`must be ${DEVICE_ID_RULE}`);
}

/**
 * The one convict schema. Each component owns its slice (in its own folder) and receives
 * only that slice, typed, from app.ts.
 */
export const schema = {
  device: {
    id: {
      doc: 'This door\'s id: letters, digits, "-" and "_"; used in MQTT topics and request addressing.',
      format: deviceId,
      default: 'door-1',
      env: 'FACEGATE_DEVICE_ID',
    },
    stateDir: {
      doc: 'Directory for runtime state (systemd StateDirectory in production).',
      format: String,
      default: '.state',
      env: 'FACEGATE_STATE_DIR',
    },
  },
  camera: cameraSchema,
  vision: visionSchema,
  model: modelSchema,
  gallery: gallerySchema,
  access: accessSchema,
  pipeline: pipelineSchema,
  door: doorSchema,
  mqtt: mqttSchema,
  enrollment: enrollmentSchema,
  log: logSchema,
  metrics: metricsSchema,
  liveView: liveViewSchema,
};

type Widen<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends readonly (infer E)[]
        ? readonly Widen<E>[]
        : T;

/** The value type of one schema leaf: a format list gives a union, else the default's type. */
type LeafValue<S> = S extends { format: readonly (infer U)[] }
  ? U
  : S extends { default: infer D }
    ? Widen<D>
    : never;

/** The typed configuration a schema (or slice) produces. */
export type ConfigOf<S> = {
  readonly [K in keyof S]: S[K] extends { doc: string; default: unknown } ? LeafValue<S[K]> : ConfigOf<S[K]>;
};

/** The whole loaded configuration (see loadConfig in ./load.ts). */
export type FacegateConfig = ConfigOf<typeof schema>;
