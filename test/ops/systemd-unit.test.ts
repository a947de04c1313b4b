import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const unitPath = 'systemd/facegate.service';
const unit = readFileSync(unitPath, 'utf8');

/** `systemd-analyze verify` exits 0 even for ignored bad lines, so any output is a failure too. */
function verify(path: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

function directive(name: string): string[] {
  return unit
    .split('\n')
    .filter((l) => l.startsWith(`${name}=`))
    .map((l) => l.slice(name.length + 1));
}

describe('systemd/facegate.service', () => {
  it('passes systemd-analyze verify without a single warning', () => {
    // The unit's ExecStart is /usr/bin/node (exists here); the script path and the user do
    // not need to exist for verify. Copy it to a temp dir so the unit name is checked clean.
    const dir = mkdtempSync(join(tmpdir(), 'facegate-unit-'));
    copyFileSync(unitPath, join(dir, 'facegate.service'));
    const result = verify(join(dir, 'facegate.service'));
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  });

  it('the verify check catches a broken unit (so the test above can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'facegate-unit-'));
    writeFileSync(join(dir, 'facegate.service'), unit.replace('WatchdogSec=30', 'WatchdogSec=soon'));
    expect(verify(join(dir, 'facegate.service')).output).toMatch(/WatchdogSec|sec value/);
  });

  it('is a notify service with a watchdog, restarts always, bounded stop, a state dir and hardening', () => {
    expect(directive('Type')).toEqual(['notify']);
    expect(directive('NotifyAccess')).toEqual(['all']);
    expect(Number(directive('WatchdogSec')[0])).toBeGreaterThan(0);
    expect(directive('Restart')).toEqual(['always']);
    expect(Number(directive('TimeoutStopSec')[0])).toBeLessThanOrEqual(30);
    expect(directive('StateDirectory')).toEqual(['facegate']);
    expect(directive('User')).toEqual(['facegate']);
    expect(directive('SupplementaryGroups')[0].split(/\s+/).sort()).toEqual(['gpio', 'video']);
    for (const [key, value] of [
      ['ProtectSystem', 'strict'],
      ['PrivateTmp', 'yes'],
      ['NoNewPrivileges', 'yes'],
      ['ProtectHome', 'yes'],
      ['DevicePolicy', 'closed'],
    ]) {
      expect(directive(key), key).toEqual([value]);
    }
  });

  it('the sysusers file creates the facegate user in the gpio and video groups', () => {
    const root = mkdtempSync(join(tmpdir(), 'facegate-root-'));
    execFileSync('mkdir', ['-p', join(root, 'etc')]);
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nvideo:x:44:\n');
    execFileSync('systemd-sysusers', [`--root=${root}`, resolve('systemd/facegate.sysusers.conf')], {
      stdio: 'pipe',
    });
    expect(readFileSync(join(root, 'etc/passwd'), 'utf8')).toMatch(
      /^facegate:x:\d+:\d+:.*:\/var\/lib\/facegate:/m,
    );
    const groups = readFileSync(join(root, 'etc/group'), 'utf8');
    expect(groups).toMatch(/^video:x:44:facegate$/m);
    expect(groups).toMatch(/^gpio:x:\d+:facegate$/m);
  });
});
