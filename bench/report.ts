// report.ts - bench/results/REPORT.md: every benchmark's section (bench/results/<name>.md, written
// by the benchmark through bench/lib/results.ts) joined in a fixed order under a short header
// (when, the commit, the machine) and a table of the sections: when each was measured, QUICK or
// not, how long it took, and what became of it in the last `make bench` (bench/run.sh passes
// that). A benchmark without a section is reported as missing, one that failed says so above its
// previous section (if any), and a section older than the newest by more than a day says its date.
// reliability has no section: its table is drawn from bench/results/reliability.json
// (`make reliability`).
//   node --import tsx bench/report.ts [--since ISO] [--ran NAME[:S]]... [--failed NAME[:S]] [--not-run NAME]...
//   --since      when this run began: sections measured before it are from an earlier run
//   --ran NAME:S a benchmark this run ran (S seconds); --failed: one that failed; --not-run: one
//                this run did not reach (it stopped at the failure)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT } from '../test/lib/env.js';
import { commit, mdTable, RESULTS } from './lib/results.js';

/** The report's order, and what each benchmark is (for a missing section's title). */
const BENCHMARKS: { name: string; script: string; what: string }[] = [
  { name: 'rfc2544', script: 'bench/rfc2544.ts', what: 'RFC 2544 throughput, latency and loss through the datapath' },
  { name: 'xdp_cost', script: 'bench/xdp_cost.ts', what: 'XDP cost per packet against the XDP_PASS floor (BPF_PROG_TEST_RUN)' },
  { name: 'event_cost', script: 'bench/event_cost.ts', what: 'packet events: what they cost pcf_xdp per packet (BPF_PROG_TEST_RUN)' },
  { name: 'classifier_cost', script: 'bench/classifier_cost.ts', what: 'classifier cost per packet, exact and prefix rule sets (BPF_PROG_TEST_RUN)' },
  { name: 'rules_rate', script: 'bench/rules_rate.ts', what: 'rules per second into SQLite and the map' },
  { name: 'stats_cost', script: 'bench/stats_cost.ts', what: 'GET /stats and writes under pollers' },
  { name: 'reliability', script: 'reliability/run.ts', what: 'reliability suite (make reliability)' },
];
const DAY_MS = 24 * 3600 * 1000;

const args = process.argv.slice(2);
const all = (flag: string) => args.flatMap((a, i) => (a === flag && i + 1 < args.length ? [args[i + 1]] : []));
const named = (flag: string) => new Map(all(flag).flatMap((v) => v.split(',')).filter(Boolean).map((v) => {
  const [name, s] = v.split(':');
  return [name, s === undefined ? null : Number(s)] as const;
}));
const since = all('--since')[0] ? new Date(all('--since')[0]) : null;
const ran = named('--ran'), failed = named('--failed'), notRun = named('--not-run');
const inRun = since !== null || ran.size + failed.size + notRun.size > 0;

interface Section {
  name: string;
  what: string;
  script: string;
  /** The section's Markdown lines (title first), or null when there is none. */
  md: string[] | null;
  date: Date | null;
  quick: boolean | null;
  seconds: number | null;
  commit: string | null;
}

const readJson = (file: string): any => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
};
const dateOr = (s: unknown, fallback: Date | null) => (typeof s === 'string' && !Number.isNaN(Date.parse(s)) ? new Date(s) : fallback);
const mtime = (file: string) => (fs.existsSync(file) ? fs.statSync(file).mtime : null);
const day = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** reliability.json's rows as a section (it is written by make reliability, with no .md). */
function reliability(b: (typeof BENCHMARKS)[number]): Section {
  const file = path.join(RESULTS, 'reliability.json');
  const j = readJson(file);
  if (!j?.rows) return { ...b, md: null, date: null, quick: null, seconds: null, commit: null };
  const date = dateOr(j.finished_at ?? j.started_at, mtime(file));
  const md = [
    `## Reliability: kills, replaces, restarts, fuzzing, crafted frames, soak`, '',
    `- reliability${j.short ? ' (--short)' : ''}: ${date ? date.toISOString() : 'date unknown'}${j.commit?.commit ? `, commit ${j.commit.commit}` : ''}; ` +
      `${j.seconds ?? '?'} s; kernel ${j.machine?.kernel ?? '?'}, ${j.machine?.cpus ?? '?'} CPUs`,
    '- written by `make reliability` (reliability/run.ts), not by `make bench`: this table is drawn from bench/results/reliability.json', '',
    ...mdTable(['part', 'trials', 'figure', 'target', 'met'],
      (j.rows as any[]).map((r) => [cell(String(r.part)), r.trials ?? '-', cell(String(r.figure ?? '')), cell(String(r.target ?? '')), r.ok === true ? 'yes' : r.ok === false ? 'NO' : '-'])),
    '', 'Reproduce: `make reliability`',
  ];
  return { ...b, md, date, quick: j.short ?? null, seconds: typeof j.seconds === 'number' ? j.seconds : null, commit: j.commit?.commit ?? null };
}

function section(b: (typeof BENCHMARKS)[number]): Section {
  if (b.name === 'reliability') return reliability(b);
  const mdFile = path.join(RESULTS, `${b.name}.md`);
  const j = readJson(path.join(RESULTS, `${b.name}.json`));
  if (!fs.existsSync(mdFile)) return { ...b, md: null, date: null, quick: null, seconds: null, commit: null };
  const md = fs.readFileSync(mdFile, 'utf8').replace(/\s+$/, '').split('\n');
  const start = dateOr(j?.started_at, null), end = dateOr(j?.finished_at, null);
  return {
    ...b, md, date: start ?? mtime(mdFile), quick: typeof j?.quick === 'boolean' ? j.quick : null,
    seconds: start && end ? Math.round((end.getTime() - start.getTime()) / 1000) : null,
    commit: j?.commit?.commit ? `${j.commit.commit}${j.commit.modified ? '+' : ''}` : null,
  };
}

const sections = BENCHMARKS.map(section);
const newest = sections.reduce<Date | null>((a, s) => (s.date && (!a || s.date > a) ? s.date : a), null);
const firstFailed = [...failed.keys()][0];

/** What became of the benchmark in this run, and the notes above its section. */
function status(s: Section): { status: string; notes: string[] } {
  const notes: string[] = [];
  let st: string;
  const fresh = s.date && since ? s.date >= since : null;
  if (failed.has(s.name)) {
    st = 'FAILED';
    notes.push(`**FAILED in this run** (bench/run.sh${failed.get(s.name) !== null ? `, after ${failed.get(s.name)} s` : ''}): ` +
      (s.md ? (fresh ? 'the section below was written by the failed run and may be partial.' : `the section below is the previous run's, from ${day(s.date!)}.`) : 'no section from an earlier run either.'));
  } else if (notRun.has(s.name)) {
    st = 'not run';
    notes.push(`**Not run this time**: the run stopped after ${firstFailed ?? 'a benchmark'} failed.${s.md ? ` The section below is from ${day(s.date!)}.` : ''}`);
  } else if (ran.has(s.name)) {
    st = !s.md ? 'ran, no section' : fresh === false ? 'ran; section not this run\'s' : 'ran';
    if (!s.md) notes.push(`**Ran this time but wrote no section**: ${s.script} writes no bench/results/${s.name}.md.`);
    else if (fresh === false)
      notes.push(`**Ran this time, but the section below is not this run's**: it was measured at ${s.date!.toISOString()}, before this run began (the benchmark did not write its section, or another run of it overwrote it).`);
  } else if (inRun && s.name !== 'reliability') {
    st = s.md ? 'earlier run' : 'missing';
    notes.push(fs.existsSync(path.join(ROOT, s.script)) ? `Not run by this \`make bench\`.` : `Not run: ${s.script} is not in this tree.`);
  } else st = s.md ? (s.name === 'reliability' ? 'make reliability' : 'present') : 'missing';
  if (s.md && s.date && newest && newest.getTime() - s.date.getTime() > DAY_MS)
    notes.push(`Note: this section is from ${day(s.date)}, ${Math.floor((newest.getTime() - s.date.getTime()) / DAY_MS)} day(s) older than the newest run (${day(newest)}).`);
  return { status: st, notes };
}

function machineLine(): string {
  const cpu = os.cpus();
  let hyper: string | null = null;
  try {
    hyper = execFileSync('lscpu', [], { encoding: 'utf8' }).match(/Hypervisor vendor:\s*(.*)/)?.[1] ?? null;
  } catch {
    /* no lscpu */
  }
  return `${cpu[0]?.model ?? 'unknown'}, ${cpu.length} CPUs${hyper ? ` (${hyper} guest)` : ''}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; kernel ${os.release()}; ${os.hostname()}`;
}

const c = commit();
let subject = '';
try {
  subject = execFileSync('git', ['-C', ROOT, 'log', '-1', '--format=%s'], { encoding: 'utf8' }).trim().replace(/^(.{77}).{4,}$/, '$1...');
} catch {
  /* no git */
}
const st = sections.map(status);
const out: string[] = [
  '# pcf-afxdp benchmarks', '',
  `- written: ${new Date().toISOString()}${since ? ` (bench/run.sh, begun ${since.toISOString()}${process.env.QUICK === '1' ? ', QUICK=1' : ''})` : ''}`,
  `- commit: ${c.commit}${c.modified ? ' + uncommitted changes' : ''}${subject ? ` "${subject}"` : ''}`,
  `- machine: ${machineLine()}`,
  ...(failed.size ? [`- **failed: ${[...failed.keys()].join(', ')}**${notRun.size ? `; not run after it: ${[...notRun.keys()].join(', ')}` : ''}`] : []),
  '- each section says its own run, commit, machine (and whether it was busy), modes and trial length; QUICK sections are short runs, not comparable with the targets', '',
  ...mdTable(['benchmark', 'measured', 'commit', 'QUICK', 'took', 'status'], sections.map((s, i) => {
    const took = ran.get(s.name) ?? failed.get(s.name) ?? s.seconds ?? null;
    return [s.md ? `[${s.name}](#${s.name.replace(/_/g, '-')})` : s.name, s.date ? day(s.date) : '-', s.commit ?? '-', s.quick === null ? '-' : s.quick ? 'yes' : 'no', took === null ? '-' : `${took} s`, st[i].status];
  })),
];
sections.forEach((s, i) => {
  out.push('', `<a id="${s.name.replace(/_/g, '-')}"></a>`, '');
  const notes = st[i].notes.flatMap((n) => [`> ${n}`, '>']).slice(0, -1);
  if (!s.md) {
    out.push(`## ${s.what}: missing`, '', ...(notes.length ? [...notes, ''] : []),
      s.name === 'reliability' ? 'No bench/results/reliability.json: run `make reliability`.'
        : ran.has(s.name) ? `No bench/results/${s.name}.md: its figures are in the console output of this run only.`
        : `No bench/results/${s.name}.md: run \`make bench\` (or \`node --import tsx ${s.script}\`).`);
    return;
  }
  out.push(s.md[0], '', ...(notes.length ? [...notes, ''] : []), ...s.md.slice(1).join('\n').replace(/^\n+/, '').split('\n'));
});
fs.mkdirSync(RESULTS, { recursive: true });
const file = path.join(RESULTS, 'REPORT.md');
fs.writeFileSync(file, `${out.join('\n')}\n`);
console.log(`wrote ${path.relative(ROOT, file)}: ${sections.map((s, i) => `${s.name} ${st[i].status}`).join(', ')}`);
