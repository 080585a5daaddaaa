/**
 * The native addon against real pinned maps: every test creates its maps with bpftool
 * (an independent writer and reader of the raw bytes) in a pin dir of its own under
 * /sys/fs/bpf, removed in after() whatever happens.
 *
 * Needs root, bpffs and bpftool; skips with the reason otherwise, fails instead when
 * CI=true. Run: node --import tsx --test test/native.test.ts
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';

import type * as NativeModule from '../native/index.js';
import type { FlowAction, FlowEntry, FlowKey, PinnedMap } from '../native/index.js';

const BPFFS = '/sys/fs/bpf';

function fsType(p: string): string {
  return execFileSync('stat', ['-f', '-c', '%T', p], { encoding: 'utf8' }).trim();
}

/** Why these tests cannot run here, or null. Mounts bpffs when it is missing. */
function environmentProblem(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (creating BPF maps needs CAP_BPF)';
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
  } catch {
    return 'bpftool is not installed';
  }
  try {
    if (fsType(BPFFS) !== 'bpf_fs') execFileSync('mount', ['-t', 'bpf', 'bpf', BPFFS]);
    if (fsType(BPFFS) !== 'bpf_fs') return `${BPFFS} is not bpffs and mounting it did nothing`;
  } catch (e) {
    return `cannot mount bpffs on ${BPFFS}: ${(e as Error).message}`;
  }
  return null;
}

const problem = environmentProblem();
if (problem && process.env.CI === 'true') {
  test('the BPF environment is usable (CI=true)', () => {
    assert.fail(`native tests cannot run: ${problem}`);
  });
}

// ---- helpers: bpftool as the independent side ---------------------------------------------

function bpftool(...args: string[]): string {
  return execFileSync('bpftool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

interface RawEntry {
  key: number[];
  value?: number[];
  values?: { cpu: number; value: number[] }[];
}

/** `bpftool map dump -j`, bytes as numbers, sorted by key: the map as the kernel holds it. */
function rawDump(pinned: string): RawEntry[] {
  const hex = (a: string[]) => a.map((b) => parseInt(b, 16));
  const raw = JSON.parse(bpftool('map', 'dump', 'pinned', pinned, '-j')) as {
    key: string[];
    value?: string[];
    values?: { cpu: number; value: string[] }[];
  }[];
  return raw
    .map((e) => ({
      key: hex(e.key),
      ...(e.value ? { value: hex(e.value) } : {}),
      ...(e.values ? { values: e.values.map((v) => ({ cpu: v.cpu, value: hex(v.value) })) } : {}),
    }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
}

/** Host-order integers as byte lists for `bpftool map update ... value`. */
function uint(n: number | bigint, size: number): number[] {
  const b = Buffer.alloc(size);
  if (size === 8) b.writeBigUInt64LE(BigInt(n));
  else if (size === 4) b.writeUInt32LE(Number(n));
  else throw new Error('size');
  if (os.endianness() === 'BE') b.reverse();
  return [...b];
}

function bpftoolUpdate(pinned: string, key: number[], value: number[]): void {
  bpftool('map', 'update', 'pinned', pinned, 'key', ...key.map(String), 'value', ...value.map(String));
}

/** CPUs in /sys/devices/system/cpu/possible ("0-3,6"), counted without libbpf. */
function possibleCpusFromSysfs(): number {
  const text = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  return text.split(',').reduce((n, part) => {
    const [lo, hi] = part.split('-').map(Number);
    return n + (hi === undefined ? 1 : hi - lo + 1);
  }, 0);
}

function keyOf(src: string, srcPort: number, proto = 6, dst = '198.18.1.1', dstPort = 80): FlowKey {
  return { srcIp: src, dstIp: dst, srcPort, dstPort, proto };
}

/** A plain action; the slot defaults to the mirror of the id, so the two never coincide. */
function plain(ruleId: number, type: FlowAction['type'] = 'PASS', statsSlot = 2 ** 32 - 1 - ruleId): FlowAction {
  return {
    ruleId,
    statsSlot,
    type,
    ttlDelta: 0,
    mark: null,
    queueId: null,
    snatIp: null,
    snatPort: null,
    dnatIp: null,
    dnatPort: null,
    mirror: false,
  };
}

function sortEntries(entries: FlowEntry[]): FlowEntry[] {
  const k = (e: FlowEntry) => JSON.stringify(e.key);
  return [...entries].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
}

/** Asserts the error is a PcfSystemError for `op` on `p` with the given code. */
function isSysError(code: string, errno: number, op: string, p: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof Error, 'an Error');
    const err = e as NativeModule.PcfSystemError;
    assert.equal(err.code, code, err.message);
    assert.equal(err.errno, errno);
    assert.equal(err.op, op);
    assert.equal(err.path, p);
    assert.equal(typeof err.syscall, 'string');
    assert.ok(err.message.includes(op) && err.message.includes(p), err.message);
    return true;
  };
}

function isArgError(field: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof TypeError, `a TypeError, got ${String(e)}`);
    const err = e as NativeModule.PcfArgumentError;
    assert.equal(err.code, 'ERR_PCF_INVALID_ARG');
    assert.equal(err.field, field, err.message);
    assert.ok(err.message.startsWith(field), err.message);
    return true;
  };
}

// ---- the tests ------------------------------------------------------------------------------

describe('native addon over pinned BPF maps', { skip: problem ? `needs root, bpffs and bpftool: ${problem}` : false }, () => {
  let native: typeof NativeModule;
  let dir = '';
  const opened: PinnedMap[] = [];

  /** Creates a map with bpftool, pinned at dir/file. */
  function createMap(file: string, type: string, key: number, value: number, entries: number, flags = 0): string {
    const p = path.join(dir, file);
    const name = file.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 15);
    bpftool('map', 'create', p, 'type', type, 'key', String(key), 'value', String(value),
      'entries', String(entries), 'name', name, 'flags', String(flags));
    return p;
  }

  function track<T extends PinnedMap>(m: T): T {
    opened.push(m);
    return m;
  }

  const flowMap = (file: string, entries = 8, flags = 0) =>
    track(new native.FlowMap(createMap(file, 'hash', 16, 28, entries, flags)));

  before(async () => {
    native = await import('../native/index.js');
    dir = path.join(BPFFS, `pcf-native-test-${process.pid}-${randomBytes(4).toString('hex')}`);
    fs.mkdirSync(dir);
  });

  after(() => {
    native?._testing.setBatchSyscalls(true);
    for (const m of opened) m.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('opens a pinned map and reports its info', () => {
    const p = createMap('pcf_flow_map', 'hash', 16, 28, 8);
    const m = track(new native.FlowMap(p));
    const shown = JSON.parse(bpftool('map', 'show', 'pinned', p, '-j')) as { id: number };
    assert.equal(m.id, shown.id);
    assert.equal(m.path, p);
    assert.equal(m.name, 'pcf_flow_map');
    assert.equal(m.type, 1); // BPF_MAP_TYPE_HASH
    assert.equal(m.typeName, 'hash');
    assert.equal(m.keySize, 16);
    assert.equal(m.valueSize, 28);
    assert.equal(m.maxEntries, 8);
    assert.equal(m.closed, false);
    assert.equal(native.pinnedMapId(p), m.id);
    assert.deepEqual(m.listFlows(), []);
    const viaOpen = track(native.FlowMap.open(p));
    assert.ok(viaOpen instanceof native.FlowMap);
    assert.equal(viaOpen.id, m.id);
  });

  test('exports the names of pcf_common.h', () => {
    assert.deepEqual(native.pinNames, {
      flowMap: 'pcf_flow_map',
      stats: 'pcf_stats',
      ruleStats: 'pcf_rule_stats',
      xskmap: 'pcf_xskmap',
      config: 'pcf_config',
      events: 'pcf_events',
      eventConfig: 'pcf_event_config',
    });
    assert.equal(native.pinPaths('/x').flowMap, '/x/pcf_flow_map');
    assert.equal(native.defaultPinDir, '/sys/fs/bpf/pcf');
    assert.equal(native.maxQueues, 64);
    assert.equal(native.counterNames[0], 'rx');
    assert.deepEqual(native.counterNames.slice(-4), ['meta_fail', 'event_sent', 'event_limited', 'event_lost']);
    assert.equal(native.counterNames.length, 31); // PCF_COUNTER_TABLE: 17 before IPv6, fragments, the classifier and packet events
    assert.ok(Object.isFrozen(native.counterNames));
  });

  // Every field, its edges, and null vs 0 where they differ.
  const redirect: FlowEntry = {
    key: keyOf('198.18.0.1', 1234, 6, '198.18.1.1', 80),
    action: {
      ruleId: 7,
      statsSlot: 131071,
      type: 'REDIRECT',
      ttlDelta: -1,
      mark: 0x42,
      queueId: 3,
      snatIp: '198.18.1.254',
      snatPort: 40000,
      dnatIp: null,
      dnatPort: 8080,
      mirror: true,
    },
  };
  const variety: FlowEntry[] = [
    { key: keyOf('198.18.0.2', 65535, 17, '198.18.1.2', 0), action: { ...plain(1), mark: 0, ttlDelta: 127 } },
    { key: keyOf('198.18.0.3', 0, 1, '198.18.1.3', 0), action: { ...plain(4294967295, 'DROP'), mark: 0xffffffff } }, // slot 0
    { key: keyOf('198.18.0.4', 4, 17), action: plain(0, 'DROP', 4294967295) },
    {
      key: keyOf('0.0.0.0', 1, 132, '255.255.255.255', 2),
      action: { ...plain(3, 'REDIRECT'), queueId: 0, ttlDelta: -128, dnatIp: '10.0.0.1', snatPort: 1 },
    },
    { key: keyOf('198.18.0.5', 5, 6), action: { ...plain(5, 'REDIRECT'), queueId: 63, snatIp: '198.18.9.9', dnatPort: 65535 } },
  ];

  test('upserts one entry and a batch, and reads every field back', () => {
    const m = flowMap('roundtrip');
    assert.deepEqual(m.upsertFlows(redirect), { inserted: 1, replaced: 0 });
    assert.deepEqual(m.lookupFlow(redirect.key), redirect.action);
    assert.deepEqual(m.upsertFlows(variety), { inserted: 5, replaced: 0 });
    for (const e of variety) assert.deepEqual(m.lookupFlow(e.key), e.action, JSON.stringify(e.key));
    assert.deepEqual(sortEntries(m.listFlows()), sortEntries([redirect, ...variety]));
    assert.equal(m.countFlows(), 6);
    assert.deepEqual(
      m.listFlowKeys().map((k) => JSON.stringify(k)).sort(),
      [redirect, ...variety].map((e) => JSON.stringify(e.key)).sort(),
    );

    // replace, and a key given twice keeps its last action
    const changed = { key: variety[0].key, action: plain(11, 'DROP') };
    assert.deepEqual(m.upsertFlows([{ key: variety[0].key, action: plain(10) }, changed]), { inserted: 0, replaced: 1 });
    assert.deepEqual(m.lookupFlow(variety[0].key), changed.action);
    assert.equal(m.lookupFlow(keyOf('198.18.0.99', 1)), null);
    assert.deepEqual(m.upsertFlows([]), { inserted: 0, replaced: 0 });
  });

  test('packs keys and actions in network order as pcf_common.h lays them out', () => {
    const m = flowMap('layout');
    m.upsertFlows(redirect);
    const [e] = rawDump(m.path);
    // struct pcf_flow_key: src_ip, dst_ip, src_port, dst_port (network order), proto, pad[3]
    assert.deepEqual(e.key, [198, 18, 0, 1, 198, 18, 1, 1, 0x04, 0xd2, 0x00, 0x50, 6, 0, 0, 0]);
    // struct pcf_flow_action (28 bytes): rule_id, stats_slot (host), type, ttl_delta, flags,
    // queue_id, mark (host), snat_ip, dnat_ip, snat_port, dnat_port (network order)
    const flags = 0x1 | 0x2 | 0x4 | 0x8; // SNAT | DNAT (port only) | MARK | MIRROR
    assert.equal(e.value?.length, 28);
    assert.deepEqual(e.value, [
      ...uint(7, 4), ...uint(131071, 4), 2, 0xff, flags, 3,
      ...uint(0x42, 4),
      198, 18, 1, 254,
      0, 0, 0, 0,
      0x9c, 0x40,
      0x1f, 0x90,
    ]);

    const m2 = flowMap('layout2');
    m2.upsertFlows({ key: redirect.key, action: plain(1, 'PASS', 0x01020304) });
    // no flags, queue_id PCF_QUEUE_ANY, NAT and mark zero
    assert.deepEqual(rawDump(m2.path)[0].value, [...uint(1, 4), ...uint(0x01020304, 4), 0, 0, 0, 0xff, ...new Array(16).fill(0)]);

    // statsSlot comes back from what the kernel holds, not from a cache: bpftool writes it
    const raw = rawDump(m2.path)[0];
    bpftoolUpdate(m2.path, raw.key, [...uint(1, 4), ...uint(4294967295, 4), ...raw.value!.slice(8)]);
    assert.deepEqual(m2.lookupFlow(redirect.key), plain(1, 'PASS', 4294967295));
    assert.deepEqual(m2.listFlows()[0].action.statsSlot, 4294967295);
  });

  test('deletes one or many keys, skipping absent ones', () => {
    const m = flowMap('delete');
    m.upsertFlows([redirect, ...variety]);
    assert.equal(m.deleteFlows(redirect.key), 1);
    assert.equal(m.lookupFlow(redirect.key), null);
    assert.equal(m.deleteFlows([variety[0].key, variety[0].key, redirect.key, variety[1].key]), 2);
    assert.deepEqual(sortEntries(m.listFlows()), sortEntries(variety.slice(2)));
    assert.equal(m.deleteFlows([]), 0);
    assert.equal(m.deleteFlows(variety.slice(2).map((e) => e.key)), 3);
    assert.deepEqual(rawDump(m.path), []);
  });

  test('the per-element fallback path behaves the same', () => {
    native._testing.setBatchSyscalls(false);
    try {
      const m = flowMap('per_elem');
      assert.deepEqual(m.upsertFlows([redirect, ...variety]), { inserted: 6, replaced: 0 });
      assert.deepEqual(sortEntries(m.listFlows()), sortEntries([redirect, ...variety]));
      assert.equal(m.listFlowKeys().length, 6);
      assert.equal(m.deleteFlows([redirect.key, keyOf('9.9.9.9', 9)]), 1);
      assert.deepEqual(sortEntries(m.listFlows()), sortEntries(variety));
    } finally {
      native._testing.setBatchSyscalls(true);
    }
  });

  test('lists and deletes thousands of entries (several batch chunks)', () => {
    const m = flowMap('big', 10000);
    const entries: FlowEntry[] = [];
    for (let i = 0; i < 9000; i++)
      entries.push({ key: keyOf(`198.18.${i >> 8}.${i & 255}`, 1024 + i, 17), action: plain(i + 1) });
    assert.deepEqual(m.upsertFlows(entries), { inserted: 9000, replaced: 0 });
    const listed = m.listFlows();
    assert.equal(listed.length, 9000);
    assert.equal(m.countFlows(), 9000);
    assert.deepEqual(sortEntries(listed), sortEntries(entries));
    native._testing.setBatchSyscalls(false);
    try {
      assert.equal(m.listFlowKeys().length, 9000);
    } finally {
      native._testing.setBatchSyscalls(true);
    }
    assert.equal(m.deleteFlows(entries.map((e) => e.key)), 9000);
    assert.deepEqual(m.listFlows(), []);
  });

  // A map of 8 holding 5; the batch replaces two of them and adds 5 new keys: the 6th
  // element of the batch (index 5) hits the full map.
  for (const variant of [
    { name: 'batch, preallocated', file: 'full_batch', flags: 0, batch: true, syscall: 'bpf_map_update_batch' },
    { name: 'batch, BPF_F_NO_PREALLOC', file: 'full_nopre', flags: 1, batch: true, syscall: 'bpf_map_update_batch' },
    { name: 'per element', file: 'full_elem', flags: 0, batch: false, syscall: 'bpf_map_update_elem' },
  ]) {
    test(`a batch that overflows the map throws and leaves it as it was (${variant.name})`, () => {
      const m = flowMap(variant.file, 8, variant.flags);
      const base = [0, 1, 2, 3, 4].map((i) => ({ key: keyOf(`198.18.0.${10 + i}`, 1000 + i), action: plain(100 + i) }));
      m.upsertFlows(base);
      const rawBefore = rawDump(m.path);
      const listBefore = sortEntries(m.listFlows());
      const fresh = (i: number) => ({ key: keyOf(`198.18.2.${i}`, 2000 + i), action: plain(200 + i, 'DROP') });
      const batch = [
        { key: base[0].key, action: plain(900, 'DROP') },
        fresh(1), fresh(2), fresh(3),
        { key: base[1].key, action: { ...plain(901, 'REDIRECT'), dnatIp: '10.1.1.1' } },
        fresh(4), fresh(5),
      ];
      native._testing.setBatchSyscalls(variant.batch);
      try {
        assert.throws(() => m.upsertFlows(batch), (e: unknown) => {
          isSysError('E2BIG', 7, 'upsertFlows', m.path)(e);
          const err = e as NativeModule.PcfSystemError;
          assert.equal(err.syscall, variant.syscall);
          assert.equal(err.index, 5);
          assert.equal(err.rolledBack, true);
          assert.ok(native.isPcfSystemError(e));
          return true;
        });
      } finally {
        native._testing.setBatchSyscalls(true);
      }
      assert.deepEqual(rawDump(m.path), rawBefore);
      assert.deepEqual(sortEntries(m.listFlows()), listBefore);

      // bigger than the whole map, into an empty one
      const empty = flowMap(`${variant.file}_e`, 8, variant.flags);
      assert.throws(() => empty.upsertFlows([1, 2, 3, 4, 5, 6, 7, 8, 9].map(fresh)), isSysError('E2BIG', 7, 'upsertFlows', empty.path));
      assert.deepEqual(rawDump(empty.path), []);
    });
  }

  test('bad arguments throw a TypeError naming the field and write nothing', () => {
    const m = flowMap('invalid');
    const ok = { key: keyOf('198.18.0.1', 1), action: plain(1) };
    const cases: [string, (e: FlowEntry) => unknown][] = [
      ['key.srcIp', (e) => ({ ...e, key: { ...e.key, srcIp: '198.18.0' } })],
      ['key.srcIp', (e) => ({ ...e, key: { ...e.key, srcIp: '198.18.0.01' } })],
      ['key.dstIp', (e) => ({ ...e, key: { ...e.key, dstIp: 3323068417 } })],
      ['key.srcPort', (e) => ({ ...e, key: { ...e.key, srcPort: 65536 } })],
      ['key.dstPort', (e) => ({ ...e, key: { ...e.key, dstPort: -1 } })],
      ['key.dstPort', (e) => ({ ...e, key: { ...e.key, dstPort: 1.5 } })],
      ['key.proto', (e) => ({ ...e, key: { ...e.key, proto: 256 } })],
      ['key', (e) => ({ ...e, key: undefined })],
      ['action.type', (e) => ({ ...e, action: { ...e.action, type: 'ACCEPT' } })],
      ['action.ruleId', (e) => ({ ...e, action: { ...e.action, ruleId: 2 ** 32 } })],
      ['action.ruleId', (e) => ({ ...e, action: { ...e.action, ruleId: '1' } })],
      ['action.statsSlot', (e) => ({ ...e, action: { ...e.action, statsSlot: undefined } })],
      ['action.statsSlot', (e) => ({ ...e, action: { ...e.action, statsSlot: 2 ** 32 } })],
      ['action.statsSlot', (e) => ({ ...e, action: { ...e.action, statsSlot: -1 } })],
      ['action.statsSlot', (e) => ({ ...e, action: { ...e.action, statsSlot: 0.5 } })],
      ['action.statsSlot', (e) => ({ ...e, action: { ...e.action, statsSlot: '3' } })],
      ['action.ttlDelta', (e) => ({ ...e, action: { ...e.action, ttlDelta: 128 } })],
      ['action.mark', (e) => ({ ...e, action: { ...e.action, mark: -1 } })],
      ['action.queueId', (e) => ({ ...e, action: { ...e.action, queueId: 255 } })], // PCF_QUEUE_ANY: null's encoding
      ['action.snatIp', (e) => ({ ...e, action: { ...e.action, snatIp: '198.18.0.256' } })],
      ['action.snatPort', (e) => ({ ...e, action: { ...e.action, snatPort: -1 } })],
      ['action.dnatIp', (e) => ({ ...e, action: { ...e.action, dnatIp: '1.2.3.4.5' } })],
      ['action.dnatPort', (e) => ({ ...e, action: { ...e.action, dnatPort: 65536 } })],
      ['action.mirror', (e) => ({ ...e, action: { ...e.action, mirror: 'yes' } })],
    ];
    const bad = { key: keyOf('198.18.0.2', 2), action: plain(2) };
    for (const [field, mutate] of cases) {
      assert.throws(() => m.upsertFlows([ok, mutate(bad)] as FlowEntry[]), isArgError(`entries[1].${field}`));
    }
    // a single entry (not an array) is named without an index
    assert.throws(() => m.upsertFlows({ ...ok, key: { ...ok.key, srcPort: 70000 } }), isArgError('entries.key.srcPort'));
    assert.throws(() => m.lookupFlow({ ...ok.key, srcIp: 'x' }), isArgError('key.srcIp'));
    assert.throws(() => m.deleteFlows([ok.key, { ...ok.key, proto: -1 }]), isArgError('keys[1].proto'));
    assert.deepEqual(rawDump(m.path), []);
  });

  test('upsertFlows reads any shape of argument as the addon always did', () => {
    const m = flowMap('shapes');
    const ok = { key: keyOf('198.18.0.1', 1), action: plain(1) };
    const bad = { key: keyOf('198.18.0.2', 2), action: plain(2) };
    const cases: [string, unknown][] = [
      ['entries[1]', 5],
      ['entries[1]', null],
      ['entries[1]', [ok]],
      ['entries[1].key', { ...bad, key: [198, 18, 0, 2] }],
      ['entries[1].key', { ...bad, key: 'k' }],
      ['entries[1].action', { ...bad, action: null }],
      ['entries[1].key.srcIp', { ...bad, key: { ...bad.key, srcIp: Symbol('ip') } }],
      ['entries[1].key.srcIp', { ...bad, key: { ...bad.key, srcIp: '198.18.0.2\0x' } }], // a NUL hid the rest
      ['entries[1].key.dstIp', { ...bad, key: { ...bad.key, dstIp: '198.18.0.2'.repeat(4) } }],
      ['entries[1].key.srcPort', { ...bad, key: { ...bad.key, srcPort: '2' } }],
      ['entries[1].key.proto', { ...bad, key: { ...bad.key, proto: NaN } }],
      ['entries[1].action.ruleId', { ...bad, action: { ...bad.action, ruleId: 2n } }],
      ['entries[1].action.ruleId', { ...bad, action: { ...bad.action, ruleId: Infinity } }],
      ['entries[1].action.type', { ...bad, action: { ...bad.action, type: 'PASS\0' } }],
      ['entries[1].action.type', { ...bad, action: { ...bad.action, type: ['PASS'] } }],
      ['entries[1].action.mark', { ...bad, action: { ...bad.action, mark: true } }],
      ['entries[1].action.mirror', { ...bad, action: { ...bad.action, mirror: null } }],
      ['entries[1].action.mirror', { ...bad, action: { ...bad.action, mirror: 1 } }],
    ];
    for (const [field, entry] of cases)
      assert.throws(() => m.upsertFlows([ok, entry] as FlowEntry[]), isArgError(field), field);
    assert.throws(() => m.upsertFlows(7 as unknown as FlowEntry), isArgError('entries'));
    // a getter that throws: its exception, untouched
    const boom = new Error('boom');
    const getter = { key: ok.key, get action(): FlowAction { throw boom; } };
    assert.throws(() => m.upsertFlows([ok, getter]), (e: unknown) => e === boom);
    assert.deepEqual(rawDump(m.path), []);

    // inherited properties, functions as objects, absent optional fields: as before
    const inherited = Object.create({ key: keyOf('198.18.0.3', 3) }) as FlowEntry;
    inherited.action = plain(3);
    const fnKey = Object.assign(() => 0, keyOf('198.18.0.4', 4));
    const sparse = { key: keyOf('198.18.0.5', 5), action: { ruleId: 5, statsSlot: 5, type: 'DROP' } as FlowAction };
    const nulls = { key: keyOf('198.18.0.6', 6), action: { ...plain(6), ttlDelta: null as unknown as number, mirror: undefined as unknown as boolean } };
    assert.deepEqual(m.upsertFlows([inherited, { key: fnKey as unknown as FlowKey, action: plain(4) }, sparse, nulls]), { inserted: 4, replaced: 0 });
    assert.deepEqual(m.lookupFlow(keyOf('198.18.0.3', 3)), plain(3));
    assert.deepEqual(m.lookupFlow(keyOf('198.18.0.4', 4)), plain(4));
    assert.deepEqual(m.lookupFlow(sparse.key), plain(5, 'DROP', 5));
    assert.deepEqual(m.lookupFlow(nulls.key), plain(6));
  });

  test('upsertFlows refuses columns it cannot trust (only native/index.ts makes them)', () => {
    const m = flowMap('columns');
    const raw = m as unknown as { _upsertFlows(...args: unknown[]): unknown };
    const bad = (re: RegExp) => (e: unknown) => {
      assert.ok(e instanceof Error && !(e instanceof TypeError), String(e));
      assert.match((e as Error).message, re);
      return true;
    };
    const kinds = (fill: number, n = 19) => new Uint8Array(n).fill(fill);
    assert.throws(() => raw._upsertFlows(true, [5], new Float64Array(0), []), bad(/kinds is not a Uint8Array/));
    assert.throws(() => raw._upsertFlows(true, kinds(5), new Uint32Array(19), []), bad(/nums is not a Float64Array/));
    assert.throws(() => raw._upsertFlows(true, kinds(6), new Float64Array(0), 'x'), bad(/strs is not an Array/));
    assert.throws(() => raw._upsertFlows(true, kinds(5, 18), new Float64Array(19), []), bad(/whole entries/));
    assert.throws(() => raw._upsertFlows(true, kinds(5), new Float64Array(3), []), bad(/fewer numbers/));
    assert.throws(() => raw._upsertFlows(true, kinds(6), new Float64Array(0), ['a']), bad(/fewer strings/));
    assert.throws(() => raw._upsertFlows(true, kinds(9), new Float64Array(0), []), bad(/unknown kind/));
    assert.deepEqual(rawDump(m.path), []);
  });

  // upsertFlows reads the old values of the keys it writes (for the restore) with a lookup
  // per key when the batch has fewer keys than a third of the map's max_entries, with one
  // dump of the map otherwise: both must restore it exactly. A map of 40 holding 36.
  for (const variant of [
    { name: 'a lookup per key', file: 'rb_lookup', fresh: 5, replaced: 3 }, // 8 keys: 24 < 40
    { name: 'one dump of the map', file: 'rb_dump', fresh: 11, replaced: 10 }, // 14 keys or more
  ]) {
    test(`upsertFlows restores replaced and inserted keys alike (${variant.name})`, () => {
      const m = flowMap(variant.file, 40);
      const base = Array.from({ length: 36 }, (_, i) => ({ key: keyOf(`198.18.3.${i}`, 3000 + i), action: plain(300 + i) }));
      m.upsertFlows(base);
      const rawBefore = rawDump(m.path);
      const fresh = (i: number) => ({ key: keyOf(`198.18.4.${i}`, 4000 + i), action: plain(400 + i, 'DROP') });
      // replaced keys before, between and after the new ones; a key twice keeps its last action
      const batch: FlowEntry[] = [
        { key: base[7].key, action: plain(907) },
        fresh(0),
        { key: base[20].key, action: plain(920, 'REDIRECT') },
        fresh(1), fresh(2),
        { key: base[7].key, action: plain(1907, 'DROP') },
        fresh(3),
        ...Array.from({ length: variant.fresh - 4 }, (_, i) => fresh(4 + i)),
        { key: base[35].key, action: plain(935) },
      ];
      // a bad entry last: nothing written (while the dump runs, in the second variant)
      const badType = { key: keyOf('198.18.5.1', 1), action: { ...plain(1), type: 'NOPE' as FlowAction['type'] } };
      assert.throws(() => m.upsertFlows([...batch, badType]), isArgError(`entries[${batch.length}].action.type`));
      assert.deepEqual(rawDump(m.path), rawBefore);
      assert.throws(() => m.upsertFlows(batch), (e: unknown) => {
        isSysError('E2BIG', 7, 'upsertFlows', m.path)(e);
        const err = e as NativeModule.PcfSystemError;
        assert.equal(err.index, 7); // fresh(4): the fifth new key
        assert.equal(err.rolledBack, true);
        return true;
      });
      assert.deepEqual(rawDump(m.path), rawBefore);

      // with room for them: the counts, and every value as written
      const others = base.slice(21, 21 + variant.replaced - 3).map((e) => ({ key: e.key, action: plain(9000, 'DROP') }));
      const fits = [...batch.slice(0, 7), ...others, batch.at(-1)!];
      assert.deepEqual(m.upsertFlows(fits), { inserted: 4, replaced: variant.replaced });
      assert.deepEqual(m.lookupFlow(base[7].key), plain(1907, 'DROP'));
      assert.deepEqual(m.lookupFlow(base[20].key), plain(920, 'REDIRECT'));
      assert.deepEqual(m.lookupFlow(base[35].key), plain(935));
      assert.deepEqual(m.lookupFlow(base[6].key), plain(306));
      for (const e of others) assert.deepEqual(m.lookupFlow(e.key), e.action);
      for (let i = 0; i < 4; i++) assert.deepEqual(m.lookupFlow(fresh(i).key), fresh(i).action);
      assert.equal(m.countFlows(), 40);
    });
  }

  test('writeFlows: 1,000 entries in, then replaced, without a restore: a map that fills midway keeps what went in (rolledBack false, index)', () => {
    const m = flowMap('write_flows', 1500);
    const ip = (i: number) => `10.0.${(i >> 8) & 255}.${i & 255}`;
    const entries: FlowEntry[] = Array.from({ length: 1000 }, (_, i) => ({ key: keyOf(ip(i), 1000 + i, 17), action: plain(i + 1) }));
    assert.equal(m.writeFlows(entries), 1000);
    assert.equal(m.countFlows(), 1000);
    assert.equal(m.writeFlows(entries.map((e) => ({ ...e, action: { ...e.action, type: 'DROP' as const } }))), 1000);
    assert.deepEqual(m.lookupFlow(entries[999].key), { ...entries[999].action, type: 'DROP' });
    const more: FlowEntry[] = Array.from({ length: 1000 }, (_, i) => ({ key: keyOf(ip(1000 + i), 1, 6), action: plain(5000 + i) }));
    assert.throws(() => m.writeFlows(more), (e: unknown) => {
      isSysError('E2BIG', 7, 'writeFlows', m.path)(e);
      assert.equal((e as NativeModule.PcfSystemError).rolledBack, false);
      assert.equal((e as NativeModule.PcfSystemError).index, 500);
      return true;
    });
    assert.equal(m.countFlows(), 1500, 'what went in before the map filled stays: the caller reconciles');
    assert.throws(() => m.writeFlows([{ key: keyOf('10.9.9.9', 1), action: { ...plain(1), type: 'NOPE' as never } }]), /entries\[0\]\.action\.type/);
  });

  test('100,000 entries into a map of 131072: inserted, replaced, restored', () => {
    const n = 100_000;
    const m = flowMap('big_upsert', 131072);
    const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const entries: FlowEntry[] = Array.from({ length: n }, (_, i) => ({
      key: keyOf(ip(i), i & 0xffff, 17),
      action: { ...plain(i + 1, 'REDIRECT', i), queueId: i % 64, snatIp: i % 2 ? '198.18.9.9' : null, dnatPort: i % 3 ? null : 8080 },
    }));
    assert.deepEqual(m.upsertFlows(entries), { inserted: n, replaced: 0 });
    assert.equal(m.countFlows(), n);
    const changed = entries.map((e) => ({ key: e.key, action: { ...e.action, ruleId: e.action.ruleId + n } }));
    assert.deepEqual(m.upsertFlows(changed), { inserted: 0, replaced: n });
    for (const i of [0, 1, 4095, 65536, n - 1]) assert.deepEqual(m.lookupFlow(entries[i].key), changed[i].action);

    // 40,000 more: 31,072 fit, the next one fails; everything goes back as it was
    const more: FlowEntry[] = Array.from({ length: 40_000 }, (_, i) => ({ key: keyOf(ip(n + i), 1, 6), action: plain(n + i) }));
    const batch = [{ key: entries[5].key, action: plain(1) }, ...more];
    assert.throws(() => m.upsertFlows(batch), (e: unknown) => {
      isSysError('E2BIG', 7, 'upsertFlows', m.path)(e);
      assert.equal((e as NativeModule.PcfSystemError).index, 1 + 131072 - n);
      assert.equal((e as NativeModule.PcfSystemError).rolledBack, true);
      return true;
    });
    assert.equal(m.countFlows(), n);
    assert.deepEqual(m.lookupFlow(entries[5].key), changed[5].action);
    assert.equal(m.lookupFlow(more[0].key), null);
    const want = new Map(changed.map((e) => [JSON.stringify(e.key), e.action]));
    for (const e of m.listFlows()) {
      const k = JSON.stringify(e.key);
      if (!isDeepStrictEqual(e.action, want.get(k))) assert.deepEqual(e.action, want.get(k), k);
    }
  });

  test('refuses a map whose shape differs from pcf_common.h (stale program)', () => {
    const layout = (what: RegExp) => (e: unknown) => {
      const err = e as NativeModule.PcfMapError;
      assert.equal(err.code, 'ERR_PCF_MAP_LAYOUT', String(e));
      assert.match(err.message, what);
      assert.ok(err.path.startsWith(dir));
      assert.ok(err.message.includes(err.path));
      return true;
    };
    const badKey = createMap('bad_key', 'hash', 12, 24, 8);
    assert.throws(() => new native.FlowMap(badKey), layout(/key 12 B.*struct pcf_flow_key/));
    const badValue = createMap('bad_value', 'hash', 16, 32, 8);
    assert.throws(() => new native.FlowMap(badValue), layout(/value 32 B.*struct pcf_flow_action/));
    // the flow map of the previous header: 24-byte actions, without stats_slot
    const oldFlows = createMap('old_flows', 'hash', 16, 24, 8);
    assert.throws(() => new native.FlowMap(oldFlows), layout(/value 24 B.*value 28 B \(struct pcf_flow_action\).*detach --purge and attach again/));
    const badType = createMap('bad_type', 'lru_hash', 16, 28, 8);
    assert.throws(() => new native.FlowMap(badType), layout(/wrong type \(a lru_hash map.*as a hash map/));
    const shortStats = createMap('short_stats', 'percpu_array', 4, 16, 4);
    assert.throws(() => new native.StatsMap(shortStats), layout(new RegExp(`max_entries 4.*at least ${native.counterNames.length}`)));
    const flows = createMap('not_rules', 'hash', 16, 28, 8);
    assert.throws(() => new native.RuleStatsMap(flows), layout(/wrong type.*percpu_array/));
    assert.throws(() => new native.ConfigMap(flows), layout(/array/));
  });

  test('pinnedMapId is null when absent and changes when the map is re-created', () => {
    const p = createMap('recreated', 'hash', 16, 28, 8);
    const id = native.pinnedMapId(p);
    assert.equal(typeof id, 'number');
    const m = track(new native.FlowMap(p));
    assert.equal(m.id, id);
    m.upsertFlows(redirect);

    fs.rmSync(p);
    assert.equal(native.pinnedMapId(p), null);
    assert.equal(native.pinnedMapId(path.join(dir, 'no-such-dir', 'pcf_flow_map')), null);
    assert.throws(() => new native.FlowMap(p), isSysError('ENOENT', 2, 'open', p));
    // the open handle still reaches the old, unpinned map
    assert.deepEqual(m.lookupFlow(redirect.key), redirect.action);

    createMap('recreated', 'hash', 16, 28, 8);
    const id2 = native.pinnedMapId(p);
    assert.equal(typeof id2, 'number');
    assert.notEqual(id2, id);
    assert.equal(m.id, id);
    const m2 = track(new native.FlowMap(p));
    assert.equal(m2.id, id2);
    assert.equal(m2.lookupFlow(redirect.key), null);
  });

  /** A pcf_rule_stats as the loader creates it: PERCPU_ARRAY, u32 slot -> struct pcf_counter. */
  const ruleStats = (file: string, entries: number) =>
    track(new native.RuleStatsMap(createMap(file, 'percpu_array', 4, 16, entries)));

  /** Slot -> per-CPU values as bpftool reads them. */
  function rawSlots(p: string): Map<number, number[][]> {
    return new Map(rawDump(p).map((e) => [Buffer.from(e.key).readUInt32LE(0), (e.values ?? []).map((v) => v.value)]));
  }

  test('rule counters: slot-indexed, summed over possible CPUs, reset to zero', () => {
    const ncpus = possibleCpusFromSysfs();
    assert.equal(native.possibleCpus(), ncpus);
    const m = ruleStats('pcf_rule_stats', 8);
    assert.equal(m.typeName, 'percpu_array');
    assert.equal(m.maxEntries, 8);
    const zero = { packets: 0, bytes: 0 };
    assert.deepEqual(m.readCounters(), new Array(8).fill(zero));

    // bpftool writes the same value on every CPU: the sum is ncpus times it
    bpftoolUpdate(m.path, uint(1, 4), [...uint(1, 8), ...uint(64, 8)]);
    bpftoolUpdate(m.path, uint(2, 4), [...uint(5, 8), ...uint(1000, 8)]);
    bpftoolUpdate(m.path, uint(4, 4), [...uint(2 ** 40, 8), ...uint(2 ** 44 + 3, 8)]);
    bpftoolUpdate(m.path, uint(7, 4), [...uint(9, 8), ...uint(900, 8)]);
    const c1 = { packets: ncpus, bytes: 64 * ncpus };
    const c2 = { packets: 5 * ncpus, bytes: 1000 * ncpus };
    const c4 = { packets: 2 ** 40 * ncpus, bytes: (2 ** 44 + 3) * ncpus };
    const c7 = { packets: 9 * ncpus, bytes: 900 * ncpus };

    // read one
    assert.deepEqual(m.readCounter(2), c2);
    assert.deepEqual(m.readCounter(4), c4);
    assert.deepEqual(m.readCounter(0), zero);
    assert.deepEqual(m.readCounter(7), c7);
    // read all (index = slot), and a prefix
    const all = m.readCounters();
    assert.ok(Array.isArray(all));
    assert.deepEqual(all, [zero, c1, c2, zero, c4, zero, zero, c7]);
    assert.deepEqual(m.readCounters(8), all);
    assert.deepEqual(m.readCounters(3), [zero, c1, c2]);
    assert.deepEqual(m.readCounters(1), [zero]);
    assert.deepEqual(m.readCounters(0), []);

    // reset: zero on every CPU at those slots, nothing else touched
    m.resetCounters([2, 7, 2]);
    const raw = rawSlots(m.path);
    assert.equal(raw.size, 8);
    for (const slot of [2, 7]) {
      assert.equal(raw.get(slot)?.length, ncpus);
      for (const v of raw.get(slot)!) assert.deepEqual(v, new Array(16).fill(0));
    }
    assert.deepEqual(m.readCounters(), [zero, c1, zero, zero, c4, zero, zero, zero]);
    m.resetCounters(4); // one slot, not an array
    assert.deepEqual(m.readCounter(4), zero);
    m.resetCounters([]);
    assert.deepEqual(m.readCounter(1), c1);
  });

  test('rule counters: a slot out of range, or not a u32, throws a TypeError naming it and writes nothing', () => {
    const m = ruleStats('slots_range', 8);
    bpftoolUpdate(m.path, uint(1, 4), [...uint(3, 8), ...uint(30, 8)]);
    const before = rawDump(m.path);
    const outOfRange = (field: string, slot: number) => (e: unknown) => {
      isArgError(field)(e);
      const msg = (e as Error).message;
      assert.ok(msg.includes(`slot ${slot} is out of range`) && msg.includes(m.path) && msg.includes('0..7'), msg);
      return true;
    };
    // slot 1 comes first and is valid: it must still hold its counter afterwards
    assert.throws(() => m.resetCounters([1, 8]), outOfRange('slots[1]', 8));
    assert.throws(() => m.resetCounters([1, 2, 3, 4294967295]), outOfRange('slots[3]', 4294967295));
    assert.throws(() => m.resetCounters(8), outOfRange('slots', 8));
    assert.throws(() => m.resetCounters([1, -1]), isArgError('slots[1]'));
    assert.throws(() => m.resetCounters([1, 2 ** 32]), isArgError('slots[1]'));
    assert.throws(() => m.resetCounters([1, 1.5]), isArgError('slots[1]'));
    assert.throws(() => m.resetCounters(['1' as unknown as number]), isArgError('slots[0]'));
    assert.throws(() => m.resetCounters(undefined as unknown as number), isArgError('slots'));
    assert.deepEqual(rawDump(m.path), before);

    assert.throws(() => m.readCounter(8), outOfRange('slot', 8));
    assert.throws(() => m.readCounter(-1), isArgError('slot'));
    assert.throws(() => m.readCounter(2 ** 32), isArgError('slot'));
    assert.throws(() => m.readCounters(9), (e: unknown) => {
      isArgError('count')(e);
      assert.match((e as Error).message, /at most 8/);
      return true;
    });
    assert.throws(() => m.readCounters(-1), isArgError('count'));
    assert.throws(() => m.readCounters(1.5), isArgError('count'));
  });

  test('rule counters: the per-element fallback path behaves the same', () => {
    const ncpus = possibleCpusFromSysfs();
    const m = ruleStats('slots_elem', 5000); // more than one batch chunk of 4096
    for (const slot of [0, 4095, 4096, 4999]) bpftoolUpdate(m.path, uint(slot, 4), [...uint(slot + 1, 8), ...uint(2 * slot, 8)]);
    const viaBatch = m.readCounters();
    native._testing.setBatchSyscalls(false);
    try {
      const viaElem = m.readCounters();
      assert.deepEqual(viaElem, viaBatch);
      assert.deepEqual(viaElem[4096], { packets: 4097 * ncpus, bytes: 8192 * ncpus });
      assert.deepEqual(m.readCounters(4096).length, 4096);
      m.resetCounters([4095, 4999]);
      assert.deepEqual(m.readCounter(4095), { packets: 0, bytes: 0 });
      assert.deepEqual(m.readCounter(4999), { packets: 0, bytes: 0 });
      assert.throws(() => m.resetCounters([0, 5000]), isArgError('slots[1]'));
    } finally {
      native._testing.setBatchSyscalls(true);
    }
    assert.deepEqual(m.readCounter(0), { packets: ncpus, bytes: 0 });
    assert.deepEqual(m.readCounter(4096), { packets: 4097 * ncpus, bytes: 8192 * ncpus });
  });

  test(`rule counters: ${1048576} slots (PCF_DEFAULT_MAX_RULES) read in one call, and reset`, () => {
    const ncpus = possibleCpusFromSysfs();
    const n = native.defaultMaxRules;
    assert.equal(n, 1048576);
    const m = ruleStats('slots_big', n);
    const set = [0, 1, 4095, 4096, 65537, n - 1];
    for (const slot of set) bpftoolUpdate(m.path, uint(slot, 4), [...uint(slot + 1, 8), ...uint(slot * 100 + 7, 8)]);

    const all = m.readCounters();
    assert.equal(all.length, n);
    for (let slot = 0; slot < n; slot++) {
      const want = set.includes(slot) ? { packets: (slot + 1) * ncpus, bytes: (slot * 100 + 7) * ncpus } : { packets: 0, bytes: 0 };
      if (all[slot].packets !== want.packets || all[slot].bytes !== want.bytes) assert.deepEqual(all[slot], want, `slot ${slot}`);
    }
    m.resetCounters(Array.from({ length: n }, (_, i) => i));
    assert.ok(m.readCounters().every((c) => c.packets === 0 && c.bytes === 0));
    assert.deepEqual(m.readCounters(2), [{ packets: 0, bytes: 0 }, { packets: 0, bytes: 0 }]);
  });

  test('XDP counters: every name of PCF_COUNTER_TABLE, summed over possible CPUs', () => {
    const ncpus = possibleCpusFromSysfs();
    const p = createMap('pcf_stats', 'percpu_array', 4, 16, native.counterNames.length);
    const m = track(new native.StatsMap(p));
    assert.equal(m.typeName, 'percpu_array');
    const zero = m.readCounters();
    assert.deepEqual(Object.keys(zero), [...native.counterNames]);
    for (const c of Object.values(zero)) assert.deepEqual(c, { packets: 0, bytes: 0 });

    const idx = (name: string) => native.counterNames.indexOf(name);
    bpftoolUpdate(p, uint(idx('act_drop'), 4), [...uint(3, 8), ...uint(180, 8)]);
    bpftoolUpdate(p, uint(idx('rx'), 4), [...uint(10, 8), ...uint(600, 8)]);
    const c = m.readCounters();
    assert.deepEqual(c.act_drop, { packets: 3 * ncpus, bytes: 180 * ncpus });
    assert.deepEqual(c.rx, { packets: 10 * ncpus, bytes: 600 * ncpus });
    assert.deepEqual(c.meta_fail, { packets: 0, bytes: 0 });
  });

  test('config: reads pcf_config by attachment, and lists the attachments with an interface', () => {
    const p = createMap('pcf_config', 'array', 4, 16, 4);
    const m = track(new native.ConfigMap(p));
    assert.deepEqual(m.readConfig(), { attachment: 0, defaultAction: 'PASS', nRxQueues: 0, ifindex: 0 });
    assert.deepEqual(m.readAttachments(), []);
    bpftoolUpdate(p, uint(0, 4), [...uint(1, 4), ...uint(4, 4), ...uint(7, 4), ...uint(0, 4)]);
    bpftoolUpdate(p, uint(2, 4), [...uint(0, 4), ...uint(2, 4), ...uint(9, 4), ...uint(0, 4)]);
    assert.deepEqual(m.readConfig(), { attachment: 0, defaultAction: 'DROP', nRxQueues: 4, ifindex: 7 });
    assert.deepEqual(m.readConfig(2), { attachment: 2, defaultAction: 'PASS', nRxQueues: 2, ifindex: 9 });
    assert.deepEqual(m.readAttachments().map((c) => c.attachment), [0, 2]);
    assert.throws(() => m.readConfig(4), (e: unknown) => (e as NativeModule.PcfArgumentError).field === 'attachment');
    bpftoolUpdate(p, uint(0, 4), [...uint(9, 4), ...uint(4, 4), ...uint(7, 4), ...uint(0, 4)]);
    assert.throws(() => m.readConfig(), (e: unknown) => {
      assert.equal((e as NativeModule.PcfMapError).code, 'ERR_PCF_BAD_VALUE');
      assert.equal((e as NativeModule.PcfMapError).path, p);
      return true;
    });
  });

  test('an action the addon did not write: listFlows refuses it, listFlowKeys and deleteFlows still work', () => {
    const m = flowMap('foreign');
    m.upsertFlows(redirect);
    const rawKey = rawDump(m.path)[0].key;
    bpftoolUpdate(m.path, rawKey, [...uint(7, 4), ...uint(131071, 4), 9, 0, 0, 0xff, ...new Array(16).fill(0)]);
    assert.throws(() => m.listFlows(), (e: unknown) => {
      assert.equal((e as NativeModule.PcfMapError).code, 'ERR_PCF_BAD_VALUE');
      return true;
    });
    assert.deepEqual(m.listFlowKeys(), [redirect.key]);
    assert.equal(m.deleteFlows(m.listFlowKeys()), 1);
    assert.deepEqual(m.listFlows(), []);
  });

  test('errors carry errno, code, syscall, op and path', () => {
    const p = path.join(dir, 'absent');
    assert.throws(() => new native.FlowMap(p), (e: unknown) => {
      isSysError('ENOENT', 2, 'open', p)(e);
      assert.equal((e as NativeModule.PcfSystemError).syscall, 'bpf_obj_get');
      return true;
    });
    assert.throws(() => native.StatsMap.open(p), isSysError('ENOENT', 2, 'open', p));
    const m = flowMap('closing');
    m.close();
    assert.equal(m.closed, true);
    m.close();
    assert.throws(() => m.listFlows(), isSysError('EBADF', 9, 'listFlows', m.path));
    assert.throws(() => m.upsertFlows(redirect), isSysError('EBADF', 9, 'upsertFlows', m.path));
    const rs = ruleStats('closing_rs', 4);
    rs.close();
    assert.throws(() => rs.readCounters(), isSysError('EBADF', 9, 'readCounters', rs.path));
    assert.throws(() => rs.readCounter(0), isSysError('EBADF', 9, 'readCounter', rs.path));
    assert.throws(() => rs.resetCounters([0]), isSysError('EBADF', 9, 'resetCounters', rs.path));
    assert.throws(() => new native.FlowMap(42 as unknown as string), isArgError('path'));
  });
});
