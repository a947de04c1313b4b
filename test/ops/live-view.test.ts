import http from 'node:http';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { LiveViewConfig } from '../../src/ops/config.js';
import { HealthMonitor } from '../../src/ops/health.js';
import { OpsHttpServer } from '../../src/ops/http-server.js';
import { isLoopbackHost, LiveView, type LiveFrameMessage } from '../../src/ops/live-view.js';
import { FacegateMetrics } from '../../src/ops/metrics.js';
import type { FrameSeen } from '../../src/pipeline/frame-observer.js';
import { systemClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';

const base: LiveViewConfig = { enabled: true, token: '', tokenFile: '', fps: 10, width: 160, maxViewers: 2 };
let server: OpsHttpServer | null = null;
let view: LiveView | null = null;
afterEach(async () => {
  view?.stop();
  await server?.stop();
  server = view = null;
});

async function setup(config: Partial<LiveViewConfig> = {}, loopbackOnly = true, audit?: () => void) {
  const audited: { kind: string; detail: Record<string, unknown> }[] = [];
  view = new LiveView({
    config: { ...base, ...config },
    thresholds: { accept: 0.8, unknown: 0.5 },
    loopbackOnly,
    doorState: () => ({ locked: true, open: false }),
    audit: audit ?? ((kind, detail) => audited.push({ kind, detail })),
    clock: systemClock,
    logger: silentLogger(),
  });
  server = new OpsHttpServer(
    { host: '127.0.0.1', port: 0 },
    new FacegateMetrics(),
    new HealthMonitor(() => performance.now()),
    silentLogger(),
    view,
  );
  await server.start();
  return { url: `http://127.0.0.1:${server.port}`, audited, view };
}

/** Reads Server-Sent Events until `stop` says so. */
function readEvents(
  url: string,
  stop: (events: { type: string; data: unknown }[]) => boolean,
): Promise<{ type: string; data: unknown }[]> {
  return new Promise((resolve, reject) => {
    const events: { type: string; data: unknown }[] = [];
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`status ${res.statusCode}`));
        return;
      }
      let buf = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as unknown;
          events.push({ type, data });
          if (stop(events)) {
            req.destroy();
            resolve(events);
          }
        }
      });
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
  });
}

function seen(seq: number): FrameSeen {
  const width = 320;
  const height = 240;
  const data = new Uint8Array(width * height).map((_, i) => i % 251);
  return {
    frame: { image: { width, height, data }, timestampMs: seq * 100, seq },
    faces: [
      {
        box: { x: 40, y: 30, width: 80, height: 80 },
        outcome: 'compared',
        reasons: [],
        personId: 's36',
        name: 'Ann',
        score: 0.93,
      },
      {
        box: { x: 130, y: 30, width: 60, height: 60 },
        outcome: 'compared',
        reasons: ['poor_light'],
        personId: 's37',
        name: 'Bo',
        score: 0.6,
      },
      {
        box: { x: 10, y: 130, width: 60, height: 60 },
        outcome: 'compared',
        reasons: [],
        personId: 's36',
        name: 'Ann',
        score: 0.03,
      },
      { box: { x: 200, y: 40, width: 30, height: 30 }, outcome: 'refused', reasons: ['too_small'] },
      {
        box: { x: 200, y: 120, width: 80, height: 80 },
        outcome: 'compared',
        reasons: [],
        personId: 's36',
        name: 'Ann',
        score: 0.95,
        liveness: { verdict: 'spoof', reasons: ['no_blink'] },
      },
    ],
    decisions: [],
  };
}

describe('LiveView', () => {
  it('serves the page on loopback without a token, self-contained under a strict CSP', async () => {
    const { url } = await setup();
    const res = await fetch(`${url}/live`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('EventSource');
    expect(html).not.toMatch(/src="http/);
    // The inline script parses (a template-literal escape slip once broke it).
    const script = html.slice(html.indexOf('<script>') + 8, html.indexOf('</script>'));
    expect(() => new Function(script)).not.toThrow();
  });

  it('streams downscaled JPEG frames with the faces, only while someone watches, and audits the opening', async () => {
    const { url, audited, view } = await setup();
    view.frameSeen(seen(1)); // nobody watching: nothing kept
    const events = readEvents(`${url}/live/events`, (e) => e.some((x) => x.type === 'frame'));
    await new Promise((r) => setTimeout(r, 200));
    expect(view.viewerCount).toBe(1);
    view.frameSeen(seen(2));
    const got = await events;
    expect(got[0]).toMatchObject({ type: 'hello', data: { door: { locked: true } } });
    const frame = got.find((e) => e.type === 'frame')!.data as LiveFrameMessage;
    expect(frame.seq).toBe(2);
    expect(frame.scale).toBeCloseTo(0.5);
    // The closest person's name alone is no recognition: the thresholds decide.
    expect(frame.faces.map((f) => f.verdict)).toEqual([
      'recognised',
      'uncertain',
      'unknown',
      'refused',
      'refused',
    ]);
    // A printed photo of an employee: high score, judged not live, shown refused with the reason.
    expect(frame.faces[4].reasons).toEqual(['not live: no_blink']);
    const meta = await sharp(Buffer.from(frame.jpeg, 'base64')).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 160, height: 120 });
    expect(audited).toEqual([
      { kind: 'live_view_opened', detail: expect.objectContaining({ remote: '127.0.0.1' }) },
    ]);
  });

  it('pushes the events the daemon emits', async () => {
    const { url, view } = await setup();
    const events = readEvents(`${url}/live/events`, (e) => e.some((x) => x.type === 'event'));
    await new Promise((r) => setTimeout(r, 200));
    view.eventSeen({ type: 'unknown_face', id: 'e1', ts: new Date().toISOString(), device: 'd' } as never);
    expect((await events).find((e) => e.type === 'event')?.data).toMatchObject({ type: 'unknown_face' });
  });

  it('fails closed off loopback: no token configured refuses, a wrong token is refused, the right one opens', async () => {
    const open = await setup({}, false);
    expect((await fetch(`${open.url}/live`)).status).toBe(403);
    expect((await fetch(`${open.url}/live/events`)).status).toBe(403);
    view?.stop();
    await server?.stop();
    const guarded = await setup({ token: 's3cret-token' }, false);
    expect((await fetch(`${guarded.url}/live`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/live?token=s3cret-tokeX`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/live?token=s3cret-token`)).status).toBe(200);
    expect(guarded.audited).toHaveLength(0); // the page itself is not a viewing; the stream is
  });

  it('refuses a viewing it cannot audit, and more viewers than allowed', async () => {
    const failing = await setup({}, true, () => {
      throw new Error('db closed');
    });
    expect((await fetch(`${failing.url}/live/events`)).status).toBe(503);
    view?.stop();
    await server?.stop();
    const { url } = await setup({ maxViewers: 1 });
    const first = readEvents(`${url}/live/events`, (e) => e.length >= 1);
    await first;
    const holder = readEvents(`${url}/live/events`, () => false);
    await new Promise((r) => setTimeout(r, 200));
    expect((await fetch(`${url}/live/events`)).status).toBe(503);
    void holder.catch(() => undefined);
  });

  it('knows loopback addresses', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('192.168.1.20')).toBe(false);
  });
});
