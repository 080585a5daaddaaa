// trace.test.ts - pcf-trace (trace/) against a running worker, through `pcfctl trace`: the
// bursts of a known flow, exactly (packets per burst sum to the packets sent and to the
// worker's own counters); the same figures in the control plane's /metrics while it runs and
// gone when it stops; a worker restart followed (the counts go on); a killed tool's stale pins
// read as no trace, are replaced, and do not keep detach --purge from removing the pin dir;
// bad input refused with a message.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { ChildControlPlane, tempDb } from './lib/cp.js';
import { datapathUnavailable, ROOT } from './lib/env.js';
import { CLIENT_IP, Lab, SERVER_IP } from './lib/lab.js';
import { udpReceiver, udpSend } from './lib/traffic.js';
import { until } from './lib/until.js';
import { Worker, WORKER } from './lib/worker.js';

const TRACE = path.join(ROOT, 'build/pcf-trace');
const PCFCTL = path.join(ROOT, 'bin/pcfctl');
const why = datapathUnavailable() ?? [WORKER, TRACE].map((f) => (fs.existsSync(f) ? null : `not built: ${f}`)).find(Boolean) ?? null;
if (why && process.env.CI === 'true') throw new Error(`the trace tests need the datapath under CI=true: ${why}`);

/** until(), for values that may be 0: undefined is "not yet". */
const waitFor = <T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> =>
  until(async () => {
    const v = await fn();
    return v === undefined ? undefined : { v };
  }, ms, `waiting for ${what}`).then((x) => x.v);

interface Queue { dir: 'rx' | 'tx'; port: string; queue: number; bursts: number; packets: number; sent: number; hist: Record<string, number>; total_bursts: number; total_packets: number; total_sent: number }
interface Line { event?: string; pid: number; queues?: Queue[] }

/** A running trace: its JSON lines as they come, its stderr, and a bound on its life. */
class Trace {
  lines: Line[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly bound: NodeJS.Timeout;
  constructor(readonly proc: ChildProcess) {
    readline.createInterface({ input: proc.stdout! }).on('line', (l) => this.lines.push(JSON.parse(l)));
    proc.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    this.bound = setTimeout(() => proc.kill('SIGKILL'), 120_000);
    void this.exited.then(() => clearTimeout(this.bound));
  }
  /** pcfctl trace --json with these options. */
  static pcfctl(args: string[], env: NodeJS.ProcessEnv = {}): Trace {
    return new Trace(spawn(PCFCTL, ['--json', 'trace', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  }
  static direct(args: string[]): Trace {
    return new Trace(spawn(TRACE, ['--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  }
  events(what: string): Line[] {
    return this.lines.filter((l) => l.event === what);
  }
  /** The last interval's entry for one direction (its totals are the whole trace's). */
  last(dir: 'rx' | 'tx'): Queue | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const q = this.lines[i].queues?.find((x) => x.dir === dir);
      if (q) return q;
    }
    return undefined;
  }
  /** Every interval's entries for one direction. */
  intervals(dir: 'rx' | 'tx'): Queue[] {
    return this.lines.flatMap((l) => l.queues?.filter((q) => q.dir === dir) ?? []);
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/** The value of one /metrics sample, by name and labels as written ({dir="rx",...}); undefined when absent. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('pcf-trace: the worker\'s bursts', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: { dir: string; file: string };
  let cp: ChildControlPlane;
  let worker: Worker;
  const traces: Trace[] = [];
  const metrics = async () => (await fetch(`${cp.url}/metrics`)).text();
  const RX = '{dir="rx",port="dut0 queue 0",queue="0"}';
  const workerRx = async () => (await (await fetch(`${cp.url}/stats`)).json()).workers?.[0]?.queues?.find((q: { attachment: number }) => q.attachment === 0)?.counters?.rx_packets ?? 0;
  const trace = (args: string[] = []) => {
    const t = Trace.pcfctl(['--pid', String(worker.proc!.pid), '--pin-dir', lab.pinDir, '--interval-ms', '200', ...args]);
    traces.push(t);
    return t;
  };
  /** Sends n packets of the REDIRECT flow and waits until the server has them all. */
  const send = async (n: number) => {
    const rx = await udpReceiver(lab, 7000);
    await udpSend(lab, 7000, 5000, n);
    assert.equal((await rx.result()).received, n, `the server receives the ${n} packets the worker forwards`);
  };

  before(async () => {
    lab = await Lab.create();
    db = tempDb();
    cp = await ChildControlPlane.create(lab.pinDir, db.file);
    await cp.start();
    worker = new Worker(lab, ['--report', `unix:${cp.grpcUnix}`, '--report-interval-ms', '200']);
    await worker.start();
    const r = await fetch(`${cp.url}/flows`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 5000, dst_port: 7000, proto: 'udp' }, action: { type: 'REDIRECT' } }),
    });
    assert.equal(r.status, 201);
  });
  after(async () => {
    for (const t of traces) await t.stop('SIGKILL');
    await worker?.stop('SIGKILL');
    await cp?.stop('SIGKILL');
    await lab?.destroy();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });

  it('sees exactly the bursts of a known flow; /metrics has the same figures while it runs, none after', async () => {
    const rx0 = await workerRx();
    const t = trace();
    await waitFor('the trace to attach', () => t.events('attached')[0]);
    assert.equal(t.events('attached')[0].pid, worker.proc!.pid);
    assert.ok(fs.existsSync(path.join(lab.pinDir, 'pcf_trace_meta')), 'the trace is published in the pin dir');
    await send(300);
    const rx = await waitFor('300 packets in the trace', () => (t.last('rx')?.total_packets === 300 && t.last('tx')?.total_sent === 300 ? t.last('rx') : undefined));
    assert.equal(rx.port, 'dut0 queue 0');
    assert.equal(rx.queue, 0);
    // Interval by interval: packets per burst sum to the packets, and the bursts to the total.
    const ivs = t.intervals('rx');
    const sizes = ivs.flatMap((q) => Object.entries(q.hist).map(([n, c]) => [Number(n), c] as const));
    assert.equal(sizes.reduce((s, [n, c]) => s + n * c, 0), 300, 'packets per burst sum to the packets sent');
    assert.equal(sizes.reduce((s, [, c]) => s + c, 0), rx.total_bursts, 'one histogram entry per burst');
    assert.equal(ivs.reduce((s, q) => s + q.packets, 0), 300);
    assert.ok(sizes.every(([n]) => n >= 1 && n <= 32), 'no burst beyond the worker\'s 32');
    assert.ok(rx.total_bursts >= 10 && rx.total_bursts <= 300, `bursts: ${rx.total_bursts}`);
    const tx = t.last('tx')!;
    assert.equal(tx.port, 'dut1 queue 0', 'TX on the egress port');
    assert.equal(tx.total_packets, 300);
    assert.equal(await waitFor('the worker\'s report', async () => ((await workerRx()) - rx0 === 300 ? 300 : undefined)), 300, 'the worker counted the same packets');

    const m = await waitFor('the trace in /metrics', async () => {
      const text = await metrics();
      return sample(text, 'pcf_worker_burst_size_sum', RX) === 300 ? text : undefined;
    });
    assert.equal(sample(m, 'pcf_trace_active'), 1);
    assert.equal(sample(m, 'pcf_worker_burst_size_count', RX), rx.total_bursts);
    assert.equal(sample(m, 'pcf_worker_burst_size_bucket', RX.replace('}', ',le="+Inf"}')), rx.total_bursts);
    assert.equal(sample(m, 'pcf_worker_burst_size_bucket', RX.replace('}', ',le="32"}')), rx.total_bursts);
    const ones = ivs.reduce((s, q) => s + (q.hist['1'] ?? 0), 0);
    assert.equal(sample(m, 'pcf_worker_burst_size_bucket', RX.replace('}', ',le="1"}')), ones, 'bursts of 1 in the first bucket');
    assert.equal(sample(m, 'pcf_worker_burst_size_sum', '{dir="tx",port="dut1 queue 0",queue="0"}'), 300);
    // Per second, while a flow runs (1,500 packets over about 1.5 s): the gauge moves above 0
    // and stays within what the trace printed for its busiest interval.
    const flow = send(1500);
    const perSecond = await waitFor('bursts per second above 0 in /metrics', async () => {
      const v = sample(await metrics(), 'pcf_worker_bursts_per_second', RX);
      return v !== undefined && v > 0 ? v : undefined;
    });
    await flow;
    await waitFor('1,800 packets in the trace', () => (t.last('rx')?.total_packets === 1800 ? true : undefined));
    const busiest = Math.max(...t.intervals('rx').map((q) => q.bursts)) / 0.2; // the tool's 200 ms intervals
    assert.ok(perSecond <= busiest * 1.5, `bursts per second ${perSecond}, the trace's busiest interval ${busiest}/s`);

    assert.equal(await t.stop('SIGTERM'), 0, 'pcfctl passes SIGTERM on; the tool stops cleanly');
    assert.equal(fs.existsSync(path.join(lab.pinDir, 'pcf_trace_meta')), false, 'its pins are removed');
    assert.equal(fs.existsSync(path.join(lab.pinDir, 'pcf_trace_bursts')), false);
    await waitFor('/metrics to drop the trace', async () => {
      const text = await metrics();
      return sample(text, 'pcf_trace_active') === 0 && sample(text, 'pcf_worker_burst_size_sum', RX) === undefined ? true : undefined;
    }, 5000);
  });

  it('follows a worker restart: waits for the next worker in its namespace, attaches, counts on', async () => {
    const t = trace();
    await waitFor('the trace to attach', () => t.events('attached')[0]);
    await send(100);
    await waitFor('100 packets', () => (t.last('rx')?.total_packets === 100 ? true : undefined));
    const old = worker.proc!.pid;
    assert.equal(await worker.stop('SIGTERM'), 0);
    await waitFor('the exit to be noticed', () => t.events('exited')[0]);
    assert.equal(t.events('exited')[0].pid, old);
    await worker.start();
    const again = await waitFor('the trace to attach to the new worker', () => t.events('attached')[1]);
    assert.equal(again.pid, worker.proc!.pid);
    assert.notEqual(again.pid, old);
    await send(200);
    await waitFor('300 packets over both workers', () => (t.last('rx')?.total_packets === 300 ? true : undefined));
    const m = await waitFor('/metrics', async () => {
      const text = await metrics();
      return sample(text, 'pcf_worker_burst_size_sum', RX) === 300 ? text : undefined;
    });
    assert.equal(sample(m, 'pcf_trace_active'), 1);
    assert.equal(await t.stop('SIGINT'), 0);
  });

  it('a killed trace\'s pins read as no trace; the next trace replaces them; a second one at once only prints', async () => {
    const killed = Trace.direct(['--pid', String(worker.proc!.pid), '--pin-dir', lab.pinDir, '--interval-ms', '200']);
    traces.push(killed);
    await waitFor('the trace to attach', () => killed.events('attached')[0]);
    await waitFor('/metrics to see it', async () => (sample(await metrics(), 'pcf_trace_active') === 1 ? true : undefined));
    await killed.stop('SIGKILL');
    assert.ok(fs.existsSync(path.join(lab.pinDir, 'pcf_trace_meta')), 'SIGKILL leaves the pins');
    // Stale after 3 intervals without a heartbeat (600 ms), read each second.
    await waitFor('/metrics to call it stale', async () => (sample(await metrics(), 'pcf_trace_active') === 0 ? true : undefined), 5000);

    const next = trace();
    await waitFor('the next trace to attach', () => next.events('attached')[0]);
    assert.doesNotMatch(next.stderr, /another pcf-trace/, 'stale pins are replaced, not respected');
    const second = trace();
    await waitFor('the second trace to attach', () => second.events('attached')[0]);
    assert.match(second.stderr, /another pcf-trace \(worker pid \d+\) publishes to .*: this one only prints/);
    await send(50);
    await waitFor('both to count the 50', () => (next.last('rx')?.total_packets === 50 && second.last('rx')?.total_packets === 50 ? true : undefined));
    assert.equal(await second.stop(), 0);
    assert.ok(fs.existsSync(path.join(lab.pinDir, 'pcf_trace_meta')), 'the second one leaves the first one\'s pins');
    await waitFor('/metrics: the first trace\'s 50', async () => (sample(await metrics(), 'pcf_worker_burst_size_sum', RX) === 50 ? true : undefined));
    assert.equal(await next.stop(), 0);
  });

  it('refuses bad input with a message naming it', async () => {
    const notWorker = Trace.direct(['--pid', String(cp.proc!.pid), '--no-pin', '--count', '1']);
    assert.equal(await notWorker.exited, 4);
    assert.match(notWorker.stderr, /attaching to the USDT probes pcf_worker:rx_burst\/tx_burst of pid \d+ \(node\) failed: .*\(it is not a pcf-worker\)/);
    const badInterval = Trace.direct(['--interval-ms', '5']);
    assert.equal(await badInterval.exited, 2);
    assert.match(badInterval.stderr, /--interval-ms must be an integer in 100\.\.60000, not '5'/);
    const noProcess = Trace.direct(['--pid', '2147483647']);
    assert.equal(await noProcess.exited, 3);
    assert.match(noProcess.stderr, /no process 2147483647/);
    const noBinary = Trace.pcfctl(['--count', '1'], { PCF_TRACE_BIN: '/nonexistent/pcf-trace' });
    assert.equal(await noBinary.exited, 2);
    assert.match(noBinary.stderr, /\/nonexistent\/pcf-trace not found: build it \(make build\) or set PCF_TRACE_BIN/);
    const badPcfctl = Trace.pcfctl(['--interval-ms', '50']);
    assert.equal(await badPcfctl.exited, 2);
    assert.match(badPcfctl.stderr, /--interval-ms/);
  });

  it('a killed trace\'s pins do not keep pcf-xdp detach --purge from removing the pin dir', async () => {
    const killed = Trace.direct(['--pid', String(worker.proc!.pid), '--pin-dir', lab.pinDir, '--interval-ms', '200']);
    traces.push(killed);
    await waitFor('the trace to attach', () => killed.events('attached')[0]);
    await killed.stop('SIGKILL');
    assert.ok(fs.existsSync(path.join(lab.pinDir, 'pcf_trace_bursts')), 'SIGKILL leaves the pins');
    await worker.stop('SIGTERM');
    await lab.loader('detach', '--purge');
    assert.equal(fs.existsSync(lab.pinDir), false, 'the pin dir is gone, the trace pins with it');
  });
});
