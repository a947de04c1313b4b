import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemdNotifier, WatchdogFeeder, watchdogInterval } from '../../src/ops/systemd.js';
import { silentLogger } from '../../src/util/log.js';

/** A fake systemd notify socket (python3: Node has no unix datagram sockets). */
async function listen(): Promise<{ socket: string; messages: string[]; child: ChildProcess }> {
  const socket = join(mkdtempSync(join(tmpdir(), 'facegate-notify-')), 'notify.sock');
  const child = spawn('python3', ['test/ops/fixtures/notify-listener.py', socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const messages: string[] = [];
  await new Promise<void>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as string;
      if (msg === 'LISTENING') resolve();
      else messages.push(msg);
    });
  });
  return { socket, messages, child };
}

let listener: ChildProcess | null = null;
afterEach(() => {
  listener?.kill();
  listener = null;
});

describe('SystemdNotifier (spawning systemd-notify)', () => {
  it('sends READY, WATCHDOG and STOPPING in order to NOTIFY_SOCKET', async () => {
    const { socket, messages, child } = await listen();
    listener = child;
    const notifier = new SystemdNotifier(
      { env: { NOTIFY_SOCKET: socket, PATH: '/usr/bin:/bin' }, pid: 1234 },
      silentLogger(),
    );
    expect(notifier.enabled).toBe(true);
    // not awaited one by one: the notifier itself must keep the order
    const sends = [notifier.ready('recognising'), notifier.watchdog(), notifier.stopping('bye')];
    await Promise.all(sends);
    const payloads = messages.filter((m) => m !== 'BARRIER=1');
    expect(payloads).toEqual(['READY=1\nSTATUS=recognising', 'WATCHDOG=1', 'STOPPING=1\nSTATUS=bye']);
  });

  it('is a no-op without NOTIFY_SOCKET, and a failure never throws', async () => {
    const off = new SystemdNotifier({ env: {}, pid: 1 }, silentLogger());
    expect(off.enabled).toBe(false);
    await off.ready();
    const broken = new SystemdNotifier(
      { env: { NOTIFY_SOCKET: '/nonexistent/notify.sock', PATH: '/usr/bin:/bin' }, pid: 1 },
      silentLogger(),
    );
    await expect(broken.ready()).resolves.toBeUndefined();
    const missingBinary = new SystemdNotifier(
      { env: { NOTIFY_SOCKET: '/nonexistent/notify.sock' }, pid: 1, command: '/nonexistent/systemd-notify' },
      silentLogger(),
    );
    await expect(missingBinary.watchdog()).resolves.toBeUndefined();
  });

  it('derives the watchdog interval from WATCHDOG_USEC (half) and WATCHDOG_PID', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 7)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7)).toBeNull();
    expect(watchdogInterval({}, 7)).toBeNull();
    expect(watchdogInterval({ WATCHDOG_USEC: 'x' }, 7)).toBeNull();
  });
});

describe('WatchdogFeeder', () => {
  it('feeds the watchdog while the loop makes progress and stops feeding when it stalls', async () => {
    const { socket, messages, child } = await listen();
    listener = child;
    // WATCHDOG_USEC=100 ms → a tick every 50 ms; stalled after 150 ms without progress
    const notifier = new SystemdNotifier(
      { env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '100000', PATH: '/usr/bin:/bin' }, pid: 1 },
      silentLogger(),
    );
    const feeder = new WatchdogFeeder(notifier, () => performance.now(), 150, silentLogger());
    feeder.start();
    const progress = setInterval(() => feeder.progress(), 10);
    await new Promise((r) => setTimeout(r, 400));
    const whileProgressing = messages.filter((m) => m === 'WATCHDOG=1').length;
    expect(whileProgressing).toBeGreaterThanOrEqual(2);
    clearInterval(progress);
    await new Promise((r) => setTimeout(r, 300)); // becomes stalled after 150 ms
    const atStall = messages.filter((m) => m === 'WATCHDOG=1').length;
    await new Promise((r) => setTimeout(r, 400));
    expect(feeder.stalled).toBe(true);
    expect(messages.filter((m) => m === 'WATCHDOG=1').length).toBe(atStall);
    feeder.stop();
  });
});
