import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, resolveLogFormat } from '../../src/util/log.js';

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('log format', () => {
  it('auto is readable on a terminal and JSON elsewhere (journald)', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('pretty writes one readable line with level, module and message, no JSON', () => {
    const out = capture();
    const logger = createLogger('info', { format: 'pretty', destination: out.stream });
    logger.child({ module: 'live-loop' }).warn({ stage: 'detect' }, 'frame failed');
    logger.debug('not shown');
    const text = out.text();
    expect(text).toMatch(/WARN.*\[live-loop\] frame failed/);
    expect(text).toContain('stage: "detect"');
    expect(text).not.toContain('not shown');
    expect(() => JSON.parse(text.split('\n')[0])).toThrow();
  });

  it('json writes one parseable object a line', () => {
    const out = capture();
    const logger = createLogger('info', { format: 'json', destination: out.stream });
    logger.child({ module: 'main' }).info({ port: 9464 }, 'listening');
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, module: 'main', port: 9464, msg: 'listening' });
  });
});
