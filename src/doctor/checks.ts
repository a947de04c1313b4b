import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import mqtt from 'mqtt';
import type { ClockSyncProbe } from '../access/clock-sync.js';
import type { FrameSource } from '../camera/frame-source.js';
import type { DigitalInput, Relay } from '../gpio/types.js';
import type { LivenessConfig } from '../liveness/config.js';
import { eyeModelFix, type EyelidReader } from '../liveness/eyelids.js';
import type { MqttConfig } from '../mqtt/config.js';

/**
 * `facegate doctor`: one small function per thing an installer gets wrong (camera, models,
 * wiring, broker, clock, disk). Each returns a row for the table: what was found and, when
 * something is wrong, the fix. Hardware comes in through the same interfaces the daemon
 * uses, so tests hand in fakes for the camera and the GPIO lines.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  /** What was found (fps and size, engine, sha256, chip, url...). */
  readonly detail: string;
  /** What to do about a warn/fail; empty when ok. */
  readonly fix: string;
}

export const ok = (check: string, detail: string): CheckResult => ({ check, status: 'ok', detail, fix: '' });
export const fail = (check: string, detail: string, fix: string): CheckResult => ({
  check,
  status: 'fail',
  detail,
  fix,
});
export const warn = (check: string, detail: string, fix: string): CheckResult => ({
  check,
  status: 'warn',
  detail,
  fix,
});

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Rejects with `what timed out` after `ms`, so one stuck check cannot hang the doctor. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The camera opens and delivers frames: reads `frames` frames and reports the measured fps
 * and the frame size. Fails when it cannot open or delivers nothing within `timeoutMs`;
 * warns under `minFps` (faces walking past are missed).
 */
export async function checkCamera(
  open: () => Promise<FrameSource>,
  options: { frames?: number; timeoutMs?: number; minFps?: number; now?: () => number } = {},
): Promise<CheckResult> {
  const name = 'camera';
  const frames = options.frames ?? 10;
  const now = options.now ?? (() => performance.now());
  let source: FrameSource | null = null;
  try {
    source = await withTimeout(open(), options.timeoutMs ?? 10_000, 'opening the camera');
    await withTimeout(source.start(), options.timeoutMs ?? 10_000, 'starting the camera');
    const first = await withTimeout(source.next(), options.timeoutMs ?? 10_000, 'first frame');
    const t0 = now();
    let last = first;
    for (let i = 1; i < frames; i++)
      last = await withTimeout(source.next(), options.timeoutMs ?? 10_000, 'frame');
    const seconds = (now() - t0) / 1000;
    const fps = seconds > 0 ? (frames - 1) / seconds : Infinity;
    const detail = `${source.name}: ${last.image.width}x${last.image.height}, ${Number.isFinite(fps) ? fps.toFixed(1) : '>1000'} fps`;
    if (fps < (options.minFps ?? 3)) {
      return warn(
        name,
        detail,
        'slow camera: lower camera.width/height or camera.fps, check light (long exposure) and USB bandwidth',
      );
    }
    return ok(name, detail);
  } catch (err) {
    return fail(
      name,
      errorText(err),
      'check camera.type/camera.path (ls /dev/video*, v4l2-ctl --list-devices), that the daemon is stopped (the camera is busy while it runs), and the user is in the "video" group',
    );
  } finally {
    await source?.stop().catch(() => undefined);
  }
}

/** Which face detector engine loads (native OpenCV is several times faster than wasm on a Pi). */
export async function checkDetector(
  load: () => Promise<{ readonly name: string; stop(): Promise<void> }>,
): Promise<CheckResult> {
  try {
    const detector = await load();
    const name = detector.name;
    await detector.stop().catch(() => undefined);
    if (/wasm/i.test(name)) {
      return warn(
        'detector',
        name,
        'the native OpenCV binding did not load: run scripts/setup.sh (needs libopencv-dev) for a faster detector',
      );
    }
    return ok('detector', name);
  } catch (err) {
    return fail(
      'detector',
      errorText(err),
      'check vision.detector.* and the cascade file; run scripts/setup.sh',
    );
  }
}

/** The TF.js backend the embedder runs on (node > wasm > cpu for speed). */
export async function checkTfBackend(
  load: () => Promise<{ backend: string; modelId: string }>,
): Promise<CheckResult> {
  try {
    const { backend, modelId } = await load();
    if (backend === 'cpu') {
      return warn(
        'tf backend',
        `${backend} (${modelId})`,
        'the pure-JS cpu backend is slow: keep model.tfBackend auto or wasm',
      );
    }
    return ok('tf backend', `${backend} (${modelId})`);
  } catch (err) {
    return fail(
      'tf backend',
      errorText(err),
      'check model.backbone and the model folder; model.tfBackend auto',
    );
  }
}

/** sha256 of a file's bytes, hex. */
export async function fileSha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/**
 * The pretrained model's backbone weights match the sha256 its metadata
 * (facegate-pretrained.json) records: the weight files listed in the manifest, concatenated
 * in order (the same hash the loader checks). A scratch model reports its weights' sha256.
 */
export async function checkModelFiles(
  modelDir: string,
  backbone: 'faceapi' | 'scratch',
): Promise<CheckResult> {
  const name = 'model files';
  const fix =
    'restore the model folder from the release (git checkout models/ or re-copy it); do not edit it by hand';
  try {
    if (backbone === 'scratch') {
      const sha = await fileSha256(join(modelDir, 'weights.bin'));
      return ok(name, `${modelDir}/weights.bin sha256 ${sha.slice(0, 16)}…`);
    }
    const metaPath = join(modelDir, 'facegate-pretrained.json');
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as {
      backbone?: { manifest?: string; sha256?: string };
    };
    const manifestRel = meta.backbone?.manifest;
    const expected = meta.backbone?.sha256;
    if (typeof manifestRel !== 'string' || typeof expected !== 'string') {
      return fail(name, `${metaPath}: no backbone.manifest/sha256`, fix);
    }
    const manifestPath = resolve(modelDir, manifestRel);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { paths: string[] }[];
    const hash = createHash('sha256');
    let files = 0;
    for (const group of manifest) {
      for (const p of group.paths) {
        hash.update(await readFile(join(dirname(manifestPath), p)));
        files++;
      }
    }
    const actual = hash.digest('hex');
    if (actual !== expected) {
      return fail(name, `backbone sha256 ${actual.slice(0, 16)}… ≠ metadata ${expected.slice(0, 16)}…`, fix);
    }
    return ok(name, `${files} weight file(s), sha256 ${actual.slice(0, 16)}… matches ${metaPath}`);
  } catch (err) {
    return fail(name, errorText(err), fix);
  }
}

/**
 * The relay line can be claimed (and is driven to LOCKED by start()); with `pulse`, it is
 * unlocked for `pulseMs` and locked again so the installer hears the strike click.
 * The inputs (door contact, exit button) are claimed and read.
 */
export async function checkGpio(
  parts: {
    /** null: the relay is driven over MQTT (no line to check here). */
    relay: (() => Promise<Relay>) | null;
    inputs: readonly { label: string; open: () => Promise<DigitalInput | null> }[];
  },
  options: { pulse: boolean; pulseMs?: number; sleep?: (ms: number) => Promise<void> },
): Promise<CheckResult[]> {
  const fix =
    'check door.relay.chip/line (gpioinfo lists chips and lines; the BCM number, not the header pin), that the daemon is stopped, and the user is in the "gpio" group';
  const results: CheckResult[] = [];
  let relay: Relay | null = null;
  if (!parts.relay) results.push(ok('relay', 'driven over MQTT (door.relay.type mqtt): see the broker row'));
  else
    try {
      relay = await parts.relay();
      await relay.start();
      if (options.pulse) {
        const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
        await relay.unlock();
        try {
          await sleep(options.pulseMs ?? 500);
        } finally {
          await relay.lock();
        }
        results.push(
          ok(
            'relay',
            `${relay.name}: pulsed ${options.pulseMs ?? 500} ms, locked again (did the strike click?)`,
          ),
        );
      } else {
        results.push(ok('relay', `${relay.name}: line claimed, locked (--pulse to click the strike)`));
      }
    } catch (err) {
      relay?.lockSync();
      results.push(fail('relay', errorText(err), fix));
    } finally {
      await relay?.close().catch(() => undefined);
    }
  for (const input of parts.inputs) {
    let line: DigitalInput | null = null;
    try {
      line = await input.open();
      if (!line) continue; // not configured
      await line.start();
      results.push(ok(input.label, `${line.name}: ${line.read() ? 'active' : 'inactive'}`));
    } catch (err) {
      results.push(
        fail(
          input.label,
          errorText(err),
          fix.replace('door.relay', `door.${input.label === 'exit button' ? 'exitButton' : 'contact'}`),
        ),
      );
    } finally {
      await line?.close().catch(() => undefined);
    }
  }
  return results;
}

/** Why a broker connection failed, as a fix an installer can act on. */
function brokerFix(message: string, url: string): string {
  if (/not authori[sz]ed|bad user ?name|password/i.test(message)) {
    return "the broker refused the credentials: check mqtt.username and mqtt.passwordFile (and the broker's ACL)";
  }
  if (/certificate|self.signed|tls|ssl|unable to verify|hostname/i.test(message)) {
    return 'TLS failed: set mqtt.tls.caFile to the CA that signed the broker certificate, and use the name in the certificate in mqtt.url';
  }
  return `cannot reach ${url}: is the broker running, is mqtt.url (host, port, mqtts:// for TLS) right, does a firewall block it?`;
}

/**
 * Connects to the broker with the door's url, TLS files and credentials (a separate
 * client id, no will, nothing published), then disconnects.
 */
export async function checkBroker(
  config: MqttConfig,
  deviceId: string,
  timeoutMs = 5000,
): Promise<CheckResult> {
  const name = 'mqtt broker';
  const options: mqtt.IClientOptions = {
    clientId: `facegate-${deviceId}-doctor-${randomBytes(3).toString('hex')}`,
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
  };
  try {
    if (config.username) options.username = config.username;
    if (config.password) options.password = Buffer.from(config.password);
    else if (config.passwordFile) options.password = await readFile(config.passwordFile);
    if (config.tls.caFile) options.ca = await readFile(config.tls.caFile);
    if (config.tls.certFile) options.cert = await readFile(config.tls.certFile);
    if (config.tls.keyFile) options.key = await readFile(config.tls.keyFile);
    options.rejectUnauthorized = config.tls.rejectUnauthorized;
  } catch (err) {
    return fail(name, errorText(err), 'a file named in mqtt.passwordFile / mqtt.tls.* cannot be read');
  }
  let client: mqtt.MqttClient | null = null;
  try {
    client = await withTimeout(
      mqtt.connectAsync(config.url, options, false),
      timeoutMs + 500,
      `connecting to ${config.url}`,
    );
    const tls = /^(mqtts|wss):/.test(config.url);
    const detail = `${config.url} (${tls ? 'TLS' : 'no TLS'}${config.username ? `, user ${config.username}` : ', anonymous'})`;
    if (!tls && !/^mqtt:\/\/(127\.0\.0\.1|localhost|\[::1\])/.test(config.url)) {
      return warn(
        name,
        detail,
        'credentials and events cross the network in clear: use mqtts:// with mqtt.tls.caFile',
      );
    }
    return ok(name, detail);
  } catch (err) {
    const message = errorText(err);
    return fail(name, `${config.url}: ${message}`, brokerFix(message, config.url));
  } finally {
    await client?.endAsync(true).catch(() => undefined);
  }
}

/**
 * The wall clock is synchronised: signed requests carry an expiry (and schedules a time of
 * day), so a Pi without a battery-backed clock that has not synchronised refuses them.
 */
export async function checkClock(probe: ClockSyncProbe): Promise<CheckResult> {
  const name = 'clock';
  const fix =
    'enable time sync: sudo timedatectl set-ntp true (systemd-timesyncd), and let the door reach an NTP server (UDP 123)';
  if (await probe.flagFile().catch(() => false)) return ok(name, 'synchronised (systemd-timesyncd)');
  try {
    const answer = (await probe.timedatectl()).trim();
    if (answer === 'yes') return ok(name, 'synchronised (timedatectl)');
    return fail(name, `not synchronised (timedatectl NTPSynchronized=${answer || '?'})`, fix);
  } catch (err) {
    // Fails like "not synchronised": the access rules treat an unknown clock the same way.
    return fail(
      name,
      `cannot tell: ${errorText(err)}`,
      'run the door under systemd with systemd-timesyncd (or chrony exposing /run/systemd/timesync/synchronized); without it, schedule-based grants follow access.clockUnsynced',
    );
  }
}

/** Free space where the gallery lives: fails under `failBytes`, warns under `warnBytes`. */
export async function checkDisk(
  galleryPath: string,
  options: {
    failBytes?: number;
    warnBytes?: number;
    free?: (dir: string) => Promise<number>;
  } = {},
): Promise<CheckResult> {
  const name = 'disk';
  const free =
    options.free ??
    (async (dir: string) => {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    });
  const dir = dirname(resolve(galleryPath));
  // The daemon creates the gallery folder on first start: measure the nearest folder that exists.
  let existing = dir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const fix = `free space on the filesystem of ${dir} (old logs: journalctl --vacuum-size=100M) or move gallery.path`;
  try {
    const bytes = await free(existing);
    const mb = bytes / 1024 / 1024;
    const detail = `${mb.toFixed(0)} MB free in ${existing}${existing === dir ? '' : ` (${dir} is created on start)`}`;
    if (bytes < (options.failBytes ?? 50 * 1024 * 1024)) return fail(name, detail, fix);
    if (bytes < (options.warnBytes ?? 500 * 1024 * 1024)) return warn(name, detail, fix);
    return ok(name, detail);
  } catch (err) {
    return fail(
      name,
      `${dir}: ${errorText(err)}`,
      `create ${dir} (the daemon's user must be able to write it) or fix gallery.path`,
    );
  }
}

/**
 * The blink signal's eyelid model loads (both files present, sha256 the vendored ones) when
 * `access.liveness` is on with `blink` — the daemon refuses to start otherwise; not needed
 * when liveness or blink is off.
 */
export async function checkEyeModel(
  liveness: Pick<LivenessConfig, 'mode' | 'blink' | 'eyeModel'>,
  load: () => Promise<EyelidReader>,
): Promise<CheckResult> {
  const name = 'eye model';
  if (liveness.mode !== 'on') return ok(name, 'not needed: access.liveness.mode is off');
  if (!liveness.blink) return ok(name, 'not needed: access.liveness.blink is off');
  try {
    (await load()).dispose();
    return ok(name, `${resolve(liveness.eyeModel)}: iris.json + iris.bin, sha256 as vendored`);
  } catch (err) {
    return fail(name, errorText(err), eyeModelFix(liveness.eyeModel));
  }
}
