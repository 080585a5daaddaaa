// drift.test.ts - the maps heal themselves: entries changed behind the control plane's back
// (as bpftool or another writer would) are found by the periodic drift check and rewritten,
// and a reconcile that cannot finish keeps writes out until it can.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import * as native from '../native/index.js';
import type { Running } from '../server/app.js';
import { call, grpcClient, startInProcess, tempDb, type PcfClient } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { Lab } from './lib/lab.js';
import { until } from './lib/until.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`drift tests need the datapath under CI=true: ${why}`);

const exact = (p: number) => ({ key: { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: p, dst_port: 7000, proto: 'udp' }, action: { type: 'PASS' } });

describe('drift: the maps are repaired to match SQLite', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: ReturnType<typeof tempDb>;
  let cp: Running;
  let http: ReturnType<typeof request>;
  let rpc: PcfClient;
  before(async () => {
    lab = await Lab.create({ loaderArgs: ['--max-rules', '64'] });
    db = tempDb();
    cp = await startInProcess(lab.pinDir, db.file, undefined, { driftCheckMs: 300 });
    http = request(`http://127.0.0.1:${cp.httpPort}`);
    rpc = grpcClient(cp.grpcPort);
  });
  after(async () => {
    rpc?.close();
    await cp?.close();
    await lab?.destroy();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });

  /** Resolves right after a drift check ended: the next starts PCF_DRIFT_CHECK_MS (300 ms)
   * after it, so edits made now are all seen by one check (a check works in steps). */
  const betweenChecks = async () => {
    const n = (await http.get('/stats').expect(200)).body.datapath.drift.checks;
    await until(async () => (await http.get('/stats').expect(200)).body.datapath.drift.checks > n, 5000, 'a drift check ended', { everyMs: 5 });
  };

  const mapEntries = () => {
    const m = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
    try {
      return m.listFlows().map((e) => `${e.key.srcPort}:${e.action.ruleId}:${e.action.type}`).sort();
    } finally {
      m.close();
    }
  };

  it('an exact entry deleted, one changed and one added by another writer are back as SQLite has them within the period', async () => {
    const ids: number[] = [];
    for (const p of [1, 2, 3]) ids.push((await http.post('/flows').send(exact(p)).expect(201)).body.id);
    const want = mapEntries();
    assert.equal(want.length, 3);
    await betweenChecks();
    const before = (await http.get('/stats').expect(200)).body.datapath.drift;
    const m = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
    try {
      const [e1, e2] = m.listFlows().sort((a, b) => a.key.srcPort - b.key.srcPort);
      m.deleteFlows(e1.key);
      m.upsertFlows({ key: e2.key, action: { ...e2.action, type: 'DROP' } });
      m.upsertFlows({ key: { ...e2.key, srcPort: 999 }, action: { ...e2.action, ruleId: 4242 } });
    } finally {
      m.close();
    }
    assert.notDeepEqual(mapEntries(), want);
    const after = await until(async () => {
      const d = (await http.get('/stats').expect(200)).body.datapath.drift;
      return d.repaired > before.repaired && d;
    }, 5000, 'the drift check repaired the map');
    assert.deepEqual(mapEntries(), want);
    assert.deepEqual({ ...after.last_repair, at: undefined }, { at: undefined, exact_missing: 1, exact_stale: 1, exact_changed: 1, classifier_missing: 0, classifier_extra: 0, classifier_changed: 0, buckets_changed: 0 });
    assert.equal(after.repaired - before.repaired, 3);
    assert.ok(Number.isInteger(after.duration_ms) && after.duration_ms >= 0, 'how long the check took');
    const counts = (await http.get('/stats').expect(200)).body.datapath;
    assert.deepEqual([counts.rules_in_db, counts.rules_in_map], [3, 3], 'the count after the repair is the map\'s');
    const metrics = (await http.get('/metrics').expect(200)).text;
    assert.match(metrics, new RegExp(`^pcf_drift_repaired_total ${after.repaired}$`, 'm'));
    const g = await call(rpc, 'GetStats', {});
    assert.equal(Number(g.datapath.drift.repaired), after.repaired);
    for (const id of ids) await http.delete(`/flows/${id}`).expect(204);
  });

  it('the walk in steps (scanFlows) sees every entry of pcf_flow_map once, whatever the step', async () => {
    const ids = (await call(rpc, 'BatchUpsertFlows', { flows: Array.from({ length: 40 }, (_, i) => ({ ...exact(5000 + i), key: { ...exact(5000 + i).key, proto: 17 } })) })).ids.map(Number);
    const m = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
    try {
      const all = m.listFlows().map((e) => e.action.ruleId).sort((a, b) => a - b);
      for (const step of [1, 7, 64]) {
        const seen: number[] = [];
        let cursor: Buffer | null = null;
        let steps = 0;
        do {
          const r = m.scanFlows(cursor, step);
          seen.push(...r.entries.map((e) => e.action.ruleId));
          cursor = r.cursor;
          steps++;
        } while (cursor && steps < 1000);
        assert.deepEqual(seen.sort((a, b) => a - b), all, `step ${step}`);
        if (step === 1) assert.ok(steps >= 10, `resumed in ${steps} steps`); // a step returns whole hash buckets
      }
      assert.throws(() => m.scanFlows('x' as never, 1), /cursor must be a Buffer/);
    } finally {
      m.close();
    }
    await http.post('/flows/batch-delete').send({ ids }).expect(200);
  });

  it('a rule with a precedence whose body another writer killed is live again within the period', async () => {
    const id = (await http.post('/flows').send({ match: { src: '198.18.0.0/24', proto: 'udp', dst_ports: '7100-7199' }, precedence: 5, action: { type: 'DROP' } }).expect(201)).body.id;
    const slot = cp.service.store.slotOf(id)!;
    const rs = new native.RuleSet(lab.pinDir);
    try {
      assert.ok(rs.liveSlots().includes(slot));
      rs.commit({ rules: [{ slot, next: null }], buckets: [], shapes: rs.readShapes() } as never);
      assert.ok(!rs.liveSlots().includes(slot));
      await until(async () => rs.liveSlots().includes(slot), 5000, 'the body is live again');
    } finally {
      rs.close();
    }
    const d = (await http.get('/stats').expect(200)).body.datapath.drift;
    assert.equal(d.last_repair.classifier_missing, 1);
    await http.delete(`/flows/${id}`).expect(204);
  });

  it('a body changed (action, ports) and a bucket emptied by another writer are as SQLite has them again within the period', async () => {
    const id = (await http.post('/flows').send({ match: { src: '198.18.2.0/24', proto: 'udp', dst_ports: '7200-7299' }, precedence: 6, action: { type: 'DROP' } }).expect(201)).body.id;
    const other = (await http.post('/flows').send({ match: { src: '198.18.3.0/24', proto: 'tcp' }, precedence: 7, action: { type: 'PASS' } }).expect(201)).body.id;
    const [slot, otherSlot] = [cp.service.store.slotOf(id)!, cp.service.store.slotOf(other)!];
    const rs = new native.RuleSet(lab.pinDir);
    try {
      const good = rs.readRule(slot)!.body;
      assert.equal(good.action?.type, 'DROP');
      const held = rs.listBuckets();
      const otherBucket = held.find((b) => b.slots.includes(otherSlot))!;
      // As another writer would: a commit that gives the rule PASS and other ports, then its
      // neighbour's bucket removed (the rule is then unreachable by any packet).
      await betweenChecks();
      const before = (await http.get('/stats').expect(200)).body.datapath.drift.repaired;
      rs.commit({ rules: [{ slot, next: { precedence: 6, srcPorts: [0, 65535], dstPorts: [1, 2], action: { ...good.action!, type: 'PASS' } } }], buckets: [], shapes: rs.readShapes() });
      rs.cleanup([{ key: otherBucket.key, slots: [] }]);
      assert.equal(rs.readRule(slot)!.body.action?.type, 'PASS');
      const after = await until(async () => {
        const x = (await http.get('/stats').expect(200)).body.datapath.drift;
        return x.repaired > before && x;
      }, 5000, 'the drift check repaired the classifier');
      assert.equal(after.last_repair.classifier_changed, 1);
      assert.equal(after.last_repair.buckets_changed, 1);
      const back = rs.readRule(slot)!.body;
      assert.deepEqual([back.action?.type, back.dstPorts], ['DROP', [7200, 7299]]);
      assert.ok(rs.listBuckets().some((b) => b.slots.includes(otherSlot)), 'the emptied bucket is back');
    } finally {
      rs.close();
    }
    await http.post('/flows/batch-delete').send({ ids: [id, other] }).expect(200);
  });

  it('a reconcile that cannot finish (a map re-created too small) is retried, named in /readyz, and keeps writes out (503 / UNAVAILABLE) until it can', async () => {
    const ids: number[] = [];
    for (let p = 10; p < 20; p++) ids.push((await http.post('/flows').send(exact(p)).expect(201)).body.id);
    await lab.loader('detach', '--purge');
    await lab.loader('attach', '--max-rules', '4');
    const ready = await until(async () => {
      const r = await http.get('/readyz');
      return r.status === 503 && /not reconciled/.test(r.body.reason) && r.body;
    }, 5000, 'readiness says the maps are not reconciled');
    assert.match(ready.reason, /^maps not reconciled with SQLite: /);
    const refused = await http.post('/flows').send(exact(30)).expect(503);
    assert.match(refused.body.detail, /not reconciled with SQLite .* retrying/);
    assert.equal(refused.headers['retry-after'], '1');
    await assert.rejects(call(rpc, 'UpsertFlow', { ...exact(31), key: { ...exact(31).key, proto: 17 } }), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    assert.equal((await http.get('/flows?limit=1000').expect(200)).body.flows.length, 10, 'nothing was written');
    // Room again: the next try succeeds and writes flow.
    await lab.loader('detach', '--purge');
    await lab.loader('attach', '--max-rules', '64');
    await until(async () => (await http.get('/readyz')).status === 200, 10_000, 'ready again');
    assert.equal(mapEntries().length, 10);
    await http.post('/flows').send(exact(30)).expect(201);
  });
});

describe('a map write that fails is refused and repaired at once, not at the next drift check', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: ReturnType<typeof tempDb>;
  let cp: Running;
  let http: ReturnType<typeof request>;
  before(async () => {
    lab = await Lab.create({ loaderArgs: ['--max-rules', '8'] });
    db = tempDb();
    cp = await startInProcess(lab.pinDir, db.file, undefined, { driftCheckMs: 600_000 });
    http = request(`http://127.0.0.1:${cp.httpPort}`);
  });
  after(async () => {
    await cp?.close();
    await lab?.destroy();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });

  it('pcf_flow_map filled by another writer: the kernel\'s E2BIG is 503 naming it, nothing is written, and the map is reconciled so that a retry succeeds', async () => {
    const kept = [(await http.post('/flows').send(exact(1)).expect(201)).body.id, (await http.post('/flows').send(exact(2)).expect(201)).body.id];
    const m = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
    try {
      const [e] = m.listFlows();
      m.upsertFlows(Array.from({ length: 6 }, (_, i) => ({ key: { ...e.key, srcPort: 900 + i }, action: { ...e.action, ruleId: 9000 + i } })));
      assert.equal(m.listFlows().length, 8, 'full, behind the control plane\'s back');
      const refused = await http.post('/flows').send(exact(3)).expect(503);
      assert.match(refused.body.detail, /E2BIG/);
      assert.equal((await http.get('/flows?limit=100').expect(200)).body.flows.length, 2, 'the refused rule is not stored');
      await until(async () => m.listFlows().length === 2, 5000, 'the entries of no rule are gone without waiting for the drift period');
      const id = (await http.post('/flows').send(exact(3)).expect(201)).body.id;
      const ids = m.listFlows().map((x) => x.action.ruleId).sort((a, b) => a - b);
      assert.deepEqual(ids, [...kept, id].sort((a, b) => a - b));
    } finally {
      m.close();
    }
  });
});
