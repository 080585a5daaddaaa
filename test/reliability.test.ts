// reliability.test.ts - the reliability suite's short form (reliability/run.ts --short) in make
// test: every part must meet its target; the table goes to the test's diagnostics.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { datapathUnavailable, ROOT } from './lib/env.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`the reliability suite needs the datapath under CI=true: ${why}`);

describe('reliability suite (short)', { skip: why ?? false }, () => {
  it('kill -9 of the control plane and the worker, pcf-xdp replace and a control plane restart under traffic, fuzzing, malformed packets, a soak', (t) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'reliability/run.ts'), '--short'], { cwd: ROOT, encoding: 'utf8', timeout: 900_000 });
    for (const line of (r.stdout ?? '').trim().split('\n')) t.diagnostic(line);
    assert.equal(r.status, 0, `${r.stdout}\n${(r.stderr ?? '').slice(-3000)}`);
  });
});
