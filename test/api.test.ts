// api.test.ts - REST and gRPC against a real datapath (a lab's pinned maps): the happy paths,
// and every bad input of the issue, each asserting the status, the field named, and that
// neither SQLite nor the map changed.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import * as native from '../native/index.js';
import fs from 'node:fs';
import type { Running } from '../server/app.js';
import { call, grpcClient, startInProcess, startLabNode, tempDb, type LabNode, type PcfClient } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { Lab } from './lib/lab.js';
import { udp4 } from './lib/packets.js';
import { testRun, XDP_DROP } from './lib/testrun.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`api tests need the datapath under CI=true: ${why}`);

const MAX_RULES = 16;
const rule = (n: number, type = 'PASS', extra: Record<string, unknown> = {}) => ({
  key: { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: 10000 + n, dst_port: 7000, proto: 17 },
  action: { type, ...extra },
});

// Each bad input: status, the field named, and nothing written anywhere.
const REST_CASES: [string, unknown, string, number?][] = [
  ['malformed IP', { ...rule(1), key: { ...rule(1).key, src_ip: '198.18.0.300' } }, 'key.src_ip'],
  ['port above 65535', { ...rule(1), key: { ...rule(1).key, dst_port: 70000 } }, 'key.dst_port'],
  ['negative port', { ...rule(1), key: { ...rule(1).key, src_port: -1 } }, 'key.src_port'],
  ['unknown proto name', { ...rule(1), key: { ...rule(1).key, proto: 'sctp' } }, 'key.proto'],
  ['unknown proto number', { ...rule(1), key: { ...rule(1).key, proto: 132 } }, 'key.proto'],
  ['ports with ICMP', { ...rule(1), key: { ...rule(1).key, proto: 'icmp' } }, 'key.src_port'],
  ['unknown action type', rule(1, 'FORWARD'), 'action.type'],
  ['ttl_delta out of range', rule(1, 'REDIRECT', { ttl_delta: -300 }), 'action.ttl_delta'],
  ['ttl_delta on PASS', rule(1, 'PASS', { ttl_delta: -1 }), 'action.ttl_delta'],
  ['NAT on DROP', rule(1, 'DROP', { nat: { dnat_ip: '198.18.1.2' } }), 'action.nat'],
  ['NAT port with ICMP', { key: { ...rule(1).key, proto: 1, src_port: 0, dst_port: 0 }, action: { type: 'REDIRECT', nat: { dnat_port: 80 } } }, 'action.nat.dnat_port'],
  ['mark on DROP', rule(1, 'DROP', { mark: 5 }), 'action.mark'],
  ['queue_id beyond the interface queues', rule(1, 'REDIRECT', { queue_id: 9 }), 'action.queue_id'],
  ['queue_id on PASS', rule(1, 'PASS', { queue_id: 0 }), 'action.queue_id'],
  ['mirror on PASS', rule(1, 'PASS', { mirror: true }), 'action.mirror'],
  ['unknown field in key', { ...rule(1), key: { ...rule(1).key, vlan: 5 } }, 'key.vlan'],
  ['unknown top-level field', { ...rule(1), priority: 1 }, 'priority'],
  ['missing key', { action: { type: 'PASS' } }, 'key'],
];

interface Ctx { http: ReturnType<typeof request>; rpc: PcfClient; snapshot: () => Promise<unknown> }

/** The bad-input suites, against a control plane with a datapath (SQLite and the map must not
 * change) or without one (no root needed: SQLite must not change). */
function badInput(mode: string, ctx: () => Ctx, withDatapath: boolean): void {
  // queue_id is checked against the interface's RX queues, which only a datapath gives.
  const rest = REST_CASES.filter(([name]) => withDatapath || !/queue_id beyond/.test(name));
  describe(`bad input over REST (${mode}): 4xx problem+json naming the field, nothing written`, () => {
    for (const [name, body, field, status = 400] of rest) {
      it(name, async () => {
        const before = await ctx().snapshot();
        const r = await ctx().http.post('/flows').send(body as object).expect(status);
        assert.match(r.headers['content-type'], /application\/problem\+json/);
        assert.ok(r.body.errors.some((e: { field: string }) => e.field === field), `field ${field} in ${JSON.stringify(r.body)}`);
        assert.deepEqual(await ctx().snapshot(), before);
      });
    }
    it('bad JSON', async () => {
      const before = await ctx().snapshot();
      const r = await ctx().http.post('/flows').set('content-type', 'application/json').send('{"key": {').expect(400);
      assert.equal(r.body.errors[0].field, 'body');
      assert.match(r.body.detail, /JSON/);
      assert.deepEqual(await ctx().snapshot(), before);
    });
    it('body over the size limit', async () => {
      const before = await ctx().snapshot();
      const r = await ctx().http.post('/flows').send({ ...rule(1), pad: 'x'.repeat(100_000) }).expect(413);
      assert.equal(r.body.errors[0].field, 'body');
      assert.deepEqual(await ctx().snapshot(), before);
    });
    it('unknown id: 404; malformed id: 400', async () => {
      const r = await ctx().http.get('/flows/999999').expect(404);
      assert.equal(r.body.errors[0].field, 'id');
      const b = await ctx().http.delete('/flows/abc').expect(400);
      assert.equal(b.body.errors[0].field, 'id');
    });
  });

  describe(`bad input over gRPC (${mode}): INVALID_ARGUMENT naming the field, nothing written`, () => {
    const grpcCases = rest.filter(([name]) => !/unknown field|top-level|proto name/.test(name));
    for (const [name, body, field] of grpcCases) {
      it(name, async () => {
        const before = await ctx().snapshot();
        const b = body as { key?: { proto?: unknown }; action: { type: string } };
        // gRPC carries proto as its number and the action type as an enum (99: not defined).
        const protoNumber = ({ icmp: 1, tcp: 6, udp: 17 } as Record<string, number>)[String(b.key?.proto)] ?? b.key?.proto;
        const req = { ...b, ...(b.key ? { key: { ...b.key, proto: protoNumber } } : {}), action: { ...b.action, type: b.action.type === 'FORWARD' ? 99 : b.action.type } };
        await assert.rejects(call(ctx().rpc, 'UpsertFlow', req), (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
          assert.ok(err.details.includes(`${field}:`), `${field} in "${err.details}"`);
          return true;
        });
        assert.deepEqual(await ctx().snapshot(), before);
      });
    }
    it('duplicate keys inside one batch refuse the whole batch', async () => {
      const before = await ctx().snapshot();
      await assert.rejects(call(ctx().rpc, 'BatchUpsertFlows', { flows: [rule(1), rule(2), rule(1, 'DROP')] }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.match(err.details, /flows\[2\]\.key: duplicate of flows\[0\]\.key/);
        return true;
      });
      assert.deepEqual(await ctx().snapshot(), before);
    });
    it('one invalid rule refuses the whole batch', async () => {
      const before = await ctx().snapshot();
      await assert.rejects(call(ctx().rpc, 'BatchUpsertFlows', { flows: [rule(1), { ...rule(2), key: { ...rule(2).key, dst_ip: 'x' } }] }),
        (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && err.details.includes('flows[1].key.dst_ip:'));
      assert.deepEqual(await ctx().snapshot(), before);
    });
    it('unknown id: NOT_FOUND', async () => {
      await assert.rejects(call(ctx().rpc, 'DeleteFlow', { id: 424242 }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND && /id/.test(err.details));
    });
    it('a message over the size limit: RESOURCE_EXHAUSTED', async () => {
      const before = await ctx().snapshot();
      const big = Array.from({ length: 700_000 }, (_, i) => rule(i));
      await assert.rejects(call(ctx().rpc, 'BatchUpsertFlows', { flows: big }), (err: grpc.ServiceError) => err.code === grpc.status.RESOURCE_EXHAUSTED);
      assert.deepEqual(await ctx().snapshot(), before);
    });
  });
}

describe('control plane API', { skip: why ?? false }, () => {
  let lab: Lab;
  let rpc: PcfClient;
  let http: ReturnType<typeof request>;

  let node: LabNode;
  before(async () => {
    node = await startLabNode(['--max-rules', String(MAX_RULES)]);
    ({ lab, rpc, http } = node);
  });
  after(async () => {
    await node?.close();
  });

  /** SQLite (through the API) and the pinned map, as they are now. */
  async function snapshot() {
    const flows = (await http.get('/flows?limit=1000')).body.flows;
    const map = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
    try {
      const entries = map.listFlows().sort((a, b) => a.action.ruleId - b.action.ruleId);
      return { flows, entries };
    } finally {
      map.close();
    }
  }

  describe('happy paths', () => {
    it('POST /flows creates (201, Location) then updates the same key (200, same id), in SQLite and the map', async () => {
      const r1 = await http.post('/flows').send(rule(1, 'PASS', { mark: 273 })).expect(201);
      assert.equal(r1.headers.location, `/flows/${r1.body.id}`);
      assert.equal(r1.body.action.mark, 273);
      const r2 = await http.post('/flows').send({ ...rule(1, 'DROP'), key: { ...rule(1).key, proto: 'udp' } }).expect(200);
      assert.equal(r2.body.id, r1.body.id);
      assert.equal(r2.body.action.type, 'DROP');
      assert.ok(r2.body.revision > r1.body.revision);
      const { entries } = await snapshot();
      const e = entries.find((x) => x.action.ruleId === r1.body.id)!;
      assert.equal(e.action.type, 'DROP');
      assert.deepEqual(e.key, { srcIp: '198.18.0.1', dstIp: '198.18.1.1', srcPort: 10001, dstPort: 7000, proto: 17 });
      await http.delete(`/flows/${r1.body.id}`).expect(204);
      await http.delete(`/flows/${r1.body.id}`).expect(404);
      assert.equal((await snapshot()).entries.length, 0);
    });

    it('a REDIRECT rule keeps every action field, over REST and gRPC alike', async () => {
      const action = { type: 'REDIRECT', ttl_delta: -5, nat: { snat_ip: '198.18.0.9', snat_port: 4000, dnat_ip: '198.18.1.2', dnat_port: 8080 }, mark: 7, queue_id: 0, mirror: true };
      const r = await http.post('/flows').send({ ...rule(2), action }).expect(201);
      assert.deepEqual(r.body.action, action);
      const g = await call(rpc, 'GetFlow', { id: r.body.id });
      assert.deepEqual(g.action, { ...action, type: 'REDIRECT' });
      const { entries } = await snapshot();
      const e = entries.find((x) => x.action.ruleId === r.body.id)!;
      assert.equal(e.action.ttlDelta, -5);
      assert.equal(e.action.dnatIp, '198.18.1.2');
      assert.equal(e.action.dnatPort, 8080);
      assert.equal(e.action.snatPort, 4000);
      assert.equal(e.action.queueId, 0);
      assert.equal(e.action.mark, 7);
      assert.equal(e.action.mirror, true);
      await call(rpc, 'DeleteFlow', { id: r.body.id });
    });

    it('GET /flows pages with a cursor and filters by key fields and action type', async () => {
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push((await http.post('/flows').send(rule(100 + i, i % 2 ? 'DROP' : 'PASS')).expect(201)).body.id);
      const p1 = (await http.get('/flows?limit=2').expect(200)).body;
      assert.equal(p1.flows.length, 2);
      const p2 = (await http.get(`/flows?limit=2&cursor=${p1.next_cursor}`).expect(200)).body;
      const p3 = (await http.get(`/flows?limit=2&cursor=${p2.next_cursor}`).expect(200)).body;
      assert.equal(p3.next_cursor, null);
      assert.deepEqual([...p1.flows, ...p2.flows, ...p3.flows].map((f: { id: number }) => f.id), ids);
      const drops = (await http.get('/flows?type=DROP').expect(200)).body.flows;
      assert.deepEqual(drops.map((f: { id: number }) => f.id), [ids[1], ids[3]]);
      const one = (await http.get('/flows?src_port=10102&proto=udp').expect(200)).body.flows;
      assert.deepEqual(one.map((f: { id: number }) => f.id), [ids[2]]);
      const viaGrpc = await call(rpc, 'ListFlows', { limit: 10, type: 'DROP' });
      assert.deepEqual(viaGrpc.flows.map((f: { id: number }) => f.id), [ids[1], ids[3]]);
      const got = (await http.get(`/flows/${ids[0]}`).expect(200)).body;
      assert.deepEqual(got.counters, { packets: 0, bytes: 0 });
      for (const id of ids) await http.delete(`/flows/${id}`).expect(204);
    });

    it('gRPC BatchUpsertFlows writes every rule; WatchFlows replays from a revision, then streams live', async () => {
      const before = await call(rpc, 'BatchUpsertFlows', { flows: [rule(200), rule(201)] });
      assert.equal(before.created, 2);
      const from = before.revision;
      const events: any[] = [];
      const stream = rpc.WatchFlows({ from_revision: from - 2 });
      stream.on('data', (e: unknown) => events.push(e));
      stream.on('error', () => {});
      // Subscribed once the replay (the two rules of the first batch) has arrived.
      for (const end = Date.now() + 5000; events.length < 2 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      assert.equal(events.length, 2, 'the replay arrived');
      const res = await call(rpc, 'BatchUpsertFlows', { flows: [rule(200, 'DROP'), rule(202)] });
      assert.deepEqual([res.created, res.updated], [1, 1]);
      await call(rpc, 'DeleteFlow', { id: res.ids[1] });
      const deadline = Date.now() + 5000;
      while (events.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      stream.cancel();
      assert.deepEqual(events.map((e) => e.revision), [from - 1, from, from + 1, from + 2, from + 3]);
      assert.deepEqual(events.map((e) => e.kind), ['UPSERT', 'UPSERT', 'UPSERT', 'UPSERT', 'DELETE']);
      assert.equal(events[2].flow.action.type, 'DROP');
      for (const id of [...before.ids]) await call(rpc, 'DeleteFlow', { id });
    });

    it('batch delete (REST and gRPC): every rule leaves SQLite and the map in one request; an unknown or repeated id deletes nothing', async () => {
      const before = await snapshot();
      const ids = (await call(rpc, 'BatchUpsertFlows', { flows: [rule(300), rule(301), rule(302), rule(303)] })).ids.map(Number);
      const mapHas = async (id: number) => (await snapshot()).entries.some((e: native.FlowEntry) => e.action.ruleId === id);
      assert.ok(await mapHas(ids[0]));
      // Refused as a whole: nothing goes.
      let r = await http.post('/flows/batch-delete').send({ ids: [ids[0], 999_999] }).expect(404);
      assert.equal(r.body.errors[0].field, 'ids[1]');
      r = await http.post('/flows/batch-delete').send({ ids: [ids[0], ids[0]] }).expect(400);
      assert.equal(r.body.errors[0].field, 'ids[1]');
      await assert.rejects(call(rpc, 'BatchDeleteFlows', { ids: [ids[1], 424_242] }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND && err.details.startsWith('ids[1]:'));
      for (const id of ids) assert.ok(await mapHas(id), `rule ${id} still in the map`);
      // Accepted: gone from both.
      r = await http.post('/flows/batch-delete').send({ ids: ids.slice(0, 2) }).expect(200);
      assert.equal(r.body.deleted, 2);
      const g = await call(rpc, 'BatchDeleteFlows', { ids: ids.slice(2) });
      assert.equal(g.deleted, 2);
      assert.equal(g.revision, r.body.revision + 2);
      assert.deepEqual(await snapshot(), before);
    });

    it('GET /stats and /readyz report the datapath present with its counters', async () => {
      const s = (await http.get('/stats').expect(200)).body;
      assert.equal(s.datapath.present, true);
      assert.equal(s.datapath.map_capacity, MAX_RULES);
      assert.equal(s.datapath.default_action, 'PASS');
      assert.ok('rx' in s.xdp && 'act_drop' in s.xdp && 'rsn_fragment' in s.xdp);
      await http.get('/readyz').expect(200);
      const g = await call(rpc, 'GetStats', {});
      assert.equal(g.datapath.present, true);
      assert.ok('rx' in g.xdp);
    });

    it('GET /stats lists per-rule counters only with rules=true (GetStats rules); its counts are kept, equal to the map', async () => {
      const id = (await http.post('/flows').send(rule(40, 'DROP')).expect(201)).body.id;
      const frame = udp4({ src: '198.18.0.1', dst: '198.18.1.1', sport: 10040, dport: 7000, payload: 'stats' });
      assert.deepEqual((await testRun(lab.pinDir, [{ frame }, { frame }, { frame }])).map((r) => r.ret), [XDP_DROP, XDP_DROP, XDP_DROP]);
      const plain = (await http.get('/stats').expect(200)).body;
      assert.equal('rules' in plain, false, 'the default answer reads no per-rule counters');
      const { entries } = await snapshot();
      assert.equal(plain.datapath.rules_in_db, entries.length);
      assert.equal(plain.datapath.rules_in_map, entries.length, 'rules_in_map follows the writes without a dump');
      const full = (await http.get('/stats?rules=true').expect(200)).body;
      assert.equal(full.rules.find((r: { id: number }) => r.id === id)?.packets, 3);
      assert.equal((await http.get(`/flows/${id}`).expect(200)).body.counters.packets, 3);
      const g = await call(rpc, 'GetStats', { rules: true });
      assert.equal(g.rules.find((r: { id: number }) => r.id === id)?.packets, 3);
      assert.equal((await call(rpc, 'GetStats', {})).rules?.length ?? 0, 0);
      const bad = await http.get('/stats?rules=maybe').expect(400);
      assert.match(bad.body.detail ?? bad.body.title, /rules/);
      await http.delete(`/flows/${id}`).expect(204);
      assert.equal((await http.get('/stats').expect(200)).body.datapath.rules_in_map, entries.length - 1);
    });
  });

  badInput('datapath', () => ({ http, rpc, snapshot }), true);

  describe('concurrent single upserts share a commit, each answered for its own rule', () => {
    it('the same key from many callers at once: one 201, the rest 200 with the same id', async () => {
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => http.post('/flows').send(rule(700, i % 2 ? 'PASS' : 'DROP'))));
      assert.deepEqual(rs.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      assert.equal(new Set(rs.map((r) => r.body.id)).size, 1);
      const { entries } = await snapshot();
      assert.equal(entries.filter((e) => e.action.ruleId === rs[0].body.id).length, 1);
      await http.delete(`/flows/${rs[0].body.id}`).expect(204);
    });
  });

  describe('the map full: nothing half-written', () => {
    it(`a batch that does not fit in ${MAX_RULES} entries is refused whole (gRPC RESOURCE_EXHAUSTED)`, async () => {
      await call(rpc, 'BatchUpsertFlows', { flows: Array.from({ length: MAX_RULES - 2 }, (_, i) => rule(i)) });
      const before = await snapshot();
      await assert.rejects(call(rpc, 'BatchUpsertFlows', { flows: [rule(0, 'DROP'), rule(500), rule(501), rule(502)] }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
        assert.match(err.details, /full/);
        return true;
      });
      assert.deepEqual(await snapshot(), before);
    });
    it('REST: the rule past the last entry gets 409, updates still work', async () => {
      await http.post('/flows').send(rule(600)).expect(201);
      await http.post('/flows').send(rule(601)).expect(201);
      const before = await snapshot();
      assert.equal(before.entries.length, MAX_RULES);
      const r = await http.post('/flows').send(rule(602)).expect(409);
      assert.match(r.body.detail, /full/);
      assert.deepEqual(await snapshot(), before);
      await http.post('/flows').send(rule(600, 'DROP')).expect(200);
    });
    it('REST: concurrent rules past the last entry: each gets 409, the ones that fit 201', async () => {
      await http.delete(`/flows/${(await http.post('/flows').send(rule(600)).expect(200)).body.id}`).expect(204);
      await http.delete(`/flows/${(await http.post('/flows').send(rule(601)).expect(200)).body.id}`).expect(204);
      const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => http.post('/flows').send(rule(800 + i))));
      assert.deepEqual(rs.map((r) => r.status).sort(), [201, 201, 409, 409, 409, 409]);
      const after = await snapshot();
      assert.equal(after.entries.length, MAX_RULES);
      assert.equal(after.flows.length, MAX_RULES);
      assert.deepEqual(after.entries.map((e) => e.action.ruleId).sort((a, b) => a - b), after.flows.map((f: { id: number }) => f.id).sort((a: number, b: number) => a - b));
    });
  });
});

// The same bad input without root: a control plane whose pin dir does not exist.
describe('control plane API without a datapath (no root)', () => {
  let cp: Running;
  let db: ReturnType<typeof tempDb>;
  let rpc: PcfClient;
  let http: ReturnType<typeof request>;
  before(async () => {
    db = tempDb();
    cp = await startInProcess(path.join('/nonexistent', path.basename(db.dir)), db.file);
    rpc = grpcClient(cp.grpcPort);
    http = request(`http://127.0.0.1:${cp.httpPort}`);
    await http.post('/flows').send(rule(1)).expect(201); // something that must stay as it is
  });
  after(async () => {
    rpc?.close();
    await cp?.close();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });
  const snapshot = async () => ({ flows: (await http.get('/flows?limit=1000').expect(200)).body.flows, revision: (await http.get('/stats').expect(200)).body.revision });
  badInput('no datapath', () => ({ http, rpc, snapshot }), false);
});
