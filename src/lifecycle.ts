import type { Clock } from './util/clock.js';
import type { Logger } from './util/log.js';

/**
 * One step of the daemon's lifecycle. `start` may load, open or connect; `stop` undoes
 * exactly what `start` did. A service whose start threw is not stopped (it owns nothing).
 */
export interface Service {
  /** For logs ("stop step failed: <name>"). */
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  /** Longest wait for this service's stop (ms); the whole stop bound caps it too. Default 3000. */
  readonly stopBoundMs?: number;
}

export interface LifecycleOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Whole stop() bound (ms); each step also has its own (`Service.stopBoundMs`). */
  readonly stopTimeoutMs: number;
}

export class StoppedDuringStartError extends Error {
  constructor(readonly service: string) {
    super(`stopped while starting (before ${service})`);
    this.name = 'StoppedDuringStartError';
  }
}

/** Default per-step stop bound (ms). */
export const DEFAULT_STOP_BOUND_MS = 3000;
/** Even with the whole bound used up, every step gets this long (ms) to release what it holds. */
const MIN_STEP_MS = 100;

/**
 * An ordered list of services: started in order, stopped in exactly the reverse order of
 * the ones that started, each stop step time-bounded; a failing or hung step is logged and
 * the others still run (zigbee2mqtt's and fastify's close-hook rule). A stop() while
 * start() is in progress waits for the step in flight (bounded), skips the rest, and
 * stops what had started.
 */
export class Lifecycle {
  private readonly log: Logger;
  private readonly started: Service[] = [];
  private inFlight: Promise<unknown> | null = null;
  private stopRequested = false;
  private stopping: Promise<void> | null = null;

  constructor(
    private readonly services: readonly Service[],
    private readonly options: LifecycleOptions,
  ) {
    const names = new Set<string>();
    for (const s of services) {
      if (names.has(s.name)) throw new Error(`two services named "${s.name}"`);
      names.add(s.name);
    }
    this.log = options.logger.child({ module: 'lifecycle' });
  }

  /** Names of the services started so far, in start order. */
  get startedNames(): readonly string[] {
    return this.started.map((s) => s.name);
  }

  /**
   * Starts every service in order. Throws the first start error (the services started
   * before it stay started: call stop()), or StoppedDuringStartError when stop() came first.
   */
  async start(): Promise<void> {
    for (const service of this.services) {
      if (this.stopRequested) throw new StoppedDuringStartError(service.name);
      const step = Promise.resolve().then(() => service.start());
      this.inFlight = step.catch(() => undefined);
      try {
        await step;
      } finally {
        this.inFlight = null;
      }
      this.started.push(service);
    }
  }

  /** Stops the started services in reverse order, within the stop bound. Idempotent. */
  stop(): Promise<void> {
    this.stopRequested = true;
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const deadline = this.options.clock.monotonicMs() + this.options.stopTimeoutMs;
    if (this.inFlight) {
      // A start step in flight (e.g. a model load) finishes first, so what it opened is stopped too.
      await this.bounded('start in progress', () => this.inFlight, DEFAULT_STOP_BOUND_MS, deadline);
    }
    for (const service of this.started.splice(0).reverse()) {
      await this.bounded(service.name, () => service.stop(), service.stopBoundMs, deadline);
    }
  }

  private async bounded(
    name: string,
    fn: () => unknown,
    capMs = DEFAULT_STOP_BOUND_MS,
    deadline: number,
  ): Promise<void> {
    const budget = Math.max(MIN_STEP_MS, Math.min(capMs, deadline - this.options.clock.monotonicMs()));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${budget} ms`)), budget);
        }),
      ]);
    } catch (err) {
      this.log.warn({ step: name, err: (err as Error).message }, 'stop step failed; going on');
    } finally {
      clearTimeout(timer);
    }
  }
}
