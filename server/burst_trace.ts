// burst_trace.ts - the worker's burst trace while pcf-trace runs (trace/README.md): each
// second, the trace's counters as the tool publishes them in the pin dir (native
// traceBursts), with bursts and packets per second over that second, for /metrics. No trace,
// or a stale one (a killed tool's pins), reads as null. Logs when a trace begins and ends.
import type { Logger } from 'pino';
import * as native from '../native/index.js';

export interface BurstQueueView extends native.BurstQueue {
  /** Over the last sample's second; null on the first sample of a trace. */
  bursts_per_s: number | null;
  packets_per_s: number | null;
}

export interface BurstTraceView {
  pid: number;
  attaches: number;
  queues: BurstQueueView[];
}

const keyOf = (q: native.BurstQueue) => `${q.dir}\0${q.port}\0${q.queue}`;

export class BurstTraceMonitor {
  private prev: { at: number; trace: native.BurstTrace; byKey: Map<string, native.BurstQueue> } | null = null;
  private view: BurstTraceView | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pinDir: string, private readonly log: Logger, private readonly everyMs = 1000) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The live trace's latest figures, or null when no pcf-trace runs. */
  current(): BurstTraceView | null {
    return this.view;
  }

  private sample(): void {
    let t: native.BurstTrace | null;
    try {
      t = native.traceBursts(this.pinDir);
    } catch (err) {
      this.log.warn({ err, pinDir: this.pinDir }, 'reading the burst trace failed');
      t = null;
    }
    if (!t?.live) {
      if (this.view) this.log.info({ worker_pid: this.view.pid }, 'the worker\'s burst trace ended (pcf-trace stopped)');
      this.prev = null;
      this.view = null;
      return;
    }
    const now = performance.now();
    // A trace that began again (another pcf-trace) counts from zero: no rate across it.
    const prev = this.prev && this.prev.trace.started_ms === t.started_ms ? this.prev : null;
    if (!this.view) this.log.info({ worker_pid: t.pid, interval_ms: t.interval_ms }, 'the worker\'s burst trace began (pcf-trace): figures in /metrics');
    const secs = prev ? (now - prev.at) / 1000 : 0;
    const queues = [...t.queues].sort(byQueue).map((q): BurstQueueView => {
      const p = prev?.byKey.get(keyOf(q));
      return {
        ...q,
        bursts_per_s: prev ? round1((q.bursts - (p?.bursts ?? 0)) / secs) : null,
        packets_per_s: prev ? round1((q.packets - (p?.packets ?? 0)) / secs) : null,
      };
    });
    this.prev = { at: now, trace: t, byKey: new Map(t.queues.map((q) => [keyOf(q), q])) };
    this.view = { pid: t.pid, attaches: t.attaches, queues };
  }
}

/** RX before TX, then by queue and port, as pcf-trace prints them. */
const byQueue = (a: native.BurstQueue, b: native.BurstQueue) =>
  a.dir.localeCompare(b.dir) || a.queue - b.queue || a.port.localeCompare(b.port);
const round1 = (x: number) => Math.round(x * 10) / 10;
