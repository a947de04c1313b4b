import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { chooseBackend, parseBackendPreference } from '../../src/model/backend.js';
import { createLogger } from '../../src/util/log.js';

function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    logger: createLogger('debug', sink),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const nodeLoads = (() => {
  try {
    createRequire(import.meta.url)('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

describe('TF.js backend chooser', () => {
  it('auto picks tfjs-node when it loads, else wasm, and logs the choice', async () => {
    const { logger, lines } = capture();
    const chosen = await chooseBackend('auto', logger);
    expect(chosen).toBe(nodeLoads ? 'tensorflow' : 'wasm');
    expect(tf.getBackend()).toBe(chosen);
    const info = lines().find((l) => l.msg === 'tensorflow backend chosen');
    expect(info?.backend).toBe(chosen);
    if (!nodeLoads) {
      expect(String((info?.skipped as string[])[0])).toMatch(/^tensorflow: /);
      // and the wasm backend can train: the missing kernel is there
      expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    }
  });

  it('a forced backend is used, or fails loudly instead of silently downgrading', async () => {
    const { logger } = capture();
    expect(await chooseBackend('cpu', logger)).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await chooseBackend('wasm', logger)).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    if (!nodeLoads) {
      await expect(chooseBackend('node', logger)).rejects.toThrow(
        /no usable TensorFlow.js backend for preference "node"/,
      );
      expect(tf.getBackend()).toBe('wasm');
    }
  });

  it('parses FACEGATE_TF_BACKEND values', () => {
    expect(parseBackendPreference(undefined)).toBe('auto');
    expect(parseBackendPreference('')).toBe('auto');
    expect(parseBackendPreference('wasm')).toBe('wasm');
    expect(() => parseBackendPreference('gpu')).toThrow(/unknown TF backend "gpu"/);
  });
});
