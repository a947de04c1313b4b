import { pathToFileURL } from 'node:url';

/**
 * Runs a CLI's `main(argv)` only when its module is the process entry (`tsx src/cli/x.ts`),
 * not when a test imports it; exits with main's code, or prints `name: message` and exits 1.
 */
export function runIfEntry(moduleUrl: string, name: string, main: (argv: string[]) => Promise<number>): void {
  if (moduleUrl !== pathToFileURL(process.argv[1] ?? '').href) return;
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(1);
    },
  );
}
