/**
 * convict slice `pipeline` (how the live loop schedules its work), owned by src/pipeline.
 * None of these keys changes what a face is judged to be: they decide which frames are
 * embedded again and what overlaps. Measurements: docs/performance.md.
 */

function boundedInt(min: number, max: number) {
  return (value: unknown): void => {
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      throw new Error(`must be an integer between ${min} and ${max}`);
    }
  };
}

export const pipelineSchema = {
  detectAhead: {
    doc: 'Detect frame n+1 (the Haar detector runs off the main thread) while frame n is aligned and embedded: uses the second core. The frame taken ahead can be up to one embedding older than the newest.',
    format: Boolean,
    default: true,
    env: 'FACEGATE_PIPELINE_DETECT_AHEAD',
  },
  worker: {
    doc: 'on: landmarks, alignment and embedding run in a worker thread with its own TF.js (wasm) instance, so the main thread detects the next frame and serves MQTT and the relay meanwhile (costs the memory of a second copy of the models). off: in the main thread (one-core boards, tests).',
    format: ['off', 'on'],
    default: 'off' as 'off' | 'on',
    env: 'FACEGATE_PIPELINE_WORKER',
  },
  agreeFrames: {
    doc: 'A face track whose last agreeFrames embeddings all gave the same identity (one enrolled person at the accept threshold and margin, or unknown), with quality ok, aligned on its own landmarks and (with liveness on) a final liveness verdict, is decided: its match is reused and it is re-embedded only every reembedEvery-th frame. Reused frames cast no vote.',
    format: boundedInt(1, 100),
    default: 3,
    env: 'FACEGATE_PIPELINE_AGREE_FRAMES',
  },
  reembedEvery: {
    doc: 'A decided track is embedded again on every reembedEvery-th frame; an embedding that disagrees with the decided identity ends the reuse (a swap of people inside one box is caught there). 1 = embed every frame (no reuse).',
    format: boundedInt(1, 30),
    default: 5,
    env: 'FACEGATE_PIPELINE_REEMBED_EVERY',
  },
} as const;

/** The typed `pipeline` slice. */
export interface PipelineConfig {
  readonly detectAhead: boolean;
  readonly worker: 'off' | 'on';
  readonly agreeFrames: number;
  readonly reembedEvery: number;
}

export const DEFAULT_PIPELINE_CONFIG: PipelineConfig = {
  detectAhead: pipelineSchema.detectAhead.default,
  worker: pipelineSchema.worker.default,
  agreeFrames: pipelineSchema.agreeFrames.default,
  reembedEvery: pipelineSchema.reembedEvery.default,
};
