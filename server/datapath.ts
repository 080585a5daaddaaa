// datapath.ts - the pinned maps as the control plane sees them: present or absent, re-created
// or not, and kept equal to SQLite. The control plane writes only pcf_flow_map and
// pcf_rule_stats' entries; it never attaches programs and never touches pcf_xskmap.
import path from 'node:path';
import type { Logger } from 'pino';
import * as native from '../native/index.js';
import { bodyOf, bucketKeyString, Classifier, inClassifier } from './classifier.js';
import { UnavailableError } from './errors.js';
import type { Counter, FlowKey, FlowSpec } from './model.js';
import type { ExactExtras, ExactRow, StoredFlow, UpsertResult } from './store.js';

export interface DatapathState {
  present: boolean;
  pin_dir: string;
  map_id: number | null;
  map_capacity: number | null;
  default_action: string | null;
  rx_queues: number | null;
  /** Each interface the pin dir serves, by its attachment (its place in the pin dir, pcf_config[attachment]). */
  attachments: { attachment: number; ifindex: number; rx_queues: number; default_action: string }[];
  last_reconcile_at: string | null;
  error: string | null;
}

function toNativeKey(k: FlowKey): native.FlowKey {
  return { srcIp: k.src_ip, dstIp: k.dst_ip, srcPort: k.src_port, dstPort: k.dst_port, proto: k.proto };
}

function toNativeAction(id: number, slot: number, a: FlowSpec['action']): native.FlowAction {
  return {
    ruleId: id,
    statsSlot: slot,
    type: a.type,
    ttlDelta: a.ttl_delta ?? 0,
    mark: a.mark,
    queueId: a.queue_id,
    snatIp: a.nat?.snat_ip ?? null,
    snatPort: a.nat?.snat_port ?? null,
    dnatIp: a.nat?.dnat_ip ?? null,
    dnatPort: a.nat?.dnat_port ?? null,
    mirror: a.mirror,
  };
}

const actionOf = (f: StoredFlow) => toNativeAction(f.id, f.slot, f.spec.action);
/** The exact rules (pcf_flow_map) among rules: IPv4 5-tuples without a precedence. */
const isExact = (f: StoredFlow) => !inClassifier(f.spec);

function nativeKeyString(k: native.FlowKey): string {
  return `${k.srcIp}|${k.dstIp}|${k.srcPort}|${k.dstPort}|${k.proto}`;
}

function sameAction(x: native.FlowAction, y: native.FlowAction): boolean {
  return x.ruleId === y.ruleId && x.statsSlot === y.statsSlot && x.type === y.type && x.ttlDelta === y.ttlDelta && x.mark === y.mark &&
    x.queueId === y.queueId && x.snatIp === y.snatIp && x.snatPort === y.snatPort &&
    x.dnatIp === y.dnatIp && x.dnatPort === y.dnatPort && Boolean(x.mirror) === Boolean(y.mirror);
}

/**
 * SQLite's rules as a reconcile needs them: the ones with a precedence whole (the classifier
 * pictures them), the exact ones as rows read in chunks when the reconcile walks them (a
 * million rule objects at start-up would be most of its time, in V8's collector).
 */
export interface RuleSnapshot {
  classifier: StoredFlow[];
  exact: () => Iterable<ExactRow[]>;
  count: number;
}

const hostOf = (prefix: string) => prefix.slice(0, prefix.indexOf('/'));

/** The pcf_flow_map entry of an exact rule's row. */
function entryOf(r: ExactRow): native.FlowEntry {
  const x = r[8] === null ? null : (JSON.parse(r[8]) as ExactExtras);
  return {
    key: { srcIp: hostOf(r[2]), dstIp: hostOf(r[3]), srcPort: r[4] ?? 0, dstPort: r[5] ?? 0, proto: r[6] },
    action: x === null
      ? { ruleId: r[0], statsSlot: r[1], type: r[7], ttlDelta: 0, mark: null, queueId: null, mirror: false, snatIp: null, snatPort: null, dnatIp: null, dnatPort: null }
      : { ruleId: r[0], statsSlot: r[1], type: r[7], ttlDelta: x[0] ?? 0, mark: x[1], queueId: x[2], mirror: x[3] === 1, snatIp: x[4], snatPort: x[5], dnatIp: x[6], dnatPort: x[7] },
  };
}

/** What a drift check found (Datapath.drift); all zero: the maps hold exactly SQLite's rules. */
export interface Drift {
  exact_missing: number;
  exact_stale: number;
  exact_changed: number;
  classifier_missing: number;
  classifier_extra: number;
  classifier_changed: number;
  buckets_changed: number;
}

function sameBody(x: native.RuleBody, y: native.RuleBody): boolean {
  return x.precedence === y.precedence && x.srcPorts[0] === y.srcPorts[0] && x.srcPorts[1] === y.srcPorts[1] &&
    x.dstPorts[0] === y.dstPorts[0] && x.dstPorts[1] === y.dstPorts[1] && sameAction(x.action, y.action);
}

const sameShape = (x: native.ShapeEntry, y: native.ShapeEntry) =>
  x.id === y.id && x.family === y.family && x.flags === y.flags && x.srcLen === y.srcLen && x.dstLen === y.dstLen &&
  x.minPrecedence === y.minPrecedence && x.minRuleId === y.minRuleId;

interface OpenMaps {
  flows: native.FlowMap;
  ruleStats: native.RuleStatsMap;
  stats: native.StatsMap;
  config: native.ConfigMap;
  ruleSet: native.RuleSet;
}

export class Datapath {
  private maps: OpenMaps | null = null;
  private mapId: number | null = null;
  private lastReconcileAt: string | null = null;
  private lastError: string | null = null;
  /** pcf_config of every attachment in use (an interface), in attachment order. */
  private attachments: native.PcfConfig[] = [];
  /** A cleanup after publishing failed: the next refresh reconciles. */
  private dirty = false;
  /** The rules with a precedence as the classifier maps hold them (or will, once present). */
  readonly classifier = new Classifier();
  /** Rules in SQLite, all kinds (the service sets it): exact rules = these - the classifier's. */
  rulesInDb: () => number = () => 0;
  /** The maps' rules at the last count (reconcile, drift check) and SQLite's count then. */
  private counted: { inMap: number; inDb: number } | null = null;
  /** apply() calls that reached the maps: a transaction that fails after one (its COMMIT)
   * has left them ahead of SQLite. */
  writes = 0;
  /** What pcf_ruleset.no_exact says now (null: unknown, write it). */
  private noExact: boolean | null = null;

  /** Lets XDP skip the exact table while it is empty: cleared before the first exact entry
   * goes in, set after the last one went. */
  private syncNoExact(maps: OpenMaps, noExact: boolean): void {
    if (this.noExact === noExact) return;
    maps.ruleSet.setNoExact(noExact);
    this.noExact = noExact;
  }

  constructor(readonly pinDir: string, private readonly log: Logger) {}

  private pin(name: string): string {
    return path.join(this.pinDir, name);
  }

  get present(): boolean {
    return this.maps !== null;
  }

  get capacity(): number | null {
    return this.maps?.flows.maxEntries ?? null;
  }

  /**
   * RX queues a queue_id must stay below: the fewest of any attached interface, since a rule
   * does not say on which one its flow arrives. From pcf_config, re-read on every refresh
   * (the write path must not pay a syscall for it).
   */
  get rxQueues(): number | null {
    return this.attachments.length ? Math.min(...this.attachments.map((a) => a.nRxQueues)) : null;
  }

  private readConfig(): void {
    try {
      this.attachments = this.maps?.config.readAttachments() ?? [];
    } catch (err) {
      this.attachments = [];
      this.lastError = (err as Error).message;
    }
  }

  /**
   * Looks at the pin dir. Returns true when the maps appeared or were re-created since the
   * last call (the caller then reconciles), false when nothing changed or they went away.
   */
  refresh(): boolean {
    if (this.dirty && this.maps) {
      this.dirty = false;
      return true;
    }
    let id: number | null;
    try {
      id = native.pinnedMapId(this.pin('pcf_flow_map'));
    } catch (err) {
      id = null;
      this.lastError = (err as Error).message;
    }
    if (id === this.mapId && (id === null) === (this.maps === null)) {
      this.readConfig();
      return false;
    }
    this.close();
    this.mapId = id;
    if (id === null) {
      this.log.warn({ pinDir: this.pinDir }, 'datapath absent: rules are stored and will be pushed when the maps appear');
      return false;
    }
    try {
      this.maps = {
        flows: native.FlowMap.open(this.pin('pcf_flow_map')),
        ruleStats: native.RuleStatsMap.open(this.pin('pcf_rule_stats')),
        stats: native.StatsMap.open(this.pin('pcf_stats')),
        config: native.ConfigMap.open(this.pin('pcf_config')),
        ruleSet: new native.RuleSet(this.pinDir),
      };
      this.lastError = null;
      this.readConfig();
      this.log.info({ pinDir: this.pinDir, mapId: id }, 'datapath maps opened');
      return true;
    } catch (err) {
      this.close();
      this.mapId = null; // try again on the next refresh
      this.lastError = (err as Error).message;
      this.log.error({ err, pinDir: this.pinDir }, 'failed to open the pinned maps');
      return false;
    }
  }

  close(): void {
    this.attachments = [];
    this.noExact = null;
    this.counted = null;
    if (!this.maps) return;
    for (const m of Object.values(this.maps)) m.close();
    this.maps = null;
  }

  /** The picture of the classifier from SQLite, while the maps are absent (limits hold anyway). */
  load(snap: RuleSnapshot): void {
    this.classifier.load(snap.classifier, actionOf, null);
  }

  /**
   * Applies a change of rules to the maps, all or nothing while nothing is published: exact
   * rules go into pcf_flow_map first (a packet of an added exact rule gets the new answer
   * at once: exact rules rank first), then the rules with a precedence are committed in one
   * step, then what no packet can see any more goes (exact keys deleted, buckets emptied).
   * On failure before publishing the maps and the classifier's picture are as before and
   * this throws, so the caller's transaction rolls back; a classifier limit throws a
   * CapacityError naming field(i). New rules' counter slots are zeroed first: a slot may
   * have counted for a deleted rule. `rulesAfter`: the rules SQLite will hold, when it is
   * not yet what it counts (a batch before its COMMIT).
   */
  apply(upserts: StoredFlow[], deletes: StoredFlow[], newSlots: number[], field: (i: number) => string, rulesAfter?: number): void {
    const changes = upserts.map((f) => ({ f, action: actionOf(f) }));
    const plan = this.classifier.plan(changes, deletes, field);
    const maps = this.maps;
    if (!maps) {
      this.classifier.done(true);
      return;
    }
    const exactPut = upserts.filter(isExact);
    this.writes++;
    try {
      if (newSlots.length) maps.ruleStats.resetCounters(newSlots);
      if (exactPut.length) this.syncNoExact(maps, false);
      // Nothing is put back on a failure here: the caller's write() (or the batch) reconciles
      // the maps with SQLite before it answers.
      if (exactPut.length) maps.flows.writeFlows(changes.filter((c) => isExact(c.f)).map((c) => ({ key: toNativeKey(c.f.spec.key!), action: c.action })));
      // The IPv6 NAT addresses the worker reads by the rule's slot (no room in the metadata);
      // zeros ("keep") for a port-only NAT, so a reused slot never keeps another rule's.
      for (const f of upserts) {
        const n = f.spec.action.nat;
        if (f.spec.match.family === 6 && n) maps.ruleSet.setNat6(f.slot, n.snat_ip, n.dnat_ip);
      }
      if (plan) maps.ruleSet.commit(plan);
    } catch (err) {
      this.classifier.rollback();
      // The addon restored what it could (rolledBack false: not even that) and another
      // writer may be behind it (a map filled by hand): reconcile on the next refresh, not
      // only at the next drift check. The write is refused and may be retried.
      this.dirty = true;
      throw this.refused(err);
    }
    let clean = true;
    if (plan) {
      try {
        maps.ruleSet.cleanup(plan.cleanup);
      } catch (err) {
        clean = false;
        this.dirty = true;
        this.log.warn({ err }, 'classifier cleanup after a commit failed; reconciling');
      }
    }
    this.classifier.done(clean);
    // Exact entries no generation from now on may see: deleted rules, and exact matches
    // that took a precedence (the classifier holds them now).
    const gone = [...deletes.filter(isExact), ...upserts.filter((f) => !isExact(f) && f.spec.key)];
    if (gone.length === 0) return;
    try {
      maps.flows.deleteFlows(gone.map((f) => toNativeKey(f.spec.key!)));
    } catch (err) {
      if (!plan) throw err; // nothing published: the caller rolls back
      this.dirty = true;
      this.log.warn({ err }, 'deleting exact entries after a commit failed; reconciling');
      return;
    }
    // rulesAfter: a batch applies before its COMMIT, when SQLite still counts the rules before it.
    this.syncNoExact(maps, (rulesAfter ?? this.rulesInDb()) - this.classifier.rules === 0);
  }

  /**
   * A batch's exact rules, a step at a time before its COMMIT (service.ts batchInSteps): new
   * rules' slots zeroed, their entries written. What has a precedence waits for apply(). A
   * refusal marks the maps for a reconcile and throws (503 naming the errno, as apply()).
   */
  writeExact(upserts: UpsertResult[]): void {
    const maps = this.maps;
    if (!maps) return;
    const exact = upserts.filter(isExact);
    if (!exact.length) return;
    this.writes++;
    try {
      const fresh = exact.filter((f) => f.created).map((f) => f.slot);
      if (fresh.length) maps.ruleStats.resetCounters(fresh);
      this.syncNoExact(maps, false);
      // No restore on failure: the batch reconciles instead.
      maps.flows.writeFlows(exact.map((f) => ({ key: toNativeKey(f.spec.key!), action: actionOf(f) })));
    } catch (err) {
      this.dirty = true;
      throw this.refused(err);
    }
  }

  /** A map write's error as the caller answers it: the kernel's refusal becomes 503. */
  private refused(err: unknown): unknown {
    const e = err as native.PcfSystemError;
    this.log.warn({ err, rolledBack: e.rolledBack }, 'a map write failed; reconciling');
    if (e.errno) return new UnavailableError(`the datapath refused the write (${e.code} from ${e.syscall}); nothing of it is kept; the maps are being reconciled with SQLite, retry`);
    return err;
  }

  /**
   * Makes the maps equal to `flows` (SQLite): in pcf_flow_map stale keys out, missing or
   * different ones in; the classifier maps rebuilt in one commit. A rule whose entry was
   * missing or different has unknown counts: its slot is zeroed.
   */
  reconcile(snap: RuleSnapshot): { added: number; removed: number; kept: number; classified: number; generation: number | null } {
    if (!this.maps) return { added: 0, removed: 0, kept: 0, classified: 0, generation: null };
    const maps = this.maps;
    const flows = maps.flows;
    const statsSlots = maps.ruleStats.maxEntries;
    let outOfRange = 0;
    const resetCounters = (slots: number[]) => {
      // A map re-created smaller than the slots in use: those rules act, uncounted.
      const inRange = slots.filter((s) => s < statsSlots);
      outOfRange += slots.length - inRange.length;
      if (inRange.length) maps.ruleStats.resetCounters(inRange);
    };
    this.noExact = null;
    let exactRules = 0;
    let put = 0;
    let stale: native.FlowKey[] = [];
    if (flows.scanFlows(null, 1).entries.length === 0) {
      // Empty (a start-up after the loader created the maps): every rule goes in, chunk by
      // chunk as SQLite yields them, with nothing to compare.
      for (const rows of snap.exact()) {
        if (exactRules === 0) this.syncNoExact(maps, false);
        const entries = rows.map(entryOf);
        resetCounters(rows.map((r) => r[1]));
        flows.writeFlows(entries); // a failed reconcile is retried whole
        exactRules += rows.length;
      }
      put = exactRules;
    } else {
      ({ exactRules, put, stale } = this.reconcileExact(snap, resetCounters));
    }

    // The classifier: one commit to the picture of SQLite, keeping the shape ids in use.
    const rs = maps.ruleSet;
    const live = rs.liveSlots();
    const plan = this.classifier.load(snap.classifier, actionOf, { shapes: rs.readShapes(), buckets: rs.listBuckets(), liveSlots: live });
    const wasLive = new Set(live);
    resetCounters(plan.rules.filter((r) => r.next && !wasLive.has(r.slot)).map((r) => r.slot));
    if (outOfRange) this.log.warn({ slots: outOfRange }, 'rule counter slots beyond pcf_rule_stats: those rules are not counted');
    for (const f of snap.classifier) {
      const n = f.spec.action.nat;
      if (f.spec.match.family === 6 && n) rs.setNat6(f.slot, n.snat_ip, n.dnat_ip);
    }
    const generation = rs.commit(plan);
    rs.cleanup(plan.cleanup);
    this.classifier.done(true);
    if (stale.length) flows.deleteFlows(stale);
    this.syncNoExact(maps, exactRules === 0);

    this.lastReconcileAt = new Date().toISOString();
    this.counted = { inMap: exactRules + this.classifier.rules, inDb: snap.count };
    return { added: put, removed: stale.length, kept: exactRules - put, classified: this.classifier.rules, generation };
  }

  /**
   * reconcile() of a pcf_flow_map that holds entries: stale keys found, missing or different
   * entries written (their slots zeroed: their counts are unknown).
   */
  private reconcileExact(snap: RuleSnapshot, resetCounters: (slots: number[]) => void): { exactRules: number; put: number; stale: native.FlowKey[] } {
    const flows = this.maps!.flows;
    const want = new Map<string, native.FlowEntry>();
    for (const rows of snap.exact()) for (const r of rows) {
      const e = entryOf(r);
      want.set(nativeKeyString(e.key), e);
    }
    let have: native.FlowEntry[];
    try {
      have = flows.listFlows();
    } catch (err) {
      // An entry this addon cannot decode (another writer): drop everything, rewrite all.
      this.log.warn({ err }, 'pcf_flow_map holds entries of an unknown layout; rewriting it');
      have = flows.listFlowKeys().map((key) => ({ key, action: null as unknown as native.FlowAction }));
    }
    const stale: native.FlowKey[] = [];
    const seen = new Map<string, native.FlowAction>();
    for (const e of have) {
      const k = nativeKeyString(e.key);
      if (want.has(k) && e.action) seen.set(k, e.action);
      else if (!want.has(k)) stale.push(e.key);
    }
    const put: native.FlowEntry[] = [];
    const resetSlots: number[] = [];
    for (const [k, e] of want) {
      const cur = seen.get(k);
      if (cur && sameAction(cur, e.action)) continue;
      put.push(e);
      if (!cur || cur.statsSlot !== e.action.statsSlot || cur.ruleId !== e.action.ruleId) resetSlots.push(e.action.statsSlot);
    }
    resetCounters(resetSlots);
    if (put.length) this.syncNoExact(this.maps!, false);
    if (put.length) flows.writeFlows(put);
    return { exactRules: want.size, put: put.length, stale };
  }

  /**
   * Drift, step 1 (server/drift.ts walks SQLite in steps): of these rules, the exact ones
   * missing from pcf_flow_map or there with another action, slot or id, and the ones with a
   * precedence not live in pcf_rules or live with another body (precedence, ports, action).
   * One lookup per rule, read-only.
   */
  checkRules(flows: StoredFlow[], d: Drift): void {
    const maps = this.maps;
    if (!maps) return;
    for (const f of flows) {
      if (isExact(f)) {
        const a = maps.flows.lookupFlow(toNativeKey(f.spec.key!));
        if (!a) d.exact_missing++;
        else if (!sameAction(a, actionOf(f))) d.exact_changed++;
        continue;
      }
      const r = maps.ruleSet.readRule(f.slot);
      if (!r?.body.live) d.classifier_missing++;
      else if (!r.body.action || r.body.ruleId !== f.id || !sameBody(r.body as native.RuleBody, bodyOf(f, actionOf(f)))) d.classifier_changed++;
    }
  }

  /**
   * Drift, step 2: about `max` entries of pcf_flow_map from `cursor` (null: the start), each
   * counted stale when no exact rule has its key (`exactRule` asks SQLite). Returns where the
   * next step goes on (null: done) and how many entries it saw.
   */
  scanExact(cursor: Buffer | null, max: number, exactRule: (k: FlowKey) => number | undefined, d: Drift): { cursor: Buffer | null; seen: number } {
    if (!this.maps) return { cursor: null, seen: 0 };
    const step = this.maps.flows.scanFlows(cursor, max);
    for (const e of step.entries) {
      const k = { src_ip: e.key.srcIp, dst_ip: e.key.dstIp, src_port: e.key.srcPort, dst_port: e.key.dstPort, proto: e.key.proto };
      if (exactRule(k) === undefined) d.exact_stale++;
    }
    return { cursor: step.cursor, seen: step.entries.length };
  }

  /**
   * Drift, step 3: live bodies in pcf_rules of no rule, and pcf_match_map's buckets and the
   * shape table against the classifier's picture (after a commit's cleanup they are equal).
   */
  checkClassifierMaps(d: Drift): void {
    if (!this.maps) return;
    const rs = this.maps.ruleSet;
    for (const s of rs.liveSlots()) if (!this.classifier.holds(s)) d.classifier_extra++;
    const pic = this.classifier.picture();
    const held = new Map(rs.listBuckets().map((b) => [bucketKeyString(b.key), [...b.slots].sort((x, y) => x - y)]));
    for (const [k, slots] of pic.buckets) {
      const h = held.get(k);
      if (!h || h.length !== slots.length || h.some((x, i) => x !== slots[i])) d.buckets_changed++;
    }
    for (const k of held.keys()) if (!pic.buckets.has(k)) d.buckets_changed++;
    const shapes = rs.readShapes();
    if (shapes.length !== pic.shapes.length || shapes.some((x, i) => !sameShape(x, pic.shapes[i]))) d.buckets_changed++;
  }

  /** A drift check found the maps equal to SQLite's `inDb` rules: the count starts from there. */
  verified(inDb: number): void {
    if (this.maps) this.counted = { inMap: inDb, inDb };
  }

  /** The published generation of the classifier, or null without maps. */
  generation(): number | null {
    return this.maps ? this.maps.ruleSet.readState().gen : null;
  }

  /**
   * Rules in the maps (exact entries plus live classifier slots) as last counted, at the
   * reconcile or drift check (every PCF_DRIFT_CHECK_MS), plus what SQLite gained or lost since:
   * every acknowledged write is in the maps too. O(1); a dump only before the first count.
   */
  countInMap(): number | null {
    if (!this.maps) return null;
    if (this.counted) return this.counted.inMap + (this.rulesInDb() - this.counted.inDb);
    return this.maps.flows.countFlows() + this.maps.ruleSet.liveSlots().length;
  }

  counters(): Record<string, Counter> {
    return this.maps ? this.maps.stats.readCounters() : {};
  }

  /** Counters of slots 0..count-1, index = slot; empty without datapath. */
  slotCounters(count: number): Counter[] {
    if (!this.maps) return [];
    return this.maps.ruleStats.readCounters(Math.min(count, this.maps.ruleStats.maxEntries));
  }

  slotCounter(slot: number): Counter | undefined {
    if (!this.maps || slot >= this.maps.ruleStats.maxEntries) return undefined;
    return this.maps.ruleStats.readCounter(slot);
  }

  state(): DatapathState {
    this.readConfig();
    const cfg = this.attachments.find((a) => a.attachment === 0) ?? this.attachments[0];
    return {
      present: this.present,
      pin_dir: this.pinDir,
      map_id: this.mapId,
      map_capacity: this.capacity,
      default_action: cfg?.defaultAction ?? null,
      rx_queues: this.rxQueues,
      attachments: this.attachments.map((a) => ({ attachment: a.attachment, ifindex: a.ifindex, rx_queues: a.nRxQueues, default_action: a.defaultAction })),
      last_reconcile_at: this.lastReconcileAt,
      error: this.lastError,
    };
  }
}
