/**
 * contrib/warren.service: what an operator relies on (restart on failure but not on a bad
 * configuration, a dedicated user, a raised descriptor limit, a SIGTERM stop with time for the
 * bounded shutdown), and `systemd-analyze verify` through contrib/verify-service.sh where systemd
 * is installed (skipped with the reason otherwise).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const UNIT = fileURLToPath(new URL('../../../contrib/warren.service', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../../contrib/verify-service.sh', import.meta.url));

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function directives(): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of readFileSync(UNIT, 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#') || t.startsWith('[')) continue;
    const eq = t.indexOf('=');
    m.set(t.slice(0, eq), t.slice(eq + 1));
  }
  return m;
}

describe('contrib/warren.service', () => {
  it('restarts on failure, not on a bad configuration; runs as warren; raises LimitNOFILE; stops with SIGTERM in time', () => {
    const d = directives();
    expect(d.get('Type')).toBe('simple');
    expect(d.get('Restart')).toBe('on-failure');
    expect(d.get('RestartPreventExitStatus')).toBe('78');
    expect(d.get('User')).toBe('warren');
    expect(Number(d.get('LimitNOFILE'))).toBeGreaterThanOrEqual(65536);
    expect(d.get('KillSignal')).toBe('SIGTERM');
    // The default --shutdown-timeout (15 s) plus the 5 s store bound must fit before SIGKILL.
    expect(Number(d.get('TimeoutStopSec'))).toBeGreaterThanOrEqual(20);
    expect(d.get('ExecStart')).toMatch(/ start --config \/etc\/warren\/warren\.conf$/);
  });

  it.skipIf(!hasSystemdAnalyze())('passes systemd-analyze verify (skipped where systemd-analyze is not installed)', () => {
    const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8' });
    expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^OK: /);
  });
});
