// pcc.test.ts - 3GPP input: rules given as TS 29.212 flow descriptions, and PCC rules
// (PUT/GET/DELETE /pcc-rules, gRPC UpsertPccRule/GetPccRule/ListPccRules/DeletePccRule)
// applied, replaced and deleted as one unit, with each filter's flows and counters; parse
// errors that name the filter and the token, with nothing written; real packets counted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import request from 'supertest';
import { call, startLabNode, type LabNode, type PcfClient } from './lib/cp.js';
import { datapathUnavailable, ROOT } from './lib/env.js';
import { CLIENT_IP, SERVER_IP, type Lab } from './lib/lab.js';
import { udpReceiver, udpSend } from './lib/traffic.js';

const why = datapathUnavailable();
if (why && process.env.CI === 'true') throw new Error(`PCC tests need the datapath under CI=true: ${why}`);

describe('3GPP flow descriptions and PCC rules', { skip: why ?? false }, () => {
  let lab: Lab;
  let rpc: PcfClient;
  let http: ReturnType<typeof request>;
  let node: LabNode;
  const snapshot = async () => ({
    flows: (await http.get('/flows?limit=1000').expect(200)).body.flows,
    pcc: (await http.get('/pcc-rules').expect(200)).body.pcc_rules.map((r: { pcc_rule_id: string; revision: number }) => [r.pcc_rule_id, r.revision]),
    revision: (await http.get('/stats').expect(200)).body.revision,
  });

  before(async () => {
    node = await startLabNode();
    ({ lab, rpc, http } = node);
  });
  after(async () => {
    await node?.close();
  });

  it('POST /flows with a flow description: one match, both forms in GET; read both ways it must go to a PCC rule', async () => {
    const r = await http.post('/flows').send({
      flow_description: 'permit out 17 from 198.18.1.0/24 1000-2000 to assigned 5000', flow_direction: 'UPLINK', ue_ip: CLIENT_IP,
      precedence: 40, action: { type: 'PASS' },
    }).expect(201);
    assert.deepEqual(r.body.match, { src: `${CLIENT_IP}/32`, dst: '198.18.1.0/24', src_ports: 5000, dst_ports: '1000-2000', proto: 17 }, 'UPLINK: source and destination swapped');
    assert.equal(r.body.flow_description, 'permit out 17 from 198.18.1.0/24 1000-2000 to assigned 5000');
    assert.equal(r.body.flow_direction, 'UPLINK');
    const g = await call(rpc, 'GetFlow', { id: r.body.id });
    assert.equal(g.flow_description, r.body.flow_description);
    assert.equal(g.flow_direction, 'UPLINK');
    const both = await http.post('/flows').send({ flow_description: 'permit out ip from any to 198.18.0.0/24', precedence: 1, action: { type: 'DROP' } }).expect(400);
    assert.equal(both.body.errors[0].field, 'flow_direction');
    assert.match(both.body.errors[0].message, /becomes 2 matches/);
    await http.delete(`/flows/${r.body.id}`).expect(204);
  });

  it('PUT /pcc-rules: 201 with each filter\'s flows; replaced (200) in one step, kept filters keep their flows; DELETE 204 then 404', async () => {
    const spec = {
      precedence: 30, ue_ip: CLIENT_IP, action: { type: 'DROP' },
      flow_infos: [
        { flow_description: 'permit out 17 from 198.18.1.0/24 to assigned 7500-7509', flow_direction: 'BIDIRECTIONAL' },
        { flow_description: 'permit out 6 from any 80,443 to assigned', flow_direction: 'DOWNLINK' },
      ],
    };
    const c = await http.put('/pcc-rules/video-1').send(spec).expect(201);
    assert.equal(c.headers.location, '/pcc-rules/video-1');
    assert.equal(c.body.pcc_rule_id, 'video-1');
    assert.deepEqual(c.body.flow_infos.map((f: { flows: unknown[] }) => f.flows.length), [2, 2], 'BIDIRECTIONAL: two matches; a port list of two: two matches');
    const [down, up] = c.body.flow_infos[0].flows;
    assert.deepEqual(down.match, { src: '198.18.1.0/24', dst: `${CLIENT_IP}/32`, dst_ports: '7500-7509', proto: 17 });
    assert.deepEqual(up.match, { src: `${CLIENT_IP}/32`, dst: '198.18.1.0/24', src_ports: '7500-7509', proto: 17 });
    assert.ok(c.body.flow_infos[0].flows.every((f: { precedence: number; pcc_rule_id: string }) => f.precedence === 30 && f.pcc_rule_id === 'video-1'));
    assert.deepEqual(c.body.counters, { packets: 0, bytes: 0 });

    const ids0 = c.body.flow_infos[0].flows.map((f: { id: number }) => f.id);
    const r = await http.put('/pcc-rules/video-1').send({ ...spec, flow_infos: [spec.flow_infos[0]] }).expect(200);
    assert.deepEqual(r.body.flow_infos[0].flows.map((f: { id: number }) => f.id), ids0, 'the kept filter kept its flows');
    const flows = (await http.get('/flows?limit=1000').expect(200)).body.flows.filter((f: { pcc_rule_id?: string }) => f.pcc_rule_id === 'video-1');
    assert.equal(flows.length, 2, 'the dropped filter\'s flows are gone');

    const l = await call(rpc, 'ListPccRules', {});
    assert.deepEqual(l.pcc_rules.map((p: { pcc_rule_id: string }) => p.pcc_rule_id), ['video-1']);
    assert.equal(l.pcc_rules[0].flow_infos[0].flow_direction, 'BIDIRECTIONAL');

    await http.delete('/pcc-rules/video-1').expect(204);
    await http.get('/pcc-rules/video-1').expect(404);
    await http.delete('/pcc-rules/video-1').expect(404);
    assert.equal((await http.get('/flows?limit=1000').expect(200)).body.flows.filter((f: { pcc_rule_id?: string }) => f.pcc_rule_id).length, 0);
  });

  it('gRPC: UpsertPccRule creates then replaces, GetPccRule, DeletePccRule; NOT_FOUND after', async () => {
    const req = { pcc_rule_id: 'voice-2', precedence: 5, action: { type: 'PASS', mark: 5 }, ue_ip: CLIENT_IP, flow_infos: [{ flow_description: 'permit out 17 from any to assigned 6000', flow_direction: 'DOWNLINK' }] };
    const a = await call(rpc, 'UpsertPccRule', req);
    assert.equal(a.created, true);
    assert.equal(a.pcc_rule.flow_infos[0].flows[0].match.dst, `${CLIENT_IP}/32`);
    const b = await call(rpc, 'UpsertPccRule', { ...req, precedence: 6 });
    assert.equal(b.created, false);
    const g = await call(rpc, 'GetPccRule', { pcc_rule_id: 'voice-2' });
    assert.equal(g.precedence, 6);
    assert.equal(g.flow_infos[0].flows[0].precedence, 6);
    await call(rpc, 'DeletePccRule', { pcc_rule_id: 'voice-2' });
    await assert.rejects(call(rpc, 'GetPccRule', { pcc_rule_id: 'voice-2' }), (e: { code: number }) => e.code === 5);
  });

  const parseErrors: [string, string, RegExp][] = [
    ['permit out 17 from 198.18.0.0/33 to assigned', 'flow_infos[1].flow_description', /"198\.18\.0\.0\/33": prefix length over 32$/],
    ['permit out 17 from 198.18.1.1/24 to assigned', 'flow_infos[1].flow_description', /"198\.18\.1\.1\/24": host bits set under \/24/],
    ['deny out 17 from any to assigned', 'flow_infos[1].flow_description', /"deny": only "permit"/],
    ['permit out 17 from any 2000-1000 to assigned', 'flow_infos[1].flow_description', /"2000-1000": reversed port range/],
    ['permit out 1 from any 80 to assigned', 'flow_infos[1].flow_description', /ports need a protocol with ports/],
    ['permit out 17 from 2001:2::/48 to assigned', 'flow_infos[1].flow_description', /IPv4|family/],
    ['permit out 17 from any to', 'flow_infos[1].flow_description', /expected/],
  ];
  for (const [text, field, message] of parseErrors) {
    it(`refuses "${text}": 400 / INVALID_ARGUMENT naming ${field} and the token, nothing written`, async () => {
      const before = await snapshot();
      const body = { precedence: 1, ue_ip: CLIENT_IP, action: { type: 'DROP' }, flow_infos: [{ flow_description: 'permit out 17 from any to assigned 9', flow_direction: 'DOWNLINK' }, { flow_description: text, flow_direction: 'DOWNLINK' }] };
      const r = await http.put('/pcc-rules/bad-1').send(body).expect(400);
      const e = r.body.errors.find((x: { field: string }) => x.field === field);
      assert.ok(e, JSON.stringify(r.body.errors));
      assert.match(e.message, message);
      await assert.rejects(call(rpc, 'UpsertPccRule', { pcc_rule_id: 'bad-1', ...body }), (err: { code: number; details: string }) => {
        assert.equal(err.code, 3);
        assert.ok(err.details.includes(`${field}: `), err.details);
        assert.match(err.details, message);
        return true;
      });
      assert.deepEqual(await snapshot(), before);
    });
  }

  it('refuses a bad direction, a bad id and an empty filter list, nothing written', async () => {
    const before = await snapshot();
    const ok = { precedence: 1, action: { type: 'DROP' }, flow_infos: [{ flow_description: 'permit out 17 from any to 198.18.0.1 9' }] };
    const d = await http.put('/pcc-rules/x').send({ ...ok, flow_infos: [{ ...ok.flow_infos[0], flow_direction: 'SIDEWAYS' }] }).expect(400);
    assert.equal(d.body.errors[0].field, 'flow_infos[0].flow_direction');
    await http.put('/pcc-rules/has%20space').send(ok).expect(400);
    const e = await http.put('/pcc-rules/x').send({ ...ok, flow_infos: [] }).expect(400);
    assert.equal(e.body.errors[0].field, 'flow_infos');
    await assert.rejects(call(rpc, 'UpsertPccRule', { pcc_rule_id: 'has space', ...ok }), (err: { code: number; details: string }) => err.code === 3 && /pcc_rule_id/.test(err.details));
    assert.deepEqual(await snapshot(), before);
  });

  it('a PCC rule\'s flows change only through it; a match another rule has is refused (409), nothing written', async () => {
    const own = await http.post('/flows').send({ match: { dst: `${CLIENT_IP}/32`, proto: 'udp', dst_ports: 6100 }, precedence: 3, action: { type: 'PASS' } }).expect(201);
    const before = await snapshot();
    const clash = await http.put('/pcc-rules/clash').send({ precedence: 3, ue_ip: CLIENT_IP, action: { type: 'DROP' }, flow_infos: [{ flow_description: 'permit out 17 from any to assigned 6100', flow_direction: 'DOWNLINK' }] }).expect(409);
    assert.equal(clash.body.errors[0].field, 'flow_infos[0].flow_description');
    assert.match(clash.body.errors[0].message, new RegExp(`flow ${own.body.id}, a rule of its own`));
    assert.deepEqual(await snapshot(), before);
    await http.delete(`/flows/${own.body.id}`).expect(204);

    const p = await http.put('/pcc-rules/owner').send({ precedence: 3, ue_ip: CLIENT_IP, action: { type: 'DROP' }, flow_infos: [{ flow_description: 'permit out 17 from any to assigned 6101', flow_direction: 'DOWNLINK' }] }).expect(201);
    const flow = p.body.flow_infos[0].flows[0];
    const del = await http.delete(`/flows/${flow.id}`).expect(409);
    assert.match(del.body.errors[0].message, /PCC rule "owner"/);
    const post = await http.post('/flows').send({ match: flow.match, precedence: 1, action: { type: 'PASS' } }).expect(409);
    assert.match(post.body.errors[0].message, /a filter of PCC rule "owner"/);
    await http.delete('/pcc-rules/owner').expect(204);
  });

  it('pcfctl: pcc put/get/list/del over REST and gRPC, a match rule with flows add, both shown', async () => {
    const env = { ...process.env, PCF_HTTP: `127.0.0.1:${node.cp.httpPort}`, PCF_GRPC: `127.0.0.1:${node.cp.grpcPort}` };
    const pcfctl = (...args: string[]) => promisify(execFile)(path.join(ROOT, 'bin/pcfctl'), args, { env });
    const put = await pcfctl('pcc', 'put', 'web-3', '--precedence', '9', '--action', 'DROP', '--ue-ip', CLIENT_IP, '--direction', 'DOWNLINK',
      '--flow', 'permit out 6 from 198.18.1.0/24 to assigned 8080', '--flow', 'permit out 17 from any to assigned 5000-5010');
    assert.match(put.stdout, /^created PCC rule web-3/);
    assert.match(put.stdout, /\[0\] permit out 6 from 198\.18\.1\.0\/24 to assigned 8080 \(DOWNLINK\)/);
    assert.match(put.stdout, /198\.18\.1\.0\/24 -> 198\.18\.0\.1\/32:8080 tcp prec 9/);
    const got = JSON.parse((await pcfctl('--transport', 'grpc', '--json', 'pcc', 'get', 'web-3')).stdout);
    assert.equal(got.flow_infos.length, 2);
    assert.equal(got.flow_infos[1].flows[0].match.dst_ports.first, 5000);
    assert.match((await pcfctl('--transport', 'grpc', 'pcc', 'list')).stdout, /web-3 +9 +2 +2 +DROP/);
    const add = await pcfctl('flows', 'add', '--src', '198.18.0.0/16', '--proto', 'udp', '--dst-ports', '2000-2999', '--precedence', '10', '--action', 'PASS');
    assert.match(add.stdout, /created flow \d+ {2}198\.18\.0\.0\/16 -> any:2000-2999 udp prec 10/);
    const add6 = await pcfctl('--transport', 'grpc', 'flows', 'add', '--dst', '2001:2:0:1::/64', '--proto', 'icmpv6', '--precedence', '11', '--action', 'DROP');
    assert.match(add6.stdout, /created flow \d+ {2}any -> 2001:2:0:1::\/64 icmpv6 prec 11/);
    await pcfctl('pcc', 'del', 'web-3');
    await assert.rejects(pcfctl('pcc', 'get', 'web-3'), (e: { code: number; stderr: string }) => e.code === 1 && /no PCC rule "web-3"/.test(e.stderr));
    for (const f of (await http.get('/flows?limit=1000').expect(200)).body.flows) await http.delete(`/flows/${f.id}`).expect(204);
  });

  it('real packets: a PCC rule\'s filters drop the flow both ways; GET shows each filter\'s counters and the sum', async () => {
    const p = await http.put('/pcc-rules/block-7600').send({
      precedence: 2, ue_ip: SERVER_IP, action: { type: 'DROP' },
      flow_infos: [{ flow_description: `permit out 17 from ${CLIENT_IP} to assigned 7600-7601`, flow_direction: 'DOWNLINK' },
        { flow_description: `permit out 17 from ${CLIENT_IP} to assigned 7602`, flow_direction: 'DOWNLINK' }],
    }).expect(201);
    const rx = await Promise.all([7600, 7602, 7603].map((port) => udpReceiver(lab, port)));
    await udpSend(lab, 7600, 25000, 40);
    await udpSend(lab, 7602, 25001, 30);
    await udpSend(lab, 7603, 25002, 20);
    const got = await Promise.all(rx.map((r) => r.result()));
    assert.deepEqual(got.map((g) => g.received), [0, 0, 20]);
    const g = (await http.get('/pcc-rules/block-7600').expect(200)).body;
    assert.deepEqual(g.flow_infos.map((f: { counters: { packets: number } }) => f.counters.packets), [40, 30]);
    assert.equal(g.counters.packets, 70);
    assert.ok(g.counters.bytes >= 70 * 42);
    assert.equal(p.body.flow_infos.length, 2);
    await http.delete('/pcc-rules/block-7600').expect(204);
  });
});
