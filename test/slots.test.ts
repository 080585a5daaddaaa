// slots.test.ts - the counter slot allocator, alone and under a control plane that holds more
// rules than a spread call can take. No datapath needed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SlotAllocator } from '../server/slots.js';
import { startInProcess, tempDb } from './lib/cp.js';

describe('SlotAllocator', () => {
  it('reset from 1,000,000 slots in use (a spread of them overflowed the stack from about 124,000)', () => {
    const a = new SlotAllocator();
    const used = Array.from({ length: 1_000_000 }, (_, i) => i).filter((s) => s !== 17 && s !== 500_000);
    a.reset(used);
    assert.equal(a.highWater, 1_000_000);
    assert.equal(a.take(), 17, 'the lowest free slot first');
    assert.equal(a.take(), 500_000);
    assert.equal(a.take(), 1_000_000, 'then above the high-water mark');
  });

  it('give lowers the high-water mark when the top slots come back', () => {
    const a = new SlotAllocator();
    a.reset([0, 1, 2, 5]);
    assert.equal(a.highWater, 6);
    a.give([5]);
    assert.equal(a.highWater, 3, 'slots 3 and 4 were free: the mark falls past them');
    assert.equal(a.take(), 3);
    a.reset([]);
    assert.equal(a.highWater, 0);
    assert.equal(a.take(), 0);
  });
});

describe('a control plane with 130,000 rules', () => {
  it('starts, and answers GET /stats (the start-up reset of the slots once overflowed the stack)', async () => {
    const db = tempDb();
    const pinDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcf-nopins-')); // no maps: rules are stored only
    try {
      let cp = await startInProcess(pinDir, db.file);
      const flows = Array.from({ length: 130_000 }, (_, i) => ({
        key: { src_ip: `198.18.${(i >> 8) & 0xff}.${i & 0xff}`, dst_ip: '198.19.0.1', src_port: 1000 + (i >> 16), dst_port: 80, proto: 'udp' },
        action: { type: 'PASS' },
      }));
      assert.equal((await cp.service.batchUpsert(flows)).created, 130_000);
      await cp.close();
      cp = await startInProcess(pinDir, db.file);
      try {
        assert.equal(cp.service.stats().datapath.rules_in_db, 130_000);
        assert.equal(cp.service.stats().datapath.present, false);
      } finally {
        await cp.close();
      }
    } finally {
      fs.rmSync(db.dir, { recursive: true, force: true });
      fs.rmSync(pinDir, { recursive: true, force: true });
    }
  });
});
