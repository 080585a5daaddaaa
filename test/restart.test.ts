// restart.test.ts - SQLite is the truth and the maps a cache: what happens to the maps while
// the control plane is stopped, killed or has no datapath is repaired from SQLite.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as native from '../native/index.js';
import { call, ChildControlPlane, grpcClient, tempDb } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { Lab } from './lib/lab.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`restart tests need the datapath under CI=true: ${why}`);

const rule = (n: number, type = 'PASS') => ({
  key: { src_ip: '198.18.0.1', dst_ip: `198.18.${2 + (n >> 16)}.${(n >> 8) & 255}`, src_port: n & 255, dst_port: 9000, proto: 17 },
  action: { type },
});
const keyOf = (k: native.FlowKey) => `${k.srcIp}|${k.dstIp}|${k.srcPort}|${k.dstPort}|${k.proto}`;

/** Every rule through the API, following the cursor. */
async function allFlows(cp: ChildControlPlane): Promise<any[]> {
  const out: any[] = [];
  let cursor = 0;
  for (;;) {
    const r = await (await fetch(`${cp.url}/flows?limit=1000&cursor=${cursor}`)).json();
    out.push(...r.flows);
    if (r.next_cursor === null) return out;
    cursor = r.next_cursor;
  }
}

function mapEntries(lab: Lab): Map<string, native.FlowAction> {
  const m = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
  try {
    return new Map(m.listFlows().map((e) => [keyOf(e.key), e.action]));
  } finally {
    m.close();
  }
}

/** The map holds exactly the stored rules, each with its id and action type. */
async function assertMapEqualsDb(lab: Lab, cp: ChildControlPlane) {
  const flows = await allFlows(cp);
  const entries = mapEntries(lab);
  assert.equal(entries.size, flows.length, 'as many map entries as rules');
  for (const f of flows) {
    const k = f.key;
    const e = entries.get(`${k.src_ip}|${k.dst_ip}|${k.src_port}|${k.dst_port}|${k.proto}`);
    assert.ok(e, `rule ${f.id} in the map`);
    assert.equal(e.ruleId, f.id);
    assert.equal(e.type, f.action.type);
  }
  return flows.length;
}

async function waitFor(what: string, fn: () => Promise<boolean> | boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('restart and reconcile', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: { dir: string; file: string };
  let cp: ChildControlPlane;

  before(async () => {
    lab = await Lab.create();
    db = tempDb();
    cp = await ChildControlPlane.create(lab.pinDir, db.file);
  });
  after(async () => {
    await cp?.stop('SIGKILL');
    await lab?.destroy();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });

  it('entries deleted or added by hand while the control plane was stopped are repaired at start', async () => {
    await cp.start();
    const rpc = grpcClient(cp.grpcPort);
    await call(rpc, 'BatchUpsertFlows', { flows: Array.from({ length: 50 }, (_, i) => rule(i)) });
    rpc.close();
    await cp.stop();

    const m = native.FlowMap.open(path.join(lab.pinDir, 'pcf_flow_map'));
    const victim = m.listFlows()[7];
    assert.equal(m.deleteFlows([victim.key]), 1);
    m.upsertFlows([{ key: { srcIp: '198.18.0.1', dstIp: '198.18.9.9', srcPort: 1, dstPort: 2, proto: 17 }, action: { ...victim.action, ruleId: 99999 } }]);
    const changed = m.listFlows().find((e) => e.action.ruleId !== victim.action.ruleId && e.action.ruleId !== 99999)!;
    m.upsertFlows([{ key: changed.key, action: { ...changed.action, type: 'DROP' } }]);
    m.close();

    await cp.start();
    assert.equal(await assertMapEqualsDb(lab, cp), 50);
    await cp.stop();
  });

  it('maps re-created by the loader are rebuilt from SQLite: while stopped, and while running', async () => {
    await lab.loader('detach', '--purge');
    await lab.loader('attach');
    assert.equal(mapEntries(lab).size, 0, 'the loader made new, empty maps');
    await cp.start();
    assert.equal(await assertMapEqualsDb(lab, cp), 50);

    const before = (await (await fetch(`${cp.url}/stats`)).json()).datapath.map_id;
    await lab.loader('detach', '--purge');
    await lab.loader('attach');
    await waitFor('the running control plane to refill the new maps', () => mapEntries(lab).size === 50);
    const s = (await (await fetch(`${cp.url}/stats`)).json()).datapath;
    assert.notEqual(s.map_id, before);
    assert.equal(await assertMapEqualsDb(lab, cp), 50);
  });

  it('without the datapath rules are stored, readiness says why, and they are pushed when the maps appear', async () => {
    await lab.loader('detach', '--purge');
    await waitFor('the datapath to be seen absent', async () => (await fetch(`${cp.url}/readyz`)).status === 503);
    const ready = await (await fetch(`${cp.url}/readyz`)).json();
    assert.match(ready.reason, /datapath absent/);
    const stats = await (await fetch(`${cp.url}/stats`)).json();
    assert.equal(stats.datapath.present, false);
    assert.deepEqual(stats.xdp, {});
    const r = await fetch(`${cp.url}/flows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule(500, 'DROP')) });
    assert.equal(r.status, 201);
    await lab.loader('attach');
    await waitFor('readiness', async () => (await fetch(`${cp.url}/readyz`)).status === 200);
    assert.equal(await assertMapEqualsDb(lab, cp), 51);
  });

  it('kill -9 during batches: after restart every acknowledged rule is in SQLite and in the map', async () => {
    const rpc = grpcClient(cp.grpcPort);
    const acked: number[][] = [];
    let stop = false;
    let failed: grpc.ServiceError | null = null;
    const writer = (async () => {
      for (let b = 0; !stop && b < 200; b++) {
        try {
          const res = await call(rpc, 'BatchUpsertFlows', { flows: Array.from({ length: 2000 }, (_, i) => rule(1000 + b * 2000 + i)) });
          acked.push(res.ids);
        } catch (err) {
          failed = err as grpc.ServiceError;
          return;
        }
      }
    })();
    await waitFor('a few acknowledged batches', () => acked.length >= 3, 30_000);
    await cp.stop('SIGKILL');
    stop = true;
    await writer;
    rpc.close();
    assert.ok(failed, 'the batch in flight when killed failed at the client');

    await cp.start();
    const flows = await allFlows(cp);
    const ids = new Set(flows.map((f) => f.id));
    for (const batch of acked) for (const id of batch) assert.ok(ids.has(id), `acknowledged rule ${id} survived`);
    await assertMapEqualsDb(lab, cp);
    // A batch is one transaction: it is there whole or not at all.
    assert.equal((flows.length - 51) % 2000, 0);
  });
});
