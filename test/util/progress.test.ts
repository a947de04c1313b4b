import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/util/log.js';
import { barProgress, logProgress } from '../../src/util/progress.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('progress', () => {
  it('logs at the start, every 10 % or 10 s, and at the end (not every step)', () => {
    const out = sink();
    let t = 0;
    const make = logProgress(createLogger('info', { format: 'json', destination: out.stream }), {
      now: () => t,
    });
    const p = make('re-embedding', 'faces');
    p.start(200);
    for (let i = 1; i <= 200; i++) {
      t += 10;
      p.update(i);
    }
    p.stop();
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { done: number; percent: number; msg: string });
    expect(lines[0]).toMatchObject({ done: 0, percent: 0 });
    expect(lines.at(-1)).toMatchObject({
      done: 200,
      percent: 100,
      msg: 're-embedding: 200/200 faces (100%)',
    });
    expect(lines.length).toBe(11); // 0, 10, 20, ... 100 %
  });

  it('logs on time when steps are slow', () => {
    const out = sink();
    let t = 0;
    const p = logProgress(createLogger('info', { format: 'json', destination: out.stream }), {
      now: () => t,
    })('training', 'epochs');
    p.start(1000);
    t += 11_000;
    p.update(3);
    expect(out.text().trim().split('\n')).toHaveLength(2);
  });

  it('draws a bar on a terminal stream', () => {
    const out = sink();
    const p = barProgress(out.stream)('importing', 'people');
    p.start(4);
    p.update(2);
    p.stop();
    expect(out.text()).toMatch(/importing \[.*\] 50% \| 2\/4 people/);
  });
});
