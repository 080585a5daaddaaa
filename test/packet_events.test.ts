// packet_events.test.ts - the XDP program's packet events through a control plane (a child
// process, as make up runs it) on a lab: every DROP of a rule is an event with its rule,
// reason and tuple, the same over REST (server-sent events), gRPC and pcfctl observe, and
// filters select; nothing is emitted while nobody watches or when events are off; PASS and
// REDIRECT sampled 1 in N; the rate limit holds under a flood (sent + limited + lost = due);
// IPv6 and unparsed packets as XDP saw them; bad filters and settings refused by name; the
// setting kept across a restart; the maps re-created, events flow again.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as native from '../native/index.js';
import { ChildControlPlane, grpcClient, tempDb, type PcfClient } from './lib/cp.js';
import { datapathUnavailable, ROOT } from './lib/env.js';
import { CLIENT_IP, CLIENT_IP6, Lab, SERVER_IP, SERVER_IP6 } from './lib/lab.js';
import { udp4, udp6 } from './lib/packets.js';
import { testRun, XDP_PASS } from './lib/testrun.js';
import { udpReceiver, udpSend } from './lib/traffic.js';
import { until } from './lib/until.js';

const run = promisify(execFile);
const TEST_UDP = path.join(ROOT, 'build/test_udp');
const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`the packet event tests need the datapath under CI=true: ${why}`);

interface Ev { time: string; attachment: number; ifindex: number; queue: number; cpu: number; action: string; reason: string; rule_id: number | null; len: number; family: 4 | 6 | null; proto: number | null; src: string | null; dst: string | null; src_port: number | null; dst_port: number | null; lost: number }

/** GET /events as a client reads it: the events so far, the status, close(). */
async function sse(url: string) {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  const events: Ev[] = [];
  const notices: number[] = []; // `event: lost` records: events dropped with no event after them
  let body = '';
  const reading = (async () => {
    if (res.status !== 200) return void (body = await res.text());
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += dec.decode(value, { stream: true });
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const lines = block.split('\n');
        const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
        if (data === undefined) continue;
        if (lines.includes('event: lost')) notices.push(JSON.parse(data).lost);
        else events.push(JSON.parse(data));
      }
    }
  })();
  return {
    status: res.status, events, notices, body: async () => (await reading, body),
    close: async () => {
      ac.abort();
      await reading;
    },
  };
}

/** WatchPacketEvents: its events so far, cancel(). */
function grpcWatch(client: PcfClient, req: object) {
  const events: Ev[] = [];
  const call = client.WatchPacketEvents(req);
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('data', (m: Ev) => events.push(m));
  call.on('error', () => {});
  return { events, ended, cancel: () => call.cancel() };
}

describe('packet events', { skip: why ?? false }, () => {
  let lab: Lab;
  let db: { dir: string; file: string };
  let cp: ChildControlPlane;
  let client: PcfClient;
  let dut0Index = 0;
  const streams: { close: () => Promise<void> }[] = [];
  const xdp = async () => (await (await fetch(`${cp.url}/stats`)).json()).xdp as Record<string, { packets: number }>;
  const eventCounters = async () => {
    const x = await xdp();
    return { sent: x.event_sent.packets, limited: x.event_limited.packets, lost: x.event_lost.packets };
  };
  const open = async (query = '') => {
    const s = await sse(`${cp.url}/events${query}`);
    streams.push(s);
    assert.equal(s.status, 200);
    // Subscribed once the control plane has written the config: XDP's map says on.
    await until(() => new native.EventConfigMap(native.pinPaths(lab.pinDir).eventConfig).readConfig().on, 5000, 'events on in pcf_event_config');
    return s;
  };
  const rule = async (body: object): Promise<number> => {
    const r = await fetch(`${cp.url}/flows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 201, await r.clone().text());
    return (await r.json()).id;
  };
  const setConfig = async (c: object) => {
    const r = await fetch(`${cp.url}/events/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c) });
    assert.equal(r.status, 200, await r.clone().text());
    return r.json();
  };
  const DEFAULT = { enabled: true, sample: { pass: 0, drop: 1, redirect: 0 }, rate_per_cpu: 1000, burst: 100 };
  const flood = (srcPort: number, dstPort: number, n: number, cpu?: number) =>
    lab.exec(lab.client, cpu === undefined ? TEST_UDP : 'taskset', [...(cpu === undefined ? [] : ['-c', String(cpu), TEST_UDP]), 'send', CLIENT_IP, String(srcPort), SERVER_IP, String(dstPort), String(n)], 60_000);
  let dropA = 0, dropB = 0;

  before(async () => {
    lab = await Lab.create();
    db = tempDb();
    cp = await ChildControlPlane.create(lab.pinDir, db.file);
    await cp.start();
    client = grpcClient(cp.grpcPort);
    dut0Index = JSON.parse(execFileSync('ip', ['-n', lab.dut, '-j', 'link', 'show', 'dut0'], { encoding: 'utf8' }))[0].ifindex;
    dropA = await rule({ key: { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 5001, dst_port: 7001, proto: 'udp' }, action: { type: 'DROP' } });
    dropB = await rule({ key: { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 5002, dst_port: 7002, proto: 'udp' }, action: { type: 'DROP' } });
  });
  after(async () => {
    for (const s of streams) await s.close().catch(() => {});
    client?.close();
    await cp?.stop('SIGKILL');
    await lab?.destroy();
    if (db) fs.rmSync(db.dir, { recursive: true, force: true });
  });

  it('every DROP of a rule is an event with its rule, reason and tuple, over REST, gRPC and pcfctl; filters select', async () => {
    assert.deepEqual(await (await fetch(`${cp.url}/events/config`)).json(), DEFAULT, 'the default: every DROP');
    const all = await open();
    const onlyA = await open(`?rule_id=${dropA}`);
    const none = await open('?address=198.18.9.0/24');
    const g = grpcWatch(client, { action: 'DROP', address: SERVER_IP });
    const cli = spawn(path.join(ROOT, 'bin/pcfctl'), ['--http', cp.url, '--json', 'observe', '--rule', String(dropB), '--count', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let cliOut = '';
    cli.stdout.on('data', (d) => (cliOut += d));
    const cliDone = new Promise<number | null>((r) => cli.once('exit', r));
    await until(async () => /^pcf_packet_event_streams 5$/m.test(await (await fetch(`${cp.url}/metrics`)).text()), 10_000, 'the five streams open');
    const c0 = await eventCounters();
    const t0 = Date.now();
    await udpSend(lab, 7001, 5001, 30);
    await udpSend(lab, 7002, 5002, 20);
    await until(() => all.events.length >= 50 && g.events.length >= 50 && onlyA.events.length >= 30, 10_000, 'the events on the streams');
    assert.equal(await cliDone, 0, 'pcfctl observe --count 20 ends by itself');
    const t1 = Date.now();
    assert.equal(all.events.length, 50, 'one event per DROP, nothing else (PASS is not sampled by default)');
    const a = all.events.filter((e) => e.rule_id === dropA);
    assert.equal(a.length, 30);
    for (const e of a) {
      assert.deepEqual({ action: e.action, reason: e.reason, family: e.family, proto: e.proto, src: e.src, dst: e.dst, src_port: e.src_port, dst_port: e.dst_port, attachment: e.attachment, queue: e.queue, ifindex: e.ifindex, lost: e.lost },
        { action: 'DROP', reason: 'act_drop', family: 4, proto: 17, src: CLIENT_IP, dst: SERVER_IP, src_port: 5001, dst_port: 7001, attachment: 0, queue: 0, ifindex: dut0Index, lost: 0 });
      assert.ok(e.len >= 42, `frame length ${e.len}`);
      const at = Date.parse(e.time);
      assert.ok(at >= t0 - 50 && at <= t1 + 50, `time ${e.time} within the test's sending`);
    }
    assert.equal(all.events.filter((e) => e.rule_id === dropB && e.src_port === 5002).length, 20);
    assert.equal(onlyA.events.length, 30, 'rule_id selects');
    assert.ok(onlyA.events.every((e) => e.rule_id === dropA));
    assert.equal(none.events.length, 0, 'an address no packet has selects nothing');
    assert.equal(g.events.length, 50, 'gRPC: DROP to the server address');
    assert.deepEqual(g.events.map((e) => e.rule_id).sort(), all.events.map((e) => e.rule_id).sort());
    const cliEvents = cliOut.trim().split('\n').map((l) => JSON.parse(l) as Ev);
    assert.equal(cliEvents.length, 20);
    assert.ok(cliEvents.every((e) => e.rule_id === dropB && e.reason === 'act_drop'));
    const c1 = await eventCounters();
    assert.deepEqual({ sent: c1.sent - c0.sent, limited: c1.limited - c0.limited, lost: c1.lost - c0.lost }, { sent: 50, limited: 0, lost: 0 }, 'XDP sent exactly these');
    g.cancel();
    for (const s of [all, onlyA, none]) await s.close();
  });

  it('no stream open, or events disabled: XDP emits nothing', async () => {
    await until(async () => !new native.EventConfigMap(native.pinPaths(lab.pinDir).eventConfig).readConfig().on, 5000, 'events off once the streams closed');
    const dropsSeen = async () => (await xdp()).act_drop.packets;
    let d0 = await dropsSeen();
    let c0 = await eventCounters();
    await udpSend(lab, 7001, 5001, 20);
    await until(async () => (await dropsSeen()) - d0 === 20, 5000, 'XDP to drop the 20');
    assert.deepEqual(await eventCounters(), c0, 'nobody watching: nothing emitted, nothing counted');
    const s = await open();
    const off = await setConfig({ ...DEFAULT, enabled: false });
    assert.equal(off.enabled, false);
    assert.equal(new native.EventConfigMap(native.pinPaths(lab.pinDir).eventConfig).readConfig().on, false, 'disabled: off in XDP with a stream open');
    c0 = await eventCounters();
    d0 = await dropsSeen();
    await udpSend(lab, 7001, 5001, 20);
    await until(async () => (await dropsSeen()) - d0 === 20, 5000, 'XDP to drop the 20');
    assert.deepEqual(await eventCounters(), c0, 'disabled: nothing emitted');
    assert.equal(s.events.length, 0);
    await setConfig(DEFAULT);
    await udpSend(lab, 7001, 5001, 10);
    await until(() => s.events.length >= 10, 5000, '10 events once enabled again');
    assert.equal(s.events.length, 10);
    await s.close();
  });

  it('PASS and REDIRECT are sampled 1 in N when asked; a REDIRECT without its worker passes, reason redirect_fallback', async () => {
    await setConfig({ enabled: true, sample: { pass: 100, drop: 1, redirect: 1 }, rate_per_cpu: 1_000_000, burst: 1_000_000 });
    const pass = await rule({ key: { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 5003, dst_port: 7003, proto: 'udp' }, action: { type: 'PASS' } });
    const redirect = await rule({ key: { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 5004, dst_port: 7004, proto: 'udp' }, action: { type: 'REDIRECT' } });
    const s = await open(`?action=PASS`);
    const passed = async () => { const x = await xdp(); return x.act_pass.packets + x.miss_pass.packets + x.pass_unparsed.packets + x.redirect_fallback.packets + x.queue_mismatch.packets; };
    const rx = await udpReceiver(lab, 7003); // no ICMP errors back: they would be PASS packets too
    const p0 = await passed();
    await flood(5003, 7003, 10_000, 0);
    await rx.result();
    const strays = (await passed()) - p0 - 10_000; // other PASS packets meanwhile (IPv6 ND), sampled by the same counter
    const ofRule = () => s.events.filter((e) => e.rule_id === pass).length;
    await until(() => ofRule() >= 100 - strays, 5000, 'the sampled PASS events');
    assert.ok(ofRule() <= 100 && ofRule() >= 100 - strays, `1 in 100 of 10,000 on one CPU: ${ofRule()} events (${strays} other PASS packets)`);
    assert.ok(s.events.filter((e) => e.rule_id === pass).every((e) => e.reason === 'act_pass' && e.action === 'PASS'));

    const r0 = s.events.length;
    const e0 = (await eventCounters()).sent;
    const f0 = (await xdp()).redirect_fallback.packets;
    await udpSend(lab, 7004, 5004, 300);
    await until(async () => (await xdp()).redirect_fallback.packets - f0 === 300, 5000, 'XDP to pass the 300 back to the kernel');
    const e1 = (await eventCounters()).sent;
    await until(() => s.events.length - r0 >= e1 - e0, 5000, 'the stream to have every event sent since');
    const fb = s.events.slice(r0).filter((e) => e.rule_id === redirect);
    assert.ok(fb.length >= 2 && fb.length <= 4, `1 in 100 of 300 fallbacks: ${fb.length}`);
    assert.ok(fb.every((e) => e.action === 'PASS' && e.reason === 'redirect_fallback' && e.dst_port === 7004));
    await s.close();
  });

  it('the rate limit holds under a flood: sent + limited + lost equals the packets due, sent within burst + rate x time per CPU', async () => {
    await setConfig({ enabled: true, sample: { pass: 0, drop: 1, redirect: 0 }, rate_per_cpu: 200, burst: 20 });
    const s = await open(`?rule_id=${dropA}`);
    const c0 = await eventCounters();
    const t0 = process.hrtime.bigint();
    await flood(5001, 7001, 20_000);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const c1 = await eventCounters();
    const sent = c1.sent - c0.sent, limited = c1.limited - c0.limited, lost = c1.lost - c0.lost;
    assert.equal(sent + limited + lost, 20_000, 'every dropped packet was due (1 in 1) and is counted once');
    const cpus = native.possibleCpus();
    assert.ok(sent <= cpus * (20 + 200 * secs + 1), `${sent} sent in ${secs.toFixed(2)} s on ${cpus} CPUs, at most ${Math.floor(cpus * (20 + 200 * secs + 1))}`);
    assert.ok(sent >= 20, `at least one burst: ${sent}`);
    assert.ok(limited > 10_000, `held back: ${limited}`);
    await until(() => s.events.length >= sent, 5000, `the ${sent} events on the stream`);
    assert.equal(s.events.length, sent, 'the stream has every event XDP sent');
    await s.close();
    await setConfig(DEFAULT);
  });

  it('a client that stops reading loses events, not the control plane\'s memory; the next event says how many', async () => {
    await setConfig({ enabled: true, sample: { pass: 0, drop: 1, redirect: 0 }, rate_per_cpu: 10_000_000, burst: 1_000_000 });
    // Read the stream by hand, so that it can stop reading: TCP's windows fill, then the
    // control plane's 1 MiB for this stream, then its events are dropped and counted.
    const ac = new AbortController();
    const res = await fetch(`${cp.url}/events?rule_id=${dropA}`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await until(async () => /^pcf_packet_event_streams 1$/m.test(await (await fetch(`${cp.url}/metrics`)).text()), 5000, 'the stream open');
    const c0 = await eventCounters();
    await flood(5001, 7001, 150_000);
    const sent = (await eventCounters()).sent - c0.sent;
    let buf = '';
    let got = 0, lost = 0;
    const dec = new TextDecoder();
    const take = () => {
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const lines = buf.slice(0, i).split('\n');
        buf = buf.slice(i + 2);
        const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
        if (data === undefined) continue;
        const x = JSON.parse(data) as { lost: number };
        if (!lines.includes('event: lost')) got++;
        lost += x.lost; // an event's count of those dropped before it, or a notice's
      }
    };
    // Reading again: what the stream kept comes, then the count of the rest, alone (no event
    // follows), once the control plane sees this client caught up (checked each second).
    const deadline = setTimeout(() => ac.abort(), 30_000);
    while (got + lost < sent) {
      const { value, done } = await reader.read().catch(() => assert.fail(`the stream did not catch up within 30 s: ${got} delivered + ${lost} lost of ${sent}`));
      if (done) break;
      buf += dec.decode(value, { stream: true });
      take();
    }
    clearTimeout(deadline);
    ac.abort();
    assert.ok(lost > 0, `events dropped for the slow client: ${lost} of ${sent}`);
    assert.equal(got + lost, sent, `every event XDP sent is delivered or counted lost (${got} + ${lost})`);
    await setConfig(DEFAULT);
  });

  it('IPv6 and packets it cannot parse: the tuple as XDP saw it and the reason it gave', async () => {
    await setConfig({ enabled: true, sample: { pass: 1, drop: 1, redirect: 1 }, rate_per_cpu: 100_000, burst: 10_000 });
    const v6 = await rule({ match: { src: '2001:2::/48', dst: SERVER_IP6, proto: 'udp', dst_ports: '9000-9010' }, precedence: 10, action: { type: 'DROP' } });
    const s = await open();
    const frames = [
      udp6({ src: CLIENT_IP6, dst: SERVER_IP6, sport: 4000, dport: 9005 }),
      udp4({ src: CLIENT_IP, dst: SERVER_IP, sport: 4001, dport: 9999 }).subarray(0, 14 + 12), // IPv4 header cut short
      udp4({ src: CLIENT_IP, dst: SERVER_IP, sport: 4002, dport: 9998, frag: { offset8: 4, more: false, id: 7 }, payload: Buffer.alloc(16) }),
    ];
    const res = await testRun(lab.pinDir, frames.map((frame) => ({ frame })));
    assert.deepEqual(res.map((r) => r.ret), [1, XDP_PASS, XDP_PASS]);
    const find = (f: (e: Ev) => boolean) => until(() => s.events.find(f), 5000, 'the event');
    const e6 = await find((e) => e.family === 6);
    assert.deepEqual({ action: e6.action, reason: e6.reason, rule_id: e6.rule_id, src: e6.src, dst: e6.dst, proto: e6.proto, src_port: e6.src_port, dst_port: e6.dst_port },
      { action: 'DROP', reason: 'act_drop', rule_id: v6, src: CLIENT_IP6, dst: SERVER_IP6, proto: 17, src_port: 4000, dst_port: 9005 });
    const cut = await find((e) => e.reason === 'rsn_trunc_ip');
    assert.deepEqual({ action: cut.action, rule_id: cut.rule_id, family: cut.family, src: cut.src, len: cut.len }, { action: 'PASS', rule_id: null, family: null, src: null, len: 26 });
    const frag = await find((e) => e.reason === 'rsn_fragment');
    assert.deepEqual({ action: frag.action, family: frag.family, proto: frag.proto, src: frag.src, dst: frag.dst, src_port: frag.src_port }, { action: 'PASS', family: 4, proto: 17, src: CLIENT_IP, dst: SERVER_IP, src_port: 0 });
    const only6 = await open('?address=2001:2::/48');
    await testRun(lab.pinDir, [{ frame: frames[0] }, { frame: frames[2] }]);
    await until(() => only6.events.length >= 1, 5000, 'the IPv6 event');
    await until(() => s.events.filter((e) => e.reason === 'rsn_fragment').length >= 2, 5000, 'the second fragment on the other stream');
    assert.equal(only6.events.length, 1, 'an IPv6 prefix selects the IPv6 packet only');
    await s.close();
    await only6.close();
    await setConfig(DEFAULT);
  });

  it('bad filters and settings are refused naming the field; the setting is kept across a restart', async () => {
    for (const [q, field] of [['?address=nope', 'address'], ['?address=198.18.0.0/33', 'address'], ['?action=FOO', 'action'], ['?rule_id=0', 'rule_id'], ['?colour=red', 'colour']] as const) {
      const s = await sse(`${cp.url}/events${q}`);
      assert.equal(s.status, 400, q);
      assert.equal(JSON.parse(await s.body()).errors[0].field, field, q);
    }
    const bad = grpcWatch(client, { address: '2001:2::/129' });
    const st = await bad.ended;
    assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st.details, /^address: "2001:2::\/129" is not an IPv4 or IPv6 address or prefix/);
    const zeroRule = grpcWatch(client, { rule_id: 0 });
    const zs = await zeroRule.ended;
    assert.equal(zs.code, grpc.status.INVALID_ARGUMENT);
    assert.match(zs.details, /^rule_id: 0 is not an integer in 1\.\.4294967295/);
    for (const [body, field] of [[{ ...DEFAULT, rate_per_cpu: 0 }, 'rate_per_cpu'], [{ ...DEFAULT, sample: { pass: -1, drop: 1, redirect: 0 } }, 'sample.pass'], [{ enabled: true }, 'sample'],
      [{ ...DEFAULT, rate_per_cpu: 100_000, burst: 100 }, 'burst']] as const) {
      const r = await fetch(`${cp.url}/events/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 400);
      assert.ok((await r.json()).errors.some((e: { field: string }) => e.field === field), field);
    }
    await assert.rejects(new Promise((resolve, reject) => client.SetPacketEventConfig({ enabled: true, sample: { drop: 1 }, rate_per_cpu: 5 }, (err, res) => (err ? reject(err) : resolve(res)))),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /burst: /.test(err.details));
    await assert.rejects(new Promise((resolve, reject) => client.SetPacketEventConfig({ sample: { drop: 1 }, rate_per_cpu: 1000, burst: 100 }, (err, res) => (err ? reject(err) : resolve(res)))),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /enabled: required/.test(err.details), 'an unset enabled is refused, not read as false');
    assert.deepEqual(await (await fetch(`${cp.url}/events/config`)).json(), DEFAULT, 'nothing changed');

    const mine = { enabled: true, sample: { pass: 1000, drop: 2, redirect: 50 }, rate_per_cpu: 321, burst: 7 };
    await new Promise((resolve, reject) => client.SetPacketEventConfig(mine, (err, res) => (err ? reject(err) : resolve(res))));
    await cp.stop('SIGTERM');
    await cp.start();
    client.close();
    client = grpcClient(cp.grpcPort);
    assert.deepEqual(await (await fetch(`${cp.url}/events/config`)).json(), mine, 'kept in SQLite');
    const inXdp = await until(() => { const c = new native.EventConfigMap(native.pinPaths(lab.pinDir).eventConfig).readConfig(); return c.ratePerCpu === 321 ? c : null; }, 5000, 'the setting written into pcf_event_config');
    assert.deepEqual(inXdp, { on: false, ratePerCpu: 321, burst: 7, sample: mine.sample });
    await setConfig(DEFAULT);
  });

  it('the maps re-created under an open stream: the control plane reads the new ring, events flow again', async () => {
    const s = await open(`?rule_id=${dropA}`);
    const id0 = native.pinnedMapId(native.pinPaths(lab.pinDir).events);
    await lab.loader('detach', '--purge');
    await lab.loader('attach');
    const id1 = native.pinnedMapId(native.pinPaths(lab.pinDir).events);
    assert.notEqual(id1, id0, 'a new ring');
    await until(() => new native.EventConfigMap(native.pinPaths(lab.pinDir).eventConfig).readConfig().on, 10_000, 'the new pcf_event_config on');
    // The rules are back in the new maps (the control plane's reconcile): the DROP is an event again.
    await until(async () => (await (await fetch(`${cp.url}/readyz`)).status) === 200, 10_000, 'reconciled');
    await udpSend(lab, 7001, 5001, 10);
    await until(() => s.events.length >= 10, 5000, '10 events from the new ring');
    assert.equal(s.events.length, 10);
    await s.close();
  });
});
