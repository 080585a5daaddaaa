// map_pressure.ts - how full each pinned map is, as the kernel reports it (native mapInfo:
// type, capacity, elements, memory), for GET /stats, /metrics and /readyz. A hash map that
// fills refuses new rules; past WARN_PCT full it is logged once (again after it falls below
// and rises past it once more) and /readyz names it, still 200: the node works, it is near
// its limit. LRU maps (the flow caches) are full by design, evicting the oldest; arrays hold
// all their entries: neither is a warning.
import type { Logger } from 'pino';
import * as native from '../native/index.js';

export const WARN_PCT = 90;
/** A reading is reused for this long: /metrics, /stats and readiness may come together. */
const FRESH_MS = 1000;

export interface MapPressure extends native.MapInfo {
  /** elements / capacity in percent (one decimal); null where elements are. */
  used_pct: number | null;
}

export class MapPressureMonitor {
  private last: { at: number; maps: Record<string, MapPressure | null> } | null = null;
  private warned = new Set<string>();

  constructor(private readonly pinDir: string, private readonly log: Logger) {}

  /** Every pinned map by pin name (null: not pinned); {} when the maps cannot be read. */
  maps(): Record<string, MapPressure | null> {
    const now = Date.now();
    if (this.last && now - this.last.at < FRESH_MS) return this.last.maps;
    let info: Record<string, native.MapInfo | null>;
    try {
      info = native.mapInfo(this.pinDir);
    } catch (err) {
      this.log.warn({ err, pinDir: this.pinDir }, 'reading the maps\' info failed');
      info = {};
    }
    const maps = Object.fromEntries(Object.entries(info).map(([name, m]) =>
      [name, m && { ...m, used_pct: m.elements === null || !m.capacity ? null : Math.round((1000 * m.elements) / m.capacity) / 10 }]));
    this.last = { at: now, maps };
    this.logCrossings(maps);
    return maps;
  }

  /** The maps past WARN_PCT that refuse entries when full, each as a sentence. */
  warnings(): string[] {
    return Object.entries(this.maps()).flatMap(([name, m]) => (m && nearFull(m) ? [`${name} is ${m.used_pct}% full (${m.elements} of ${m.capacity})`] : []));
  }

  private logCrossings(maps: Record<string, MapPressure | null>): void {
    for (const [name, m] of Object.entries(maps)) {
      const near = !!m && nearFull(m);
      if (near && !this.warned.has(name)) {
        this.warned.add(name);
        this.log.warn({ map: name, elements: m!.elements, capacity: m!.capacity, used_pct: m!.used_pct }, `pinned map ${name} is past ${WARN_PCT}% full: new entries will be refused when it is full`);
      } else if (!near && this.warned.delete(name)) {
        this.log.info({ map: name, used_pct: m?.used_pct ?? null }, `pinned map ${name} is below ${WARN_PCT}% full again`);
      }
    }
  }
}

const nearFull = (m: MapPressure) => m.used_pct !== null && m.used_pct >= WARN_PCT && !m.type.startsWith('lru');
