/** convict schema slice for `model` (owned by src/model). */
export const modelSchema = {
  path: {
    doc: 'Folder of the trained Siamese model (model.json, weights.bin, metrics.json).',
    format: String,
    default: 'models/siamese',
    env: 'FACEGATE_MODEL_PATH',
  },
  tfBackend: {
    doc: 'TensorFlow.js backend: auto (tfjs-node if it loads, else wasm, else cpu), node, wasm, cpu. FACEGATE_TF_BACKEND also forces it.',
    format: ['auto', 'node', 'wasm', 'cpu'],
    default: 'auto',
    env: 'FACEGATE_TF_BACKEND',
  },
} as const;
