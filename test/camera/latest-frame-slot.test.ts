import { describe, expect, it } from 'vitest';
import { LatestFrameSlot } from '../../src/camera/latest-frame-slot.js';
import { createGrayImage } from '../../src/vision/image.js';

const img = (v: number) => createGrayImage(2, 2, new Uint8Array(4).fill(v));

describe('LatestFrameSlot', () => {
  it('gives the newest unseen frame and drops older ones (no queue)', async () => {
    const slot = new LatestFrameSlot();
    slot.put(img(1), 10);
    slot.put(img(2), 20);
    slot.put(img(3), 30);
    const f = await slot.next();
    expect([f.seq, f.timestampMs, f.image.data[0]]).toEqual([3, 30, 3]);
    // Nothing new: the next call waits for the next put.
    let resolved = false;
    const pending = slot.next().then((x) => {
      resolved = true;
      return x;
    });
    await Promise.resolve();
    expect(resolved).toBe(false);
    slot.put(img(4), 40);
    expect((await pending).seq).toBe(4);
  });

  it('never hands the same frame out twice to one consumer', async () => {
    const slot = new LatestFrameSlot();
    slot.put(img(1), 1);
    expect((await slot.next()).seq).toBe(1);
    const again = slot.next();
    slot.put(img(2), 2);
    expect((await again).seq).toBe(2);
  });

  it('rejects waiting and later consumers once closed, and can reopen', async () => {
    const slot = new LatestFrameSlot();
    const waiting = slot.next();
    slot.close(new Error('camera gone'));
    await expect(waiting).rejects.toThrow('camera gone');
    await expect(slot.next()).rejects.toThrow('camera gone');
    expect(() => slot.put(img(1), 1)).toThrow('camera gone');
    slot.reopen();
    slot.put(img(5), 5);
    expect((await slot.next()).image.data[0]).toBe(5);
  });
});
