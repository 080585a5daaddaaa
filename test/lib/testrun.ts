// testrun.ts - frames through the XDP program attached under a pin dir, with
// BPF_PROG_TEST_RUN (build/pcf-testrun): the verdict, the metadata's rule, and how much a
// rule's counter slot grew.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './env.js';
import { hex } from './packets.js';

export const TESTRUN = path.join(ROOT, 'build/pcf-testrun');
export const XDP_DROP = 1;
export const XDP_PASS = 2;

export interface RunResult {
  ret: number;
  /** rule_id of the metadata in front of the frame; null without metadata. */
  metaRule: number | null;
  /** Packets pcf_rule_stats[slot] counted during the run; null when no slot was given. */
  slotDelta: number | null;
}

/** attachment: the interface's place in the pin dir (pcf-xdp attach --attachment N). */
export function testRun(pinDir: string, frames: { frame: Buffer; slot?: number }[], attachment = 0): Promise<RunResult[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(TESTRUN, ['--pin-dir', pinDir, '--attachment', String(attachment)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pcf-testrun exited ${code}: ${err.trim()}`));
      const lines = out.trim() ? out.trim().split('\n') : [];
      if (lines.length !== frames.length) return reject(new Error(`pcf-testrun answered ${lines.length} lines for ${frames.length} frames`));
      resolve(lines.map((l) => {
        const [ret, rule, , delta] = l.split(' ');
        return { ret: Number(ret), metaRule: rule === '-' ? null : Number(rule), slotDelta: delta === '-' ? null : Number(delta) };
      }));
    });
    p.stdin.end(frames.map((f) => `${hex(f.frame)}${f.slot !== undefined ? ` ${f.slot}` : ''}\n`).join(''));
  });
}
