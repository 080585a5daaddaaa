// drift.ts - one drift check, in steps: the maps compared with SQLite a slice at a time, the
// event loop free between slices. A check of every rule at once took seconds at 131,000
// rules (SQLite's rows alone ~1.5 s) and held every request up for as long.
import type { Datapath, Drift } from './datapath.js';
import type { FlowStore } from './store.js';

/** Rules (or map entries) per step: a few ms of work. */
export const DRIFT_STEP = 1000;
/** After a step the round pauses this many times as long as the step took: a round uses at
 * most 1 / (1 + DRIFT_PAUSE) of a CPU (20 %), however many rules there are; while rules are
 * being written, DRIFT_PAUSE_BUSY (5 %): the writes go first, and the check still ends. */
export const DRIFT_PAUSE = 4;
export const DRIFT_PAUSE_BUSY = 19;

export const noDrift = (): Drift => ({ exact_missing: 0, exact_stale: 0, exact_changed: 0, classifier_missing: 0, classifier_extra: 0, classifier_changed: 0, buckets_changed: 0 });

/**
 * A round: (1) SQLite's rules in id order, each looked up in the maps; (2) pcf_flow_map's
 * entries, each looked up in SQLite (stale ones); (3) the classifier's live slots, buckets and
 * shapes against its picture. Each comparison reads both sides in the same turn of the event
 * loop, so a write between steps cannot be mistaken for drift: a rule written after its slice
 * was compared waits for the next round.
 */
export class DriftRound {
  readonly found: Drift = noDrift();
  private phase: 'rules' | 'map' | 'classifier' | 'done' = 'rules';
  private afterId = 0;
  private cursor: Buffer | null = null;
  readonly startedAt = Date.now();

  constructor(private readonly store: FlowStore, private readonly datapath: Datapath, private readonly step = DRIFT_STEP) {}

  get done(): boolean {
    return this.phase === 'done';
  }

  /** Does one step; returns true once the round is complete. */
  next(): boolean {
    switch (this.phase) {
      case 'rules': {
        const flows = this.store.after(this.afterId, this.step);
        this.datapath.checkRules(flows, this.found);
        if (flows.length < this.step) this.phase = 'map';
        else this.afterId = flows[flows.length - 1].id;
        break;
      }
      case 'map': {
        const r = this.datapath.scanExact(this.cursor, this.step, (k) => this.store.exactWithKey(k), this.found);
        this.cursor = r.cursor;
        if (!r.cursor) this.phase = 'classifier';
        break;
      }
      case 'classifier':
        this.datapath.checkClassifierMaps(this.found);
        this.phase = 'done';
        break;
      case 'done':
        break;
    }
    return this.done;
  }

  /** What differs, summed over the kinds. */
  get total(): number {
    return Object.values(this.found).reduce((a, b) => a + b, 0);
  }
}
