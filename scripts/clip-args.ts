/**
 * The `<dir> [fps]` arguments of the clip scripts (eyelid-trace, track-continuity-check):
 * throws with the usage line when the folder is missing, or when fps is not an integer
 * 1..60.
 */
export function clipArgs(argv: readonly string[], script: string): { dir: string; fps: number } {
  const [dir, fpsArg = '15'] = argv;
  if (!dir) throw new Error(`usage: ${script} <dir> [fps]`);
  const fps = Number(fpsArg);
  if (!(Number.isInteger(fps) && fps >= 1 && fps <= 60))
    throw new Error(`fps must be an integer 1..60, got '${fpsArg}'`);
  return { dir, fps };
}
