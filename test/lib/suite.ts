// suite.ts - runs a C or shell test suite as one node test. Exit 77 means "cannot run here":
// a skip with the suite's last line as the reason, or a failure under CI=true; so does a
// "skip NAME: reason" line of a single case.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ROOT } from './env.js';

export function runSuite(t: TestContext, cmd: string, args: string[], timeoutMs = 600_000): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status === 77) {
    const why = out.trim().split('\n').pop();
    if (process.env.CI === 'true') assert.fail(`${cmd} cannot run under CI=true: ${why}`);
    t.skip(why);
    return;
  }
  for (const line of out.split('\n').filter((l) => /FAIL/.test(l))) t.diagnostic(line);
  // A case that did not run is said, and under CI=true it fails the suite: nothing skips silently.
  const skipped = out.split('\n').filter((l) => /^skip /.test(l));
  for (const line of skipped) t.diagnostic(line);
  if (process.env.CI === 'true') assert.deepEqual(skipped, [], `${path.basename(args[0] ?? cmd)}: cases did not run under CI=true`);
  assert.equal(r.status, 0, `${path.basename(args[0] ?? cmd)} failed (status ${r.status}, signal ${r.signal}):\n${out.slice(-4000)}`);
  t.diagnostic(out.trim().split('\n').pop() ?? '');
}
