// xdp_cost.ts - build/bench_xdp_cost (bench/xdp_cost.c: what pcf_xdp costs per packet against
// the XDP_PASS floor, BPF_PROG_TEST_RUN on a 64-byte UDP frame, 1 rule and --rules rules) run
// with --json, its figures printed as the C program prints them, under the run's header, and
// written to bench/results/xdp_cost.json and .md. QUICK (QUICK=1 or --quick): 3 rounds.
//   node --import tsx bench/xdp_cost.ts [--quick] [--json] [--repeat N] [--rounds N] [--rules N]
//                                       [--cpu N] [--max-ratio R]
// The options but --quick and --json go to build/bench_xdp_cost as they are; its exit code is
// this one's (77: not root or no BPF, 1: an error or --max-ratio exceeded, after the results).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../test/lib/env.js';
import { describe, header, mdTable, QUICK, writeResults } from './lib/results.js';

const TIMER = path.join(ROOT, 'build/bench_xdp_cost');
const args = process.argv.slice(2);
const JSON_OUT = args.includes('--json');
const passed = args.filter((a) => a !== '--json' && a !== '--quick');
const given = (name: string) => passed.includes(name);
const timerArgs = ['--json', ...passed, ...(QUICK && !given('--rounds') ? ['--rounds', '3'] : [])];
const optOf = (name: string, def: string) => (timerArgs.includes(name) ? timerArgs[timerArgs.lastIndexOf(name) + 1] : def);

interface Row {
  variant: string;
  rules: number;
  method: 'direct' | 'shim';
  ns_per_pkt: number;
  ratio: number;
  ns_per_pkt_median: number;
  ratio_median: number;
  direct_ns: number | null;
  shim_ns: number;
}

/** The C program's names of its variants (its text table's first column). */
const NAMES: Record<string, string> = {
  floor: 'floor (XDP_PASS only)', hit_drop: 'hit drop', hit_pass: 'hit pass + metadata',
  hit_redirect_fallback: 'hit redirect, no socket', miss: 'miss (default pass)',
};

async function main(): Promise<number> {
  if (!fs.existsSync(TIMER)) throw new Error(`${TIMER} missing: run make -C xdp`);
  const rounds = optOf('--rounds', '7'), repeat = Number(optOf('--repeat', '1000000'));
  const h = await header('xdp_cost', { xdp: 'BPF_PROG_TEST_RUN (pcf_xdp loaded, not attached)', cpu: given('--cpu') ? `pinned to ${optOf('--cpu', '')}` : 'not pinned' },
    `repeat ${repeat.toLocaleString('en')} per test run, ${rounds} rounds (variants interleaved); min and median over rounds`);
  const t = spawnSync(TIMER, timerArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
  if (t.error) throw t.error;
  if (t.status === 77 || t.status === 2) {
    process.stdout.write(t.stdout);
    return t.status;
  }
  let res: { kernel: string; repeat: number; rounds: number; frame_bytes: number; flow_map_max_entries: number; floor_ns: number; shim_floor_ns: number; results: Row[]; worst_hit_ratio: number };
  try {
    res = JSON.parse(t.stdout);
  } catch {
    throw new Error(`bench_xdp_cost exited ${t.status} without its JSON: ${t.stdout.trim().slice(0, 500)}`);
  }
  const shim = +(res.shim_floor_ns - res.floor_ns).toFixed(2);
  const maxRatio = given('--max-ratio') ? Number(optOf('--max-ratio', '0')) : null;
  const body = {
    ...res, shim_overhead_ns: shim,
    targets: [{ what: 'worst hit / floor (min)', value: res.worst_hit_ratio, target: maxRatio ? `<= ${maxRatio} (--max-ratio)` : 'none set (reported)', ok: maxRatio ? res.worst_hit_ratio <= maxRatio : null }],
  };
  const lines = describe(h);
  const cmd = `${QUICK && !args.includes('--quick') ? 'QUICK=1 ' : ''}node --import tsx bench/xdp_cost.ts${args.length ? ` ${args.join(' ')}` : ''}`;
  const md = [
    '## XDP cost per packet: pcf_xdp against the XDP_PASS floor (BPF_PROG_TEST_RUN)', '',
    ...lines.map((l) => `- ${l}`), '',
    `64-byte UDP frame, kernel ${res.kernel}, pcf_flow_map max_entries ${res.flow_map_max_entries.toLocaleString('en')}; the same frame every run (the entry is cache-hot: the datapath's own cost). ` +
      `"shim" rows (programs that write metadata) run behind xdp_cost_shim, less the shim's own cost (${shim} ns).`, '',
    ...mdTable(['variant', 'rules', 'method', 'ns min', 'x floor', 'ns median', 'x floor (median)'],
      res.results.map((r) => [NAMES[r.variant] ?? r.variant, r.rules.toLocaleString('en'), r.method, r.ns_per_pkt.toFixed(1), r.ratio.toFixed(2), r.ns_per_pkt_median.toFixed(1), r.ratio_median.toFixed(2)])),
    '',
    ...mdTable(['target', 'value', 'wanted', 'met'], body.targets.map((x) => [x.what, x.value.toFixed(2), x.target, x.ok === null ? '-' : x.ok ? 'yes' : 'NO'])),
    '', `Reproduce: \`${cmd}\``,
  ];
  writeResults(h, body, md);
  if (JSON_OUT) console.log(JSON.stringify({ ...h, ...body }, null, 2));
  else {
    for (const l of lines) console.log(l);
    // As build/bench_xdp_cost prints it without --json.
    console.log(`pcf_xdp cost per packet: BPF_PROG_TEST_RUN, 64-byte UDP frame, repeat ${res.repeat}, ${res.rounds} rounds\n(variants interleaved), kernel ${res.kernel}, pcf_flow_map max_entries ${res.flow_map_max_entries}.\n` +
      "ns/packet is the fastest round (min) and the median round; 'via shim' rows (programs\nthat write metadata) are measured behind xdp_cost_shim, less the shim's own cost.\n");
    console.log(`${'variant'.padEnd(26)} ${'rules'.padStart(7)} ${'method'.padStart(7)} ${'ns min'.padStart(8)} ${'x floor'.padStart(8)} ${'ns med'.padStart(8)} ${'x floor'.padStart(8)}`);
    for (const r of res.results)
      console.log(`${(NAMES[r.variant] ?? r.variant).padEnd(26)} ${String(r.rules).padStart(7)} ${r.method.padStart(7)} ${r.ns_per_pkt.toFixed(1).padStart(8)} ${r.ratio.toFixed(2).padStart(8)} ${r.ns_per_pkt_median.toFixed(1).padStart(8)} ${r.ratio_median.toFixed(2).padStart(8)}`);
    console.log(`\nworst hit / floor (min): ${res.worst_hit_ratio.toFixed(2)}   shim overhead: ${shim.toFixed(1)} ns`);
    console.log(`\nwrote ${path.relative(ROOT, path.join(ROOT, 'bench/results/xdp_cost.json'))} and xdp_cost.md`);
  }
  return t.status ?? 1;
}

process.exitCode = await main();
