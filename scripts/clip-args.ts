import { existsSync, statSync } from 'node:fs';

/**
 * The `<dir> [fps]` arguments of the clip scripts (eyelid-trace, track-continuity-check):
 * throws with the usage line when the folder is missing or not a folder, or when fps is not
 * an integer 1..60 — before any model loads.
 */
export function clipArgs(argv: readonly string[], script: string): { dir: string; fps: number } {
  const [dir, fpsArg = '15'] = argv;
  if (!dir || dir.startsWith('-')) throw new Error(`usage: ${script} <dir> [fps]`);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`${dir}: not a folder (usage: ${script} <dir> [fps])`);
  const fps = Number(fpsArg);
  if (!(Number.isInteger(fps) && fps >= 1 && fps <= 60))
    throw new Error(`fps must be an integer 1..60, got '${fpsArg}'`);
  return { dir, fps };
}
