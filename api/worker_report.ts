// worker_report.ts - a worker's counters message (WorkerStats, or WorkerState in Stats) in full: the fields proto3 leaves out filled in.
import type { QueueStats__Output } from '../server/generated/proto/pcf/v1/QueueStats.js';
import type { RuleStats__Output } from '../server/generated/proto/pcf/v1/RuleStats.js';
import type { StageCounters__Output } from '../server/generated/proto/pcf/v1/StageCounters.js';
import type { WorkerState__Output } from '../server/generated/proto/pcf/v1/WorkerState.js';
import type { WorkerStats__Output } from '../server/generated/proto/pcf/v1/WorkerStats.js';

export type StageCounters = Required<StageCounters__Output>;

/** What a WorkerStats and a WorkerState both say, complete. */
export interface WorkerCounters {
  worker_id: string;
  iface: string;
  egress: string;
  xdp_mode: string;
  poll_mode: string;
  pid: number;
  sequence: number;
  /** The worker's TSC frequency (rte_get_tsc_hz()): the unit of busy_cycles; 0 from a worker
   * that does not send it. */
  tsc_hz: number;
  /** attachment: the RX interface's place in the pin dir; queue: its RX queue; queue_id
   * (deprecated): their pcf_xskmap key, attachment * 64 + queue. busy_cycles: TSC cycles of
   * the queue's bursts that carried packets, RX through TX (idle polls not counted). */
  queues: { attachment: number; queue: number; queue_id: number; busy_cycles: number; counters: StageCounters }[];
  rules: { rule_id: number; packets: number; bytes: number }[];
}

/** A WorkerStats message, complete: what the control plane checks and keeps. */
export interface WorkerReport extends WorkerCounters {
  started_at_unix_ms: number;
}

const ZERO: StageCounters = { rx_packets: 0, rx_bytes: 0, tx_packets: 0, tx_bytes: 0, nat: 0, ttl_expired: 0, mirrored: 0, rx_ipv6: 0, frag_later: 0, drops: {} };

/** PCF_MAX_QUEUES: the pcf_xskmap keys of one attachment. */
const QUEUES_PER_ATTACHMENT = 64;

/** A queue as its attachment and queue; a report of an older worker has only queue_id (the
 * pcf_xskmap key), they are read from it then. queue_id as sent, else from the two. */
const queueFromMessage = (q: QueueStats__Output): WorkerCounters['queues'][number] => ({
  attachment: q.attachment ?? Math.floor((q.queue_id ?? 0) / QUEUES_PER_ATTACHMENT),
  queue: q.queue ?? (q.queue_id ?? 0) % QUEUES_PER_ATTACHMENT,
  queue_id: q.queue_id ?? (q.attachment ?? 0) * QUEUES_PER_ATTACHMENT + (q.queue ?? 0),
  busy_cycles: Number(q.busy_cycles ?? 0),
  counters: { ...ZERO, ...Object.fromEntries(Object.entries(q.counters ?? {}).map(([k, v]) => [k, k === 'drops' ? v : Number(v)])) },
});

const ruleFromMessage = (r: RuleStats__Output): WorkerCounters['rules'][number] => ({ rule_id: Number(r.rule_id ?? 0), packets: Number(r.packets ?? 0), bytes: Number(r.bytes ?? 0) });

/** The fields both messages share, defaults filled in. */
export function countersFromMessage(m: WorkerStats__Output | WorkerState__Output): WorkerCounters {
  return {
    worker_id: m.worker_id ?? '',
    iface: m.iface ?? '',
    egress: m.egress ?? '',
    xdp_mode: m.xdp_mode ?? '',
    poll_mode: m.poll_mode ?? '',
    pid: Number(m.pid ?? 0),
    sequence: Number(m.sequence ?? 0),
    tsc_hz: Number(m.tsc_hz ?? 0),
    queues: (m.queues ?? []).map(queueFromMessage),
    rules: (m.rules ?? []).map(ruleFromMessage),
  };
}

/** A queue as GET /stats shows it: with the worker's cycles per packet, busy_cycles /
 * rx_packets; null before the first packet, and from a worker that does not measure them
 * (busy_cycles 0: every burst that carried a packet adds to it). */
export type QueueView = WorkerCounters['queues'][number] & { cycles_per_packet: number | null };

export function queueView(q: WorkerCounters['queues'][number]): QueueView {
  return { ...q, cycles_per_packet: q.counters.rx_packets > 0 && q.busy_cycles > 0 ? q.busy_cycles / q.counters.rx_packets : null };
}

/** A WorkerStats message (a worker's Report) to a complete report. */
export function reportFromMessage(m: WorkerStats__Output): WorkerReport {
  return { ...countersFromMessage(m), started_at_unix_ms: Number(m.started_at_unix_ms ?? 0) };
}
