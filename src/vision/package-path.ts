import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Relative paths (models/..., data/replay) are tried against the working directory, then
 * against the package root, so `npm start`, tests, tools and the installed dist/ build all
 * find the shipped files.
 */
export function resolvePackagePath(path: string): string {
  if (isAbsolute(path)) return path;
  const fromCwd = resolve(path);
  if (existsSync(fromCwd)) return fromCwd;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) {
      const candidate = join(dir, path);
      if (existsSync(candidate)) return candidate;
    }
    dir = dirname(dir);
  }
  return fromCwd;
}
