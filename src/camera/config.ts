/** convict schema slice for `camera` (owned by src/camera). */

const intIn = (name: string, min: number, max: number) => (value: unknown) => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in ${min}..${max}`);
  }
};

export const cameraSchema = {
  type: {
    doc: 'Frame source: replay (folder of images or video file, looped), ffmpeg (v4l2 device, RTSP, HTTP MJPEG, file) or webcam (node-webcam / fswebcam).',
    format: ['replay', 'ffmpeg', 'webcam'],
    default: 'replay',
    env: 'FACEGATE_CAMERA_TYPE',
  },
  path: {
    doc: 'Replay folder or video file, /dev/videoN, rtsp:// or http:// URL.',
    format: String,
    default: 'data/replay',
    env: 'FACEGATE_CAMERA_PATH',
  },
  fps: {
    doc: "Frames per second to capture (replay: playback rate; 0 = replay as fast as frames are taken, ffmpeg: the camera's own rate).",
    format: 'nat',
    default: 10,
    env: 'FACEGATE_CAMERA_FPS',
  },
  width: {
    doc: "Frame width in pixels delivered by the ffmpeg and webcam sources (ffmpeg scales to it). Replay folders keep their images' size.",
    format: intIn('camera.width', 16, 7680),
    default: 640,
    env: 'FACEGATE_CAMERA_WIDTH',
  },
  height: {
    doc: 'Frame height in pixels delivered by the ffmpeg and webcam sources.',
    format: intIn('camera.height', 16, 4320),
    default: 480,
    env: 'FACEGATE_CAMERA_HEIGHT',
  },
  loop: {
    doc: 'Replay (and ffmpeg reading a file): start again at the end instead of stopping.',
    format: Boolean,
    default: true,
    env: 'FACEGATE_CAMERA_LOOP',
  },
  ffmpeg: {
    binary: {
      doc: 'ffmpeg executable (name on PATH or absolute path).',
      format: String,
      default: 'ffmpeg',
      env: 'FACEGATE_FFMPEG_BINARY',
    },
    inputFormat: {
      doc: 'Force the ffmpeg input format (-f), e.g. v4l2, mjpeg, mpjpeg; empty = guess from camera.path.',
      format: String,
      default: '',
      env: 'FACEGATE_FFMPEG_INPUT_FORMAT',
    },
    rtspTransport: {
      doc: 'RTSP transport: tcp (survives packet loss; default) or udp.',
      format: ['tcp', 'udp'],
      default: 'tcp',
      env: 'FACEGATE_FFMPEG_RTSP_TRANSPORT',
    },
    stallTimeoutSec: {
      doc: 'Restart ffmpeg when no frame arrived for this many seconds (a frozen camera or a dead stream).',
      format: intIn('camera.ffmpeg.stallTimeoutSec', 1, 3600),
      default: 10,
      env: 'FACEGATE_FFMPEG_STALL_TIMEOUT_SEC',
    },
    restartMinMs: {
      doc: 'First restart delay after ffmpeg died; doubles per failed start up to restartMaxMs, reset by the first frame.',
      format: intIn('camera.ffmpeg.restartMinMs', 10, 600_000),
      default: 500,
      env: 'FACEGATE_FFMPEG_RESTART_MIN_MS',
    },
    restartMaxMs: {
      doc: 'Longest restart delay.',
      format: intIn('camera.ffmpeg.restartMaxMs', 10, 3_600_000),
      default: 30_000,
      env: 'FACEGATE_FFMPEG_RESTART_MAX_MS',
    },
  },
} as const;

export type CameraType = 'replay' | 'ffmpeg' | 'webcam';

export interface FfmpegOptions {
  readonly binary: string;
  readonly inputFormat: string;
  readonly rtspTransport: 'tcp' | 'udp';
  readonly stallTimeoutSec: number;
  readonly restartMinMs: number;
  readonly restartMaxMs: number;
}

/** What `createFrameSource` takes (the `camera` slice). */
export interface CameraConfig {
  readonly type: CameraType;
  readonly path: string;
  readonly fps: number;
  readonly width: number;
  readonly height: number;
  readonly loop: boolean;
  readonly ffmpeg: FfmpegOptions;
}

export const DEFAULT_CAMERA_CONFIG: CameraConfig = {
  type: 'replay',
  path: 'data/replay',
  fps: 10,
  width: 640,
  height: 480,
  loop: true,
  ffmpeg: {
    binary: 'ffmpeg',
    inputFormat: '',
    rtspTransport: 'tcp',
    stallTimeoutSec: 10,
    restartMinMs: 500,
    restartMaxMs: 30_000,
  },
};
