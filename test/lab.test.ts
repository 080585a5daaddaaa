// lab.test.ts - real packets through a lab: rules pushed over REST and gRPC, UDP and TCP from
// <lab>-client to <lab>-server through XDP on dut0. DROP flows vanish, PASS flows arrive,
// REDIRECT flows with no worker arrive (the XDP_PASS fallback), other flows are untouched,
// marks are real, and the counters in GET /stats equal the packets sent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { call, startLabNode, type LabNode, type PcfClient } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { CLIENT_IP, Lab, SERVER_IP } from './lib/lab.js';
import { tcpExchange, tcpServer, udpReceiver, udpSend } from './lib/traffic.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`lab tests need the datapath under CI=true: ${why}`);

const N = 200;
const udp = (sport: number, dport: number) => ({ src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: sport, dst_port: dport, proto: 'udp' });
const tcp = (sport: number, dport: number) => ({ src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: sport, dst_port: dport, proto: 6 });

describe('real packets through XDP in a lab', { skip: why ?? false }, () => {
  let lab: Lab;
  let rpc: PcfClient;
  let http: ReturnType<typeof request>;
  const stats = async () => (await http.get('/stats?rules=true').expect(200)).body;
  const ruleCount = (s: any, id: number) => s.rules.find((r: { id: number }) => r.id === id)?.packets ?? 0;

  let node: LabNode;
  before(async () => {
    node = await startLabNode();
    ({ lab, rpc, http } = node);
  });
  after(async () => {
    await node?.close();
  });

  it('UDP: DROP vanishes, PASS arrives, REDIRECT without worker arrives, no rule is untouched; counters equal packets sent', async () => {
    const drop = (await http.post('/flows').send({ key: udp(20001, 7001), action: { type: 'DROP' } }).expect(201)).body.id;
    const pass = (await http.post('/flows').send({ key: udp(20002, 7002), action: { type: 'PASS' } }).expect(201)).body.id;
    const redir = (await call(rpc, 'UpsertFlow', { key: { ...udp(20003, 7003), proto: 17 }, action: { type: 'REDIRECT', ttl_delta: -1 } })).flow.id;
    const rx = await Promise.all([7001, 7002, 7003, 7004].map((p) => udpReceiver(lab, p)));
    const s0 = await stats();
    const tx0 = lab.txPackets(lab.client, 'c0');

    await udpSend(lab, 7001, 20001, N);
    await udpSend(lab, 7002, 20002, N);
    await udpSend(lab, 7003, 20003, N);
    await udpSend(lab, 7004, 20004, N);
    const [r1, r2, r3, r4] = await Promise.all(rx.map((r) => r.result()));
    assert.equal(r1.received, 0, 'DROP flow must vanish');
    assert.equal(r2.received, N, 'PASS flow must arrive whole');
    assert.equal(r3.received, N, 'REDIRECT flow with no worker must fall back to the kernel');
    assert.equal(r4.received, N, 'a flow without a rule must be untouched');

    const sent = lab.txPackets(lab.client, 'c0') - tx0;
    assert.equal(sent, 4 * N, 'the client sent exactly the test packets (no ARP, no IPv6)');
    const s1 = await stats();
    const d = (name: string) => s1.xdp[name].packets - s0.xdp[name].packets;
    assert.equal(d('rx'), sent);
    assert.equal(d('act_drop'), N);
    assert.equal(d('act_pass'), N);
    assert.equal(d('redirect_fallback'), N);
    assert.equal(d('act_redirect'), 0);
    assert.equal(d('miss_pass'), N);
    assert.equal(d('pass_unparsed'), 0);
    assert.equal(ruleCount(s1, drop), N);
    assert.equal(ruleCount(s1, pass), N);
    assert.equal(ruleCount(s1, redir), N);
    const g = await call(rpc, 'GetStats', {});
    assert.equal(Number(g.xdp.act_drop.packets), s1.xdp.act_drop.packets);
    const f = (await http.get(`/flows/${drop}`).expect(200)).body;
    assert.equal(f.counters.packets, N);
    assert.ok(f.counters.bytes >= N * 42);
    const metrics = (await http.get('/metrics').expect(200)).text;
    assert.match(metrics, new RegExp(`^pcf_xdp_packets_total\\{counter="act_drop"\\} ${s1.xdp.act_drop.packets}$`, 'm'));
    assert.match(metrics, /^pcf_datapath_present 1$/m);
  });

  it('TCP: a PASS connection works end to end, a DROP connection never opens; rule counters equal the client\'s packets', async () => {
    const srv = [await tcpServer(lab, 8001), await tcpServer(lab, 8002)];
    try {
      const pass = (await call(rpc, 'UpsertFlow', { key: tcp(30001, 8001), action: { type: 'PASS' } })).flow.id;
      const drop = (await http.post('/flows').send({ key: { ...tcp(30002, 8002), proto: 'tcp' }, action: { type: 'DROP' } }).expect(201)).body.id;

      const t0 = lab.txPackets(lab.client, 'c0');
      const ok = await tcpExchange(lab, 8001, 30001, 10_000, 5000);
      assert.deepEqual(ok, { ok: true, echoed: 10_000 });
      // The last ACK/FIN leave the client: wait until its TX count stops moving.
      let t1 = lab.txPackets(lab.client, 'c0');
      for (let n = 0; n < 50; n++) {
        await new Promise((r) => setTimeout(r, 100));
        const now = lab.txPackets(lab.client, 'c0');
        if (now === t1) break;
        t1 = now;
      }
      const blocked = await tcpExchange(lab, 8002, 30002, 100, 1500);
      assert.equal(blocked.ok, false);
      assert.equal(blocked.error, 'timeout');
      const t2 = lab.txPackets(lab.client, 'c0');

      const s = await stats();
      assert.equal(ruleCount(s, pass), t1 - t0, 'every segment the client sent on the PASS flow matched its rule');
      assert.equal(ruleCount(s, drop), t2 - t1, 'every SYN the client sent on the DROP flow was dropped');
      assert.ok(t2 - t1 >= 1);
    } finally {
      srv.forEach((s) => s.kill());
    }
  });

  it('mark: PASS and REDIRECT-fallback packets carry the rule\'s skb mark (ip rule fwmark sees it)', async () => {
    // Policy routing in the DUT: fwmark 273 goes to a table that blackholes the server net.
    await lab.exec(lab.dut, 'ip', ['route', 'add', 'blackhole', '198.18.1.0/24', 'table', '273']);
    await lab.exec(lab.dut, 'ip', ['rule', 'add', 'fwmark', '273', 'lookup', '273']);
    await http.post('/flows').send({ key: udp(20005, 7005), action: { type: 'PASS', mark: 273 } }).expect(201);
    await http.post('/flows').send({ key: udp(20006, 7006), action: { type: 'REDIRECT', mark: 273 } }).expect(201);
    await http.post('/flows').send({ key: udp(20007, 7007), action: { type: 'PASS', mark: 274 } }).expect(201);
    const rx = await Promise.all([7005, 7006, 7007].map((p) => udpReceiver(lab, p)));
    await udpSend(lab, 7005, 20005, 50);
    await udpSend(lab, 7006, 20006, 50);
    await udpSend(lab, 7007, 20007, 50);
    const [marked, markedRedirect, other] = await Promise.all(rx.map((r) => r.result()));
    assert.equal(marked.received, 0, 'mark 273 must route into the blackhole table');
    assert.equal(markedRedirect.received, 0, 'a REDIRECT rule\'s mark applies on the kernel fallback too');
    assert.equal(other.received, 50, 'mark 274 matches no ip rule');
    const s = await stats();
    assert.equal(s.xdp.meta_fail.packets, 0);
  });
});
