/**
 * Typed wrapper of the pcf_native addon (native/src/): the pinned BPF maps of
 * include/pcf_common.h, opened by path, read and written through libbpf.
 *
 * - Synchronous on purpose: the control plane calls these inside better-sqlite3
 *   transactions, which must be synchronous, and bpf() map operations do not block.
 * - TypeScript never packs bytes: the addon converts these objects to the C structs of
 *   pcf_common.h (network byte order, PCF_F_* flags, PCF_QUEUE_ANY) and back.
 * - Counters are JS numbers: exact up to Number.MAX_SAFE_INTEGER (2^53 - 1 packets or bytes,
 *   about 9 PB); beyond that they lose low-order precision, they never wrap.
 * - Errors: a failed bpf() call throws a {@link PcfSystemError}; a bad argument a TypeError
 *   with code 'ERR_PCF_INVALID_ARG' and the field; a pinned map of the wrong shape (a stale
 *   program) an Error with code 'ERR_PCF_MAP_LAYOUT'. Arguments are validated before the
 *   first syscall, so a TypeError never leaves a map half-written.
 *
 * Build: `cd native && npx node-gyp rebuild` (needs libbpf-dev).
 */
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const native = require('./build/Release/pcf_native.node') as NativeModule;

export type ActionType = 'PASS' | 'DROP' | 'REDIRECT';

/** The 5-tuple. Ports are 0 for protocols without ports (ICMP). */
export interface FlowKey {
  /** Dotted IPv4, e.g. '198.18.0.1'. */
  srcIp: string;
  dstIp: string;
  /** 0..65535, host order (the addon stores network order). */
  srcPort: number;
  dstPort: number;
  /** IANA protocol number 0..255: 6 tcp, 17 udp, 1 icmp. */
  proto: number;
}

/**
 * What the datapath does with a flow. Reading a map always yields every field; when
 * writing, absent (undefined) optional fields count as null / 0 / false.
 */
export interface FlowAction {
  /** 0..2^32-1: the rule's stable id (SQLite); how the worker and the API name the rule. */
  ruleId: number;
  /**
   * 0..2^32-1, required: index of the rule's counters in pcf_rule_stats
   * ({@link RuleStatsMap}). Must be below that map's maxEntries for the datapath to count
   * the rule (the addon cannot check it here: the flow map does not know the counter map).
   * The control plane hands slots out densely and calls resetCounters before reusing one.
   */
  statsSlot: number;
  type: ActionType;
  /** -128..127, applied by the worker to REDIRECT traffic. */
  ttlDelta: number;
  /** 0..2^32-1: skb->mark for packets that take the kernel path; null: no mark (no PCF_F_MARK). */
  mark: number | null;
  /** 0..PCF_MAX_QUEUES-1 (63): redirect only on this RX queue; null: any queue (PCF_QUEUE_ANY). */
  queueId: number | null;
  /**
   * NAT: a side is on (PCF_F_SNAT / PCF_F_DNAT) when its address or port is non-null; a null
   * address or port keeps the packet's own. '0.0.0.0' and port 0 are refused (they are the
   * datapath's "keep", so say null).
   */
  snatIp: string | null;
  snatPort: number | null;
  dnatIp: string | null;
  dnatPort: number | null;
  /** PCF_F_MIRROR. */
  mirror: boolean;
}

export interface FlowEntry {
  key: FlowKey;
  action: FlowAction;
}

/** Summed over all possible CPUs. JS numbers: exact below 2^53. */
export interface Counter {
  packets: number;
  bytes: number;
}

export interface PcfConfig {
  /** The attachment (pcf_config index): the interface's place in the pin dir, one per interface it serves. */
  attachment: number;
  /** Action for packets that match no rule. */
  defaultAction: ActionType;
  nRxQueues: number;
  ifindex: number;
}

export interface UpsertResult {
  /** Keys that were not in the map. */
  inserted: number;
  /** Keys whose action was overwritten. */
  replaced: number;
}

/** What every map object exposes (from bpf_obj_get_info_by_fd when it was opened). */
export interface PinnedMap {
  readonly path: string;
  /** Kernel map id: changes when the loader re-creates the map (compare with pinnedMapId). */
  readonly id: number;
  readonly name: string;
  /** enum bpf_map_type, e.g. 1 (BPF_MAP_TYPE_HASH); typeName is libbpf's name, e.g. 'hash'. */
  readonly type: number;
  readonly typeName: string;
  readonly keySize: number;
  /** Per CPU for per-CPU maps. */
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly closed: boolean;
  /** Closes the fd (idempotent); later calls throw EBADF. The GC closes it otherwise. */
  close(): void;
}

/** pcf_flow_map: HASH struct pcf_flow_key -> struct pcf_flow_action. */
export interface FlowMap extends PinnedMap {
  /**
   * Inserts or replaces one or many entries (bpf_map_update_batch; per element on kernels
   * without it). A key given twice keeps its last action. All or nothing: when the kernel
   * fails midway (E2BIG: map full, ...) the entries already written are restored to what
   * they were, then a PcfSystemError is thrown with `index` (the entry that failed) and
   * `rolledBack` (false: the restore failed too; reconcile the map).
   */
  upsertFlows(entries: FlowEntry | readonly FlowEntry[]): UpsertResult;
  /**
   * upsertFlows without the restore, for a caller that reconciles the map when a write fails
   * (a batch before its COMMIT, a reconcile): it reads nothing first (upsertFlows looks up
   * every key it may have to put back), so it costs about half as much. On failure the map
   * may hold some of the entries; the PcfSystemError has `index` and `rolledBack` false.
   * Returns how many distinct keys were written.
   */
  writeFlows(entries: readonly FlowEntry[]): number;
  /** One step of a walk over the entries (about `max`), resumed from `cursor` (null: the
   * start); the returned cursor is null at the end. Entries written between steps may be
   * seen or not; none is seen twice unless the map changed. */
  scanFlows(cursor: Buffer | null, max: number): { entries: FlowEntry[]; cursor: Buffer | null };
  /**
   * Deletes one or many keys (bpf_map_delete_batch); absent keys are skipped. Returns how
   * many were deleted. All or nothing, as upsertFlows.
   */
  deleteFlows(keys: FlowKey | readonly FlowKey[]): number;
  /** The action of a key, or null when absent. */
  lookupFlow(key: FlowKey): FlowAction | null;
  /**
   * Every entry (bpf_map_lookup_batch, or get_next_key + lookup). Throws 'ERR_PCF_BAD_VALUE'
   * for an action type pcf_common.h does not define (another writer); listFlowKeys still
   * works then, for a reconcile that deletes and rewrites.
   */
  listFlows(): FlowEntry[];
  /** Every key, without decoding actions. */
  listFlowKeys(): FlowKey[];
  /** The number of entries (a dump without building objects: cheap enough for GET /stats). */
  countFlows(): number;
}

/**
 * pcf_rule_stats: PERCPU_ARRAY u32 slot -> struct pcf_counter, indexed by
 * {@link FlowAction.statsSlot}; maxEntries slots (the loader sizes it like the flow map).
 * Every slot always exists (an array): a slot no rule uses reads as whatever it last counted,
 * so reset it before handing it to a rule.
 *
 * A slot argument must be an integer in 0..maxEntries-1; otherwise a TypeError
 * ('ERR_PCF_INVALID_ARG') names it, before any syscall.
 */
export interface RuleStatsMap extends PinnedMap {
  /**
   * Writes zeroed counters (on every possible CPU) at the slots: bpf_map_update_batch, per
   * element on kernels without it. Every slot is validated before the first write. Not all
   * or nothing: when the kernel fails midway, a PcfSystemError carries `index` (position in
   * the caller's array of the first slot that may not be zeroed; the ones before it are);
   * zeroing is idempotent, so retry.
   */
  resetCounters(slots: number | readonly number[]): void;
  /**
   * Counters of slots 0..count-1, summed over possible CPUs; index = slot. count defaults to
   * maxEntries and must not exceed it. bpf_map_lookup_batch, 4096 slots per call (one lookup
   * per slot on kernels without it). 131072 slots, 2 possible CPUs: ~48 ms median (~40 ms of
   * it in the kernel, which grows with possible CPUs); per element ~115 ms.
   */
  readCounters(count?: number): Counter[];
  /** The counter of one slot, summed over possible CPUs. */
  readCounter(slot: number): Counter;
}

/** pcf_stats: PERCPU_ARRAY enum pcf_counter_idx -> struct pcf_counter (opened read-only). */
export interface StatsMap extends PinnedMap {
  /** Every counter of PCF_COUNTER_TABLE by name ({@link counterNames}), summed over CPUs. */
  readCounters(): Record<string, Counter>;
}

/** What XDP emits packet events for (struct pcf_event_config): the control plane's choice. */
export interface EventConfig {
  /** false: no event at all (XDP pays one load and a branch per packet). */
  on: boolean;
  /** Events per second on each CPU at most, after a burst of `burst` at once. */
  ratePerCpu: number;
  burst: number;
  /** 1 in N packets of each action (what XDP did); 0: none. */
  sample: { pass: number; drop: number; redirect: number };
}

/** pcf_event_config: ARRAY[1] struct pcf_event_config. */
export interface EventConfigMap extends PinnedMap {
  /** A never-written entry reads as off, ratePerCpu 0. */
  readConfig(): EventConfig;
  /** Every field is checked first (TypeError 'ERR_PCF_INVALID_ARG' naming it): ratePerCpu
   * 1..10,000,000, burst 1..1,000,000, samples 0..2^32-1; then one write. */
  writeConfig(config: EventConfig): void;
}

/** One packet event (struct pcf_packet_event), decoded. */
export interface PacketEvent {
  /** Wall clock, ms since the epoch (fractional): the kernel's CLOCK_MONOTONIC stamp moved
   * by the offset at read time. */
  time_ms: number;
  ifindex: number;
  attachment: number;
  queue: number;
  cpu: number;
  /** What XDP did (XDP_PASS: PASS, also for a REDIRECT rule without its socket). */
  action: ActionType | null;
  /** The outcome counter (PCF_COUNTER_TABLE name): act_drop, miss_pass, redirect_fallback, rsn_*. */
  reason: string | null;
  /** null: no rule (the default, or not parsed). */
  rule_id: number | null;
  len: number;
  /** null when the packet was not parsed (non-IP, malformed). */
  family: 4 | 6 | null;
  proto: number | null;
  src: string | null;
  dst: string | null;
  src_port: number | null;
  dst_port: number | null;
}

/** pcf_events, read on the event loop: onEvents gets each batch the ring holds. */
export interface EventReader {
  readonly id: number;
  readonly path: string;
  /** Stops reading (idempotent). */
  close(): void;
}

/** pcf_config: ARRAY[PCF_MAX_ATTACHMENTS] struct pcf_config (opened read-only; the loader writes it). */
export interface ConfigMap extends PinnedMap {
  /** pcf_config[attachment] (default attachment 0); ifindex 0: no interface at that attachment. */
  readConfig(attachment?: number): PcfConfig;
  /** Every attachment with an interface, in attachment order. */
  readAttachments(): PcfConfig[];
}

/** A masked key of pcf_match_map: the bucket of one shape, address pair and protocol. */
export interface MatchKey {
  /** pcf_shape.id, 0..PCF_MAX_SHAPES-1. */
  shape: number;
  /** 0..255; 0 when the shape has any protocol. */
  proto: number;
  /** Host order; 0 unless the shape has one source / destination port. */
  srcPort: number;
  dstPort: number;
  /** The masked addresses (IPv4 or IPv6 text); null for a shape of any family. */
  src: string | null;
  dst: string | null;
}

/** A rule with a precedence as the datapath holds it (struct pcf_rule_body). */
export interface RuleBody {
  /** 0..2^32-1: rank = precedence << 32 | action.ruleId, the lowest wins. */
  precedence: number;
  /** Inclusive, host order; [0, 65535] for any. */
  srcPorts: [number, number];
  dstPorts: [number, number];
  action: FlowAction;
}

/** The next body of a slot; null: no rule from the next generation on. */
export interface RuleChange {
  slot: number;
  next: RuleBody | null;
}

export interface BucketSlots {
  key: MatchKey;
  slots: number[];
}

/** One entry of a generation's shape table. */
export interface ShapeEntry {
  id: number;
  /** 0 (any: neither address given), 4 or 6. */
  family: number;
  /** PCF_SHAPE_PROTO 1 | PCF_SHAPE_SPORT 2 | PCF_SHAPE_DPORT 4. */
  flags: number;
  srcLen: number;
  dstLen: number;
  /** No rule of the shape ranks better than (minPrecedence, minRuleId). */
  minPrecedence: number;
  minRuleId: number;
}

/**
 * The classifier maps of rules with a precedence under one pin dir (pcf_rules,
 * pcf_match_map, pcf_shapes, pcf_ruleset): `new RuleSet(pinDir)`. commit() stages a change
 * where the packets of the current generation do not look and publishes it with one 4-byte
 * write: every packet is classified wholly by the old rules or wholly by the new. A staging
 * failure restores what was staged and publishes nothing (a PcfSystemError is thrown).
 */
export interface RuleSet {
  readonly maxSlots: number;
  readonly maxBuckets: number;
  readState(): { gen: number; nShapes: [number, number] };
  /** Stages the bodies, the buckets' new slots (added to what they hold) and the next shape
   * table, then publishes. Returns the new generation. */
  commit(plan: { rules: RuleChange[]; buckets: BucketSlots[]; shapes: ShapeEntry[] }): number;
  /** After commit: each bucket holds exactly these slots (empty: removed). */
  cleanup(buckets: BucketSlots[]): void;
  listBuckets(): BucketSlots[];
  /** Slots whose body the published generation sees as a rule. */
  liveSlots(): number[];
  readShapes(): ShapeEntry[];
  /** pcf_nat6[slot]: the IPv6 NAT addresses of a REDIRECT rule (null: keep the packet's). */
  setNat6(slot: number, snatIp: string | null, dnatIp: string | null): void;
  /** pcf_nat6[slot] as the worker reads it (null: an all-zero address, the packet's own is kept). */
  readNat6(slot: number): { snatIp: string | null; dnatIp: string | null };
  /** true: pcf_flow_map is empty and XDP skips its lookup; false: XDP looks (the default). */
  setNoExact(noExact: boolean): void;
  /** The version of the rule at slot that the published generation sees, or null. */
  readRule(slot: number): { gen: number; body: { live: boolean; precedence: number; ruleId: number; srcPorts: [number, number]; dstPorts: [number, number]; action: FlowAction | null } } | null;
  close(): void;
}

/** A failed bpf() call. */
export interface PcfSystemError extends Error {
  /** Positive errno. */
  errno: number;
  /** 'ENOENT', 'E2BIG', 'ENOTSUPP', ... */
  code: string;
  /** The libbpf function that failed, e.g. 'bpf_map_update_batch'. */
  syscall: string;
  /** The addon operation, e.g. 'upsertFlows', 'open'. */
  op: string;
  /** The pinned map. */
  path: string;
  /** upsertFlows/resetCounters: index in the caller's array of the element that failed. */
  index?: number;
  /** upsertFlows/deleteFlows: whether the map was restored. */
  rolledBack?: boolean;
  rollbackErrno?: number;
  rollbackCode?: string;
}

/** A bad argument (TypeError). */
export interface PcfArgumentError extends TypeError {
  code: 'ERR_PCF_INVALID_ARG';
  /** e.g. 'entries[2].action.snatPort'. */
  field: string;
}

/** A pinned map of the wrong shape, or a value the addon cannot decode. */
export interface PcfMapError extends Error {
  code: 'ERR_PCF_MAP_LAYOUT' | 'ERR_PCF_BAD_VALUE';
  path: string;
}

export function isPcfSystemError(e: unknown): e is PcfSystemError {
  return e instanceof Error && typeof (e as Partial<PcfSystemError>).errno === 'number';
}

/** What the addon's RuleStatsMap has: readCounters is built below from _readCounterSums. */
interface NativeRuleStatsMap extends Omit<RuleStatsMap, 'readCounters'> {
  /** [packets of slot 0, bytes of slot 0, packets of slot 1, ...] for slots 0..count-1. */
  _readCounterSums(count?: number): Float64Array;
}

/** What the addon's FlowMap has: upsertFlows and writeFlows are built below from _upsertFlows. */
interface NativeFlowMap extends Omit<FlowMap, 'upsertFlows' | 'writeFlows'> {
  /** upsertFlows (restore) or writeFlows of the entries gatherEntries read into columns. */
  _upsertFlows(isArray: boolean, kinds: Uint8Array, nums: Float64Array, strs: string[], restore: true): UpsertResult;
  _upsertFlows(isArray: boolean, kinds: Uint8Array, nums: Float64Array, strs: string[], restore: false): number;
}

interface NativeModule {
  FlowMap: MapClass<NativeFlowMap> & { prototype: NativeFlowMap };
  RuleStatsMap: MapClass<NativeRuleStatsMap> & { prototype: NativeRuleStatsMap };
  StatsMap: MapClass<StatsMap>;
  ConfigMap: MapClass<ConfigMap>;
  EventConfigMap: MapClass<EventConfigMap>;
  EventReader: new (path: string, onEvents: (events: PacketEvent[]) => void) => EventReader;
  RuleSet: new (pinDir: string) => RuleSet;
  maxShapes: number;
  bucketRules: number;
  pinnedMapId(path: string): number | null;
  mapInfo(pinDir: string): Record<string, MapInfo | null>;
  traceBursts(pinDir: string): BurstTrace | null;
  possibleCpus(): number;
  _setBatchSyscalls(enabled: boolean): void;
  _entryColumns: string[];
  _valueKinds: string[];
  counterNames: string[];
  pinNames: PinNames;
  defaultPinDir: string;
  defaultMaxRules: number;
  maxQueues: number;
}

/** File names of the pinned objects under the pin dir (PCF_PIN_* of pcf_common.h). */
export interface PinNames {
  flowMap: string;
  stats: string;
  ruleStats: string;
  xskmap: string;
  config: string;
  /** Packet events: the ring and the control plane's choice. */
  events: string;
  eventConfig: string;
}

/**
 * A map class: `FlowMap.open(path)` (or `new FlowMap(path)`) opens the map pinned at path and
 * checks its shape; throws ENOENT when nothing is pinned there, ERR_PCF_MAP_LAYOUT when the
 * shape is not the one of pcf_common.h.
 */
export interface MapClass<T extends PinnedMap> {
  new (path: string): T;
  open(path: string): T;
}

// readCounters builds the Counter objects here: V8 makes 131072 object literals several
// times faster than the addon can through N-API (measured: ~5-20 ms against ~35-80 ms).
Object.defineProperty(native.RuleStatsMap.prototype, 'readCounters', {
  value: function readCounters(this: NativeRuleStatsMap, count?: number): Counter[] {
    const sums = this._readCounterSums(count);
    const out: Counter[] = [];
    for (let i = 0; i < sums.length; i += 2) out.push({ packets: sums[i], bytes: sums[i + 1] });
    return out;
  },
});

// upsertFlows reads the entries' properties here, into columns the addon validates and packs:
// V8 reads the 16 properties of an entry several times faster than N-API can (measured,
// 100,000 entries: ~20 ms here, where the addon spent ~85 ms on the property reads alone).
// Nothing is checked or converted here: each value goes over as its kind (VALUE_KINDS, the
// addon's enum class Kind) plus, for numbers and strings, the value itself; the addon then
// throws the same errors, naming the same fields, as when it read the objects itself.

/** Kinds of values, numbered as native/src/codec.h numbers them (checked below). */
const VALUE_KINDS = ['none', 'undefined', 'null', 'false', 'true', 'number', 'string', 'object', 'other'];
const K_UNDEFINED = 1, K_NULL = 2, K_FALSE = 3, K_TRUE = 4, K_NUMBER = 5, K_STRING = 6, K_OBJECT = 7, K_OTHER = 8;
/** The fields of one entry, in the order the addon reads them (kEntryColumnNames). */
const ENTRY_COLUMNS = [
  'entry',
  'key', 'key.srcIp', 'key.dstIp', 'key.srcPort', 'key.dstPort', 'key.proto',
  'action', 'action.ruleId', 'action.statsSlot', 'action.type', 'action.ttlDelta', 'action.mark',
  'action.queueId', 'action.snatIp', 'action.snatPort', 'action.dnatIp', 'action.dnatPort', 'action.mirror',
];
const FIELDS = ENTRY_COLUMNS.length;
const KEY_AT = ENTRY_COLUMNS.indexOf('key');
const ACTION_AT = ENTRY_COLUMNS.indexOf('action');
/** Numbers in a valid entry, at most: room for them up front. */
const NUMS_PER_ENTRY = 10;
if (
  JSON.stringify(native._entryColumns) !== JSON.stringify(ENTRY_COLUMNS) ||
  JSON.stringify(native._valueKinds) !== JSON.stringify(VALUE_KINDS)
)
  throw new Error('native/index.ts and the pcf_native addon disagree on the upsertFlows columns: rebuild the addon (cd native && npx node-gyp rebuild)');

// typeof comparisons, not a switch on typeof: V8 compiles these to type checks.
function kindOf(v: unknown): number {
  if (typeof v === 'number') return K_NUMBER;
  if (typeof v === 'string') return K_STRING;
  if (v === null) return K_NULL;
  if (v === undefined) return K_UNDEFINED;
  if (typeof v === 'object') return Array.isArray(v) ? K_OTHER : K_OBJECT;
  if (typeof v === 'boolean') return v ? K_TRUE : K_FALSE;
  if (typeof v === 'function') return K_OBJECT;
  return K_OTHER; // bigint, symbol
}

/**
 * kinds[i * FIELDS + f] is the kind of field f of entry i (0, 'none', for the fields of
 * something that is not an object). In that same order `nums` holds each number and `strs`
 * each string.
 */
function gatherEntries(entries: readonly unknown[]): { kinds: Uint8Array; nums: Float64Array; strs: string[] } {
  const kinds = new Uint8Array(entries.length * FIELDS);
  let nums = new Float64Array(entries.length * NUMS_PER_ENTRY);
  let nNums = 0;
  const strs: string[] = [];
  const put = (at: number, v: unknown): number => {
    const kind = kindOf(v);
    kinds[at] = kind;
    if (kind === K_NUMBER) {
      if (nNums === nums.length) { // only with numbers where they do not belong
        const more = new Float64Array(2 * nums.length + FIELDS);
        more.set(nums);
        nums = more;
      }
      nums[nNums++] = v as number;
    } else if (kind === K_STRING) {
      strs.push(v as string);
    }
    return kind;
  };
  for (let i = 0; i < entries.length; i++) {
    const at = i * FIELDS;
    const e = entries[i] as FlowEntry;
    if (put(at, e) !== K_OBJECT) continue;
    const k = e.key;
    if (put(at + KEY_AT, k) === K_OBJECT) {
      put(at + KEY_AT + 1, k.srcIp);
      put(at + KEY_AT + 2, k.dstIp);
      put(at + KEY_AT + 3, k.srcPort);
      put(at + KEY_AT + 4, k.dstPort);
      put(at + KEY_AT + 5, k.proto);
    }
    const a = e.action;
    if (put(at + ACTION_AT, a) === K_OBJECT) {
      put(at + ACTION_AT + 1, a.ruleId);
      put(at + ACTION_AT + 2, a.statsSlot);
      put(at + ACTION_AT + 3, a.type);
      put(at + ACTION_AT + 4, a.ttlDelta);
      put(at + ACTION_AT + 5, a.mark);
      put(at + ACTION_AT + 6, a.queueId);
      put(at + ACTION_AT + 7, a.snatIp);
      put(at + ACTION_AT + 8, a.snatPort);
      put(at + ACTION_AT + 9, a.dnatIp);
      put(at + ACTION_AT + 10, a.dnatPort);
      put(at + ACTION_AT + 11, a.mirror);
    }
  }
  return { kinds, nums, strs };
}

Object.defineProperty(native.FlowMap.prototype, 'upsertFlows', {
  value: function upsertFlows(this: NativeFlowMap, entries: FlowEntry | readonly FlowEntry[]): UpsertResult {
    const isArray = Array.isArray(entries);
    const c = gatherEntries(isArray ? entries : [entries]);
    return this._upsertFlows(isArray, c.kinds, c.nums, c.strs, true);
  },
});

Object.defineProperty(native.FlowMap.prototype, 'writeFlows', {
  value: function writeFlows(this: NativeFlowMap, entries: readonly FlowEntry[]): number {
    const c = gatherEntries(entries);
    return this._upsertFlows(true, c.kinds, c.nums, c.strs, false);
  },
});

export const FlowMap = native.FlowMap as unknown as MapClass<FlowMap>;
export const RuleStatsMap = native.RuleStatsMap as unknown as MapClass<RuleStatsMap>;
export const StatsMap: MapClass<StatsMap> = native.StatsMap;
export const ConfigMap: MapClass<ConfigMap> = native.ConfigMap;
export const EventConfigMap: MapClass<EventConfigMap> = native.EventConfigMap;
export const EventReader: new (path: string, onEvents: (events: PacketEvent[]) => void) => EventReader = native.EventReader;
export const RuleSet: new (pinDir: string) => RuleSet = native.RuleSet;
/** PCF_MAX_SHAPES and PCF_BUCKET_RULES: the classifier's limits. */
export const limits = Object.freeze({ maxShapes: native.maxShapes, bucketRules: native.bucketRules });

/**
 * Id of the map pinned at path, or null when nothing is pinned there. Cheap (open, one info
 * call, close): poll it to notice a re-created map (the id differs from the open map's
 * `id`) or an absent datapath (null). Other failures throw.
 */
export function pinnedMapId(path: string): number | null {
  return native.pinnedMapId(path);
}

/** What the kernel says of one pinned map (map_info.cc). */
export interface MapInfo {
  /** libbpf's name of the map type: "hash", "percpu_array", "lru_percpu_hash", ... */
  type: string;
  id: number;
  /** max_entries */
  capacity: number;
  /** The kernel's element count (hash maps, through the pinned map-count iterator, Linux
   * 6.6); null for an array (every entry is there) or without the iterator. */
  elements: number | null;
  /** The kernel's memlock figure of the map (its fdinfo), in bytes. */
  memory_bytes: number | null;
}

/**
 * Every pinned map of pcf_common.h under pinDir by name, null when it is not pinned: type,
 * capacity, elements and memory, as the kernel reports them. A dozen system calls and one
 * read of the iterator, whatever the maps hold.
 */
export function mapInfo(pinDir: string): Record<string, MapInfo | null> {
  return native.mapInfo(pinDir);
}

/** One port queue's bursts in a trace (struct pcf_burst_stats), counted since the trace began. */
export interface BurstQueue {
  /** rx: pcf_worker:rx_burst (received); tx: tx_burst (handed to the egress). */
  dir: 'rx' | 'tx';
  /** The worker's port name, e.g. "dut0 queue 0". */
  port: string;
  /** The lcore's RX queue. */
  queue: number;
  bursts: number;
  /** The sum of the bursts' sizes. */
  packets: number;
  /** tx: what the egress took of them; 0 for rx. */
  sent: number;
  /** hist[n]: bursts of n packets (hist[64]: 64 or more); 65 entries. */
  hist: number[];
}

/** The burst trace a running pcf-trace publishes in the pin dir (trace.cc, trace/README.md). */
export interface BurstTrace {
  /** The traced worker's pid, in pcf-trace's pid namespace. */
  pid: number;
  interval_ms: number;
  /** Workers attached to so far: a worker restart adds one. */
  attaches: number;
  /** Since the tool's last heartbeat / since it attached first. */
  age_ms: number;
  running_ms: number;
  /** CLOCK_MONOTONIC ms when it first attached: what tells one trace from the next. */
  started_ms: number;
  /** The heartbeat is recent: the tool runs (a killed tool's pins stay until the next). */
  live: boolean;
  queues: BurstQueue[];
}

/** The trace pcf-trace publishes under pinDir, or null when none is pinned. */
export function traceBursts(pinDir: string): BurstTrace | null {
  return native.traceBursts(pinDir);
}

/** libbpf_num_possible_cpus(): the number of per-CPU slots summed on read. */
export function possibleCpus(): number {
  return native.possibleCpus();
}

/** Names of the XDP counters in enum pcf_counter_idx order (PCF_COUNTER_TABLE). */
export const counterNames: readonly string[] = Object.freeze([...native.counterNames]);
export const pinNames: Readonly<PinNames> = Object.freeze({ ...native.pinNames });
/** PCF_DEFAULT_PIN_DIR, '/sys/fs/bpf/pcf'. */
export const defaultPinDir: string = native.defaultPinDir;
/** PCF_DEFAULT_MAX_RULES. */
export const defaultMaxRules: number = native.defaultMaxRules;
/** PCF_MAX_QUEUES: queueId must be below it. */
export const maxQueues: number = native.maxQueues;

/** Full paths of the pinned objects under a pin dir. */
export function pinPaths(pinDir: string = defaultPinDir): Readonly<PinNames> {
  return Object.freeze({
    flowMap: path.join(pinDir, pinNames.flowMap),
    stats: path.join(pinDir, pinNames.stats),
    ruleStats: path.join(pinDir, pinNames.ruleStats),
    xskmap: path.join(pinDir, pinNames.xskmap),
    config: path.join(pinDir, pinNames.config),
    events: path.join(pinDir, pinNames.events),
    eventConfig: path.join(pinDir, pinNames.eventConfig),
  });
}

/** For tests only. */
export const _testing = {
  /** false: use the per-element syscalls instead of the batch ones (process-wide). */
  setBatchSyscalls(enabled: boolean): void {
    native._setBatchSyscalls(enabled);
  },
};
