// worker.test.ts - the DPDK worker's own suites in make test: the NAT/TTL rewrite unit tests
// (build/test_nat) and the end-to-end lab tests (dpdk/test_worker.sh: forwarding with TTL and
// NAT, mirror, kill -9 fallback and rejoin, SIGTERM, TAP egress, bad configurations). Exit 77
// means "cannot run here": a skip, or a failure under CI=true.
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './lib/env.js';
import { runSuite } from './lib/suite.js';

describe('DPDK worker (C)', () => {
  it('NAT and TTL rewrite with incremental checksums (unit)', (t) => runSuite(t, path.join(ROOT, 'build/test_nat'), []));
  it('worker in a lab: forwarding, TTL, NAT, mirror, counters, kill -9, rejoin, SIGTERM, TAP, bad configurations', (t) =>
    runSuite(t, 'bash', [path.join(ROOT, 'dpdk/test_worker.sh')]));
});
