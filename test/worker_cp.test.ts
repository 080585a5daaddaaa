// worker_cp.test.ts - the worker beside the control plane: a REDIRECT rule pushed over REST
// reaches the worker (TTL and DNAT applied), its counters arrive over gRPC and show in GET
// /stats beside XDP's, equal to the packets sent; the control plane restarts while traffic
// flows: no packet lost, the worker reconnects, its counters go on from where they were.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ChildControlPlane, tempDb } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { CLIENT_IP, Lab, SERVER_IP } from './lib/lab.js';
import { tcpExchange, tcpServer, udpReceiver, udpSend } from './lib/traffic.js';
import { Worker, WORKER } from './lib/worker.js';

const why = datapathUnavailable() ?? (fs.existsSync(WORKER) ? null : `worker not built: ${WORKER}`);
if (why && process.env.CI === 'true') throw new Error(`worker tests need the datapath under CI=true: ${why}`);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('worker and control plane', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: { dir: string; file: string };
  let cp: ChildControlPlane;
  let worker: Worker;
  const stats = async () => (await fetch(`${cp.url}/stats`)).json();
  /** Counters of the worker's socket for queue 0 of an attachment: 0 is dut0, 1 dut1. */
  const queue = (w: any, attachment: number) => w.queues.find((q: { attachment: number; queue: number }) => q.attachment === attachment && q.queue === 0)?.counters;
  const q0 = (w: any) => queue(w, 0);
  /** The worker's latest report once it counts at least `rx` packets. */
  const reportWith = (rx: number) => waitFor(`a worker report with rx >= ${rx}`, async () => {
    const w = (await stats()).workers[0];
    return w && q0(w) && q0(w).rx_packets >= rx ? w : undefined;
  });

  before(async () => {
    lab = await Lab.create();
    await lab.attachReverse();
    db = tempDb();
    cp = await ChildControlPlane.create(lab.pinDir, db.file);
    await cp.start();
    worker = new Worker(lab, ['--report', `unix:${cp.grpcUnix}`, '--report-interval-ms', '200'], { reverse: true });
    await worker.start();
  });
  after(async () => {
    await worker?.stop('SIGKILL');
    await cp?.stop('SIGKILL');
    await lab?.destroy();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });

  it('a REDIRECT rule from REST goes through the worker; its counters in GET /stats equal the packets sent', async () => {
    const r = await fetch(`${cp.url}/flows`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 5000, dst_port: 7000, proto: 'udp' }, action: { type: 'REDIRECT', ttl_delta: -5, nat: { dnat_port: 7001 } } }),
    });
    assert.equal(r.status, 201);
    const id = (await r.json()).id;
    const rx = [await udpReceiver(lab, 7000), await udpReceiver(lab, 7001)];
    await udpSend(lab, 7000, 5000, 100);
    const [orig, natted] = await Promise.all(rx.map((x) => x.result()));
    assert.equal(orig.received, 0, 'nothing reaches the original port');
    assert.equal(natted.received, 100, 'every packet arrives DNATed by the worker');

    const w = await reportWith(100);
    assert.equal(w.stale, false);
    assert.equal(w.xdp_mode, 'copy');
    assert.equal(w.poll_mode, 'wakeup');
    assert.equal(q0(w).rx_packets, 100);
    assert.equal(q0(w).tx_packets, 100);
    assert.equal(q0(w).nat, 100);
    assert.deepEqual(w.rules.find((x: { rule_id: number }) => x.rule_id === id)?.packets, 100);
    const s = await stats();
    assert.equal(s.xdp.act_redirect.packets, 100, 'XDP handed all of them to the worker');
    // The worker's own cost: the cycles of its bursts that carried packets, per packet.
    const q = w.queues.find((x: { attachment: number; queue: number }) => x.attachment === 0 && x.queue === 0);
    assert.ok(w.tsc_hz > 0, `tsc_hz ${w.tsc_hz}`);
    assert.ok(q.busy_cycles > 0, `busy_cycles ${q.busy_cycles}`);
    assert.equal(q.cycles_per_packet, q.busy_cycles / 100);
    assert.ok(q.cycles_per_packet >= 100 && q.cycles_per_packet <= 1e7, `${q.cycles_per_packet} cycles per packet`);
    const m = await (await fetch(`${cp.url}/metrics`)).text();
    const labels = `worker_id="${w.worker_id}",attachment="0",queue="0"`;
    assert.match(m, new RegExp(`^pcf_worker_busy_cycles_total\\{${labels.replace(/[/.]/g, '\\$&')}\\} \\d+$`, 'm'));
    assert.match(m, new RegExp(`^pcf_worker_tsc_hz\\{worker_id="${w.worker_id.replace(/[/.]/g, '\\$&')}"\\} ${w.tsc_hz}$`, 'm'));
  });

  it('the control plane restarts while traffic flows: nothing lost, the worker reconnects, counters go on', async () => {
    const before = q0(await reportWith(100)).rx_packets;
    const rx = await udpReceiver(lab, 7001);
    const N = 400;
    const sending = udpSend(lab, 7000, 5000, N, 5); // 5 ms apart: about 2 s of traffic
    await new Promise((r) => setTimeout(r, 300));
    await cp.stop('SIGTERM');
    await cp.start();
    await sending;
    const got = await rx.result();
    assert.equal(got.received, N, 'no packet lost while the control plane restarted');
    const w = await reportWith(before + N);
    assert.equal(q0(w).rx_packets, before + N, 'the worker\'s counters continue, they are not reset');
    assert.equal(w.stale, false);
  });

  it('TCP through REDIRECT rules with NAT both ways: DNAT on the way in (dut0), SNAT of the replies (dut1)', async () => {
    // The client talks to a virtual service 198.18.1.2:8080; the server is 198.18.1.1:9090.
    const rules = [
      { key: { src_ip: CLIENT_IP, dst_ip: '198.18.1.2', src_port: 30001, dst_port: 8080, proto: 'tcp' },
        action: { type: 'REDIRECT', nat: { dnat_ip: SERVER_IP, dnat_port: 9090 } } },
      { key: { src_ip: SERVER_IP, dst_ip: CLIENT_IP, src_port: 9090, dst_port: 30001, proto: 'tcp' },
        action: { type: 'REDIRECT', nat: { snat_ip: '198.18.1.2', snat_port: 8080 } } },
    ];
    for (const r of rules) {
      const res = await fetch(`${cp.url}/flows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(r) });
      assert.equal(res.status, 201);
    }
    const before = await reportWith(0);
    const srv = await tcpServer(lab, 9090);
    try {
      const r = await tcpExchange(lab, 8080, 30001, 10_000, 10_000, '198.18.1.2');
      assert.deepEqual(r, { ok: true, echoed: 10_000 }, 'the connection works end to end through the worker');
    } finally {
      srv.kill();
    }
    const w = await waitFor('reports of both directions', async () => {
      const x = (await stats()).workers[0];
      return queue(x, 1)?.nat > (queue(before, 1)?.nat ?? 0) ? x : undefined;
    });
    assert.ok(q0(w).nat > q0(before).nat, 'client to server: DNAT on dut0\'s socket');
    assert.ok(queue(w, 1).tx_packets > 0, 'server to client: SNAT on dut1\'s socket, sent out of dut0');
  });

  it('a worker that stops reporting shows as stale; after kill -9 REDIRECT falls back to the kernel', async () => {
    await worker.stop('SIGKILL');
    const rx = [await udpReceiver(lab, 7000), await udpReceiver(lab, 7001)];
    await udpSend(lab, 7000, 5000, 50);
    const [orig, natted] = await Promise.all(rx.map((x) => x.result()));
    assert.equal(orig.received, 50, 'the kernel path delivers them, without the worker\'s DNAT');
    assert.equal(natted.received, 0);
    const s = await stats();
    assert.ok(s.xdp.redirect_fallback.packets >= 50);
    await waitFor('the worker to show stale', async () => ((await stats()).workers[0].stale ? true : undefined), 10_000);
  });
});
