import { pino, type Logger, type LevelWithSilent } from 'pino';
import { build as prettyStream } from 'pino-pretty';

export type { Logger };

/** How log lines are written: one JSON object a line (journald, files) or for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  /** Default 'json'. */
  readonly format?: LogFormat;
  /** Where lines go; default stdout. A file descriptor (1, 2) or a stream. */
  readonly destination?: pino.DestinationStream | 1 | 2;
  /** Colours in 'pretty' (only when the destination is a colour terminal). Default false. */
  readonly colorize?: boolean;
}

/**
 * Chooses the log format from the configured `log.format` and whether the destination is a
 * terminal: 'auto' gives 'pretty' on a terminal (a person reading) and 'json' otherwise
 * (journald, a pipe, a file), so a service's log stays machine-readable.
 */
export function resolveLogFormat(configured: 'auto' | LogFormat, isTerminal: boolean): LogFormat {
  if (configured !== 'auto') return configured;
  return isTerminal ? 'pretty' : 'json';
}

/**
 * The root logger; components get `logger.child({ module: '...' })` through their constructor.
 * The second argument is a destination (old shape) or options. 'pretty' writes synchronously
 * through pino-pretty (time, level, module, message, then the fields), so a crash's last line
 * is not lost.
 */
export function createLogger(
  level: LevelWithSilent = 'info',
  options?: pino.DestinationStream | LoggerOptions,
): Logger {
  const opts: LoggerOptions = isDestination(options) ? { destination: options } : (options ?? {});
  if (opts.format === 'pretty') {
    const stream = prettyStream({
      colorize: opts.colorize ?? false,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,module',
      messageFormat: '{if module}[{module}] {end}{msg}',
      destination: opts.destination ?? 1,
    });
    return pino({ level }, stream);
  }
  if (typeof opts.destination === 'number') {
    return pino({ level }, pino.destination({ dest: opts.destination, sync: true }));
  }
  return opts.destination ? pino({ level }, opts.destination) : pino({ level });
}

function isDestination(value: unknown): value is pino.DestinationStream {
  return (
    typeof value === 'object' && value !== null && typeof (value as { write?: unknown }).write === 'function'
  );
}

/** A logger that drops everything, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
