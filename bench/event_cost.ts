// event_cost.ts - build/bench_event_cost (bench/event_cost.c: what packet events cost pcf_xdp
// per packet, BPF_PROG_TEST_RUN on a frame hitting a DROP rule: built without events, events
// off, on but not sampled, over the rate limit, emitted) run with --json, its figures printed
// and written to bench/results/event_cost.json and .md. QUICK (QUICK=1 or --quick): 3 rounds.
//   node --import tsx bench/event_cost.ts [--quick] [--json] [--repeat N] [--runs N] [--rounds N] [--cpu N]
// The options but --quick and --json go to the timer as they are; its exit code is this one's.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../test/lib/env.js';
import { describe, header, mdTable, QUICK, writeResults } from './lib/results.js';

const TIMER = path.join(ROOT, 'build/bench_event_cost');
const args = process.argv.slice(2);
const passed = args.filter((a) => a !== '--json' && a !== '--quick');
const given = (name: string) => passed.includes(name);
const timerArgs = ['--json', ...passed, ...(QUICK && !given('--rounds') ? ['--rounds', '3'] : [])];
const optOf = (name: string, def: string) => (timerArgs.includes(name) ? timerArgs[timerArgs.lastIndexOf(name) + 1] : def);

interface Row { variant: string; name: string; ns_min: number; ns_median: number; more_than_before_min: number; more_than_before_median: number }

async function main(): Promise<number> {
  if (!fs.existsSync(TIMER)) throw new Error(`${TIMER} missing: run make -C xdp`);
  const h = await header('event_cost', { xdp: 'BPF_PROG_TEST_RUN (pcf_xdp loaded, not attached)', cpu: given('--cpu') ? `pinned to ${optOf('--cpu', '')}` : 'not pinned' },
    `${optOf('--runs', '20')} runs of ${optOf('--repeat', '10000')} packets per sample, ${optOf('--rounds', '9')} rounds (variants interleaved); min and median over rounds`);
  const t = spawnSync(TIMER, timerArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (t.error) throw t.error;
  if (t.status !== 0) {
    process.stdout.write(t.stdout);
    return t.status ?? 1;
  }
  const res = JSON.parse(t.stdout) as { kernel: string; repeat: number; runs: number; rounds: number; events: number; results: Row[] };
  const by = (k: string) => res.results.find((r) => r.variant === k)!;
  const noEvent = Math.max(by('off').more_than_before_min, by('unsampled').more_than_before_min);
  const body = {
    ...res,
    emit_ns: +(by('emitted').ns_min - by('off').ns_min).toFixed(2),
    targets: [{ what: 'a packet that emits no event, more than before (min of off and unsampled)', value: noEvent, target: 'nothing measurable (< 2 ns)', ok: noEvent < 2 }],
  };
  const cmd = `${QUICK && !args.includes('--quick') ? 'QUICK=1 ' : ''}node --import tsx bench/event_cost.ts${args.length ? ` ${args.join(' ')}` : ''}`;
  const md = [
    '## Packet events: what they cost pcf_xdp per packet (BPF_PROG_TEST_RUN)', '',
    ...describe(h).map((l) => `- ${l}`), '',
    `64-byte UDP frame hitting a DROP rule, kernel ${res.kernel}; ${res.events.toLocaleString('en')} events emitted and read in all (every packet of the emitted variant, checked).`, '',
    ...mdTable(['variant', 'ns min', 'vs before', 'ns median', 'vs before'],
      res.results.map((r) => [r.name, r.ns_min.toFixed(1), `${r.more_than_before_min >= 0 ? '+' : ''}${r.more_than_before_min.toFixed(1)}`, r.ns_median.toFixed(1), `${r.more_than_before_median >= 0 ? '+' : ''}${r.more_than_before_median.toFixed(1)}`])),
    '', `Emitting one event costs ${body.emit_ns} ns (emitted - off, min): the clock, the per-CPU bucket, a ring reserve and submit, the counter.`, '',
    ...mdTable(['target', 'value', 'wanted', 'met'], body.targets.map((x) => [x.what, `${x.value.toFixed(1)} ns`, x.target, x.ok ? 'yes' : 'NO'])),
    '', `Reproduce: \`${cmd}\``,
  ];
  writeResults(h, body, md);
  if (args.includes('--json')) console.log(JSON.stringify({ ...h, ...body }, null, 2));
  else console.log(md.join('\n'));
  return 0;
}

process.exitCode = await main();
