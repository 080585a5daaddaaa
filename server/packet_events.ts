// packet_events.ts - the XDP program's packet events (xdp/README.md: Packet events): reads
// pcf_events (native EventReader, on the event loop), hands each event to the streams whose
// filter it passes (GET /events, gRPC WatchPacketEvents), and keeps pcf_event_config equal to
// the operator's choice (SQLite settings 'packet_events'), turned on only while a stream is
// open: with nobody watching, XDP emits nothing.
//
// A stream whose client reads too slowly loses events instead of holding memory: past what its
// transport may hold unsent (MAX_BACKLOG_BYTES of SSE, MAX_BACKLOG_MESSAGES of gRPC), its events
// are counted, and the next one sent says how many (`lost`); when none follows, a notice with the
// count alone goes once the client has caught up (checked each second). The XDP side counts what
// it held back or lost itself (event_limited, event_lost).
import type Database from 'better-sqlite3';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import * as native from '../native/index.js';
import { ValidationError } from './errors.js';
import type { components } from './generated/openapi.js';
import { schemaErrors } from './schema.js';

export type PacketEventConfig = components['schemas']['PacketEventConfig'];
export type PacketEvent = components['schemas']['PacketEvent'];
export type EventAction = components['schemas']['ActionType'];

export const DEFAULT_EVENT_CONFIG: PacketEventConfig = Object.freeze({
  enabled: true, sample: Object.freeze({ pass: 0, drop: 1, redirect: 0 }), rate_per_cpu: 1000, burst: 100,
}) as PacketEventConfig;

/** Unsent bytes an SSE stream, or messages a gRPC stream (grpc-js counts objects), may hold
 * before its events are dropped (and counted). */
export const MAX_BACKLOG_BYTES = 1 << 20;
export const MAX_BACKLOG_MESSAGES = 4096;
/** The coarse clock XDP's rate limit runs on ticks every 1-10 ms (HZ): a burst must last 10 ms. */
export const MIN_BURST_MS = 10;
const SETTING = 'packet_events';

export interface EventFilter {
  rule_id?: number;
  action?: EventAction;
  /** An address or prefix, matched against the source and the destination. */
  address?: string;
}

/** Where a stream's events go: its transport. */
export interface EventSink {
  write(e: PacketEvent): void;
  /** Holding as much unsent as it may: the next events are dropped (and counted). */
  full(): boolean;
  /** `n` events were dropped and no event followed to say so. */
  lost(n: number): void;
}

interface Stream {
  sink: EventSink;
  match: (e: native.PacketEvent) => boolean;
  lost: number;
}

/** The filter as a predicate; a bad one throws ValidationError naming the field. */
function matcher(f: EventFilter): (e: native.PacketEvent) => boolean {
  let blocks: net.BlockList | null = null;
  if (f.rule_id !== undefined && !(Number.isInteger(f.rule_id) && f.rule_id >= 1 && f.rule_id <= 0xffffffff))
    throw ValidationError.one('rule_id', `${f.rule_id} is not an integer in 1..4294967295`);
  if (f.address !== undefined) {
    const [addr, len] = f.address.split('/');
    const family = net.isIPv4(addr) ? 'ipv4' : net.isIPv6(addr) ? 'ipv6' : null;
    const bits = len === undefined ? (family === 'ipv4' ? 32 : 128) : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
    if (!family || !(bits >= 0 && bits <= (family === 'ipv4' ? 32 : 128)))
      throw ValidationError.one('address', `${JSON.stringify(f.address)} is not an IPv4 or IPv6 address or prefix (198.18.0.1, 2001:2::/48)`);
    blocks = new net.BlockList();
    blocks.addSubnet(addr, bits, family);
  }
  const inBlocks = (ip: string | null, fam: 4 | 6 | null) => ip !== null && blocks!.check(ip, fam === 6 ? 'ipv6' : 'ipv4');
  return (e) =>
    (f.rule_id === undefined || e.rule_id === f.rule_id) &&
    (f.action === undefined || e.action === f.action) &&
    (blocks === null || inBlocks(e.src, e.family) || inBlocks(e.dst, e.family));
}

/** The API's form of one event (openapi.yaml PacketEvent), with this stream's lost count. */
function toApi(e: native.PacketEvent, lost: number): PacketEvent {
  const ms = Math.floor(e.time_ms);
  const us = Math.floor((e.time_ms - ms) * 1000);
  const time = new Date(ms).toISOString().replace('Z', `${String(us).padStart(3, '0')}Z`);
  return {
    time, attachment: e.attachment, ifindex: e.ifindex, queue: e.queue, cpu: e.cpu, action: e.action as EventAction, reason: e.reason ?? 'unknown',
    rule_id: e.rule_id, len: e.len, family: e.family, proto: e.proto, src: e.src, dst: e.dst, src_port: e.src_port, dst_port: e.dst_port, lost,
  };
}

export class PacketEventHub {
  private streams = new Set<Stream>();
  private reader: native.EventReader | null = null;
  private configMap: native.EventConfigMap | null = null;
  private conf: PacketEventConfig;
  private timer: NodeJS.Timeout | null = null;
  /** What was last written into pcf_event_config (JSON), to write only changes. */
  private written = '';
  /** The last failure logged (opening the maps is tried each second: logged once). */
  private failure = '';

  constructor(private readonly db: Database.Database, private readonly pinDir: string, private readonly log: Logger, private readonly everyMs = 1000) {
    const row = db.prepare('SELECT value FROM settings WHERE name = ?').get(SETTING) as { value: string } | undefined;
    this.conf = row ? (JSON.parse(row.value) as PacketEventConfig) : DEFAULT_EVENT_CONFIG;
  }

  /** Opens the ring when the maps are there, and again whenever they are re-created. */
  start(): void {
    this.sync();
    this.timer = setInterval(() => this.sync(), this.everyMs);
    this.timer.unref();
  }

  /** Stops reading; XDP emits nothing more (the streams end with the servers). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.streams.clear();
    this.apply();
    this.close();
  }

  config(): PacketEventConfig {
    return this.conf;
  }

  /** Checks (openapi.yaml PacketEventConfig), keeps in SQLite, writes into the datapath. */
  setConfig(c: unknown): PacketEventConfig {
    const errors = schemaErrors('PacketEventConfig', c, '');
    if (errors.length) throw new ValidationError(errors);
    const conf = c as PacketEventConfig;
    const least = Math.ceil((conf.rate_per_cpu * MIN_BURST_MS) / 1000);
    if (conf.burst < least)
      throw ValidationError.one('burst', `${conf.burst} is less than ${MIN_BURST_MS} ms at rate_per_cpu ${conf.rate_per_cpu} (${least}): XDP's rate limit runs on a clock that ticks every few ms, so a shorter burst would cap the rate below rate_per_cpu`);
    this.db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(SETTING, JSON.stringify(conf));
    this.conf = conf;
    this.log.info({ packet_events: conf }, 'packet event setting changed');
    this.apply();
    return conf;
  }

  /** Adds a stream; the returned function removes it. A bad filter throws ValidationError. */
  subscribe(filter: EventFilter, sink: EventSink): () => void {
    const s: Stream = { sink, match: matcher(filter), lost: 0 };
    this.streams.add(s);
    this.apply();
    return () => {
      if (this.streams.delete(s)) this.apply();
    };
  }

  get watchers(): number {
    return this.streams.size;
  }

  private deliver(batch: native.PacketEvent[]): void {
    for (const s of this.streams) {
      for (const e of batch) {
        if (!s.match(e)) continue;
        if (s.sink.full()) {
          s.lost++;
          continue;
        }
        s.sink.write(toApi(e, s.lost));
        s.lost = 0;
      }
    }
  }

  /** Tells the streams that caught up since they dropped events, when no event did. */
  private reportLost(): void {
    for (const s of this.streams)
      if (s.lost && !s.sink.full()) {
        s.sink.lost(s.lost);
        s.lost = 0;
      }
  }

  /** The ring and the config map of the maps pinned now (a re-created map has a new id). */
  private sync(): void {
    this.reportLost();
    let id: number | null = null;
    try {
      id = native.pinnedMapId(path.join(this.pinDir, native.pinNames.events));
    } catch (err) {
      this.log.warn({ err }, 'looking for pcf_events failed');
    }
    if (id === (this.reader?.id ?? null)) return;
    this.close();
    if (id === null) return;
    const paths = native.pinPaths(this.pinDir);
    try {
      this.reader = new native.EventReader(paths.events, (batch) => this.deliver(batch));
      this.configMap = new native.EventConfigMap(paths.eventConfig);
    } catch (err) {
      if (String(err) !== this.failure) this.log.warn({ err }, 'opening the packet event maps failed (tried again each second)');
      this.failure = String(err);
      this.close();
      return;
    }
    this.failure = '';
    this.apply();
  }

  private close(): void {
    this.reader?.close();
    this.configMap?.close();
    this.reader = null;
    this.configMap = null;
    this.written = '';
  }

  /** pcf_event_config as the setting says, on only while a stream is open. */
  private apply(): void {
    if (!this.configMap) return;
    const c = this.conf;
    const want: native.EventConfig = { on: c.enabled && this.streams.size > 0, ratePerCpu: c.rate_per_cpu, burst: c.burst, sample: { ...c.sample } };
    const json = JSON.stringify(want);
    if (json === this.written) return;
    try {
      this.configMap.writeConfig(want);
      this.written = json;
    } catch (err) {
      this.log.warn({ err }, 'writing pcf_event_config failed');
    }
  }
}
