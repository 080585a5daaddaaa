// commit.test.ts - a write whose SQLite COMMIT fails after the map write (disk full, an I/O
// error, a constraint checked at commit) is refused, and neither SQLite nor the maps keep any
// of it: single upserts, a group of concurrent ones, a batch, a rule with a precedence, a
// delete. The failure is real: a deferred foreign key, violated by a trigger on the service's
// own connection, that SQLite checks only at COMMIT.
import type Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as native from '../native/index.js';
import { startLabNode, type LabNode } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`commit tests need the datapath under CI=true: ${why}`);

const exact = (p: number, type = 'PASS') => ({ key: { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: p, dst_port: 7000, proto: 'udp' }, action: { type } });

describe('a failed COMMIT leaves SQLite and the maps as they were', { skip: why ?? false }, () => {
  let node: LabNode;
  let db: Database.Database;
  before(async () => {
    node = await startLabNode(['--max-rules', '64']);
    db = (node.cp.service as unknown as { db: Database.Database }).db;
    db.exec(`CREATE TEMP TABLE commit_parent (id INTEGER PRIMARY KEY);
      CREATE TEMP TABLE commit_child (p INTEGER REFERENCES commit_parent(id) DEFERRABLE INITIALLY DEFERRED)`);
  });
  after(async () => {
    await node?.close();
  });

  /** From now until off(): every change to flows fails at COMMIT. */
  const failCommits = () => {
    for (const op of ['INSERT', 'UPDATE', 'DELETE'])
      db.exec(`CREATE TEMP TRIGGER commit_fail_${op} AFTER ${op} ON main.flows BEGIN INSERT INTO commit_child VALUES (1); END`);
    return () => {
      for (const op of ['INSERT', 'UPDATE', 'DELETE']) db.exec(`DROP TRIGGER temp.commit_fail_${op}`);
    };
  };

  /** The exact map's entries and the classifier's live bodies, as rule ids. */
  const maps = () => {
    const m = native.FlowMap.open(path.join(node.lab.pinDir, 'pcf_flow_map'));
    const rs = new native.RuleSet(node.lab.pinDir);
    try {
      return {
        exact: m.listFlows().map((e) => `${e.key.srcPort}:${e.action.ruleId}:${e.action.type}`).sort(),
        classifier: rs.liveSlots().map((s) => `${rs.readRule(s)!.body.ruleId}:${rs.readRule(s)!.body.action?.type}`).sort(),
      };
    } finally {
      m.close();
      rs.close();
    }
  };
  const state = async () => ({ flows: (await node.http.get('/flows?limit=1000').expect(200)).body.flows, maps: maps() });

  it('a new rule, an update, a group of concurrent upserts, a batch, a prefix rule and a delete: each refused, nothing of it in SQLite or the maps', async () => {
    const a = (await node.http.post('/flows').send(exact(1)).expect(201)).body.id;
    const p = (await node.http.post('/flows').send({ match: { src: '198.18.4.0/24', proto: 'udp' }, precedence: 3, action: { type: 'DROP' } }).expect(201)).body.id;
    const was = await state();
    assert.deepEqual(was.maps, { exact: [`1:${a}:PASS`], classifier: [`${p}:DROP`] });
    const off = failCommits();
    try {
      const refused = async (what: string, r: Promise<{ status: number }>) => {
        assert.equal((await r).status, 500, `${what}: refused`);
        assert.deepEqual(await state(), was, `${what}: SQLite and the maps as before`);
      };
      await refused('a new exact rule', node.http.post('/flows').send(exact(2)).then((r) => r));
      await refused('an update', node.http.post('/flows').send(exact(1, 'DROP')).then((r) => r));
      await refused('a new prefix rule', node.http.post('/flows').send({ match: { src: '198.18.5.0/24' }, precedence: 1, action: { type: 'DROP' } }).then((r) => r));
      await refused('an updated prefix rule', node.http.post('/flows').send({ match: { src: '198.18.4.0/24', proto: 'udp' }, precedence: 3, action: { type: 'PASS' } }).then((r) => r));
      const group = await Promise.all([3, 4, 5, 6].map((n) => node.http.post('/flows').send(exact(n))));
      assert.deepEqual(group.map((r) => r.status), [500, 500, 500, 500]);
      assert.deepEqual(await state(), was, 'a group commit: SQLite and the maps as before');
      await refused('a batch delete', node.http.post('/flows/batch-delete').send({ ids: [a, p] }).then((r) => r));
      await refused('a delete', node.http.delete(`/flows/${a}`).then((r) => r));
    } finally {
      off();
    }
    // Commits work again: the same changes go through.
    const b = (await node.http.post('/flows').send(exact(2)).expect(201)).body.id;
    assert.deepEqual(maps().exact, [`1:${a}:PASS`, `2:${b}:PASS`]);
    await node.http.post('/flows/batch-delete').send({ ids: [a, b, p] }).expect(200);
    assert.deepEqual(maps(), { exact: [], classifier: [] });
  });
});
