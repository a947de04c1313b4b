/** convict schema slice for `camera` (owned by src/camera). */
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
    doc: 'Frames per second to capture (replay: playback rate).',
    format: 'nat',
    default: 10,
    env: 'FACEGATE_CAMERA_FPS',
  },
} as const;
