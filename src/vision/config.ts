/** convict schema slice for `vision` (detector, quality gate, preprocessing; owned by src/vision). */
export const visionSchema = {
  detector: {
    backend: {
      doc: 'OpenCV implementation: auto (native @u4/opencv4nodejs if it loads, else WebAssembly), native, wasm.',
      format: ['auto', 'native', 'wasm'],
      default: 'auto',
      env: 'FACEGATE_DETECTOR_BACKEND',
    },
  },
} as const;
