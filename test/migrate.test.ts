// migrate.test.ts - a database of the first rule model (migration 001 only: exact 5-tuples)
// upgraded in place by migrations 002 and 003: every rule keeps its id, counter slot,
// revision and key; it reads back as the same exact match; the same key posted again
// updates it; ids keep counting where they were; an old tombstone replays with a match.
// And a database at 003 rebuilt by 004 without its CHECKs: every row, id and index stays.
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

describe('004: flows and pcc_rules rebuilt without CHECK constraints', () => {
  it('keeps every row, id, slot, revision, index and the next id; NOT NULL and UNIQUE still hold', () => {
    const upTo003 = path.join(dir, 'm003');
    fs.mkdirSync(upTo003);
    for (const f of fs.readdirSync(MIGRATIONS_DIR).filter((f) => /^00[123]_.*\.sql$/.test(f))) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(upTo003, f));
    const file = path.join(dir, 'pcf003.db');
    const old = new Database(file);
    assert.equal(migrate(old, upTo003), 3);
    const ins = old.prepare(`INSERT INTO flows (id, match_key, family, src, dst, src_port_lo, src_port_hi, dst_port_lo, dst_port_hi, proto, precedence,
      action_type, ttl_delta, mark, queue_id, snat_ip, snat_port, dnat_ip, dnat_port, mirror, stats_slot, revision, created_revision, created_at, updated_at,
      pcc_rule_id, filter_index, flow_description, flow_direction)
      VALUES (@id, @match_key, @family, @src, @dst, @spl, @sph, @dpl, @dph, @proto, @precedence, @type, @ttl, @mark, @queue, @snat_ip, @snat_port, @dnat_ip, @dnat_port,
      @mirror, @slot, @revision, @created_revision, 't0', 't1', @pcc, @filter, @text, @direction)`);
    const row = { family: 4, src: null, dst: null, spl: null, sph: null, dpl: null, dph: null, proto: null, precedence: null, ttl: null, mark: null, queue: null,
      snat_ip: null, snat_port: null, dnat_ip: null, dnat_port: null, mirror: 0, pcc: null, filter: null, text: null, direction: null };
    ins.run({ ...row, id: 2, match_key: '4|198.18.0.1/32|198.18.1.1/32|5000-5000|7000-7000|17', src: '198.18.0.1/32', dst: '198.18.1.1/32', spl: 5000, sph: 5000, dpl: 7000, dph: 7000,
      proto: 17, type: 'REDIRECT', ttl: -5, queue: 0, dnat_ip: '198.18.1.2', dnat_port: 7001, mirror: 1, slot: 7, revision: 9, created_revision: 2 });
    ins.run({ ...row, id: 5, match_key: '6|2001:2::/48|*|*|2000-2999|17', family: 6, src: '2001:2::/48', dpl: 2000, dph: 2999, proto: 17, precedence: 10, type: 'PASS', mark: 273,
      slot: 0, revision: 5, created_revision: 5 });
    ins.run({ ...row, id: 6, match_key: '4|198.18.1.0/24|198.18.0.1/32|*|5000-5000|17', src: '198.18.1.0/24', dst: '198.18.0.1/32', dpl: 5000, dph: 5000, proto: 17, precedence: 3,
      type: 'DROP', slot: 3, revision: 6, created_revision: 6, pcc: 'video-1', filter: 0, text: 'permit out 17 from 198.18.1.0/24 to assigned 5000', direction: 'DOWNLINK' });
    old.prepare(`INSERT INTO pcc_rules (id, precedence, ue_ip, action_json, flow_infos_json, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 't0', 't1')`)
      .run('video-1', 3, '198.18.0.1', JSON.stringify({ type: 'DROP' }), JSON.stringify([{ flow_description: 'permit out 17 from 198.18.1.0/24 to assigned 5000', flow_direction: 'DOWNLINK' }]), 6);
    old.prepare("UPDATE sqlite_sequence SET seq = 11 WHERE name = 'flows'").run(); // ids up to 11 were given out
    const flowsBefore = old.prepare('SELECT * FROM flows ORDER BY id').all();
    const pccBefore = old.prepare('SELECT * FROM pcc_rules ORDER BY id').all();
    const indexes = () => old.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY name").all();
    const indexesBefore = indexes();
    old.close();

    const db = openDatabase(file);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).length);
      assert.deepEqual(db.prepare('SELECT * FROM flows ORDER BY id').all(), flowsBefore, 'every row, column by column');
      assert.deepEqual(db.prepare('SELECT * FROM pcc_rules ORDER BY id').all(), pccBefore);
      // The tables that were there keep their indexes (later migrations add tables of their own).
      const tablesBefore = new Set((indexesBefore as { tbl_name: string }[]).map((i) => i.tbl_name));
      const indexesAfter = (db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' ORDER BY name").all() as { tbl_name: string }[]).filter((i) => tablesBefore.has(i.tbl_name));
      assert.deepEqual(indexesAfter, indexesBefore, 'the same indexes');
      for (const t of ['flows', 'pcc_rules']) {
        const sql = (db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').get(t) as { sql: string }).sql;
        assert.doesNotMatch(sql, /CHECK/i, `${t}: ${sql}`);
      }
      assert.equal((db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'flows'").get() as { seq: number }).seq, 11, 'AUTOINCREMENT carried over');
      assert.equal((db.prepare("SELECT count(*) AS n FROM sqlite_sequence WHERE name LIKE 'flows_%'").get() as { n: number }).n, 0, 'no sequence left for the rebuilt table');

      const store = new FlowStore(db);
      assert.deepEqual(store.all().map((f) => [f.flow.id, f.slot, f.flow.revision]), [[2, 7, 9], [5, 0, 5], [6, 3, 6]]);
      const fresh = validateFlowSpec({ key: { src_ip: '198.18.0.3', dst_ip: '198.18.1.1', src_port: 1, dst_port: 2, proto: 17 }, action: { type: 'PASS' } }, { rxQueues: null });
      const [r] = db.transaction(() => store.upsertMany([fresh], 't2'))();
      assert.equal(r.created, true);
      assert.equal(r.flow.id, 12, 'the next id after the highest ever given out');

      // NOT NULL and UNIQUE stay.
      const raw = db.prepare(`INSERT INTO flows (match_key, action_type, mirror, stats_slot, revision, created_revision, created_at, updated_at)
        VALUES (?, ?, 0, 1, 1, 1, 't', 't')`);
      assert.throws(() => raw.run((flowsBefore[0] as { match_key: string }).match_key, 'PASS'), /UNIQUE/);
      assert.throws(() => raw.run('4|x', null), /NOT NULL/);
      assert.throws(() => db.prepare(`INSERT INTO pcc_rules (id, precedence, action_json, flow_infos_json, revision, created_at, updated_at) VALUES ('video-1', 1, '{}', '[]', 1, 't', 't')`).run(), /UNIQUE|PRIMARY KEY/);
    } finally {
      db.close();
    }
  });
});
