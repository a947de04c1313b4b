import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Save/load of TF.js layers models as model.json + weights.bin on the local disk, the
 * same files `file://` writes with tfjs-node, but in plain Node (no native addon).
 * Extra metadata (e.g. the Siamese head) goes into model.json's userDefinedMetadata.
 */
export function fileSaveHandler(dir: string, metadata?: Record<string, unknown>): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new Error('binary model topologies are not supported');
      const weights =
        artifacts.weightData === undefined ? new ArrayBuffer(0) : joinWeights(artifacts.weightData);
      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), ...(metadata ?? {}) },
      };
      await fs.mkdir(dir, { recursive: true });
      // Write-then-rename: a crash mid-save never leaves a half-written model behind.
      await writeAtomic(path.join(dir, WEIGHTS_FILE), new Uint8Array(weights));
      await writeAtomic(path.join(dir, MODEL_FILE), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  userDefinedMetadata?: Record<string, unknown>;
}

/** Reads model.json (+ the weight files it names) from `dir`, validating what it can. */
export async function readModelArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const jsonPath = path.join(dir, MODEL_FILE);
  let parsed: ModelJson;
  try {
    parsed = JSON.parse(await fs.readFile(jsonPath, 'utf8')) as ModelJson;
  } catch (err) {
    throw new Error(`cannot read model ${jsonPath}: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.modelTopology !== 'object') {
    throw new Error(`${jsonPath} has no modelTopology: not a TF.js layers model`);
  }
  const manifest = parsed.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new Error(`${jsonPath}: weightsManifest must be an array`);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      if (path.isAbsolute(p) || p.split(/[\\/]/).includes('..'))
        throw new Error(`${jsonPath}: unsafe weight path ${p}`);
      const file = path.join(dir, p);
      chunks.push(
        new Uint8Array(
          await fs.readFile(file).catch((err: Error) => {
            throw new Error(`cannot read weights ${file}: ${err.message}`);
          }),
        ),
      );
    }
    specs.push(...group.weights);
  }
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * bytesPer(s.dtype), 0);
  if (total !== expected)
    throw new Error(`${dir}: weights hold ${total} bytes, the manifest expects ${expected}`);
  const weightData = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    weightData.set(c, off);
    off += c.byteLength;
  }
  return {
    modelTopology: parsed.modelTopology as object,
    format: parsed.format,
    generatedBy: parsed.generatedBy,
    convertedBy: parsed.convertedBy ?? undefined,
    weightSpecs: specs,
    weightData: weightData.buffer,
    userDefinedMetadata: (parsed.userDefinedMetadata ?? {}) as { [key: string]: object },
  };
}

export function fileLoadHandler(dir: string): tf.io.IOHandler {
  return { load: () => readModelArtifacts(dir) };
}

/** sha256 of the weight bytes: identifies a trained model independent of where it lives. */
export async function weightsHash(dir: string): Promise<string> {
  const bytes = await fs.readFile(path.join(dir, WEIGHTS_FILE));
  return createHash('sha256').update(bytes).digest('hex');
}

function bytesPer(dtype: string): number {
  if (dtype === 'float32' || dtype === 'int32') return 4;
  if (dtype === 'bool' || dtype === 'uint8') return 1;
  if (dtype === 'float16' || dtype === 'uint16') return 2;
  throw new Error(`unsupported weight dtype ${dtype}`);
}

function joinWeights(data: tf.io.WeightData): ArrayBuffer {
  return Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
}

async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}
