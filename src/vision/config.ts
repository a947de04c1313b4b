/** convict schema slice for `vision` (detector, quality gate; owned by src/vision). */

/** A fraction in [0, 1] (convict custom formats are registered by name; this is checked inline). */
const fraction = (name: string) => (value: unknown) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(`${name} must be a number between 0 and 1`);
  }
};

const positiveNumber = (name: string, min: number, max: number) => (value: unknown) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number in ${min}..${max}`);
  }
};

export const visionSchema = {
  landmarks: {
    model: {
      doc: 'Facial-landmark model folder (facegate-landmarks.json + tfjs weights) used to align faces for models that declare an aligned crop (relative paths are relative to the working directory). Loaded from disk only.',
      format: String,
      default: 'models/landmarks/faceapi-68',
      env: 'FACEGATE_LANDMARKS_MODEL',
    },
  },
  detector: {
    backend: {
      doc: 'OpenCV implementation: auto (native @u4/opencv4nodejs if it loads, else WebAssembly), native, wasm.',
      format: ['auto', 'native', 'wasm'],
      default: 'auto',
      env: 'FACEGATE_DETECTOR_BACKEND',
    },
    cascade: {
      doc: 'Haar cascade XML for frontal faces (relative paths are relative to the working directory).',
      format: String,
      default: 'models/haarcascade_frontalface_default.xml',
      env: 'FACEGATE_DETECTOR_CASCADE',
    },
    detectWidth: {
      doc: 'Width in pixels of the gray copy the detector runs on (frames wider than this are downscaled; boxes are scaled back). 320 is ~4x faster than 640 and still finds faces of 1/8 frame width.',
      format: 'nat',
      default: 320,
      env: 'FACEGATE_DETECTOR_DETECT_WIDTH',
    },
    scaleFactor: {
      doc: 'Haar pyramid step (>1). Smaller finds more faces and is slower.',
      format: positiveNumber('vision.detector.scaleFactor', 1.01, 2),
      default: 1.1,
      env: 'FACEGATE_DETECTOR_SCALE_FACTOR',
    },
    minNeighbors: {
      doc: 'Overlapping Haar hits needed to keep a face (higher: fewer false faces, may miss some).',
      format: 'nat',
      default: 5,
      env: 'FACEGATE_DETECTOR_MIN_NEIGHBORS',
    },
    minFaceFraction: {
      doc: "Smallest face the detector looks for, as a fraction of the frame width (never below the 24 px Haar window at detectWidth). Faces smaller than the quality gate's minimum are only reported as too_small, so this sits just below it: each step smaller adds the most expensive pyramid levels (0.08 costs ~1.5x of 0.1).",
      format: fraction('vision.detector.minFaceFraction'),
      default: 0.1,
      env: 'FACEGATE_DETECTOR_MIN_FACE_FRACTION',
    },
    padFraction: {
      doc: 'Replicated border added around the downscaled copy, as a fraction of its shorter side, so faces that fill or touch the edge of the picture (portrait enrollment photos) are still found. 0 disables.',
      format: fraction('vision.detector.padFraction'),
      default: 0.1,
      env: 'FACEGATE_DETECTOR_PAD_FRACTION',
    },
    threads: {
      doc: 'OpenCV worker threads for the native detector (0 = OpenCV default). The WebAssembly build is single-threaded and runs in its own worker thread.',
      format: 'nat',
      default: 2,
      env: 'FACEGATE_DETECTOR_THREADS',
    },
  },
  quality: {
    minFaceFraction: {
      doc: 'Faces narrower than this fraction of the frame width are rejected as too_small (too far from the door).',
      format: fraction('vision.quality.minFaceFraction'),
      default: 0.12,
      env: 'FACEGATE_QUALITY_MIN_FACE_FRACTION',
    },
    minFacePixels: {
      doc: 'Faces narrower than this many pixels in the full frame are rejected as too_small (too little detail for a 64x64 crop).',
      format: 'nat',
      default: 48,
      env: 'FACEGATE_QUALITY_MIN_FACE_PIXELS',
    },
    minSharpness: {
      doc: 'Minimum variance of the Laplacian of the face resampled to 64x64 and contrast-normalised; below it the face is rejected as blurry (motion blur, out of focus). 0 disables.',
      format: positiveNumber('vision.quality.minSharpness', 0, 1e6),
      default: 60,
      env: 'FACEGATE_QUALITY_MIN_SHARPNESS',
    },
    doorZone: {
      x: {
        doc: 'Door zone left edge as a fraction of the frame width; a face whose centre is outside the zone is rejected as outside_zone.',
        format: fraction('vision.quality.doorZone.x'),
        default: 0,
        env: 'FACEGATE_QUALITY_ZONE_X',
      },
      y: {
        doc: 'Door zone top edge as a fraction of the frame height.',
        format: fraction('vision.quality.doorZone.y'),
        default: 0,
        env: 'FACEGATE_QUALITY_ZONE_Y',
      },
      width: {
        doc: 'Door zone width as a fraction of the frame width.',
        format: fraction('vision.quality.doorZone.width'),
        default: 1,
        env: 'FACEGATE_QUALITY_ZONE_WIDTH',
      },
      height: {
        doc: 'Door zone height as a fraction of the frame height.',
        format: fraction('vision.quality.doorZone.height'),
        default: 1,
        env: 'FACEGATE_QUALITY_ZONE_HEIGHT',
      },
    },
    maxRollDeg: {
      doc: 'Largest in-plane head tilt (degrees, from the eye line of the landmarks; 5..45). A face tilted more is marked poor live (tilted: recognised, cannot open the door) and refused at enrollment (face_tilted). Alignment levels the eyes, so moderate tilt is harmless.',
      format: positiveNumber('vision.quality.maxRollDeg', 5, 45),
      default: 25,
      env: 'FACEGATE_QUALITY_MAX_ROLL_DEG',
    },
    maxYawDeg: {
      doc: 'Largest left/right head turn (degrees, estimated from the nose offset between the eyes and mouth corners; 5..60). A face turned more is marked poor live (turned) and refused at enrollment (face_turned): a half-profile embeds far from the frontal templates.',
      format: positiveNumber('vision.quality.maxYawDeg', 5, 60),
      default: 25,
      env: 'FACEGATE_QUALITY_MAX_YAW_DEG',
    },
    maxFaces: {
      doc: 'At most this many faces per frame go on to recognition (largest first); the rest are rejected as too_many_faces.',
      format: 'nat',
      default: 1,
      env: 'FACEGATE_QUALITY_MAX_FACES',
    },
  },
} as const;

export type DetectorBackendChoice = 'auto' | 'native' | 'wasm';

/** What `createFaceDetector` takes (the `vision.detector` slice). */
export interface DetectorConfig {
  readonly backend: DetectorBackendChoice;
  readonly cascade: string;
  readonly detectWidth: number;
  readonly scaleFactor: number;
  readonly minNeighbors: number;
  readonly minFaceFraction: number;
  readonly padFraction: number;
  readonly threads: number;
}

/** Door zone in fractions of the frame. */
export interface ZoneFraction {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** What the quality gate takes (the `vision.quality` slice); photo enrollment uses the same face rules. */
export interface QualityConfig {
  readonly minFaceFraction: number;
  readonly minFacePixels: number;
  readonly minSharpness: number;
  readonly doorZone: ZoneFraction;
  readonly maxFaces: number;
  /** Shared face rules (src/vision/face-rules.ts): pose limits in degrees. */
  readonly maxRollDeg: number;
  readonly maxYawDeg: number;
}

export interface VisionConfig {
  readonly landmarks: { readonly model: string };
  readonly detector: DetectorConfig;
  readonly quality: QualityConfig;
}

export const DEFAULT_DETECTOR_CONFIG: DetectorConfig = {
  backend: 'auto',
  cascade: 'models/haarcascade_frontalface_default.xml',
  detectWidth: 320,
  scaleFactor: 1.1,
  minNeighbors: 5,
  minFaceFraction: 0.1,
  padFraction: 0.1,
  threads: 2,
};

export const DEFAULT_QUALITY_CONFIG: QualityConfig = {
  minFaceFraction: 0.12,
  minFacePixels: 48,
  minSharpness: 60,
  doorZone: { x: 0, y: 0, width: 1, height: 1 },
  maxFaces: 1,
  maxRollDeg: 25,
  maxYawDeg: 25,
};
