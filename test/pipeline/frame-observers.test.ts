import { describe, expect, it } from 'vitest';
import { FrameObservers, type FrameSeen } from '../../src/pipeline/frame-observer.js';
import { createGrayImage } from '../../src/vision/image.js';

const seen = (seq: number): FrameSeen => ({
  frame: { image: createGrayImage(4, 4), timestampMs: seq, seq },
  faces: [],
  decisions: [],
});

describe('FrameObservers (the live loop fan-out: live view + walk-up capture)', () => {
  it('tells every observer each frame, isolates one that throws, and stops telling a removed one', () => {
    const errors: unknown[] = [];
    const observers = new FrameObservers((err) => errors.push(err));
    const a: number[] = [];
    const b: number[] = [];
    observers.add({ frameSeen: (s) => void a.push(s.frame.seq) });
    observers.add({
      frameSeen: () => {
        throw new Error('broken observer');
      },
    });
    const removeB = observers.add({ frameSeen: (s) => void b.push(s.frame.seq) });
    observers.frameSeen(seen(1));
    removeB();
    observers.frameSeen(seen(2));
    expect(a).toEqual([1, 2]);
    expect(b).toEqual([1]);
    expect(errors).toHaveLength(2);
    expect(observers.size).toBe(2);
  });
});
