// store.ts - rules in SQLite, the source of truth. Statements are prepared once; callers run
// writes inside db.transaction() together with the map write (service.ts).
import type Database from 'better-sqlite3';
import { CompactedError, ConflictError } from './errors.js';
import { keyOfMatch, matchBody, matchKeyString, matchOfKey, parsePrefix, prefixText, type Match, type Prefix } from './match.js';
import type { ActionType, Flow, FlowAction, FlowEvent, FlowFilter, FlowKey, FlowSpec } from './model.js';
import { SlotAllocator } from './slots.js';

interface FlowRow {
  id: number;
  match_key: string;
  family: 4 | 6 | null;
  src: string | null;
  dst: string | null;
  src_port_lo: number | null;
  src_port_hi: number | null;
  dst_port_lo: number | null;
  dst_port_hi: number | null;
  proto: number | null;
  precedence: number | null;
  pcc_rule_id: string | null;
  filter_index: number | null;
  flow_description: string | null;
  flow_direction: string | null;
  action_type: ActionType;
  ttl_delta: number | null;
  mark: number | null;
  queue_id: number | null;
  mirror: number;
  snat_ip: string | null;
  snat_port: number | null;
  dnat_ip: string | null;
  dnat_port: number | null;
  stats_slot: number;
  revision: number;
  created_revision: number;
  created_at: string;
  updated_at: string;
}

const prefixOf = (t: string | null): Prefix | null => (t === null ? null : (parsePrefix(t) as Prefix));

function rowToSpec(r: FlowRow): FlowSpec {
  const natSet = r.snat_ip !== null || r.snat_port !== null || r.dnat_ip !== null || r.dnat_port !== null;
  const match: Match = {
    family: r.family,
    src: prefixOf(r.src),
    dst: prefixOf(r.dst),
    src_ports: r.src_port_lo === null ? null : { lo: r.src_port_lo, hi: r.src_port_hi! },
    dst_ports: r.dst_port_lo === null ? null : { lo: r.dst_port_lo, hi: r.dst_port_hi! },
    proto: r.proto,
  };
  const action: FlowAction = {
    type: r.action_type,
    ttl_delta: r.ttl_delta,
    nat: natSet ? { snat_ip: r.snat_ip, snat_port: r.snat_port, dnat_ip: r.dnat_ip, dnat_port: r.dnat_port } : null,
    mark: r.mark,
    queue_id: r.queue_id,
    mirror: r.mirror === 1,
  };
  const owner = r.pcc_rule_id === null ? null : { pcc_rule_id: r.pcc_rule_id, filter_index: r.filter_index ?? 0 };
  const source = r.flow_description === null ? null : { flow_description: r.flow_description, flow_direction: r.flow_direction ?? 'UNSPECIFIED' };
  return { match, key: keyOfMatch(match), precedence: r.precedence, action, owner, source };
}

/** The rule as the API shows it. */
export function flowOf(id: number, spec: FlowSpec, revision: number, created_at: string, updated_at: string): Flow {
  return {
    id,
    ...(spec.key ? { key: spec.key } : {}),
    match: matchBody(spec.match),
    precedence: spec.precedence,
    action: spec.action,
    ...(spec.owner ? { pcc_rule_id: spec.owner.pcc_rule_id } : {}),
    ...(spec.source ? { ...spec.source } : {}),
    revision,
    created_at,
    updated_at,
  };
}

function storedOf(r: FlowRow): StoredFlow {
  return new Stored(r.id, rowToSpec(r), r.stats_slot, r.revision, r.created_at, r.updated_at);
}

function rowToFlow(r: FlowRow): Flow {
  return flowOf(r.id, rowToSpec(r), r.revision, r.created_at, r.updated_at);
}

/** Deletions kept for WatchFlows to replay; a watch from before the oldest is refused. */
export const TOMBSTONES_KEPT = 100_000;

/** A rule with its counter slot in pcf_rule_stats (internal: not part of the API). */
export interface StoredFlow {
  id: number;
  flow: Flow;
  spec: FlowSpec;
  slot: number;
}

export interface UpsertResult extends StoredFlow {
  created: boolean;
}

/** A stored rule whose API Flow is built only if asked for: a batch answers ids only, a
 * drift check or a reconcile compares specs. */
class Stored implements StoredFlow {
  private shown: Flow | null = null;
  constructor(readonly id: number, readonly spec: FlowSpec, readonly slot: number,
    private readonly revision: number, private readonly createdAt: string, private readonly updatedAt: string) {}

  get flow(): Flow {
    return (this.shown ??= flowOf(this.id, this.spec, this.revision, this.createdAt, this.updatedAt));
  }
}

class Upserted extends Stored implements UpsertResult {
  constructor(id: number, spec: FlowSpec, slot: number, readonly created: boolean, revision: number, createdAt: string, updatedAt: string) {
    super(id, spec, slot, revision, createdAt, updatedAt);
  }
}

/**
 * An exact rule (no precedence: one IPv4 5-tuple) as its pcf_flow_map entry needs it, straight
 * from SQLite: id, stats_slot, src, dst (host prefixes "a.b.c.d/32"), src_port_lo,
 * dst_port_lo (null for ICMP), proto, action_type, and null when the action has nothing more,
 * else the JSON array [ttl_delta, mark, queue_id, mirror, snat_ip, snat_port, dnat_ip,
 * dnat_port]. A start-up reads a million of these: each value read costs, most are null.
 */
export type ExactRow = [number, number, string, string, number | null, number | null, number, ActionType, string | null];
export type ExactExtras = [number | null, number | null, number | null, number, string | null, number | null, string | null, number | null];

/** Rows per multi-row INSERT: one statement step per chunk instead of per rule. */
export const CHUNK = 200;
const COLS = 'match_key, family, src, dst, src_port_lo, src_port_hi, dst_port_lo, dst_port_hi, proto, precedence, pcc_rule_id, filter_index, flow_description, flow_direction, action_type, ttl_delta, mark, queue_id, mirror, snat_ip, snat_port, dnat_ip, dnat_port, stats_slot, revision, created_revision, created_at, updated_at';
/** Values in a row of COLS, and in a row the upsert returns. */
export const WIDTH = COLS.split(',').length;
export const RETURNED = 5;
const ROW = `(${Array(WIDTH).fill('?').join(', ')})`;

const text = (p: Prefix | null) => (p ? prefixText(p) : null);

export function upsertSql(rows: number): string {
  return `INSERT INTO flows (${COLS}) VALUES ${Array(rows).fill(ROW).join(', ')}
    ON CONFLICT (match_key) DO UPDATE SET
      precedence = excluded.precedence, pcc_rule_id = excluded.pcc_rule_id, filter_index = excluded.filter_index,
      flow_description = excluded.flow_description, flow_direction = excluded.flow_direction,
      action_type = excluded.action_type, ttl_delta = excluded.ttl_delta, mark = excluded.mark,
      queue_id = excluded.queue_id, mirror = excluded.mirror, snat_ip = excluded.snat_ip, snat_port = excluded.snat_port,
      dnat_ip = excluded.dnat_ip, dnat_port = excluded.dnat_port,
      revision = excluded.revision, updated_at = excluded.updated_at
      WHERE flows.pcc_rule_id IS excluded.pcc_rule_id
    RETURNING id, revision, created_revision, created_at, stats_slot`;
}


export class FlowStore {
  private revision = 0;
  private rows = 0;
  private tombstones = 0;
  private readonly slots = new SlotAllocator();
  private readonly stmts;

  constructor(readonly db: Database.Database) {
    this.stmts = {
      upsertOne: db.prepare(upsertSql(1)).raw(),
      upsertChunk: db.prepare(upsertSql(CHUNK)).raw(),
      byId: db.prepare<[number], FlowRow>('SELECT * FROM flows WHERE id = ?'),
      deleteById: db.prepare<[number], FlowRow>('DELETE FROM flows WHERE id = ? RETURNING *'),
      all: db.prepare<[], FlowRow>('SELECT * FROM flows ORDER BY id'),
      exactRows: db.prepare<[], ExactRow>(`SELECT id, stats_slot, src, dst, src_port_lo, dst_port_lo, proto, action_type,
        CASE WHEN ttl_delta IS NULL AND mark IS NULL AND queue_id IS NULL AND mirror = 0 AND snat_ip IS NULL AND snat_port IS NULL
          AND dnat_ip IS NULL AND dnat_port IS NULL THEN NULL
          ELSE json_array(ttl_delta, mark, queue_id, mirror, snat_ip, snat_port, dnat_ip, dnat_port) END
        FROM flows WHERE precedence IS NULL ORDER BY id`).raw(),
      ranked: db.prepare<[], FlowRow>('SELECT * FROM flows WHERE precedence IS NOT NULL ORDER BY id'),
      after: db.prepare<[number, number], FlowRow>('SELECT * FROM flows WHERE id > ? ORDER BY id LIMIT ?'),
      exactWithKey: db.prepare<[string], { id: number }>('SELECT id FROM flows WHERE match_key = ? AND precedence IS NULL'),
      slotOf: db.prepare<[number], { stats_slot: number }>('SELECT stats_slot FROM flows WHERE id = ?'),
      ownerOf: db.prepare<[string], { id: number; pcc_rule_id: string | null }>('SELECT id, pcc_rule_id FROM flows WHERE match_key = ?'),
      ofPcc: db.prepare<[string], FlowRow>('SELECT * FROM flows WHERE pcc_rule_id = ? ORDER BY filter_index, id'),
      slotsInUse: db.prepare<[], [number, number]>('SELECT id, stats_slot FROM flows').raw(),
      slots: db.prepare<[], number>('SELECT stats_slot FROM flows').pluck(),
      maxRevision: db.prepare<[], { r: number | null }>(
        `SELECT max(r) AS r FROM (SELECT max(revision) AS r FROM flows UNION ALL SELECT max(revision) FROM flow_tombstones
           UNION ALL SELECT compacted_revision FROM watch_state)`),
      changedAfter: db.prepare<[number, number], FlowRow>('SELECT * FROM flows WHERE revision > ? ORDER BY revision LIMIT ?'),
      tombstonesAfter: db.prepare<[number, number], { revision: number; flow_id: number; flow_json: string }>(
        'SELECT * FROM flow_tombstones WHERE revision > ? ORDER BY revision LIMIT ?'),
      addTombstone: db.prepare('INSERT INTO flow_tombstones (revision, flow_id, flow_json) VALUES (?, ?, ?)'),
      tombstoneCount: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM flow_tombstones'),
      pruneTombstones: db.prepare<[number], { r: number }>(
        'DELETE FROM flow_tombstones WHERE revision IN (SELECT revision FROM flow_tombstones ORDER BY revision LIMIT ?) RETURNING revision AS r'),
      compacted: db.prepare<[], { r: number }>('SELECT compacted_revision AS r FROM watch_state'),
      setCompacted: db.prepare<[number], unknown>('UPDATE watch_state SET compacted_revision = max(compacted_revision, ?)'),
    };
    this.reload();
  }

  get currentRevision(): number {
    return this.revision;
  }

  /** Rules stored (kept in memory: count(*) walks the whole table). */
  count(): number {
    return this.rows;
  }

  /** Takes revision, row count and slots from SQLite: at start and after a rolled-back transaction. */
  reload(): void {
    this.revision = this.stmts.maxRevision.get()?.r ?? 0;
    const slots = this.stmts.slots.all();
    this.rows = slots.length;
    this.tombstones = this.stmts.tombstoneCount.get()!.n;
    this.slots.reset(slots);
  }

  /** One past the highest counter slot in use. */
  get slotHighWater(): number {
    return this.slots.highWater;
  }

  /** Rule id by counter slot. */
  idsBySlot(): Map<number, number> {
    return new Map(this.stmts.slotsInUse.all().map(([id, slot]) => [slot, id]));
  }

  /** The rule that has this match now (its id and PCC owner), if any. */
  ruleWithMatch(m: Match): { id: number; pcc_rule_id: string | null } | undefined {
    return this.stmts.ownerOf.get(matchKeyString(m));
  }

  /** The flows of a PCC rule, by filter. */
  flowsOfPcc(pccRuleId: string): StoredFlow[] {
    return this.stmts.ofPcc.all(pccRuleId).map(storedOf);
  }

  slotOf(id: number): number | undefined {
    return this.stmts.slotOf.get(id)?.stats_slot;
  }

  /**
   * Inserts or updates each rule by key, in order, one revision each, and logs the changes.
   * Keys must be distinct (the service refuses duplicates); `keys`, when given, are the specs'
   * matchKeyString. Call inside a transaction.
   */
  upsertMany(specs: FlowSpec[], now: string, keys?: string[]): UpsertResult[] {
    const base = this.revision;
    const { args, offered } = this.rowsOf(specs, keys ?? specs.map((s) => matchKeyString(s.match)), base, now);
    const returned: unknown[] = [];
    const run = (stmt: Database.Statement, from: number, rows: number) => {
      for (const r of stmt.all(args.slice(from * WIDTH, (from + rows) * WIDTH)) as unknown[][]) returned.push(...r);
    };
    let done = 0;
    for (; done + CHUNK <= specs.length; done += CHUNK) run(this.stmts.upsertChunk, done, CHUNK);
    for (; done < specs.length; done++) run(this.stmts.upsertOne, done, 1);
    const { results, unused } = this.resultsOf(returned, specs, 0, base, offered, now);
    this.upserted(specs.length, results.filter((r) => r.created).length, unused);
    return results;
  }

  /**
   * The rows of upsertMany for specs that take revisions base+1.., each with a slot offered
   * (a new row keeps it), WIDTH values each: what the SQLite thread runs for a batch.
   */
  rowsOf(specs: FlowSpec[], keys: string[], base: number, now: string): { args: unknown[]; offered: number[] } {
    const args: unknown[] = [];
    const offered: number[] = new Array(specs.length);
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i], m = s.match, a = s.action;
      const rev = base + i + 1;
      offered[i] = this.slots.take();
      args.push(keys[i], m.family, text(m.src), text(m.dst), m.src_ports?.lo ?? null, m.src_ports?.hi ?? null,
        m.dst_ports?.lo ?? null, m.dst_ports?.hi ?? null, m.proto, s.precedence, s.owner?.pcc_rule_id ?? null, s.owner?.filter_index ?? null,
        s.source?.flow_description ?? null, s.source?.flow_direction ?? null, a.type, a.ttl_delta, a.mark, a.queue_id, a.mirror ? 1 : 0,
        a.nat?.snat_ip ?? null, a.nat?.snat_port ?? null, a.nat?.dnat_ip ?? null, a.nat?.dnat_port ?? null, offered[i], rev, rev, now, now);
    }
    return { args, offered };
  }

  /**
   * The answers to rowsOf's rows from what the statements returned (flat RETURNING rows),
   * `at` the index of specs[0] in the whole batch. Throws ConflictError (its field the rule's
   * index) for a rule a PCC rule owns or the reverse: the update skipped it, and the caller's
   * transaction rolls back.
   */
  resultsOf(returned: unknown[], specs: FlowSpec[], at: number, base: number, offered: number[], now: string): { results: UpsertResult[]; unused: number[] } {
    const results: UpsertResult[] = new Array(specs.length);
    const unused: number[] = [];
    // RETURNING order is unspecified; the revision (base + index + 1) says which rule a row is.
    for (let r = 0; r < returned.length; r += RETURNED) {
      const id = returned[r] as number, rev = returned[r + 1] as number, createdRev = returned[r + 2] as number;
      const createdAt = returned[r + 3] as string, slot = returned[r + 4] as number;
      const i = rev - base - 1;
      results[i] = new Upserted(id, specs[i], slot, createdRev === rev, rev, createdAt, now);
      // An update keeps its slot; the one offered for a new row goes back.
      if (slot !== offered[i]) unused.push(offered[i]);
    }
    for (let i = 0; i < specs.length; i++) {
      if (results[i] !== undefined) continue;
      const other = this.ruleWithMatch(specs[i].match)!;
      const owner = other.pcc_rule_id === null ? 'a rule of its own' : `a filter of PCC rule ${JSON.stringify(other.pcc_rule_id)}`;
      throw new ConflictError(String(at + i), `the same match is flow ${other.id}, ${owner}; change it there (or delete it first)`);
    }
    return { results, unused };
  }

  /** After `count` rules were upserted, `created` of them new (and, for the SQLite thread's
   * batch, committed): the revision, row count and free slots follow. */
  upserted(count: number, created: number, unused: number[]): void {
    this.revision += count;
    this.rows += created;
    this.slots.give(unused);
  }

  delete(id: number): StoredFlow | undefined {
    const row = this.stmts.deleteById.get(id);
    if (!row) return undefined;
    const rev = ++this.revision;
    this.rows--;
    this.slots.give([row.stats_slot]);
    const spec = rowToSpec(row);
    const flow = { ...rowToFlow(row), revision: rev };
    this.stmts.addTombstone.run(rev, id, JSON.stringify(flow));
    if (++this.tombstones > TOMBSTONES_KEPT + 1000) {
      const pruned = this.stmts.pruneTombstones.all(this.tombstones - TOMBSTONES_KEPT);
      this.stmts.setCompacted.run(Math.max(...pruned.map((p) => p.r)));
      this.tombstones -= pruned.length;
    }
    return { id, flow, spec, slot: row.stats_slot };
  }

  get(id: number): Flow | undefined {
    const row = this.stmts.byId.get(id);
    return row && rowToFlow(row);
  }

  all(): StoredFlow[] {
    return this.stmts.all.all().map(storedOf);
  }

  /** The rules with a precedence (the classifier's), in id order. */
  ranked(): StoredFlow[] {
    return this.stmts.ranked.all().map(storedOf);
  }

  /** The exact rules as rows, n at a time, in id order (ExactRow). */
  *exactChunks(n: number): Generator<ExactRow[]> {
    let chunk: ExactRow[] = [];
    for (const r of this.stmts.exactRows.iterate()) {
      chunk.push(r);
      if (chunk.length === n) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length) yield chunk;
  }

  /** At most n rules with ids above afterId, in id order: a walk in steps (drift checks). */
  after(afterId: number, n: number): StoredFlow[] {
    return this.stmts.after.all(afterId, n).map(storedOf);
  }

  /** The id of the exact rule (no precedence) with this 5-tuple, if any. */
  exactWithKey(k: FlowKey): number | undefined {
    return this.stmts.exactWithKey.get(matchKeyString(matchOfKey(k)))?.id;
  }

  list(filter: FlowFilter, limit: number, cursor: number): { flows: Flow[]; next_cursor: number | null } {
    const where = ['id > ?'];
    const args: unknown[] = [cursor];
    // The filters of the first API name an exact key's fields: host prefixes, single ports.
    const host = (ip: string) => `${ip}/${ip.includes(':') ? 128 : 32}`;
    if (filter.src_ip !== undefined) { where.push('src = ?'); args.push(host(filter.src_ip)); }
    if (filter.dst_ip !== undefined) { where.push('dst = ?'); args.push(host(filter.dst_ip)); }
    // An ICMP key's ports are 0: its match has none.
    for (const side of ['src', 'dst'] as const) {
      const port = filter[`${side}_port`];
      if (port === undefined) continue;
      where.push(`((${side}_port_lo = ? AND ${side}_port_hi = ?) OR (? = 0 AND ${side}_port_lo IS NULL AND proto = 1))`);
      args.push(port, port, port);
    }
    if (filter.proto !== undefined) { where.push('proto = ?'); args.push(filter.proto); }
    if (filter.type) {
      where.push('action_type = ?');
      args.push(filter.type);
    }
    // Built from the fixed column names above only; values are bound.
    const rows = this.db.prepare<unknown[], FlowRow>(
      `SELECT * FROM flows WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`).all(...args, limit + 1);
    const more = rows.length > limit;
    const flows = rows.slice(0, limit).map(rowToFlow);
    return { flows, next_cursor: more ? flows[flows.length - 1].id : null };
  }

  /**
   * What changed after `from`, oldest first, about `limit` at a time: each rule changed since
   * (at its latest revision: an update superseded by a later one is not repeated) and each
   * deletion, merged in revision order. Throws CompactedError when deletions after `from`
   * may have been pruned.
   */
  changesAfter(from: number, limit: number): FlowEvent[] {
    const compacted = this.stmts.compacted.get()!.r;
    if (from < compacted)
      throw new CompactedError('from_revision', `revision ${from} is no longer kept (changes are kept after ${compacted}); list the flows and watch from ${this.revision}`);
    const ups = this.stmts.changedAfter.all(from, limit);
    const dels = this.stmts.tombstonesAfter.all(from, limit);
    // Only up to where both pages are complete, so nothing in between is skipped.
    const upTo = Math.min(ups.length === limit ? ups[ups.length - 1].revision : Infinity,
      dels.length === limit ? dels[dels.length - 1].revision : Infinity);
    const events: FlowEvent[] = [
      ...ups.map((r) => ({ revision: r.revision, kind: 'UPSERT' as const, id: r.id, flow: rowToFlow(r) })),
      ...dels.map((d) => ({ revision: d.revision, kind: 'DELETE' as const, id: d.flow_id, flow: JSON.parse(d.flow_json) as Flow })),
    ];
    return events.filter((e) => e.revision <= upTo).sort((a, b) => a.revision - b.revision);
  }
}
