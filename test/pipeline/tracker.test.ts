import { describe, expect, it } from 'vitest';
import { FaceTracker, iou } from '../../src/pipeline/tracker.js';

const box = (x: number, y: number, s = 100) => ({ x, y, width: s, height: s });

describe('iou', () => {
  it('is 1 for the same box, 0 for disjoint ones, and symmetric', () => {
    expect(iou(box(0, 0), box(0, 0))).toBe(1);
    expect(iou(box(0, 0), box(200, 0))).toBe(0);
    // 50 px shift of a 100 px box: 5000 / 15000
    expect(iou(box(0, 0), box(50, 0))).toBeCloseTo(1 / 3, 6);
    expect(iou(box(50, 0), box(0, 0))).toBeCloseTo(1 / 3, 6);
  });
});

describe('FaceTracker', () => {
  it('keeps one id for a face that moves a little each frame', () => {
    const t = new FaceTracker();
    const ids = [0, 10, 20, 30, 40].map((dx, i) => t.update(i * 100, [box(100 + dx, 100)]).trackIds[0]);
    expect(new Set(ids).size).toBe(1);
    expect(t.active[0].frames).toBe(5);
  });

  it('gives two faces two ids and keeps them apart when they swap order in the list', () => {
    const t = new FaceTracker();
    const first = t.update(0, [box(0, 0), box(300, 0)]).trackIds;
    const second = t.update(100, [box(305, 0), box(5, 0)]).trackIds;
    expect(first[0]).not.toBe(first[1]);
    expect(second).toEqual([first[1], first[0]]);
  });

  it('starts a new track for a box that jumps away, and ends tracks after the gap', () => {
    const t = new FaceTracker({ maxGapMs: 500 });
    const a = t.update(0, [box(0, 0)]);
    expect(a.started).toEqual(a.trackIds);
    const b = t.update(100, [box(400, 300)]);
    expect(b.trackIds[0]).not.toBe(a.trackIds[0]);
    expect(t.update(400, []).ended).toEqual([]);
    const c = t.update(700, []);
    expect(c.ended.map((s) => s.trackId)).toEqual([a.trackIds[0], b.trackIds[0]]);
    expect(t.active).toEqual([]);
    // ids are never reused
    expect(t.update(800, [box(0, 0)]).trackIds[0]).toBeGreaterThan(b.trackIds[0]);
  });

  it('a face that comes back after the gap is a new track (a new presentation)', () => {
    const t = new FaceTracker({ maxGapMs: 500 });
    const a = t.update(0, [box(0, 0)]).trackIds[0];
    expect(t.update(400, [box(0, 0)]).trackIds[0]).toBe(a);
    expect(t.update(1000, [box(0, 0)]).trackIds[0]).not.toBe(a);
  });

  it('refuses bad options and time running backwards', () => {
    expect(() => new FaceTracker({ minIou: 0 })).toThrow(/minIou/);
    expect(() => new FaceTracker({ maxGapMs: -1 })).toThrow(/maxGapMs/);
    const t = new FaceTracker();
    t.update(100, []);
    expect(() => t.update(50, [])).toThrow(/backwards/);
  });
});
