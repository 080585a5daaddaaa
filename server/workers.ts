// workers.ts - the latest counter report of each DPDK worker (WorkerReport.Report), shown in
// GET /stats and GetStats beside the XDP counters, with its age. A worker that has not
// reported for staleAfterMs shows as stale. Reports are cumulative since the worker started,
// so a restarted control plane needs nothing but the next report.

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

export class WorkerRegistry {
  private readonly latest = new Map<string, { report: WorkerReport; receivedAt: number }>();

  constructor(readonly staleAfterMs: number) {}

  /** Keeps the newest report per worker; returns why a report was refused, or null. */
  accept(r: WorkerReport, now = Date.now()): string | null {
    if (!r.worker_id) return 'worker_id: required';
    this.latest.set(r.worker_id, { report: r, receivedAt: now });
    return null;
  }

  list(now = Date.now()): WorkerView[] {
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
