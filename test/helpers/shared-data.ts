import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';

/**
 * The developers' evaluation data and field cases live outside the repository, in
 * `../shared` beside the checkout (or where FACEGATE_SHARED_DIR points). They are for
 * evaluation and tuning only and are never committed, so every test that reads them skips
 * with a clear message on a machine that does not have them.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of the shared folder (it may not exist). */
export const SHARED_DIR = resolve(process.env.FACEGATE_SHARED_DIR ?? join(repoRoot, '..', 'shared'));

/** Absolute path inside the shared folder, e.g. `sharedDataPath('field-cases', 'enroll')`. */
export function sharedDataPath(...parts: string[]): string {
  return join(SHARED_DIR, ...parts);
}

/** True when `sharedDataPath(...parts)` exists on this machine. */
export function hasSharedData(...parts: string[]): boolean {
  return existsSync(sharedDataPath(...parts));
}

/**
 * `describe` that runs only when the shared path exists; otherwise the suite is skipped and
 * its title says what is missing, so a skip is never silent.
 */
export function describeWithShared(parts: readonly string[], title: string, fn: () => void): void {
  const present = hasSharedData(...parts);
  const label = present
    ? title
    : `${title} (skipped: ${sharedDataPath(...parts)} is absent; it holds evaluation data that is never committed)`;
  describe.skipIf(!present)(label, fn);
}
