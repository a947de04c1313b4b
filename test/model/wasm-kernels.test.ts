import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseBackend } from '../../src/model/backend.js';
import { silentLogger } from '../../src/util/log.js';

/** Seeded inputs so cpu and wasm see identical numbers. */
function data(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

interface Case {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number;
  pad: 'same' | 'valid';
}

const cases: Case[] = [
  { name: '3x3 same stride 1', x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: '5x5 valid stride 1', x: [3, 12, 10, 2], filter: [5, 5, 2, 3], strides: 1, pad: 'valid' },
  { name: '3x3 same stride 2', x: [2, 11, 8, 1], filter: [3, 3, 1, 2], strides: 2, pad: 'same' },
  { name: '4x3 valid stride 2', x: [1, 13, 9, 2], filter: [4, 3, 2, 2], strides: 2, pad: 'valid' },
];

async function filterGradient(backend: string, c: Case): Promise<{ dW: Float32Array; dX: Float32Array }> {
  await chooseBackend(backend as 'cpu' | 'wasm', silentLogger());
  const x = tf.tensor4d(data(c.x, 1), c.x);
  const w = tf.tensor4d(data(c.filter, 2), c.filter);
  const g = tf.grads((xi: tf.Tensor, wi: tf.Tensor) =>
    tf.sum(tf.square(tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.strides, c.pad))),
  );
  const [dX, dW] = g([x, w]);
  const result = { dW: (await dW.data()) as Float32Array, dX: (await dX.data()) as Float32Array };
  tf.dispose([x, w, dX, dW]);
  return result;
}

describe('wasm Conv2DBackpropFilter', () => {
  beforeAll(async () => {
    await chooseBackend('wasm', silentLogger());
  });

  it('is registered for wasm once the backend is chosen', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  for (const c of cases) {
    it(`matches the cpu backend's filter gradient: ${c.name}`, async () => {
      const cpu = await filterGradient('cpu', c);
      const wasm = await filterGradient('wasm', c);
      expect(wasm.dW.length).toBe(cpu.dW.length);
      const scale = Math.max(...cpu.dW.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      for (let i = 0; i < cpu.dW.length; i++)
        expect(Math.abs(wasm.dW[i] - cpu.dW[i])).toBeLessThan(1e-4 * scale + 1e-5);
      // The input gradient comes from wasm's own kernel; checked as a control.
      for (let i = 0; i < cpu.dX.length; i++) expect(wasm.dX[i]).toBeCloseTo(cpu.dX[i], 3);
    });
  }

  it('does not leak tensors', async () => {
    await chooseBackend('wasm', silentLogger());
    const x = tf.tensor4d(data([2, 8, 8, 2], 3), [2, 8, 8, 2]);
    const w = tf.tensor4d(data([3, 3, 2, 2], 4), [3, 3, 2, 2]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const dW = tf.grad((wi: tf.Tensor) => tf.sum(tf.conv2d(x, wi as tf.Tensor4D, 1, 'same')))(w);
      dW.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });
});
