// stats_cost.ts - what GET /stats costs as the rules grow, and what polling it does to writes:
// the control plane as `make up` runs it (a child process) on a lab of its own with XDP
// attached, every rule having counted one packet (BPF_PROG_TEST_RUN), at 1,000 rules and at a
// full map. Per size: GET /stats latency alone; POST /flows latency with 8 clients polling
// GET /stats; 32 mixed clients (writes, reads by id, pages, stats) for a bounded time.
//   node --import tsx bench/stats_cost.ts [--full N] [--seconds S] [--json]
import { Agent } from 'node:http';
import { call, ChildControlPlane, grpcClient, tempDb } from '../test/lib/cp.js';
import { timedRequest } from '../test/lib/http.js';
import { percentile } from '../test/lib/samples.js';
import { datapathUnavailable } from '../test/lib/env.js';
import { Lab } from '../test/lib/lab.js';
import { udp4 } from '../test/lib/packets.js';
import { testRun } from '../test/lib/testrun.js';
import fs from 'node:fs';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const FULL = opt('--full', 131_000);
const SECONDS = opt('--seconds', 5);
const SIZES = [1_000, FULL];

const srcOf = (n: number) => `198.19.${(n >> 8) & 255}.${n & 255}`;
const rule = (n: number) => ({ key: { src_ip: srcOf(n), dst_ip: '198.18.1.1', src_port: 1000, dst_port: 9000, proto: 17 }, action: { type: 'PASS' } });

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
  const lab = await Lab.create();
  const db = tempDb();
  const cp = await ChildControlPlane.create(lab.pinDir, db.file);
  const results = [];
  try {
    await cp.start();
    const rpc = grpcClient(cp.grpcPort);
    let have = 0;
    const ids: number[] = [];
    for (const size of SIZES) {
      const flows = Array.from({ length: size - have }, (_, i) => rule(have + i));
      for (let i = 0; i < flows.length; i += 50_000) ids.push(...(await call(rpc, 'BatchUpsertFlows', { flows: flows.slice(i, i + 50_000) })).ids.map(Number));
      // One packet per new rule, so that every rule has counters to show.
      const frames = Array.from({ length: size - have }, (_, i) => ({ frame: udp4({ src: srcOf(have + i), dst: '198.18.1.1', sport: 1000, dport: 9000, payload: 'x' }) }));
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
  if (args.includes('--json')) return console.log(JSON.stringify(out, null, 2));
  console.log(`GET /stats as the rules grow (every rule counted one packet); loads of ${SECONDS} s each, ${out.cpus} CPUs, the clients in this process`);
  console.log('rules      /stats bytes  /stats p50  p99      POST p50 / p99 with 8 pollers  polls/s  32 mixed p50 / p99 / max  calls/s  last drift check (ms)');
  for (const r of results)
    console.log(`${String(r.rules).padEnd(10)} ${String(r.stats_bytes).padStart(12)}  ${String(r.stats_alone.p50_ms).padStart(8)}  ${String(r.stats_alone.p99_ms).padStart(7)}  ` +
      `${String(r.post_with_8_pollers.p50_ms).padStart(12)} / ${String(r.post_with_8_pollers.p99_ms).padEnd(16)} ${String(r.stats_polls_per_s).padStart(7)}  ` +
      `${r.mixed_32.p50_ms} / ${r.mixed_32.p99_ms} / ${r.mixed_32.max_ms}`.padStart(24) + `  ${String(r.mixed_32.calls_per_s).padStart(7)}  ${r.drift_check_ms ?? '-'}`);
}

await main();
