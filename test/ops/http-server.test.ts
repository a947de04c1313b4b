import { afterEach, describe, expect, it } from 'vitest';
import { HealthMonitor } from '../../src/ops/health.js';
import { OpsHttpServer } from '../../src/ops/http-server.js';
import { FacegateMetrics } from '../../src/ops/metrics.js';
import { silentLogger } from '../../src/util/log.js';

let server: OpsHttpServer | null = null;
afterEach(async () => {
  await server?.stop();
  server = null;
});

async function setup() {
  const metrics = new FacegateMetrics();
  const health = new HealthMonitor(() => performance.now());
  let mqttUp = false;
  let loopStalled = false;
  health.add({ name: 'mqtt', critical: false, check: () => ({ ok: mqttUp }) });
  health.add({
    name: 'loop',
    critical: true,
    check: () => ({ ok: !loopStalled, detail: { stalled: loopStalled } }),
  });
  server = new OpsHttpServer({ host: '127.0.0.1', port: 0 }, metrics, health, silentLogger());
  await server.start();
  const base = `http://127.0.0.1:${server.port}`;
  return {
    metrics,
    health,
    base,
    setMqtt: (v: boolean) => void (mqttUp = v),
    setStalled: (v: boolean) => void (loopStalled = v),
  };
}

describe('OpsHttpServer', () => {
  it('serves Prometheus metrics from its own registry', async () => {
    const { metrics, base } = await setup();
    metrics.frames.inc({ outcome: 'processed' }, 3);
    metrics.observeStage('detect', 12);
    metrics.gallerySize.set({ kind: 'people' }, 4);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('facegate_frames_total{outcome="processed"} 3');
    expect(text).toContain('facegate_stage_duration_seconds_bucket{le="0.025",stage="detect"} 1');
    expect(text).toContain('facegate_gallery_size{kind="people"} 4');
    expect(text).toContain('facegate_process_resident_memory_bytes');
    // a second instance does not share counters (no global registry)
    const other = await new FacegateMetrics({ defaultMetrics: false }).text();
    expect(other).toContain('# TYPE facegate_frames_total counter');
    expect(other).not.toContain('facegate_frames_total{outcome="processed"}');
  });

  it('/health: starting → 503, ok → 200, mqtt down → degraded 200, loop stalled → failed 503', async () => {
    const { health, base, setMqtt, setStalled } = await setup();
    let res = await fetch(`${base}/health`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { status: string }).status).toBe('starting');

    health.setPhase('running');
    setMqtt(true);
    res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'ok',
      checks: { mqtt: { ok: true }, loop: { ok: true } },
    });

    setMqtt(false);
    res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('degraded');

    setStalled(true);
    res = await fetch(`${base}/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      status: 'failed',
      checks: { loop: { ok: false, critical: true } },
    });

    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/health`, { method: 'POST' })).status).toBe(405);
  });
});
