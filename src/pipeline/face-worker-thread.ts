/**
 * The face worker thread (started by FaceWorker, face-worker.ts): its own TensorFlow.js and
 * wasm backend instance, the same landmark model and sister network the daemon loads, so
 * landmarks, alignment and the embedding of frame n run here while the main thread detects
 * frame n+1 and keeps the event loop free for MQTT and the relay.
 *
 * One request at a time, in order (the client bounds what it sends). Every tensor is freed
 * per request by the embedder and the landmark net themselves; the reply carries the
 * worker's tensor count so a leak shows in the loop's metrics.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { loadModelFor } from './load-model.js';
import { createFaceCropper } from '../model/face-path.js';
import { cropGeometryOf } from '../model/embedder.js';
import { createLogger } from '../util/log.js';
import { createGrayImage } from '../vision/image.js';
import type { EncodeRequest, FaceWorkerInit, FromWorker } from './face-worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('face-worker-thread must run in a worker thread');
const init = workerData as FaceWorkerInit;
const logger = createLogger(init.logLevel, { destination: 2 }).child({ module: 'face-worker' });

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const ready = (async () => {
  const embedder = await loadModelFor(init.model, logger);
  if (embedder.modelId !== init.expectModelId) {
    embedder.dispose();
    throw new Error(
      `the worker loaded model ${embedder.modelId}, the daemon runs ${init.expectModelId}: not the same weights`,
    );
  }
  const cropper = await createFaceCropper(cropGeometryOf(embedder), init.landmarkDir, logger);
  return { embedder, cropper };
})();

ready.then(
  ({ embedder }) => send({ type: 'ready', modelId: embedder.modelId, backend: tf.getBackend() }),
  (err: unknown) => send({ type: 'fatal', error: message(err) }),
);

port.on('message', (msg: EncodeRequest) => void encode(msg));

async function encode(req: EncodeRequest): Promise<void> {
  let stage: 'align' | 'embed' = 'align';
  try {
    const { embedder, cropper } = await ready;
    // A view of the client's shared slot: read in place, never kept past this request.
    const image = createGrayImage(
      req.width,
      req.height,
      new Uint8Array(req.pixels, 0, req.width * req.height),
    );
    const t0 = performance.now();
    const crops = await cropper.crop(
      image,
      req.faces.map((box) => ({ box })),
    );
    const t1 = performance.now();
    stage = 'embed';
    const vectors = await embedder.embed(crops.map((c) => c.input));
    const t2 = performance.now();
    if (vectors.length !== crops.length)
      throw new Error(`embedder returned ${vectors.length} embeddings for ${crops.length} faces`);
    const dimension = embedder.dimension;
    const flat = new Float32Array(vectors.length * dimension);
    vectors.forEach((v, i) => flat.set(v, i * dimension));
    send(
      {
        type: 'encoded',
        id: req.id,
        crops: crops.map((c) => ({
          region: c.region,
          alignment: c.alignment,
          ...(c.fallback ? { fallback: c.fallback } : {}),
        })),
        embeddings: flat.buffer,
        dimension,
        alignMs: t1 - t0,
        embedMs: t2 - t1,
        tensors: tf.memory().numTensors,
      },
      [flat.buffer],
    );
  } catch (err) {
    send({ type: 'failed', id: req.id, stage, error: message(err) });
  }
}
