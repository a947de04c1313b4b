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

/** A convict format: an integer in [min, max]. */
function intIn(min: number, max: number): (value: unknown) => void {
  return (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      throw new Error(`must be an integer in ${min}..${max}`);
  };
}

/** convict schema slice for `liveView` (owned by src/ops): the installer's live camera page. */
export const liveViewSchema = {
  enabled: {
    doc: 'Serve the live view (camera image with face boxes, names, refusal reasons, door state, last events) at /live on the metrics/health endpoint (metrics.host:metrics.port). Off by default: it shows faces.',
    format: Boolean,
    default: false,
    env: 'FACEGATE_LIVE_VIEW_ENABLED',
  },
  token: {
    doc: 'Access token of the live view (give it as liveView.tokenFile). Required when metrics.host is not a loopback address: without it the page is refused. HTTPS is left to a reverse proxy.',
    format: String,
    default: '',
    sensitive: true,
    env: 'FACEGATE_LIVE_VIEW_TOKEN',
  },
  tokenFile: {
    doc: 'File holding liveView.token (one line; mode 0600).',
    format: String,
    default: '',
    env: 'FACEGATE_LIVE_VIEW_TOKEN_FILE',
  },
  fps: {
    doc: 'Images a second sent to each viewer (encoded only while a viewer is connected), 1..10: the door CPU stays with recognition.',
    format: intIn(1, 10),
    default: 3,
    env: 'FACEGATE_LIVE_VIEW_FPS',
  },
  width: {
    doc: 'Width in pixels of the image sent to viewers (downscaled JPEG), 160..1280.',
    format: intIn(160, 1280),
    default: 480,
    env: 'FACEGATE_LIVE_VIEW_WIDTH',
  },
  maxViewers: {
    doc: 'At most this many live view pages at once (each costs an encode a frame); 1..10.',
    format: intIn(1, 10),
    default: 3,
    env: 'FACEGATE_LIVE_VIEW_MAX_VIEWERS',
  },
} as const;

export interface LiveViewConfig {
  readonly enabled: boolean;
  readonly token: string;
  readonly tokenFile: string;
  readonly fps: number;
  readonly width: number;
  readonly maxViewers: number;
}
