// classifier_cost.ts - the per-packet cost of the classifier (issue 7), in one run: the attached
// pcf_xdp with rule sets written through the real control plane (FlowService.batchUpsert,
// in-process; exact-only 1 / 100,000 / 1,000,000 rules, prefix and range rules 1,000 / 10,000 /
// 100,000 in 1 / 8 / 32 shapes, IPv4 and IPv6), timed by BPF_PROG_TEST_RUN
// (build/bench_classifier_cost, bench/classifier_cost.c) on the same frame as the XDP_PASS
// floor, xdp-filter (the xdp-tools tool, one port rule) and, for exact rules, the program before
// the classifier (built from git) and the current one, both loaded beside with a copy of the
// exact table: one hot flow (repeat 1,000,000) and 65,536 new flows (kernel BPF stats); then
// rules per second through gRPC BatchUpsertFlows and the time until packets see a batch.
// Prints the run's header and one table; writes bench/results/classifier_cost.json and
// classifier_cost.md (the report's section) every time (--json, which used to ask for the file,
// is still accepted).
//   node --import tsx bench/classifier_cost.ts [--quick] [--json] [--cpu N] [--before REF]
//   --quick     (or QUICK=1) 3 rounds and no 1,000,000-rule set (a few minutes)
//   --cpu N     the CPU the timer runs on (default 1)
//   --before R  the git commit of "before" (default: the newest commit of xdp/pcf_xdp.bpf.c
//               without the flow cache)
//   --rounds N, --only REGEX (set keys such as exact/100000, prefix/v6/10000/32), --no-rates:
//               a partial run, for a look
// Needs root, `make -C xdp` and xdp-filter (xdp-tools). Everything it creates (a network
// namespace, veths, a pin dir, SQLite files, a temp dir) is removed at the end, failure or not.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Running } from '../server/app.js';
import { call, grpcClient, startInProcess, tempDb } from '../test/lib/cp.js';
import { datapathUnavailable, LOADER, ROOT } from '../test/lib/env.js';
import { hex, udp4, udp6 } from '../test/lib/packets.js';
import { mulberry32 } from '../test/lib/prng.js';
import { median } from '../test/lib/samples.js';
import { describe, header, mdTable, QUICK, writeResults, type Header } from './lib/results.js';

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(n);
const optArg = (n: string) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : undefined;
};
const CPU = Number(optArg('--cpu') ?? 1);
const ROUNDS = Number(optArg('--rounds') ?? (QUICK ? 3 : 9));
const ONLY = optArg('--only'); // a RegExp over set keys (exact/100000, prefix/v6/10000/32): a subset, for a look
const NO_RATES = flag('--no-rates');
const REPEAT = 1_000_000;
const PER_ROUND = 65_536; // distinct flows per round, and hot stats runs per round
const MAX_BATCH = 200_000;
const RATE_TRIALS = QUICK ? 1 : 3;
const LATENCY_TRIALS = QUICK ? 3 : 5;

const TIMER = path.join(ROOT, 'build/bench_classifier_cost');
const FLOOR_OBJ = path.join(ROOT, 'build/pass.bpf.o');
const SHIM_OBJ = path.join(ROOT, 'build/xdp_cost_shim.bpf.o');
const XDP_PASS = 2, XDP_DROP = 1;

const NAME = `pcc${process.pid.toString(36)}`;
const NS = NAME;
const IF_PCF = `${NAME}a`, IF_PCF_PEER = `${NAME}b`, IF_XF = `${NAME}c`, IF_XF_PEER = `${NAME}d`;
// Idle veths that hold the timer's other entry programs in the kernel's XDP dispatcher while it
// runs (bench/classifier_cost.c: parking), so that a repeated test run costs no dispatcher update.
const IF_PARK = ['e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'].map((c) => `${NAME}${c}`);
const HEAD_OBJ = path.join(ROOT, 'build/pcf_xdp.bpf.o'); // the control "after, loaded beside": the program attached
const PIN = `/sys/fs/bpf/${NAME}`;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-classifier-cost-'));

const sh = (cmd: string, a: string[], opts: { env?: NodeJS.ProcessEnv } = {}) => execFileSync(cmd, a, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
const inNs = (cmd: string, a: string[]) => sh('nsenter', [`--net=/run/netns/${NS}`, cmd, ...a]);
const log = (s: string) => process.stderr.write(`${s}\n`);

// ---- addresses, rules, frames -------------------------------------------------------------

/** The same rule sets on every run. */
const prng = mulberry32;

type Fam = 4 | 6;
// Addresses only from 198.18.0.0/15 and 2001:2::/48, as bigints.
const V4_BASE = 0xc6120000n, V4_FREE = 17n;
const V6_BASE = 0x20010002000000000000000000000000n, V6_FREE = 80n;
const bits = (f: Fam) => (f === 4 ? 32n : 128n);
const maskOf = (f: Fam, len: number) => ((1n << bits(f)) - 1n) ^ ((1n << (bits(f) - BigInt(len))) - 1n);
function addrText(f: Fam, a: bigint): string {
  if (f === 4) return [24n, 16n, 8n, 0n].map((s) => Number((a >> s) & 255n)).join('.');
  const g: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) g.push(((a >> s) & 0xffffn).toString(16));
  return g.join(':');
}
function randomAddr(f: Fam, rnd: () => number): bigint {
  let x = 0n;
  const free = f === 4 ? V4_FREE : V6_FREE;
  for (let b = 0n; b < free; b += 16n) x = (x << 16n) | BigInt(Math.floor(rnd() * 65536));
  return (f === 4 ? V4_BASE : V6_BASE) | (x & ((1n << free) - 1n));
}

/** The timed packet's hosts, and the probes of the latency measurement: no filler rule covers them. */
const HOSTS = {
  4: { src: 0xc6120001n, dst: 0xc6120101n }, // 198.18.0.1 -> 198.18.1.1
  6: { src: V6_BASE | 1n, dst: V6_BASE | (1n << 64n) | 1n }, // 2001:2::1 -> 2001:2:0:1::1
};
const PROBES = Array.from({ length: LATENCY_TRIALS }, (_, k) => ({ src: 0xc6120002n + BigInt(k), dst: 0xc6120102n + BigInt(k) }));
const TIMED_SPORT = 40000, TIMED_DPORT = 2152; // inside the timed rule's ranges
const RULE_DPORTS = '2000-2999';
const TIMED_PRECEDENCE = 1_000_000; // above every filler's: the timed rule ranks last

// Shapes: (source, destination prefix length), protocol one value (UDP), ports ranges; shape
// k is (SRC[k >> 2], DST[k & 3]): 1 shape is /32 -> /32 (the timed rule's), 8 add /31../30.
const SHAPE_LENS: Record<Fam, { src: number[]; dst: number[] }> = {
  4: { src: [32, 31, 30, 29, 28, 27, 26, 24], dst: [32, 28, 24, 22] },
  6: { src: [128, 124, 120, 112, 104, 96, 80, 64], dst: [128, 112, 96, 64] },
};
const shapeOf = (f: Fam, k: number) => ({ src: SHAPE_LENS[f].src[k >> 2], dst: SHAPE_LENS[f].dst[k & 3] });

interface MatchSpec {
  match: { src: string; dst: string; dst_ports: string; proto: number };
  precedence: number;
  action: { type: string };
}

const covers = (f: Fam, net: bigint, len: number, a: bigint) => (a & maskOf(f, len)) === net;

/** n prefix rules in `shapes` shapes of family f; the first is the timed rule (or none). */
function prefixRules(f: Fam, n: number, shapes: number, seed: number, first: MatchSpec | null, protect: { src: bigint; dst: bigint }[]): MatchSpec[] {
  const rnd = prng(seed);
  const out: MatchSpec[] = first ? [first] : [];
  const seen = new Set<string>(first ? [`${first.match.src}|${first.match.dst}`] : []);
  while (out.length < n) {
    const sh = shapeOf(f, out.length % shapes);
    const src = randomAddr(f, rnd) & maskOf(f, sh.src), dst = randomAddr(f, rnd) & maskOf(f, sh.dst);
    if (protect.some((h) => covers(f, src, sh.src, h.src) && covers(f, dst, sh.dst, h.dst))) continue;
    const m = { src: `${addrText(f, src)}/${sh.src}`, dst: `${addrText(f, dst)}/${sh.dst}` };
    const key = `${m.src}|${m.dst}`; // one rule per bucket
    if (seen.has(key)) continue;
    seen.add(key);
    const lo = 1024 + Math.floor(rnd() * 60000);
    out.push({ match: { ...m, dst_ports: `${lo}-${lo + 1 + Math.floor(rnd() * 999)}`, proto: 17 }, precedence: 1 + Math.floor(rnd() * 100000), action: { type: 'PASS' } });
  }
  return out;
}

const timedRule = (f: Fam): MatchSpec => ({
  match: { src: `${addrText(f, HOSTS[f].src)}/${f === 4 ? 32 : 128}`, dst: `${addrText(f, HOSTS[f].dst)}/${f === 4 ? 32 : 128}`, dst_ports: RULE_DPORTS, proto: 17 },
  precedence: TIMED_PRECEDENCE,
  action: { type: 'PASS' },
});

/** Exact rule i (a key, no precedence): 0 is the timed packet's; the others 198.19.x.y:1024+. */
function exactKey(i: number) {
  if (i === 0) return { src_ip: addrText(4, HOSTS[4].src), dst_ip: addrText(4, HOSTS[4].dst), src_port: TIMED_SPORT, dst_port: TIMED_DPORT, proto: 17 };
  const a = i % 65536;
  return { src_ip: `198.19.${a >> 8}.${a & 255}`, dst_ip: '198.18.1.1', src_port: 1024 + Math.floor(i / 65536), dst_port: TIMED_DPORT, proto: 17 };
}

/** A 64-byte UDP frame. */
function frame(f: Fam, src: string, dst: string, sport: number, dport: number): Buffer {
  return f === 4 ? udp4({ src, dst, sport, dport, payload: Buffer.alloc(22) }) : udp6({ src, dst, sport, dport, payload: Buffer.alloc(2) });
}
const timedFrame = (f: Fam) => frame(f, addrText(f, HOSTS[f].src), addrText(f, HOSTS[f].dst), TIMED_SPORT, TIMED_DPORT);

/** The file of the timer's --flows: <u16 LE length><frame> each. */
function writeFlows(file: string, frames: Buffer[]): void {
  const parts: Buffer[] = [];
  for (const fr of frames) {
    const l = Buffer.alloc(2);
    l.writeUInt16LE(fr.length);
    parts.push(l, fr);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

/** Prefix sets: phase p (0 room, 1 full) of round r is the timed hosts, source port k,
 * destination port 2200 + 2r + p: new to the flow cache every time (the hot flow's is 2152). */
const PREFIX_PHASES = 2;
function prefixFlows(f: Fam, rounds: number): Buffer[] {
  const base = timedFrame(f);
  const udp = f === 4 ? 34 : 54;
  const out: Buffer[] = [];
  for (let r = 0; r < rounds; r++)
    for (let p = 0; p < PREFIX_PHASES; p++)
      for (let k = 0; k < PER_ROUND; k++) {
        const b = Buffer.from(base);
        b.writeUInt16BE(k, udp);
        b.writeUInt16BE(2200 + PREFIX_PHASES * r + p, udp + 2);
        out.push(b);
      }
  return out;
}

/** Exact sets: 65,536 distinct rules spread over the set, in a shuffled order (the walk
 * follows neither the rules' order nor the hash's), the same ones every round. */
function exactFlows(n: number): Buffer[] {
  const idx = Array.from({ length: PER_ROUND }, (_, k) => 1 + Math.floor((k * (n - 1)) / PER_ROUND));
  const rnd = prng(4242);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.map((i) => {
    const key = exactKey(i);
    return frame(4, key.src_ip, key.dst_ip, key.src_port, key.dst_port);
  });
}

// ---- the machine: namespace, veths, xdp-filter, the program before --------------------------

let torn = false;
function teardown(): void {
  if (torn) return;
  torn = true;
  for (const step of [
    () => inNs(LOADER, ['detach', '--iface', IF_PCF, '--pin-dir', PIN, '--purge']),
    () => sh('ip', ['netns', 'del', NS]),
  ])
    try {
      step();
    } catch {
      /* not there */
    }
  fs.rmSync(PIN, { recursive: true, force: true });
  fs.rmSync(TMP, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(sig, () => {
    teardown();
    process.exit(130);
  });
/** A turn of the event loop, so that a signal that came during the synchronous work (rule
 * writes, the timer) is handled before the next step. */
const turn = () => new Promise<void>((r) => setImmediate(r));

function setupNetns(): void {
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']);
  const pairs = [[IF_PCF, IF_PCF_PEER], [IF_XF, IF_XF_PEER]];
  for (let i = 0; i < IF_PARK.length; i += 2) pairs.push([IF_PARK[i], IF_PARK[i + 1]]);
  for (const [a, b] of pairs) {
    sh('ip', ['-n', NS, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    sh('ip', ['-n', NS, 'link', 'set', a, 'up']);
    sh('ip', ['-n', NS, 'link', 'set', b, 'up']);
  }
}

/** xdp-filter with one port rule (UDP/TCP destination 2152: the timed packet's, so it drops
 * it), loaded by the tool on its own veth. The tool pins its maps at a fixed path
 * (/sys/fs/bpf/xdp-filter, shared with any other user of the tool): here it runs in a private
 * mount namespace with a bpffs of its own, so it shares nothing; the program stays attached to
 * the veth (and goes with the namespace). Returns its program id and name. */
function loadXdpFilter(): { id: number; name: string; version: string } {
  const script = `mount -t bpf bpf /sys/fs/bpf && nsenter --net=/run/netns/${NS} xdp-filter load ${IF_XF} -m native && nsenter --net=/run/netns/${NS} xdp-filter port ${TIMED_DPORT}`;
  // The tool also takes a host-wide lock (/run/xdp-filter.lck): another user of it makes it
  // refuse for a moment.
  for (let attempt = 1; ; attempt++) {
    try {
      sh('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
      break;
    } catch (err) {
      try {
        sh('ip', ['-n', NS, 'link', 'set', IF_XF, 'xdp', 'off']);
      } catch {
        /* nothing attached */
      }
      if (attempt === 10) throw err;
      execFileSync('sleep', ['1']);
    }
  }
  const link = JSON.parse(sh('ip', ['-n', NS, '-j', 'link', 'show', IF_XF]))[0];
  const prog = link.xdp?.prog ?? link.xdp?.attached?.[0]?.prog;
  if (!prog?.id || !String(prog.name).startsWith('xdpfilt')) throw new Error(`xdp-filter is not attached to ${IF_XF}: ${JSON.stringify(link.xdp)}`);
  let version = 'unknown';
  try {
    version = sh('dpkg-query', ['-W', '-f', '${Version}', 'xdp-tools']).trim();
  } catch {
    /* not a Debian package */
  }
  return { id: prog.id, name: prog.name, version };
}

/** Counter names in index order, from a pcf_common.h's PCF_COUNTER_TABLE. */
const counterNames = (header: string) => [...header.matchAll(/^\s*X\((\w+),/gm)].map((m) => m[1]);

/** The program before the classifier: the newest commit of xdp/pcf_xdp.bpf.c without the flow
 * cache (or --before REF), built with that commit's headers and xdp/Makefile's BPF_CFLAGS. */
function buildBefore(): { obj: string; commit: string; subject: string; counters: string[] } | { error: string } {
  try {
    const git = (...a: string[]) => sh('git', ['-C', ROOT, ...a]);
    let commit = optArg('--before');
    if (!commit) {
      for (const c of git('log', '--format=%H', '--', 'xdp/pcf_xdp.bpf.c').trim().split('\n'))
        if (!git('show', `${c}:xdp/pcf_xdp.bpf.c`).includes('pcf_flow_cache')) {
          commit = c;
          break;
        }
    }
    if (!commit) return { error: 'no commit of xdp/pcf_xdp.bpf.c without the flow cache' };
    commit = git('rev-parse', commit).trim();
    const dir = path.join(TMP, 'before');
    fs.mkdirSync(path.join(dir, 'xdp'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'include'), { recursive: true });
    for (const f of ['xdp/pcf_xdp.bpf.c', 'xdp/pcf_maps.bpf.h', 'xdp/pcf_parse.bpf.h', 'include/pcf_common.h'])
      fs.writeFileSync(path.join(dir, f), git('show', `${commit}:${f}`));
    const flags = sh('make', ['-s', '--no-print-directory', '-C', path.join(ROOT, 'xdp'), '-f', 'Makefile', '-f', '-', 'pcf-print-bpf-cflags'], {
      input: 'pcf-print-bpf-cflags: ; @echo $(BPF_CFLAGS)\n',
    } as any).trim().split(/\s+/)
      .map((a) => a.replace(`-I${ROOT}/include`, `-I${dir}/include`).replace(`-I${ROOT}/xdp`, `-I${dir}/xdp`));
    const obj = path.join(dir, 'pcf_xdp_before.bpf.o');
    sh('clang', [...flags, '-c', path.join(dir, 'xdp/pcf_xdp.bpf.c'), '-o', obj]);
    return { obj, commit, subject: git('log', '-1', '--format=%s', commit).trim(), counters: counterNames(fs.readFileSync(path.join(dir, 'include/pcf_common.h'), 'utf8')) };
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] };
  }
}

// ---- one rule set: attach, write through the service, time, take down --------------------

interface Datapath {
  cp: Running;
  dbDir: string;
}

async function up(maxRules: number): Promise<Datapath> {
  inNs(LOADER, ['attach', '--iface', IF_PCF, '--pin-dir', PIN, '--max-rules', String(maxRules)]);
  const db = tempDb();
  try {
    return { cp: await startInProcess(PIN, db.file), dbDir: db.dir };
  } catch (err) {
    fs.rmSync(db.dir, { recursive: true, force: true });
    throw err;
  }
}

async function down(d: Datapath): Promise<void> {
  await d.cp.close();
  fs.rmSync(d.dbDir, { recursive: true, force: true });
  inNs(LOADER, ['detach', '--iface', IF_PCF, '--pin-dir', PIN, '--purge']);
}

/** Writes specs through service.batchUpsert in batches of at most 200,000; ids in order. */
async function write(d: Datapath, specs: unknown[]): Promise<{ ids: number[]; seconds: number }> {
  const ids: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < specs.length; i += MAX_BATCH) {
    const r = await d.cp.service.batchUpsert(specs.slice(i, i + MAX_BATCH));
    if (r.created !== Math.min(MAX_BATCH, specs.length - i)) throw new Error(`batch created ${r.created} rules`);
    for (const id of r.ids) ids.push(id);
  }
  return { ids, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** The timer in the namespace (its --park devices are there; nsenter keeps bpffs). */
function runTimer(a: string[]): any {
  return JSON.parse(inNs(TIMER, [...a, ...IF_PARK.flatMap((i) => ['--park', i])]));
}

interface SetDef {
  key: string;
  kind: 'exact' | 'prefix';
  family: Fam;
  rules: number;
  shapes: number;
}

const stat = (xs: number[]) => ({ median: +median(xs).toFixed(3), min: +Math.min(...xs).toFixed(3), max: +Math.max(...xs).toFixed(3), samples: xs.map((x) => +x.toFixed(3)) });
type Stat = ReturnType<typeof stat>;

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function measureSet(s: SetDef, xf: { id: number }, before: ReturnType<typeof buildBefore>, names: string[]) {
  const maxRules = s.rules > 131072 - 1 ? 1048576 : 131072;
  log(`-- ${s.key}: attach (--max-rules ${maxRules}), write ${s.rules.toLocaleString('en')} rules`);
  const d = await up(maxRules);
  try {
    const specs = s.kind === 'exact'
      ? Array.from({ length: s.rules }, (_, i) => ({ key: exactKey(i), action: { type: 'PASS' } }))
      : prefixRules(s.family, s.rules, s.shapes, 1000 + s.rules + s.shapes * 7 + s.family, timedRule(s.family), [HOSTS[s.family]]);
    const w = await write(d, specs);
    // The timed rule: the first one; exact sets of more rules take another rule each round
    // (a hash hit costs more the further down its bucket's chain the key sits, and the chains
    // differ between maps: each has its own hash seed), the same one for every program.
    const timed = s.kind === 'exact' && s.rules > 1 ? Array.from({ length: ROUNDS }, (_, r) => (r === 0 ? 0 : 1 + Math.floor((r * (s.rules - 1)) / ROUNDS))) : [0];
    const slots = timed.map((i) => d.cp.service.store.slotOf(w.ids[i])!);
    const timedFrames = s.kind === 'exact' ? timed.map((i) => { const k = exactKey(i); return frame(4, k.src_ip, k.dst_ip, k.src_port, k.dst_port); }) : [timedFrame(s.family)];
    const cls = d.cp.service.stats().classifier as any;
    if (s.kind === 'prefix') check(cls.shapes === s.shapes, `${s.key}: ${cls.shapes} shapes in the classifier, want ${s.shapes}`);

    const flows = s.kind === 'prefix' ? prefixFlows(s.family, ROUNDS) : s.rules >= PER_ROUND ? exactFlows(s.rules) : [];
    const flowsFile = path.join(TMP, 'flows.bin');
    if (flows.length) writeFlows(flowsFile, flows);
    const useBefore = s.kind === 'exact' && 'obj' in before;
    log(`   ${w.seconds.toFixed(1)} s to write; timing (${ROUNDS} rounds)`);
    const t = runTimer([
      '--pin-dir', PIN, ...timedFrames.flatMap((f) => ['--frame', hex(f)]), '--floor', FLOOR_OBJ, '--shim', SHIM_OBJ, ...slots.flatMap((x) => ['--slot', String(x)]),
      '--prog', `xdp_filter=${xf.id}`, ...(useBefore ? ['--beside', `before=${(before as { obj: string }).obj}`] : []),
      ...(s.kind === 'exact' ? ['--beside', `after=${HEAD_OBJ}`] : []),
      ...(flows.length ? ['--flows', flowsFile] : []), ...(s.kind === 'prefix' ? ['--phases', String(PREFIX_PHASES), '--clear-cache'] : []), '--per-round', String(PER_ROUND),
      '--repeat', String(REPEAT), '--rounds', String(ROUNDS), '--cpu', String(CPU),
    ]);
    fs.rmSync(flowsFile, { force: true });
    return { ...summarize(s, t, names, useBefore ? (before as { counters: string[] }).counters : [], slots), pcf_tag: t.pcf_tag, write_seconds: +w.seconds.toFixed(3), write_rules_per_s: Math.round(s.rules / w.seconds), max_rules: maxRules, classifier: cls };
  } finally {
    await down(d);
  }
}

/** Per-round arithmetic, and the checks that each run took the path it was meant to. */
function summarize(s: SetDef, t: any, names: string[], beforeNames: string[], slots: number[]) {
  const T = t.targets;
  const cnt = (arr: number[], ns: string[], name: string) => arr[ns.indexOf(name)];
  const R = ROUNDS, reps = R * REPEAT, runs = R * PER_ROUND;
  // Verdicts and counters.
  check(T.floor.ret === XDP_PASS, 'floor returns XDP_PASS');
  check(T.xdp_filter.ret === XDP_DROP && T.xdp_filter.ret_hot === XDP_DROP, 'xdp-filter drops the timed packet (its port rule matches)');
  const p = T.pcf;
  check(p.ret === XDP_PASS && p.ret_hot === XDP_PASS && p.bad_hot === 0, 'pcf_xdp passes the timed packet (PASS rule)');
  check(p.slot_repeat === reps && p.slot_hot === runs, `every timed run counted at the timed rule's slot ${slots.join(',')} (${p.slot_repeat}/${reps}, ${p.slot_hot}/${runs})`);
  check(cnt(p.counters_repeat, names, 'META_FAIL') === 0, 'metadata written on every repeat (the shim reset it)');
  check(p.runs_hot === runs, `no other run of pcf_xdp during the stats phase (${p.runs_hot} runs for ${runs})`);
  if (s.kind === 'prefix') {
    check(cnt(p.counters_repeat, names, 'CACHE_HIT') >= reps - R && cnt(p.counters_hot, names, 'CACHE_HIT') === runs, 'the hot flow is answered by the flow cache');
  } else {
    check(cnt(p.counters_repeat, names, 'CACHE_HIT') + cnt(p.counters_repeat, names, 'CACHE_MISS') === 0, 'exact hits never reach the classifier');
  }
  const phases: any[] = p.phases ?? [];
  if (phases.length) check(p.ret_flows === XDP_PASS && p.bad_flows === 0, 'every distinct flow passes (PASS rules)');
  phases.forEach((ph, i) => {
    check(cnt(ph.counters, names, 'ACT_PASS') === runs && ph.runs === runs, `flows phase ${i}: every distinct flow hit a PASS rule, and nothing else ran pcf_xdp`);
    if (s.kind === 'prefix') check(cnt(ph.counters, names, 'CACHE_MISS') === runs && cnt(ph.counters, names, 'CACHE_HIT') === 0 && ph.slot === runs,
      `flows phase ${i}: every distinct flow missed the flow cache and hit the timed rule (miss ${cnt(ph.counters, names, 'CACHE_MISS')}, hit ${cnt(ph.counters, names, 'CACHE_HIT')} of ${runs})`);
    else check(cnt(ph.counters, names, 'CACHE_MISS') === 0, 'exact flows never reach the classifier');
  });
  const b = T.before, a = T.after;
  for (const [x, ns, who] of [[b, beforeNames, 'the program before'], [a, names, 'the current program loaded beside']] as const) {
    if (!x) continue;
    check(x.ret === XDP_PASS && x.slot_repeat === reps && cnt(x.counters_repeat, ns, 'ACT_PASS') === reps && cnt(x.counters_repeat, ns, 'META_FAIL') === 0, `${who} hits the same rule with metadata`);
    if (x.phases) check(cnt(x.phases[0].counters, ns, 'ACT_PASS') === runs, `${who} hits every distinct flow`);
  }
  // ns per packet, per round: shim cost off the metadata writers.
  const per = (f: (r: number) => number) => Array.from({ length: R }, (_, r) => f(r));
  const floor = T.floor.repeat_wall_ns as number[];
  const shimCost = per((r) => T.shim_floor.repeat_wall_ns[r] - floor[r]);
  const net = (x: any) => per((r) => x.repeat_wall_ns[r] - shimCost[r]);
  const pcf = net(p), xf = T.xdp_filter.repeat_wall_ns as number[];
  const bef = b ? net(b) : null, aft = a ? net(a) : null;
  return {
    set: s,
    repeat: {
      floor: stat(floor), shim_cost: stat(shimCost), xdp_filter: stat(xf), pcf_hot: stat(pcf), before_hot: bef ? stat(bef) : null,
      pcf_over_xdp_filter: stat(per((r) => pcf[r] / xf[r])),
      pcf_over_before: bef ? stat(per((r) => pcf[r] / bef[r])) : null,
      // The control: the current program on a copy made like the old one's (the program alone).
      after_hot: aft ? stat(aft) : null,
      after_over_before: aft && bef ? stat(per((r) => aft[r] / bef[r])) : null,
      pcf_above_floor: stat(per((r) => pcf[r] - floor[r])),
      kernel_ns: { floor: stat(T.floor.repeat_kernel_ns), pcf_via_shim: stat(p.repeat_kernel_ns), xdp_filter: stat(T.xdp_filter.repeat_kernel_ns) },
    },
    stats: {
      floor: stat(T.floor.stats_hot_ns), xdp_filter: stat(T.xdp_filter.stats_hot_ns), pcf_hot: stat(p.stats_hot_ns),
      // Phases of the distinct flows: prefix sets [cache with room, cache full]; exact sets [rules in turn].
      pcf_flows: phases.map((ph) => stat(ph.stats_ns)),
      xdp_filter_flows: (T.xdp_filter.phases ?? []).map((ph: any) => stat(ph.stats_ns)),
      pcf_flows_over_xdp_filter: phases.map((ph, i) => stat(per((r) => ph.stats_ns[r] / T.xdp_filter.phases[i].stats_ns[r]))),
      before_hot: b ? stat(b.stats_hot_ns) : null, before_flows: b?.phases ? stat(b.phases[0].stats_ns) : null,
      pcf_flows_over_before: b?.phases ? stat(per((r) => phases[0].stats_ns[r] / b.phases[0].stats_ns[r])) : null,
      after_hot: a ? stat(a.stats_hot_ns) : null, after_flows: a?.phases ? stat(a.phases[0].stats_ns) : null,
      after_flows_over_before: a?.phases && b?.phases ? stat(per((r) => a.phases[0].stats_ns[r] / b.phases[0].stats_ns[r])) : null,
    },
    slots,
  };
}

// ---- rules per second and time to visibility through gRPC -----------------------------------

function grpcSpec(m: MatchSpec): unknown {
  const [first, last] = m.match.dst_ports.split('-').map(Number);
  return { match: { src: m.match.src, dst: m.match.dst, dst_ports: { first, last }, proto: m.match.proto }, precedence: m.precedence, action: { type: m.action.type } };
}

/** Wraps service.batchUpsert to time it: the share of the call spent in the control plane's
 * validation, SQLite and map writes (the rest: protobuf on both sides, HTTP/2 on loopback). */
function timeService(cp: Running): { last: number } {
  const t = { last: 0 };
  const svc = cp.service as any;
  const orig = svc.batchUpsert.bind(svc);
  svc.batchUpsert = async (raws: unknown) => {
    const t0 = process.hrtime.bigint();
    try {
      return await orig(raws);
    } finally {
      t.last = Number(process.hrtime.bigint() - t0) / 1e9;
    }
  };
  return t;
}

function pollVisible(probeHex: string): { ready: Promise<string>; done: Promise<string> } {
  const p = spawn(TIMER, ['--mode', 'poll', '--pin-dir', PIN, '--frame', probeHex, '--expect-ret', String(XDP_DROP), '--poll-us', '20', '--timeout-ms', '60000']);
  const lines = readline.createInterface({ input: p.stdout });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  const got: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  lines.on('line', (l) => (waiters.length ? waiters.shift()!(l) : got.push(l)));
  const next = () => new Promise<string>((resolve, reject) => {
    if (got.length) return resolve(got.shift()!);
    waiters.push(resolve);
    p.once('close', (code) => reject(new Error(`poller exited ${code}: ${err.trim()}`)));
  });
  return { ready: next(), done: next() };
}

async function measureRates() {
  const rate: any[] = [];
  let latency: any[] = [];
  const N = 100_000;
  for (let trial = 0; trial < RATE_TRIALS; trial++) {
    await turn();
    log(`-- gRPC BatchUpsertFlows: ${N.toLocaleString('en')} prefix rules, trial ${trial + 1}/${RATE_TRIALS}`);
    const d = await up(262144);
    const rpc = grpcClient(d.cp.grpcPort);
    try {
      const svc = timeService(d.cp);
      const specs = prefixRules(4, N, 32, 77 + trial, null, [HOSTS[4], ...PROBES]);
      const flows = specs.map(grpcSpec);
      await call(rpc, 'GetStats', {}); // the connection is up before the clock starts
      const t0 = process.hrtime.bigint();
      const res = await call(rpc, 'BatchUpsertFlows', { flows });
      const sec = Number(process.hrtime.bigint() - t0) / 1e9;
      check(res.created === N, `batch created ${res.created} of ${N}`);
      rate.push({ rules: N, seconds: +sec.toFixed(3), rules_per_s: Math.round(N / sec), service_seconds: +svc.last.toFixed(3), service_rules_per_s: Math.round(N / svc.last) });
      if (trial === RATE_TRIALS - 1) latency = await measureLatency(d, rpc, svc);
    } finally {
      rpc.close();
      await down(d);
    }
  }
  return { rate, latency };
}

/** 10,000-rule batches, each with the one rule (DROP) that a probe packet matches: the time
 * from the call to the first test run of the probe that the new rule answers. */
async function measureLatency(d: Datapath, rpc: any, svc: { last: number }) {
  const out: any[] = [];
  for (let k = 0; k < LATENCY_TRIALS; k++) {
    const pr = PROBES[k];
    const probeRule: MatchSpec = { match: { src: `${addrText(4, pr.src)}/32`, dst: `${addrText(4, pr.dst)}/32`, dst_ports: RULE_DPORTS, proto: 17 }, precedence: 1, action: { type: 'DROP' } };
    const specs = [probeRule, ...prefixRules(4, 9_999, 32, 500 + k, null, [HOSTS[4], ...PROBES])];
    const flows = specs.map(grpcSpec);
    const probe = hex(frame(4, addrText(4, pr.src), addrText(4, pr.dst), TIMED_SPORT, TIMED_DPORT));
    const poll = pollVisible(probe);
    const ready = (await poll.ready).split(' ');
    check(ready[0] === 'ready' && Number(ready[2]) === XDP_PASS, `the probe passes before its batch (${ready.join(' ')})`);
    const t0 = process.hrtime.bigint();
    const res = await call(rpc, 'BatchUpsertFlows', { flows });
    const t2 = process.hrtime.bigint();
    check(res.created === specs.length, `batch created ${res.created}`);
    const [, tVis, tGen, gen, polls] = (await poll.done).split(' ');
    const ms = (t: string | bigint) => +(Number(BigInt(t) - t0) / 1e6).toFixed(3);
    out.push({ rules: specs.length, visible_ms: ms(tVis), generation_moved_ms: tGen === '0' ? null : ms(tGen), response_ms: ms(t2), service_ms: +(svc.last * 1e3).toFixed(3), generation: Number(gen), polls: Number(polls) });
  }
  return out;
}

// ---- the run --------------------------------------------------------------------------------

/** What was measured: the commit, whether the datapath's sources differ from it, and whether
 * build/ is older than them (then the figures are those of an older program). */
function provenance() {
  const git = (...a: string[]) => sh('git', ['-C', ROOT, ...a]).trim();
  const srcs = ['xdp/pcf_xdp.bpf.c', 'xdp/pcf_maps.bpf.h', 'xdp/pcf_parse.bpf.h', 'include/pcf_common.h'];
  const newest = Math.max(...srcs.map((f) => fs.statSync(path.join(ROOT, f)).mtimeMs));
  const built = Math.min(fs.statSync(LOADER).mtimeMs, fs.statSync(HEAD_OBJ).mtimeMs);
  return {
    commit: git('rev-parse', '--short', 'HEAD'), subject: git('log', '-1', '--format=%s').slice(0, 70),
    datapath_sources_modified: git('status', '--porcelain', '--', ...srcs) !== '',
    build_older_than_sources: built < newest,
  };
}

function machine() {
  const cpu = os.cpus();
  let hyper = '';
  try {
    hyper = sh('lscpu', []).match(/Hypervisor vendor:\s*(.*)/)?.[1] ?? '';
  } catch {
    /* no lscpu */
  }
  return { cpu_model: cpu[0]?.model ?? 'unknown', cpus: cpu.length, hypervisor: hyper || null, kernel: os.release(), mem_gb: Math.round(os.totalmem() / 2 ** 30) };
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const spread = (s: Stat | null, f = f1) => (s && s.samples.length ? `${f(s.median)} [${f(s.min)}-${f(s.max)}]` : 'n/a');

function printTable(res: any): void {
  const m = res.machine;
  const L: string[] = [];
  L.push(`pcf_xdp classifier cost per packet (bench/classifier_cost.ts${QUICK ? ' --quick' : ''}), one run, ${res.finished_at}`);
  L.push(`machine: ${m.cpu_model}, ${m.cpus} CPUs${m.hypervisor ? ` (${m.hypervisor} guest)` : ''}, ${m.mem_gb} GB; kernel ${m.kernel}; pcf_xdp attached to a veth in ${res.xdp_mode} mode (a test run`);
  L.push(`does not depend on the mode); timer pinned to CPU ${CPU}; 64-byte UDP frames.`);
  const pg = res.program;
  L.push(`program: git ${pg.commit} "${pg.subject}"${pg.datapath_sources_modified ? ' + uncommitted datapath changes' : ''}; attached pcf_xdp tag ${pg.tags.join(', ')}`);
  if (pg.tags.length > 1) L.push('WARNING: the attached program changed during the run (rebuilt meanwhile?): the sets did not all time the same program');
  if (pg.build_older_than_sources) L.push('WARNING: build/ is older than the datapath sources: these are the figures of an older program (make -C xdp)');
  L.push(`repeat method: BPF_PROG_TEST_RUN with repeat ${REPEAT.toLocaleString('en')}, wall time / repeat, ${ROUNDS} rounds per set, programs interleaved in each`);
  L.push(`  round; median [min-max] over rounds. Rules PASS: pcf_xdp and "before" write metadata, so they run behind xdp_cost_shim`);
  L.push(`  (metadata reset + tail call) and the shim's cost (shim->floor minus floor, same round) is taken off. floor and xdp-filter run directly.`);
  L.push(`stats method: ${PER_ROUND.toLocaleString('en')} test runs of repeat 1 per round, kernel BPF stats run_time_ns/run_cnt (BPF_ENABLE_STATS only while they run;`);
  L.push(`  this adds two clock reads per run, so compare stats figures with stats figures). Every "new flow" is a 5-tuple the flow`);
  L.push(`  cache has never seen (checked: CACHE_MISS = 65,536 and CACHE_HIT = 0 per phase), so each is one full search and one cache insert.`);
  L.push(`prefix sets: UDP rules, ${RULE_DPORTS} or random destination port ranges; shape k = (src /len, dst /len) from ${JSON.stringify(SHAPE_LENS[4])} (IPv6: ${JSON.stringify(SHAPE_LENS[6])});`);
  L.push(`  one rule per bucket; the timed rule (/32 or /128 both sides) has the highest precedence value, so every search visits all shapes.`);
  const c = res.comparators;
  L.push('');
  L.push(`comparators, median over every set's rounds [min-max]:  floor ${spread(c.floor)} ns;  shim ${spread(c.shim_cost)} ns;  xdp-filter ${res.xdp_filter.version} (${res.xdp_filter.name}, one port rule, drops the packet) IPv4 ${spread(c.xdp_filter_v4)} ns, IPv6 ${spread(c.xdp_filter_v6)} ns`);
  L.push(`  stats method: floor ${spread(c.stats_floor)} ns, xdp-filter IPv4 ${spread(c.stats_xdp_filter_v4)} ns (the same frame each run), on the distinct flows ${spread(c.stats_xdp_filter_flows)} ns`);
  L.push(`  before = ${res.before.commit ? `${res.before.commit.slice(0, 7)} "${res.before.subject.slice(0, 60)}..." built with the same clang flags, loaded beside with a copy of the pinned pcf_flow_map` : `not built: ${res.before.error}`}`);
  L.push('');
  L.push('hot: one flow, the same frame every run of a round (steady state: the flow cache answers prefix rules; exact sets of more than one');
  L.push('  rule time another of their rules each round, the same for every program). new flows (stats method): prefix sets, 65,536');
  L.push('  new tuples into a cache emptied first ("room"), then 65,536 more into the cache full of those ("full": every insert evicts);');
  L.push('  exact sets: 65,536 distinct rules of the set in a shuffled order (no cache on that path: shown under "room").');
  L.push('  x before: the attached program (maps written by the control plane) over the old program loaded beside it with a copy of');
  L.push('  pcf_flow_map; "current, beside": build/pcf_xdp.bpf.o loaded the same way on its own copy, a control that leaves only the');
  L.push('  programs differing (a map\'s memory layout and hash seed move a figure too). x xdp-f: over xdp-filter on the same frames');
  L.push('  (for new flows: the "full" case when there is one).');
  L.push('');
  const hdr = ['set', 'rules', 'shapes', 'hot ns [min-max]', 'x before', 'x xdp-f', 'new flows ns: room', 'full', 'x before', 'x xdp-f', 'hot (stats)'];
  const rows: string[][] = [hdr];
  for (const r of res.sets) {
    const s = r.set, rp = r.repeat, st = r.stats;
    const last = st.pcf_flows.length - 1;
    rows.push([
      s.kind === 'exact' ? 'exact, IPv4' : `prefix, IPv${s.family}`, s.rules.toLocaleString('en'), s.kind === 'exact' ? '-' : String(s.shapes),
      spread(rp.pcf_hot), rp.pcf_over_before ? f2(rp.pcf_over_before.median) : '-', f2(rp.pcf_over_xdp_filter.median),
      st.pcf_flows[0] ? spread(st.pcf_flows[0]) : 'n/a (1 rule)', st.pcf_flows[1] ? spread(st.pcf_flows[1]) : '-',
      st.pcf_flows_over_before ? f2(st.pcf_flows_over_before.median) : '-', last >= 0 ? f2(st.pcf_flows_over_xdp_filter[last].median) : '-', f1(st.pcf_hot.median),
    ]);
    if (rp.before_hot) rows.push(['  before, beside (copy)', '', '', spread(rp.before_hot), '', f2(rp.before_hot.median / rp.xdp_filter.median), st.before_flows ? spread(st.before_flows) : '-', '', '', '', f1(st.before_hot.median)]);
    if (rp.after_hot) rows.push(['  current, beside (copy)', '', '', spread(rp.after_hot), rp.after_over_before ? f2(rp.after_over_before.median) : '-', f2(rp.after_hot.median / rp.xdp_filter.median), st.after_flows ? spread(st.after_flows) : '-', '', st.after_flows_over_before ? f2(st.after_flows_over_before.median) : '-', '', f1(st.after_hot.median)]);
  }
  const w = hdr.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) L.push(r.map((x, i) => (i < 1 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  '));
  L.push('');
  L.push('targets (issue 7), from the medians above:');
  for (const t of res.targets) L.push(`  ${t.ok ? 'met   ' : 'MISSED'} ${t.what}: ${t.value} (target ${t.target})`);
  const wr = (k: string) => res.sets.find((r: any) => r.set.key === k);
  const wl = ['exact/1000000', 'exact/100000', 'prefix/v4/100000/32', 'prefix/v6/100000/32'].filter(wr).map((k) => `${k} ${wr(k).write_rules_per_s.toLocaleString('en')}/s`);
  if (wl.length) L.push(`rule sets written through service.batchUpsert (in-process, batches of at most 200,000): ${wl.join(', ')}`);
  L.push('');
  L.push(`control plane through gRPC (a grpc-js client in the same process, over loopback TCP; the client's protobuf encoding is inside the clock):`);
  for (const r of res.rates.rate) L.push(`  BatchUpsertFlows of ${r.rules.toLocaleString('en')} prefix rules (IPv4, 32 shapes) into an empty control plane: ${r.seconds} s = ${r.rules_per_s.toLocaleString('en')} rules/s into SQLite and the maps (service.batchUpsert alone: ${r.service_seconds} s = ${r.service_rules_per_s.toLocaleString('en')}/s)`);
  const lat = res.rates.latency;
  if (lat.length) {
    L.push(`  a 10,000-rule batch (on top of 100,000) until packets see it: a test run of a packet only its DROP rule matches, every ~20 us:`);
    L.push(`    visible ${spread(stat(lat.map((x: any) => x.visible_ms)), f1)} ms after the call; pcf_ruleset gen moved ${spread(stat(lat.flatMap((x: any) => x.generation_moved_ms ?? [])), f1)} ms; response ${spread(stat(lat.map((x: any) => x.response_ms)), f1)} ms (${lat.length} batches)`);
  }
  console.log(L.join('\n'));
}

async function main() {
  const why = datapathUnavailable();
  if (why) throw new Error(`cannot run: ${why}`);
  for (const f of [TIMER, FLOOR_OBJ, SHIM_OBJ]) if (!fs.existsSync(f)) throw new Error(`${f} missing: run make -C xdp`);
  sh('which', ['xdp-filter']);
  const names = counterNames(fs.readFileSync(path.join(ROOT, 'include/pcf_common.h'), 'utf8'));
  const h = await header('classifier_cost', { xdp: '?', timer: 'BPF_PROG_TEST_RUN', control_plane: 'in-process (FlowService.batchUpsert, gRPC for the rates)' },
    `repeat ${REPEAT.toLocaleString('en')} per test run, ${ROUNDS} rounds per set (programs interleaved); ${PER_ROUND.toLocaleString('en')} test runs per round for the stats method; ` +
    `${RATE_TRIALS} rate trial${RATE_TRIALS > 1 ? 's' : ''}, ${LATENCY_TRIALS} visibility trials`);
  const started = h.started_at;
  const prov = provenance();
  if (prov.build_older_than_sources) log('warning: build/ is older than the datapath sources: run make -C xdp (the figures would be an older program\'s)');
  setupNetns();
  const xf = loadXdpFilter();
  const before = buildBefore();
  if ('error' in before) log(`the program before the classifier could not be built: ${before.error}`);
  inNs(LOADER, ['attach', '--iface', IF_PCF, '--pin-dir', PIN]);
  const xdpMode = JSON.parse(inNs(LOADER, ['status', '--iface', IF_PCF, '--pin-dir', PIN, '--json'])).attachments?.[0]?.mode ?? 'unknown';
  inNs(LOADER, ['detach', '--iface', IF_PCF, '--pin-dir', PIN, '--purge']);
  h.modes.xdp = `${xdpMode} (attached to a veth; a test run does not depend on the mode)`;
  h.modes.cpu = `timer pinned to CPU ${CPU}`;

  const sets: SetDef[] = [];
  for (const n of QUICK ? [1, 100_000] : [1, 100_000, 1_000_000]) sets.push({ key: `exact/${n}`, kind: 'exact', family: 4, rules: n, shapes: 0 });
  for (const family of [4, 6] as Fam[])
    for (const n of [1_000, 10_000, 100_000])
      for (const shapes of [1, 8, 32]) sets.push({ key: `prefix/v${family}/${n}/${shapes}`, kind: 'prefix', family, rules: n, shapes });

  const results: any[] = [];
  for (const s of sets.filter((x) => !ONLY || new RegExp(ONLY).test(x.key))) {
    await turn();
    results.push(await measureSet(s, xf, before, names));
  }
  const rates = NO_RATES ? { rate: [], latency: [] } : await measureRates();

  const all = (f: (r: any) => Stat | null | undefined) => results.flatMap((r) => f(r)?.samples ?? []);
  const v4 = results.filter((r) => r.set.family === 4), v6 = results.filter((r) => r.set.family === 6);
  const comparators = {
    floor: stat(all((r) => r.repeat.floor)), shim_cost: stat(all((r) => r.repeat.shim_cost)),
    xdp_filter_v4: stat(v4.flatMap((r) => r.repeat.xdp_filter.samples)), xdp_filter_v6: stat(v6.flatMap((r) => r.repeat.xdp_filter.samples)),
    stats_floor: stat(all((r) => r.stats.floor)), stats_xdp_filter_v4: stat(v4.flatMap((r) => r.stats.xdp_filter.samples)),
    stats_xdp_filter_flows: stat(results.flatMap((r) => r.stats.xdp_filter_flows.flatMap((x: Stat) => x.samples))),
  };
  const get = (k: string) => results.find((r) => r.set.key === k);
  const targets: any[] = [];
  for (const r of results.filter((x) => x.set.kind === 'exact' && x.repeat.pcf_over_before))
    targets.push({ what: `exact hit, ${r.set.rules.toLocaleString('en')} rules, vs before`, value: `${f2(r.repeat.pcf_over_before.median)}x (${f1(r.repeat.pcf_hot.median)} vs ${f1(r.repeat.before_hot.median)} ns; both loaded beside, each on its own copy: ${r.repeat.after_over_before ? f2(r.repeat.after_over_before.median) : '-'}x)`, target: '<= 1.1x', ok: r.repeat.pcf_over_before.median <= 1.1 });
  const worst = results.reduce((a, r) => (r.repeat.pcf_over_xdp_filter.median > a.repeat.pcf_over_xdp_filter.median ? r : a));
  targets.push({ what: `every steady-state hit vs xdp-filter, worst (${worst.set.key})`, value: `${f2(worst.repeat.pcf_over_xdp_filter.median)}x`, target: '<= 0.7x', ok: worst.repeat.pcf_over_xdp_filter.median <= 0.7 });
  const worstNew = (r: any) => Math.max(...r.stats.pcf_flows_over_xdp_filter.map((x: Stat) => x.median));
  const flowsSets = results.filter((r) => r.stats.pcf_flows_over_xdp_filter.length);
  if (flowsSets.length) {
    const wf = flowsSets.reduce((a, r) => (worstNew(r) > worstNew(a) ? r : a));
    targets.push({ what: `every new flow's first packet (stats method) vs xdp-filter on the same frames, worst (${wf.set.key})`, value: `${f2(worstNew(wf))}x`, target: '<= 0.7x', ok: worstNew(wf) <= 0.7 });
  }
  const p32 = get('prefix/v4/10000/32'), ex = get('exact/1');
  if (p32 && ex) {
    const ratio = p32.repeat.pcf_hot.median / ex.repeat.pcf_hot.median;
    targets.push({ what: '10,000 rules in 32 shapes, steady-state hit vs exact hit (1 rule)', value: `${f2(ratio)}x (${f1(p32.repeat.pcf_hot.median)} vs ${f1(ex.repeat.pcf_hot.median)} ns)`, target: '<= 1.5x', ok: ratio <= 1.5 });
  }

  const res = {
    started_at: started, finished_at: new Date().toISOString(), quick: QUICK, machine: machine(), xdp_mode: xdpMode, cpu: CPU,
    program: { ...prov, tags: [...new Set(results.map((r) => r.pcf_tag))] },
    repeat: REPEAT, rounds: ROUNDS, per_round: PER_ROUND, xdp_filter: xf,
    before: 'error' in before ? { error: before.error } : { commit: before.commit, subject: before.subject },
    comparators, targets, sets: results, rates,
  };
  for (const l of describe(h)) console.log(l);
  printTable(res);
  // The header has the start, the end and the machine (with how busy it was before the run).
  const { started_at: _s, finished_at: _f, machine: _m, ...body } = res;
  const out = writeResults(h, body, markdown(h, res));
  console.log(`\nwrote ${path.relative(ROOT, out)} and classifier_cost.md`);
}

/** The report's section: the header, the sets' table, the targets, the rates. */
function markdown(h: Header, res: any): string[] {
  const c = res.comparators;
  const L = [
    '## Classifier cost per packet: exact and prefix rule sets against the floor, xdp-filter and the program before (BPF_PROG_TEST_RUN)', '',
    ...describe(h).map((l) => `- ${l}`), '',
    `64-byte UDP frames; hot: one flow, wall time / repeat, median [min-max] over ${ROUNDS} rounds (metadata writers behind xdp_cost_shim, its cost taken off); ` +
      `new flows: kernel BPF stats over ${PER_ROUND.toLocaleString('en')} test runs of repeat 1 per round, tuples the flow cache has never seen (room: cache emptied first; full: every insert evicts). ` +
      `x before / x xdp-f: ratios to the program before the classifier (loaded beside, a copy of the exact table) and to xdp-filter on the same frames.`, '',
    `Comparators: floor ${spread(c.floor)} ns; shim ${spread(c.shim_cost)} ns; xdp-filter ${res.xdp_filter.version} IPv4 ${spread(c.xdp_filter_v4)} ns, IPv6 ${spread(c.xdp_filter_v6)} ns; ` +
      `before = ${res.before.commit ? `${res.before.commit.slice(0, 7)} "${String(res.before.subject).slice(0, 60)}"` : `not built: ${res.before.error}`}.` +
      (res.program.build_older_than_sources ? ' WARNING: build/ was older than the datapath sources.' : ''), '',
    ...mdTable(['set', 'rules', 'shapes', 'hot ns [min-max]', 'x before', 'x xdp-f', 'new flows ns: room', 'full', 'x before', 'x xdp-f', 'hot (stats) ns'],
      res.sets.map((r: any) => {
        const s = r.set, rp = r.repeat, st = r.stats, last = st.pcf_flows.length - 1;
        return [s.kind === 'exact' ? 'exact, IPv4' : `prefix, IPv${s.family}`, s.rules.toLocaleString('en'), s.kind === 'exact' ? '-' : String(s.shapes),
          spread(rp.pcf_hot), rp.pcf_over_before ? f2(rp.pcf_over_before.median) : '-', f2(rp.pcf_over_xdp_filter.median),
          st.pcf_flows[0] ? spread(st.pcf_flows[0]) : 'n/a (1 rule)', st.pcf_flows[1] ? spread(st.pcf_flows[1]) : '-',
          st.pcf_flows_over_before ? f2(st.pcf_flows_over_before.median) : '-', last >= 0 ? f2(st.pcf_flows_over_xdp_filter[last].median) : '-', f1(st.pcf_hot.median)];
      })),
    '',
    ...mdTable(['target (issue 7)', 'value', 'wanted', 'met'], res.targets.map((t: any) => [t.what, t.value, t.target, t.ok ? 'yes' : 'NO'])),
  ];
  const rates = res.rates.rate as any[], lat = res.rates.latency as any[];
  if (rates.length || lat.length) L.push('');
  for (const r of rates) L.push(`- gRPC BatchUpsertFlows of ${r.rules.toLocaleString('en')} prefix rules (IPv4, 32 shapes) into an empty control plane: ${r.rules_per_s.toLocaleString('en')} rules/s (${r.seconds} s; service.batchUpsert alone ${r.service_rules_per_s.toLocaleString('en')}/s)`);
  if (lat.length)
    L.push(`- a 10,000-rule batch (on top of 100,000) until packets see it: visible ${spread(stat(lat.map((x) => x.visible_ms)))} ms after the call, response ${spread(stat(lat.map((x) => x.response_ms)))} ms (${lat.length} batches)`);
  const args = process.argv.slice(2).filter((a) => a !== '--json');
  L.push('', `Reproduce: \`${QUICK && !args.includes('--quick') ? 'QUICK=1 ' : ''}node --import tsx bench/classifier_cost.ts${args.length ? ` ${args.join(' ')}` : ''}\``);
  return L;
}

try {
  await main();
} finally {
  teardown();
}
