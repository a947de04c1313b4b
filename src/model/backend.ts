import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { Logger } from '../util/log.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';

export type BackendPreference = 'auto' | 'node' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'node', 'wasm', 'cpu'];

export function parseBackendPreference(value: string | undefined): BackendPreference {
  if (value === undefined || value === '') return 'auto';
  if ((BACKEND_PREFERENCES as readonly string[]).includes(value)) return value as BackendPreference;
  throw new Error(`unknown TF backend "${value}": expected one of ${BACKEND_PREFERENCES.join(', ')}`);
}

/**
 * Loads the native TensorFlow binding. It registers the `tensorflow` backend with the
 * tfjs-core we already imported (all @tensorflow packages are pinned to one version).
 * require(), not import(): a failed native load must be catchable and synchronous.
 */
function tryLoadTfjsNode(): Error | null {
  try {
    createRequire(import.meta.url)('@tensorflow/tfjs-node');
    return null;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The folder holding the .wasm binaries (Node cannot fetch them relative to a page). */
export function wasmBinaryDir(): string {
  const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist') + path.sep;
}

let wasmPathsSet = false;

async function trySetBackend(name: BackendName): Promise<Error | null> {
  try {
    if (name === 'tensorflow') {
      const err = tryLoadTfjsNode();
      if (err) return err;
    }
    if (name === 'wasm') {
      if (!wasmPathsSet) {
        // Must happen before the wasm backend is first initialised; global to tfjs by design.
        setWasmPaths(wasmBinaryDir());
        wasmPathsSet = true;
      }
      registerWasmTrainingKernels();
    }
    if (tf.findBackend(name) === null && !tf.engine().registryFactory[name]) {
      return new Error(`backend ${name} is not registered`);
    }
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name ? null : new Error(`backend ${name} failed to initialise`);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * Picks the TensorFlow.js backend: tfjs-node when its native addon loads, else wasm
 * (SIMD, portable), else the pure-JS cpu backend. A forced preference that cannot load
 * is an error, not a silent downgrade. The choice (and why) is logged.
 */
export async function chooseBackend(preference: BackendPreference, logger: Logger): Promise<BackendName> {
  const order: BackendName[] =
    preference === 'auto'
      ? ['tensorflow', 'wasm', 'cpu']
      : [preference === 'node' ? 'tensorflow' : preference];
  const failures: string[] = [];
  for (const name of order) {
    if (tf.engine().backendName === name && (name !== 'wasm' || wasmPathsSet)) {
      if (name === 'wasm') registerWasmTrainingKernels();
      logger.info({ backend: name, preference }, 'tensorflow backend already active');
      return name;
    }
    const err = await trySetBackend(name);
    if (err === null) {
      logger.info({ backend: name, preference, skipped: failures }, 'tensorflow backend chosen');
      return name;
    }
    failures.push(`${name}: ${firstLine(err.message)}`);
    logger.debug({ backend: name, err: err.message }, 'tensorflow backend unavailable');
  }
  throw new Error(`no usable TensorFlow.js backend for preference "${preference}": ${failures.join('; ')}`);
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.length > 160 ? line.slice(0, 157) + '...' : line;
}
