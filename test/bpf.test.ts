// bpf.test.ts - the C-level datapath tests in make test: the XDP program through
// BPF_PROG_TEST_RUN on crafted packets (build/test_xdp) and the loader in namespaces
// (test/bpf/test_loader.sh). Exit 77 means "cannot run here": a skip, or a failure under CI=true.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { ROOT } from './lib/env.js';

function runSuite(t: TestContext, cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status === 77) {
    const why = out.trim().split('\n').pop();
    if (process.env.CI === 'true') assert.fail(`${cmd} cannot run under CI=true: ${why}`);
    t.skip(why);
    return;
  }
  for (const line of out.split('\n').filter((l) => /FAIL/.test(l))) t.diagnostic(line);
  assert.equal(r.status, 0, `${path.basename(cmd)} failed:\n${out.slice(-4000)}`);
  t.diagnostic(out.trim().split('\n').pop() ?? '');
}

describe('BPF datapath (C)', () => {
  it('XDP program on crafted packets: verdicts, VLAN, ICMP, options, fragments, truncation, counters, metadata', (t) =>
    runSuite(t, path.join(ROOT, 'build/test_xdp'), []));
  it('loader: attach, idempotence, status, replace keeps maps, foreign program, errors and exit codes, detach', (t) =>
    runSuite(t, 'bash', [path.join(ROOT, 'test/bpf/test_loader.sh')]));
});
