import { describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/model/embedder.js';
import { reembedGallery, storedFaceToInput } from '../../src/pipeline/gallery-maintenance.js';
import { createLogger } from '../../src/util/log.js';
import { CANONICAL_CHIP, DLIB_CHIP_150, modelInputFromChip } from '../../src/vision/face-chip.js';
import { createGrayImage, type GrayImage } from '../../src/vision/image.js';

/** A 220 px "chip" with a gradient, so the centre cut is recognisable. */
function gradient(size: number): GrayImage {
  return createGrayImage(
    size,
    size,
    Uint8Array.from({ length: size * size }, (_, i) => (i % size) + Math.floor(i / size) / 4),
  );
}

/** Embeds a face as [mean, first pixel]; declares the dlib chip; remembers what it saw. */
class ChipEmbedder implements Embedder {
  readonly modelId = 'chip-model-2';
  readonly dimension = 2;
  readonly inputSize = 150;
  readonly head = { weight: -10, bias: 5 };
  readonly crop = DLIB_CHIP_150;
  seen: GrayImage[] = [];
  async embed(faces: readonly GrayImage[]): Promise<Float32Array[]> {
    this.seen.push(...faces);
    return faces.map((f) => Float32Array.of(f.data.reduce((a, v) => a + v, 0) / f.data.length, f.data[0]));
  }
  dispose(): void {}
}

describe('re-embedding a gallery after a model change', () => {
  it('cuts the model chip from stored canonical chips exactly, and flags older crops for re-enrollment', async () => {
    const chip = gradient(CANONICAL_CHIP.size);
    const legacy = gradient(150); // an eye-aligned crop of the previous model
    const stored = [
      { faceId: 1, personId: 'alice', crop: chip },
      { faceId: 2, personId: 'bob', crop: legacy },
    ];
    const put: { faceId: number; vector: Float32Array }[] = [];
    const store = {
      cropsMissingEmbedding: () => stored.filter((s) => !put.some((p) => p.faceId === s.faceId)),
      putEmbeddings: (_m: string, e: readonly { faceId: number; vector: Float32Array }[]) => (
        put.push(...e),
        e.length
      ),
      dropOtherModels: () => 3,
    };
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => void lines.push(l) });
    const embedder = new ChipEmbedder();
    const result = await reembedGallery(store, embedder, logger);
    expect(result).toEqual({ embedded: 2, dropped: 3 });
    const expected = modelInputFromChip(chip, CANONICAL_CHIP, DLIB_CHIP_150);
    expect(Buffer.from(embedder.seen[0].data).equals(Buffer.from(expected.data))).toBe(true);
    expect(embedder.seen[1]).toBe(legacy); // already the model's size: used as it is
    const warning = lines
      .map((l) => JSON.parse(l) as { msg: string; faces?: number })
      .find((l) => /re-enroll/.test(l.msg));
    expect(warning?.faces).toBe(1);
  });

  it('says which stored faces are faithful for a geometry', () => {
    expect(storedFaceToInput(gradient(220), DLIB_CHIP_150).faithful).toBe(true);
    expect(storedFaceToInput(gradient(150), DLIB_CHIP_150).faithful).toBe(false);
    const box = {
      kind: 'box' as const,
      size: 64,
      marginX: -0.1,
      marginTop: -0.175,
      marginBottom: 0,
      equalize: true,
    };
    expect(storedFaceToInput(gradient(64), box).faithful).toBe(true);
    const resized = storedFaceToInput(gradient(220), box);
    expect([resized.input.width, resized.faithful]).toEqual([64, false]);
  });
});
