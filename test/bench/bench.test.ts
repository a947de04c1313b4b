import { describe, expect, it } from 'vitest';
import { ApproachScript, DEFAULT_APPROACH_OPTIONS } from '../../src/bench/approaches.js';
import { BenchCamera, type OfferedFrame } from '../../src/bench/bench-camera.js';
import { percentiles } from '../../src/bench/real-path.js';
import { FacegateMetrics } from '../../src/ops/metrics.js';
import { systemClock } from '../../src/util/clock.js';
import { createGrayImage } from '../../src/vision/image.js';

const small = {
  ...DEFAULT_APPROACH_OPTIONS,
  orlDir: 'data/orl_faces',
  approaches: 5,
  gapFrames: 3,
  walkFrames: 5,
};

describe('ApproachScript', () => {
  it('plays the asked number of enrolled walk-ups, a stranger every strangerEvery-th, empty hall between', async () => {
    const script = await ApproachScript.load(small);
    const enrolled = script.approaches.filter((a) => a.enrolled);
    expect(enrolled.map((a) => a.person)).toEqual(['s36', 's37', 's36', 's37', 's36']);
    expect(script.approaches.filter((a) => !a.enrolled).map((a) => a.person)).toEqual(['s40']);
    expect(script.length).toBe(script.approaches.length * 8 + 3);
    const first = script.approaches[0];
    expect(script.approachAt(first.firstFrame - 1)).toBeNull();
    expect(script.approachAt(first.firstFrame)).toBe(first);
    expect(script.approachAt(first.firstFrame + first.frames)).toBeNull();
  });

  it('renders a fresh 640x480 frame; the person changes the scene, the empty hall does not', async () => {
    const script = await ApproachScript.load(small);
    const empty = script.render(0);
    expect([empty.width, empty.height]).toEqual([640, 480]);
    expect(script.render(0)).not.toBe(empty);
    expect(Buffer.compare(script.render(0).data, empty.data)).toBe(0);
    const withPerson = script.render(script.approaches[0].firstFrame);
    let changed = 0;
    for (let i = 0; i < empty.data.length; i++) if (withPerson.data[i] !== empty.data[i]) changed++;
    // A ~165x200 px photo pasted in.
    expect(changed).toBeGreaterThan(20_000);
  });

  it('names the missing photo', async () => {
    await expect(ApproachScript.load({ ...small, employees: ['s99'] })).rejects.toThrow(/s99/);
  });
});

describe('BenchCamera', () => {
  it('hands over the throughput frames on demand, then every paced frame in order, then ends', async () => {
    const offers: OfferedFrame[] = [];
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    const camera = new BenchCamera(
      {
        render: (i) => createGrayImage(4, 4, new Uint8Array(16).fill(i)),
        throughputFrames: 3,
        pacedFrames: 5,
        fps: 200,
        onOffer: (o) => offers.push(o),
        onEnd: () => ended(),
        cpuUsage: () => 0,
      },
      systemClock,
    );
    await camera.start();
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) seen.push((await camera.next()).seq);
    expect(seen).toEqual([1, 2, 3]);
    await end;
    await camera.stop();
    expect(offers.map((o) => o.phase)).toEqual([...Array(3).fill('throughput'), ...Array(5).fill('paced')]);
    expect(offers.map((o) => o.index)).toEqual([0, 1, 2, 0, 1, 2, 3, 4]);
    expect(offers.map((o) => o.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await expect(camera.next()).rejects.toThrow();
  });

  it('refuses a rate outside (0, 240]', () => {
    const o = {
      render: () => createGrayImage(1, 1),
      throughputFrames: 0,
      pacedFrames: 1,
      onOffer: () => undefined,
      onEnd: () => undefined,
      cpuUsage: () => 0,
    };
    expect(() => new BenchCamera({ ...o, fps: 0 }, systemClock)).toThrow(RangeError);
    expect(() => new BenchCamera({ ...o, fps: 500 }, systemClock)).toThrow(RangeError);
  });
});

describe('bench statistics', () => {
  it('percentiles by nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentiles(v)).toEqual({ p50: 50, p95: 95 });
    expect(Number.isNaN(percentiles([]).p50)).toBe(true);
  });

  it('FacegateMetrics.onStage sees every stage time until unsubscribed', () => {
    const metrics = new FacegateMetrics();
    const seen: [string, number][] = [];
    const off = metrics.onStage((stage, ms) => seen.push([stage, ms]));
    metrics.observeStage('detect', 12.5);
    off();
    metrics.observeStage('embed', 3);
    expect(seen).toEqual([['detect', 12.5]]);
  });
});
