import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import sharp from 'sharp';
import type { FacegateEvent } from '../events.js';
import type { FrameObserver, FrameSeen, SeenFace } from '../pipeline/frame-observer.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { LiveViewConfig } from './config.js';
import { LIVE_VIEW_PAGE } from './live-view-page.js';

/** What the page shows of the door (DoorController.state()). */
export interface DoorView {
  readonly locked: boolean;
  readonly open: boolean | null;
}

/** A face as the page shows it: the loop's view plus the verdict of the access thresholds. */
export interface ShownFace extends SeenFace {
  /** recognised: score ≥ accept threshold; uncertain: between the thresholds; unknown: below (or empty gallery). */
  readonly verdict: 'recognised' | 'uncertain' | 'unknown' | 'refused';
}

export interface LiveViewDeps {
  readonly config: LiveViewConfig;
  /** The access policy's similarity thresholds (access.acceptThreshold / unknownThreshold as loaded). */
  readonly thresholds: { readonly accept: number; readonly unknown: number };
  /** True when the HTTP endpoint listens on a loopback address only (then no token is needed). */
  readonly loopbackOnly: boolean;
  readonly doorState: () => DoorView | null;
  /** Writes the local audit row of a viewer opening the page (kind, detail). */
  readonly audit: (kind: string, detail: Record<string, unknown>) => void;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** One message on the page's Server-Sent Events stream. */
export interface LiveFrameMessage {
  readonly seq: number;
  readonly width: number;
  readonly height: number;
  /** Scale from camera pixels to the JPEG's pixels (boxes are in camera pixels). */
  readonly scale: number;
  readonly jpeg: string;
  readonly faces: readonly ShownFace[];
  readonly door: DoorView | null;
}

const RECENT_EVENTS = 12;

/**
 * The installer's live view: a read-only page (GET /live) with the camera image, each face's
 * box, landmarks, name and score or refusal reason, the door state and the last events,
 * pushed over Server-Sent Events (GET /live/events).
 *
 * Cost: frameSeen() only keeps a reference; a copy of the frame is taken at most `fps` times a
 * second and only while a viewer is connected, and the JPEG (sharp, downscaled) is encoded
 * off the loop. Nothing is written to disk. Access: with the endpoint on a non-loopback
 * address a token is required (`?token=`, compared in constant time) and, without one
 * configured, the page is refused (fail closed). Each page opening writes an audit row.
 */
export class LiveView implements FrameObserver {
  private readonly log: Logger;
  private readonly viewers = new Set<ServerResponse>();
  private readonly recent: FacegateEvent[] = [];
  private pending: { seen: FrameSeen; pixels: Uint8Array } | null = null;
  private encoding = false;
  private nextDueMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly tokenDigest: Buffer | null;

  constructor(private readonly deps: LiveViewDeps) {
    this.log = deps.logger.child({ module: 'live-view' });
    const token = deps.config.token;
    this.tokenDigest = token ? digest(token) : null;
  }

  /** Viewers connected now. */
  get viewerCount(): number {
    return this.viewers.size;
  }

  /** FrameObserver: keeps a copy of the frame when a viewer is due an image; never throws. */
  frameSeen(seen: FrameSeen): void {
    if (this.viewers.size === 0) return;
    const now = this.deps.clock.monotonicMs();
    const hasDecision = seen.decisions.length > 0;
    if (now < this.nextDueMs && !hasDecision) return;
    this.nextDueMs = now + 1000 / this.deps.config.fps;
    // The camera may reuse its buffer: copy the few frames that are shown.
    this.pending = { seen, pixels: Uint8Array.from(seen.frame.image.data) };
    void this.encodeAndSend();
  }

  /** An event the daemon emitted: kept (last few) and pushed to the viewers. */
  eventSeen(event: FacegateEvent): void {
    this.recent.unshift(event);
    this.recent.length = Math.min(this.recent.length, RECENT_EVENTS);
    this.broadcast('event', event);
  }

  /**
   * Handles /live, /live/events; returns false for other paths (the caller answers 404).
   */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path !== '/live' && path !== '/live/' && path !== '/live/events') return false;
    const denied = this.authorise(req);
    if (denied) {
      res
        .writeHead(denied.status, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`${denied.message}\n`);
      return true;
    }
    if (path === '/live/events') this.openStream(req, res);
    else {
      res
        .writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy':
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'",
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
        })
        .end(LIVE_VIEW_PAGE);
    }
    return true;
  }

  /** Closes every viewer's stream. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const res of this.viewers) res.end();
    this.viewers.clear();
  }

  private authorise(req: IncomingMessage): { status: number; message: string } | null {
    if (this.deps.loopbackOnly && !this.tokenDigest) return null;
    if (!this.tokenDigest) {
      return {
        status: 403,
        message: 'live view refused: the endpoint is not on loopback and no liveView.tokenFile is set',
      };
    }
    const given = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
    if (!timingSafeEqual(digest(given), this.tokenDigest)) {
      return { status: 401, message: 'live view: wrong or missing ?token=' };
    }
    return null;
  }

  private openStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.viewers.size >= this.deps.config.maxViewers) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('live view: too many viewers\n');
      return;
    }
    const headers = {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    };
    const remote = req.socket.remoteAddress ?? 'unknown';
    try {
      this.deps.audit('live_view_opened', {
        remote,
        userAgent: String(req.headers['user-agent'] ?? '').slice(0, 200),
      });
    } catch (err) {
      // Fail closed: a viewing that cannot be audited is not served.
      this.log.error({ err }, 'could not audit the live view opening; refused');
      res.writeHead(503, { 'content-type': 'text/plain' }).end('live view: audit log unavailable\n');
      return;
    }
    res.writeHead(200, headers);
    this.viewers.add(res);
    this.log.info({ remote, viewers: this.viewers.size }, 'live view opened');
    write(res, 'hello', { door: this.deps.doorState(), events: this.recent, fps: this.deps.config.fps });
    // Comments keep proxies from closing an idle stream; the door state goes with them.
    this.timer ??= setInterval(() => this.broadcast('door', this.deps.doorState()), 1000);
    req.on('close', () => {
      this.viewers.delete(res);
      this.log.info({ remote, viewers: this.viewers.size }, 'live view closed');
      if (this.viewers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    });
  }

  private async encodeAndSend(): Promise<void> {
    if (this.encoding) return; // the newest pending frame is taken when this one is done
    this.encoding = true;
    try {
      while (this.pending && this.viewers.size > 0) {
        const { seen, pixels } = this.pending;
        this.pending = null;
        const { width, height } = seen.frame.image;
        const outWidth = Math.min(width, this.deps.config.width);
        const jpeg = await sharp(pixels, { raw: { width, height, channels: 1 } })
          .resize({ width: outWidth })
          .jpeg({ quality: 70 })
          .toBuffer();
        const message: LiveFrameMessage = {
          seq: seen.frame.seq,
          width,
          height,
          scale: outWidth / width,
          jpeg: jpeg.toString('base64'),
          faces: seen.faces.map((f) => this.shown(f)),
          door: this.deps.doorState(),
        };
        this.broadcast('frame', message);
      }
    } catch (err) {
      this.log.warn({ err }, 'live view frame not encoded');
    } finally {
      this.encoding = false;
    }
  }

  private shown(face: SeenFace): ShownFace {
    if (face.outcome === 'refused') return { ...face, verdict: 'refused' };
    // A face judged not live is refused whatever its score (a printed photo of an employee).
    if (face.liveness?.verdict === 'spoof') {
      return {
        ...face,
        verdict: 'refused',
        reasons: [...face.reasons, ...face.liveness.reasons.map((r) => `not live: ${r}`)],
      };
    }
    const { accept, unknown } = this.deps.thresholds;
    const score = face.score ?? 0;
    const verdict =
      face.score === undefined || score < unknown ? 'unknown' : score >= accept ? 'recognised' : 'uncertain';
    return { ...face, verdict };
  }

  private broadcast(type: string, data: unknown): void {
    for (const res of this.viewers) write(res, type, data);
  }
}

function write(res: ServerResponse, type: string, data: unknown): void {
  res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Both sides hashed first, so timingSafeEqual compares equal lengths whatever was given. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
