import type { Embedder } from '../model/embedder.js';
import { modelDirFor, type ModelConfig } from '../model/config.js';
import { loadEmbedder } from '../model/load.js';
import { loadPretrainedEmbedder } from '../model/pretrained/embedder.js';
import type { Logger } from '../util/log.js';

/**
 * The configured sister network (`model.backbone`: the pretrained face-api.js ResNet +
 * Siamese head, or the scratch network), on the configured TF.js backend. One definition
 * for the daemon (compose.ts) and the face worker thread, so both load the same weights.
 */
export async function loadModelFor(model: ModelConfig, logger: Logger): Promise<Embedder> {
  if (model.backbone === 'faceapi')
    return loadPretrainedEmbedder(modelDirFor(model), logger, { backend: model.tfBackend });
  return loadEmbedder(model.path, logger, { backend: model.tfBackend });
}
