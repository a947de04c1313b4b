/** convict schema slices for `log` and `metrics` (owned by src/ops). */
export const logSchema = {
  level: {
    doc: 'Log level: fatal, error, warn, info, debug, trace, silent.',
    format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    env: 'FACEGATE_LOG_LEVEL',
  },
  format: {
    doc: 'Log line format: "auto" (readable on a terminal, one JSON object a line otherwise, e.g. under systemd/journald), "pretty" or "json".',
    format: ['auto', 'pretty', 'json'],
    default: 'auto',
    env: 'FACEGATE_LOG_FORMAT',
  },
} as const;

export const metricsSchema = {
  port: {
    doc: 'Port of the Prometheus /metrics and /health endpoint on 127.0.0.1; 0 disables it.',
    format: 'port',
    default: 9464,
    env: 'FACEGATE_METRICS_PORT',
  },
  host: {
    doc: 'Address the /metrics and /health endpoint listens on. Keep it on loopback; put a reverse proxy in front to expose it.',
    format: String,
    default: '127.0.0.1',
    env: 'FACEGATE_METRICS_HOST',
  },
  stallSeconds: {
    doc: 'The frame loop counts as stalled (health "failed", systemd watchdog not fed) after this many seconds without a processed frame.',
    format: 'nat',
    default: 20,
    env: 'FACEGATE_STALL_SECONDS',
  },
} as const;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LogConfig {
  readonly level: LogLevel;
  readonly format: 'auto' | 'pretty' | 'json';
}

export interface MetricsConfig {
  readonly port: number;
  readonly host: string;
  readonly stallSeconds: number;
}
