// stats_cost.ts - what GET /stats costs as the rules grow, and what polling it does to writes:
// the control plane as `make up` runs it (a child process) on a lab of its own with XDP
// attached, every rule having counted one packet (BPF_PROG_TEST_RUN), at 1,000 rules and at a
// full map. Per size: GET /stats latency alone; POST /flows latency with 8 clients polling
// GET /stats; 32 mixed clients (writes, reads by id, pages, stats) for a bounded time.
// Prints the run's header and a table, or JSON with --json; writes bench/results/stats_cost.json
// and stats_cost.md either way. QUICK (QUICK=1 or --quick): 50,000 rules for the larger size and
// loads of 3 s (under a minute).
//   node --import tsx bench/stats_cost.ts [--quick] [--full N] [--seconds S] [--json]
import { Agent } from 'node:http';
import { call, ChildControlPlane, grpcClient, tempDb } from '../test/lib/cp.js';
import { timedRequest } from '../test/lib/http.js';
import { percentile } from '../test/lib/samples.js';
import { datapathUnavailable } from '../test/lib/env.js';
import { Lab } from '../test/lib/lab.js';
import { udp4 } from '../test/lib/packets.js';
import { testRun } from '../test/lib/testrun.js';
import fs from 'node:fs';
import { describe, header, mdTable, QUICK, writeResults } from './lib/results.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const FULL = opt('--full', QUICK ? 50_000 : 131_000);
const SECONDS = opt('--seconds', QUICK ? 3 : 5);
const SIZES = [1_000, FULL];

// Rule n: a distinct 5-tuple for every n below 2^32 (the address alone repeats every 65,536).
const srcOf = (n: number) => `198.19.${(n >> 8) & 255}.${n & 255}`;
const sportOf = (n: number) => 1000 + (n >>> 16);
const rule = (n: number) => ({ key: { src_ip: srcOf(n), dst_ip: '198.18.1.1', src_port: sportOf(n), dst_port: 9000, proto: 17 }, action: { type: 'PASS' } });

const pct = (xs: number[], p: number) => +percentile(xs, p).toFixed(2);
const summary = (xs: number[]) => ({ n: xs.length, p50_ms: pct(xs, 50), p99_ms: pct(xs, 99), max_ms: pct(xs, 100) });

/** Runs workers until the deadline; each returns one latency sample per call. */
async function loadFor(seconds: number, workers: (() => Promise<number>)[]): Promise<number[][]> {
  const until = Date.now() + seconds * 1000;
  return Promise.all(workers.map(async (w) => {
    const out: number[] = [];
    while (Date.now() < until) out.push(await w());
    return out;
  }));
}

async function measure(cp: ChildControlPlane, ids: number[]) {
  const rules = ids.length;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const port = cp.httpPort;
  const ok = async (method: string, path: string, want: number, body?: string) => {
    const r = await timedRequest(agent, port, method, path, body);
    if (r.status !== want) throw new Error(`${method} ${path} answered ${r.status}, expected ${want}`);
    return r;
  };
  // GET /stats alone (the default answer, and the per-rule list where the API has it apart).
  await ok('GET', '/stats', 200);
  const alone: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 50; i++) {
    const r = await ok('GET', '/stats', 200);
    alone.push(r.ms);
    bytes = r.bytes;
  }
  // POST /flows with 8 clients polling GET /stats (their own rules, created then updated).
  await timedRequest(agent, port, 'POST', '/flows', JSON.stringify(rule(500_000))); // 201, then 200 at the next size
  const writer = async () => (await ok('POST', '/flows', 200, JSON.stringify(rule(500_000)))).ms;
  const polled = await loadFor(SECONDS, [writer, ...Array.from({ length: 8 }, () => async () => (await ok('GET', '/stats', 200)).ms)]);
  // 32 mixed clients: 12 writing (updates), 8 reading one rule, 8 reading pages, 4 polling stats.
  let k = 0;
  const mixed = await loadFor(SECONDS, [
    ...Array.from({ length: 12 }, () => async () => (await ok('POST', '/flows', 200, JSON.stringify(rule(k++ % rules)))).ms),
    ...Array.from({ length: 8 }, () => async () => (await ok('GET', `/flows/${ids[k++ % rules]}`, 200)).ms),
    ...Array.from({ length: 8 }, () => async () => (await ok('GET', `/flows?limit=100&cursor=${ids[k++ % rules]}`, 200)).ms),
    ...Array.from({ length: 4 }, () => async () => (await ok('GET', '/stats', 200)).ms),
  ]);
  const drift = JSON.parse((await timedRequest(agent, port, 'GET', '/stats')).text).datapath.drift;
  agent.destroy();
  return {
    rules, stats_bytes: bytes, drift_check_ms: drift.duration_ms as number | null, drift_checks: drift.checks as number,
    stats_alone: summary(alone),
    post_with_8_pollers: summary(polled[0]),
    stats_polls_per_s: Math.round(polled.slice(1).flat().length / SECONDS),
    mixed_32: { ...summary(mixed.flat()), calls_per_s: Math.round(mixed.flat().length / SECONDS) },
  };
}

async function main() {
  const why = datapathUnavailable();
  if (why) throw new Error(`cannot run: ${why}`);
  const h = await header('stats_cost', { xdp: '?', control_plane: 'child process (as make up runs it)', clients: 'this process, loopback keep-alive' },
    `per size (${SIZES.map((n) => n.toLocaleString('en')).join(' and ')} rules): 50 GET /stats alone, then two loads of ${SECONDS} s each; one trial`);
  const lab = await Lab.create();
  const db = tempDb();
  const cp = await ChildControlPlane.create(lab.pinDir, db.file);
  const results = [];
  try {
    try {
      h.modes.xdp = `${JSON.parse((await lab.loader('status', '--json')).stdout).attachments?.[0]?.mode ?? 'unknown'} (on the lab's veth dut0)`;
    } catch {
      h.modes.xdp = 'unknown';
    }
    await cp.start();
    const rpc = grpcClient(cp.grpcPort);
    let have = 0;
    const ids: number[] = [];
    for (const size of SIZES) {
      const flows = Array.from({ length: size - have }, (_, i) => rule(have + i));
      for (let i = 0; i < flows.length; i += 50_000) ids.push(...(await call(rpc, 'BatchUpsertFlows', { flows: flows.slice(i, i + 50_000) })).ids.map(Number));
      if (new Set(ids).size !== size) throw new Error(`${new Set(ids).size} distinct rules for ${size}`);
      // One packet per new rule, so that every rule has counters to show.
      const frames = Array.from({ length: size - have }, (_, i) => ({ frame: udp4({ src: srcOf(have + i), dst: '198.18.1.1', sport: sportOf(have + i), dport: 9000, payload: 'x' }) }));
      for (let i = 0; i < frames.length; i += 20_000) await testRun(lab.pinDir, frames.slice(i, i + 20_000));
      have = size;
      results.push(await measure(cp, ids));
    }
    rpc.close();
  } finally {
    await cp.stop();
    await lab.destroy();
    fs.rmSync(db.dir, { recursive: true, force: true });
  }
  const out = { seconds_per_load: SECONDS, cpus: (await import('node:os')).cpus().length, results };
  const lines = describe(h);
  const cmd = `${QUICK && !args.includes('--quick') ? 'QUICK=1 ' : ''}node --import tsx bench/stats_cost.ts${args.length ? ` ${args.join(' ')}` : ''}`;
  const ms = (x: { p50_ms: number; p99_ms: number }) => `${x.p50_ms} / ${x.p99_ms}`;
  writeResults(h, { ...out, targets: [] }, [
    '## GET /stats as the rules grow, and writes while it is polled', '',
    ...lines.map((l) => `- ${l}`), '',
    `Every rule has counted one packet (BPF_PROG_TEST_RUN). Latencies in ms (p50 / p99); the clients run in this process on ${out.cpus} CPUs. No targets are set for these figures.`, '',
    ...mdTable(['rules', '/stats bytes', 'GET /stats alone', 'POST /flows with 8 pollers', 'polls/s', '32 mixed clients (p50 / p99 / max)', 'calls/s', 'last drift check (ms)'],
      results.map((r) => [r.rules.toLocaleString('en'), r.stats_bytes.toLocaleString('en'), ms(r.stats_alone), ms(r.post_with_8_pollers), r.stats_polls_per_s.toLocaleString('en'),
        `${r.mixed_32.p50_ms} / ${r.mixed_32.p99_ms} / ${r.mixed_32.max_ms}`, r.mixed_32.calls_per_s.toLocaleString('en'), r.drift_check_ms ?? '-'])),
    '', `Reproduce: \`${cmd}\``,
  ]);
  if (args.includes('--json')) return console.log(JSON.stringify({ ...h, ...out }, null, 2));
  for (const l of lines) console.log(l);
  console.log(`GET /stats as the rules grow (every rule counted one packet); loads of ${SECONDS} s each, ${out.cpus} CPUs, the clients in this process`);
  console.log('rules      /stats bytes  /stats p50  p99      POST p50 / p99 with 8 pollers  polls/s  32 mixed p50 / p99 / max  calls/s  last drift check (ms)');
  for (const r of results)
    console.log(`${String(r.rules).padEnd(10)} ${String(r.stats_bytes).padStart(12)}  ${String(r.stats_alone.p50_ms).padStart(8)}  ${String(r.stats_alone.p99_ms).padStart(7)}  ` +
      `${String(r.post_with_8_pollers.p50_ms).padStart(12)} / ${String(r.post_with_8_pollers.p99_ms).padEnd(16)} ${String(r.stats_polls_per_s).padStart(7)}  ` +
      `${r.mixed_32.p50_ms} / ${r.mixed_32.p99_ms} / ${r.mixed_32.max_ms}`.padStart(24) + `  ${String(r.mixed_32.calls_per_s).padStart(7)}  ${r.drift_check_ms ?? '-'}`);
}

await main();
