// store.ts - rules in SQLite, the source of truth. Statements are prepared once; callers run
// writes inside db.transaction() together with the map write (service.ts).
import type Database from 'better-sqlite3';
import { CompactedError } from './errors.js';
import type { ActionType, Flow, FlowEvent, FlowFilter, FlowSpec } from './model.js';

interface FlowRow {
  id: number;
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  proto: number;
  action_type: ActionType;
  ttl_delta: number | null;
  mark: number | null;
  queue_id: number | null;
  snat_ip: string | null;
  snat_port: number | null;
  dnat_ip: string | null;
  dnat_port: number | null;
  revision: number;
  created_revision: number;
  created_at: string;
  updated_at: string;
}

function rowToFlow(r: FlowRow): Flow {
  const natSet = r.snat_ip !== null || r.snat_port !== null || r.dnat_ip !== null || r.dnat_port !== null;
  return {
    id: r.id,
    key: { src_ip: r.src_ip, dst_ip: r.dst_ip, src_port: r.src_port, dst_port: r.dst_port, proto: r.proto },
    action: {
      type: r.action_type,
      ttl_delta: r.ttl_delta,
      nat: natSet ? { snat_ip: r.snat_ip, snat_port: r.snat_port, dnat_ip: r.dnat_ip, dnat_port: r.dnat_port } : null,
      mark: r.mark,
      queue_id: r.queue_id,
    },
    revision: r.revision,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

/** How many change-log entries WatchFlows can resume from. */
export const EVENTS_KEPT = 500_000;

export interface UpsertResult {
  flow: Flow;
  created: boolean;
}

export class FlowStore {
  private revision: number;
  private readonly stmts;

  constructor(readonly db: Database.Database) {
    const cols = 'src_ip, dst_ip, src_port, dst_port, proto, action_type, ttl_delta, mark, queue_id, snat_ip, snat_port, dnat_ip, dnat_port';
    this.stmts = {
      upsert: db.prepare<unknown[], FlowRow>(`
        INSERT INTO flows (${cols}, revision, created_revision, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (src_ip, dst_ip, src_port, dst_port, proto) DO UPDATE SET
          action_type = excluded.action_type, ttl_delta = excluded.ttl_delta, mark = excluded.mark,
          queue_id = excluded.queue_id, snat_ip = excluded.snat_ip, snat_port = excluded.snat_port,
          dnat_ip = excluded.dnat_ip, dnat_port = excluded.dnat_port,
          revision = excluded.revision, updated_at = excluded.updated_at
        RETURNING *`),
      byId: db.prepare<[number], FlowRow>('SELECT * FROM flows WHERE id = ?'),
      deleteById: db.prepare<[number], FlowRow>('DELETE FROM flows WHERE id = ? RETURNING *'),
      all: db.prepare<[], FlowRow>('SELECT * FROM flows ORDER BY id'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM flows'),
      addEvent: db.prepare('INSERT INTO flow_events (revision, kind, flow_id, flow_json) VALUES (?, ?, ?, ?)'),
      eventsAfter: db.prepare<[number, number], { revision: number; kind: 'UPSERT' | 'DELETE'; flow_id: number; flow_json: string }>(
        'SELECT * FROM flow_events WHERE revision > ? ORDER BY revision LIMIT ?'),
      oldestEvent: db.prepare<[], { r: number | null }>('SELECT min(revision) AS r FROM flow_events'),
      prune: db.prepare<[number], unknown>('DELETE FROM flow_events WHERE revision <= ?'),
    };
    const r = db.prepare<[], { r: number | null }>(
      'SELECT max(r) AS r FROM (SELECT max(revision) AS r FROM flows UNION ALL SELECT max(revision) FROM flow_events)').get();
    this.revision = r?.r ?? 0;
  }

  get currentRevision(): number {
    return this.revision;
  }

  /** Insert or update by key. Call inside a transaction; the revision is taken back on rollback by reload(). */
  upsert(spec: FlowSpec, now: string): UpsertResult {
    const rev = ++this.revision;
    const { key: k, action: a } = spec;
    const row = this.stmts.upsert.get(
      k.src_ip, k.dst_ip, k.src_port, k.dst_port, k.proto, a.type, a.ttl_delta, a.mark, a.queue_id,
      a.nat?.snat_ip ?? null, a.nat?.snat_port ?? null, a.nat?.dnat_ip ?? null, a.nat?.dnat_port ?? null,
      rev, rev, now, now) as FlowRow;
    const flow = rowToFlow(row);
    this.stmts.addEvent.run(rev, 'UPSERT', flow.id, JSON.stringify(flow));
    return { flow, created: row.created_revision === rev };
  }

  delete(id: number): Flow | undefined {
    const row = this.stmts.deleteById.get(id);
    if (!row) return undefined;
    const flow = rowToFlow(row);
    const rev = ++this.revision;
    this.stmts.addEvent.run(rev, 'DELETE', id, JSON.stringify(flow));
    return { ...flow, revision: rev };
  }

  /** After a rolled-back transaction: the in-memory revision goes back to what SQLite holds. */
  reload(): void {
    const r = this.db.prepare<[], { r: number | null }>(
      'SELECT max(r) AS r FROM (SELECT max(revision) AS r FROM flows UNION ALL SELECT max(revision) FROM flow_events)').get();
    this.revision = r?.r ?? 0;
  }

  get(id: number): Flow | undefined {
    const row = this.stmts.byId.get(id);
    return row && rowToFlow(row);
  }

  count(): number {
    return this.stmts.count.get()!.n;
  }

  all(): Flow[] {
    return this.stmts.all.all().map(rowToFlow);
  }

  list(filter: FlowFilter, limit: number, cursor: number): { flows: Flow[]; next_cursor: number | null } {
    const where = ['id > ?'];
    const args: unknown[] = [cursor];
    for (const f of ['src_ip', 'dst_ip', 'src_port', 'dst_port', 'proto'] as const) {
      if (filter[f] !== undefined) {
        where.push(`${f} = ?`);
        args.push(filter[f]);
      }
    }
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

  /** Changes after `from`, oldest first, at most `limit`. */
  eventsAfter(from: number, limit: number): FlowEvent[] {
    const oldest = this.stmts.oldestEvent.get()!.r;
    if (oldest !== null && from + 1 < oldest)
      throw new CompactedError('from_revision', `revision ${from} is no longer kept (oldest is ${oldest}); list the flows and watch from ${this.revision}`);
    return this.stmts.eventsAfter.all(from, limit).map((e) => ({
      revision: e.revision, kind: e.kind, id: e.flow_id, flow: JSON.parse(e.flow_json) as Flow,
    }));
  }

  /** Keeps the change log bounded. */
  prune(): void {
    const cut = this.revision - EVENTS_KEPT;
    if (cut > 0) this.stmts.prune.run(cut);
  }
}
