// rfc2544.ts - the benchmarks the field trusts, for every path of the fast path and its peers,
// in one run on one lab (README: Performance; bench/README.md says how and why):
//   throughput  RFC 2544 §26.1: per frame size (§9: 64, 128, 512, 1518 bytes), a binary search
//               for the highest offered rate with no loss (a paced generator, a trial per rate)
//   cpu         the DUT's CPU per packet at one offered rate below every path's zero-loss rate:
//               the DUT CPU's busy time, the XDP program's (kernel BPF stats) and the worker's
//               own (cycles of its non-empty bursts, from its report)
//   latency     RFC 2544 §26.2: sockperf ping-pong round trips through the DUT at 10, 50 and 90 %
//               of the path's zero-loss rate, the generator's load beside
// The machine is split so that the DUT's work is measured alone: the DUT's CPU runs only the
// DUT (dut0's NAPI in a thread, the worker); the other CPU runs the generator, the packet sink
// (an XDP program on the server's interface that counts and drops), the probes and this script.
//   node --import tsx bench/rfc2544.ts [--quick] [--paths REGEX] [--sizes 64,1518]
//     [--trial S] [--repeats N] [--resolution PCT] [--loss-tolerance PCT] [--generator G]
// The generator: xdpgen (build/pcf-xdpgen, the default: frames reach dut0 as xdp_frames, as
// from a NIC) or trafgen (skbs, which veth copies before XDP runs; bench/README.md).
// Needs root, `make build`, xdp-filter (xdp-tools), nft (nftables), sockperf, gnuplot, and
// trafgen (netsniff-ng) for --generator trafgen. Everything it creates (a lab, a pin dir,
// SQLite files) goes at the end.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Running } from '../server/app.js';
import { startInProcess, tempDb } from '../test/lib/cp.js';
import { datapathUnavailable, ROOT } from '../test/lib/env.js';
import { CLIENT_IP, Lab, SERVER_IP } from '../test/lib/lab.js';
import { hex, udp4 } from '../test/lib/packets.js';
import { median, percentile } from '../test/lib/samples.js';
import { until } from '../test/lib/until.js';
import { Worker, WORKER } from '../test/lib/worker.js';
import { plot } from './lib/plot.js';
import { describe, header, mdTable, QUICK, writeResults } from './lib/results.js';

// ---- options ------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const SIZES = (opt('--sizes') ?? (QUICK ? '64' : '64,128,512,1518')).split(',').map(Number);
const TRIAL_S = Number(opt('--trial') ?? (QUICK ? 0.5 : 1));
const REPEATS = Number(opt('--repeats') ?? (QUICK ? 1 : 3));
const RESOLUTION = Number(opt('--resolution') ?? (QUICK ? 5 : 2)) / 100; // search stops when hi - lo < this share of hi
const LOSS_TOLERANCE = Number(opt('--loss-tolerance') ?? 0) / 100; // share of the frames sent; 0: RFC 2544's zero loss
const GENERATOR = (opt('--generator') ?? 'xdpgen') as 'xdpgen' | 'trafgen';
if (!['xdpgen', 'trafgen'].includes(GENERATOR)) throw new Error(`--generator: xdpgen or trafgen, not ${GENERATOR}`);
const CPU_S = QUICK ? 2 : 4;
const LATENCY_S = QUICK ? 2 : 5;
const LOADS = [10, 50, 90];
const PROBE_CPU = 1; // sockperf's client and server: away from the generator's busy CPU
const PATHS = new RegExp(opt('--paths') ?? '.');
const FILLERS = QUICK ? [1_000, 10_000] : [1_000, 100_000];

// Where each part runs on two CPUs. The generator sends from CPU 0 and dut0's NAPI thread
// receives there, at real-time priority, so that it takes each batch as soon as the generator
// flushes it. Apart, on a VM whose CPUs stall for 0.1-4 ms a few hundred times a second
// (kdamond, the host), veth's 256-frame queue overflows at any rate above a few hundred
// thousand pps, whatever the DUT costs; together, a stall stops both. The worker and the sink
// run on CPU 1, the sink's thread at a higher real-time priority so that it never starves.
const GEN_CPU = 0; // the generator, dut0's NAPI thread, this script and its control plane
const WORKER_CPU = 1; // the worker's lcores
const SINK_CPU = 1; // s0's NAPI thread
// dut0's NAPI thread, SCHED_FIFO; with trafgen an ordinary thread: trafgen sends a frame per
// system call, and a real-time receiver would take the CPU from it at every frame.
const NAPI_PRIO = GENERATOR === 'xdpgen' ? 5 : 0;
const SINK_PRIO = 10; // s0's, SCHED_FIFO
const FLOW = { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 5000, dst_port: 7000, proto: 17 }; // the generator's
const PROBE = { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 11112, dst_port: 11111, proto: 17 }; // sockperf's
const SINK = path.join(ROOT, 'build/sink.bpf.o');
const XDPGEN = path.join(ROOT, 'build/pcf-xdpgen');
const TRACE = path.join(ROOT, 'build/pcf-trace');
// xdpgen hands dut0 50 µs of frames at a time (at most 64), as a NIC's interrupt moderation
// would; under the latency probes 8 µs, since its CPU takes nothing else in (the probes'
// frames into dut0) while it sends a batch.
const BATCH_US = 50;
const PROBE_BATCH_US = 8;
const HOLD = 'xdpgen-hold'; // xdpgen's idle veth in the client's namespace (bench/xdpgen.c: --hold)

const sh = (cmd: string, a: string[]) => execFileSync(cmd, a, { encoding: 'utf8', maxBuffer: 64 << 20 });
const log = (s: string) => process.stderr.write(`${s}\n`);
const json = (cmd: string, a: string[]) => JSON.parse(sh(cmd, a));

// ---- counters -----------------------------------------------------------------------------
const linkStats = (ns: string, dev: string) => json('ip', ['-n', ns, '-s', '-j', 'link', 'show', dev])[0].stats64;
const xdpProgId = (ns: string, dev: string): number | null => {
  const x = json('ip', ['-n', ns, '-j', 'link', 'show', dev])[0].xdp;
  return x?.prog?.id ?? x?.attached?.[0]?.prog?.id ?? null;
};
const progStats = (id: number) => {
  const p = json('bpftool', ['prog', 'show', 'id', String(id), '-j']);
  return { ns: Number(p.run_time_ns ?? 0), runs: Number(p.run_cnt ?? 0) };
};
/** Packets a sink program counted (its per-CPU map, summed); the map's id by program, once. */
const sinkMaps = new Map<number, number>();
function sinkCount(progId: number): number {
  let mapId = sinkMaps.get(progId);
  if (mapId === undefined) sinkMaps.set(progId, (mapId = json('bpftool', ['prog', 'show', 'id', String(progId), '-j']).map_ids[0] as number));
  const d = json('bpftool', ['map', 'dump', 'id', String(mapId), '-j']);
  return d[0].formatted.values.reduce((a: number, v: any) => a + v.value.packets, 0);
}
/** Runtime in ns of a task and its threads (schedstat: exact, not sampled by ticks). */
function taskNs(pid: number): number {
  let sum = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) sum += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  return sum;
}
// ---- the lab ------------------------------------------------------------------------------
interface PathDef {
  name: string;
  label: string;
  kind: 'forward' | 'drop';
  /** A forwarding path with a latency figure. */
  latency: boolean;
  setup: () => Promise<void>;
  /** The packets this path's own counter saw so far (rule counter, worker, nft, ...). */
  seen: () => number;
  /** No rules and no worker before it (Bench.reset). */
  fresh?: boolean;
  /** The XDP program on dut0 whose BPF stats are the path's program time, if any. */
  prog: () => number | null;
}

class Bench {
  lab!: Lab;
  cp!: Running;
  db = tempDb();
  worker: Worker | null = null;
  /** pcf-trace attached to the worker (the worker-traced path); its last JSON line. */
  trace: ChildProcess | null = null;
  traceLast: any = null;
  sinkS0 = 0; // its program id
  napi: number[] = []; // dut0's NAPI threads
  napiBefore: number[] = []; // NAPI threads of others, there before the lab
  bpfStatsWas = '0';
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-rfc2544-'));
  sockperfServer: ChildProcess | null = null;
  flowId = 0;
  fillers = 0;

  async setup(): Promise<void> {
    this.lab = await Lab.create({ attach: false });
    const { dut, server } = this.lab;
    // NAPI in a thread for dut0 (the DUT's receive) and s0 (the sink's), each pinned: veth has
    // NAPI only with GRO or XDP on; without threads both would run on the sender's CPU.
    this.napiBefore = napiThreads(() => true);
    for (const [ns, dev] of [[dut, 'dut0'], [server, 's0']] as const) {
      sh('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'gro', 'on']);
      sh('ip', ['netns', 'exec', ns, 'sh', '-c', `echo 1 > /sys/class/net/${dev}/threaded`]);
    }
    if (GENERATOR === 'xdpgen') sh('ip', ['-n', this.lab.client, 'link', 'add', HOLD, 'type', 'veth', 'peer', 'name', `${HOLD}1`]);
    this.pinNapi();
    if (!this.napi.length) throw new Error('no NAPI thread appeared for dut0: threaded NAPI is needed to time the DUT');
    this.sinkOnS0('xdp_sink');
    this.bpfStatsWas = fs.readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
    fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
    // This script and the in-process control plane stay off the DUT's CPU.
    sh('taskset', ['-apc', String(GEN_CPU), String(process.pid)]);
    await this.lab.loader('attach');
    this.cp = await startInProcess(this.lab.pinDir, this.db.file, path.join(this.db.dir, 'grpc.sock'));
  }

  /** Back to no rules: the worker stopped, a new SQLite file, the maps made anew. */
  async reset(): Promise<void> {
    await this.stopTrace();
    await this.worker?.stop('SIGKILL');
    this.worker = null;
    await this.cp.close();
    await this.dut0('none');
    await this.lab.loader('detach', '--purge').catch(() => {});
    fs.rmSync(this.db.dir, { recursive: true, force: true });
    this.db = tempDb();
    this.fillers = 0;
    await this.lab.loader('attach');
    this.cp = await startInProcess(this.lab.pinDir, this.db.file, path.join(this.db.dir, 'grpc.sock'));
  }

  /** Pins this lab's NAPI threads (their names carry the interface), new ones too: a change of
   * XDP program on a veth can give it a new thread, which would run anywhere. dut0's go
   * beside the generator, s0's (the sink) to SINK_CPU, both at SCHED_FIFO, so that neither a
   * late receive nor a starving receiver is counted as the DUT's loss. */
  pinNapi(): void {
    const ours = (dev: string) => napiThreads((comm) => comm.startsWith(`napi/${dev}-`)).filter((p) => !this.napiBefore.includes(p));
    const was = this.napi.join(',');
    this.napi = ours('dut0');
    if (was && was !== this.napi.join(',')) log(`   dut0's NAPI thread changed: ${was} -> ${this.napi.join(',')} (pinned again)`);
    for (const p of this.napi) {
      sh('taskset', ['-pc', String(GEN_CPU), String(p)]);
      if (NAPI_PRIO) sh('chrt', ['-f', '-p', String(NAPI_PRIO), String(p)]);
    }
    for (const p of ours('s0')) {
      sh('taskset', ['-pc', String(SINK_CPU), String(p)]);
      sh('chrt', ['-f', '-p', String(SINK_PRIO), String(p)]);
    }
  }

  sinkOnS0(program: 'xdp_sink' | 'xdp_sink_port'): void {
    sh('ip', ['-n', this.lab.server, '-force', 'link', 'set', 's0', 'xdp', 'obj', SINK, 'program', program]);
    this.sinkS0 = xdpProgId(this.lab.server, 's0')!;
    this.pinNapi();
  }

  /** dut0 with nothing (kernel, nft), pcf_xdp, or another program (peers). */
  async dut0(what: 'none' | 'pcf' | 'sink' | 'xdp-filter'): Promise<void> {
    const ns = this.lab.dut;
    try {
      await this.lab.loader('detach');
    } catch {
      /* pcf_xdp was not attached */
    }
    sh('ip', ['-n', ns, 'link', 'set', 'dut0', 'xdp', 'off']);
    sh('ip', ['netns', 'exec', ns, 'sh', '-c', 'nft delete table netdev pcfbench 2>/dev/null; nft delete table inet pcfbench 2>/dev/null; true']);
    if (what === 'pcf') await this.lab.loader('attach');
    if (what === 'sink') sh('ip', ['-n', ns, 'link', 'set', 'dut0', 'xdp', 'obj', SINK, 'program', 'xdp_sink']);
    if (what === 'xdp-filter') {
      this.xdpFilter();
    }
    this.pinNapi();
  }

  /** xdp-filter pins its maps at a fixed path: a private mount namespace with a bpffs of its
   * own keeps them apart from any other user of the tool (as bench/classifier_cost.ts). */
  private xdpFilter(): void {
    const netns = `--net=/run/netns/${this.lab.dut}`;
    sh('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      `mount -t bpf bpf /sys/fs/bpf && nsenter ${netns} xdp-filter load dut0 -m native && nsenter ${netns} xdp-filter port ${FLOW.dst_port}`]);
  }

  async rules(n: number, action: Record<string, unknown>, probeAction: Record<string, unknown> | null): Promise<void> {
    const svc = this.cp.service;
    if (n > this.fillers) {
      const specs = [];
      for (let i = this.fillers; i < n - 2; i++)
        specs.push({ key: { src_ip: `198.19.${(i >> 8) & 255}.${i & 255}`, dst_ip: SERVER_IP, src_port: 1000 + (i >> 16), dst_port: 9000, proto: 17 }, action: { type: 'PASS' } });
      for (let i = 0; i < specs.length; i += 50_000) await svc.batchUpsert(specs.slice(i, i + 50_000) as any);
      this.fillers = Math.max(n - 2, 0);
    }
    this.flowId = (await svc.upsert({ key: FLOW, action } as any)).flow.id;
    if (probeAction) await svc.upsert({ key: PROBE, action: probeAction } as any);
  }

  ruleSeen(id: number): number {
    return this.cp.service.get(id).counters?.packets ?? 0;
  }

  async startWorker(): Promise<void> {
    this.worker = new Worker(this.lab, ['--report', `unix:${path.join(this.db.dir, 'grpc.sock')}`, '--report-interval-ms', '200'],
      { lcores: `0@${WORKER_CPU},1@${WORKER_CPU}`, cpus: String(WORKER_CPU) });
    await this.worker.start();
  }

  /** pcf-trace on the running worker, as an operator runs it (published for /metrics too). */
  async startTrace(): Promise<void> {
    if (this.trace) return;
    const p = spawn(TRACE, ['--json', '--pid', String(this.worker!.proc!.pid), '--pin-dir', this.lab.pinDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.trace = p;
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on('data', (d) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          let line: any;
          try {
            line = JSON.parse(buf.slice(0, i));
          } catch {
            return reject(new Error(`pcf-trace printed a line that is not JSON: ${buf.slice(0, Math.min(i, 200))}`));
          }
          buf = buf.slice(i + 1);
          if (line.event === 'attached') resolve();
          else if (!line.event) this.traceLast = line;
        }
      });
      p.once('exit', (code) => reject(new Error(`pcf-trace exited ${code}`)));
    });
  }

  /** Stops pcf-trace (SIGINT: it detaches and unpins) and waits for it. */
  async stopTrace(): Promise<void> {
    const p = this.trace;
    this.trace = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGINT');
    await exited;
  }

  /** The trace's mean packets per RX burst since it attached. */
  traceBurst(): number {
    const q = this.traceLast?.queues?.find((x: any) => x.dir === 'rx');
    return q && q.total_bursts ? q.total_packets / q.total_bursts : NaN;
  }

  /** The worker's latest report: rx packets and busy cycles of its queues. */
  workerReport(): { rx: number; cycles: number } | null {
    const w = this.cp.service.stats().workers[0] as any;
    if (!w) return null;
    const rx = w.queues.reduce((a: number, q: any) => a + Number(q.counters.rx_packets), 0);
    const cycles = w.queues.reduce((a: number, q: any) => a + Number(q.busy_cycles ?? 0), 0);
    return { rx, cycles };
  }

  /** The worker's drops by reason (its latest report), summed over its queues. */
  workerDrops(): Record<string, number> | null {
    const w = this.worker && (this.cp.service.stats().workers[0] as any);
    if (!w) return null;
    const out: Record<string, number> = {};
    for (const q of w.queues) for (const [r, n] of Object.entries(q.counters.drops ?? {})) out[r] = (out[r] ?? 0) + Number(n);
    return out;
  }

  /** Waits for a worker report that counts at least `rx` packets (reports come every 200 ms). */
  async workerAt(rx: number): Promise<{ rx: number; cycles: number }> {
    let r = this.workerReport();
    await until(() => (r = this.workerReport()) !== null && r.rx >= rx, 5000, `the worker's report to count ${rx} packets`).catch(() => {});
    return r ?? { rx: 0, cycles: 0 };
  }

  teardownNow(): void {
    this.sockperfServer?.kill('SIGKILL');
    this.trace?.kill('SIGKILL');
    this.worker?.proc?.kill('SIGKILL');
    if (this.lab) {
      try {
        execFileSync(path.join(ROOT, 'scripts/lab.sh'), ['down'], { env: { ...process.env, PCF_LAB: this.lab.name }, stdio: 'ignore' });
      } catch {
        /* already gone */
      }
      fs.rmSync(this.lab.pinDir, { recursive: true, force: true });
    }
    fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', this.bpfStatsWas);
    fs.rmSync(this.db.dir, { recursive: true, force: true });
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }

  async teardown(): Promise<void> {
    this.sockperfServer?.kill('SIGKILL');
    await this.stopTrace();
    await this.worker?.stop('SIGKILL');
    await this.cp?.close().catch(() => {});
    await this.lab?.destroy();
    fs.writeFileSync('/proc/sys/kernel/bpf_stats_enabled', this.bpfStatsWas);
    fs.rmSync(this.db.dir, { recursive: true, force: true });
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** NAPI kernel threads whose name passes `want`. */
function napiThreads(want: (comm: string) => boolean): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const comm = fs.readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      return comm.startsWith('napi/') && want(comm);
    } catch {
      return false; // gone meanwhile
    }
  }).map(Number);
}

// ---- the generator ------------------------------------------------------------------------
const macOf = (ns: string, dev: string) => json('ip', ['-n', ns, '-j', 'link', 'show', dev])[0].address as string;

/** One frame of `size` bytes on the wire with its FCS (RFC 2544 §9; veth has no FCS: 4 bytes
 * less), UDP from the generator's flow, as the generator takes it: trafgen a configuration
 * file, xdpgen the bytes in hex. */
function frameSpec(b: Bench, size: number): string {
  const dmac = macOf(b.lab.dut, 'dut0'), smac = macOf(b.lab.client, 'c0');
  const payload = size - 4 - 14 - 20 - 8;
  if (GENERATOR === 'xdpgen')
    return hex(udp4({ dmac, smac, src: FLOW.src_ip, dst: FLOW.dst_ip, ttl: 64, sport: FLOW.src_port, dport: FLOW.dst_port, payload: Buffer.alloc(payload, 0x41) }));
  const file = path.join(b.tmp, `udp${size}.trafgen`);
  fs.writeFileSync(file, `{
  eth(da=${dmac}, sa=${smac}, type=0x0800),
  ipv4(saddr=${FLOW.src_ip}, daddr=${FLOW.dst_ip}, ttl=64),
  udp(sp=${FLOW.src_port}, dp=${FLOW.dst_port}),
  fill(0x41, ${payload})
}\n`);
  return file;
}

/** Sends for `seconds` at `pps` (0: as fast as the generator goes, its ceiling), bounded in
 * count and time; returns what the generator sent and how long it took, by its own account.
 * Paced, trafgen sends one frame per sendto() (its TX ring mode stops at the first full
 * queue); xdpgen's program waits for each frame's time, and dut0 receives them in batches of
 * `batchUs` of frames (bench/xdpgen.c: --batch-us). */
async function send(b: Bench, spec: string, pps: number, seconds: number, batchUs = BATCH_US): Promise<{ sent: number; secs: number }> {
  const CEILING = 20_000_000;
  const count = Math.round((pps || CEILING) * seconds);
  const tx0 = linkStats(b.lab.client, 'c0').tx.packets, t0 = process.hrtime.bigint();
  // Unpaced: as many as it can for `seconds`; paced: the count, bounded by time.
  const bound = String(pps ? seconds + 2 : seconds);
  const args = GENERATOR === 'xdpgen'
    ? [XDPGEN, '--dev', 'c0', '--frame', spec, '--count', String(count), '--pps', String(Math.round(pps)), '--seconds', bound, '--hold', HOLD, '--batch-us', String(batchUs)]
    : ['timeout', bound, 'trafgen', '--dev', 'c0', '--conf', spec, '--cpus', '1', '-n', String(count), '-Q', '-b', `${Math.round(pps || CEILING)}pps`];
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', b.lab.client, 'taskset', '-c', String(GEN_CPU), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout!.on('data', (d) => (text += d));
    p.stderr!.on('data', (d) => (text += d));
    p.on('exit', (code) => (code === 0 || code === 124 ? resolve(text) : reject(new Error(`${GENERATOR} exited ${code}: ${text.slice(-500)}`))));
  });
  if (GENERATOR === 'xdpgen') return JSON.parse(out.trim().split('\n').pop()!);
  // trafgen's own account: the frames it handed to the kernel and the time it took (µs).
  const m = /(\d+) sec,\s*(\d+) usec on CPU\d+ \((\d+) packets\)/.exec(out);
  if (m) return { sent: Number(m[3]), secs: Number(m[1]) + Number(m[2]) / 1e6 };
  return { sent: linkStats(b.lab.client, 'c0').tx.packets - tx0, secs: Number(process.hrtime.bigint() - t0) / 1e9 }; // ended by timeout
}

/** Frames the DUT's input refused (its queue was full): c0's tx_dropped for trafgen's skbs,
 * which it sends again; veth's xdp_xmit_errors for xdpgen's frames, which are lost. */
function inputRefused(b: Bench): number {
  if (GENERATOR === 'trafgen') return linkStats(b.lab.client, 'c0').tx.dropped;
  const lines = sh('ip', ['netns', 'exec', b.lab.client, 'ethtool', '-S', 'c0']).split('\n');
  return lines.filter((l) => /tx_queue_\d+_xdp_xmit_errors:/.test(l)).reduce((a, l) => a + Number(l.split(':')[1]), 0);
}

/** Waits until a counter stops moving (the last frames of a trial drain): polls, no fixed wait. */
async function settled(read: () => Promise<number> | number): Promise<number> {
  let last = await read(), same = 0;
  for (let i = 0; i < 100 && same < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const v = await read();
    same = v === last ? same + 1 : 0;
    last = v;
  }
  return last;
}

interface Trial {
  pps: number; offered_pps: number; sent: number; delivered: number; seen: number; loss: number; ok: boolean;
  /** in_drops: frames the DUT's receive queue refused (inputRefused): trafgen sends them again
   * (back-pressure, not loss), xdpgen's are lost (in `loss`, as a NIC's full RX ring's are).
   * out_drops: frames the receiver's queue refused (dut1's tx_dropped): sent by the DUT, lost
   * at the tester's sink; not in `loss`, which is what the DUT lost (its input queue with
   * xdpgen, XDP, an AF_XDP ring, the worker, its queues). */
  in_drops: number; out_drops: number;
}

async function trial(b: Bench, p: PathDef, conf: string, pps: number, seconds = TRIAL_S, batchUs = BATCH_US): Promise<Trial> {
  b.pinNapi();
  const dropped = () => [inputRefused(b), linkStats(b.lab.dut, 'dut1').tx.dropped as number];
  const d0 = sinkCount(b.sinkS0), s0 = p.seen(), [i0, o0] = dropped();
  const { sent, secs } = await send(b, conf, pps, seconds, batchUs);
  const seen = (await settled(p.seen)) - s0;
  const delivered = (await settled(() => sinkCount(b.sinkS0))) - d0;
  const [i1, o1] = dropped();
  // A forwarded frame that the receiver's queue refused was sent by the DUT: it is the tester's
  // loss (counted apart), not the DUT's.
  const arrived = p.kind === 'forward' ? delivered + (o1 - o0) : seen;
  const loss = Math.max(0, sent - arrived);
  return { pps, offered_pps: Math.round(sent / secs), sent, delivered, seen, loss, ok: sent > 0 && loss <= sent * LOSS_TOLERANCE, in_drops: i1 - i0, out_drops: o1 - o0 };
}

/** What limited a search: the generator (the path lost nothing at the most it could offer);
 * the generator's CPU (nothing lost, but dut0's receive, which shares that CPU at a higher
 * priority, left the generator less than 90 % of its ceiling: the figure is what one CPU does
 * sending and receiving); or the DUT (it lost frames above the figure). */
function limitOf(s: Search, ceiling: number): 'generator' | 'generator CPU' | 'DUT' {
  if (s.generator_bound) return s.zero_loss_pps >= 0.9 * ceiling ? 'generator' : 'generator CPU';
  return s.zero_loss_pps >= 0.97 * ceiling ? 'generator' : 'DUT';
}

// ---- the paths ----------------------------------------------------------------------------
function paths(b: Bench): PathDef[] {
  const xdp = (k: string) => () => ((b.cp.service.stats().xdp as any)[k]?.packets ?? 0) as number;
  const nft = (hook: 'ingress' | 'prerouting'): PathDef => ({
    name: `nft-${hook}-drop`, label: `kernel, nftables drop (${hook === 'ingress' ? 'netdev ingress' : 'inet prerouting, raw priority'})`, kind: 'drop', latency: false,
    setup: async () => {
      await b.dut0('none');
      const rule = hook === 'ingress'
        ? `table netdev pcfbench {\n  chain c {\n    type filter hook ingress device "dut0" priority 0;\n    udp dport ${FLOW.dst_port} counter drop\n  }\n}\n`
        : `table inet pcfbench {\n  chain c {\n    type filter hook prerouting priority raw;\n    udp dport ${FLOW.dst_port} counter drop\n  }\n}\n`;
      const file = path.join(b.tmp, `nft-${hook}.conf`);
      fs.writeFileSync(file, rule);
      sh('ip', ['netns', 'exec', b.lab.dut, 'nft', '-f', file]);
    },
    seen: () => {
      const out = json('ip', ['netns', 'exec', b.lab.dut, 'nft', '-j', 'list', 'ruleset']).nftables as any[];
      const c = out.flatMap((o) => o.rule?.expr ?? []).find((e: any) => e.counter);
      return (c?.counter.packets ?? 0) as number;
    },
    prog: () => null,
  });
  const all: PathDef[] = [
    // The worker's paths first, with the flow's rule alone (no filler rules: an exact lookup
    // costs the same at any count, xdp-pass-N measures that).
    { name: 'worker', label: 'REDIRECT to the worker (wakeup), TTL -1 and SNAT, the flow\'s rule alone', kind: 'forward', latency: true,
      setup: async () => {
        await b.dut0('pcf');
        await b.rules(0, { type: 'REDIRECT', ttl_delta: -1, nat: { snat_ip: '198.18.1.254', snat_port: 6000 } }, { type: 'REDIRECT', ttl_delta: -1 });
        await b.startWorker();
      },
      seen: () => b.ruleSeen(b.flowId), prog: () => xdpProgId(b.lab.dut, 'dut0') },
    // The probes' cost (trace/README.md): the same worker with pcf-trace attached to its USDT
    // probes, measured beside the worker path at the same rates.
    { name: 'worker-traced', label: 'the same worker with pcf-trace attached to its USDT probes', kind: 'forward', latency: false,
      setup: async () => {
        if (!b.worker) {
          await b.dut0('pcf');
          await b.rules(0, { type: 'REDIRECT', ttl_delta: -1, nat: { snat_ip: '198.18.1.254', snat_port: 6000 } }, { type: 'REDIRECT', ttl_delta: -1 });
          await b.startWorker();
        }
        await b.startTrace();
      },
      seen: () => b.ruleSeen(b.flowId), prog: () => xdpProgId(b.lab.dut, 'dut0') },
    { name: 'worker-killed', label: 'the same REDIRECT rule, the worker killed: XDP falls back to the kernel', kind: 'forward', latency: false,
      setup: async () => {
        await b.stopTrace();
        await b.worker?.stop('SIGKILL');
        b.worker = null;
      },
      seen: xdp('redirect_fallback'), prog: () => xdpProgId(b.lab.dut, 'dut0') },
    { name: 'kernel', label: 'kernel forwarding, no XDP program', kind: 'forward', latency: true, fresh: true,
      // What the kernel forwarded out of dut1: taken by the receiver's queue or refused by it.
      setup: () => b.dut0('none'), seen: () => { const t = linkStats(b.lab.dut, 'dut1').tx; return t.packets + t.dropped; }, prog: () => null },
    { name: 'xdp-pass-0', label: 'pcf_xdp, no rules (miss: PASS)', kind: 'forward', latency: true,
      setup: () => b.dut0('pcf'), seen: xdp('miss_pass'), prog: () => xdpProgId(b.lab.dut, 'dut0') },
    ...FILLERS.map((n): PathDef => ({
      name: `xdp-pass-${n}`, label: `pcf_xdp, ${n.toLocaleString('en')} exact rules, the flow's PASS`, kind: 'forward', latency: true,
      setup: async () => {
        await b.dut0('pcf');
        await b.rules(n, { type: 'PASS' }, { type: 'PASS' });
      },
      seen: () => b.ruleSeen(b.flowId), prog: () => xdpProgId(b.lab.dut, 'dut0'),
    })),
    { name: 'xdp-drop-rule', label: `pcf_xdp DROP rule, counted at the DUT, ${FILLERS[FILLERS.length - 1].toLocaleString('en')} rules`, kind: 'drop', latency: false,
      setup: async () => {
        await b.stopTrace();
        await b.worker?.stop('SIGKILL');
        b.worker = null;
        await b.dut0('pcf');
        await b.rules(0, { type: 'DROP' }, null);
      },
      seen: () => b.ruleSeen(b.flowId), prog: () => xdpProgId(b.lab.dut, 'dut0') },
    { name: 'bare-xdp-drop', label: 'peer: a bare XDP_DROP program (counts, drops)', kind: 'drop', latency: false,
      setup: () => b.dut0('sink'), seen: () => sinkCount(xdpProgId(b.lab.dut, 'dut0')!), prog: () => xdpProgId(b.lab.dut, 'dut0') },
    { name: 'xdp-filter', label: 'peer: xdp-filter, one port rule (drops)', kind: 'drop', latency: false,
      setup: () => b.dut0('xdp-filter'),
      seen: () => progStats(xdpFilterProg(b)).runs, prog: () => xdpFilterProg(b) },
    nft('ingress'),
    nft('prerouting'),
  ];
  return all.filter((p) => PATHS.test(p.name));
}

/** xdp-filter's own program (libxdp's dispatcher runs it; its run count is its packets). */
function xdpFilterProg(b: Bench): number {
  const ids = json('ip', ['-n', b.lab.dut, '-j', 'link', 'show', 'dut0'])[0].xdp;
  const dispatcher = ids?.prog?.id ?? ids?.attached?.[0]?.prog?.id;
  const progs = json('bpftool', ['prog', 'show', '-j']) as any[];
  const own = progs.find((p) => String(p.name).startsWith('xdpfilt') && p.id !== dispatcher) ?? progs.find((p) => p.id === dispatcher);
  return own.id;
}

// ---- the three measurements ---------------------------------------------------------------
interface Search {
  repeat: number; zero_loss_pps: number; trials: Trial[];
  /** Nothing was lost at the most the generator offered: the DUT may do more. */
  generator_bound?: boolean;
}

/** RFC 2544 §26.1: the highest rate with no loss, from `max` (the generator's) down. */
async function search(b: Bench, p: PathDef, conf: string, max: number, repeat: number): Promise<Search> {
  const trials: Trial[] = [];
  const first = await trial(b, p, conf, max);
  trials.push(first);
  if (first.ok) return { repeat, zero_loss_pps: first.offered_pps, trials, generator_bound: true };
  let lo = 0, hi = max, best = 0;
  while (hi - lo > RESOLUTION * hi) {
    const mid = Math.round((lo + hi) / 2);
    const t = await trial(b, p, conf, mid);
    trials.push(t);
    if (t.ok) {
      lo = mid;
      best = Math.max(best, t.offered_pps);
    } else hi = mid;
  }
  return { repeat, zero_loss_pps: best, trials };
}

interface CpuRow {
  path: string; rate_pps: number; packets: number[];
  /** The headline: ns per packet of the DUT's threads (dut0's NAPI threads and the worker's),
   * from their exact run times (schedstat), wherever they ran. */
  dut_ns: number[];
  napi_ns: number[]; xdp_prog_ns: number[]; worker_ns: number[]; worker_cycles: number[];
  /** Frames lost in the CPU trials (the rate is below every path's zero-loss rate: 0 expected),
   * and the frames the DUT sent that the receiver's queue refused (the tester's loss); and the
   * sends the DUT's input refused (sent again). */
  lost: number[]; lost_input: number[]; lost_receiver: number[];
  /** worker-traced: the mean packets per RX burst pcf-trace counted over these trials. */
  pkts_per_burst?: number;
}

async function cpuAt(b: Bench, p: PathDef, conf: string, rate: number): Promise<CpuRow> {
  const row: CpuRow = { path: p.name, rate_pps: rate, packets: [], dut_ns: [], napi_ns: [], xdp_prog_ns: [], worker_ns: [], worker_cycles: [], lost: [], lost_input: [], lost_receiver: [] };
  for (let r = 0; r < REPEATS; r++) {
    const prog = p.prog();
    const ps0 = prog ? progStats(prog) : null;
    const napi = () => b.napi.reduce((a, pid) => a + taskNs(pid), 0);
    const n0 = napi();
    const wpid = b.worker?.proc?.pid;
    const w0 = wpid ? taskNs(wpid) : 0;
    const wr0 = b.worker ? await b.workerAt(0) : null;
    const t = await trial(b, p, conf, rate, CPU_S);
    const pk = p.kind === 'forward' ? t.delivered : t.seen;
    row.packets.push(pk);
    row.lost.push(t.loss);
    row.lost_input.push(t.in_drops);
    row.lost_receiver.push(t.out_drops);
    const napiNs = napi() - n0, workerNs = wpid ? taskNs(wpid) - w0 : 0;
    row.dut_ns.push((napiNs + workerNs) / pk);
    row.napi_ns.push(napiNs / pk);
    if (prog && ps0) {
      const ps1 = progStats(prog);
      if (ps1.runs > ps0.runs) row.xdp_prog_ns.push((ps1.ns - ps0.ns) / (ps1.runs - ps0.runs));
    }
    if (wpid && wr0) {
      row.worker_ns.push(workerNs / pk);
      const wr1 = await b.workerAt(wr0.rx + t.seen);
      if (wr1.rx > wr0.rx) row.worker_cycles.push((wr1.cycles - wr0.cycles) / (wr1.rx - wr0.rx));
    }
  }
  return row;
}

interface LatencyRow {
  path: string; load_pct: number; rate_pps: number; samples: number; p50_us: number; p99_us: number; p999_us: number;
  /** The background's frames lost, and how many of them at the tester's receiver. */
  bg_loss: number; bg_receiver_drops: number; bg_input_drops: number;
  /** The worker's drops by reason over the trial (the worker path). */
  worker_drops?: Record<string, number>;
  /** sockperf's last lines when it measured nothing. */
  note?: string;
}

/** sockperf ping-pong (full round trips) through the DUT, the generator's load beside. */
async function latencyAt(b: Bench, p: PathDef, conf: string, loadPct: number, zeroLoss: number): Promise<LatencyRow> {
  const rate = Math.round((zeroLoss * loadPct) / 100);
  const out = path.join(b.tmp, `sockperf-${p.name}-${loadPct}.txt`);
  const drops0 = b.workerDrops();
  const bg = trial(b, p, conf, rate, LATENCY_S + 1, PROBE_BATCH_US);
  await new Promise((r) => setTimeout(r, 300)); // the load is on before the first probe
  let text: string;
  try {
    text = sh('ip', ['netns', 'exec', b.lab.client, 'taskset', '-c', String(PROBE_CPU), 'sockperf', 'ping-pong', '-i', SERVER_IP,
    '-p', String(PROBE.dst_port), '--client_ip', PROBE.src_ip, '--client_port', String(PROBE.src_port), '-t', String(LATENCY_S), '--full-rtt', '--mps', 'max']);
  } catch (err) {
    text = `${(err as { stdout?: string }).stdout ?? ''}${(err as Error).message}`;
  }
  fs.writeFileSync(out, text);
  const t = await bg;
  const pctOf = (q: string) => Number(new RegExp(`percentile\\s+${q.replace('.', '\\.')}\\s*=\\s*([0-9.]+)`).exec(text)?.[1] ?? NaN);
  const samples = Number(/\[Valid Duration\].*?=\s*(\d+)\s*observations/s.exec(text)?.[1] ?? /(\d+) observations/.exec(text)?.[1] ?? 0);
  return {
    path: p.name, load_pct: loadPct, rate_pps: rate, samples, p50_us: pctOf('50.000'), p99_us: pctOf('99.000'), p999_us: pctOf('99.900'),
    bg_loss: t.loss, bg_receiver_drops: t.out_drops, bg_input_drops: t.in_drops,
    ...(drops0 ? { worker_drops: diffDrops(drops0, (await b.workerAt(0), b.workerDrops())!) } : {}),
    ...(samples ? {} : { note: text.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n').slice(-3).join(' / ') }),
  };
}

function diffDrops(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(b).map(([r, n]) => [r, n - (a[r] ?? 0)]).filter(([, n]) => (n as number) > 0));
}

// ---- the run ------------------------------------------------------------------------------
const spread = (xs: number[]) => ({ median: xs.length ? median(xs) : NaN, min: Math.min(...xs), max: Math.max(...xs), n: xs.length });
const k = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en') : 'n/a');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');

async function main(): Promise<void> {
  const why = datapathUnavailable() ?? ([WORKER, SINK, XDPGEN, TRACE].every((f) => fs.existsSync(f)) ? null : `not built: ${WORKER}, ${SINK}, ${XDPGEN} or ${TRACE} (make build)`);
  if (why) throw new Error(`cannot run: ${why}`);
  for (const tool of [...(GENERATOR === 'trafgen' ? ['trafgen'] : []), 'xdp-filter', 'nft', 'sockperf', 'gnuplot', 'bpftool', 'taskset', 'ethtool'])
    try { sh('which', [tool]); } catch { throw new Error(`cannot run: ${tool} is missing (make deps installs it)`); }
  if (os.cpus().length < 2) throw new Error('cannot run: two CPUs are needed (one for the DUT, one for the generator)');

  const h = await header('rfc2544', { xdp: 'native (veth)', af_xdp: 'copy (veth has no zero-copy)', poll: 'wakeup', napi: `threaded: dut0's on CPU ${GEN_CPU} (${NAPI_PRIO ? `FIFO ${NAPI_PRIO}` : 'SCHED_OTHER'}), the sink's on CPU ${SINK_CPU} (FIFO ${SINK_PRIO})`,
    generator: `${GENERATOR === 'xdpgen' ? 'xdpgen (BPF_PROG_TEST_RUN live frames: xdp_frames into dut0)' : 'trafgen (skbs into dut0)'}, CPU ${GEN_CPU}`, worker: `CPU ${WORKER_CPU}` },
    `${TRIAL_S} s per trial, ${REPEATS} search${REPEATS > 1 ? 'es' : ''} per figure, resolution ${RESOLUTION * 100} %, loss tolerance ${LOSS_TOLERANCE * 100} %; CPU ${CPU_S} s x ${REPEATS}; latency ${LATENCY_S} s per load`);
  for (const l of describe(h)) log(l);
  const b = new Bench();
  // Stopped by a signal: the lab, the pin dir and the BPF statistics setting go too, at once
  // (synchronously: the run must not go on meanwhile).
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      log(`${sig}: removing the lab`);
      b.teardownNow();
      process.exit(130);
    });
  const result: any = { sizes: SIZES, settings: { trial_s: TRIAL_S, repeats: REPEATS, resolution: RESOLUTION, loss_tolerance: LOSS_TOLERANCE, cpu_s: CPU_S, latency_s: LATENCY_S, gen_cpu: GEN_CPU, napi_cpu: GEN_CPU, worker_cpu: WORKER_CPU, sink_cpu: SINK_CPU, probe_cpu: PROBE_CPU, probe: 'sockperf ping-pong --mps max: one round trip at a time' } };
  try {
    await b.setup();
    const confs = Object.fromEntries(SIZES.map((s) => [s, frameSpec(b, s)]));
    const defs = paths(b);

    // The generator's own ceiling per size: into a bare XDP_DROP on dut0, the least a DUT does.
    await b.dut0('sink');
    const version = () => { try { return sh('dpkg-query', ['-W', '-f', 'trafgen (netsniff-ng ${Version})', 'netsniff-ng']); } catch { return 'trafgen'; } };
    result.generator = { tool: GENERATOR, version: GENERATOR === 'xdpgen' ? `pcf-xdpgen (bench/xdpgen.c, BPF_PROG_TEST_RUN live frames, kernel ${os.release()})` : version(), max_pps: {} as Record<number, number> };
    for (const s of SIZES) {
      const t = await send(b, confs[s], 0, TRIAL_S);
      result.generator.max_pps[s] = Math.round(t.sent / t.secs);
      log(`generator alone, ${s} B: ${k(result.generator.max_pps[s])} pps offered`);
    }

    result.paths = [];
    for (const p of defs) {
      log(`== ${p.name}: ${p.label}`);
      if (p.fresh) await b.reset();
      await p.setup();
      const entry: any = { name: p.name, label: p.label, kind: p.kind, throughput: {}, verified: true };
      const drops0 = b.workerDrops();
      for (const s of SIZES) {
        const searches: Search[] = [];
        for (let r = 0; r < REPEATS; r++) searches.push(await search(b, p, confs[s], result.generator.max_pps[s], r));
        const z = searches.map((x) => x.zero_loss_pps);
        // The traffic took this path: at every zero-loss trial its own counter saw every frame sent.
        const mismatched = searches.flatMap((x) => x.trials).filter((t) => t.ok && Math.abs(t.seen - t.sent) > t.sent * LOSS_TOLERANCE);
        if (mismatched.length) entry.verified = false;
        const limits = searches.map((x) => limitOf(x, result.generator.max_pps[s]));
        const limited = ['generator', 'generator CPU', 'DUT'].find((l) => limits.filter((x) => x === l).length * 2 > limits.length) ?? limits.join('/');
        entry.throughput[s] = { zero_loss_pps: spread(z), limited_by: limited, mbps: (median(z) * s * 8) / 1e6, searches, mismatched: mismatched.length };
        log(`   ${s} B: zero loss ${k(median(z))} pps [${k(Math.min(...z))}-${k(Math.max(...z))}] (${limited}), ${searches.reduce((a, x) => a + x.trials.length, 0)} trials${mismatched.length ? `, ${mismatched.length} trials where the path's counter disagrees with the frames sent` : ''}`);
      }
      if (drops0) entry.worker_drops = diffDrops(drops0, (await b.workerAt(0), b.workerDrops())!);
      result.paths.push(entry);
      entry.def = p;
    }

    // Pass 2, the same paths from no rules again: CPU per packet at one rate every path
    // sustains without loss (80 % of the lowest zero-loss rate, 64-byte frames), then latency.
    const s0 = SIZES[0];
    // A path that loses frames at a tenth of the paths' median zero-loss rate would bring the
    // rate down to nothing: it is measured at the same rate as the others, and its loss is in
    // its row.
    const medians = result.paths.map((e: any) => e.throughput[s0].zero_loss_pps.median).filter((x: number) => x > 0);
    const floor = 0.1 * (medians.length ? median(medians) : 0);
    const above = medians.filter((x: number) => x >= floor);
    const rate = Math.max(1000, Math.round((0.8 * (above.length ? Math.min(...above) : 0)) / 1000) * 1000);
    result.cpu_rate_excludes = result.paths.filter((e: any) => e.throughput[s0].zero_loss_pps.median < floor).map((e: any) => e.name);
    await b.reset();
    result.cpu = { rate_pps: rate, frame_bytes: s0, rows: [] as CpuRow[] };
    result.latency = [] as LatencyRow[];
    log(`== CPU per packet at ${k(rate)} pps, ${s0}-byte frames (80 % of the lowest zero-loss rate); then latency`);
    b.sockperfServer = spawn('ip', ['netns', 'exec', b.lab.server, 'taskset', '-c', String(PROBE_CPU), 'sockperf', 'server', '-i', SERVER_IP, '-p', String(PROBE.dst_port)], { stdio: 'ignore' });
    await until(() => sh('ip', ['netns', 'exec', b.lab.server, 'ss', '-uln']).includes(`:${PROBE.dst_port}`), 5000, 'sockperf server listening');
    for (const e of result.paths) {
      if (e.def.fresh) await b.reset();
      await e.def.setup();
      b.sinkOnS0('xdp_sink');
      const row = await cpuAt(b, e.def, confs[s0], rate);
      if (b.trace) row.pkts_per_burst = b.traceBurst();
      result.cpu.rows.push(row);
      log(`   ${e.name}: ${f1(median(row.dut_ns))} ns/packet DUT threads (NAPI ${f1(median(row.napi_ns))}), lost ${row.lost.join('/')}` +
        `${row.xdp_prog_ns.length ? `, XDP program ${f1(median(row.xdp_prog_ns))} ns` : ''}${row.worker_cycles.length ? `, worker ${k(median(row.worker_cycles))} cycles` : ''}`);
      if (!e.def.latency) continue;
      // The probes pass the sink; the generator's frames are still counted and dropped there.
      b.sinkOnS0('xdp_sink_port');
      for (const load of LOADS) {
        const lr = await latencyAt(b, e.def, confs[s0], load, e.throughput[s0].zero_loss_pps.median);
        result.latency.push(lr);
        log(`   ${e.name} at ${load} % (${k(lr.rate_pps)} pps): p50 ${f1(lr.p50_us)} us, p99 ${f1(lr.p99_us)} us, p99.9 ${f1(lr.p999_us)} us, ${lr.samples} round trips; background lost ${lr.bg_loss} (input ${lr.bg_input_drops}, receiver ${lr.bg_receiver_drops})${lr.worker_drops ? ` worker drops ${JSON.stringify(lr.worker_drops)}` : ''}`);
      }
    }
    await b.worker?.stop('SIGKILL');
    b.worker = null;
  } finally {
    await b.teardown();
  }
  for (const e of result.paths) delete e.def;
  report(h, result);
}

function report(h: Awaited<ReturnType<typeof header>>, r: any): void {
  const s0 = r.sizes[0];
  const cpuOf = (name: string) => r.cpu.rows.find((x: CpuRow) => x.path === name);
  const med = (name: string) => (cpuOf(name) ? median(cpuOf(name).dut_ns) : NaN);
  const nftBest = Math.min(med('nft-ingress-drop'), med('nft-prerouting-drop'));
  r.targets = [
    { what: 'worker path CPU per forwarded packet vs the kernel path', value: med('worker') / med('kernel'), target: '<= 0.5', ok: med('worker') / med('kernel') <= 0.5 },
    { what: 'pcf_xdp DROP CPU per packet vs the cheaper nftables drop', value: med('xdp-drop-rule') / nftBest, target: '<= 0.3', ok: med('xdp-drop-rule') / nftBest <= 0.3 },
  ].filter((t) => Number.isFinite(t.value)); // a run of some paths (--paths) has only some
  r.all_paths_verified = r.paths.every((e: any) => e.verified);
  const md: string[] = ['## RFC 2544: zero-loss throughput, CPU per packet, latency (bench/rfc2544.ts)', '', ...describe(h).map((l) => `${l}  `), '',
    `Generator: ${r.generator.version}, one sender on CPU ${r.settings.gen_cpu}; its ceiling (what it offered, unpaced, to a bare XDP_DROP on dut0): ${r.sizes.map((s: number) => `${s} B ${k(r.generator.max_pps[s])} pps`).join(', ')}. ` +
      `dut0's NAPI thread runs on CPU ${r.settings.napi_cpu ?? r.settings.gen_cpu}, the worker on CPU ${r.settings.worker_cpu}, the sink (an XDP program on the server's interface that counts and drops) on CPU ${r.settings.sink_cpu}. Frame sizes include the 4-byte FCS that veth does not carry.`, '',
    '### Zero-loss throughput (RFC 2544 §26.1), packets per second: median [min-max] of the searches', ''];
  md.push(...mdTable(['path', ...r.sizes.map((s: number) => `${s} B`), 'limited by (64 B)', 'counters agree'],
    r.paths.map((e: any) => [e.label, ...r.sizes.map((s: number) => { const z = e.throughput[s].zero_loss_pps; return `${k(z.median)} [${k(z.min)}-${k(z.max)}]`; }),
      e.throughput[s0].limited_by, e.verified ? 'yes' : '**no**'])));
  const dropsOf = r.paths.filter((e: any) => e.worker_drops && Object.keys(e.worker_drops).length);
  if (dropsOf.length)
    md.push('', ...dropsOf.map((e: any) => `The worker's own drops over the ${e.name} searches, by reason: ${Object.entries(e.worker_drops).map(([x, n]) => `${x} ${k(n as number)}`).join(', ')}.`));
  md.push('', `### CPU per packet at ${k(r.cpu.rate_pps)} pps (${r.cpu.frame_bytes}-byte frames), every path: median [min-max] ns per packet`, '',
    ...(r.cpu_rate_excludes?.length ? [`The rate is 80 % of the lowest 64-byte zero-loss rate of the paths that reach a tenth of the paths' median; ${r.cpu_rate_excludes.join(', ')} did not, and lost frames at this rate (its row).`, ''] : []),
    "DUT threads (the headline): the exact run time (schedstat) of dut0's NAPI thread, which runs XDP, the kernel's forwarding or nftables and the AF_XDP copy, plus the worker's threads. XDP program: the kernel's BPF statistics (run_time_ns / run_cnt). Worker cycles: its own count, RX through TX of its non-empty bursts. Lost: frames lost in those trials (0 expected: the rate is below every zero-loss rate).", '');
  // xdpgen's refused frames are lost (part of the DUT's loss); trafgen sends its again.
  const refusedIs = r.generator.tool === 'trafgen' ? 'sent again' : 'of the DUT\'s loss';
  const sp = (xs: number[]) => (xs.length ? `${f1(median(xs))} [${f1(Math.min(...xs))}-${f1(Math.max(...xs))}]` : '-');
  md.push(...mdTable(['path', 'DUT threads ns/packet', 'NAPI thread ns/packet', 'XDP program ns/packet', 'worker ns/packet (its threads)', 'worker cycles/packet (its loop)', 'x kernel', `lost by the DUT; by the receiver; refused at dut0's input (${refusedIs})`],
    r.cpu.rows.map((x: CpuRow) => [x.path, sp(x.dut_ns), sp(x.napi_ns), sp(x.xdp_prog_ns), sp(x.worker_ns),
      x.worker_cycles.length ? k(median(x.worker_cycles)) : '-', (median(x.dut_ns) / med('kernel')).toFixed(2), x.lost.map((l, i) => `${k(l)}; ${k(x.lost_receiver[i])}; ${k(x.lost_input[i])}`).join(', ')])));
  if (r.targets.length) md.push('', ...mdTable(['target', 'value', 'target', 'met'], r.targets.map((t: any) => [t.what, t.value.toFixed(2), t.target, t.ok ? 'yes' : '**no**'])));
  md.push(...probeCost(r, cpuOf));
  md.push('', `### Latency (RFC 2544 §26.2): sockperf ping-pong round trips, µs, at a share of each path's ${s0}-byte zero-loss rate`, '');
  md.push(...mdTable(['path', 'load', 'rate pps', 'p50', 'p99', 'p99.9', 'round trips', `background frames lost by the DUT; by the receiver; refused at dut0's input (${refusedIs})`],
    r.latency.map((x: LatencyRow) => [x.path, `${x.load_pct} %`, k(x.rate_pps), f1(x.p50_us), f1(x.p99_us), f1(x.p999_us), k(x.samples) + (x.note ? ` (${x.note})` : ''), `${k(x.bg_loss)}; ${k(x.bg_receiver_drops)}; ${k(x.bg_input_drops)}`])));
  const svgs = [
    plot({ file: 'rfc2544_throughput', title: 'Zero-loss throughput by frame size (RFC 2544 §26.1)', xlabel: 'frame size (bytes)', ylabel: 'packets per second', style: 'lines', logx: true,
      series: r.paths.map((e: any) => ({ title: e.name, points: r.sizes.map((s: number) => { const z = e.throughput[s].zero_loss_pps; return [s, z.median, z.min, z.max]; }) })) }),
    plot({ file: 'rfc2544_cpu', title: `DUT CPU per packet at ${k(r.cpu.rate_pps)} pps`, xlabel: 'path', ylabel: 'ns per packet', style: 'histogram', xticks: r.cpu.rows.map((x: CpuRow) => x.path),
      series: [{ title: 'DUT threads', points: r.cpu.rows.map((x: CpuRow, i: number) => [i, median(x.dut_ns), Math.min(...x.dut_ns), Math.max(...x.dut_ns)]) }] }),
    plot({ file: 'rfc2544_latency', title: 'Round-trip latency p99 under load (sockperf)', xlabel: `load (% of the path's zero-loss rate)`, ylabel: 'p99 round trip (µs)', style: 'lines',
      series: [...new Set(r.latency.map((x: LatencyRow) => x.path))].map((name) => ({ title: String(name), points: r.latency.filter((x: LatencyRow) => x.path === name).map((x: LatencyRow) => [x.load_pct, x.p99_us]) })) }),
  ];
  md.push('', ...svgs.map((f) => `![${path.basename(f, '.svg')}](${path.basename(f)})`), '',
    `Reproduce: \`node --import tsx bench/rfc2544.ts${h.quick ? " --quick" : ""}\` (part of \`make bench\`).`);
  const file = writeResults(h, r, md);
  console.log(md.join('\n'));
  log(`wrote ${path.relative(ROOT, file)} and ${svgs.map((f) => path.relative(ROOT, f)).join(', ')}`);
  if (!r.all_paths_verified) {
    log('FAILED: on some path the counters disagree with the frames sent: its figures are not what they claim');
    process.exitCode = 1;
  }
}

/** The USDT probes' cost: the worker with pcf-trace attached against without, at one rate
 * (CPU per packet; per burst with the trace's own burst size) and by zero-loss rate. */
function probeCost(r: any, cpuOf: (name: string) => CpuRow | undefined): string[] {
  const plain = cpuOf('worker'), traced = cpuOf('worker-traced');
  if (!plain || !traced) return [];
  const s0 = r.sizes[0];
  const z = (name: string) => r.paths.find((e: any) => e.name === name)?.throughput[s0]?.zero_loss_pps.median ?? NaN;
  const dNs = median(traced.dut_ns) - median(plain.dut_ns);
  const dCycles = median(traced.worker_cycles) - median(plain.worker_cycles);
  const burst = traced.pkts_per_burst ?? NaN;
  r.probe_cost = {
    rate_pps: r.cpu.rate_pps, dut_ns_detached: median(plain.dut_ns), dut_ns_attached: median(traced.dut_ns), dut_ns_delta: dNs,
    worker_cycles_detached: median(plain.worker_cycles), worker_cycles_attached: median(traced.worker_cycles), worker_cycles_delta: dCycles,
    pkts_per_burst: burst, worker_cycles_per_burst: dCycles * burst, zero_loss_detached: z('worker'), zero_loss_attached: z('worker-traced'),
  };
  const c = r.probe_cost;
  return ['', `### The USDT probes' cost: the worker with pcf-trace attached and detached`, '',
    ...mdTable(['', 'detached', 'attached', 'difference'], [
      [`DUT threads ns/packet at ${k(c.rate_pps)} pps`, f1(c.dut_ns_detached), f1(c.dut_ns_attached), `${dNs >= 0 ? '+' : ''}${f1(dNs)} (${f1((100 * dNs) / c.dut_ns_detached)} %)`],
      ['worker cycles/packet (its loop, RX through TX)', k(c.worker_cycles_detached), k(c.worker_cycles_attached), `${dCycles >= 0 ? '+' : ''}${k(dCycles)}; ${k(c.worker_cycles_per_burst)} a burst of ${f1(burst)} packets (the trace's mean)`],
      [`zero-loss pps, ${s0} B (median of the searches)`, k(c.zero_loss_detached), k(c.zero_loss_attached), `${f1((100 * (c.zero_loss_attached - c.zero_loss_detached)) / c.zero_loss_detached)} %`],
    ]),
    '', 'Each burst with a tracer attached takes two traps (rx_burst and tx_burst) into the kernel, where the uprobe runs bursts.bpf.c; detached, the probes are a nop. The cost is per burst, so per packet it falls as bursts grow with the rate.'];
}

if (argv.includes('--report-only')) {
  // Draws the section and the plots again from the last run's JSON (a change of the report,
  // no new measurement).
  const { name, started_at, quick, machine, commit, modes, trial, finished_at: _f, ...body } = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench/results/rfc2544.json'), 'utf8'));
  report({ name, started_at, quick, machine, commit, modes, trial }, body);
} else await main();
