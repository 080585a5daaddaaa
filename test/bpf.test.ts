// bpf.test.ts - the C-level datapath tests in make test: the XDP program through
// BPF_PROG_TEST_RUN on crafted packets (build/test_xdp) and the loader in namespaces
// (test/bpf/test_loader.sh).
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './lib/env.js';
import { runSuite } from './lib/suite.js';

describe('BPF datapath (C)', () => {
  it('XDP program on crafted packets: verdicts, VLAN, ICMP, options, fragments, truncation, counters, metadata', (t) =>
    runSuite(t, path.join(ROOT, 'build/test_xdp'), []));
  it('parser: Ethernet, two VLAN tags, IPv4, IPv6 extension headers, fragments, ports of TCP/UDP/UDP-Lite/SCTP/DCCP, every reason', (t) =>
    runSuite(t, path.join(ROOT, 'build/test_parse'), []));
  it('loader: attach, idempotence, status, replace keeps maps, foreign program, errors and exit codes, detach', (t) =>
    runSuite(t, 'bash', [path.join(ROOT, 'test/bpf/test_loader.sh')]));
});
