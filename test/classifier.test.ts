// classifier.test.ts - the XDP classifier against a reference: random rule sets (prefixes,
// port ranges, any-protocol, precedences with ties, IPv4 and IPv6, exact rules without a
// precedence, up to thousands of rules in up to 32 shapes) written through the real service
// into the maps of an attached program, and random packets through BPF_PROG_TEST_RUN, each
// verdict and rule compared with test/lib/reference.ts (a linear scan in precedence order).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fs from 'node:fs';
import type { Running } from '../server/app.js';
import { startInProcess, startLabNode, tempDb, type LabNode } from './lib/cp.js';
import { Lab } from './lib/lab.js';
import { datapathUnavailable } from './lib/env.js';
import { icmp4, icmp6, sctp4, sctp6, tcp4, tcp6, udp4, udp6 } from './lib/packets.js';
import { Reference, type RefPacket, type RefRule } from './lib/reference.js';
import { mulberry32 } from './lib/prng.js';
import { testRun, XDP_DROP, XDP_PASS } from './lib/testrun.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`classifier tests need the datapath under CI=true: ${why}`);

/** mulberry32: the same rule sets and packets on every run (the seed is in the test name). */
function prng(seed: number) {
  const next = mulberry32(seed);
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

// Addresses only from the benchmarking ranges; a small universe so that rules overlap.
const V4_LENS = [0, 15, 16, 20, 24, 28, 30, 32];
const V6_LENS = [0, 48, 56, 60, 64, 96, 120, 128];
const PORT_PROTOS = [6, 17, 132];

function v4Bytes(rng: Rng): number[] {
  return [198, rng.pick([18, 19]), rng.int(0, 3), rng.int(0, 255)];
}
function v6Bytes(rng: Rng): number[] {
  const b = [0x20, 0x01, 0x00, 0x02, 0, 0, 0, rng.int(0, 3)];
  for (let i = 8; i < 16; i++) b.push(rng.chance(0.7) ? 0 : rng.int(0, 255));
  return b;
}
function mask(bytes: number[], len: number): number[] {
  return bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, len - 8 * i)))) & 0xff));
}
function text(bytes: number[]): string {
  if (bytes.length === 4) return bytes.join('.');
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return g.join(':');
}
/** An address inside the prefix: its bits, random host bits. */
function inside(bytes: number[], len: number, rng: Rng): number[] {
  return bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, len - 8 * i));
    const m = (0xff << (8 - keep)) & 0xff;
    return (b & m) | (rng.int(0, 255) & ~m & 0xff);
  });
}

interface Template {
  family: 4 | 6 | 0;
  srcLen: number;
  dstLen: number;
  proto: 'any' | 'ports' | 'icmp' | 'other';
  sport: 'any' | 'one' | 'range';
  dport: 'any' | 'one' | 'range';
}

interface GenRule extends RefRule {
  srcBytes?: number[];
  dstBytes?: number[];
  exactKey?: boolean;
}

/** The classifier's notion of a shape, computed here on its own: what must stay under 32. */
const sigOf = (t: Template) => `${t.family}|${t.srcLen}|${t.dstLen}|${t.proto !== 'any'}|${t.sport === 'one'}|${t.dport === 'one'}`;

function templates(rng: Rng, shapes: number, v6: boolean): Template[] {
  const out = new Map<string, Template>();
  for (let tries = 0; out.size < shapes && tries < 1000; tries++) {
    const family = v6 && rng.chance(0.5) ? 6 : rng.chance(0.08) ? 0 : 4;
    const lens = family === 6 ? V6_LENS : V4_LENS;
    const srcLen = family === 0 ? 0 : rng.pick(lens), dstLen = family === 0 ? 0 : rng.pick(lens);
    if (family !== 0 && srcLen === 0 && dstLen === 0) continue;
    const proto = rng.pick(['any', 'ports', 'ports', 'ports', 'icmp', 'other'] as const);
    const port = () => (proto === 'ports' ? rng.pick(['any', 'one', 'range', 'range'] as const) : 'any');
    const t: Template = { family: family as Template['family'], srcLen, dstLen, proto: family === 0 && proto === 'icmp' ? 'ports' : proto, sport: port(), dport: port() };
    if (t.proto !== 'ports') t.sport = t.dport = 'any';
    out.set(sigOf(t), t);
  }
  return [...out.values()];
}

function genRules(rng: Rng, n: number, shapes: number, v6: boolean, exact: number): GenRule[] {
  const ts = templates(rng, shapes, v6);
  const seen = new Set<string>();
  const buckets = new Map<string, number>();
  const rules: GenRule[] = [];
  for (let tries = 0; rules.length < n && tries < n * 20; tries++) {
    const t = rng.pick(ts);
    const fam = t.family === 0 ? 4 : t.family;
    const src = t.srcLen ? mask(fam === 6 ? v6Bytes(rng) : v4Bytes(rng), t.srcLen) : undefined;
    const dst = t.dstLen ? mask(fam === 6 ? v6Bytes(rng) : v4Bytes(rng), t.dstLen) : undefined;
    const proto = t.proto === 'any' ? undefined : t.proto === 'ports' ? rng.pick(PORT_PROTOS) : t.proto === 'icmp' ? (fam === 6 ? 58 : 1) : rng.pick([47, 50, 89]);
    const ports = (kind: Template['sport']): number | string | undefined => {
      if (kind === 'one') return rng.pick([53, 80, 443, 1000, 1001, 2152, 5000]);
      if (kind !== 'range') return undefined;
      const lo = rng.int(0, 3000);
      return `${lo}-${Math.min(65535, lo + rng.pick([1, 10, 500, 3000, 65535]))}`; // lo < hi: one port is another shape
    };
    const match: RefRule['match'] = {};
    if (src) match.src = `${text(src)}/${t.srcLen}`;
    if (dst) match.dst = `${text(dst)}/${t.dstLen}`;
    const sp = ports(t.sport), dp = ports(t.dport);
    if (sp !== undefined) match.src_ports = sp;
    if (dp !== undefined) match.dst_ports = dp;
    if (proto !== undefined) match.proto = proto;
    const id = JSON.stringify(match);
    // The bucket: shape, masked addresses, protocol when the shape has one, single ports.
    const bucket = `${sigOf(t)}|${match.src}|${match.dst}|${proto ?? ''}|${t.sport === 'one' ? sp : ''}|${t.dport === 'one' ? dp : ''}`;
    if (seen.has(id) || (buckets.get(bucket) ?? 0) >= 12) continue;
    seen.add(id);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
    const precedence = rng.chance(0.05) ? 4294967295 : rng.int(0, 40); // many ties: the id decides
    rules.push({ id: 0, precedence, match, action: { type: rng.pick(['PASS', 'DROP', 'REDIRECT'] as const) }, srcBytes: src, dstBytes: dst });
  }
  // Exact IPv4 rules without a precedence (the key of the first API): they rank first.
  for (let i = 0; i < exact; i++) {
    const src = v4Bytes(rng), dst = v4Bytes(rng), proto = rng.pick([6, 17]);
    const sp = rng.pick([53, 80, 1000, 5000]), dp = rng.pick([53, 80, 443, 2152]);
    const match = { src: `${text(src)}/32`, dst: `${text(dst)}/32`, src_ports: sp, dst_ports: dp, proto };
    const id = JSON.stringify(match);
    if (seen.has(id)) continue;
    seen.add(id);
    rules.push({ id: 0, precedence: null, match, action: { type: rng.pick(['PASS', 'DROP', 'REDIRECT'] as const) }, srcBytes: src, dstBytes: dst, exactKey: true });
  }
  return rules;
}

/** The API's form of a rule: exact ones as a key, half of them with a precedence. */
function specOf(r: GenRule): unknown {
  if (r.exactKey) {
    const m = r.match;
    return { key: { src_ip: m.src!.split('/')[0], dst_ip: m.dst!.split('/')[0], src_port: m.src_ports, dst_port: m.dst_ports, proto: m.proto }, action: r.action };
  }
  return { match: r.match, precedence: r.precedence, action: r.action };
}

function genPacket(rng: Rng, rules: GenRule[], v6: boolean): RefPacket {
  const r = rules.length && rng.chance(0.75) ? rng.pick(rules) : null;
  const fam: 4 | 6 = r?.srcBytes?.length === 16 || r?.dstBytes?.length === 16 ? 6 : r?.srcBytes || r?.dstBytes ? 4 : v6 && rng.chance(0.4) ? 6 : 4;
  const any = () => (fam === 6 ? v6Bytes(rng) : v4Bytes(rng));
  const len = (p?: string) => (p ? Number(p.split('/')[1]) : 0);
  const src = r?.srcBytes && fam === (r.srcBytes.length === 16 ? 6 : 4) ? inside(r.srcBytes, len(r.match.src), rng) : any();
  const dst = r?.dstBytes && fam === (r.dstBytes.length === 16 ? 6 : 4) ? inside(r.dstBytes, len(r.match.dst), rng) : any();
  const icmp = fam === 6 ? 58 : 1;
  const proto = r?.match.proto !== undefined && rng.chance(0.9) ? r.match.proto : rng.pick([6, 17, 132, icmp]);
  const inRange = (p: number | string | undefined) => {
    if (p === undefined || rng.chance(0.1)) return rng.pick([53, 80, 443, rng.int(0, 65535)]);
    const [lo, hi] = String(p).split('-').map(Number);
    return rng.int(lo, hi ?? lo);
  };
  const ports = PORT_PROTOS.includes(proto);
  const later = ports && proto === 17 && rng.chance(0.04);
  return { family: fam, src: text(src), dst: text(dst), proto, sport: ports && !later ? inRange(r?.match.src_ports) : 0, dport: ports && !later ? inRange(r?.match.dst_ports) : 0, later };
}

function frameOf(p: RefPacket): Buffer {
  const payload = 'pcf-classifier-test';
  if (p.later) {
    return p.family === 4
      ? udp4({ src: p.src, dst: p.dst, sport: 0, dport: 0, payload, frag: { offset8: 8, more: false, id: 7 } })
      : udp6({ src: p.src, dst: p.dst, sport: 0, dport: 0, payload, frag6: { offset8: 8, more: false, id: 7 } });
  }
  const o = { src: p.src, dst: p.dst, sport: p.sport, dport: p.dport, payload };
  if (p.family === 4) {
    if (p.proto === 6) return tcp4(o);
    if (p.proto === 17) return udp4(o);
    if (p.proto === 132) return sctp4(o);
    return withProto(icmp4({ src: p.src, dst: p.dst, payload }), 4, p.proto);
  }
  if (p.proto === 6) return tcp6(o);
  if (p.proto === 17) return udp6(o);
  if (p.proto === 132) return sctp6(o);
  return withProto(icmp6({ src: p.src, dst: p.dst, payload }), 6, p.proto);
}

/** An ICMP frame relabelled as another protocol (GRE, ESP, OSPF: no ports for the classifier). */
function withProto(f: Buffer, family: 4 | 6, proto: number): Buffer {
  if (family === 6) {
    f[14 + 6] = proto;
    return f;
  }
  if (f[14 + 9] === proto) return f;
  f[14 + 9] = proto;
  f.writeUInt16BE(0, 14 + 10);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += f.readUInt16BE(14 + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  f.writeUInt16BE(~sum & 0xffff, 14 + 10);
  return f;
}

interface Case {
  seed: number;
  rules: number;
  shapes: number;
  v6: boolean;
  exact: number;
}

// 22 rule sets; with 600 packets each (twice: the second pass through the flow cache).
const CASES: Case[] = [
  { seed: 1, rules: 1, shapes: 1, v6: false, exact: 0 },
  { seed: 2, rules: 10, shapes: 4, v6: false, exact: 5 },
  { seed: 3, rules: 50, shapes: 8, v6: true, exact: 0 },
  { seed: 4, rules: 100, shapes: 32, v6: true, exact: 20 },
  { seed: 5, rules: 200, shapes: 16, v6: false, exact: 50 },
  { seed: 6, rules: 300, shapes: 32, v6: true, exact: 0 },
  { seed: 7, rules: 500, shapes: 8, v6: true, exact: 100 },
  { seed: 8, rules: 800, shapes: 32, v6: false, exact: 0 },
  { seed: 9, rules: 1000, shapes: 24, v6: true, exact: 200 },
  { seed: 10, rules: 1500, shapes: 32, v6: true, exact: 0 },
  { seed: 11, rules: 2000, shapes: 32, v6: false, exact: 300 },
  { seed: 12, rules: 3000, shapes: 32, v6: true, exact: 500 },
  { seed: 13, rules: 40, shapes: 2, v6: true, exact: 0 },
  { seed: 14, rules: 120, shapes: 3, v6: false, exact: 0 },
  { seed: 15, rules: 250, shapes: 12, v6: true, exact: 10 },
  { seed: 16, rules: 600, shapes: 20, v6: true, exact: 0 },
  { seed: 17, rules: 5, shapes: 5, v6: true, exact: 0 },
  { seed: 18, rules: 1200, shapes: 6, v6: false, exact: 0 },
  { seed: 19, rules: 2500, shapes: 32, v6: true, exact: 100 },
  { seed: 20, rules: 400, shapes: 32, v6: true, exact: 40 },
  { seed: 21, rules: 60, shapes: 32, v6: true, exact: 0 },
  { seed: 22, rules: 3000, shapes: 16, v6: true, exact: 0 },
];
const PACKETS = 600;

describe('XDP classifier against a reference classifier', { skip: why ?? false }, () => {
  let node: LabNode;
  before(async () => {
    node = await startLabNode(['--max-rules', '8192']);
  });
  after(async () => {
    await node?.close();
  });

  let compared = 0, disagreements = 0;

  for (const c of CASES) {
    it(`seed ${c.seed}: ${c.rules} rules in up to ${c.shapes} shapes${c.v6 ? ', IPv4 and IPv6' : ', IPv4'}, ${c.exact} exact; ${PACKETS} packets twice, then after new precedences`, async () => {
      const service = node.cp.service;
      const rng = prng(c.seed);
      const rules = genRules(rng, c.rules, c.shapes, c.v6, c.exact);
      const res = await service.batchUpsert(rules.map(specOf));
      res.ids.forEach((id, i) => (rules[i].id = id));
      assert.equal(res.created, rules.length, 'every rule is new');

      const check = async (label: string) => {
        const ref = new Reference(rules);
        const packets = Array.from({ length: PACKETS }, () => genPacket(rng, rules, c.v6));
        const want = packets.map((p) => ref.classify(p));
        const frames = packets.map((p, i) => ({ frame: frameOf(p), slot: want[i] ? service.store.slotOf(want[i]!.id) : undefined }));
        for (const pass of ['first', 'cached']) {
          const got = await testRun(node.lab.pinDir, frames);
          const bad: string[] = [];
          got.forEach((g, i) => {
            const w = want[i];
            const expRet = w?.action.type === 'DROP' ? XDP_DROP : XDP_PASS;
            const expMeta = w && w.action.type !== 'DROP' ? w.id : null;
            const ok = g.ret === expRet && g.metaRule === expMeta && (w ? g.slotDelta === 1 : g.slotDelta === null);
            compared++;
            if (!ok) {
              disagreements++;
              if (bad.length < 5) bad.push(`${JSON.stringify(packets[i])}: want rule ${w?.id ?? '-'} (${w?.action.type ?? 'default'}, prec ${w?.precedence}) got ret ${g.ret} meta ${g.metaRule} slot+${g.slotDelta}`);
            }
          });
          assert.deepEqual(bad, [], `${label}, ${pass} pass: the datapath and the reference disagree`);
        }
        // Enough of the packets met a rule for the comparison to mean something.
        assert.ok(want.filter(Boolean).length > PACKETS / 3, `${want.filter(Boolean).length} of ${PACKETS} packets matched a rule`);
      };
      await check('as written');

      // New precedences for a tenth of the rules with one: one batch, a new generation.
      const changed = rules.filter((r) => r.precedence !== null && rng.chance(0.1));
      for (const r of changed) r.precedence = rng.int(0, 40);
      if (changed.length) {
        const up = await service.batchUpsert(changed.map(specOf));
        assert.equal(up.updated, changed.length);
        await check('after new precedences');
      }

      await service.batchDelete(rules.map((r) => r.id));
      assert.equal(service.stats().classifier.rules, 0, 'every rule with a precedence is gone from the classifier');
    });
  }

  it('compared at least 10,000 packets with 0 disagreements', (t) => {
    t.diagnostic(`${compared} packets compared with the reference, ${disagreements} disagreements`);
    assert.equal(disagreements, 0);
    assert.ok(compared >= 10_000, `${compared} packets compared`);
  });
});

describe('the classifier maps are a cache of SQLite', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: ReturnType<typeof tempDb>;
  let cp: Running | undefined;
  before(async () => {
    lab = await Lab.create();
    db = tempDb();
    cp = await startInProcess(lab.pinDir, db.file);
  });
  after(async () => {
    await cp?.close();
    await lab?.destroy();
    fs.rmSync(db.dir, { recursive: true, force: true });
  });

  /** Packets through the attached program against the reference, for the rules of SQLite. */
  async function agree(rng: Rng, rules: GenRule[], label: string) {
    const service = cp!.service;
    const ref = new Reference(rules);
    const packets = Array.from({ length: 400 }, () => genPacket(rng, rules, true));
    const want = packets.map((p) => ref.classify(p));
    const got = await testRun(lab.pinDir, packets.map((p, i) => ({ frame: frameOf(p), slot: want[i] ? service.store.slotOf(want[i]!.id) : undefined })));
    const bad = got.filter((g, i) => g.ret !== (want[i]?.action.type === 'DROP' ? XDP_DROP : XDP_PASS) || g.metaRule !== (want[i] && want[i]!.action.type !== 'DROP' ? want[i]!.id : null));
    const show = got.map((g, i) => ({ g, i })).filter(({ g, i }) => g.ret !== (want[i]?.action.type === 'DROP' ? XDP_DROP : XDP_PASS) || g.metaRule !== (want[i] && want[i]!.action.type !== 'DROP' ? want[i]!.id : null))
      .slice(0, 3).map(({ g, i }) => `${JSON.stringify(packets[i])} want ${want[i]?.id ?? '-'} ${want[i]?.action.type ?? ''} got ${g.ret} ${g.metaRule}`);
    assert.equal(bad.length, 0, `${label}: ${bad.length} packets disagree: ${show.join('; ')}`);
    assert.ok(want.filter(Boolean).length > 100);
  }

  async function waitGeneration(above: number) {
    for (let i = 0; i < 100; i++) {
      const g = cp!.service.stats().classifier.generation;
      if (g !== null && g > above) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail('the control plane did not reconcile the re-created maps');
  }

  it('re-created maps (detach --purge, attach) and a restarted control plane get the same classifier back', async () => {
    const rng = prng(99);
    const rules = genRules(rng, 400, 16, true, 40);
    const res = await cp!.service.batchUpsert(rules.map(specOf));
    res.ids.forEach((id, i) => (rules[i].id = id));
    await agree(rng, rules, 'as written');

    await lab.loader('detach', '--purge');
    await lab.loader('attach');
    await waitGeneration(0);
    assert.equal(cp!.service.stats().classifier.rules, rules.filter((r) => r.precedence !== null).length);
    await agree(rng, rules, 'after the maps were re-created');

    // A new control plane on the same SQLite and maps: the reconcile keeps the shape ids the
    // maps use and the counters of rules that were already there.
    const before = cp!.service.stats().classifier.generation!;
    await cp!.close();
    cp = await startInProcess(lab.pinDir, db.file);
    assert.ok(cp.service.stats().classifier.generation! > before, 'the start-up reconcile is a commit of its own');
    await agree(rng, rules, 'after a control plane restart');
  });

  it('batches swapping two overlapping rules\' precedences while 100,000 frames run: every frame is taken by one of them, none by the rule between', async (t) => {
    // A and B (PASS) both match the frame; D (DROP, precedence 20) lies between their
    // precedences, so a frame that saw half a swap (A's new body next to B's old one, or an
    // old shape table) would be dropped by D or passed without metadata.
    const service = cp!.service;
    // Its own rule set: whatever an earlier test left is deleted first.
    const left = service.store.all().map((f) => f.flow.id);
    if (left.length) await service.batchDelete(left);
    const m = { src: '198.18.0.0/24', dst: '198.18.1.0/24', proto: 'udp', dst_ports: '7400-7401' };
    const specs = (pa: number, pb: number) => [
      { match: m, precedence: pa, action: { type: 'PASS' } },
      { match: { ...m, src: '198.18.0.1/32' }, precedence: pb, action: { type: 'PASS' } },
    ];
    const [a, b] = (await service.batchUpsert(specs(10, 30))).ids;
    const d = (await service.upsert({ match: { src: '198.18.0.0/16', dst: '198.18.1.1/32', proto: 'udp' }, precedence: 20, action: { type: 'DROP' } })).flow.id;
    const frame = udp4({ src: '198.18.0.1', dst: '198.18.1.1', sport: 5000, dport: 7400, payload: 'swap' });
    const before = service.stats().xdp;
    let done = false;
    const running = testRun(lab.pinDir, Array.from({ length: 100_000 }, () => ({ frame }))).finally(() => (done = true));
    let swaps = 0;
    while (!done) {
      await service.batchUpsert(swaps % 2 ? specs(10, 30) : specs(30, 10));
      swaps++;
      await new Promise((r) => setImmediate(r));
    }
    const got = await running;
    const after = service.stats().xdp;
    const by = new Map<string, number>();
    for (const g of got) by.set(`${g.ret}/${g.metaRule}`, (by.get(`${g.ret}/${g.metaRule}`) ?? 0) + 1);
    const retries = after.classify_retry.packets - before.classify_retry.packets;
    t.diagnostic(`${swaps} swaps during the runs; ${JSON.stringify(Object.fromEntries(by))}; ${retries} classifications tried again`);
    assert.ok(swaps >= 50, `${swaps} swaps during the runs`);
    assert.equal((by.get(`${XDP_PASS}/${a}`) ?? 0) + (by.get(`${XDP_PASS}/${b}`) ?? 0), got.length, `every frame passed with A's or B's metadata (D is ${d}): ${JSON.stringify(Object.fromEntries(by))}`);
    assert.ok((by.get(`${XDP_PASS}/${a}`) ?? 0) > 0 && (by.get(`${XDP_PASS}/${b}`) ?? 0) > 0, 'both orders were seen');
    assert.equal(after.retry_exhausted.packets - before.retry_exhausted.packets, 0);
  });
});
