import { describe, expect, it } from 'vitest';
import { Lifecycle, StoppedDuringStartError, type Service } from '../src/lifecycle.js';
import { systemClock } from '../src/util/clock.js';
import { silentLogger } from '../src/util/log.js';

function recorder() {
  const calls: string[] = [];
  const service = (name: string, extra: Partial<Service> = {}): Service => ({
    name,
    start: () => void calls.push(`start ${name}`),
    stop: () => void calls.push(`stop ${name}`),
    ...extra,
  });
  return { calls, service };
}

const options = { logger: silentLogger(), clock: systemClock, stopTimeoutMs: 2000 };

describe('Lifecycle', () => {
  it('starts in order and stops in exactly the reverse order', async () => {
    const { calls, service } = recorder();
    const life = new Lifecycle([service('a'), service('b'), service('c')], options);
    await life.start();
    await life.stop();
    expect(calls).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  it('a failing or hung stop step does not keep the others from stopping', async () => {
    const { calls, service } = recorder();
    const life = new Lifecycle(
      [
        service('a'),
        service('hangs', { stop: () => new Promise(() => undefined), stopBoundMs: 50 }),
        service('throws', {
          stop: () => {
            throw new Error('boom');
          },
        }),
        service('d'),
      ],
      options,
    );
    await life.start();
    await life.stop();
    expect(calls.filter((c) => c.startsWith('stop'))).toEqual(['stop d', 'stop a']);
  });

  it('stops only what started when a start step fails', async () => {
    const { calls, service } = recorder();
    const life = new Lifecycle(
      [
        service('a'),
        service('fails', {
          start: () => {
            throw new Error('no camera');
          },
        }),
        service('c'),
      ],
      options,
    );
    await expect(life.start()).rejects.toThrow('no camera');
    await life.stop();
    expect(calls).toEqual(['start a', 'stop a']);
  });

  it('a stop during start waits for the step in flight, skips the rest, and stops what started', async () => {
    const { calls, service } = recorder();
    let release!: () => void;
    const slow = service('slow', {
      start: () =>
        new Promise<void>((resolve) => {
          release = () => {
            calls.push('start slow');
            resolve();
          };
        }),
    });
    const life = new Lifecycle([service('a'), slow, service('c')], options);
    const started = life.start();
    await new Promise((r) => setTimeout(r, 10));
    const stopped = life.stop();
    release();
    await expect(started).rejects.toBeInstanceOf(StoppedDuringStartError);
    await stopped;
    expect(calls).toEqual(['start a', 'start slow', 'stop slow', 'stop a']);
    expect(life.startedNames).toEqual([]);
  });

  it('refuses two services with one name', () => {
    const { service } = recorder();
    expect(() => new Lifecycle([service('a'), service('a')], options)).toThrow('two services named "a"');
  });
});
