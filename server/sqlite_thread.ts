// sqlite_thread.ts - the main side of sqlite_thread.mjs: a second connection to the same SQLite
// file on a worker thread, for the statements of a large batch (service.ts batchUpsert).
import type Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';

/** An error of the thread's SQLite, with SQLite's code (SQLITE_FULL, SQLITE_CONSTRAINT_...). */
export class SqliteThreadError extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
  }
}

export class SqliteThread {
  private readonly worker: Worker;
  private next = 0;
  private readonly calls = new Map<number, { resolve: (rows: unknown[] | null) => void; reject: (err: Error) => void }>();
  private failed: Error | null = null;

  private constructor(file: string) {
    this.worker = new Worker(new URL('./sqlite_thread.mjs', import.meta.url), { workerData: { file } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; rows?: unknown[] | null; error?: { message: string; code?: string } }) => {
      const c = this.calls.get(m.id);
      this.calls.delete(m.id);
      if (m.error) c?.reject(new SqliteThreadError(m.error.message, m.error.code));
      else c?.resolve(m.rows ?? null);
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const c of this.calls.values()) c.reject(err);
      this.calls.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the SQLite thread exited (${code})`)));
  }

  /** The thread has died (an error, an exit): every call fails; open another. */
  get dead(): boolean {
    return this.failed !== null;
  }

  /** A thread on db's file; null for an in-memory database (a second connection would not see it). */
  static open(db: Database.Database): SqliteThread | null {
    return db.memory ? null : new SqliteThread(db.name);
  }

  private call(msg: object): Promise<unknown[] | null> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...msg });
    });
  }

  exec(sql: string): Promise<void> {
    return this.call({ op: 'exec', sql }).then(() => undefined);
  }

  /** `args` holds `count` rows of `width` values, run `chunk` rows to a statement (`many`, else `one`): the rows they return, flat. */
  rows(many: string, one: string, chunk: number, width: number, count: number, args: unknown[]): Promise<unknown[]> {
    return this.call({ op: 'rows', many, one, chunk, width, count, args }) as Promise<unknown[]>;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}
