import { accessSchema, doorSchema } from '../access/config.js';
import { cameraSchema } from '../camera/config.js';
import { enrollmentSchema } from '../enrollment/config.js';
import { gallerySchema } from '../gallery/config.js';
import { modelSchema } from '../model/config.js';
import { mqttSchema } from '../mqtt/config.js';
import { logSchema, metricsSchema } from '../ops/config.js';
import { visionSchema } from '../vision/config.js';

/**
 * The one convict schema. Each component owns its slice (in its own folder) and receives
 * only that slice, typed, from app.ts.
 */
export const schema = {
  device: {
    id: {
      doc: 'This door\'s id: letters, digits, "-" and "_"; used in MQTT topics and request addressing.',
      format: String,
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
  door: doorSchema,
  mqtt: mqttSchema,
  enrollment: enrollmentSchema,
  log: logSchema,
  metrics: metricsSchema,
};
