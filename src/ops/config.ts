/** convict schema slices for `log` and `metrics` (owned by src/ops). */
export const logSchema = {
  level: {
    doc: 'Log level: fatal, error, warn, info, debug, trace, silent.',
    format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    env: 'FACEGATE_LOG_LEVEL',
  },
} as const;

export const metricsSchema = {
  port: {
    doc: 'Port of the Prometheus /metrics and /health endpoint on 127.0.0.1; 0 disables it.',
    format: 'port',
    default: 9464,
    env: 'FACEGATE_METRICS_PORT',
  },
} as const;
