#!/usr/bin/env node
/**
 * The daemon entry and the `facegate` command: the ONLY module that touches `process`
 * (argv, env, signals, exit codes, stdout). Everything else gets what it needs through
 * constructors.
 *
 *   facegate [--config <file>...]                 run the daemon
 *   facegate gallery import <dir> [--config ...]  enroll <dir>/<personId>/*.png|jpg
 *   facegate gallery list [--config ...]
 *   facegate gallery remove <id> [--config ...]
 *   facegate doctor [--pulse] [--config ...]      check the installation, print a table of fixes
 *
 * Exit codes: 0 clean stop, 1 failure or crash, 2 usage error, 78 configuration error.
 */
import { Command, CommanderError } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './config/load.js';
import type { FacegateConfig } from './config/schema.js';
import { SystemdNotifier } from './ops/systemd.js';
import { createLogger, resolveLogFormat, type Logger } from './util/log.js';
import { barProgress, logProgress } from './util/progress.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_CONFIG = 78; // EX_CONFIG (sysexits.h)
/** After this, a stop that has not finished is abandoned: the relay is locked and we exit. */
const HARD_STOP_MS = 12_000;

interface GlobalOptions {
  config?: string[];
}

/** facegate's version from its package.json (found upwards from this file, in src/ or dist/src/). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'facegate' && pkg.version) return pkg.version;
      } catch {
        // not ours; keep looking
      }
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

function readConfig(options: GlobalOptions): FacegateConfig {
  return loadConfig({ files: options.config ?? [], env: process.env });
}

async function runDaemon(options: GlobalOptions): Promise<void> {
  const config = readConfig(options);
  // Loaded only here: the gallery tools start fast without TensorFlow and OpenCV.
  const { FacegateApp } = await import('./app.js');
  const logger = daemonLogger(config);
  const notifier = new SystemdNotifier({ env: process.env, pid: process.pid }, logger);
  const app = new FacegateApp({ config, logger, notifier, softwareVersion: packageVersion() });
  const log = logger.child({ module: 'main' });

  // Fail-secure on every way out: the relay is locked before the process goes.
  let exiting = false;
  const exitAfterStop = (code: number, reason: string, boundMs: number): void => {
    if (exiting) return;
    exiting = true;
    app.lockSync();
    const hard = setTimeout(() => {
      log.error({ reason }, 'stop took too long; exiting with the relay locked');
      app.lockSync();
      process.exit(code === EXIT_OK ? EXIT_FAILURE : code);
    }, boundMs);
    hard.unref();
    app.stop(reason).then(
      () => process.exit(code),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        app.lockSync();
        process.exit(EXIT_FAILURE);
      },
    );
  };
  const crash = (err: unknown, origin: string): void => {
    // Lock first: logging or stopping might fail too.
    app.lockSync();
    log.fatal({ err, origin }, 'crash: relay locked, stopping');
    if (exiting) {
      process.exit(EXIT_FAILURE);
    }
    exitAfterStop(EXIT_FAILURE, `crash (${origin})`, 3000);
  };
  const onUncaught = (err: unknown): void => crash(err, 'uncaughtException');
  const onUnhandled = (err: unknown): void => crash(err, 'unhandledRejection');
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandled);
  process.on('exit', () => app.lockSync());
  let firstSignalMs = 0;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      // The same signal often arrives twice at once (Ctrl-C reaches npm and node; npm
      // forwards it): only a repeat after a second means "stop now".
      if (exiting && Date.now() - firstSignalMs < 1000) return;
      if (exiting) {
        log.warn({ signal }, 'second signal: exiting now with the relay locked');
        app.lockSync();
        process.exit(EXIT_FAILURE);
      }
      firstSignalMs = Date.now();
      log.info({ signal }, 'signal received');
      exitAfterStop(EXIT_OK, signal, HARD_STOP_MS);
    });
  }
  process.on('SIGHUP', () => log.info('SIGHUP ignored: restart the service to apply a new configuration'));
  // Fault injection for checking the crash path on a real door (off unless asked for).
  if (process.env.FACEGATE_FAULT_INJECTION === '1') {
    log.warn('fault injection enabled: SIGUSR2 throws an uncaught error');
    process.on('SIGUSR2', () =>
      setImmediate(() => {
        throw new Error('injected fault (SIGUSR2 with FACEGATE_FAULT_INJECTION=1)');
      }),
    );
  }

  try {
    await app.start();
    // Emscripten modules (the TF.js WebAssembly backend) add their own handlers that
    // re-throw, which would end the process (exit 7) before our bounded, locked stop.
    // Ours are the only ones that decide how the daemon dies.
    const removed =
      dropForeignHandlers('uncaughtException', onUncaught) +
      dropForeignHandlers('unhandledRejection', onUnhandled);
    if (removed > 0) log.debug({ removed }, 'removed foreign process error handlers');
  } catch (err) {
    app.lockSync();
    log.fatal({ err }, 'start-up failed');
    exitAfterStop(EXIT_FAILURE, 'start-up failed', 5000);
  }
}

function dropForeignHandlers(
  event: 'uncaughtException' | 'unhandledRejection',
  ours: (err: unknown) => void,
): number {
  let removed = 0;
  const emitter = process as unknown as NodeJS.EventEmitter;
  for (const listener of emitter.listeners(event)) {
    if (listener !== ours) {
      emitter.off(event, listener as (...args: unknown[]) => void);
      removed++;
    }
  }
  return removed;
}

/** The daemon's log on stdout: readable on a terminal, JSON lines for journald (log.format 'auto'). */
function daemonLogger(config: FacegateConfig): Logger {
  const isTty = process.stdout.isTTY === true;
  return createLogger(config.log.level, {
    format: resolveLogFormat(config.log.format, isTty),
    destination: 1,
    colorize: isTty && process.stdout.hasColors?.() === true,
  });
}

/** Tools log to stderr, so stdout carries only their result (JSON). */
function toolLogger(config: FacegateConfig): Logger {
  const isTty = process.stderr.isTTY === true;
  return createLogger(config.log.level === 'info' ? 'warn' : config.log.level, {
    format: resolveLogFormat(config.log.format, isTty),
    destination: 2,
    colorize: isTty && process.stderr.hasColors?.() === true,
  });
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function buildProgram(): Command {
  const program = new Command();
  program
    .name('facegate')
    .description('Face-recognition door controller daemon and its local gallery tools.')
    .option(
      '-c, --config <file...>',
      'JSON config file(s), applied in order over the defaults and under FACEGATE_* env',
    )
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride()
    .action(async (options: GlobalOptions) => runDaemon(options));

  const gallery = program
    .command('gallery')
    .description('Manage the local gallery database (works while the daemon runs).');
  gallery
    .command('import')
    .description('Enroll every <dir>/<personId>/ folder of .png/.jpg photos (folder name = person id).')
    .argument('<dir>', 'folder of person folders')
    .action(async (dir: string, _opts: unknown, cmd: Command) => {
      const config = readConfig(cmd.optsWithGlobals<GlobalOptions>());
      const { importGalleryFolders } = await import('./app.js');
      const logger = toolLogger(config);
      // A bar for a person at a terminal; log lines (stderr) otherwise.
      const progress = process.stderr.isTTY
        ? barProgress(process.stderr)
        : logProgress(logger.child({ module: 'progress' }));
      const result = await importGalleryFolders(config, logger, dir, {}, progress);
      printJson(result);
      process.exitCode = result.failed.length > 0 || result.imported.length === 0 ? EXIT_FAILURE : EXIT_OK;
    });
  gallery
    .command('list')
    .description('List enrolled people (JSON).')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = readConfig(cmd.optsWithGlobals<GlobalOptions>());
      const { listGallery } = await import('./pipeline/gallery-maintenance.js');
      printJson(listGallery(config.gallery.path, toolLogger(config)));
    });
  gallery
    .command('remove')
    .description('Remove a person with all their faces (one transaction).')
    .argument('<id>', 'person id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const config = readConfig(cmd.optsWithGlobals<GlobalOptions>());
      const { removeFromGallery } = await import('./pipeline/gallery-maintenance.js');
      const result = removeFromGallery(config.gallery.path, toolLogger(config), id);
      printJson(result);
      if (!result.removed) {
        process.stderr.write(`no person "${id}" in the gallery\n`);
        process.exitCode = EXIT_FAILURE;
      }
    });
  program
    .command('doctor')
    .description(
      'Check camera, detector, model files, TF backend, GPIO lines, broker, clock and disk; print a table with a fix for each problem (stop the daemon first). Exit 1 on any failure.',
    )
    .option('--pulse', 'also unlock the relay for half a second (the strike clicks)', false)
    .action(async (opts: { pulse: boolean }, cmd: Command) => {
      const color = process.stdout.isTTY === true && process.stdout.hasColors?.() === true;
      const { renderDoctorTable, runDoctor, anyFailed } = await import('./doctor/doctor.js');
      let config: FacegateConfig;
      try {
        config = readConfig(cmd.optsWithGlobals<GlobalOptions>());
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        const row = {
          check: 'config',
          status: 'fail' as const,
          detail: err.message,
          fix: 'fix the listed keys (docs/config.md)',
        };
        process.stdout.write(`${renderDoctorTable([row], { color })}\n`);
        process.exitCode = EXIT_CONFIG;
        return;
      }
      const { buildComponents } = await import('./compose.js');
      const logger = createLogger('error', { format: 'pretty', destination: 2 });
      const components = buildComponents(config, { logger, mqtt: null });
      const results = await runDoctor(config, components, {
        pulse: opts.pulse,
        onCheck: (r) => process.stderr.write(`  ${r.status.padEnd(4)} ${r.check}\n`),
      });
      process.stdout.write(`${renderDoctorTable(results, { color })}\n`);
      const failed = anyFailed(results);
      process.stdout.write(
        failed ? 'doctor: problems found (see the fix column)\n' : 'doctor: all checks passed\n',
      );
      process.exitCode = failed ? EXIT_FAILURE : EXIT_OK;
    });
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // --help / --version exit 0; usage errors were already printed by commander.
      process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`facegate: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    process.stderr.write(`facegate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(EXIT_FAILURE);
  });
