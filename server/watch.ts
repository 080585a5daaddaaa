// watch.ts - one WatchFlows stream. It pulls its events from SQLite (FlowStore.changesAfter)
// a page at a time, at the pace its client reads: a write only tells it that something
// changed. So a watcher holds at most one page and its stream's buffer, whatever it replays
// or however slowly it reads, and a replay yields to the event loop between pages. A watcher
// that keeps up reads each write's changes right after its commit, so it sees every revision;
// one that lags (replaying, or its client slow) sees each rule at its latest revision when it
// gets there. Events come in revision order without repeats. A client that reads nothing for
// `stallMs` while events wait is cut off (it can watch again from the last revision it got).
import type { EventEmitter } from 'node:events';
import { CapacityError } from './errors.js';
import type { FlowEvent } from './model.js';
import type { FlowStore } from './store.js';

/** The stream side: write returns false when the client's buffer is full. */
export interface WatchSink {
  write(e: FlowEvent): boolean;
  onceDrain(fn: () => void): void;
  /** The end of the watch: with an error (cut off, revision compacted) or not (shutdown). */
  end(err?: Error): void;
}

export const WATCH_PAGE = 500;
/** A watcher whose client reads nothing this long while changes wait is cut off. */
export const WATCH_STALL_MS = 30_000;

export class FlowWatch {
  private scheduled = false;
  private draining = false;
  private stopped = false;
  private stall: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: FlowStore,
    private readonly changes: EventEmitter,
    private last: number,
    private readonly sink: WatchSink,
    private readonly stallMs: number,
  ) {
    changes.on('changed', this.kick);
    this.schedule();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.changes.off('changed', this.kick);
    if (this.stall) clearTimeout(this.stall);
  }

  private finish(err?: Error): void {
    this.stop();
    this.sink.end(err);
  }

  /** After a commit: a watcher that is caught up reads it now, before the next write. */
  private readonly kick = (): void => {
    if (!this.scheduled && !this.draining && !this.stopped) this.pump();
  };

  private readonly schedule = (): void => {
    if (this.scheduled || this.draining || this.stopped) return;
    this.scheduled = true;
    setImmediate(this.pump);
  };

  private readonly pump = (): void => {
    this.scheduled = false;
    if (this.draining || this.stopped) return;
    let page: FlowEvent[];
    try {
      page = this.store.changesAfter(this.last, WATCH_PAGE);
    } catch (err) {
      return this.finish(err as Error); // compacted under a watcher that fell behind
    }
    for (const e of page) {
      this.last = e.revision;
      if (!this.sink.write(e)) return this.waitDrain();
    }
    if (page.length) this.schedule(); // more may follow: the next page on the next turn
  };

  private waitDrain(): void {
    this.draining = true;
    this.stall = setTimeout(() => {
      this.finish(new CapacityError('from_revision', `the watcher read nothing for ${this.stallMs} ms with changes waiting and was cut off; watch again from revision ${this.last}`));
    }, this.stallMs);
    this.sink.onceDrain(() => {
      if (this.stall) clearTimeout(this.stall);
      this.stall = null;
      this.draining = false;
      this.schedule();
    });
  }
}
