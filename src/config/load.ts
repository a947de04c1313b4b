import convict from 'convict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkAccessConfig, checkDoorConfig, parseModelThresholds } from '../access/config.js';
import { modelDirFor } from '../model/config.js';
import { schema, type FacegateConfig } from './schema.js';

/** Every problem with the configuration, reported together so one edit fixes them all. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly errors: readonly string[]) {
    super(
      `invalid configuration (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n  - ${errors.join('\n  - ')}`,
    );
  }
}

export interface LoadConfigOptions {
  /** JSON config files, applied in order over the defaults (later files win). */
  readonly files?: readonly string[];
  /** Environment variables (FACEGATE_*); main.ts passes process.env, tests a plain object. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Command-line overrides for keys declaring `arg` (none do today); never read from process. */
  readonly args?: readonly string[];
  /** Reads secret files (`...File` keys) and the model's metrics.json; defaults to fs. */
  readonly readFile?: (path: string) => string;
  /** Told about fallbacks worth a log line (e.g. a model without evaluated thresholds). */
  readonly warn?: (message: string) => void;
}

/**
 * Defaults ← files ← environment, validated strictly (unknown keys are errors), then the
 * cross-field checks of each slice, then secrets: any key `xFile` with a non-empty value
 * is read (trailing newline trimmed) into its sibling `x`, so passwords live in files
 * readable only by the service (or systemd credentials), not in the config or the env.
 */
export function loadConfig(options: LoadConfigOptions): FacegateConfig {
  const errors: string[] = [];
  const env = Object.fromEntries(
    Object.entries(options.env).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
  const config = convict(schema as unknown as convict.Schema<FacegateConfig>, {
    env,
    args: [...(options.args ?? [])],
  });
  for (const file of options.files ?? []) {
    if (!existsSync(file)) {
      errors.push(`config file ${file} does not exist`);
      continue;
    }
    try {
      config.loadFile(file);
    } catch (err) {
      errors.push(`config file ${file}: ${(err as Error).message}`);
    }
  }
  try {
    config.validate({ allowed: 'strict' });
  } catch (err) {
    for (const line of (err as Error).message.split('\n')) if (line.trim()) errors.push(line.trim());
  }
  const values = config.getProperties() as unknown as FacegateConfig;
  const readFile = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  applyModelThresholds(values, readFile, errors, options.warn ?? (() => undefined));
  // Cross-field checks run even after format errors, so every problem shows at once.
  for (const check of [() => checkAccessConfig(values.access), () => checkDoorConfig(values.door)]) {
    try {
      errors.push(...check());
    } catch {
      // A value of the wrong type already produced a format error above.
    }
  }
  resolveSecretFiles(values as unknown as Record<string, unknown>, '', readFile, errors);
  if (errors.length > 0) throw new ConfigError(errors);
  return deepFreeze(values);
}

/**
 * access.thresholdsFrom = model: the decision thresholds come from the evaluation stored
 * with the model (<model.path>/metrics.json), so they always match the weights in use.
 */
function applyModelThresholds(
  values: FacegateConfig,
  readFile: (path: string) => string,
  errors: string[],
  warn: (message: string) => void,
): void {
  if (values.access?.thresholdsFrom !== 'model' || typeof values.model?.path !== 'string') return;
  // The folder of the configured backbone (model.path, or model.pretrainedPath for faceapi).
  const path = join(modelDirFor(values.model), 'metrics.json');
  let text: string;
  try {
    text = readFile(path);
  } catch {
    warn(`${path} not readable: using the configured access thresholds`);
    return;
  }
  try {
    const thresholds = parseModelThresholds(JSON.parse(text));
    if (!thresholds) {
      warn(`${path} has no thresholds: using the configured access thresholds`);
      return;
    }
    const access = values.access as { acceptThreshold: number; unknownThreshold: number; minMargin: number };
    access.acceptThreshold = thresholds.accept;
    access.unknownThreshold = thresholds.unknown;
    access.minMargin = thresholds.margin;
  } catch (err) {
    errors.push(`access.thresholdsFrom is "model" but ${path} is unusable: ${(err as Error).message}`);
  }
}

function resolveSecretFiles(
  node: Record<string, unknown>,
  prefix: string,
  readFile: (path: string) => string,
  errors: string[],
): void {
  for (const [key, value] of Object.entries(node)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      resolveSecretFiles(value as Record<string, unknown>, `${prefix}${key}.`, readFile, errors);
      continue;
    }
    if (!key.endsWith('File') || key.length <= 4) continue;
    const target = key.slice(0, -4);
    if (!(target in node) || typeof value !== 'string' || value === '') continue;
    if (typeof node[target] === 'string' && node[target] !== '') {
      errors.push(`${prefix}${target} and ${prefix}${key} are both set; give the secret one way only`);
      continue;
    }
    try {
      node[target] = readFile(value).replace(/\r?\n$/, '');
    } catch (err) {
      errors.push(
        `${prefix}${key}: cannot read secret file ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Every key with its doc, default and env variable, for docs and `--help`. */
export function describeSchema(): { key: string; doc: string; default: unknown; env?: string }[] {
  const out: { key: string; doc: string; default: unknown; env?: string }[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(node)) {
      const o = v as Record<string, unknown>;
      if (o && typeof o === 'object' && 'doc' in o && 'default' in o) {
        out.push({
          key: prefix + k,
          doc: String(o.doc),
          default: o.default,
          env: o.env as string | undefined,
        });
      } else if (o && typeof o === 'object') {
        walk(o, `${prefix}${k}.`);
      }
    }
  };
  walk(schema as unknown as Record<string, unknown>, '');
  return out;
}
