// workers.ts - the latest counter report of each DPDK worker (WorkerReport.Report), shown in
// GET /stats and GetStats beside the XDP counters, with its age. A worker that has not
// reported for staleAfterMs shows as stale, and after expireAfterMs it is forgotten. Reports
// are cumulative since the worker started, so a restarted control plane needs nothing but the
// next report. A report is checked before it is kept (names, times, counts and sizes), and
// there are at most MAX_WORKERS workers: a report only ever replaces its own worker's.

import { CapacityError, ValidationError } from './errors.js';
import { queueView, type QueueView, type WorkerCounters, type WorkerReport } from '../api/worker_report.js';

/** A report as GET /stats and GetStats show it (api/worker_report.ts reads the message): each
 * queue with its cycles per packet. */
export interface WorkerView extends Omit<WorkerCounters, 'queues'> {
  queues: QueueView[];
  started_at: string;
  received_at: string;
  age_ms: number;
  stale: boolean;
}

export const MAX_WORKERS = 64;
/** Interfaces one pin dir serves (PCF_MAX_ATTACHMENTS) and RX queues of each (PCF_MAX_QUEUES). */
const MAX_ATTACHMENTS = 4;
const QUEUES_PER_ATTACHMENT = 64;
/** pcf_xskmap's keys: PCF_MAX_ATTACHMENTS * PCF_MAX_QUEUES. */
const MAX_QUEUES = MAX_ATTACHMENTS * QUEUES_PER_ATTACHMENT;
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
  if (!Number.isSafeInteger(r.tsc_hz) || r.tsc_hz < 0) return 'tsc_hz: not a frequency in Hz';
  if (r.queues.length > MAX_QUEUES) return `queues: more than ${MAX_QUEUES}`;
  const seen = new Set<number>();
  for (const [i, q] of r.queues.entries()) {
    // A report of the release before has only queue_id: attachment and queue come from it.
    if (!Number.isInteger(q.attachment) || q.attachment < 0 || q.attachment >= MAX_ATTACHMENTS) return `queues[${i}].attachment: ${q.attachment} (queue_id ${q.queue_id}) is not an attachment 0..${MAX_ATTACHMENTS - 1}`;
    if (!Number.isInteger(q.queue) || q.queue < 0 || q.queue >= QUEUES_PER_ATTACHMENT) return `queues[${i}].queue: ${q.queue} is not a queue 0..${QUEUES_PER_ATTACHMENT - 1}`;
    const key = q.attachment * QUEUES_PER_ATTACHMENT + q.queue;
    if (q.queue_id !== key) return `queues[${i}].queue_id: ${q.queue_id} is not the xskmap key of attachment ${q.attachment} queue ${q.queue} (${key})`;
    if (seen.has(key)) return `queues[${i}].queue: queue ${q.queue} of attachment ${q.attachment} twice`;
    seen.add(key);
    // A busy queue passes 2^53 cycles in about 40 days at 2.6 GHz: past it a count loses its
    // last digits, which no rate computed from it notices; refusing it would end the reports.
    if (!Number.isFinite(q.busy_cycles) || q.busy_cycles < 0) return `queues[${i}].busy_cycles: not a count`;
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
        queues: r.queues.map(queueView),
        started_at: new Date(started_at_unix_ms).toISOString(),
        received_at: new Date(receivedAt).toISOString(),
        age_ms: now - receivedAt,
        stale: now - receivedAt > this.staleAfterMs,
      }))
      .sort((a, b) => a.worker_id.localeCompare(b.worker_id));
  }
}
