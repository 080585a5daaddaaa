// service.ts - the one service layer behind REST and gRPC. Write path (DESIGN.md): validate,
// write SQLite in a transaction, write the map inside it (a map error rolls SQLite back),
// commit, answer. Reconcile makes the maps equal to SQLite at start-up and whenever the
// pinned maps appear or are re-created.
import { EventEmitter } from 'node:events';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { type Datapath, type DatapathState, type Drift, type RuleSnapshot } from './datapath.js';
import { DRIFT_PAUSE, DRIFT_PAUSE_BUSY, DriftRound } from './drift.js';
import { CapacityError, ConflictError, NotFoundError, OutOfRangeError, quote, UnavailableError, ValidationError, type FieldError } from './errors.js';
import { PccStore, pccFlows, type PccRuleRow } from './pcc.js';
import { matchKeyString } from './match.js';
import type { Counter, Flow, FlowFilter, FlowSpec } from './model.js';
import { inClassifier } from './classifier.js';
import { SqliteThread } from './sqlite_thread.js';
import { CHUNK, FlowStore, upsertSql, WIDTH, type UpsertResult } from './store.js';
import { checkFlowSpec, validateFlowSpec, type DatapathLimits } from './validate.js';
import { BurstTraceMonitor } from './burst_trace.js';
import { PacketEventHub } from './packet_events.js';
import { MapPressureMonitor, type MapPressure } from './map_pressure.js';
import { FlowWatch, WATCH_STALL_MS, type WatchSink } from './watch.js';
import { WorkerRegistry, type WorkerView } from './workers.js';

export const MAX_BATCH = 200_000;
/** Rules per step of a large batch: validated and sent to the SQLite thread, later written to
 * the maps, with a turn of the event loop between steps (5-10 ms each on this 2-vCPU VM). */
export const BATCH_STEP = 1000;

/** One turn of the event loop: what waits (a GET /healthz) is served. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A batch's rules as they come: all at once, or a step at a time (gRPC decodes them so). */
export type RuleSource = unknown[] | AsyncIterable<unknown[]>;

export interface BatchAnswer {
  created: number;
  updated: number;
  ids: number[];
  revision: number;
}

interface Pending {
  spec: FlowSpec;
  resolve: (r: { flow: Flow; created: boolean }) => void;
  reject: (err: unknown) => void;
}

export interface DriftState {
  checks: number;
  checked_at: string | null;
  /** How long the last check took from its first step to its result (it yields between steps). */
  duration_ms: number | null;
  /** Entries found different and rewritten, over every check. */
  repaired: number;
  last_repair: (Drift & { at: string }) | null;
}

export interface Stats {
  read_at: string;
  revision: number;
  datapath: DatapathState & { rules_in_db: number; rules_in_map: number | null; drift: DriftState };
  classifier: ReturnType<Datapath['classifier']['stats']> & { generation: number | null };
  xdp: Record<string, Counter>;
  /** Only when asked (stats({ rules: true })): it reads every rule's counter slot. */
  rules?: { id: number; packets: number; bytes: number }[];
  workers: WorkerView[];
  /** Each pinned map as the kernel reports it (map_pressure.ts). */
  maps: Record<string, MapPressure | null>;
}

/** A PCC rule as the API shows it: each filter with the flows it became and their counters. */
export interface PccRule {
  pcc_rule_id: string;
  precedence: number;
  ue_ip: string | null;
  action: PccRuleRow['action'];
  flow_infos: { flow_description: string; flow_direction: string; flows: Flow[]; counters?: Counter }[];
  counters?: Counter;
  revision: number;
  created_at: string;
  updated_at: string;
}

/** An array a step at a time. */
function* stepsOf(all: unknown[]): Generator<unknown[]> {
  for (let i = 0; i < all.length; i += BATCH_STEP) yield all.slice(i, i + BATCH_STEP);
}

export class FlowService {
  readonly store: FlowStore;
  readonly pcc: PccStore;
  private readonly events = new EventEmitter();
  private reconcileError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pending: Pending[] = [];
  /** Rules in the last group commit (upsertGrouped). */
  private lastGroup = 0;
  private retryMs = 0;
  private retryAt = 0;
  private nextDriftAt = 0;
  private readonly driftState: DriftState = { checks: 0, checked_at: null, duration_ms: null, repaired: 0, last_repair: null };
  /** SQLite's rules as the constructor read them, until start() has reconciled (no write can
   * come in between: both run before the servers listen). */
  private startRules: RuleSnapshot | null = null;
  private round: DriftRound | null = null;
  private roundTimer: NodeJS.Timeout | null = null;
  /** A second connection on a thread of its own for large batches, opened by the first one
   * (undefined: not yet; null: in-memory SQLite, which a second connection would not see). */
  private sqliteThread: SqliteThread | null | undefined;
  /** The large batch in flight: every other write waits for it, drift checks too. */
  private batching: Promise<void> | null = null;

  readonly workers: WorkerRegistry;
  readonly mapPressure: MapPressureMonitor;
  readonly burstTrace: BurstTraceMonitor;
  readonly packetEvents: PacketEventHub;

  constructor(private readonly db: Database.Database, readonly datapath: Datapath, private readonly log: Logger, workerStaleMs = 5000, workerExpireMs = 300_000,
    private readonly driftCheckMs = 5000) {
    this.store = new FlowStore(db);
    this.pcc = new PccStore(db);
    // The classifier's limits hold from the first request, maps or not. The same rules serve
    // the start's reconcile.
    this.startRules = this.snapshot();
    this.datapath.load(this.startRules);
    this.datapath.rulesInDb = () => this.store.count();
    this.workers = new WorkerRegistry(workerStaleMs, workerExpireMs);
    this.mapPressure = new MapPressureMonitor(datapath.pinDir, log);
    this.burstTrace = new BurstTraceMonitor(datapath.pinDir, log);
    this.packetEvents = new PacketEventHub(db, datapath.pinDir, log);
    this.events.setMaxListeners(0);
  }

  /** Opens the maps if present and reconciles, then keeps watching the pin dir. */
  start(pollMs: number): void {
    this.thread(); // its start-up (a thread, a connection) is not a first batch's
    this.syncDatapath();
    this.startRules = null;
    this.timer = setInterval(() => this.syncDatapath(), pollMs);
    this.timer.unref();
    this.burstTrace.start();
    this.packetEvents.start();
  }

  /** Stops; a batch in flight first ends (commits or rolls back) on its thread and maps. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.burstTrace.stop();
    this.packetEvents.stop();
    while (this.batching) await this.batching;
    if (this.roundTimer) clearTimeout(this.roundTimer);
    this.round = null;
    void this.sqliteThread?.close();
    this.events.emit('close');
    this.datapath.close();
  }

  /** Runs fn when the service stops (watch streams end instead of holding shutdown up). */
  onClose(fn: () => void): () => void {
    this.events.once('close', fn);
    return () => this.events.off('close', fn);
  }

  /**
   * One look at the pin dir (every datapathPollMs): reconciles when the maps (re)appeared or
   * a map write failed; retries a failed reconcile with backoff (1 s doubling to 30 s); and
   * every driftCheckMs compares the maps with SQLite, repairing what differs (an entry
   * deleted or changed by hand with bpftool is back within the period).
   */
  syncDatapath(now = Date.now()): void {
    // The maps hold a batch's rules before SQLite commits them: nothing compares them meanwhile.
    if (this.batching) return;
    if (this.datapath.refresh()) return this.reconcileNow(now);
    if (!this.datapath.present) return;
    if (this.reconcileError) {
      if (now >= this.retryAt) this.reconcileNow(now);
      return;
    }
    if (!this.round && now >= this.nextDriftAt) this.startDriftRound(now);
  }

  private reconcileNow(now: number): void {
    this.nextDriftAt = now + this.driftCheckMs;
    this.round = null; // a round under way compared maps that are rewritten now
    try {
      const t0 = performance.now();
      const snap = this.startRules ?? this.snapshot();
      this.startRules = null;
      const r = this.datapath.reconcile(snap);
      if (this.reconcileError) this.log.info('the maps are reconciled again');
      this.reconcileError = null;
      this.retryMs = 0;
      this.log.info({ ...r, ms: Math.round(performance.now() - t0) }, 'maps reconciled with SQLite');
    } catch (err) {
      this.reconcileError = (err as Error).message;
      this.retryMs = Math.min(Math.max(1000, this.retryMs * 2), 30_000);
      this.retryAt = now + this.retryMs;
      this.log.error({ err, retryInMs: this.retryMs }, 'failed to reconcile the maps with SQLite; writes are refused until it succeeds');
    }
  }

  /** SQLite's rules for a reconcile: the exact ones are read when it walks them, 8,192 rows at a time. */
  private snapshot(): RuleSnapshot {
    return { classifier: this.store.ranked(), exact: () => this.store.exactChunks(8192), count: this.store.count() };
  }

  /** Starts a drift round (server/drift.ts): steps with pauses between them, then the result. */
  private startDriftRound(now: number): void {
    this.nextDriftAt = now + this.driftCheckMs;
    const round = new DriftRound(this.store, this.datapath);
    this.round = round;
    let writes = this.datapath.writes;
    const step = () => {
      if (this.round !== round) return; // aborted: the maps were reconciled or closed meanwhile
      if (this.batching) {
        this.roundTimer = setTimeout(step, 10);
        this.roundTimer.unref();
        return;
      }
      const t0 = performance.now();
      try {
        if (!round.next()) {
          const busy = this.datapath.writes !== writes;
          writes = this.datapath.writes;
          this.roundTimer = setTimeout(step, Math.max(1, (performance.now() - t0) * (busy ? DRIFT_PAUSE_BUSY : DRIFT_PAUSE)));
          this.roundTimer.unref();
          return;
        }
      } catch (err) {
        this.round = null;
        this.log.warn({ err }, 'drift check failed; reconciling');
        return this.reconcileNow(Date.now());
      }
      this.round = null;
      this.driftDone(round);
    };
    this.roundTimer = setTimeout(step, 0);
    this.roundTimer.unref();
  }

  private driftDone(round: DriftRound): void {
    const now = Date.now();
    this.driftState.checks++;
    this.driftState.checked_at = new Date(now).toISOString();
    this.driftState.duration_ms = now - round.startedAt;
    if (round.total === 0) return this.datapath.verified(this.store.count());
    const d = round.found;
    this.log.warn({ drift: d }, 'the maps differ from SQLite; repairing');
    this.driftState.repaired += round.total;
    this.driftState.last_repair = { at: this.driftState.checked_at, ...d };
    this.reconcileNow(now);
  }

  /** Drift checks so far, the last one's time, the entries repaired and the last repair. */
  get drift(): DriftState {
    return this.driftState;
  }

  private thread(): SqliteThread | null {
    // A thread that died failed its batch (rolled back with its connection): the next one opens another.
    if (this.sqliteThread === undefined || this.sqliteThread?.dead) this.sqliteThread = SqliteThread.open(this.db);
    return this.sqliteThread;
  }

  private limits() {
    return { rxQueues: this.datapath.rxQueues };
  }

  /** Resolves when no large batch is in flight. */
  private async whenIdle(): Promise<void> {
    while (this.batching) await this.batching;
  }

  /** Runs fn now when no large batch is in flight, else once it is done: writes stay in order
   * and never meet the batch's open transaction. */
  private serial<T>(fn: () => T): Promise<T> {
    if (this.batching) return this.whenIdle().then(() => this.serial(fn));
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Runs fn in a transaction; on failure the revision counter follows the rollback. */
  private write<T>(fn: () => T): T {
    // A half-reconciled map would not hold what is acknowledged: refuse until it is whole.
    if (this.datapath.present && this.reconcileError)
      throw new UnavailableError(`the maps are not reconciled with SQLite (${this.reconcileError}); retrying, see /readyz`);
    const writes = this.datapath.writes;
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      this.store.reload();
      // The maps were written and then SQLite rolled back (its COMMIT failed: disk full, I/O
      // error, a constraint checked at commit): put them back to SQLite before answering, so
      // that a refused change is never enforced.
      if (this.datapath.writes !== writes && this.datapath.present) {
        this.log.error({ err }, 'the transaction failed after its map write; reconciling the maps with SQLite');
        this.reconcileNow(Date.now());
      }
      throw err;
    }
  }

  private checkCapacity(field: string): void {
    const cap = this.datapath.capacity;
    if (cap === null) return;
    const n = this.store.count();
    if (n > cap) throw new CapacityError(field, `pcf_flow_map is full: ${n} rules would not fit in its ${cap} entries`);
  }

  /** Tells watchers that something changed: they read the changes from SQLite (watch.ts). */
  private publish(): void {
    this.events.emit('changed');
  }

  /** Writes validated rules in one transaction (SQLite, then the map), then tells watchers. */
  private commit(specs: FlowSpec[], field: string, keys?: string[]): UpsertResult[] {
    const now = new Date().toISOString();
    // A classifier limit names the rule's match ("flows[3].match" in a batch).
    const fieldOf = (i: number) => (field === 'flows' ? `flows[${i}].match` : 'match');
    const results = this.write(() => {
      const rs = this.upsertOwned(specs, now, fieldOf, keys);
      if (rs.some((r) => r.created)) this.checkCapacity(field);
      this.datapath.apply(rs, [], rs.filter((r) => r.created).map((r) => r.slot), fieldOf);
      return rs;
    });
    this.publish();
    return results;
  }

  /** store.upsertMany, with a refused change to another owner's rule named like the rule. */
  private upsertOwned(specs: FlowSpec[], now: string, fieldOf: (i: number) => string, keys?: string[]): UpsertResult[] {
    try {
      return this.store.upsertMany(specs, now, keys);
    } catch (err) {
      if (err instanceof ConflictError && /^\d+$/.test(err.field)) throw new ConflictError(fieldOf(Number(err.field)), err.message);
      throw err;
    }
  }

  upsert(raw: unknown): Promise<{ flow: Flow; created: boolean }> {
    const spec = validateFlowSpec(raw, this.limits());
    return this.serial(() => {
      const [r] = this.commit([spec], 'key');
      return { flow: r.flow, created: r.created };
    });
  }

  /**
   * upsert() for concurrent callers (REST, gRPC UpsertFlow): rules that arrive in the same
   * turn of the event loop share one transaction (group commit), and each caller is answered
   * after that commit. A group that fails is retried rule by rule, so each caller gets the
   * answer its own rule deserves (e.g. the map fills up in the middle of a group).
   */
  upsertGrouped(raw: unknown): Promise<{ flow: Flow; created: boolean }> {
    const spec = validateFlowSpec(raw, this.limits());
    return new Promise((resolve, reject) => {
      this.pending.push({ spec, resolve, reject });
      // Alone (the last group was one rule): at once. Among others: one more turn of the event
      // loop, so that the next requests of concurrent clients join this group (one COMMIT for
      // all of them, as PostgreSQL's commit_delay). A lone client never waits.
      if (this.pending.length === 1) {
        if (this.lastGroup > 1) setImmediate(() => setImmediate(() => this.flushPending()));
        else setImmediate(() => this.flushPending());
      }
    });
  }

  private flushPending(): void {
    // Behind a large batch: these wait (and more join them) until it is done.
    if (this.batching) {
      void this.whenIdle().then(() => this.flushPending());
      return;
    }
    const queued = this.pending;
    this.pending = [];
    this.lastGroup = queued.length;
    // Groups of distinct keys, in arrival order: the same key twice goes to the next group.
    const groups: Pending[][] = [[]];
    let keys = new Set<string>();
    for (const p of queued) {
      const k = matchKeyString(p.spec.match);
      if (keys.has(k)) {
        groups.push([]);
        keys = new Set();
      }
      keys.add(k);
      groups[groups.length - 1].push(p);
    }
    for (const g of groups) {
      try {
        this.commit(g.map((p) => p.spec), 'key').forEach((r, i) => g[i].resolve({ flow: r.flow, created: r.created }));
      } catch (groupErr) {
        if (g.length === 1) {
          g[0].reject(groupErr);
          continue;
        }
        for (const p of g) {
          try {
            const [r] = this.commit([p.spec], 'key');
            p.resolve({ flow: r.flow, created: r.created });
          } catch (err) {
            p.reject(err);
          }
        }
      }
    }
  }

  /**
   * All or nothing: any invalid rule or duplicate key refuses the whole batch. A batch of more
   * than BATCH_STEP rules runs in steps (batchInSteps); a smaller one in one transaction.
   */
  async batchUpsert(source: RuleSource): Promise<BatchAnswer> {
    if (!Array.isArray(source)) {
      // One step or none (a small batch): in one transaction, as an array.
      const it = source[Symbol.asyncIterator]();
      const first = await it.next();
      const second = first.done ? first : await it.next();
      if (second.done) return this.batchUpsert(first.done ? [] : first.value);
      source = (async function* () {
        yield first.value;
        yield second.value;
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      })();
    }
    if (Array.isArray(source) && source.length <= BATCH_STEP) return this.serial(() => this.batchUpsertNow(source));
    const thread = this.thread();
    if (!thread) {
      const all: unknown[] = [];
      if (Array.isArray(source)) all.push(...source);
      else for await (const step of source) all.push(...step);
      return this.serial(() => this.batchUpsertNow(all));
    }
    // Taken in the same turn that sees it free: two batches waiting behind a third must not
    // both start when it ends.
    while (this.batching) await this.batching;
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.batching = mine;
    try {
      return await this.batchInSteps(thread, source);
    } finally {
      if (this.batching === mine) this.batching = null;
      done();
    }
  }

  /**
   * A large batch, a step at a time, the event loop serving between steps (no step holds it
   * more than a few ms). Its SQLite transaction runs on the SQLite thread's connection, so
   * nobody sees its rules before the COMMIT; every other write waits (serial). First each
   * step is validated and sent to the thread, which writes it while the next is validated;
   * then, as the thread answers, the exact rules of each step go into pcf_flow_map; then the
   * rules with a precedence in one classifier commit; then the COMMIT. On any failure the
   * transaction rolls back, and maps already written are reconciled with SQLite.
   */
  private async batchInSteps(thread: SqliteThread, source: RuleSource): Promise<BatchAnswer> {
    if (this.datapath.present && this.reconcileError)
      throw new UnavailableError(`the maps are not reconciled with SQLite (${this.reconcileError}); retrying, see /readyz`);
    const limits = this.limits();
    const now = new Date().toISOString();
    const base = this.store.currentRevision;
    const errors: FieldError[] = [];
    const firstIndex = new Map<string, number>();
    const sent: { specs: FlowSpec[]; at: number; offered: number[]; returned: Promise<unknown[]> }[] = [];
    let n = 0;
    let open = false;
    let mapsWritten = false;
    try {
      await thread.exec('BEGIN IMMEDIATE');
      open = true;
      for await (const step of Array.isArray(source) ? stepsOf(source) : source) {
        const at = n;
        n += step.length;
        if (n > MAX_BATCH) throw new CapacityError('flows', `a batch holds at most ${MAX_BATCH} rules; this one has more`);
        const specs: FlowSpec[] = [];
        const keys: string[] = [];
        step.forEach((raw, j) => this.checkBatchRule(raw, at + j, limits, firstIndex, errors, specs, keys));
        if (!errors.length) {
          const { args, offered } = this.store.rowsOf(specs, keys, base + at, now);
          const returned = thread.rows(upsertSql(CHUNK), upsertSql(1), CHUNK, WIDTH, specs.length, args);
          returned.catch(() => {}); // awaited below; a refusal then is the batch's
          sent.push({ specs, at, offered, returned });
        }
        await turn();
      }
      if (n === 0) throw ValidationError.one('flows', 'must hold at least one rule');
      if (errors.length) throw new ValidationError(errors.slice(0, 20));

      // Kept for the answer: ids, not results (a step's rules are garbage once written:
      // 200,000 of them held to the end would cost the collector's pauses).
      const ids: number[] = new Array(n);
      const unused: number[] = [];
      const ranked: { r: UpsertResult; i: number }[] = [];
      let created = 0;
      const cap = this.datapath.capacity;
      for (let s = sent.shift(); s; s = sent.shift()) {
        const { results, unused: back } = this.store.resultsOf(await s.returned, s.specs, s.at, base + s.at, s.offered, now);
        for (const u of back) unused.push(u);
        results.forEach((r, j) => {
          ids[s.at + j] = r.id;
          if (r.created) created++;
          // With a precedence now, or had one (the classifier lets it go): the commit below.
          if (inClassifier(r.spec) || this.datapath.classifier.holds(r.slot)) ranked.push({ r, i: s.at + j });
        });
        if (cap !== null && this.store.count() + created > cap)
          throw new CapacityError('flows', `pcf_flow_map is full: ${this.store.count() + created} rules would not fit in its ${cap} entries`);
        mapsWritten = true;
        this.datapath.writeExact(results);
        await turn();
      }
      if (ranked.length) {
        const rs = ranked.map((x) => x.r);
        this.datapath.apply(rs, [], rs.filter((r) => r.created).map((r) => r.slot), (i) => `flows[${ranked[i].i}].match`, this.store.count() + created);
      }
      await thread.exec('COMMIT');
      open = false;
      this.store.upserted(n, created, unused);
      this.publish();
      return { created, updated: n - created, ids, revision: this.store.currentRevision };
    } catch (err) {
      if (open) await thread.exec('ROLLBACK').catch((e) => this.log.error({ err: e }, 'ROLLBACK of a batch failed'));
      this.store.reload();
      if (mapsWritten && this.datapath.present) {
        this.log.warn({ err }, 'a batch failed after writing to the maps; reconciling the maps with SQLite');
        this.reconcileNow(Date.now());
      }
      if (err instanceof ConflictError && /^\d+$/.test(err.field)) throw new ConflictError(`flows[${err.field}].match`, err.message);
      throw err;
    }
  }

  /** One rule of a batch at index i: its spec and key, or its errors (the first 20 kept). */
  private checkBatchRule(raw: unknown, i: number, limits: DatapathLimits, firstIndex: Map<string, number>, errors: FieldError[], specs: FlowSpec[], keys: string[]): void {
    const r = checkFlowSpec(raw, limits, `flows[${i}].`);
    if (r.errors.length) {
      if (errors.length < 20) errors.push(...r.errors);
      return;
    }
    const k = matchKeyString(r.spec.match);
    const prev = firstIndex.get(k);
    const what = (raw as { match?: unknown })?.match !== undefined ? 'match' : 'key';
    if (prev !== undefined) errors.push({ field: `flows[${i}].${what}`, message: `duplicate of flows[${prev}].${what} within this batch (the same match is the same rule)` });
    else firstIndex.set(k, i);
    specs.push(r.spec);
    keys.push(k);
  }

  /** batchUpsert in one transaction, now. */
  private batchUpsertNow(raws: unknown[]): BatchAnswer {
    if (!Array.isArray(raws) || raws.length === 0) throw ValidationError.one('flows', 'must hold at least one rule');
    if (raws.length > MAX_BATCH) throw new CapacityError('flows', `a batch holds at most ${MAX_BATCH} rules; this one has ${raws.length}`);
    const limits = this.limits();
    const errors: FieldError[] = [];
    const specs: FlowSpec[] = [];
    const keys: string[] = [];
    const firstIndex = new Map<string, number>();
    raws.forEach((raw, i) => this.checkBatchRule(raw, i, limits, firstIndex, errors, specs, keys));
    if (errors.length) throw new ValidationError(errors.slice(0, 20));

    const results = this.commit(specs, 'flows', keys);
    const created = results.filter((r) => r.created).length;
    return { created, updated: results.length - created, ids: results.map((r) => r.id), revision: this.store.currentRevision };
  }

  delete(id: number): Promise<void> {
    return this.serial(() => this.deleteNow(id));
  }

  private deleteNow(id: number): void {
    this.write(() => {
      const f = this.store.delete(id);
      if (!f) throw new NotFoundError('id', `no flow with id ${id}`);
      if (f.spec.owner)
        throw new ConflictError('id', `flow ${id} is filter ${f.spec.owner.filter_index} of PCC rule ${quote(f.spec.owner.pcc_rule_id)}: change or delete the PCC rule (/pcc-rules/${f.spec.owner.pcc_rule_id})`);
      this.datapath.apply([], [f], [], () => 'id');
      return f;
    });
    this.publish();
  }

  /** All or nothing, one transaction and one datapath commit; field names ids[i]. */
  batchDelete(ids: unknown): Promise<{ deleted: number; revision: number }> {
    return this.serial(() => this.batchDeleteNow(ids));
  }

  private batchDeleteNow(ids: unknown): { deleted: number; revision: number } {
    if (!Array.isArray(ids) || ids.length === 0) throw ValidationError.one('ids', 'must hold at least one id');
    if (ids.length > MAX_BATCH) throw new CapacityError('ids', `a batch holds at most ${MAX_BATCH} ids; this one has ${ids.length}`);
    const seen = new Map<number, number>();
    const errors: FieldError[] = [];
    ids.forEach((id, i) => {
      if (!Number.isSafeInteger(id) || (id as number) < 1) errors.push({ field: `ids[${i}]`, message: `${quote(id)} is not a rule id (an integer >= 1)` });
      else if (seen.has(id as number)) errors.push({ field: `ids[${i}]`, message: `duplicate of ids[${seen.get(id as number)}]` });
      else seen.set(id as number, i);
    });
    if (errors.length) throw new ValidationError(errors.slice(0, 20));
    this.write(() => {
      const gone = (ids as number[]).map((id, i) => {
        const f = this.store.delete(id);
        if (!f) throw new NotFoundError(`ids[${i}]`, `no flow with id ${id}`);
        if (f.spec.owner)
          throw new ConflictError(`ids[${i}]`, `flow ${id} is filter ${f.spec.owner.filter_index} of PCC rule ${quote(f.spec.owner.pcc_rule_id)}: change or delete the PCC rule`);
        return f;
      });
      this.datapath.apply([], gone, [], (i) => `ids[${i}]`);
    });
    this.publish();
    return { deleted: ids.length, revision: this.store.currentRevision };
  }

  /**
   * Creates or replaces a PCC rule and its flows in one transaction and one datapath commit:
   * packets see all of its filters change at once. New flows take their slots before the
   * replaced ones give theirs back, so no slot changes meaning within the commit.
   */
  upsertPcc(id: string, raw: unknown): Promise<{ rule: PccRule; created: boolean }> {
    return this.serial(() => this.upsertPccNow(id, raw));
  }

  private upsertPccNow(id: string, raw: unknown): { rule: PccRule; created: boolean } {
    const { specs, row } = pccFlows(id, (raw ?? {}) as Record<string, unknown>, this.limits());
    const now = new Date().toISOString();
    const fieldOf = (i: number) => `flow_infos[${specs[i].owner!.filter_index}].flow_description`;
    let created = false;
    this.write(() => {
      const existing = this.pcc.get(id);
      created = !existing;
      const old = this.store.flowsOfPcc(id);
      const rs = this.upsertOwned(specs, now, fieldOf);
      const keep = new Set(rs.map((r) => r.id));
      const gone = old.filter((f) => !keep.has(f.id)).map((f) => this.store.delete(f.id)!);
      if (rs.some((r) => r.created)) this.checkCapacity('flow_infos');
      this.datapath.apply(rs, gone, rs.filter((r) => r.created).map((r) => r.slot), fieldOf);
      this.pcc.put({ ...row, revision: this.store.currentRevision, created_at: existing?.created_at }, now);
    });
    this.publish();
    return { rule: this.getPcc(id), created };
  }

  /** Deletes a PCC rule and its flows in one commit. */
  deletePcc(id: string): Promise<void> {
    return this.serial(() => this.deletePccNow(id));
  }

  private deletePccNow(id: string): void {
    this.write(() => {
      if (!this.pcc.delete(id)) throw new NotFoundError('pcc_rule_id', `no PCC rule ${quote(id)}`);
      const gone = this.store.flowsOfPcc(id).map((f) => this.store.delete(f.id)!);
      this.datapath.apply([], gone, [], () => 'pcc_rule_id');
    });
    this.publish();
  }

  getPcc(id: string): PccRule {
    const row = this.pcc.get(id);
    if (!row) throw new NotFoundError('pcc_rule_id', `no PCC rule ${quote(id)}`);
    return this.pccBody(row);
  }

  listPcc(limit: number, cursor: string): { pcc_rules: PccRule[]; next_cursor: string | null } {
    const page = this.pcc.list(limit, cursor);
    return { pcc_rules: page.rules.map((r) => this.pccBody(r)), next_cursor: page.next_cursor };
  }

  private pccBody(row: PccRuleRow): PccRule {
    const flows = this.store.flowsOfPcc(row.id);
    const present = this.datapath.present;
    const sum = (cs: (Counter | undefined)[]): Counter => cs.reduce<Counter>((a, c) => ({ packets: a.packets + (c?.packets ?? 0), bytes: a.bytes + (c?.bytes ?? 0) }), { packets: 0, bytes: 0 });
    const infos = row.flow_infos.map((fi, i) => {
      const own = flows.filter((f) => f.spec.owner!.filter_index === i).map((f) => {
        const counters = this.datapath.slotCounter(f.slot);
        return counters ? { ...f.flow, counters } : f.flow;
      });
      return { ...fi, flows: own, ...(present ? { counters: sum(own.map((f) => f.counters)) } : {}) };
    });
    return {
      pcc_rule_id: row.id, precedence: row.precedence, ue_ip: row.ue_ip, action: row.action, flow_infos: infos,
      ...(present ? { counters: sum(infos.map((f) => f.counters)) } : {}),
      revision: row.revision, created_at: row.created_at, updated_at: row.updated_at,
    };
  }

  get(id: number): Flow {
    const flow = this.store.get(id);
    if (!flow) throw new NotFoundError('id', `no flow with id ${id}`);
    const counters = this.datapath.slotCounter(this.store.slotOf(id)!);
    return counters ? { ...flow, counters } : flow;
  }

  list(filter: FlowFilter, limit: number, cursor: number) {
    return this.store.list(filter, limit, cursor);
  }

  /**
   * GET /stats and GetStats. Without `rules` it costs the same at 1,000 rules and at a full
   * map: counts are kept (Datapath.countInMap), not dumped. With `rules`, every rule that
   * counted a packet: one read of all counter slots and one SQLite scan, O(rules).
   */
  stats(opts: { rules?: boolean } = {}): Stats {
    const dp = this.datapath.state();
    return {
      read_at: new Date().toISOString(),
      revision: this.store.currentRevision,
      datapath: { ...dp, rules_in_db: this.store.count(), rules_in_map: this.datapath.countInMap(), error: this.reconcileError ?? dp.error, drift: this.driftState },
      classifier: { ...this.datapath.classifier.stats(), generation: this.datapath.generation() },
      xdp: this.datapath.counters(),
      ...(opts.rules ? { rules: this.ruleCounters() } : {}),
      workers: this.workers.list(),
      maps: this.mapPressure.maps(),
    };
  }

  /** Every rule that counted at least one packet in XDP, in id order. */
  private ruleCounters(): { id: number; packets: number; bytes: number }[] {
    const bySlot = this.datapath.slotCounters(this.store.slotHighWater);
    const idOf = bySlot.some((c) => c.packets > 0) ? this.store.idsBySlot() : new Map<number, number>();
    return bySlot
      .flatMap((c, slot) => (c.packets > 0 && idOf.has(slot) ? [{ id: idOf.get(slot)!, packets: c.packets, bytes: c.bytes }] : []))
      .sort((a, b) => a.id - b.id);
  }


  /** /readyz: ready, or why not; while ready, what is near its limit (a map past 90 % full). */
  readiness(): { ready: boolean; reason?: string; warnings?: string[] } {
    if (!this.datapath.present) return { ready: false, reason: `datapath absent: no pinned maps under ${this.datapath.pinDir} (load XDP with make up or pcf-xdp attach)` };
    if (this.reconcileError) return { ready: false, reason: `maps not reconciled with SQLite: ${this.reconcileError}` };
    const warnings = this.mapPressure.warnings();
    return warnings.length ? { ready: true, warnings } : { ready: true };
  }

  /**
   * Streams what changed after `from` (each rule at its latest revision, and deletions), then
   * every later change, in revision order without repeats, at the pace the sink takes them
   * (watch.ts); `from` null: from now on. Returns the function that ends the watch.
   */
  watch(from: number | null, sink: WatchSink, stallMs = WATCH_STALL_MS): () => void {
    const current = this.store.currentRevision;
    if (from !== null && from > current)
      throw new OutOfRangeError('from_revision', `${from} is above the current revision ${current}: nothing has that revision yet (watch from ${current} or less)`);
    if (from !== null) this.store.changesAfter(from, 1); // a compacted revision is refused now, not on the stream
    const w = new FlowWatch(this.store, this.events, from ?? current, sink, stallMs);
    return () => w.stop();
  }
}
