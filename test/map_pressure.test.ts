// map_pressure.test.ts - how full each pinned map is, from the kernel: pcf-xdp pins the
// map-count iterator (pcf_map_counts), and GET /stats, /metrics and pcf-xdp status show each
// map's capacity, elements and memory; the elements follow the rules written and deleted;
// past 90 % a hash map is logged once and named by /readyz (still 200), and below it again
// the warning goes. On a lab whose flow map holds 64 rules (--max-rules 64).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Running } from '../server/app.js';
import { call, grpcClient, startInProcess, tempDb } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { Lab } from './lib/lab.js';
import { until } from './lib/until.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`map_pressure tests need the datapath under CI=true: ${why}`);

const CAPACITY = 64;
const rule = (n: number) => ({ key: { src_ip: '198.18.0.1', dst_ip: '198.18.1.1', src_port: 20000 + n, dst_port: 7000, proto: 17 }, action: { type: 'PASS' } });

describe('map pressure', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: ReturnType<typeof tempDb>;
  let cp: Running;
  let base: string;
  const lines: string[] = [];
  const ids: number[] = [];
  before(async () => {
    lab = await Lab.create({ loaderArgs: ['--max-rules', String(CAPACITY)] });
    db = tempDb();
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
    cp = await startInProcess(lab.pinDir, db.file, undefined, {}, pino({ level: 'info' }, sink));
    base = `http://127.0.0.1:${cp.httpPort}`;
  });
  after(async () => {
    await cp?.close();
    await lab?.destroy();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });

  const stats = async () => (await (await fetch(`${base}/stats`)).json()) as any;
  const flowMap = async () => (await stats()).maps.pcf_flow_map;
  const add = async (from: number, to: number) => {
    for (let n = from; n < to; n++) {
      const r = await fetch(`${base}/flows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rule(n)) });
      assert.equal(r.status, 201, await r.clone().text());
      ids.push(((await r.json()) as any).id);
    }
  };
  const del = async (n: number) => {
    for (const id of ids.splice(0, n)) assert.equal((await fetch(`${base}/flows/${id}`, { method: 'DELETE' })).status, 204);
  };
  const readyz = async () => ({ status: (await fetch(`${base}/readyz`)).status, body: (await (await fetch(`${base}/readyz`)).json()) as any });
  const warns = () => lines.map((l) => JSON.parse(l)).filter((l) => l.level === 40 && l.map === 'pcf_flow_map');

  it('the iterator is pinned; /stats has every pinned map: capacity, elements of the hash maps, memory', async () => {
    assert.ok(fs.existsSync(`${lab.pinDir}/pcf_map_counts`), 'pcf-xdp attach pinned pcf_map_counts');
    const maps = (await stats()).maps;
    assert.deepEqual(Object.keys(maps).sort(), ['pcf_config', 'pcf_event_config', 'pcf_event_state', 'pcf_events', 'pcf_flow_cache', 'pcf_flow_cache4', 'pcf_flow_map', 'pcf_match_map', 'pcf_nat6', 'pcf_rule_stats', 'pcf_rules', 'pcf_ruleset', 'pcf_shapes', 'pcf_stats', 'pcf_xskmap']);
    // the ring buffer's capacity is its size in bytes (max_entries), and it has no element count
    assert.deepEqual({ type: maps.pcf_events.type, capacity: maps.pcf_events.capacity, elements: maps.pcf_events.elements }, { type: 'ringbuf', capacity: 1 << 20, elements: null });
    assert.deepEqual({ ...maps.pcf_flow_map, id: 0, memory_bytes: 0 }, { type: 'hash', id: 0, capacity: CAPACITY, elements: 0, memory_bytes: 0, used_pct: 0 });
    assert.ok(maps.pcf_flow_map.memory_bytes > 0);
    // an array's entries are all there: no element count; its memory is the kernel's figure
    assert.equal(maps.pcf_stats.type, 'percpu_array');
    assert.equal(maps.pcf_stats.elements, null);
    assert.ok(maps.pcf_stats.memory_bytes > 0);
    assert.equal(maps.pcf_flow_cache4.type, 'lru_percpu_hash');
  });

  it('elements follow the rules: 40 written, 10 deleted; /metrics, GetStats and pcf-xdp status say the same', async () => {
    await add(0, 40);
    await until(async () => (await flowMap()).elements === 40, 5000, 'pcf_flow_map elements 40');
    await del(10);
    await until(async () => (await flowMap()).elements === 30, 5000, 'pcf_flow_map elements 30');
    const m = await flowMap();
    assert.equal(m.used_pct, Math.round((1000 * 30) / CAPACITY) / 10);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^pcf_map_elements\{map="pcf_flow_map"\} 30$/m);
    assert.match(metrics, new RegExp(`^pcf_map_capacity\\{map="pcf_flow_map"\\} ${CAPACITY}$`, 'm'));
    assert.match(metrics, new RegExp(`^pcf_map_memory_bytes\\{map="pcf_flow_map"\\} ${m.memory_bytes}$`, 'm'));
    assert.doesNotMatch(metrics, /^pcf_map_elements\{map="pcf_stats"\}/m, 'no element count for an array');
    const st = JSON.parse((await lab.loader('status', '--json')).stdout);
    assert.deepEqual([st.maps.pcf_flow_map.elements, st.maps.pcf_flow_map.max_entries, st.maps.pcf_flow_map.memlock], [30, CAPACITY, m.memory_bytes]);
    assert.equal(st.maps.pcf_stats.elements, null);
    const rpc = grpcClient(cp.grpcPort);
    try {
      const g = (await call(rpc, 'GetStats', {})).maps;
      assert.deepEqual(g.pcf_flow_map, { type: 'hash', id: m.id, capacity: CAPACITY, elements: 30, memory_bytes: m.memory_bytes, used_pct: m.used_pct });
      assert.equal(g.pcf_stats.elements, undefined, 'an array has no element count');
    } finally {
      rpc.close();
    }
  });

  it('past 90 %: one warning logged, /readyz 200 naming the map; below again: logged, no warning', async () => {
    assert.deepEqual(await readyz(), { status: 200, body: { ready: true } });
    assert.equal(warns().length, 0);
    await add(40, 68); // 30 + 28 = 58 of 64: 90.6 %
    await until(async () => (await readyz()).body.warnings, 5000, '/readyz to warn');
    assert.deepEqual(await readyz(), { status: 200, body: { ready: true, warnings: ['pcf_flow_map is 90.6% full (58 of 64)'] } });
    await add(68, 70); // 60 of 64: still past it, no second warning
    await until(async () => (await flowMap()).elements === 60, 5000, 'pcf_flow_map elements 60');
    await readyz();
    assert.equal(warns().length, 1, JSON.stringify(warns()));
    assert.equal(warns()[0].used_pct, 90.6);
    await del(20); // 40 of 64
    await until(async () => !(await readyz()).body.warnings, 5000, '/readyz without warnings');
    assert.ok(lines.some((l) => /pcf_flow_map is below 90% full again/.test(l)), 'the return below is logged');
    assert.equal(warns().length, 1);
  });
});
