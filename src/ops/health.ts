/**
 * Health of the daemon, from named checks. A critical check failing makes the daemon
 * "failed" (HTTP 503: the door cannot recognise anyone); a non-critical one (e.g. MQTT
 * down: the door still opens) makes it "degraded" (HTTP 200).
 */
export type HealthStatus = 'ok' | 'degraded' | 'failed' | 'starting' | 'stopping';

export interface CheckResult {
  readonly ok: boolean;
  readonly detail?: unknown;
}

export interface HealthCheck {
  readonly name: string;
  readonly critical: boolean;
  check(): CheckResult;
}

export interface HealthReport {
  readonly status: HealthStatus;
  readonly uptimeSeconds: number;
  readonly checks: Record<string, CheckResult & { readonly critical: boolean }>;
}

export class HealthMonitor {
  private readonly checks: HealthCheck[] = [];
  private phase: 'starting' | 'running' | 'stopping' = 'starting';
  private readonly startedAtMs: number;

  constructor(private readonly monotonicMs: () => number) {
    this.startedAtMs = monotonicMs();
  }

  add(check: HealthCheck): void {
    if (this.checks.some((c) => c.name === check.name))
      throw new Error(`health check "${check.name}" registered twice`);
    this.checks.push(check);
  }

  setPhase(phase: 'starting' | 'running' | 'stopping'): void {
    this.phase = phase;
  }

  report(): HealthReport {
    const checks: Record<string, CheckResult & { critical: boolean }> = {};
    let criticalFailed = false;
    let anyFailed = false;
    for (const c of this.checks) {
      let result: CheckResult;
      try {
        result = c.check();
      } catch (err) {
        result = { ok: false, detail: `check threw: ${(err as Error).message}` };
      }
      checks[c.name] = { ...result, critical: c.critical };
      if (!result.ok) {
        anyFailed = true;
        if (c.critical) criticalFailed = true;
      }
    }
    const status: HealthStatus =
      this.phase !== 'running' ? this.phase : criticalFailed ? 'failed' : anyFailed ? 'degraded' : 'ok';
    return { status, uptimeSeconds: Math.round((this.monotonicMs() - this.startedAtMs) / 1000), checks };
  }
}

/** HTTP status for a health report: 200 while the door works (ok or degraded), else 503. */
export function httpStatusFor(status: HealthStatus): number {
  return status === 'ok' || status === 'degraded' ? 200 : 503;
}
