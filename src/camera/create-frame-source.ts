import { statSync } from 'node:fs';
import type { FrameSource } from './frame-source.js';
import type { CameraConfig } from './config.js';
import { FfmpegSource, inputKind } from './ffmpeg-source.js';
import { ReplaySource } from './replay-source.js';
import { WebcamSource } from './webcam-source.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { resolvePackagePath } from '../vision/package-path.js';

/**
 * Builds the configured camera:
 * - replay: a folder of images (played by ReplaySource) or a video file (ffmpeg, looped);
 * - ffmpeg: v4l2 device, RTSP, HTTP MJPEG or a file through one long-running ffmpeg;
 * - webcam: node-webcam / fswebcam, one process per frame.
 */
export function createFrameSource(config: CameraConfig, clock: Clock, logger: Logger): FrameSource {
  switch (config.type) {
    case 'replay': {
      const path = resolvePackagePath(config.path);
      let isDir: boolean;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        throw new Error(`replay path ${config.path} does not exist`);
      }
      if (isDir) return new ReplaySource({ folder: path, fps: config.fps, loop: config.loop }, clock, logger);
      return new FfmpegSource(
        {
          ...config.ffmpeg,
          input: path,
          width: config.width,
          height: config.height,
          fps: config.fps,
          loop: config.loop,
          realtime: config.fps > 0,
          name: 'replay:video',
        },
        clock,
        logger,
      );
    }
    case 'ffmpeg':
      return new FfmpegSource(
        {
          ...config.ffmpeg,
          input: config.path,
          width: config.width,
          height: config.height,
          fps: config.fps,
          loop: config.loop,
          realtime: inputKind(config.path) === 'file',
        },
        clock,
        logger,
      );
    case 'webcam':
      return new WebcamSource(
        {
          device: config.path,
          width: config.width,
          height: config.height,
          fps: Math.min(30, config.fps || 1),
        },
        clock,
        logger,
      );
    default:
      throw new Error(`unknown camera.type ${String((config as { type: unknown }).type)}`);
  }
}
