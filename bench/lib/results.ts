// results.ts - what every benchmark records beside its figures: the machine, the kernel, the
// commit, whether the machine was busy when it started, the modes and the trial length; and
// where it writes them (bench/results/<name>.json and <name>.md, the report's section of it;
// bench/report.ts joins the sections into bench/results/REPORT.md).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../test/lib/env.js';

export const RESULTS = path.join(ROOT, 'bench/results');

/** `make bench QUICK=1` (or --quick): a short version of every benchmark, a few minutes in all. */
export const QUICK = process.env.QUICK === '1' || process.argv.includes('--quick');

export interface Machine {
  cpu_model: string;
  cpus: number;
  hypervisor: string | null;
  kernel: string;
  mem_gib: number;
  /** The share of all CPUs busy over a second before the benchmark began (its own load excluded:
   * nothing of it runs yet). Above BUSY_PCT the run says it was made on a busy machine. */
  busy_before_pct: number;
  busy: boolean;
}

export const BUSY_PCT = 10;

/** [busy, total] jiffies of all CPUs, or of one (`cpu N` line of /proc/stat). */
export function cpuTicks(cpu?: number): [number, number] {
  const name = cpu === undefined ? 'cpu' : `cpu${cpu}`;
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`${name} `))!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  return [f.reduce((a, b) => a + b, 0) - idle, f.reduce((a, b) => a + b, 0)];
}

/** How busy the machine is over `ms` (percent of all CPUs). */
export async function busyPct(ms = 1000): Promise<number> {
  const [b0, t0] = cpuTicks();
  await new Promise((r) => setTimeout(r, ms));
  const [b1, t1] = cpuTicks();
  return t1 > t0 ? Math.round(((b1 - b0) / (t1 - t0)) * 1000) / 10 : 0;
}

export async function machine(): Promise<Machine> {
  const cpu = os.cpus();
  let hypervisor: string | null = null;
  try {
    hypervisor = execFileSync('lscpu', [], { encoding: 'utf8' }).match(/Hypervisor vendor:\s*(.*)/)?.[1] ?? null;
  } catch {
    /* no lscpu */
  }
  const busy = await busyPct();
  return {
    cpu_model: cpu[0]?.model ?? 'unknown', cpus: cpu.length, hypervisor, kernel: os.release(),
    mem_gib: Math.round(os.totalmem() / 2 ** 30), busy_before_pct: busy, busy: busy > BUSY_PCT,
  };
}

/** The commit measured, and whether the tree had changes. */
export function commit(): { commit: string; modified: boolean } {
  const git = (...a: string[]) => execFileSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' }).trim();
  try {
    return { commit: git('rev-parse', '--short', 'HEAD'), modified: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return { commit: 'unknown', modified: false };
  }
}

export interface Header {
  name: string;
  started_at: string;
  quick: boolean;
  machine: Machine;
  commit: { commit: string; modified: boolean };
  /** How the datapath ran: xdp (native/generic), af_xdp (copy/zero-copy), poll (busy/wakeup), ... */
  modes: Record<string, string>;
  /** One trial's length and how many trials each figure has, in words ("2 s, 3 trials"). */
  trial: string;
}

/** The header of a run: call at its start (it measures how busy the machine is first). */
export async function header(name: string, modes: Record<string, string>, trial: string): Promise<Header> {
  return { name, started_at: new Date().toISOString(), quick: QUICK, machine: await machine(), commit: commit(), modes, trial };
}

/** The header as the lines a benchmark prints above its figures (and its report section). */
export function describe(h: Header): string[] {
  const m = h.machine;
  const modes = Object.entries(h.modes).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `${h.name}${h.quick ? ' (QUICK)' : ''}: ${h.started_at}, commit ${h.commit.commit}${h.commit.modified ? ' + uncommitted changes' : ''}`,
    `machine: ${m.cpu_model}, ${m.cpus} CPUs${m.hypervisor ? ` (${m.hypervisor} guest)` : ''}, ${m.mem_gib} GiB; kernel ${m.kernel}`,
    `modes: ${modes || 'n/a'}; trial: ${h.trial}`,
    ...(m.busy ? [`WARNING: the machine was busy before the run (${m.busy_before_pct}% of all CPUs): figures are lower than on a quiet machine`] : []),
  ];
}

/** Writes bench/results/<name>.json (header + body) and <name>.md (the report's section). */
export function writeResults(h: Header, body: object, markdown: string[]): string {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${h.name}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ ...h, finished_at: new Date().toISOString(), ...body }, null, 2)}\n`);
  fs.writeFileSync(path.join(RESULTS, `${h.name}.md`), `${markdown.join('\n')}\n`);
  return file;
}

/** A Markdown table from a header row and rows of cells. */
export function mdTable(head: string[], rows: (string | number)[][]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}
