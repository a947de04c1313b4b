import { describe, expect, it } from 'vitest';
import { ApproachScript, DEFAULT_APPROACH_OPTIONS } from '../../src/bench/approaches.js';
import { runRealPath } from '../../src/bench/real-path.js';
import { main } from '../../src/cli/bench.js';
import { loadConfig } from '../../src/config/load.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';

/** One short bench run (4 unpaced frames, paced at 30 fps, one loop) of `config` over `script`. */
function shortRun(
  config: ReturnType<typeof loadConfig>,
  script: ApproachScript,
  probe: { cpuUs: () => number; rssBytes: () => number } = { cpuUs: () => 0, rssBytes: () => 0 },
) {
  return runRealPath({
    config,
    script,
    throughputFrames: 4,
    fps: 30,
    loops: 1,
    logger: silentLogger(),
    clock: systemClock,
    probe,
  });
}

describe('real-path bench', () => {
  it('runs the daemon from the default config over both phases; tensor count flat; no times asserted', async () => {
    const config = loadConfig({ files: ['config/default.json'], env: {} });
    const script = await ApproachScript.load({
      ...DEFAULT_APPROACH_OPTIONS,
      orlDir: 'data/orl_faces',
      approaches: 1,
      gapFrames: 5,
      walkFrames: 20,
    });
    let cpu = 0;
    const report = await shortRun(config, script, {
      cpuUs: () => (cpu += 1000),
      rssBytes: () => 300 * 1048576,
    });
    // The daemon's own stages ran (the app's live loop, not a copy of it).
    expect(report.throughput.stages_ms.detect.n).toBeGreaterThan(0);
    expect(report.throughput.frames_processed + report.paced.frames_processed).toBeGreaterThan(4);
    expect(report.paced.frames_offered).toBe(script.length);
    expect(report.paced.approaches).toBe(1);
    expect(report.paced.granted + report.paced.missed).toBe(1);
    expect(report.paced.stranger_grants).toBe(0);
    expect(report.tensors.end).toBe(report.tensors.start);
    expect(report.rss_mb.max).toBe(300);
    expect(report.access_cooldown_seconds).toBeLessThanOrEqual(config.access.cooldownSeconds);
  }, 240_000);

  it("with pipeline.worker on, the daemon embeds in the face worker (its tensors are counted with the main thread's) (decisions as without it; speed is not asserted)", async () => {
    const config = loadConfig({
      files: ['config/default.json'],
      env: { FACEGATE_PIPELINE_WORKER: 'on' },
    });
    const script = await ApproachScript.load({
      ...DEFAULT_APPROACH_OPTIONS,
      orlDir: 'data/orl_faces',
      approaches: 1,
      // Long enough for the memory sampler (1 s) to see the worker's tensors.
      gapFrames: 30,
      walkFrames: 75,
    });
    // 4 unpaced frames first: the loop takes them once the worker has loaded its models.
    const withoutWorker = await shortRun(loadConfig({ files: ['config/default.json'], env: {} }), script);
    const report = await shortRun(config, script);
    expect(report.paced.granted + report.paced.missed).toBe(1);
    expect(report.paced.stranger_grants).toBe(0);
    expect(report.paced.stages_ms.embed.n).toBeGreaterThan(0);
    // The loop's gauge: the main thread's model + the worker's own copy of it, flat.
    expect(report.tensors.max).toBeGreaterThan(withoutWorker.tensors.max);
    expect(report.tensors.end).toBe(report.tensors.max);
  }, 240_000);

  it('refuses --peer without a throughput phase to compare with', async () => {
    await expect(main(['--peer', '--throughput-frames', '0'])).rejects.toThrow(/--throughput-frames/);
  });
});
