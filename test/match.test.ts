// match.test.ts - rules with prefixes, port ranges, any-protocol and precedence: the API over
// REST and gRPC (normalized forms, every bad input named and nothing written, the
// classifier's limits), then real packets in a lab: IPv4 prefix and range rules, IPv6 rules,
// fragments under each fragment policy, and a batch swapping two overlapping rules'
// precedences under traffic, which no packet may see half-done.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { call, startLabNode, type LabNode, type PcfClient } from './lib/cp.js';
import { datapathUnavailable } from './lib/env.js';
import { CLIENT_IP, CLIENT_IP6, SERVER_IP, SERVER_IP6, type Lab } from './lib/lab.js';
import { tcpExchange, tcpServer, udpReceiver, udpSend } from './lib/traffic.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`match tests need the datapath under CI=true: ${why}`);

describe('rules with prefixes, ranges and precedence', { skip: why ?? false }, () => {
  let lab: Lab;
  let rpc: PcfClient;
  let http: ReturnType<typeof request>;
  let node: LabNode;
  const stats = async () => (await http.get('/stats?rules=true').expect(200)).body;
  const ruleCount = (s: any, id: number) => s.rules.find((r: { id: number }) => r.id === id)?.packets ?? 0;
  const clear = async () => {
    for (const f of (await http.get('/flows?limit=1000').expect(200)).body.flows) await http.delete(`/flows/${f.id}`).expect(204);
  };
  /** What a refused request must leave as it was. */
  const snapshot = async () => {
    const s = await stats();
    return { flows: (await http.get('/flows?limit=1000').expect(200)).body.flows, revision: s.revision, classifier: s.classifier };
  };

  before(async () => {
    node = await startLabNode();
    ({ lab, rpc, http } = node);
  });
  after(async () => {
    await node?.close();
  });

  describe('API', () => {
    it('a match rule: 201, normalized; the same match again is the same rule (200); over gRPC too', async () => {
      const body = { match: { src: '198.18.0.0/16', dst_ports: '2000-2999', proto: 'udp' }, precedence: 10, action: { type: 'DROP' } };
      const r1 = await http.post('/flows').send(body).expect(201);
      assert.deepEqual(r1.body.match, { src: '198.18.0.0/16', dst_ports: '2000-2999', proto: 17 });
      assert.equal(r1.body.precedence, 10);
      assert.equal(r1.body.key, undefined, 'a prefix rule has no exact key');
      const r2 = await http.post('/flows').send({ ...body, precedence: 20, match: { ...body.match, proto: 17 } }).expect(200);
      assert.equal(r2.body.id, r1.body.id);
      assert.equal(r2.body.precedence, 20);
      const v6 = await call(rpc, 'UpsertFlow', {
        match: { src: '2001:0002:0000:0000::/64', dst: '2001:2:0:1::1', dst_ports: { first: 443, last: 443 }, proto: 6 },
        precedence: 5, action: { type: 'PASS' },
      });
      assert.equal(v6.created, true);
      assert.deepEqual(v6.flow.match, { src: '2001:2::/64', dst: '2001:2:0:1::1/128', dst_ports: { first: 443, last: 443 }, proto: 6 });
      const got = (await http.get(`/flows/${v6.flow.id}`).expect(200)).body;
      assert.deepEqual(got.match, { src: '2001:2::/64', dst: '2001:2:0:1::1/128', dst_ports: 443, proto: 6 });
      const s = await stats();
      assert.equal(s.classifier.rules, 2);
      assert.ok(s.classifier.shapes >= 2 && s.classifier.max_shapes === 32 && s.classifier.max_rules_per_bucket === 16);
      assert.ok(s.classifier.generation >= 2, 'each change is a generation');
      await clear();
    });

    it('an exact key keeps its form; with a precedence it ranks among the prefix rules; key and match of one tuple are one rule', async () => {
      const key = { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 1234, dst_port: 80, proto: 'tcp' };
      const r1 = await http.post('/flows').send({ key, action: { type: 'PASS' } }).expect(201);
      assert.deepEqual(r1.body.key, { ...key, proto: 6 });
      assert.deepEqual(r1.body.match, { src: `${CLIENT_IP}/32`, dst: `${SERVER_IP}/32`, src_ports: 1234, dst_ports: 80, proto: 6 });
      assert.equal(r1.body.precedence, null);
      assert.equal((await stats()).classifier.rules, 0, 'without a precedence it is an exact-table rule');
      const r2 = await http.post('/flows').send({ match: r1.body.match, precedence: 7, action: { type: 'DROP' } }).expect(200);
      assert.equal(r2.body.id, r1.body.id, 'the same tuple as a match is the same rule');
      assert.deepEqual(r2.body.key, { ...key, proto: 6 });
      assert.equal((await stats()).classifier.rules, 1);
      const r3 = await http.post('/flows').send({ key, action: { type: 'PASS' } }).expect(200);
      assert.equal(r3.body.precedence, null);
      assert.equal((await stats()).classifier.rules, 0, 'back in the exact table');
      await clear();
    });

    const bad: [string, unknown, string, RegExp][] = [
      ['host bits under the length', { match: { src: '198.18.1.1/24' }, precedence: 1 }, 'match.src', /host bits set under \/24/],
      ['an IPv4 prefix over 32', { match: { dst: '198.18.0.0/33' }, precedence: 1 }, 'match.dst', /prefix length over 32/],
      ['an IPv6 prefix over 128', { match: { dst: '2001:2::/129' }, precedence: 1 }, 'match.dst', /prefix length over 128/],
      ['IPv4 and IPv6 in one match', { match: { src: '198.18.0.0/24', dst: '2001:2::/48' }, precedence: 1 }, 'match.dst', /one match is one family/],
      ['a reversed range', { match: { proto: 'udp', dst_ports: '3000-2000' }, precedence: 1 }, 'match.dst_ports', /reversed port range/],
      ['a port over 65535', { match: { proto: 'udp', src_ports: '1-70000' }, precedence: 1 }, 'match.src_ports', /over 65535/],
      ['ports with ICMP', { match: { proto: 'icmp', dst_ports: 80 }, precedence: 1 }, 'match.dst_ports', /ports need one protocol that has them/],
      ['ports with any protocol', { match: { src_ports: '1000-2000' }, precedence: 1 }, 'match.src_ports', /this match has any protocol/],
      ['ICMP with IPv6', { match: { src: '2001:2::/48', proto: 'icmp' }, precedence: 1 }, 'match.proto', /ICMPv6 is 58/],
      ['a prefix rule without a precedence', { match: { src: '198.18.0.0/24' } }, 'precedence', /required/],
      ['a precedence over 2^32-1', { match: { src: '198.18.0.0/24' }, precedence: 4294967296 }, 'precedence', /4294967295/],
      ['key and match together', { key: { src_ip: CLIENT_IP, dst_ip: SERVER_IP, src_port: 1, dst_port: 2, proto: 17 }, match: { proto: 17 } }, 'match', /give one of key/],
      ['an IPv4 NAT address on an IPv6 rule', { match: { src: '2001:2::/48', proto: 'udp' }, precedence: 1, action: { type: 'REDIRECT', nat: { dnat_ip: '198.18.1.9' } } }, 'action.nat.dnat_ip', /not an IPv6 address/],
      ['address NAT with any protocol', { match: { src: '198.18.0.0/24' }, precedence: 1, action: { type: 'REDIRECT', nat: { snat_ip: '198.18.0.9' } } }, 'action.nat', /one protocol whose checksums the worker updates/],
      ['an IPv6 NAT address on an IPv4 rule', { match: { src: '198.18.0.0/24', proto: 'udp' }, precedence: 1, action: { type: 'REDIRECT', nat: { snat_ip: '2001:2::9' } } }, 'action.nat.snat_ip', /not a dotted IPv4 address/],
    ];
    for (const [what, body, field, message] of bad) {
      it(`refuses ${what}: 400 naming ${field}, over REST and gRPC, nothing written`, async () => {
        const before = await snapshot();
        const full = { action: { type: 'DROP' }, ...(body as object) };
        const r = await http.post('/flows').send(full).expect(400);
        const e = r.body.errors.find((x: { field: string }) => x.field === field);
        assert.ok(e, `errors name ${field}: ${JSON.stringify(r.body.errors)}`);
        assert.match(e.message, message);
        // gRPC: the same rule as a message (ports as PortRange, proto as its number).
        const m = (full as { match?: Record<string, unknown> }).match;
        const asRange = (p: unknown) => (p === undefined ? undefined : typeof p === 'number' ? { first: p, last: p } : { first: Number(String(p).split('-')[0]), last: Number(String(p).split('-')[1]) });
        const protoNum = (p: unknown) => (p === 'udp' ? 17 : p === 'icmp' ? 1 : p);
        const msg = { ...full, ...(m ? { match: { ...m, src_ports: asRange(m.src_ports), dst_ports: asRange(m.dst_ports), proto: protoNum(m.proto) } } : {}) };
        if ((full as { precedence?: number }).precedence === 4294967296) return assert.deepEqual(await snapshot(), before); // uint32 cannot carry it
        await assert.rejects(call(rpc, 'UpsertFlow', msg), (err: { code: number; details: string }) => {
          assert.equal(err.code, 3, 'INVALID_ARGUMENT');
          assert.ok(err.details.includes(field), err.details);
          assert.match(err.details, message);
          return true;
        });
        assert.deepEqual(await snapshot(), before);
      });
    }

    it('gRPC validates a match against openapi.yaml like REST (one schema)', async () => {
      const before = await snapshot();
      await assert.rejects(call(rpc, 'UpsertFlow', { match: { src: 'x'.repeat(80) }, precedence: 1, action: { type: 'DROP' } }),
        (err: { code: number; details: string }) => err.code === 3 && /match\.src: must NOT have more than 64 characters/.test(err.details) && err.details.length < 400);
      assert.deepEqual(await snapshot(), before);
    });

    it('the classifier limits: a 33rd shape and a 17th rule in one bucket are refused (409, naming the rule), nothing written', async () => {
      // 32 shapes: source prefix lengths /16../32 and destination /16../30 with UDP.
      const shapes = [];
      for (let len = 16; len <= 32; len++) shapes.push({ match: { src: `198.18.0.0/${len}`, proto: 'udp' }, precedence: 100, action: { type: 'PASS' } });
      for (let len = 16; len <= 30; len++) shapes.push({ match: { dst: `198.18.0.0/${len}`, proto: 'udp' }, precedence: 100, action: { type: 'PASS' } });
      assert.equal(shapes.length, 32);
      const b = await call(rpc, 'BatchUpsertFlows', { flows: shapes.map((s) => ({ ...s, match: { ...s.match, proto: 17 } })) });
      assert.equal(b.created, 32);
      assert.equal((await stats()).classifier.shapes, 32);
      const metrics = (await http.get('/metrics').expect(200)).text;
      assert.match(metrics, /^pcf_classifier_shapes 32$/m);
      assert.match(metrics, /^pcf_classifier_shapes_max 32$/m);
      const before = await snapshot();
      const r = await http.post('/flows').send({ match: { dst: '198.18.0.0/31', proto: 'udp' }, precedence: 1, action: { type: 'DROP' } }).expect(409);
      assert.equal(r.body.errors[0].field, 'match');
      assert.match(r.body.errors[0].message, /at most 32 distinct match shapes/);
      const batch = [{ match: { src: '198.19.0.0/16', proto: 17 }, precedence: 1, action: { type: 'DROP' } }, { match: { dst: '198.18.0.0/31', proto: 17 }, precedence: 1, action: { type: 'DROP' } }];
      await assert.rejects(call(rpc, 'BatchUpsertFlows', { flows: batch }), (err: { code: number; details: string }) =>
        err.code === 8 && /flows\[1\]\.match: the classifier holds at most 32/.test(err.details));
      assert.deepEqual(await snapshot(), before, 'the refused rule and batch wrote nothing, not even their first rules');
      await clear();

      const ranges = Array.from({ length: 16 }, (_, i) => ({ match: { src: '198.18.0.0/24', proto: 'udp', dst_ports: `${1000 + 10 * i}-${1005 + 10 * i}` }, precedence: i, action: { type: 'PASS' } }));
      for (const x of ranges) await http.post('/flows').send(x).expect(201);
      assert.equal((await stats()).classifier.fullest_bucket, 16);
      const full = await snapshot();
      const r17 = await http.post('/flows').send({ match: { src: '198.18.0.0/24', proto: 'udp', dst_ports: '5000-5001' }, precedence: 1, action: { type: 'PASS' } }).expect(409);
      assert.match(r17.body.errors[0].message, /at most 16 rules may share one shape/);
      assert.deepEqual(await snapshot(), full);
      await clear();
    });
  });

  describe('real packets', () => {
    it('IPv4: a prefix + port-range DROP beats a wider PASS by precedence; outside the range the PASS takes it; counters equal packets', async () => {
      const drop = (await http.post('/flows').send({ match: { src: '198.18.0.0/24', dst: '198.18.1.0/24', proto: 'udp', dst_ports: '7100-7109' }, precedence: 10, action: { type: 'DROP' } }).expect(201)).body.id;
      const pass = (await http.post('/flows').send({ match: { src: '198.18.0.0/16', proto: 'udp' }, precedence: 20, action: { type: 'PASS' } }).expect(201)).body.id;
      const rx = await Promise.all([7100, 7109, 7110].map((p) => udpReceiver(lab, p)));
      const s0 = await stats();
      await udpSend(lab, 7100, 21000, 100);
      await udpSend(lab, 7109, 21001, 100);
      await udpSend(lab, 7110, 21002, 100);
      const [a, b, c] = await Promise.all(rx.map((r) => r.result()));
      assert.deepEqual([a.received, b.received, c.received], [0, 0, 100]);
      const s1 = await stats();
      assert.equal(ruleCount(s1, drop) - ruleCount(s0, drop), 200);
      assert.equal(ruleCount(s1, pass) - ruleCount(s0, pass), 100);
      assert.ok(s1.xdp.cache_hit.packets - s0.xdp.cache_hit.packets >= 290, 'a flow\'s later packets come from the flow cache');
      await clear();
    });

    it('IPv6: UDP to a prefix DROPs, another port PASSes with its rule counted, ICMPv6 echo by a port-less rule', async () => {
      const drop = (await http.post('/flows').send({ match: { src: '2001:2::/64', dst: '2001:2:0:1::/64', proto: 'udp', dst_ports: 7200 }, precedence: 1, action: { type: 'DROP' } }).expect(201)).body.id;
      const pass = (await http.post('/flows').send({ match: { src: '2001:2::/48', proto: 'udp' }, precedence: 2, action: { type: 'PASS', mark: 6 } }).expect(201)).body.id;
      const rx = await Promise.all([7200, 7201].map((p) => udpReceiver(lab, p)));
      const s0 = await stats();
      await udpSend(lab, 7200, 22000, 50, 1, SERVER_IP6);
      await udpSend(lab, 7201, 22001, 50, 1, SERVER_IP6);
      const [d, p] = await Promise.all(rx.map((r) => r.result()));
      assert.equal(d.received, 0, 'the IPv6 DROP rule drops in XDP');
      assert.equal(p.received, 50);
      assert.deepEqual(Object.keys(p.from), [`${CLIENT_IP6}:22001`]);
      const s1 = await stats();
      assert.equal(ruleCount(s1, drop) - ruleCount(s0, drop), 50);
      assert.equal(ruleCount(s1, pass) - ruleCount(s0, pass), 50);
      assert.equal(s1.xdp.rx_ipv6.packets - s0.xdp.rx_ipv6.packets, 100);
      const icmp = (await http.post('/flows').send({ match: { dst: `${SERVER_IP6}/128`, proto: 'icmpv6' }, precedence: 3, action: { type: 'DROP' } }).expect(201)).body.id;
      await assert.rejects(lab.exec(lab.client, 'ping', ['-6', '-c', '3', '-W', '1', '-i', '0.2', SERVER_IP6]));
      assert.equal(ruleCount(await stats(), icmp), 3);
      await clear();
      const ok = await lab.exec(lab.client, 'ping', ['-6', '-c', '2', '-W', '2', '-i', '0.2', SERVER_IP6]);
      assert.match(ok.stdout, /2 received/);
    });

    it('fragments: the first by its ports, the later ones by port-less rules, else the fragment action (default, drop, pass)', async () => {
      // A 3000-byte datagram leaves the client as 3 IPv4 fragments.
      const portRule = (await http.post('/flows').send({ match: { dst: `${SERVER_IP}/32`, proto: 'udp', dst_ports: 7300 }, precedence: 5, action: { type: 'PASS', mark: 9 } }).expect(201)).body.id;
      const run = async () => {
        const rx = await udpReceiver(lab, 7300);
        const s0 = await stats();
        await udpSend(lab, 7300, 23000, 10, 2, SERVER_IP, 3000);
        const r = await rx.result();
        const s1 = await stats();
        const d = (n: string) => s1.xdp[n].packets - s0.xdp[n].packets;
        return { received: r.received, first: d('frag_first'), later: d('frag_later'), rsn: d('rsn_fragment'), droppedUnparsed: d('drop_unparsed'), rule: ruleCount(s1, portRule) - ruleCount(s0, portRule) };
      };
      const dflt = await run();
      assert.deepEqual(dflt, { received: 10, first: 10, later: 20, rsn: 20, droppedUnparsed: 0, rule: 10 }, 'default: later fragments take the default action (pass)');

      await lab.loader('attach', '--fragments', 'drop');
      const dropped = await run();
      assert.deepEqual(dropped, { received: 0, first: 10, later: 20, rsn: 20, droppedUnparsed: 20, rule: 10 }, '--fragments drop: unmatched later fragments are dropped');

      // A port-less rule takes the later fragments even under --fragments drop.
      const portless = (await http.post('/flows').send({ match: { dst: `${SERVER_IP}/32`, proto: 'udp' }, precedence: 50, action: { type: 'PASS' } }).expect(201)).body.id;
      const matched = await run();
      assert.deepEqual({ ...matched, rule: undefined }, { received: 10, first: 10, later: 20, rsn: 0, droppedUnparsed: 0, rule: undefined });
      assert.equal(matched.rule, 10, 'first fragments: the port rule (precedence 5)');
      const s = await stats();
      assert.ok(ruleCount(s, portless) >= 20, 'later fragments: the port-less rule');
      await lab.loader('attach', '--fragments', 'default');
      await clear();
    });

    it('IPv6 TCP through a PASS rule with a mark: the connection works, and ip -6 rule fwmark sees the mark', async () => {
      const srv = await tcpServer(lab, 8600);
      try {
        const pass = (await http.post('/flows').send({ match: { dst: `${SERVER_IP6}/128`, proto: 'tcp', dst_ports: 8600 }, precedence: 1, action: { type: 'PASS', mark: 600 } }).expect(201)).body.id;
        const ok = await tcpExchange(lab, 8600, 31000, 5000, 5000, SERVER_IP6);
        assert.deepEqual(ok, { ok: true, echoed: 5000 });
        assert.ok(ruleCount(await stats(), pass) >= 5, 'the client\'s segments matched the IPv6 rule');
        // The mark is real: policy routing on it blackholes the server's /64.
        await lab.exec(lab.dut, 'ip', ['-6', 'route', 'add', 'blackhole', '2001:2:0:1::/64', 'table', '600']);
        await lab.exec(lab.dut, 'ip', ['-6', 'rule', 'add', 'fwmark', '600', 'lookup', '600']);
        const blocked = await tcpExchange(lab, 8600, 31001, 100, 1500, SERVER_IP6);
        assert.equal(blocked.ok, false);
        await lab.exec(lab.dut, 'ip', ['-6', 'rule', 'del', 'fwmark', '600', 'lookup', '600']);
        assert.equal((await stats()).xdp.meta_fail.packets, 0);
      } finally {
        srv.kill();
        await clear();
      }
    });

    it('--default drop: unmatched IPv6 is dropped too, a rule lets it through; --fragments pass lets later fragments by', async () => {
      await lab.loader('attach', '--default', 'drop', '--fragments', 'pass');
      try {
        const rx = await udpReceiver(lab, 7700);
        const s0 = await stats();
        await udpSend(lab, 7700, 26000, 20, 1, SERVER_IP6);
        assert.equal((await rx.result()).received, 0, 'no rule: dropped under --default drop');
        const s1 = await stats();
        assert.equal(s1.xdp.miss_drop.packets - s0.xdp.miss_drop.packets, 20);
        await http.post('/flows').send({ match: { src: '2001:2::/64', proto: 'udp', dst_ports: 7700 }, precedence: 1, action: { type: 'PASS' } }).expect(201);
        // A 3000-byte datagram: its first fragment matches the port rule, the later ones pass by --fragments pass.
        await http.post('/flows').send({ match: { src: `${CLIENT_IP}/32`, proto: 'udp', dst_ports: 7700 }, precedence: 1, action: { type: 'PASS' } }).expect(201);
        const rx2 = await udpReceiver(lab, 7700);
        await udpSend(lab, 7700, 26001, 20, 1, SERVER_IP6);
        await udpSend(lab, 7700, 26002, 5, 2, SERVER_IP, 3000);
        assert.equal((await rx2.result()).received, 25);
      } finally {
        await lab.loader('attach', '--default', 'pass', '--fragments', 'default');
        await clear();
      }
    });

    it('a batch swapping two overlapping rules\' precedences under traffic: no packet sees it half-done', async () => {
      // A (precedence 10) and B (30) both match the flow, and D (20) between them drops it.
      // Rule by rule, a swap would pass through A=30 with B still 30, where D wins and
      // packets vanish; as one batch, each packet sees A first or B first, never D.
      const m = { src: `${CLIENT_IP}/32`, dst: '198.18.1.0/24', proto: 17, dst_ports: { first: 7400, last: 7401 } };
      const specs = (pa: number, pb: number) => [
        { match: m, precedence: pa, action: { type: 'PASS' } },
        { match: { ...m, dst: `${SERVER_IP}/32` }, precedence: pb, action: { type: 'PASS' } },
      ];
      const mD = { src: `${CLIENT_IP}/32`, dst: '198.18.1.0/24', proto: 'udp', dst_ports: 7400 };
      const ids = (await call(rpc, 'BatchUpsertFlows', { flows: specs(10, 30) })).ids.map(Number);
      const d = (await http.post('/flows').send({ match: mD, precedence: 20, action: { type: 'DROP' } }).expect(201)).body.id;
      const rx = await udpReceiver(lab, 7400);
      const N = 2000;
      const sending = udpSend(lab, 7400, 24000, N, 1); // paced: the receiver keeps up while batches run
      let swaps = 0;
      let done = false;
      void sending.finally(() => (done = true));
      while (!done && swaps < 2000) {
        await call(rpc, 'BatchUpsertFlows', { flows: swaps % 2 ? specs(10, 30) : specs(30, 10) });
        swaps++;
      }
      await sending;
      const r = await rx.result();
      const s = await stats();
      assert.ok(swaps >= 20, `${swaps} swaps during the traffic`);
      assert.equal(ruleCount(s, d), 0, 'the rule between them never saw a packet');
      assert.equal(r.received, N, 'every packet passed');
      assert.equal(ruleCount(s, ids[0]) + ruleCount(s, ids[1]), N, 'each packet was taken by A or B');
      assert.ok(ruleCount(s, ids[0]) > 0 && ruleCount(s, ids[1]) > 0, 'both orders carried traffic');
      await clear();
    });
  });
});
