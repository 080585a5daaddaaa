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
parentPort.on('message', ({ id, op, sql, many, one, chunk, width, count, args }) => {
  try {
    if (op === 'exec') {
      db.exec(sql);
      return parentPort.postMessage({ id, rows: null });
    }
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
    parentPort.postMessage({ id, error: { message: err.message, code: err.code } });
  }
});
