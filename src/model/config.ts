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

/** The typed `model` slice the daemon hands to the model loader. */
export interface ModelConfig {
  readonly path: string;
  readonly tfBackend: 'auto' | 'node' | 'wasm' | 'cpu';
}
