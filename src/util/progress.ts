import cliProgress from 'cli-progress';
import type { Logger } from './log.js';

/**
 * Progress of a long command (gallery import, re-embedding, training, evaluation). The CLI
 * entry point picks the kind: a cli-progress bar on a terminal, periodic log lines
 * otherwise (a service, CI, a pipe), so a person sees it move and a log still tells it.
 */
export interface Progress {
  /** `total` steps of `unit` (photos, faces, people). */
  start(total: number): void;
  /** `done` steps finished so far. */
  update(done: number): void;
  stop(): void;
}

/** Makes a Progress for one task (`label`: "re-embedding", "importing"). */
export type ProgressFactory = (label: string, unit: string) => Progress;

export const noProgress: ProgressFactory = () => ({
  start: () => undefined,
  update: () => undefined,
  stop: () => undefined,
});

/**
 * Log lines: at the start, then whenever `everyPercent` more is done or `everyMs` passed,
 * and at the end. `now` in ms (monotonic).
 */
export function logProgress(
  logger: Logger,
  options: { everyPercent?: number; everyMs?: number; now?: () => number } = {},
): ProgressFactory {
  const everyPercent = options.everyPercent ?? 10;
  const everyMs = options.everyMs ?? 10_000;
  const now = options.now ?? (() => performance.now());
  return (label, unit) => {
    let total = 0;
    let lastPercent = 0;
    let lastAt = 0;
    let startedAt = 0;
    let last = 0;
    const line = (done: number) => {
      const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
      const elapsedS = (now() - startedAt) / 1000;
      const etaS = done > 0 && done < total ? Math.round((elapsedS / done) * (total - done)) : 0;
      logger.info(
        { task: label, done, total, unit, percent, etaS },
        `${label}: ${done}/${total} ${unit} (${percent}%)`,
      );
      lastPercent = percent;
      lastAt = now();
    };
    return {
      start(t) {
        total = t;
        startedAt = lastAt = now();
        line(0);
      },
      update(done) {
        last = done;
        const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
        if (done >= total || percent - lastPercent >= everyPercent || now() - lastAt >= everyMs) line(done);
      },
      stop() {
        if (lastPercent < 100 && last > 0 && last < total) line(last);
      },
    };
  };
}

/** A cli-progress bar on `stream` (a terminal: stderr, so stdout keeps the command's result). */
export function barProgress(stream: NodeJS.WritableStream): ProgressFactory {
  return (label, unit) => {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | eta {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
        // Draws on any stream it is given (the caller gives it a terminal).
        noTTYOutput: true,
      },
      cliProgress.Presets.shades_classic,
    );
    return {
      start: (total) => bar.start(total, 0),
      update: (done) => bar.update(done),
      stop: () => bar.stop(),
    };
  };
}
