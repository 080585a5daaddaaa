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
import { loadPcfPackage } from '../server/grpc.js';
import { call, grpcClient, startInProcess, tempDb, type PcfClient } from './lib/cp.js';
import { ROOT } from './lib/env.js';

const run = promisify(execFile);

function report(seq: number, rx: number) {
  return {
    worker_id: 'lab-dut/dut0', iface: 'dut0', egress: 'iface:dut1', xdp_mode: 'copy', poll_mode: 'wakeup',
    pid: 4242, started_at_unix_ms: Date.now() - 10_000, sequence: seq,
    queues: [{ queue_id: 0, counters: { rx_packets: rx, rx_bytes: rx * 60, tx_packets: rx - 1, tx_bytes: (rx - 1) * 60, nat: rx, ttl_expired: 1, mirrored: 0, drops: { ttl_expired: 1 } } }],
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
    reporter = new pkg.pcf.v1.WorkerReport(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
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
    const g = await call(rpc, 'GetStats', {});
    assert.equal(g.workers[0].worker_id, 'lab-dut/dut0');
    assert.equal(Number(g.workers[0].queues[0].counters.rx_packets), 250);
  });

  it('pcfctl stats shows the worker per queue, over REST and gRPC', async () => {
    for (const transport of ['rest', 'grpc']) {
      const { stdout } = await run(path.join(ROOT, 'bin/pcfctl'), ['--transport', transport, '--http', `127.0.0.1:${cp.httpPort}`, '--grpc', `127.0.0.1:${cp.grpcPort}`, 'stats']);
      assert.match(stdout, /WORKER\s+PATH\s+MODE\s+STATE\s+QUEUE\s+RX\s+TX/);
      assert.match(stdout, /lab-dut\/dut0\s+dut0->iface:dut1\s+copy\/wakeup\s+(ok|STALE) [\d.]+s\s+0\s+250\s+249\s+250\s+1\s+0\s+ttl_expired=1/);
    }
  });

  it('a worker that stops reporting shows as stale', async () => {
    await new Promise((r) => setTimeout(r, 1300)); // tests run with PCF_WORKER_STALE_MS 1000
    const s = await (await fetch(`http://127.0.0.1:${cp.httpPort}/stats`)).json();
    assert.equal(s.workers[0].stale, true);
    assert.ok(s.workers[0].age_ms > 1000);
  });

  it('the Unix socket serves the same API (a worker in another network namespace reports there)', async () => {
    const pkg = loadPcfPackage() as any;
    const viaUnix = new pkg.pcf.v1.WorkerReport(`unix:${path.join(db.dir, 'grpc.sock')}`, grpc.credentials.createInsecure());
    try {
      await call(viaUnix, 'Report', { ...report(9, 300), worker_id: 'other-dut/dut0' });
    } finally {
      viaUnix.close();
    }
    const s = await (await fetch(`http://127.0.0.1:${cp.httpPort}/stats`)).json();
    assert.deepEqual(s.workers.map((w: { worker_id: string }) => w.worker_id), ['lab-dut/dut0', 'other-dut/dut0']);
  });

  it('a report without worker_id is refused (INVALID_ARGUMENT naming it)', async () => {
    await assert.rejects(call(reporter as PcfClient, 'Report', { ...report(3, 1), worker_id: '' }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /worker_id/.test(err.details));
  });
});
