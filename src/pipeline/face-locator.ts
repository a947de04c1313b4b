import type { FaceDetector } from '../vision/detector.js';
import type { EyeFinder } from '../vision/eyes.js';
import type { Box, EyePair, FaceRegion, GrayImage } from '../vision/image.js';
import { preprocessFace, type PreprocessOptions } from '../vision/preprocess.js';

/**
 * Eyes for models that align faces (the pretrained backbone). The live loop asks for the
 * eyes of each face that passed the quality gate; enrollment goes through PhotoEnroller,
 * which detects and then preprocesses `{ box }` — so for it the detector is wrapped to look
 * for the eyes of every box it returns and remember them by box identity, and the shared
 * preprocess function uses them. Enrollment and live frames are thereby aligned the same way.
 * Without eyes (none found, or a model that does not align) the box alone is used.
 */
export class FaceLocator {
  private readonly eyesByBox = new WeakMap<Box, EyePair>();

  constructor(private readonly eyes: EyeFinder | null) {}

  get aligns(): boolean {
    return this.eyes !== null;
  }

  /** The face region with its eyes when they can be found. */
  async locate(image: GrayImage, box: Box): Promise<FaceRegion> {
    if (!this.eyes) return { box };
    const found = (await this.eyes.find(image, box)).eyes;
    if (found) this.eyesByBox.set(box, found);
    return found ? { box, eyes: found } : { box };
  }

  /** A detector whose boxes carry their eyes (looked up by `preprocess`) — for enrollment. */
  wrapDetector(detector: FaceDetector): FaceDetector {
    return {
      name: detector.name,
      detect: async (image) => {
        const boxes = await detector.detect(image);
        // Only a photo with exactly one face is enrolled: do not search eyes otherwise.
        if (boxes.length === 1) await this.locate(image, boxes[0]);
        return boxes;
      },
    };
  }

  /** THE preprocessing with these options, using eyes found for the box when the region has none. */
  preprocessor(options: PreprocessOptions): (image: GrayImage, face: FaceRegion) => GrayImage {
    return (image, face) => {
      const eyes = face.eyes ?? this.eyesByBox.get(face.box);
      return preprocessFace(image, eyes ? { box: face.box, eyes } : face, options);
    };
  }

  async stop(): Promise<void> {
    await this.eyes?.stop();
  }
}
