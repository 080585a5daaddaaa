// workers.ts - the latest counter report of each DPDK worker (WorkerReport.Report), shown in
// GET /stats and GetStats beside the XDP counters, with its age. A worker that has not
// reported for staleAfterMs shows as stale, and after expireAfterMs it is forgotten. Reports
// are cumulative since the worker started, so a restarted control plane needs nothing but the
// next report. A report is checked before it is kept (names, times, counts and sizes), and
// there are at most MAX_WORKERS workers: a report only ever replaces its own worker's.

import { CapacityError, ValidationError } from './errors.js';

export interface StageCounters {
  rx_packets: number;
  rx_bytes: number;
  tx_packets: number;
  tx_bytes: number;
  nat: number;
  ttl_expired: number;
  mirrored: number;
  rx_ipv6: number;
  frag_later: number;
  drops: Record<string, number>;
}

export interface WorkerReport {
  worker_id: string;
  iface: string;
  egress: string;
  xdp_mode: string;
  poll_mode: string;
  pid: number;
  started_at_unix_ms: number;
  sequence: number;
  queues: { queue_id: number; counters: StageCounters }[];
  rules: { rule_id: number; packets: number; bytes: number }[];
}

export interface WorkerView extends Omit<WorkerReport, 'started_at_unix_ms'> {
  started_at: string;
  received_at: string;
  age_ms: number;
  stale: boolean;
}

const ZERO: StageCounters = { rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, nat: 0, ttl_expired: 0, mirrored: 0, rx_ipv6: 0, frag_later: 0, drops: {} };

/** A gRPC WorkerStats message (proto3 defaults absent) to a complete report. */
export function reportFromMessage(m: Record<string, any>): WorkerReport {
  return {
    worker_id: m.worker_id ?? '',
    iface: m.iface ?? '',
    egress: m.egress ?? '',
    xdp_mode: m.xdp_mode ?? '',
    poll_mode: m.poll_mode ?? '',
    pid: Number(m.pid ?? 0),
    started_at_unix_ms: Number(m.started_at_unix_ms ?? 0),
    sequence: Number(m.sequence ?? 0),
    queues: ((m.queues ?? []) as Record<string, any>[]).map((q) => ({
      queue_id: q.queue_id ?? 0,
      counters: { ...ZERO, ...Object.fromEntries(Object.entries(q.counters ?? {}).map(([k, v]) => [k, k === 'drops' ? v : Number(v)])) } as StageCounters,
    })),
    rules: ((m.rules ?? []) as Record<string, any>[]).map((r) => ({ rule_id: Number(r.rule_id ?? 0), packets: Number(r.packets ?? 0), bytes: Number(r.bytes ?? 0) })),
  };
}

export const MAX_WORKERS = 64;
/** pcf_xskmap's keys: PCF_MAX_PORTS * PCF_MAX_QUEUES. */
const MAX_QUEUES = 256;
const MAX_RULES = 1 << 21;
const MAX_DROP_NAMES = 64;
const NAME = /^[\x21-\x7e]{1,128}$/; // printable ASCII, no spaces
const EARLIEST_MS = Date.UTC(2020, 0, 1);

/** Why a report cannot be kept, as "field: message", or null. */
export function checkReport(r: WorkerReport, now: number): string | null {
  if (!r.worker_id) return 'worker_id: required';
  if (!NAME.test(r.worker_id)) return 'worker_id: 1..128 printable characters without spaces';
  for (const f of ['iface', 'egress', 'xdp_mode', 'poll_mode'] as const) if (r[f].length > 64) return `${f}: longer than 64 characters`;
  if (!Number.isSafeInteger(r.pid) || r.pid > 0x7fffffff) return 'pid: not a process id';
  if (!Number.isSafeInteger(r.started_at_unix_ms) || r.started_at_unix_ms < EARLIEST_MS || r.started_at_unix_ms > now + 60_000)
    return `started_at_unix_ms: ${r.started_at_unix_ms} is not a time between 2020 and now`;
  if (!Number.isSafeInteger(r.sequence)) return 'sequence: beyond 2^53';
  if (r.queues.length > MAX_QUEUES) return `queues: more than ${MAX_QUEUES}`;
  const seen = new Set<number>();
  for (const [i, q] of r.queues.entries()) {
    if (!Number.isInteger(q.queue_id) || q.queue_id < 0 || q.queue_id >= MAX_QUEUES || seen.has(q.queue_id)) return `queues[${i}].queue_id: not a distinct xskmap key 0..${MAX_QUEUES - 1}`;
    seen.add(q.queue_id);
    for (const [k, v] of Object.entries(q.counters)) {
      if (k === 'drops') continue;
      if (!Number.isSafeInteger(v) || (v as number) < 0) return `queues[${i}].counters.${k}: not a count`;
    }
    const drops = Object.entries(q.counters.drops ?? {});
    if (drops.length > MAX_DROP_NAMES) return `queues[${i}].counters.drops: more than ${MAX_DROP_NAMES} reasons`;
    for (const [k, v] of drops) if (!/^[a-z0-9_]{1,64}$/.test(k) || !Number.isSafeInteger(Number(v)) || Number(v) < 0) return `queues[${i}].counters.drops: ${JSON.stringify(k.slice(0, 64))} is not a reason with a count`;
  }
  if (r.rules.length > MAX_RULES) return `rules: more than ${MAX_RULES}`;
  for (const [i, x] of r.rules.entries())
    if (![x.rule_id, x.packets, x.bytes].every((v) => Number.isSafeInteger(v) && v >= 0)) return `rules[${i}]: not a rule id with counts`;
  return null;
}

export class WorkerRegistry {
  private readonly latest = new Map<string, { report: WorkerReport; receivedAt: number }>();

  constructor(readonly staleAfterMs: number, readonly expireAfterMs = 300_000) {}

  /** Keeps the newest report per worker (by start time, then sequence); throws why a report was refused. */
  accept(r: WorkerReport, now = Date.now()): void {
    const why = checkReport(r, now);
    if (why) throw ValidationError.one(why.slice(0, why.indexOf(':')), why.slice(why.indexOf(':') + 2));
    this.expire(now);
    if (!this.latest.has(r.worker_id) && this.latest.size >= MAX_WORKERS)
      throw new CapacityError('worker_id', `${MAX_WORKERS} workers report already; a new one is taken when one of them has not reported for ${this.expireAfterMs} ms`);
    // Reports can overtake each other (a retried one, the old instance's last): keep the
    // newest by (start, sequence), not the last to arrive.
    const cur = this.latest.get(r.worker_id)?.report;
    if (cur && (r.started_at_unix_ms < cur.started_at_unix_ms || (r.started_at_unix_ms === cur.started_at_unix_ms && r.sequence <= cur.sequence))) return;
    this.latest.set(r.worker_id, { report: r, receivedAt: now });
  }

  private expire(now: number): void {
    for (const [id, w] of this.latest) if (now - w.receivedAt > this.expireAfterMs) this.latest.delete(id);
  }

  list(now = Date.now()): WorkerView[] {
    this.expire(now);
    return [...this.latest.values()]
      .map(({ report: { started_at_unix_ms, ...r }, receivedAt }) => ({
        ...r,
        started_at: new Date(started_at_unix_ms).toISOString(),
        received_at: new Date(receivedAt).toISOString(),
        age_ms: now - receivedAt,
        stale: now - receivedAt > this.staleAfterMs,
      }))
      .sort((a, b) => a.worker_id.localeCompare(b.worker_id));
  }
}
