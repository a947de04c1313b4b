import { describe, expect, it } from 'vitest';
import { DEFAULT_LIVENESS_CONFIG } from '../../src/liveness/config.js';
import {
  EdgeAccumulator,
  framingLines,
  ringRegion,
  sidesMovingWithFace,
  type EdgeResult,
} from '../../src/liveness/edges.js';
import { detailRatio } from '../../src/liveness/detail-ratio.js';
import { judgeSamples, LivenessJudge } from '../../src/liveness/judge.js';
import { createNativeLineFinder, type EdgeLine } from '../../src/liveness/line-finder.js';
import { createGrayImage, type Box, type GrayImage } from '../../src/vision/image.js';
import { noiseSource, projectHead } from './synthetic-face.js';

/**
 * The sheet/screen edge signal: pure geometry on constructed segments, then the real
 * OpenCV line search (Canny + HoughLinesP) on drawn frames — a screen whose bezel moves
 * with the face it shows, against a door frame that stays put while a person moves.
 */

const box = (cx: number, cy: number, side = 80): Box => ({
  x: cx - side / 2,
  y: cy - side / 2,
  width: side,
  height: side,
});

/** The four edges of a rectangle `k` face sizes out from the box centre. */
function frameAround(b: Box, k: number): EdgeLine[] {
  const cx = b.x + b.width / 2;
  const cy = b.y + b.height / 2;
  const [l, r, t, bt] = [cx - k * b.width, cx + k * b.width, cy - k * b.height, cy + k * b.height];
  return [
    { x1: l, y1: t, x2: l, y2: bt },
    { x1: r, y1: t, x2: r, y2: bt },
    { x1: l, y1: t, x2: r, y2: t },
    { x1: l, y1: bt, x2: r, y2: bt },
  ];
}

describe('framingLines', () => {
  it('finds a rectangle around the face on all four sides', () => {
    const b = box(320, 240);
    expect(new Set(framingLines(b, frameAround(b, 1.1)).map((f) => f.side))).toEqual(
      new Set(['left', 'right', 'top', 'bottom']),
    );
  });

  it('ignores segments inside the face, too far out, diagonal, or not alongside the face', () => {
    const b = box(320, 240);
    const lines: EdgeLine[] = [
      ...frameAround(b, 0.3), // inside the face box (glasses, mouth)
      ...frameAround(b, 2.5), // far behind
      { x1: 200, y1: 150, x2: 260, y2: 330 }, // 18° off vertical but left of the face: kept
      { x1: 220, y1: 150, x2: 300, y2: 230 }, // 45°: neither side
      { x1: 230, y1: 20, x2: 230, y2: 120 }, // left of the face but entirely above it
    ];
    expect(framingLines(b, lines)).toEqual([{ side: 'left', position: 230 }]);
  });
});

describe('EdgeAccumulator (pure)', () => {
  const cfg = DEFAULT_LIVENESS_CONFIG;

  it('a frame that travels with the face votes rigid; a spoof after enough frames', () => {
    const acc = new EdgeAccumulator();
    for (let i = 0; i < 10; i++) {
      const b = box(250 + i * 12, 240 + i * 3, 80 + i * 2);
      acc.add(i * 66, b, frameAround(b, 1.1));
    }
    const r = acc.result();
    // The top edge barely moves in the image (the face moves down as it grows): no votes.
    expect(sidesMovingWithFace(r, cfg.edgeMinVotes)).toEqual(['left', 'right', 'bottom']);
    expect(r.static.left + r.static.right).toBe(0);
    expect(r.framed3).toBe(10);
  });

  it('a static line (door frame) while the face moves votes static, never rigid', () => {
    const acc = new EdgeAccumulator();
    for (let i = 0; i < 10; i++) {
      const b = box(300 + i * 6, 240);
      // Two vertical door-frame edges at fixed image positions, beside the face.
      acc.add(i * 66, b, [
        { x1: 210, y1: 100, x2: 210, y2: 400 },
        { x1: 420, y1: 100, x2: 420, y2: 400 },
      ]);
    }
    const r = acc.result();
    expect(sidesMovingWithFace(r, cfg.edgeMinVotes)).toEqual([]);
    expect(r.static.left + r.static.right).toBeGreaterThan(3);
    expect(r.rigid.left + r.rigid.right).toBe(0);
  });

  it('a face that does not move gives no votes either way', () => {
    const acc = new EdgeAccumulator();
    const b = box(320, 240);
    for (let i = 0; i < 10; i++) acc.add(i * 66, b, frameAround(b, 1.1));
    const r = acc.result();
    expect(Object.values(r.rigid).every((v) => v === 0)).toBe(true);
    expect(Object.values(r.static).every((v) => v === 0)).toBe(true);
  });
});

describe('judge: the edges in the combination rule', () => {
  const cfg = { ...DEFAULT_LIVENESS_CONFIG, edgeMaxFramedShare: 0.5 };
  const headTurn = [0, 5, 10, 15, 20, 25, 20, 15].map((yawDeg, i) => ({
    timestampMs: i * 100,
    points: projectHead({ yawDeg, pitchDeg: yawDeg / 3, noisePx: 0.5 }, noiseSource(5)),
  }));
  const edgeResult = (over: Partial<EdgeResult>): EdgeResult => ({
    frames: 8,
    framed2: 0,
    framed3: 0,
    rigid: { left: 0, right: 0, top: 0, bottom: 0 },
    static: { left: 0, right: 0, top: 0, bottom: 0 },
    ...over,
  });

  it('head turn without edges: live; the same inside a still frame: undecided (edges_frame_face)', () => {
    expect(judgeSamples(headTurn, cfg, true, undefined, edgeResult({})).verdict).toBe('live');
    expect(judgeSamples(headTurn, cfg, true, undefined, edgeResult({ framed3: 6 }))).toMatchObject({
      verdict: 'undecided',
      reasons: ['edges_frame_face'],
    });
  });

  it('edges moving with the face on two sides: spoof, even when the face inside moves like a head', () => {
    const moving = edgeResult({ rigid: { left: 4, right: 5, top: 0, bottom: 0 } });
    expect(judgeSamples(headTurn, cfg, true, undefined, moving)).toMatchObject({
      verdict: 'spoof',
      reasons: ['edges_move_with_face'],
    });
  });

  it('fails closed: with edges on and no frame searched, never live (no_edge_search)', () => {
    expect(judgeSamples(headTurn, cfg, true, undefined, undefined)).toMatchObject({
      verdict: 'undecided',
      reasons: ['no_edge_search'],
    });
    expect(judgeSamples(headTurn, { ...cfg, edges: false }).verdict).toBe('live');
  });
});

/** A textured gray scene (deterministic noise) with an optional bright rectangle. */
function scene(draw: (img: GrayImage) => void): GrayImage {
  const rnd = noiseSource(3);
  const img = createGrayImage(640, 480);
  for (let i = 0; i < img.data.length; i++) img.data[i] = 90 + Math.round(20 * rnd());
  draw(img);
  return img;
}

function fillRect(img: GrayImage, x0: number, y0: number, x1: number, y1: number, v: number): void {
  for (let y = Math.max(0, Math.round(y0)); y < Math.min(img.height, Math.round(y1)); y++)
    for (let x = Math.max(0, Math.round(x0)); x < Math.min(img.width, Math.round(x1)); x++)
      img.data[y * img.width + x] = v;
}

/** A face-like blob: dark ellipse with lighter eyes, inside the box. */
function drawFace(img: GrayImage, b: Box): void {
  const cx = b.x + b.width / 2;
  const cy = b.y + b.height / 2;
  for (let y = Math.round(b.y); y < b.y + b.height; y++)
    for (let x = Math.round(b.x); x < b.x + b.width; x++) {
      const u = (x - cx) / (b.width / 2);
      const v = (y - cy) / (b.height / 2);
      if (u * u + v * v <= 1) img.data[y * img.width + x] = 150 + Math.round(30 * Math.cos(3 * v));
    }
}

describe('native line search (OpenCV) on drawn frames', () => {
  const finder = createNativeLineFinder();
  const config = { ...DEFAULT_LIVENESS_CONFIG };

  function run(frames: { image: GrayImage; face: Box }[]) {
    const judge = new LivenessJudge(config);
    const acc = new EdgeAccumulator();
    let verdict = judge.observe(1, 0, undefined);
    frames.forEach(({ image, face }, i) => {
      const lines = finder.find(image, ringRegion(face), face.width);
      acc.add(i * 66, face, lines);
      verdict = judge.observe(1, i * 66, undefined, { box: face, lines });
    });
    return { result: acc.result(), verdict };
  }

  it('a screen (bright rectangle with a bezel) moving with the face it shows: spoof', () => {
    const frames = Array.from({ length: 10 }, (_, i) => {
      const face = box(240 + i * 10, 230 + i * 2, 80 + i);
      const k = 1.15;
      const image = scene((img) => {
        const cx = face.x + face.width / 2;
        const cy = face.y + face.height / 2;
        fillRect(
          img,
          cx - k * face.width,
          cy - k * face.height,
          cx + k * face.width,
          cy + 1.4 * face.height,
          30,
        );
        fillRect(
          img,
          cx - 0.95 * face.width,
          cy - 0.95 * face.height,
          cx + 0.95 * face.width,
          cy + 1.2 * face.height,
          210,
        );
        drawFace(img, face);
      });
      return { image, face };
    });
    const { result, verdict } = run(frames);
    expect(sidesMovingWithFace(result, config.edgeMinVotes).length).toBeGreaterThanOrEqual(2);
    expect(verdict).toMatchObject({ verdict: 'spoof', reasons: ['edges_move_with_face'] });
  });

  it('a door frame that stays put while the person moves: no spoof, the votes say static', () => {
    const frames = Array.from({ length: 10 }, (_, i) => {
      const face = box(300 + i * 6, 240);
      const image = scene((img) => {
        fillRect(img, 196, 0, 206, 480, 220); // door frame left of the face
        fillRect(img, 424, 0, 434, 480, 220); // and right of it
        drawFace(img, face);
      });
      return { image, face };
    });
    const { result, verdict } = run(frames);
    expect(sidesMovingWithFace(result, config.edgeMinVotes)).toEqual([]);
    expect(result.static.left + result.static.right).toBeGreaterThan(result.rigid.left + result.rigid.right);
    expect(verdict.verdict).not.toBe('spoof');
  });

  it('returns nothing for a region outside the image', () => {
    const img = scene(() => undefined);
    expect(finder.find(img, { x: 700, y: 10, width: 50, height: 50 }, 40)).toEqual([]);
  });
});

describe('detailRatio (recapture cue, measured only)', () => {
  /** A checkerboard of period `period` px inside `inside(x, y)`, flat gray elsewhere. */
  function pattern(inside: (x: number, y: number) => boolean, period: number): GrayImage {
    const img = createGrayImage(320, 240);
    for (let y = 0; y < 240; y++)
      for (let x = 0; x < 320; x++)
        img.data[y * 320 + x] = inside(x, y)
          ? (Math.floor(x / period) + Math.floor(y / period)) % 2
            ? 160
            : 90
          : 120;
    return img;
  }
  const face = box(160, 120, 60);
  const inFace = (x: number, y: number) => Math.abs(x - 160) <= 30 && Math.abs(y - 120) <= 30;

  it('is above 1 when the face is finer than its surroundings and below 1 when coarser', () => {
    const fineFace = pattern((x, y) => inFace(x, y) || (x + y) % 7 === 0, 2);
    const coarseFace = pattern(() => true, 2);
    for (let y = 0; y < 240; y++)
      for (let x = 0; x < 320; x++)
        if (inFace(x, y)) coarseFace.data[y * 320 + x] = 120 + ((x >> 3) % 2) * 10;
    expect(detailRatio(fineFace, face)).toBeGreaterThan(1);
    expect(detailRatio(coarseFace, face)).toBeLessThan(0.2);
  });

  it('is NaN when the ring is flat (nothing to compare with)', () => {
    expect(detailRatio(pattern(inFace, 2), face)).toBeNaN();
  });
});
