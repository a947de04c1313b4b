import { lstat, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/**
 * The one reader of "a folder of person folders" (`<root>/<person>/<image>`), used by
 * `evaluate`, training data loading and `facegate gallery import`, so all of them see the
 * same people and the same photos. Symbolic links are followed, for person folders and for
 * image files alike (a dataset assembled from links is common; issue #15 item 6).
 */

/** One person's folder: its name and its image files (absolute paths, natural order). */
export interface PersonFolder {
  readonly person: string;
  readonly dir: string;
  readonly files: readonly string[];
}

export interface ReadPersonFoldersOptions {
  /** Image extensions to take, lower case with the dot (e.g. `['.png', '.jpg']`); matched case-insensitively. */
  readonly extensions: readonly string[];
  /** Only these person folders; a name without a folder is an error. */
  readonly include?: readonly string[];
  /** Leave these person folders out; a name without a folder is an error. */
  readonly exclude?: readonly string[];
}

/** Natural order (s2 before s10), the order every reader of person folders uses. */
export const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

/**
 * Lists the person folders under `root` and their image files.
 *
 * - Hidden entries (a leading dot) are ignored; entries that are neither folders nor links
 *   to folders (README files, archives) are ignored at the top level; other files than the
 *   wanted extensions are ignored inside a person folder.
 * - A person folder with no images is returned with `files: []` (the caller decides
 *   whether that is an error).
 * - Errors, each naming the path: `root` missing or not a folder; a broken symbolic link;
 *   an `include`/`exclude` name with no folder.
 */
export async function readPersonFolders(
  root: string,
  options: ReadPersonFoldersOptions,
): Promise<PersonFolder[]> {
  const rootStat = await stat(root).catch(() => null);
  if (!rootStat?.isDirectory()) throw new Error(`dataset folder ${root} does not exist or is not a folder`);
  const wanted = new Set(options.extensions.map((e) => e.toLowerCase()));
  const names = (await readdir(root)).filter((n) => !n.startsWith('.')).sort(naturalOrder);
  const people: string[] = [];
  for (const name of names) {
    if ((await statFollowing(join(root, name))).isDirectory()) people.push(name);
  }
  for (const [list, what] of [
    [options.include, 'include'],
    [options.exclude, 'exclude'],
  ] as const) {
    const unknown = (list ?? []).filter((p) => !people.includes(p));
    if (unknown.length > 0) throw new Error(`${what}: no person folder ${unknown.join(', ')} in ${root}`);
  }
  const chosen = people.filter(
    (p) => (!options.include || options.include.includes(p)) && !options.exclude?.includes(p),
  );
  const folders: PersonFolder[] = [];
  for (const person of chosen) {
    const dir = join(root, person);
    const files: string[] = [];
    for (const name of (await readdir(dir)).sort(naturalOrder)) {
      if (name.startsWith('.') || !wanted.has(extname(name).toLowerCase())) continue;
      const file = join(dir, name);
      if ((await statFollowing(file)).isFile()) files.push(file);
    }
    folders.push({ person, dir, files });
  }
  return folders;
}

/** stat() that follows links and names a broken link in its error. */
async function statFollowing(path: string) {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && (await lstat(path).catch(() => null))?.isSymbolicLink())
      throw new Error(`${path} is a broken symbolic link`);
    throw new Error(`cannot read ${path}: ${code ?? (err as Error).message}`);
  }
}
