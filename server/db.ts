// db.ts - open the SQLite database (WAL) and apply the numbered migrations in migrations/.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

export function openDatabase(file: string, migrationsDir = MIGRATIONS_DIR): Database.Database {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a committed transaction survives the process being killed (it is in
  // the OS page cache); only a power loss can take the last commits back.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrationsDir);
  return db;
}

/** Applies every NNN_*.sql above user_version, each in its own transaction. */
export function migrate(db: Database.Database, dir: string): number {
  const files = fs.readdirSync(dir).filter((f) => /^\d+_.*\.sql$/.test(f)).sort();
  let version = db.pragma('user_version', { simple: true }) as number;
  for (const f of files) {
    const n = parseInt(f, 10);
    if (n <= version) continue;
    if (n !== version + 1) throw new Error(`migration ${f}: expected number ${version + 1} next`);
    const sql = fs.readFileSync(path.join(dir, f), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${n}`);
    })();
    version = n;
  }
  return version;
}
