import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** One vendored TF.js graph model: its model.json name and the sha256 of both files. */
export interface VendoredGraphFile {
  readonly json: string;
  readonly sha256Json: string;
  readonly sha256Weights: string;
}

interface GraphModelJson {
  readonly format?: string;
  readonly modelTopology?: unknown;
  readonly signature?: unknown;
  readonly userDefinedMetadata?: { signature?: unknown };
  readonly weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/**
 * Loads a single-file TF.js graph model vendored in `dir` (models/liveness) with our own
 * TF.js (a file IO handler: no fetch), after checking both files' sha256 against `file`:
 * a swapped or damaged model file is refused, never run. Throws naming the file.
 */
export async function loadVendoredGraph(dir: string, file: VendoredGraphFile): Promise<tf.GraphModel> {
  const jsonPath = path.join(dir, file.json);
  const jsonBytes = await readFile(jsonPath).catch((err: Error) => {
    throw new Error(`cannot read liveness model ${jsonPath}: ${err.message}`);
  });
  checkSha(jsonPath, jsonBytes, file.sha256Json);
  const parsed = JSON.parse(jsonBytes.toString('utf8')) as GraphModelJson;
  const group = parsed.weightsManifest?.[0];
  if (typeof parsed.modelTopology !== 'object' || !group || group.paths.length !== 1)
    throw new Error(`${jsonPath}: not a single-file TF.js graph model`);
  const weightsPath = path.join(dir, path.basename(group.paths[0]));
  const weights = await readFile(weightsPath).catch((err: Error) => {
    throw new Error(`cannot read liveness weights ${weightsPath}: ${err.message}`);
  });
  checkSha(weightsPath, weights, file.sha256Weights);
  const handler: tf.io.IOHandler = {
    load: () =>
      Promise.resolve({
        modelTopology: parsed.modelTopology as object,
        format: parsed.format,
        signature: (parsed.signature ?? parsed.userDefinedMetadata?.signature) as object | undefined,
        weightSpecs: group.weights,
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
  };
  return tf.loadGraphModel(handler);
}

function checkSha(file: string, bytes: Uint8Array, expected: string): void {
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== expected) throw new Error(`${file}: sha256 ${got} is not the vendored file's ${expected}`);
}
