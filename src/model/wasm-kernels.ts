import * as tf from '@tensorflow/tfjs';

const BACKEND = 'wasm';

/**
 * Conv2DBackpropFilter for the wasm backend, which ships without it (so no conv layer
 * could be trained on wasm). The filter gradient is itself a convolution:
 *   dW[kh,kw,ci,co] = sum_{b,y,x} x[b, y*s+kh-pad, x*s+kw-pad, ci] * dy[b,y,x,co]
 * i.e. a Conv2D whose "batch" is the input channel, whose "channels" are the batch, whose
 * filter is dy (batch as in-channels) and whose dilation is the forward stride. Built from
 * the wasm Transpose, Conv2D and Slice kernels.
 */
function conv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = (args.attrs ?? {}) as unknown as {
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (attrs.dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const [kh, kw, ci, co] = attrs.filterShape;
  const { backend } = args;
  // The wasm kernels themselves (TensorInfo in, TensorInfo out), as wasm's own composite
  // kernels do; intermediates are freed with disposeData so nothing is left behind.
  const run = (name: string, inputs: tf.NamedTensorInfoMap, kernelAttrs: object): tf.TensorInfo =>
    runWasmKernel(name, inputs, backend, kernelAttrs);
  const input = run('Transpose', { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, B]
  const filter = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, B, Co]
  const { top, bottom, left, right } = info.padInfo;
  const full = run(
    'Conv2D',
    { x: input, filter },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: 'NHWC',
      dilations: [info.strideHeight, info.strideWidth],
    },
  ); // [Ci, >=KH, >=KW, Co]
  backend.disposeData(input.dataId);
  backend.disposeData(filter.dataId);
  const cropped = run('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
  backend.disposeData(full.dataId);
  const out = run('Transpose', { x: cropped }, { perm: [1, 2, 0, 3] }); // [KH, KW, Ci, Co]
  backend.disposeData(cropped.dataId);
  return out;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

/**
 * Conv2DBackpropInput for stride 1 as a plain Conv2D: the input gradient is dy convolved
 * with the filter rotated by 180 degrees (in/out channels swapped), padded by K-1-pad.
 * wasm's own kernel is a naive loop ~10x slower than its XNNPACK Conv2D; other strides and
 * NCHW go to the original kernel.
 */
function conv2DBackpropInputVia(original: tf.KernelFunc): tf.KernelFunc {
  const fast = (args: KernelArgs): tf.TensorInfo => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = (args.attrs ?? {}) as unknown as {
      strides: number | [number, number];
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      inputShape: [number, number, number, number];
    };
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const { top, bottom, left, right } = info.padInfo;
    const kh = info.filterHeight;
    const kw = info.filterWidth;
    const usable =
      attrs.dataFormat !== 'NCHW' &&
      info.strideHeight === 1 &&
      info.strideWidth === 1 &&
      Math.max(top, bottom) <= kh - 1 &&
      Math.max(left, right) <= kw - 1;
    if (!usable) return original(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    const { backend } = args;
    const run = (name: string, inputs: tf.NamedTensorInfoMap, kernelAttrs: object): tf.TensorInfo =>
      runWasmKernel(name, inputs, backend, kernelAttrs);
    const flipped = run('Reverse', { x: filter }, { dims: [0, 1] });
    const rotated = run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }); // [KH, KW, Co, Ci]
    backend.disposeData(flipped.dataId);
    const dx = run(
      'Conv2D',
      { x: dy, filter: rotated },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [kh - 1 - top, kh - 1 - bottom],
          [kw - 1 - left, kw - 1 - right],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
      },
    );
    backend.disposeData(rotated.dataId);
    return dx;
  };
  (fast as { facegate?: boolean }).facegate = true;
  return fast as unknown as tf.KernelFunc;
}

function runWasmKernel(
  name: string,
  inputs: tf.NamedTensorInfoMap,
  backend: tf.KernelBackend,
  attrs: object,
): tf.TensorInfo {
  const kernel = tf.getKernel(name, BACKEND);
  if (kernel === undefined) throw new Error(`wasm backend lacks the ${name} kernel`);
  return kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
}

/** Registers the training kernels wasm lacks (or has only slow versions of). Idempotent. */
export function registerWasmTrainingKernels(): void {
  if (tf.getKernel('Conv2DBackpropFilter', BACKEND) === undefined) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: BACKEND,
      kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
    });
  }
  const input = tf.getKernel('Conv2DBackpropInput', BACKEND);
  if (input !== undefined && !(input.kernelFunc as { facegate?: boolean }).facegate) {
    tf.unregisterKernel('Conv2DBackpropInput', BACKEND);
    tf.registerKernel({ ...input, kernelFunc: conv2DBackpropInputVia(input.kernelFunc) });
  }
}
