// rules_rate.ts - how fast rules go in, end to end, against the control plane running as
// `make up` runs it (a child process) on a lab of its own with XDP attached:
//   - REST single upserts (POST /flows, keep-alive), 8 in flight and one at a time, after a
//     warm-up of 2,000 that is not measured;
//   - gRPC BatchUpsertFlows of 100,000 rules: new, as updates of existing rules, and half and
//     half; each with the client's protobuf encoding (this process) and pre-encoded (what the
//     control plane ingests from arrival to answer, on loopback);
//   - the event loop during a 200,000-rule batch: the slowest GET /healthz answered meanwhile;
//   - --max rules (1,000,000 by default): the start-up reconcile into empty maps, and GET /stats
//     with them loaded.
// Prints the run's header and a table, or JSON with --json; writes bench/results/rules_rate.json
// and rules_rate.md either way. QUICK (QUICK=1 or --quick): 10,000 REST upserts, batches of
// 50,000 and 300,000 rules at most (under a minute; the targets are for the full sizes).
//   node --import tsx bench/rules_rate.ts [--quick] [--rest N] [--batch N] [--max N] [--json]
import fs from 'node:fs';
import path from 'node:path';
import { Agent } from 'node:http';
import * as native from '../native/index.js';
import { loadPcfPackage } from '../api/proto.js';
import { call, ChildControlPlane, grpcClient, tempDb, type PcfClient } from '../test/lib/cp.js';
import { datapathUnavailable } from '../test/lib/env.js';
import { timedRequest } from '../test/lib/http.js';
import { Lab } from '../test/lib/lab.js';
import { until } from '../test/lib/until.js';
import { describe, header, mdTable, QUICK, writeResults } from './lib/results.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const REST_N = opt('--rest', QUICK ? 10_000 : 20_000);
const BATCH_N = opt('--batch', QUICK ? 50_000 : 100_000);
const MAX_N = opt('--max', QUICK ? 300_000 : 1_000_000);
const IN_FLIGHT = 8;
const WARMUP = 2000;

/** Rule n: a distinct exact 5-tuple for every n below 2^32. */
const rule = (n: number, type: string) => ({
  key: { src_ip: `198.19.${(n >> 24) & 255}.${(n >> 16) & 255}`, dst_ip: `198.18.${(n >> 8) & 255}.${n & 255}`, src_port: 1000, dst_port: 9000, proto: 17 },
  action: { type },
});

const http = timedRequest;

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/** REST: n single upserts starting at rule `from`, `inFlight` at a time; rules/s. */
async function restRate(cp: ChildControlPlane, from: number, n: number, inFlight: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < n) {
      const r = await http(agent, cp.httpPort, 'POST', '/flows', JSON.stringify(rule(from + next++, 'PASS')));
      if (r.status !== 201) throw new Error(`POST /flows answered ${r.status}`);
    }
  }));
  agent.destroy();
  return Math.round(n / seconds(t0));
}

const batchMethod = () => (loadPcfPackage() as any).pcf.v1.PcfControl.service.BatchUpsertFlows;

/** A BatchUpsertFlows request already encoded, sent as it is: its answer. */
function sendEncoded(rpc: PcfClient, encoded: Buffer): Promise<{ created: number; updated: number }> {
  const method = batchMethod();
  return new Promise((resolve, reject) => rpc.makeUnaryRequest(method.path, (b: Buffer) => b, method.responseDeserialize,
    encoded, (err: Error | null, r: any) => (err ? reject(err) : resolve(r))));
}

/** One BatchUpsertFlows, encoded by the client in the clock or before it; rules/s and the answer. */
async function batchRate(rpc: PcfClient, flows: object[], preEncoded: boolean): Promise<{ rate: number; res: { created: number; updated: number } }> {
  if (!preEncoded) {
    const t0 = process.hrtime.bigint();
    const res = await call(rpc, 'BatchUpsertFlows', { flows });
    return { rate: Math.round(flows.length / seconds(t0)), res };
  }
  const encoded: Buffer = batchMethod().requestSerialize({ flows });
  const t0 = process.hrtime.bigint();
  const res = await sendEncoded(rpc, encoded);
  return { rate: Math.round(flows.length / seconds(t0)), res };
}

interface Row {
  what: string;
  rules: number;
  rate: number | null;
  figure?: string;
  target: string;
  /** The figure the target is about, when it has one (rules/s, ms), and whether it is met. */
  value?: number;
  ok?: boolean;
}

/** value and ok from a target such as '>= 5,000/s' or '<= 50 ms' (or '<= 3 s', value in ms). */
function judge(r: Row, value: number | null | undefined): Row {
  const m = /^([<>]=) ([\d,.]+)(\/s| ms| s)$/.exec(r.target);
  if (!m || value === null || value === undefined || !Number.isFinite(value)) return r;
  const want = Number(m[2].replace(/,/g, '')) * (m[3] === ' s' ? 1000 : 1);
  return { ...r, value: +value.toFixed(2), ok: m[1] === '>=' ? value >= want : value <= want };
}

async function main() {
  const why = datapathUnavailable();
  if (why) throw new Error(`cannot run: ${why}`);
  const h = await header('rules_rate', { xdp: '?', control_plane: 'child process (as make up runs it)', clients: 'this process, loopback' },
    `REST ${REST_N.toLocaleString('en')} upserts after ${WARMUP.toLocaleString('en')} not measured; gRPC batches of ${BATCH_N.toLocaleString('en')}; ` +
    `${MAX_N.toLocaleString('en')} rules for the start-up; one trial each`);
  // The map holds every rule written: up to MAX_N, or more when the measured steps alone go
  // past it (warm-up, REST, 1.5 batches twice, the 2-batch probe).
  const written = WARMUP + REST_N + Math.min(REST_N, 5000) + 5 * BATCH_N;
  const maxRules = 2 ** Math.ceil(Math.log2(Math.max(262_144, MAX_N + 1, written + 1)));
  const lab = await Lab.create({ loaderArgs: ['--max-rules', String(maxRules)] });
  const db = tempDb();
  let cp = await ChildControlPlane.create(lab.pinDir, db.file);
  const rows: Row[] = [];
  const xdpMode = async () => {
    try {
      return JSON.parse((await lab.loader('status', '--json')).stdout).attachments?.[0]?.mode ?? 'unknown';
    } catch {
      return 'unknown';
    }
  };
  try {
    h.modes.xdp = `${await xdpMode()} (on the lab's veth dut0)`;
    await cp.start();
    let next = 0; // the next new rule's number
    // Warm-up, not measured: V8 compiles the request path over the first thousand requests.
    await restRate(cp, next, WARMUP, IN_FLIGHT);
    next += WARMUP;
    const rest8 = await restRate(cp, next, REST_N, IN_FLIGHT);
    rows.push(judge({ what: `REST POST /flows, ${IN_FLIGHT} in flight`, rules: REST_N, rate: rest8, target: '>= 5,000/s' }, rest8));
    next += REST_N;
    const single = Math.min(REST_N, 5000);
    rows.push({ what: 'REST POST /flows, one at a time', rules: single, rate: await restRate(cp, next, single, 1), target: '(say what it is)' });
    next += single;

    const rpc = grpcClient(cp.grpcPort);
    const batch = (from: number, n: number, type: string) => Array.from({ length: n }, (_, i) => rule(from + i, type));
    for (const preEncoded of [false, true]) {
      const how = preEncoded ? 'pre-encoded (arrival to answer)' : 'client encoding included';
      const fresh = await batchRate(rpc, batch(next, BATCH_N, 'DROP'), preEncoded);
      if (fresh.res.created !== BATCH_N) throw new Error(`batch created ${fresh.res.created} of ${BATCH_N}`);
      rows.push(judge({ what: `gRPC BatchUpsertFlows, new, ${how}`, rules: BATCH_N, rate: fresh.rate, target: preEncoded ? '>= 200,000/s' : '>= 150,000/s' }, fresh.rate));
      const upd = await batchRate(rpc, batch(next, BATCH_N, 'PASS'), preEncoded);
      if (upd.res.updated !== BATCH_N) throw new Error(`batch updated ${upd.res.updated} of ${BATCH_N}`);
      rows.push(judge({ what: `gRPC BatchUpsertFlows, updates, ${how}`, rules: BATCH_N, rate: upd.rate, target: preEncoded ? '>= 200,000/s' : '>= 150,000/s' }, upd.rate));
      const half = BATCH_N / 2;
      const mix = await batchRate(rpc, batch(next + half, BATCH_N, 'DROP'), preEncoded);
      if (mix.res.created !== half || mix.res.updated !== half) throw new Error(`mixed batch: ${mix.res.created} new, ${mix.res.updated} updated`);
      rows.push(judge({ what: `gRPC BatchUpsertFlows, half new, ${how}`, rules: BATCH_N, rate: mix.rate, target: preEncoded ? '>= 200,000/s' : '>= 150,000/s' }, mix.rate));
      next += BATCH_N + half;
    }

    // The event loop during a 200,000-rule batch: GET /healthz every 5 ms meanwhile. The
    // request is encoded first: encoding it here would hold this process's loop, the probe's.
    const big = 2 * BATCH_N;
    const bigRequest: Buffer = batchMethod().requestSerialize({ flows: batch(next, big, 'PASS') });
    const probe = new Agent({ keepAlive: true, maxSockets: 1 });
    let busy = true;
    const lat: number[] = [];
    const prober = (async () => {
      while (busy) {
        lat.push((await http(probe, cp.httpPort, 'GET', '/healthz')).ms);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // The server's own measure: the longest event loop delay (prom-client, reset by each scrape).
    const lagMax = async () => Number(/^pcf_control_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(await (await fetch(`${cp.url}/metrics`)).text())?.[1]) * 1000;
    await lagMax();
    const t0 = process.hrtime.bigint();
    await sendEncoded(rpc, bigRequest);
    const lag = await lagMax();
    const bigSec = seconds(t0);
    busy = false;
    await prober;
    probe.destroy();
    next += big;
    rows.push(judge({ what: `GET /healthz during a ${big.toLocaleString('en')}-rule batch (${bigSec.toFixed(2)} s)`, rules: big, rate: null, figure: `slowest ${Math.max(...lat).toFixed(0)} ms of ${lat.length}; loop delay max ${lag.toFixed(0)} ms`, target: '<= 50 ms' }, Math.max(...lat)));

    // Up to MAX_N rules, then a restart into empty maps: the start-up reconcile.
    while (next < MAX_N) {
      const n = Math.min(BATCH_N, MAX_N - next);
      await call(rpc, 'BatchUpsertFlows', { flows: batch(next, n, 'PASS') });
      next += n;
    }
    rpc.close();
    await cp.stop();
    await lab.loader('detach', '--purge');
    await lab.loader('attach', '--max-rules', String(maxRules));
    cp = await ChildControlPlane.create(lab.pinDir, db.file);
    const started = process.hrtime.bigint();
    await cp.start(300_000);
    await until(async () => (await fetch(`${cp.url}/readyz`)).ok, 120_000, 'ready after the restart', { tolerateErrors: true });
    const readySec = seconds(started);
    const line = cp.log.split('\n').find((l) => l.includes('maps reconciled with SQLite'));
    const reconcileMs = line ? JSON.parse(line).ms : null;
    rows.push(judge({ what: `start-up with ${next.toLocaleString('en')} rules into empty maps`, rules: next, rate: null, figure: `reconcile ${reconcileMs ?? '?'} ms; spawn to ready ${readySec.toFixed(1)} s`, target: '<= 3 s' }, reconcileMs));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const st: number[] = [];
    for (let i = 0; i < 50; i++) st.push((await http(agent, cp.httpPort, 'GET', '/stats')).ms);
    agent.destroy();
    st.sort((a, b) => a - b);
    rows.push(judge({ what: `GET /stats with ${next.toLocaleString('en')} rules`, rules: next, rate: null, figure: `p50 ${st[25].toFixed(2)} ms, max ${st[49].toFixed(2)} ms`, target: '<= 10 ms' }, st[25]));

    const map = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
    const inMap = map.countFlows();
    map.close();
    if (inMap !== next) throw new Error(`map holds ${inMap} rules, expected ${next}`);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${cp.proc!.pid}/status`, 'utf8'))?.[1] ?? 0);
    rows.push({ what: `control plane RSS with ${next.toLocaleString('en')} rules`, rules: next, rate: null, figure: `${Math.round(rss / 1024)} MiB`, target: '(the README says)' });
  } finally {
    await cp.stop();
    await lab.destroy();
    fs.rmSync(db.dir, { recursive: true, force: true });
  }
  const lines = describe(h);
  const met = (r: Row) => (r.ok === undefined ? '-' : r.ok ? 'yes' : 'NO');
  const cmd = `${QUICK && !args.includes('--quick') ? 'QUICK=1 ' : ''}node --import tsx bench/rules_rate.ts${args.length ? ` ${args.join(' ')}` : ''}`;
  writeResults(h, { rest_n: REST_N, batch_n: BATCH_N, max_n: MAX_N, in_flight: IN_FLIGHT, warmup: WARMUP, rows }, [
    '## Rules per second into SQLite and the map, the event loop under a batch, start-up and GET /stats at the most rules', '',
    ...lines.map((l) => `- ${l}`), '',
    ...(QUICK ? ['QUICK: smaller sizes than the targets are set for (the full run: 20,000 REST upserts, batches of 100,000, 1,000,000 rules).', ''] : []),
    ...mdTable(['what', 'rules', 'rules/s or figure', 'target', 'met'],
      rows.map((r) => [r.what, r.rules.toLocaleString('en'), r.rate === null ? r.figure! : r.rate.toLocaleString('en'), r.target, met(r)])),
    '', 'met: rates against their target; the start-up by its reconcile, GET /stats by its p50, GET /healthz by its slowest answer.',
    '', `Reproduce: \`${cmd}\``,
  ]);
  if (args.includes('--json')) return console.log(JSON.stringify({ ...h, rows }, null, 2));
  for (const l of lines) console.log(l);
  console.log(`${'what'.padEnd(64)} ${'rules'.padStart(9)} ${'rules/s'.padStart(9)}  target`);
  for (const r of rows) console.log(`${r.what.padEnd(64)} ${String(r.rules).padStart(9)} ${(r.rate === null ? r.figure! : String(r.rate)).padStart(9)}  ${r.target}${r.ok === false ? '  MISSED' : ''}`);
}

await main();
