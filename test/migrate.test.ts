// migrate.test.ts - a database of the first rule model (migration 001 only: exact 5-tuples)
// upgraded in place by migrations 002 and 003: every rule keeps its id, counter slot,
// revision and key; it reads back as the same exact match; the same key posted again
// updates it; ids keep counting where they were; an old tombstone replays with a match.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, describe, it } from 'node:test';
import { migrate, MIGRATIONS_DIR, openDatabase } from '../server/db.js';
import { FlowStore } from '../server/store.js';
import { validateFlowSpec } from '../server/validate.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-migrate-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('upgrading a database of the first rule model', () => {
  it('keeps every rule, its id, slot and key; the same key updates it; ids go on counting', () => {
    // The first model's database: only migration 001, written as that version wrote it.
    const only001 = path.join(dir, 'm001');
    fs.mkdirSync(only001);
    fs.copyFileSync(path.join(MIGRATIONS_DIR, '001_flows.sql'), path.join(only001, '001_flows.sql'));
    const file = path.join(dir, 'pcf.db');
    const old = new Database(file);
    assert.equal(migrate(old, only001), 1);
    const ins = old.prepare(`INSERT INTO flows (src_ip, dst_ip, src_port, dst_port, proto, action_type, ttl_delta, mark, queue_id,
      snat_ip, snat_port, dnat_ip, dnat_port, mirror, stats_slot, revision, created_revision, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, NULL, NULL, NULL, ?, 0, ?, ?, ?, 't0', 't1')`);
    ins.run('198.18.0.1', '198.18.1.1', 5000, 7000, 17, 'REDIRECT', null, 7001, 3, 1, 1);
    ins.run('198.18.0.1', '198.18.1.1', 0, 0, 1, 'DROP', null, null, 0, 2, 2);
    ins.run('198.18.0.2', '198.18.1.1', 1234, 80, 6, 'PASS', 273, null, 1, 3, 3);
    // A deleted rule (id 4): its tombstone as the first model wrote it, and the sequence past it.
    old.prepare('INSERT INTO flow_tombstones (revision, flow_id, flow_json) VALUES (?, ?, ?)').run(4, 4,
      JSON.stringify({ id: 4, key: { src_ip: '198.18.0.9', dst_ip: '198.18.1.1', src_port: 1, dst_port: 2, proto: 17 }, action: { type: 'DROP' }, revision: 4 }));
    old.prepare("UPDATE sqlite_sequence SET seq = 4 WHERE name = 'flows'").run();
    old.close();

    const db = openDatabase(file);
    try {
      assert.equal((db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'flows'").get() as { seq: number }).seq, 4, 'AUTOINCREMENT carried over');
      assert.equal(db.pragma('user_version', { simple: true }), fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).length);
      const store = new FlowStore(db);
      const all = store.all();
      assert.deepEqual(all.map((f) => [f.flow.id, f.slot, f.flow.revision]), [[1, 3, 1], [2, 0, 2], [3, 1, 3]]);
      assert.deepEqual(all[0].flow.key, { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: 5000, dst_port: 7000, proto: 17 });
      assert.deepEqual(all[0].flow.match, { src: '198.18.0.1/32', dst: '198.18.1.1/32', src_ports: 5000, dst_ports: 7000, proto: 17 });
      assert.equal(all[0].flow.precedence, null);
      assert.equal(all[0].flow.action.nat?.dnat_port, 7001);
      assert.deepEqual(all[1].flow.key, { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: 0, dst_port: 0, proto: 1 });
      assert.deepEqual(all[1].flow.match, { src: '198.18.0.1/32', dst: '198.18.1.1/32', proto: 1 }, 'ICMP: no ports');
      assert.equal(all[2].flow.action.mark, 273);

      // The same key again is the same rule; a new key gets the next id after the deleted 4.
      const again = validateFlowSpec({ key: { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: 0, dst_port: 0, proto: 'icmp' }, action: { type: 'PASS' } }, { rxQueues: null });
      const fresh = validateFlowSpec({ key: { src_ip: '198.18.0.3', dst_ip: '198.18.1.1', src_port: 1, dst_port: 2, proto: 17 }, action: { type: 'PASS' } }, { rxQueues: null });
      const rs = db.transaction(() => store.upsertMany([again, fresh], 't2'))();
      assert.deepEqual(rs.map((r) => [r.flow.id, r.created]), [[2, false], [rs[1].flow.id, true]]);
      assert.ok(rs[1].flow.id > 4, `a new rule never takes the deleted rule's id 4 (got ${rs[1].flow.id})`);
      assert.equal(store.count(), 4);

      // The old tombstone replays as a DELETE with the match the API shows now.
      const del = store.changesAfter(0, 100).find((e) => e.kind === 'DELETE')!;
      assert.equal(del.id, 4);
      assert.deepEqual(del.flow.match, { src: '198.18.0.9/32', dst: '198.18.1.1/32', src_ports: 1, dst_ports: 2, proto: 17 });
      assert.equal(del.flow.precedence, null);
    } finally {
      db.close();
    }
  });
});
