import { warpSimilarity, type SimilarityTransform } from '../../src/vision/align.js';
import type { GrayImage, Point } from '../../src/vision/image.js';

/**
 * A face photo placed into a `size` x `size` scene: enlarged by `zoom`, turned by `deg`
 * (degrees, about the photo's centre) and centred on `centre` (scene pixels). Returns the
 * scene and the scene → photo transform (for checking where the face landed).
 */
export function turnedFaceScene(
  face: GrayImage,
  o: { deg: number; zoom: number; size: number; centre: Point },
): { scene: GrayImage; toFace: SimilarityTransform } {
  const th = (o.deg * Math.PI) / 180;
  const s = 1 / o.zoom;
  const cx = face.width / 2;
  const cy = face.height / 2;
  const toFace: SimilarityTransform = {
    a: s * Math.cos(th),
    b: s * Math.sin(th),
    tx: cx - (s * Math.cos(th) * o.centre.x - s * Math.sin(th) * o.centre.y),
    ty: cy - (s * Math.sin(th) * o.centre.x + s * Math.cos(th) * o.centre.y),
  };
  return { scene: warpSimilarity(face, toFace, o.size, o.size), toFace };
}
