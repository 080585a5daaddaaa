// metrics.ts - GET /metrics for Prometheus: the XDP counters, rules and datapath state,
// read from the maps at scrape time (prom-client), the DPDK workers' latest reports (their
// CPU cost per packet), the worker's bursts while pcf-trace runs, plus the process's own
// metrics.
import client from 'prom-client';
import type { BurstTraceView } from './burst_trace.js';
import type { MapPressure } from './map_pressure.js';
import type { FlowService } from './service.js';
import type { WorkerView } from './workers.js';

export function createMetrics(service: FlowService): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'pcf_control_' });

  // Counters owned by the kernel: each scrape copies their current sums.
  for (const field of ['packets', 'bytes'] as const) {
    new client.Counter({
      name: `pcf_xdp_${field}_total`,
      help: `${field === 'packets' ? 'Packets' : 'Bytes (frame length)'} counted by the XDP program, by counter of PCF_COUNTER_TABLE`,
      labelNames: ['counter'], registers: [registry],
      collect() {
        this.reset();
        for (const [name, c] of Object.entries(service.datapath.counters())) this.inc({ counter: name }, c[field]);
      },
    });
  }
  new client.Gauge({
    name: 'pcf_rules', help: 'Rules stored in SQLite', registers: [registry],
    collect() {
      this.set(service.store.count());
    },
  });
  // The classifier against its limits (xdp/README.md: Classifier).
  const classifier: [string, string, (c: ReturnType<typeof service.datapath.classifier.stats>) => number][] = [
    ['pcf_classifier_rules', 'Rules with a precedence (searched by shape in XDP)', (c) => c.rules],
    ['pcf_classifier_shapes', 'Distinct match shapes in use', (c) => c.shapes],
    ['pcf_classifier_shapes_max', 'Distinct match shapes the classifier holds at most', (c) => c.max_shapes],
    ['pcf_classifier_fullest_bucket', 'The most rules sharing one shape, address pair and protocol', (c) => c.fullest_bucket],
    ['pcf_classifier_bucket_max', 'Rules one bucket holds at most', (c) => c.max_rules_per_bucket],
  ];
  for (const [name, help, get] of classifier) {
    new client.Gauge({
      name, help, registers: [registry],
      collect() {
        this.set(get(service.datapath.classifier.stats()));
      },
    });
  }
  // Each pinned map as the kernel reports it (map_pressure.ts), by pin name.
  const pressure: [string, string, (m: MapPressure) => number | null][] = [
    ['pcf_map_capacity', 'Entries a pinned map holds at most (max_entries)', (m) => m.capacity],
    ['pcf_map_elements', 'Elements the kernel counts in a pinned hash map', (m) => m.elements],
    ['pcf_map_memory_bytes', 'Memory of a pinned map (the memlock figure of its fdinfo)', (m) => m.memory_bytes],
  ];
  for (const [name, help, get] of pressure) {
    new client.Gauge({
      name, help, labelNames: ['map'], registers: [registry],
      collect() {
        this.reset();
        for (const [map, m] of Object.entries(service.mapPressure.maps())) {
          const v = m && get(m);
          if (v !== null && v !== undefined) this.set({ map }, v);
        }
      },
    });
  }
  for (const [name, help, get] of [
    ['pcf_drift_checks_total', 'Comparisons of the maps with SQLite (PCF_DRIFT_CHECK_MS)', () => service.drift.checks],
    ['pcf_drift_repaired_total', 'Map entries a drift check found different from SQLite and rewrote', () => service.drift.repaired],
  ] as const) {
    new client.Counter({
      name, help, registers: [registry],
      collect() {
        this.reset();
        this.inc(get());
      },
    });
  }
  // The workers' latest reports (stale ones included until they expire), per RX queue:
  // rate(pcf_worker_busy_cycles_total) / rate(pcf_worker_rx_packets_total) is the worker's
  // cycles per packet, and divided by pcf_worker_tsc_hz its busy share of a core.
  const queueLabels = ['worker_id', 'attachment', 'queue'] as const;
  for (const [name, help, get] of [
    ['pcf_worker_busy_cycles_total', 'TSC cycles a worker queue\'s lcore spent on bursts that carried packets, RX through TX (idle polls not counted)', (q) => q.busy_cycles],
    ['pcf_worker_rx_packets_total', 'Frames a worker queue took into its pipeline', (q) => q.counters.rx_packets],
  ] as const satisfies readonly (readonly [string, string, (q: WorkerView['queues'][number]) => number])[]) {
    new client.Counter({
      name, help, labelNames: queueLabels, registers: [registry],
      collect() {
        this.reset();
        for (const w of service.workers.list())
          for (const q of w.queues) this.inc({ worker_id: w.worker_id, attachment: q.attachment, queue: q.queue }, get(q));
      },
    });
  }
  new client.Gauge({
    name: 'pcf_worker_tsc_hz', help: 'A worker\'s TSC frequency (rte_get_tsc_hz()): the unit of pcf_worker_busy_cycles_total', labelNames: ['worker_id'], registers: [registry],
    collect() {
      this.reset();
      for (const w of service.workers.list()) this.set({ worker_id: w.worker_id }, w.tsc_hz);
    },
  });
  registerBurstTrace(registry, service);
  new client.Gauge({
    name: 'pcf_packet_event_streams', help: 'Packet event streams open (GET /events, WatchPacketEvents): XDP emits events while there is one', registers: [registry],
    collect() {
      this.set(service.packetEvents.watchers);
    },
  });
  new client.Gauge({
    name: 'pcf_datapath_present', help: '1 when the pinned maps are open', registers: [registry],
    collect() {
      this.set(service.datapath.present ? 1 : 0);
    },
  });
  return registry;
}

/** Buckets of packets per burst: the powers of two up to the worker's largest burst (32). */
const BURST_BUCKETS = [1, 2, 4, 8, 16, 32];

/**
 * The worker's bursts while a pcf-trace runs (burst_trace.ts), by dir, port and queue:
 * pcf_worker_burst_size, a histogram of packets per burst counted since the trace began
 * (its hist[] folded into cumulative buckets, _sum the packets, _count the bursts), and the
 * bursts and packets per second of the last second, the figures pcf-trace prints.
 */
function registerBurstTrace(registry: client.Registry, service: FlowService): void {
  const trace = () => service.burstTrace.current();
  const labels = (q: BurstTraceView['queues'][number]) => ({ dir: q.dir, port: q.port, queue: q.queue });
  new client.Gauge({
    name: 'pcf_trace_active', help: '1 while a pcf-trace publishes the worker\'s bursts (trace/README.md)', registers: [registry],
    collect() {
      this.set(trace() ? 1 : 0);
    },
  });
  for (const [name, help, get] of [
    ['pcf_worker_bursts_per_second', 'Bursts per second of a worker port queue over the last second (pcf-trace)', (q) => q.bursts_per_s],
    ['pcf_worker_burst_packets_per_second', 'Packets per second in a worker port queue\'s bursts over the last second (pcf-trace)', (q) => q.packets_per_s],
  ] as const satisfies readonly (readonly [string, string, (q: BurstTraceView['queues'][number]) => number | null])[]) {
    new client.Gauge({
      name, help, labelNames: ['dir', 'port', 'queue'], registers: [registry],
      collect() {
        this.reset();
        for (const q of trace()?.queues ?? []) {
          const v = get(q);
          if (v !== null) this.set(labels(q), v);
        }
      },
    });
  }
  // prom-client's Histogram observes values one by one; this one is already counted in the
  // kernel, so it is handed to the registry as the values of a custom metric.
  const name = 'pcf_worker_burst_size';
  const help = 'Packets per burst of a worker port queue since the pcf-trace began (USDT rx_burst / tx_burst)';
  registry.registerMetric({
    name,
    help,
    async get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const q of trace()?.queues ?? []) {
        const l = labels(q);
        let below = 0;
        let n = 0;
        for (const le of BURST_BUCKETS) {
          for (; n <= le && n < q.hist.length; n++) below += q.hist[n];
          values.push({ labels: { ...l, le }, value: below, metricName: `${name}_bucket` });
        }
        values.push({ labels: { ...l, le: '+Inf' }, value: q.bursts, metricName: `${name}_bucket` });
        values.push({ labels: l, value: q.packets, metricName: `${name}_sum` });
        values.push({ labels: l, value: q.bursts, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  } as unknown as client.Metric);
}
