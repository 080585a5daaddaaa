// batch.test.ts - a large BatchUpsertFlows runs in steps (service.ts batchInSteps): its SQLite
// transaction on the SQLite thread, the event loop serving in between. What a user checks:
// the rules are all there after the answer and none of them before it; a write sent meanwhile
// waits and comes after; a batch refused late (a duplicate, another owner's rule, a full map,
// a failed COMMIT) leaves SQLite and pcf_flow_map exactly as they were.
import * as grpc from '@grpc/grpc-js';
import type Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as native from '../native/index.js';
import { loadPcfPackage } from '../api/proto.js';
import { encodeBatchAnswer, flowsOf } from '../server/grpc_batch.js';
import { BATCH_STEP } from '../server/service.js';
import { call, startLabNode, type LabNode } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { udp4 } from './lib/packets.js';
import { testRun, XDP_DROP } from './lib/testrun.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`batch tests need the datapath under CI=true: ${why}`);

/** Rule n of a batch family `f`: a distinct exact 5-tuple. */
const rule = (f: number, n: number, type = 'DROP') => ({
  key: { src_ip: `198.19.${f}.${(n >> 8) & 255}`, dst_ip: `198.18.${(n >> 16) & 255}.${n & 255}`, src_port: 1000, dst_port: 9000, proto: 17 },
  action: { type },
});
const batch = (f: number, n: number, type = 'DROP') => Array.from({ length: n }, (_, i) => rule(f, i, type));

describe('BatchUpsertFlows on the wire', () => {
  const method = loadPcfPackage().pcf.v1.PcfControl.service.BatchUpsertFlows;

  it('the request decoded a step at a time is what proto-loader decodes at once, in the same order', () => {
    const flows = [
      ...batch(1, 2500),
      { match: { src: '2001:2::/64', dst_ports: { first: 2000, last: 2999 }, proto: 17 }, precedence: 7, action: { type: 'REDIRECT', ttl_delta: -3, nat: { dnat_port: 7001 }, mirror: true } },
      { flow_description: 'permit out 17 from 198.18.1.0/24 to 198.18.0.1 5000', flow_direction: 'DOWNLINK', precedence: 4294967295, action: { type: 'PASS', mark: 7 } },
    ];
    const encoded = method.requestSerialize({ flows } as never);
    const whole = method.requestDeserialize(encoded).flows;
    const steps = [...flowsOf(encoded, 1000)];
    assert.deepEqual(steps.map((s) => s.length), [1000, 1000, 502]);
    assert.deepEqual(steps.flat(), whole);
    assert.throws(() => [...flowsOf(Buffer.from([0x0a, 0x05, 0x0a]), 1000)], /^ValidationError|request: does not decode/);
  });

  it("the answer is encoded byte for byte as protobufjs encodes it (zeros, 2^53 - 1, no ids, 200,000 ids)", () => {
    for (const a of [
      { created: 200_000, updated: 0, ids: Array.from({ length: 200_000 }, (_, i) => i * 7919 + 1), revision: 2 ** 40 + 5 },
      { created: 0, updated: 5, ids: [1, 127, 128, 2 ** 32, 2 ** 53 - 1], revision: 0 },
      { created: 0, updated: 0, ids: [], revision: 0 },
    ]) assert.ok(encodeBatchAnswer(a).equals(method.responseSerialize(a)), `${a.ids.length} ids`);
  });
});

describe('a batch in steps', { skip: why ?? false }, () => {
  let node: LabNode;
  let db: Database.Database;
  const mapCount = () => {
    const m = native.FlowMap.open(path.join(node.lab.pinDir, 'pcf_flow_map'));
    try {
      return m.countFlows();
    } finally {
      m.close();
    }
  };
  const state = () => ({ rules: node.cp.service.store.count(), revision: node.cp.service.store.currentRevision, map: mapCount() });
  const refused = async (req: unknown, code: string, field: RegExp) => {
    const was = state();
    const err = await call(node.rpc, 'BatchUpsertFlows', req).then(() => null, (e: { code: number; details: string }) => e);
    assert.ok(err, 'the batch is refused');
    assert.equal(err.code, grpc.status[code as keyof typeof grpc.status], `${code}: ${err.details}`);
    assert.match(err.details, field);
    assert.deepEqual(state(), was, 'SQLite and pcf_flow_map as before');
  };

  before(async () => {
    node = await startLabNode(['--max-rules', '131072']);
    db = (node.cp.service as unknown as { db: Database.Database }).db;
  });
  after(async () => {
    await node?.close();
  });

  it(`${(10 * BATCH_STEP).toLocaleString('en')} rules: answered with every id in order, all in SQLite and pcf_flow_map, one revision each`, async () => {
    const was = state();
    const n = 10 * BATCH_STEP;
    const res = await call(node.rpc, 'BatchUpsertFlows', { flows: batch(1, n) });
    assert.equal(res.created, n);
    assert.equal(res.ids.length, n);
    assert.ok(res.ids.every((id: number, i: number) => i === 0 || id > res.ids[i - 1]), 'ids in request order');
    assert.equal(res.revision, was.revision + n);
    assert.deepEqual(state(), { rules: was.rules + n, revision: was.revision + n, map: was.map + n });
    const last = (await node.http.get(`/flows/${res.ids[n - 1]}`).expect(200)).body;
    assert.deepEqual(last.key, rule(1, n - 1).key);
    assert.equal(last.action.type, 'DROP');
    // The same batch again: every rule updated, none created.
    const again = await call(node.rpc, 'BatchUpsertFlows', { flows: batch(1, n, 'PASS') });
    assert.deepEqual([again.created, again.updated], [0, n]);
    assert.deepEqual(again.ids, res.ids);
    assert.equal((await node.http.get(`/flows/${res.ids[0]}`).expect(200)).body.action.type, 'PASS');
  });

  it('meanwhile: reads are served and see none of the batch, a write waits and comes after it', async () => {
    const n = 20 * BATCH_STEP;
    const before = state();
    let answered = false;
    const running = call(node.rpc, 'BatchUpsertFlows', { flows: batch(2, n) }).finally(() => (answered = true));
    // Reads while the batch runs: each is answered, and each sees all of the batch's 256
    // rules from 198.19.2.0 or none of them (the COMMIT makes them visible at once).
    const seen: number[] = [];
    let write: Promise<{ body: { id: number; revision: number } }> | null = null;
    while (!answered) {
      seen.push((await node.http.get('/flows?src_ip=198.19.2.0&limit=1000').expect(200)).body.flows.length);
      write ??= node.http.post('/flows').send(rule(3, 1)).expect(201);
    }
    const res = await running;
    const w = (await write!).body;
    assert.deepEqual(seen.filter((x) => x !== 0 && x !== 256), [], 'every read saw all of the batch or none of it');
    assert.ok(seen.filter((x) => x === 0).length >= 2, `reads answered during the batch: ${seen.length}`);
    assert.ok(w.id > res.ids[n - 1] && w.revision === res.revision + 1, `the write sent meanwhile comes after the batch (id ${w.id}, revision ${w.revision}; the batch ${res.revision})`);
    assert.equal((await node.http.get('/flows?src_ip=198.19.2.0&limit=1000').expect(200)).body.flows.length, 256);
  });

  it('a watcher streaming live gets every rule of the batch after its COMMIT, in revision order, and nothing of a refused one', async () => {
    const from = state().revision;
    const events: { revision: number; kind: string; id: number }[] = [];
    const stream = node.rpc.WatchFlows({ from_revision: from });
    stream.on('data', (e: { revision: number; kind: string; id: number }) => events.push(e));
    stream.on('error', () => {});
    try {
      const n = 5 * BATCH_STEP;
      const bad = batch(30, n);
      bad[n - 1] = rule(30, 3);
      await refused({ flows: bad }, 'INVALID_ARGUMENT', /duplicate/);
      const res = await call(node.rpc, 'BatchUpsertFlows', { flows: batch(31, n) });
      for (const end = Date.now() + 10_000; events.length < n && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      assert.equal(events.length, n, 'one event per rule of the batch that was answered');
      assert.deepEqual(events.map((e) => e.revision), Array.from({ length: n }, (_, i) => from + 1 + i));
      assert.deepEqual(events.map((e) => e.id), res.ids);
      assert.ok(events.every((e) => e.kind === 'UPSERT'));
    } finally {
      stream.cancel();
    }
  });

  it('refused late, nothing kept: a duplicate at the last index, a rule a PCC rule owns, more than the map holds', async () => {
    const n = 6 * BATCH_STEP;
    const dup = batch(4, n);
    dup[n - 1] = rule(4, 7);
    await refused({ flows: dup }, 'INVALID_ARGUMENT', new RegExp(`flows\\[${n - 1}\\]\\.key.*duplicate of flows\\[7\\]`));

    // A PCC rule's filter, one exact 5-tuple: the same match in a late step of the batch is
    // found by SQLite after earlier steps' entries went into pcf_flow_map (they come out again).
    await node.http.put('/pcc-rules/owner-1').send({
      precedence: 5, action: { type: 'DROP' },
      flow_infos: [{ flow_description: 'permit out 17 from 198.18.200.1 9000 to 198.19.200.1 1000', flow_direction: 'DOWNLINK' }],
    }).expect(201);
    const ownedFlow = (await node.http.get('/pcc-rules/owner-1').expect(200)).body.flow_infos[0].flows[0];
    assert.ok(ownedFlow.key, `the filter is one exact 5-tuple: ${JSON.stringify(ownedFlow)}`);
    const at = 4 * BATCH_STEP + 3;
    const clash = batch(5, n);
    clash[at] = { key: ownedFlow.key, action: { type: 'DROP' } };
    await refused({ flows: clash }, 'FAILED_PRECONDITION', new RegExp(`flows\\[${at}\\]\\.match.*PCC rule "owner-1"`));
    await node.http.delete('/pcc-rules/owner-1').expect(204);

    // 131,072 entries: what is there plus this batch would not fit.
    const room = 131072 - state().rules;
    const big = Array.from({ length: room + BATCH_STEP }, (_, i) => rule(6 + (i >> 16), i & 0xffff));
    await refused({ flows: big }, 'RESOURCE_EXHAUSTED', /flows: pcf_flow_map is full/);
  });

  it('three batches and single writes at once: one at a time, in order, every slot and revision distinct', async () => {
    const was = state();
    const n = 3 * BATCH_STEP;
    const batches = [10, 11, 12].map((f) => call(node.rpc, 'BatchUpsertFlows', { flows: batch(f, n) }));
    const singles = [13, 14].map((f) => node.http.post('/flows').send(rule(f, 1)).expect(201));
    const answers = await Promise.all(batches);
    await Promise.all(singles);
    assert.deepEqual(answers.map((a) => a.created), [n, n, n]);
    const revisions = answers.map((a) => a.revision).sort((x, y) => x - y);
    assert.ok(revisions[1] - revisions[0] >= n && revisions[2] - revisions[1] >= n, `batches did not interleave: ${revisions}`);
    assert.deepEqual(state(), { rules: was.rules + 3 * n + 2, revision: was.revision + 3 * n + 2, map: was.map + 3 * n + 2 });
    const slots = db.prepare('SELECT count(*) AS n, count(DISTINCT stats_slot) AS d FROM flows').get() as { n: number; d: number };
    assert.equal(slots.d, slots.n, 'every rule has a counter slot of its own');
  });

  it('a statement SQLite answers by rolling the whole transaction back (as on a full disk): nothing of the batch is kept', async () => {
    const n = 5 * BATCH_STEP;
    const doomed = batch(20, n)[Math.floor(1.5 * BATCH_STEP)].key;
    db.exec(`CREATE TRIGGER batch_abort BEFORE INSERT ON flows WHEN NEW.match_key LIKE '%|${doomed.src_ip}/32|${doomed.dst_ip}/32|%'
      BEGIN SELECT RAISE(ROLLBACK, 'disk full (a test)'); END`);
    try {
      await refused({ flows: batch(20, n) }, 'INTERNAL', /disk full \(a test\)|SQLite ended it|transaction/);
    } finally {
      db.exec('DROP TRIGGER batch_abort');
    }
  });

  it('a failed COMMIT (checked by SQLite only then) is refused and leaves nothing', async () => {
    // A deferred foreign key that every insert into flows violates: SQLite checks it at COMMIT.
    // Not TEMP: the batch runs on the SQLite thread's own connection.
    db.exec(`CREATE TABLE batch_parent (id INTEGER PRIMARY KEY);
      CREATE TABLE batch_child (p INTEGER REFERENCES batch_parent(id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER batch_fail AFTER INSERT ON flows BEGIN INSERT INTO batch_child VALUES (1); END`);
    try {
      await refused({ flows: batch(9, 3 * BATCH_STEP) }, 'INTERNAL', /./);
    } finally {
      db.exec('DROP TRIGGER batch_fail; DROP TABLE batch_child; DROP TABLE batch_parent');
    }
    const res = await call(node.rpc, 'BatchUpsertFlows', { flows: batch(9, 3 * BATCH_STEP) });
    assert.equal(res.created, 3 * BATCH_STEP, 'the same batch goes through once COMMITs work again');
  });
});

describe('a batch on a node of its own', { skip: why ?? false }, () => {
  let node: LabNode;
  before(async () => {
    node = await startLabNode(['--max-rules', '65536']);
  });
  after(async () => {
    await node?.close();
  });
  const E = { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: 5000, dst_port: 7000, proto: 17 };
  const drop = (i: number) => udp4({ src: rule(7, i).key.src_ip, dst: rule(7, i).key.dst_ip, sport: 1000, dport: 9000, payload: 'x' });

  it("the only exact rule takes a precedence in a batch that adds exact rules: XDP still looks them up", async () => {
    await node.http.post('/flows').send({ key: E, action: { type: 'PASS' } }).expect(201);
    const res = await call(node.rpc, 'BatchUpsertFlows', { flows: [{ key: E, precedence: 5, action: { type: 'PASS' } }, ...batch(7, 3 * BATCH_STEP)] });
    assert.deepEqual([res.created, res.updated], [3 * BATCH_STEP, 1]);
    const got = await testRun(node.lab.pinDir, [10, 2999].map((i) => ({ frame: drop(i) })));
    assert.deepEqual(got.map((g) => g.ret), [XDP_DROP, XDP_DROP], 'the new exact DROP rules drop');
  });

  it('a rule that loses its precedence in a batch leaves the classifier', async () => {
    const res = await call(node.rpc, 'BatchUpsertFlows', { flows: [{ key: E, action: { type: 'PASS' } }, ...batch(7, 3 * BATCH_STEP, 'PASS')] });
    assert.deepEqual([res.created, res.updated], [0, 3 * BATCH_STEP + 1]);
    assert.equal(node.cp.service.stats().classifier.rules, 0);
    const rs = new native.RuleSet(node.lab.pinDir);
    try {
      assert.deepEqual(rs.liveSlots(), [], 'no body left live in pcf_rules');
    } finally {
      rs.close();
    }
  });

  it('the control plane stopped while a batch runs: the batch ends first, the maps hold what SQLite holds', async () => {
    const file = (node.cp.service as unknown as { db: Database.Database }).db.name;
    const running = node.cp.service.batchUpsert(batch(8, 5 * BATCH_STEP));
    await node.cp.close();
    const res = await running;
    assert.equal(res.created, 5 * BATCH_STEP);
    const check = new (await import('better-sqlite3')).default(file, { readonly: true });
    try {
      const exact = (check.prepare('SELECT count(*) AS n FROM flows WHERE precedence IS NULL').get() as { n: number }).n;
      const m = native.FlowMap.open(path.join(node.lab.pinDir, 'pcf_flow_map'));
      try {
        assert.equal(m.countFlows(), exact);
      } finally {
        m.close();
      }
    } finally {
      check.close();
    }
  });
});
