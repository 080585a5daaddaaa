// classifier.ts - the control plane's picture of the classifier of rules with a precedence
// (xdp/README.md: Classifier): which shapes exist, which bucket holds which rules, and the
// plan of one commit (what native RuleSet.commit stages and publishes in one step). It holds
// the rules of SQLite whether or not the maps are there, so its limits are enforced at the
// API either way. Exact IPv4 rules without a precedence are not here: they live in
// pcf_flow_map and rank above all of these.
import { CapacityError } from './errors.js';
import { addressBytes, formatAddress, prefixAddress, type Match } from './match.js';
import type { FlowSpec } from './model.js';
import type { StoredFlow } from './store.js';
import * as native from '../native/index.js';

export const MAX_SHAPES: number = native.limits.maxShapes;
export const BUCKET_RULES: number = native.limits.bucketRules;

const SHAPE_PROTO = 1, SHAPE_SPORT = 2, SHAPE_DPORT = 4; // PCF_SHAPE_* of pcf_common.h

/** Rules with a precedence, and exact matches given one, are searched by shape; the rest are exact. */
export const inClassifier = (spec: FlowSpec) => spec.precedence !== null || spec.key === null;

interface ShapeSig {
  family: 0 | 4 | 6;
  srcLen: number;
  dstLen: number;
  flags: number;
}

interface Shape extends ShapeSig {
  id: number;
  sig: string;
  slots: Set<number>;
  /** No rule of the shape ranks better (a lower bound; exact after a recompute). */
  minPrecedence: number;
  minRuleId: number;
}

interface Bucket {
  key: native.MatchKey;
  slots: Set<number>;
}

interface Member {
  shape: Shape;
  bucket: string;
  precedence: number;
  ruleId: number;
}

export interface CommitPlan {
  rules: native.RuleChange[];
  buckets: native.BucketSlots[];
  shapes: native.ShapeEntry[];
  /** After publishing: each bucket's exact contents (empty: remove it). */
  cleanup: native.BucketSlots[];
}

function shapeOf(m: Match): ShapeSig {
  const single = (r: Match['src_ports']) => r !== null && r.lo === r.hi;
  return {
    family: m.family ?? 0,
    srcLen: m.src?.len ?? 0,
    dstLen: m.dst?.len ?? 0,
    flags: (m.proto !== null ? SHAPE_PROTO : 0) | (single(m.src_ports) ? SHAPE_SPORT : 0) | (single(m.dst_ports) ? SHAPE_DPORT : 0),
  };
}

const sigString = (s: ShapeSig) => `${s.family}|${s.srcLen}|${s.dstLen}|${s.flags}`;

function bucketKeyOf(m: Match, shape: Shape): native.MatchKey {
  return {
    shape: shape.id,
    proto: shape.flags & SHAPE_PROTO ? m.proto! : 0,
    srcPort: shape.flags & SHAPE_SPORT ? m.src_ports!.lo : 0,
    dstPort: shape.flags & SHAPE_DPORT ? m.dst_ports!.lo : 0,
    // Host bits are zero (validated): the prefix's address is its masked address.
    src: m.src ? prefixAddress(m.src) : null,
    dst: m.dst ? prefixAddress(m.dst) : null,
  };
}

/** The address as the map's 16 key bytes: the map cannot tell an IPv6 address whose last
 * 12 bytes are zero from an IPv4 one, nor "any" from zeros, so keys are compared as bytes. */
function addrKey(a: string | null): string {
  const b = a === null ? [] : addressBytes(a)?.bytes ?? []; // null (any family): zero bytes
  return Buffer.from([...b, ...new Array(16 - b.length).fill(0)]).toString('hex');
}

export const bucketKeyString = (k: native.MatchKey) => `${k.shape}|${k.proto}|${k.srcPort}|${k.dstPort}|${addrKey(k.src)}|${addrKey(k.dst)}`;

export function bodyOf(f: StoredFlow, action: native.FlowAction): native.RuleBody {
  const m = f.spec.match;
  return {
    precedence: f.spec.precedence ?? 0,
    srcPorts: m.src_ports ? [m.src_ports.lo, m.src_ports.hi] : [0, 65535],
    dstPorts: m.dst_ports ? [m.dst_ports.lo, m.dst_ports.hi] : [0, 65535],
    action,
  };
}

const better = (p: number, id: number, s: Shape) => p < s.minPrecedence || (p === s.minPrecedence && id < s.minRuleId);

export class Classifier {
  private shapes = new Map<string, Shape>();
  private buckets = new Map<string, Bucket>();
  private members = new Map<number, Member>();
  /** Shape ids a packet may still look up (in a bucket key) until the next cleanup. */
  private quarantined: number[] = [];
  private undo: (() => void)[] = [];
  /** Buckets by their number of rules (index 1..PCF_BUCKET_SLOTS): the fullest without a scan. */
  private bySize: number[] = new Array(2 * BUCKET_RULES + 1).fill(0);

  /** A bucket went from `from` rules to `to`. */
  private resized(from: number, to: number): void {
    if (from) this.bySize[from]--;
    if (to) this.bySize[to]++;
  }

  get rules(): number {
    return this.members.size;
  }

  /** Whether a rule of this picture has its body at this slot. */
  holds(slot: number): boolean {
    return this.members.has(slot);
  }

  stats() {
    let fullest = this.bySize.length - 1;
    while (fullest > 0 && this.bySize[fullest] === 0) fullest--;
    return {
      rules: this.members.size,
      shapes: this.shapes.size,
      max_shapes: MAX_SHAPES,
      buckets: this.buckets.size,
      fullest_bucket: fullest,
      max_rules_per_bucket: BUCKET_RULES,
    };
  }

  private freeId(taken: Set<number>): number | undefined {
    for (let id = 0; id < MAX_SHAPES; id++) if (!taken.has(id)) return id;
    return undefined;
  }

  private takenIds(): Set<number> {
    return new Set([...[...this.shapes.values()].map((s) => s.id), ...this.quarantined]);
  }

  private add(f: StoredFlow, field: string): native.BucketSlots {
    const sig = shapeOf(f.spec.match);
    const ss = sigString(sig);
    let shape = this.shapes.get(ss);
    const prec = f.spec.precedence ?? 0, id = f.id;
    if (!shape) {
      const sid = this.freeId(this.takenIds());
      if (sid === undefined || this.shapes.size >= MAX_SHAPES)
        throw new CapacityError(field, `the classifier holds at most ${MAX_SHAPES} distinct match shapes (family, both prefix lengths, and whether proto and each port are one value); this rule would be shape ${this.shapes.size + 1}: ${describe(sig)}`);
      shape = { ...sig, id: sid, sig: ss, slots: new Set(), minPrecedence: prec, minRuleId: id };
      const created = shape;
      this.shapes.set(ss, created);
      this.undo.push(() => this.shapes.delete(ss));
    } else if (better(prec, id, shape)) {
      const s = shape, [p0, i0] = [s.minPrecedence, s.minRuleId];
      s.minPrecedence = prec;
      s.minRuleId = id;
      this.undo.push(() => { s.minPrecedence = p0; s.minRuleId = i0; });
    }
    const key = bucketKeyOf(f.spec.match, shape);
    const bk = bucketKeyString(key);
    let bucket = this.buckets.get(bk);
    if (!bucket) {
      bucket = { key, slots: new Set() };
      this.buckets.set(bk, bucket);
      this.undo.push(() => this.buckets.delete(bk));
    }
    if (bucket.slots.size >= BUCKET_RULES)
      throw new CapacityError(field, `at most ${BUCKET_RULES} rules may share one shape, address pair and protocol (they differ only in port ranges); ${bk.split('|').slice(4).join(' -> ')} proto ${key.proto || 'any'} has ${bucket.slots.size}`);
    const b = bucket, sh = shape, slot = f.slot;
    b.slots.add(slot);
    this.resized(b.slots.size - 1, b.slots.size);
    sh.slots.add(slot);
    this.members.set(slot, { shape: sh, bucket: bk, precedence: prec, ruleId: id });
    this.undo.push(() => { b.slots.delete(slot); this.resized(b.slots.size + 1, b.slots.size); sh.slots.delete(slot); this.members.delete(slot); });
    return { key, slots: [slot] };
  }

  /** Takes the rule out; returns the bucket it leaves (its contents after cleanup). */
  private remove(slot: number): string {
    const m = this.members.get(slot)!;
    const b = this.buckets.get(m.bucket)!;
    b.slots.delete(slot);
    this.resized(b.slots.size + 1, b.slots.size);
    m.shape.slots.delete(slot);
    this.members.delete(slot);
    this.undo.push(() => { b.slots.add(slot); this.resized(b.slots.size - 1, b.slots.size); m.shape.slots.add(slot); this.members.set(slot, m); });
    if (b.slots.size === 0) {
      this.buckets.delete(m.bucket);
      this.undo.push(() => this.buckets.set(m.bucket, b));
    }
    if (m.shape.slots.size === 0) {
      this.shapes.delete(m.shape.sig);
      this.quarantined.push(m.shape.id);
      this.undo.push(() => { this.shapes.set(m.shape.sig, m.shape); this.quarantined.pop(); });
    }
    return m.bucket;
  }

  /** What the maps hold when they match this picture (after a commit's cleanup): each
   * bucket's slots by bucketKeyString, sorted, and the shape table. For drift checks. */
  picture(): { buckets: Map<string, number[]>; shapes: native.ShapeEntry[] } {
    return { buckets: new Map([...this.buckets].map(([k, b]) => [k, [...b.slots].sort((x, y) => x - y)])), shapes: this.table() };
  }

  /** The shape table of the next generation: by ascending best rank, so the search stops early. */
  private table(): native.ShapeEntry[] {
    return [...this.shapes.values()]
      .sort((a, b) => a.minPrecedence - b.minPrecedence || a.minRuleId - b.minRuleId)
      .map((s) => ({ id: s.id, family: s.family, flags: s.flags, srcLen: s.srcLen, dstLen: s.dstLen, minPrecedence: s.minPrecedence, minRuleId: s.minRuleId }));
  }

  /**
   * The plan of one change: rules upserted (with their map action) and rules deleted. Updates
   * this picture; throws CapacityError (naming `field(i)`) with the picture unchanged when a
   * limit would be passed. Call done() or rollback() after.
   */
  plan(upserts: { f: StoredFlow; action: native.FlowAction }[], deletes: StoredFlow[], field: (i: number) => string): CommitPlan | null {
    const rules: native.RuleChange[] = [];
    const buckets: native.BucketSlots[] = [];
    const left = new Set<string>();
    try {
      upserts.forEach(({ f, action }, i) => {
        const was = this.members.get(f.slot);
        if (inClassifier(f.spec)) {
          if (!was) buckets.push(this.add(f, field(i)));
          else {
            const prec = f.spec.precedence ?? 0;
            const m = was, [p0] = [m.precedence];
            m.precedence = prec;
            this.undo.push(() => { m.precedence = p0; });
            if (better(prec, f.id, m.shape)) {
              const s = m.shape, [sp, si] = [s.minPrecedence, s.minRuleId];
              s.minPrecedence = prec;
              s.minRuleId = f.id;
              this.undo.push(() => { s.minPrecedence = sp; s.minRuleId = si; });
            }
          }
          rules.push({ slot: f.slot, next: bodyOf(f, action) });
        } else if (was) {
          left.add(this.remove(f.slot));
          rules.push({ slot: f.slot, next: null });
        }
      });
      for (const f of deletes) {
        if (!this.members.has(f.slot)) continue;
        left.add(this.remove(f.slot));
        rules.push({ slot: f.slot, next: null });
      }
    } catch (err) {
      this.rollback();
      throw err;
    }
    if (rules.length === 0) return null;
    const cleanup = [...left].map((bk) => {
      const b = this.buckets.get(bk);
      return b ? { key: b.key, slots: [...b.slots] } : { key: keyFromString(bk), slots: [] };
    });
    for (const bk of left) this.tighten(bk);
    return { rules, buckets, shapes: this.table(), cleanup };
  }

  /** A shape that lost rules: its best rank exactly again when that is cheap. */
  private tighten(bk: string): void {
    const shapeId = Number(bk.split('|')[0]);
    const s = [...this.shapes.values()].find((x) => x.id === shapeId);
    if (!s || s.slots.size > 4096) return;
    let p = Infinity, id = Infinity;
    for (const slot of s.slots) {
      const m = this.members.get(slot)!;
      if (m.precedence < p || (m.precedence === p && m.ruleId < id)) [p, id] = [m.precedence, m.ruleId];
    }
    s.minPrecedence = p;
    s.minRuleId = id;
  }

  /** The change is published and cleaned up: ids of emptied shapes may be reused. */
  done(cleanedUp: boolean): void {
    this.undo = [];
    if (cleanedUp) this.quarantined = [];
  }

  rollback(): void {
    for (const u of this.undo.reverse()) u();
    this.undo = [];
  }

  /**
   * Rebuilds the picture from every rule of SQLite and plans the commit that makes the maps
   * equal to it. `current` is what the maps hold: shape ids in use stay with their shapes
   * (a packet of the current generation may still look them up), and every stale bucket and
   * live slot is dropped.
   */
  load(flows: StoredFlow[], actionOf: (f: StoredFlow) => native.FlowAction,
    current: { shapes: native.ShapeEntry[]; buckets: native.BucketSlots[]; liveSlots: number[] } | null): CommitPlan {
    this.shapes.clear();
    this.buckets.clear();
    this.bySize.fill(0);
    this.members.clear();
    this.undo = [];
    const known = new Map((current?.shapes ?? []).map((s) => [sigString(s as ShapeSig), s.id]));
    const inUse = new Set([...(current?.shapes ?? []).map((s) => s.id), ...(current?.buckets ?? []).map((b) => b.key.shape)]);
    this.quarantined = [...inUse];
    const rules: native.RuleChange[] = [];
    const want = new Set<number>();
    for (const f of flows) {
      if (!inClassifier(f.spec)) continue;
      const ss = sigString(shapeOf(f.spec.match));
      if (!this.shapes.has(ss) && known.has(ss)) {
        // Keep the id the maps use for this shape.
        const id = known.get(ss)!;
        this.quarantined = this.quarantined.filter((q) => q !== id);
        this.shapes.set(ss, { ...shapeOf(f.spec.match), id, sig: ss, slots: new Set(), minPrecedence: f.spec.precedence ?? 0, minRuleId: f.id });
      }
      this.add(f, 'flows');
      rules.push({ slot: f.slot, next: bodyOf(f, actionOf(f)) });
      want.add(f.slot);
    }
    this.undo = [];
    for (const slot of current?.liveSlots ?? []) if (!want.has(slot)) rules.push({ slot, next: null });
    const buckets = [...this.buckets.values()].map((b) => ({ key: b.key, slots: [...b.slots] }));
    const stale = (current?.buckets ?? []).filter((b) => !this.buckets.has(bucketKeyString(b.key))).map((b) => ({ key: b.key, slots: [] }));
    for (const s of this.shapes.values()) this.tighten(`${s.id}|`);
    return { rules, buckets, shapes: this.table(), cleanup: [...buckets, ...stale] };
  }
}

function keyFromString(bk: string): native.MatchKey {
  const [shape, proto, sp, dp, src, dst] = bk.split('|');
  const addr = (h: string) => (/^0+$/.test(h) ? null : formatAddress(6, [...Buffer.from(h, 'hex')]));
  return { shape: Number(shape), proto: Number(proto), srcPort: Number(sp), dstPort: Number(dp), src: addr(src), dst: addr(dst) };
}

function describe(s: ShapeSig): string {
  const fam = s.family ? `IPv${s.family}` : 'any family';
  const port = (bit: number) => (s.flags & bit ? 'one port' : 'any/range');
  return `${fam} /${s.srcLen} -> /${s.dstLen}, proto ${s.flags & SHAPE_PROTO ? 'one' : 'any'}, src ${port(SHAPE_SPORT)}, dst ${port(SHAPE_DPORT)}`;
}
