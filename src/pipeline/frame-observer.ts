import type { AccessDecision } from '../access/policy.js';
import type { Frame } from '../camera/frame-source.js';
import type { Box, Point } from '../vision/image.js';

/** One face the loop saw in a frame, and what became of it. */
export interface SeenFace {
  readonly box: Box;
  /** Landmark points (image coordinates) when the face path found them. */
  readonly landmarks?: readonly Point[];
  /**
   * refused: the quality gate (or liveness) stopped it; compared: it was compared with the
   * gallery (personId/name/score: the closest person, whatever the score; the policy's
   * thresholds decide what that means).
   */
  readonly outcome: 'refused' | 'compared';
  /** Why it was refused, or the quality marks of an accepted face (e.g. "too_small", "blurry"). */
  readonly reasons: readonly string[];
  /** The closest enrolled person and the head's similarity score in (0, 1), when compared. */
  readonly personId?: string;
  readonly name?: string;
  readonly score?: number;
  /**
   * The face's track is decided: this frame was not embedded, personId/name/score are the
   * track's last embedding (TrackIdentities); such a face casts no vote.
   */
  readonly reused?: boolean;
  /** The face track's liveness verdict and its reasons (absent when liveness is off). */
  readonly liveness?: {
    readonly verdict: 'live' | 'spoof' | 'undecided';
    readonly reasons: readonly string[];
  };
}

/** What the live loop saw in one frame. The frame's pixels must not be kept past the call unless copied. */
export interface FrameSeen {
  readonly frame: Frame;
  readonly faces: readonly SeenFace[];
  readonly decisions: readonly AccessDecision[];
}

/**
 * Watches the live loop frame by frame (the live view). Called synchronously at the end of
 * each frame: it must be cheap and must not throw into the loop (the loop guards anyway).
 * The loop knows nothing about who watches or how (no dependency on HTTP).
 */
export interface FrameObserver {
  frameSeen(seen: FrameSeen): void;
  /**
   * True while this observer needs every face of every frame aligned on its landmarks (a
   * walk-up enrollment in progress picks its templates by head pose): the loop then embeds
   * decided tracks' faces too instead of reusing their match. Absent: false.
   */
  wantsEveryFace?(): boolean;
}

/**
 * Several observers of the one live loop (the live view and a walk-up capture): each is
 * told every frame; one that throws is logged by `onError` and the others still see it.
 */
export class FrameObservers implements FrameObserver {
  private readonly observers = new Set<FrameObserver>();

  constructor(private readonly onError: (err: unknown) => void = () => undefined) {}

  /** Adds an observer; returns the function that removes it again. */
  add(observer: FrameObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  get size(): number {
    return this.observers.size;
  }

  /** Whether any observer wants every face (see FrameObserver.wantsEveryFace). */
  wantsEveryFace(): boolean {
    for (const observer of this.observers) {
      try {
        if (observer.wantsEveryFace?.()) return true;
      } catch (err) {
        this.onError(err);
      }
    }
    return false;
  }

  frameSeen(seen: FrameSeen): void {
    for (const observer of this.observers) {
      try {
        observer.frameSeen(seen);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
