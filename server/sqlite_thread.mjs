// sqlite_thread.mjs - a second SQLite connection on a thread of its own (server/sqlite_thread.ts
// drives it): a large batch's statements run here while the event loop goes on serving, and
// until its COMMIT nobody else sees the batch (the main connection reads what was committed).
// Plain JavaScript: it needs nothing but better-sqlite3, and no TypeScript loader in the thread.
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

// Linux nice values are per thread: on a busy machine the event loop's thread goes first,
// so requests are served while a batch is written (the batch waits for the main thread's
// steps anyway). Where that is not allowed, the thread runs at the process's priority.
try {
  os.setPriority(0, 10);
} catch {
  /* keep the process's priority */
}

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
/** Prepared statements by their SQL (raw rows: arrays, not objects). */
const prepared = new Map();
const statement = (sql) => {
  let s = prepared.get(sql);
  if (!s) prepared.set(sql, (s = db.prepare(sql)));
  return s;
};

/**
 * exec: BEGIN, COMMIT, ROLLBACK. rows: `args` are `count` rows of `width` values; they run as
 * statements of `chunk` rows (`many`) and one-row statements (`one`) for the rest, and every
 * row the statements return comes back in one flat array.
 */
/** An error in a transaction: SQLite may have rolled it back itself (SQLITE_FULL, IOERR), and
 * the steps queued behind would then run one by one in autocommit. Until the next BEGIN or
 * ROLLBACK, nothing more runs. */
let aborted = null;
parentPort.on('message', ({ id, op, sql, many, one, chunk, width, count, args }) => {
  try {
    if (op === 'exec') {
      const verb = sql.trim().split(/\s+/)[0].toUpperCase();
      if (verb === 'ROLLBACK') {
        aborted = null;
        if (db.inTransaction) db.exec(sql);
        return parentPort.postMessage({ id, rows: null });
      }
      if (verb === 'BEGIN') aborted = null;
      else if (aborted) throw aborted;
      else if (!db.inTransaction) throw new Error(`${verb} without a transaction: SQLite ended it`);
      db.exec(sql);
      return parentPort.postMessage({ id, rows: null });
    }
    if (aborted) throw aborted;
    if (!db.inTransaction) throw new Error('no transaction is open: SQLite ended it');
    const out = [];
    const collect = (stmt, from, rows) => {
      const returned = stmt.raw(true).all(args.slice(from * width, (from + rows) * width));
      for (const r of returned) for (const v of r) out.push(v);
    };
    let done = 0;
    for (; done + chunk <= count; done += chunk) collect(statement(many), done, chunk);
    for (; done < count; done++) collect(statement(one), done, 1);
    parentPort.postMessage({ id, rows: out });
  } catch (err) {
    if (db.inTransaction || op === 'rows') aborted ??= err;
    parentPort.postMessage({ id, error: { message: err.message, code: err.code } });
  }
});
