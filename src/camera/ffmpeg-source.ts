import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Frame, FrameSource } from './frame-source.js';
import type { FfmpegOptions } from './config.js';
import { LatestFrameSlot } from './latest-frame-slot.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { createGrayImage } from '../vision/image.js';

export interface FfmpegSourceOptions extends FfmpegOptions {
  /** /dev/videoN, rtsp(s)://, http(s):// or a video file. */
  readonly input: string;
  readonly width: number;
  readonly height: number;
  /** Output rate (fps filter); 0 = whatever the input delivers. */
  readonly fps: number;
  /** Files only: read at native speed (-re) and loop forever (-stream_loop -1). */
  readonly loop: boolean;
  /** Files only: read at the file's own frame rate instead of as fast as possible. */
  readonly realtime?: boolean;
  /** Name in logs and `FrameSource.name`. */
  readonly name?: string;
}

export type InputKind = 'v4l2' | 'rtsp' | 'http' | 'file';

const STDERR_LINES_KEPT = 20;
/** Extra time a fresh ffmpeg gets for its first frame (opening a device, RTSP handshake, probing). */
export const STARTUP_GRACE_MS = 10_000;
const WATCHDOG_PERIOD_MS = 250;

export function inputKind(input: string): InputKind {
  if (/^\/dev\/video\d+$/.test(input)) return 'v4l2';
  if (/^rtsps?:\/\//i.test(input)) return 'rtsp';
  if (/^https?:\/\//i.test(input)) return 'http';
  return 'file';
}

/** Refuses inputs ffmpeg would read as an option or that cannot be a camera. */
export function validateFfmpegInput(input: string): void {
  if (input.length === 0) throw new Error('camera.path is empty');
  if (input.startsWith('-')) throw new Error(`camera.path must not start with "-": ${input}`);
  if (/[\0\r\n]/.test(input)) throw new Error('camera.path contains control characters');
  const kind = inputKind(input);
  if (kind === 'file' && !existsSync(input))
    throw new Error(`camera.path ${input} is not a v4l2 device, an rtsp/http URL or an existing file`);
}

/** The ffmpeg command line (no shell is involved: each value is its own argv entry). */
export function ffmpegArgs(o: FfmpegSourceOptions): string[] {
  const kind = inputKind(o.input);
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning'];
  if (kind === 'v4l2') args.push('-f', o.inputFormat || 'v4l2', '-video_size', `${o.width}x${o.height}`);
  else if (o.inputFormat) args.push('-f', o.inputFormat);
  if (kind === 'rtsp')
    args.push('-rtsp_transport', o.rtspTransport, '-timeout', String(o.stallTimeoutSec * 1_000_000));
  // Network cameras: no input buffering (the door wants the newest frame) and a short probe.
  if (kind === 'rtsp' || kind === 'http')
    args.push('-fflags', 'nobuffer', '-probesize', '500000', '-analyzeduration', '1000000');
  if (kind === 'file') {
    if (o.realtime !== false) args.push('-re');
    if (o.loop) args.push('-stream_loop', '-1');
  }
  args.push('-i', o.input, '-an', '-sn');
  const filters = [];
  if (o.fps > 0) filters.push(`fps=${o.fps}`);
  filters.push(`scale=${o.width}:${o.height}`);
  args.push('-vf', filters.join(','), '-pix_fmt', 'gray', '-f', 'rawvideo', 'pipe:1');
  return args;
}

/**
 * One long-running ffmpeg process decoding the camera to raw 8-bit gray frames on its
 * stdout (~4% of a core at 30 fps). Restarts with exponential backoff when ffmpeg exits or
 * when no frame arrived for `stallTimeoutSec`; the last stderr lines go to the log.
 */
export class FfmpegSource implements FrameSource {
  readonly name: string;
  private readonly slot = new LatestFrameSlot();
  private readonly log: Logger;
  private readonly frameBytes: number;
  private child: ChildProcess | undefined;
  private running = false;
  private pending: Buffer | undefined;
  private pendingFill = 0;
  private lastProgressMs = 0;
  private framesThisProcess = 0;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private stderrTail: string[] = [];
  /** How many times ffmpeg was (re)started; for health and tests. */
  starts = 0;

  constructor(
    private readonly options: FfmpegSourceOptions,
    private readonly clock: Clock,
    logger: Logger,
  ) {
    validateFfmpegInput(options.input);
    if (
      !Number.isInteger(options.width) ||
      !Number.isInteger(options.height) ||
      options.width < 16 ||
      options.height < 16
    ) {
      throw new RangeError(`frame size must be integers >= 16, got ${options.width}x${options.height}`);
    }
    if (!(options.fps >= 0 && options.fps <= 240))
      throw new RangeError(`fps must be in 0..240, got ${options.fps}`);
    this.name = options.name ?? `ffmpeg:${inputKind(options.input)}`;
    this.frameBytes = options.width * options.height;
    this.log = logger.child({ module: 'camera', source: this.name });
  }

  /** The PID of the running ffmpeg (undefined between restarts). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.slot.reopen();
    this.failures = 0;
    this.spawnFfmpeg();
    this.watchdog = setInterval(() => this.checkStall(), WATCHDOG_PERIOD_MS);
  }

  private spawnFfmpeg(): void {
    this.restartTimer = undefined;
    if (!this.running) return;
    const args = ffmpegArgs(this.options);
    this.starts += 1;
    this.pending = undefined;
    this.pendingFill = 0;
    this.stderrTail = [];
    this.lastProgressMs = this.clock.monotonicMs();
    this.framesThisProcess = 0;
    this.log.info({ input: redact(this.options.input), start: this.starts }, 'starting ffmpeg');
    this.log.debug({ args: args.map(redact) }, 'ffmpeg command line');
    const child = spawn(this.options.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    let stderrRest = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (stderrRest + chunk.toString('utf8')).split(/\r?\n|\r/);
      stderrRest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.keepStderr(line);
    });
    child.on('error', (err) => {
      this.keepStderr(`spawn error: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      if (stderrRest.trim()) this.keepStderr(stderrRest);
      if (this.child === child) this.child = undefined;
      this.onExit(code, signal);
    });
  }

  private keepStderr(line: string): void {
    this.stderrTail.push(redact(line));
    if (this.stderrTail.length > STDERR_LINES_KEPT) this.stderrTail.shift();
    this.log.debug({ stderr: redact(line) }, 'ffmpeg');
  }

  private onData(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.pending) {
        this.pending = Buffer.allocUnsafe(this.frameBytes);
        this.pendingFill = 0;
      }
      const n = Math.min(this.frameBytes - this.pendingFill, chunk.length - offset);
      chunk.copy(this.pending, this.pendingFill, offset, offset + n);
      this.pendingFill += n;
      offset += n;
      if (this.pendingFill === this.frameBytes) {
        const data = new Uint8Array(this.pending.buffer, this.pending.byteOffset, this.frameBytes);
        this.pending = undefined;
        this.lastProgressMs = this.clock.monotonicMs();
        this.failures = 0;
        this.framesThisProcess += 1;
        if (this.running)
          this.slot.put(createGrayImage(this.options.width, this.options.height, data), this.lastProgressMs);
      }
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (!this.running) return;
    if (code === 0 && inputKind(this.options.input) === 'file' && !this.options.loop) {
      this.log.info('video file ended');
      this.running = false;
      if (this.watchdog) clearInterval(this.watchdog);
      this.slot.close(new Error('video ended'));
      return;
    }
    const delay = Math.min(this.options.restartMaxMs, this.options.restartMinMs * 2 ** this.failures);
    this.failures += 1;
    this.log.warn(
      { code, signal, restartInMs: delay, stderr: this.stderrTail.slice(-8) },
      'ffmpeg exited; restarting',
    );
    this.restartTimer = setTimeout(() => this.spawnFfmpeg(), delay);
  }

  private checkStall(): void {
    if (!this.running || !this.child) return;
    const idleMs = this.clock.monotonicMs() - this.lastProgressMs;
    const limitMs =
      this.options.stallTimeoutSec * 1000 + (this.framesThisProcess === 0 ? STARTUP_GRACE_MS : 0);
    if (idleMs > limitMs) {
      this.log.warn({ idleMs: Math.round(idleMs) }, 'no frame from ffmpeg; killing it');
      this.lastProgressMs = this.clock.monotonicMs(); // one kill per stall
      this.child.kill('SIGKILL');
    }
  }

  next(): Promise<Frame> {
    return this.slot.next();
  }

  /** Frames delivered so far (including ones nobody took). */
  get produced(): number {
    return this.slot.produced;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.watchdog = undefined;
    this.restartTimer = undefined;
    this.slot.close();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await closed;
      clearTimeout(timer);
    }
    this.child = undefined;
  }
}

/** Hides user:password in URLs before they reach the log. */
export function redact(text: string): string {
  return text.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1***@');
}
