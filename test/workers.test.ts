// workers.test.ts - the worker's counter reports (WorkerReport.Report over gRPC) as the
// control plane shows them: beside the XDP counters in GET /stats, GetStats and pcfctl, with
// their age, and stale once a worker stops reporting.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Running } from '../server/app.js';
import { loadPcfPackage } from '../api/proto.js';
import { call, grpcClient, startInProcess, tempDb, type PcfClient } from './lib/cp.js';
import { ROOT } from './lib/env.js';
import { reportFromMessage } from '../api/worker_report.js';
import { checkReport, MAX_WORKERS, WorkerRegistry } from '../server/workers.js';

const run = promisify(execFile);

/** The TSC frequency and the cycles a queue's bursts took for rx packets, as a worker sends them. */
const TSC_HZ = 2_095_078_000;
const busy = (rx: number) => rx * 1500 + 7;

function report(seq: number, rx: number) {
  return {
    worker_id: 'lab-dut/dut0', iface: 'dut0', egress: 'iface:dut1', xdp_mode: 'copy', poll_mode: 'wakeup',
    pid: 4242, started_at_unix_ms: Date.now() - 10_000, sequence: seq, tsc_hz: TSC_HZ,
    queues: [{ queue_id: 0, busy_cycles: busy(rx), counters: { rx_packets: rx, rx_bytes: rx * 60, tx_packets: rx - 1, tx_bytes: (rx - 1) * 60, nat: rx, ttl_expired: 1, mirrored: 0, drops: { ttl_expired: 1 } } }],
    rules: [{ rule_id: 7, packets: rx, bytes: rx * 60 }],
  };
}

describe('worker reports', () => {
  let cp: Running;
  let db: { dir: string; file: string };
  let reporter: grpc.Client & Record<string, any>;
  let rpc: PcfClient;

  before(async () => {
    db = tempDb();
    cp = await startInProcess(path.join('/nonexistent', path.basename(db.dir)), db.file, path.join(db.dir, 'grpc.sock'));
    const pkg = loadPcfPackage() as any;
    reporter = new pkg.pcf.v1.WorkerReport(`unix:${path.join(db.dir, 'grpc.sock')}`, grpc.credentials.createInsecure());
    rpc = grpcClient(cp.grpcPort);
  });
  after(async () => {
    reporter?.close();
    rpc?.close();
    await cp?.close();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });

  it('a report shows in GET /stats and GetStats with its age; the next one replaces it', async () => {
    const ack = await call(reporter as PcfClient, 'Report', report(1, 100));
    assert.ok(Math.abs(ack.received_at_unix_ms - Date.now()) < 5000);
    await call(reporter as PcfClient, 'Report', report(2, 250));
    const s = await (await fetch(`http://127.0.0.1:${cp.httpPort}/stats`)).json();
    assert.equal(s.workers.length, 1);
    const w = s.workers[0];
    assert.equal(w.worker_id, 'lab-dut/dut0');
    assert.equal(w.sequence, 2);
    assert.equal(w.stale, false);
    assert.ok(w.age_ms >= 0 && w.age_ms < 1000);
    assert.deepEqual(w.queues[0].counters, { rx_packets: 250, rx_bytes: 15000, tx_packets: 249, tx_bytes: 14940, nat: 250, ttl_expired: 1, mirrored: 0, rx_ipv6: 0, frag_later: 0, drops: { ttl_expired: 1 } });
    assert.deepEqual(w.rules, [{ rule_id: 7, packets: 250, bytes: 15000 }]);
    // The report has only the deprecated queue_id (a worker of the release before): its
    // attachment and queue are read from it.
    assert.deepEqual([w.queues[0].attachment, w.queues[0].queue, w.queues[0].queue_id], [0, 0, 0]);
    // The worker's cost per packet: its TSC frequency, the queue's busy cycles, and their
    // ratio to the packets.
    assert.equal(w.tsc_hz, TSC_HZ);
    assert.equal(w.queues[0].busy_cycles, busy(250));
    assert.equal(w.queues[0].cycles_per_packet, busy(250) / 250);
    const g = await call(rpc, 'GetStats', {});
    assert.equal(g.workers[0].worker_id, 'lab-dut/dut0');
    assert.equal(Number(g.workers[0].queues[0].counters.rx_packets), 250);
    assert.deepEqual([g.workers[0].queues[0].attachment, g.workers[0].queues[0].queue], [0, 0]);
    assert.deepEqual([Number(g.workers[0].tsc_hz), Number(g.workers[0].queues[0].busy_cycles)], [TSC_HZ, busy(250)]);
  });

  it('GET /metrics: the worker\'s busy cycles and packets per queue, and its TSC frequency', async () => {
    const m = await (await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
    const labels = 'worker_id="lab-dut/dut0",attachment="0",queue="0"';
    assert.match(m, /^# TYPE pcf_worker_busy_cycles_total counter$/m);
    assert.match(m, new RegExp(`^pcf_worker_busy_cycles_total\\{${labels}\\} ${busy(250)}$`, 'm'));
    assert.match(m, new RegExp(`^pcf_worker_rx_packets_total\\{${labels}\\} 250$`, 'm'));
    assert.match(m, /^# TYPE pcf_worker_tsc_hz gauge$/m);
    assert.match(m, new RegExp(`^pcf_worker_tsc_hz\\{worker_id="lab-dut/dut0"\\} ${TSC_HZ}$`, 'm'));
  });

  it('pcfctl stats shows the worker per queue, over REST and gRPC', async () => {
    for (const transport of ['rest', 'grpc']) {
      const { stdout } = await run(path.join(ROOT, 'bin/pcfctl'), ['--transport', transport, '--http', `127.0.0.1:${cp.httpPort}`, '--grpc', `127.0.0.1:${cp.grpcPort}`, 'stats']);
      assert.match(stdout, /WORKER\s+PATH\s+MODE\s+STATE\s+ATTACHMENT\s+QUEUE\s+RX\s+TX/);
      assert.match(stdout, /lab-dut\/dut0\s+dut0->iface:dut1\s+copy\/wakeup\s+(ok|STALE) [\d.]+s\s+0\s+0\s+250\s+249\s+250\s+1\s+0\s+ttl_expired=1/);
    }
  });

  it('a worker that stops reporting shows as stale', async () => {
    // Tests run with PCF_WORKER_STALE_MS 1000: stale from then on (polled, not slept).
    let s: any;
    for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      s = await (await fetch(`http://127.0.0.1:${cp.httpPort}/stats`)).json();
      if (s.workers[0].stale) break;
    }
    assert.equal(s.workers[0].stale, true);
    assert.ok(s.workers[0].age_ms > 1000);
  });

  it('reports are taken on the Unix socket only (mode 0600): the TCP port answers UNIMPLEMENTED and changes nothing', async () => {
    assert.equal(fs.statSync(path.join(db.dir, 'grpc.sock')).mode & 0o777, 0o600);
    const pkg = loadPcfPackage() as any;
    const viaTcp = new pkg.pcf.v1.WorkerReport(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
    try {
      await assert.rejects(call(viaTcp, 'Report', { ...report(9, 10 ** 15), worker_id: 'lab-dut/dut0' }), (err: grpc.ServiceError) => err.code === grpc.status.UNIMPLEMENTED);
    } finally {
      viaTcp.close();
    }
    const s = await (await fetch(`http://127.0.0.1:${cp.httpPort}/stats`)).json();
    assert.deepEqual(s.workers.map((w: { worker_id: string }) => w.worker_id), ['lab-dut/dut0']);
    assert.equal(s.workers[0].queues[0].counters.rx_packets, 250);
    // The socket serves PcfControl too (pcfctl in another network namespace).
    const ctl = new pkg.pcf.v1.PcfControl(`unix:${path.join(db.dir, 'grpc.sock')}`, grpc.credentials.createInsecure());
    try {
      assert.equal((await call(ctl, 'GetStats', {})).workers[0].worker_id, 'lab-dut/dut0');
    } finally {
      ctl.close();
    }
  });

  for (const [what, change, field] of [
    ['a start time past 2^53 ms (once made GET /stats fail)', { started_at_unix_ms: '8640000000000001' }, 'started_at_unix_ms'],
    ['a start time in the future', { started_at_unix_ms: Date.now() + 3_600_000 }, 'started_at_unix_ms'],
    ['a worker_id of 8 KB', { worker_id: 'w'.repeat(8192) }, 'worker_id'],
    ['a queue twice', { queues: [report(1, 1).queues[0], report(1, 1).queues[0]] }, 'queues[1].queue'],
    ['a queue twice, once by its attachment and queue', { queues: [{ ...report(1, 1).queues[0], queue_id: 65 }, { attachment: 1, queue: 1, counters: report(1, 1).queues[0].counters }] }, 'queues[1].queue'],
    ['a queue_id beyond the xskmap (a report of the release before: attachment 4)', { queues: [{ ...report(1, 1).queues[0], queue_id: 300 }] }, 'queues[0].attachment'],
    ['an attachment beyond the pin dir\'s', { queues: [{ ...report(1, 1).queues[0], attachment: 4, queue: 0 }] }, 'queues[0].attachment'],
    ['a queue beyond PCF_MAX_QUEUES', { queues: [{ ...report(1, 1).queues[0], attachment: 0, queue: 64 }] }, 'queues[0].queue'],
    ['a queue_id that is not the attachment\'s and queue\'s key', { queues: [{ ...report(1, 1).queues[0], queue_id: 3, attachment: 1, queue: 3 }] }, 'queues[0].queue_id'],
    ['a drop reason that is not a name', { queues: [{ queue_id: 0, counters: { drops: { 'x y': 1 } } }] }, 'queues[0].counters.drops'],
  ] as const) {
    it(`refuses ${what}: INVALID_ARGUMENT naming ${field}, the worker's counters unchanged`, async () => {
      await assert.rejects(call(reporter as PcfClient, 'Report', { ...report(50, 999), ...change }),
        (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && err.details.startsWith(`${field}:`) && err.details.length < 300);
      const s = await (await fetch(`http://127.0.0.1:${cp.httpPort}/stats`)).json();
      assert.deepEqual(s.workers.map((w: { worker_id: string }) => w.worker_id), ['lab-dut/dut0']);
      assert.equal(s.workers[0].sequence, 2);
    });
  }

  it(`at most ${MAX_WORKERS} workers: the next new one is refused (RESOURCE_EXHAUSTED), a known one still reports`, async () => {
    for (let i = 1; i < MAX_WORKERS; i++) await call(reporter as PcfClient, 'Report', { ...report(1, 1), worker_id: `w-${i}` });
    await assert.rejects(call(reporter as PcfClient, 'Report', { ...report(1, 1), worker_id: 'one-too-many' }), (err: grpc.ServiceError) => err.code === grpc.status.RESOURCE_EXHAUSTED && /worker_id/.test(err.details));
    await call(reporter as PcfClient, 'Report', report(3, 260));
    const s = await (await fetch(`http://127.0.0.1:${cp.httpPort}/stats`)).json();
    assert.equal(s.workers.length, MAX_WORKERS);
  });

  it('a queue is its attachment and queue; queue_id (deprecated) is their xskmap key, either way round', () => {
    const q = (queue: { attachment?: number; queue?: number; queue_id?: number }) => reportFromMessage({ ...report(1, 1), queues: [{ ...queue, counters: {} }] }).queues[0];
    const pick = (x: { attachment: number; queue: number; queue_id: number }) => [x.attachment, x.queue, x.queue_id];
    assert.deepEqual(pick(q({ attachment: 1, queue: 2, queue_id: 66 })), [1, 2, 66], 'this worker: all three');
    assert.deepEqual(pick(q({ attachment: 1, queue: 2 })), [1, 2, 66], 'a worker that no longer sends queue_id');
    assert.deepEqual(pick(q({ queue_id: 66 })), [1, 2, 66], 'a worker of the release before: queue_id only');
    assert.deepEqual(pick(q({})), [0, 0, 0], 'queue 0 of attachment 0: proto3 sends nothing');
    const r = new WorkerRegistry(1000, 5000);
    r.accept(reportFromMessage({ ...report(1, 1), queues: [{ attachment: 1, queue: 2, counters: {} }] }));
    assert.deepEqual(pick(r.list()[0].queues[0]), [1, 2, 66]);
  });

  it('busy cycles past 2^53 (40 days of a busy queue at 2.6 GHz) are taken (their last digits may round), not the report refused', () => {
    const r = reportFromMessage({ ...report(1, 1000), queues: [{ ...report(1, 1000).queues[0], busy_cycles: 2 ** 53 + 2 }] });
    assert.equal(checkReport(r, Date.now()), null);
    const reg = new WorkerRegistry(1000, 5000);
    reg.accept(r);
    assert.deepEqual([reg.list()[0].queues[0].busy_cycles, reg.list()[0].queues[0].cycles_per_packet], [2 ** 53 + 2, (2 ** 53 + 2) / 1000]);
  });

  it('cycles per packet: busy_cycles / rx_packets per queue, null before the first packet; a worker without tsc_hz and busy_cycles reads 0 and null', () => {
    const r = new WorkerRegistry(1000, 5000);
    const counters = (rx: number) => ({ ...report(1, rx).queues[0].counters });
    r.accept(reportFromMessage({ ...report(1, 1), queues: [
      { attachment: 0, queue: 0, busy_cycles: 123_456_789, counters: counters(1000) },
      { attachment: 0, queue: 1, busy_cycles: 0, counters: { ...counters(0), tx_packets: 0, tx_bytes: 0 } },
    ] }));
    const [q0, q1] = r.list()[0].queues;
    assert.deepEqual([q0.busy_cycles, q0.cycles_per_packet], [123_456_789, 123_456.789]);
    assert.deepEqual([q1.busy_cycles, q1.cycles_per_packet], [0, null]);
    const { tsc_hz: _, ...older } = report(1, 5);
    const old = new WorkerRegistry(1000, 5000);
    old.accept(reportFromMessage({ ...older, queues: [{ queue_id: 0, counters: counters(5) }] }));
    const w = old.list()[0];
    assert.deepEqual([w.tsc_hz, w.queues[0].busy_cycles, w.queues[0].cycles_per_packet], [0, 0, null], 'not 0 cycles per packet: not measured');
  });

  it('a worker that stops reporting is forgotten after PCF_WORKER_EXPIRE_MS', () => {
    const r = new WorkerRegistry(1000, 5000);
    const t0 = Date.now();
    r.accept(reportFromMessage(report(1, 1)), t0);
    assert.equal(r.list(t0 + 4000).length, 1);
    assert.equal(r.list(t0 + 4000)[0].stale, true);
    assert.equal(r.list(t0 + 6000).length, 0);
  });

  it('the newest report by start time and sequence is kept, whatever order they arrive in', () => {
    const r = new WorkerRegistry(1000, 5000);
    const t0 = Date.now();
    const at = (started: number, seq: number, rx: number) => reportFromMessage({ ...report(seq, rx), started_at_unix_ms: started });
    const rx = () => r.list(t0 + 3)[0].queues[0].counters.rx_packets;
    r.accept(at(t0 - 5000, 5, 500), t0);
    r.accept(at(t0 - 5000, 4, 400), t0 + 1);
    assert.deepEqual([r.list(t0 + 3)[0].sequence, rx()], [5, 500], 'a late, older report does not replace the newer');
    r.accept(at(t0 - 100, 1, 10), t0 + 2);
    assert.deepEqual([r.list(t0 + 3)[0].sequence, rx()], [1, 10], 'a restarted worker (a later start) starts its sequence again');
    r.accept(at(t0 - 5000, 6, 600), t0 + 3);
    assert.deepEqual([r.list(t0 + 3)[0].sequence, rx()], [1, 10], 'the old instance\'s last report comes too late');
  });

  it('a report without worker_id is refused (INVALID_ARGUMENT naming it)', async () => {
    await assert.rejects(call(reporter as PcfClient, 'Report', { ...report(3, 1), worker_id: '' }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /worker_id/.test(err.details));
  });
});
