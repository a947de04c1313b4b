/** convict schema slice for `model` (owned by src/model). */
export const modelSchema = {
  path: {
    doc: 'Folder of the trained Siamese model (model.json, weights.bin, metrics.json).',
    format: String,
    default: 'models/siamese',
    env: 'FACEGATE_MODEL_PATH',
  },
  backbone: {
    doc: 'Sister network: faceapi (default: pretrained face-api.js ResNet + Siamese head, model.pretrainedPath; far fewer false accepts on strangers) or scratch (the write-up CNN trained on Olivetti, model.path; see docs/backbones.md). Changing it re-embeds the gallery from its stored crops (new model id).',
    format: ['scratch', 'faceapi'],
    default: 'faceapi',
    env: 'FACEGATE_MODEL_BACKBONE',
  },
  pretrainedPath: {
    doc: 'Folder of the pretrained-backbone model (facegate-pretrained.json + backbone/ weights), used when model.backbone is faceapi.',
    format: String,
    default: 'models/faceapi-siamese',
    env: 'FACEGATE_MODEL_PRETRAINED_PATH',
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
  /** Absent means scratch (configs written before the pretrained backbone). */
  readonly backbone?: 'scratch' | 'faceapi';
  readonly pretrainedPath?: string;
}

/** The model folder the configured backbone loads from. */
export function modelDirFor(model: ModelConfig): string {
  return model.backbone === 'faceapi' ? (model.pretrainedPath ?? 'models/faceapi-siamese') : model.path;
}
