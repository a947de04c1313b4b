import sharp from 'sharp';
import type { FrameObserver, FrameSeen } from '../pipeline/frame-observer.js';
import type { Logger } from '../util/log.js';
import { createGrayImage, type GrayImage, type Point } from '../vision/image.js';
import { fiveFrom68 } from '../vision/landmarks.js';
import { estimatePose } from '../vision/pose.js';
import { EnrollmentError } from './errors.js';
import type { EnrolledFace } from './photo-enroller.js';

/** A camera frame → one gallery entry by the enrollment face rules (PhotoEnroller.enrollImage). */
export interface FrameEnroller {
  enrollImage(image: GrayImage): Promise<EnrolledFace>;
}

/** What one walk-up capture is asked for (bounds from the enrollment config). */
export interface CaptureRequest {
  /** How long to watch the camera, seconds (already bounded by enrollment.captureMaxSeconds). */
  readonly seconds: number;
  /** Fewest templates that make a capture (enrollment.captureMinTemplates). */
  readonly minTemplates: number;
  /** Most templates one capture enrolls (enrollment.captureMaxTemplates). */
  readonly maxTemplates: number;
  /** Liveness is on: only frames whose track was judged `live` count. */
  readonly requireLive: boolean;
}

/** One template the capture took, with a small JPEG of its face for the answer. */
export interface CapturedTemplate {
  readonly face: EnrolledFace;
  /** Base64 JPEG of the stored crop, at most THUMBNAIL_SIDE px wide. */
  readonly thumbnail: string;
  /** The frame's seq and its time into the capture (ms). */
  readonly frame: number;
  readonly atMs: number;
}

export interface CaptureResult {
  readonly templates: readonly CapturedTemplate[];
  /** Frames seen, frames with exactly one usable face, frames with several faces. */
  readonly frames: number;
  readonly usableFrames: number;
  readonly severalFaceFrames: number;
}

/** Side of the answer's thumbnails (px): small enough that five fit easily in one MQTT response. */
export const THUMBNAIL_SIDE = 96;
/** Frames kept as candidates at most (each a copy of a camera frame, ~300 KB at 640x480). */
const MAX_CANDIDATES = 24;
/**
 * Share of face frames that may show several faces before the capture is refused: Haar
 * sometimes reports a stray second box for a frame, a second person stays for many.
 */
const SEVERAL_FACES_TOLERANCE = 0.1;

interface Candidate {
  readonly image: GrayImage;
  readonly seq: number;
  readonly atMs: number;
  /** Head yaw (degrees) from the loop's landmarks of the face, when it had them. */
  readonly yawDeg?: number;
}

interface Session {
  readonly request: CaptureRequest;
  readonly startMs: number;
  frames: number;
  faceFrames: number;
  severalFaceFrames: number;
  notLiveFrames: number;
  refusedFrames: number;
  usable: Candidate[];
  /** Every how many usable frames one is kept (doubles when the candidates are full). */
  stride: number;
  usableSeen: number;
}

/**
 * Walk-up enrollment from the door camera: watches the live loop's frames (a FrameObserver,
 * so the camera is read once, by the loop) for `seconds`, keeps copies of frames showing
 * exactly ONE face that passed the live quality gate (and, with liveness on, whose track
 * was judged `live`), then enrolls a few of them spread over the capture (a person walking
 * up and looking around gives different poses over time) through the same face rules,
 * crop and embedder as a photo. One capture at a time.
 */
export class WalkupCapture implements FrameObserver {
  private session: Session | null = null;
  private readonly log: Logger;

  constructor(
    private readonly deps: {
      readonly enroller: FrameEnroller;
      readonly monotonicMs: () => number;
      /** Waits `ms` (tests pass a fake; the daemon setTimeout). */
      readonly sleep: (ms: number) => Promise<void>;
      readonly logger: Logger;
    },
  ) {
    this.log = deps.logger.child({ module: 'walkup-capture' });
  }

  get busy(): boolean {
    return this.session !== null;
  }

  /** While capturing, every frame's face is aligned on its landmarks (the loop does not reuse tracks). */
  wantsEveryFace(): boolean {
    return this.busy;
  }

  frameSeen(seen: FrameSeen): void {
    const s = this.session;
    if (!s) return;
    s.frames++;
    if (seen.faces.length === 0) return;
    s.faceFrames++;
    if (seen.faces.length > 1) {
      s.severalFaceFrames++;
      return;
    }
    const [face] = seen.faces;
    if (face.outcome !== 'compared' || face.reasons.includes('poor')) {
      s.refusedFrames++;
      return;
    }
    if (s.request.requireLive && face.liveness?.verdict !== 'live') {
      s.notLiveFrames++;
      return;
    }
    // Evenly thinned: when the candidates are full every other one goes and the stride doubles.
    s.usableSeen++;
    if ((s.usableSeen - 1) % s.stride !== 0) return;
    const { image } = seen.frame;
    const yawDeg = faceYaw(face.landmarks);
    s.usable.push({
      image: createGrayImage(image.width, image.height, new Uint8Array(image.data)),
      seq: seen.frame.seq,
      atMs: this.deps.monotonicMs() - s.startMs,
      ...(yawDeg === undefined ? {} : { yawDeg }),
    });
    if (s.usable.length >= MAX_CANDIDATES) {
      s.usable = s.usable.filter((_, i) => i % 2 === 0);
      s.stride *= 2;
    }
  }

  /**
   * Runs one capture. Throws EnrollmentError: `capture_busy` (one is running), `no_face`,
   * `several_faces`, `not_live`, `too_few_frames` (with counts in details).
   */
  async capture(request: CaptureRequest): Promise<CaptureResult> {
    if (this.session)
      throw new EnrollmentError('capture_busy', 'a walk-up capture is already running on this door');
    const session: Session = {
      request,
      startMs: this.deps.monotonicMs(),
      frames: 0,
      faceFrames: 0,
      severalFaceFrames: 0,
      notLiveFrames: 0,
      refusedFrames: 0,
      usable: [],
      stride: 1,
      usableSeen: 0,
    };
    this.session = session;
    this.log.info({ seconds: request.seconds }, 'walk-up capture started');
    try {
      await this.deps.sleep(request.seconds * 1000);
    } finally {
      this.session = null;
    }
    const counts = {
      frames: session.frames,
      faceFrames: session.faceFrames,
      usableFrames: session.usableSeen,
      severalFaceFrames: session.severalFaceFrames,
      notLiveFrames: session.notLiveFrames,
      refusedFrames: session.refusedFrames,
    };
    this.log.info(counts, 'walk-up capture ended');
    if (session.faceFrames === 0) {
      throw new EnrollmentError(
        'no_face',
        `no face seen in ${session.frames} frames over ${request.seconds} s`,
        {
          hint: 'stand in front of the door camera, face towards it, during the whole capture',
          details: counts,
        },
      );
    }
    if (session.severalFaceFrames > SEVERAL_FACES_TOLERANCE * session.faceFrames) {
      throw new EnrollmentError(
        'several_faces',
        `several faces seen in ${session.severalFaceFrames} of ${session.faceFrames} frames: a walk-up enrollment takes one person`,
        { hint: 'ask everybody else to step out of the camera view and capture again', details: counts },
      );
    }
    if (request.requireLive && session.usableSeen === 0 && session.notLiveFrames > 0) {
      throw new EnrollmentError('not_live', 'the face in front of the camera was never judged live', {
        hint: 'the person stands in front of the door themselves (no photo or screen), moves a little, in good light',
        details: counts,
      });
    }
    const templates = await this.enrollSpread(session.usable, request.maxTemplates);
    if (templates.length < request.minTemplates) {
      throw new EnrollmentError(
        'too_few_frames',
        `only ${templates.length} usable face frame(s) taken, at least ${request.minTemplates} needed`,
        {
          hint: 'face the camera from about an arm’s length to two metres, in good light, and capture for longer',
          details: { ...counts, taken: templates.length, needed: request.minTemplates },
        },
      );
    }
    return {
      templates,
      frames: session.frames,
      usableFrames: session.usableSeen,
      severalFaceFrames: session.severalFaceFrames,
    };
  }

  /**
   * Up to `max` templates spread evenly over the head poses of the capture's usable frames
   * (by yaw when every candidate has landmarks, else over time: different moments give
   * different poses). Templates of several poses let the door match a person who does not
   * face the camera squarely; the enrollment face rules still refuse a too-turned frame, and
   * the next candidate is tried.
   */
  private async enrollSpread(candidates: readonly Candidate[], max: number): Promise<CapturedTemplate[]> {
    const byPose = poseOrder(candidates);
    const order = spreadOrder(byPose.length, max).map((i) => byPose[i]);
    const out: CapturedTemplate[] = [];
    for (const index of order) {
      if (out.length >= max) break;
      const c = candidates[index];
      let face: EnrolledFace;
      try {
        face = await this.deps.enroller.enrollImage(c.image);
      } catch (err) {
        if (!(err instanceof EnrollmentError)) throw err;
        this.log.debug({ frame: c.seq, code: err.code }, 'captured frame refused by the face rules');
        continue;
      }
      out.push({ face, thumbnail: await jpegThumbnail(face.crop), frame: c.seq, atMs: Math.round(c.atMs) });
    }
    return out.sort((a, b) => a.frame - b.frame);
  }
}

/**
 * Candidate indices sorted by head yaw (most turned to one side first) when every candidate
 * has a yaw; in capture order otherwise (a mix would compare estimates with guesses).
 */
export function poseOrder(candidates: readonly { readonly yawDeg?: number }[]): number[] {
  const indices = [...candidates.keys()];
  if (!candidates.every((c) => c.yawDeg !== undefined)) return indices;
  return indices.sort((a, b) => (candidates[a].yawDeg ?? 0) - (candidates[b].yawDeg ?? 0));
}

/** Yaw (degrees) from a face's 68 landmarks; undefined without them or when they are degenerate. */
function faceYaw(points: readonly Point[] | undefined): number | undefined {
  if (!points || points.length < 68) return undefined;
  try {
    return estimatePose(fiveFrom68(points)).yawDeg;
  } catch {
    return undefined; // degenerate landmarks (RangeError): no pose, the capture order is used
  }
}

/**
 * Indices 0..n-1 in the order to try them: first `k` evenly spaced ones, then the rest
 * (fallbacks for refused frames).
 */
export function spreadOrder(n: number, k: number): number[] {
  if (n === 0) return [];
  const first = new Set<number>();
  const picks = Math.min(n, k);
  for (let i = 0; i < picks; i++)
    first.add(picks === 1 ? Math.floor(n / 2) : Math.round((i * (n - 1)) / (picks - 1)));
  const rest = [...Array(n).keys()].filter((i) => !first.has(i));
  return [...first, ...rest];
}

/** A gray crop → base64 JPEG, at most THUMBNAIL_SIDE px wide. */
export async function jpegThumbnail(image: GrayImage): Promise<string> {
  const jpeg = await sharp(Buffer.from(image.data), {
    raw: { width: image.width, height: image.height, channels: 1 },
  })
    .resize({ width: Math.min(THUMBNAIL_SIDE, image.width), withoutEnlargement: true })
    .jpeg({ quality: 80 })
    .toBuffer();
  return jpeg.toString('base64');
}
