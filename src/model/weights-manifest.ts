import type * as tf from '@tensorflow/tfjs';

/** The weights files and tensor list of a TF.js weights manifest (`*-weights_manifest.json`). */
export interface Manifest {
  readonly paths: string[];
  readonly weights: tf.io.WeightsManifestEntry[];
}

/**
 * Validates a TF.js weights manifest: groups of `paths` (files inside the model folder, no
 * `..`, not absolute) and `weights` entries.
 *
 * @throws Error naming `where` when it is not a manifest or a path leaves the folder.
 */
export function parseManifest(json: unknown, where: string): Manifest {
  if (!Array.isArray(json) || json.length === 0) throw new Error(`${where}: not a tfjs weights manifest`);
  const paths: string[] = [];
  const weights: tf.io.WeightsManifestEntry[] = [];
  for (const group of json as unknown[]) {
    const g = group as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(g.paths) || !Array.isArray(g.weights))
      throw new Error(`${where}: group without paths/weights`);
    for (const p of g.paths) {
      if (typeof p !== 'string' || p.includes('..') || p.startsWith('/'))
        throw new Error(`${where}: bad weights path ${String(p)}`);
      paths.push(p);
    }
    weights.push(...(g.weights as tf.io.WeightsManifestEntry[]));
  }
  return { paths, weights };
}
