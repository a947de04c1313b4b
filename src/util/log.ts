import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** The root logger; components get `logger.child({ module: '...' })` through their constructor. */
export function createLogger(level: LevelWithSilent = 'info', destination?: pino.DestinationStream): Logger {
  return destination ? pino({ level }, destination) : pino({ level });
}

/** A logger that drops everything, for tests and tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
