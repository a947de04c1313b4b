import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, freePort, uniqueId } from '../e2e/harness.js';

/**
 * The live view in a real browser: Debian's Chromium (scripts/setup.sh installs it), driven
 * by playwright-core, against the daemon as a child process on the demo replay (the demo
 * gallery, the real broker, the committed model). The image must update and a grant must
 * appear in the page's event list. The screenshot goes to a temporary folder, or to
 * docs/live-view.png (the README's picture) with FACEGATE_UPDATE_SCREENSHOT=1, so an ordinary
 * test run leaves the checkout clean.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(
    `live view browser test skipped: ${CHROMIUM} is absent (apt-get install chromium, or run scripts/setup.sh)`,
  );

let dir: string;
let port: number;
let daemon: DaemonProcess | null = null;

beforeAll(async () => {
  if (!hasChromium) return;
  dir = mkdtempSync(join(tmpdir(), 'facegate-live-'));
  port = await freePort();
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      device: { id: uniqueId('live'), stateDir: dir },
      camera: { type: 'replay', path: 'data/replay', fps: 5, loop: true },
      model: { backbone: 'faceapi' },
      gallery: { path: join(dir, 'facegate.db'), bootstrapDir: 'data/demo/enroll' },
      door: { relay: { type: 'simulated' }, pulseMs: 1500 },
      // Still photos pasted in a scene: liveness off, as in the demo (docs/liveness.md).
      access: { noticeCooldownSeconds: 1, liveness: { mode: 'off' } },
      mqtt: {
        url: 'mqtt://127.0.0.1:1883',
        baseTopic: `facegate-test/${uniqueId('live')}`,
        homeAssistant: { enabled: false },
      },
      metrics: { port },
      liveView: { enabled: true, fps: 4, width: 640 },
    }),
  );
  daemon = new DaemonProcess(['--config', config]);
  await daemon.waitForLog((l) => l.msg === 'live loop started', 120_000, 'the live loop');
}, 150_000);

afterAll(async () => {
  if (daemon) {
    daemon.signal('SIGTERM');
    await daemon.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasChromium)('live view in Chromium (daemon on the replay)', () => {
  it(
    'shows the updating camera image and a grant, audited; takes a screenshot',
    { timeout: 180_000 },
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 720 } });
        await page.goto(`http://127.0.0.1:${port}/live`);
        // Read through locators (the page's CSP forbids eval, so no waitForFunction).
        await page.locator('#conn', { hasText: 'live' }).waitFor({ timeout: 20_000 });
        const seq = async () => Number((await page.locator('#cv').getAttribute('data-seq')) ?? 0);
        // The image updates: two different frame numbers on the canvas.
        await expect.poll(seq, { timeout: 60_000, interval: 200 }).toBeGreaterThan(0);
        const first = await seq();
        await expect.poll(seq, { timeout: 30_000, interval: 200 }).not.toBe(first);
        // A grant appears in the event list.
        await page.locator('#events li.e-access_granted').first().waitFor({ timeout: 120_000 });
        const grant = await page.locator('#events li.e-access_granted').first().textContent();
        expect(grant).toMatch(/access granted.*s3[67]/);
        // Let a frame with a recognised face be on screen for the picture.
        await expect
          .poll(async () => (await page.locator('#faces').textContent()) ?? '', {
            timeout: 30_000,
            interval: 100,
          })
          .toMatch(/^s3[67] \d\.\d\d/)
          .catch(() => undefined);
        const shot =
          process.env.FACEGATE_UPDATE_SCREENSHOT === '1' ? 'docs/live-view.png' : join(dir, 'live-view.png');
        await page.screenshot({ path: shot });
        expect(existsSync(shot)).toBe(true);
        expect(daemon!.lines.some((l) => l.module === 'live-view' && l.msg === 'live view opened')).toBe(
          true,
        );
      } finally {
        await browser.close();
      }
    },
  );

  it('serves nothing but the page: other paths 404, POST 405', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/live/../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/live`, { method: 'POST' })).status).toBe(405);
  });
});
