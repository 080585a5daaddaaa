// env.ts - what a datapath test needs from the machine, and the rule for when it is missing:
// skip with the reason, except under CI=true where a skip fails the run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LOADER = path.join(ROOT, 'build/pcf-xdp');

/** Why datapath tests cannot run here, or null when they can. */
export function datapathUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (BPF maps, XDP, network namespaces)';
  if (!fs.existsSync(LOADER)) return `loader not built: ${LOADER} (run make build)`;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 with netns support is missing';
  }
  try {
    if (fs.statfsSync('/sys/fs/bpf').type !== 0xcafe4a11) execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
  } catch (err) {
    return `bpffs cannot be mounted at /sys/fs/bpf: ${(err as Error).message}`;
  }
  return null;
}

/** Call at the top of a datapath test: true when it may go on. */
export function requireDatapath(t: TestContext): boolean {
  const why = datapathUnavailable();
  if (!why) return true;
  if (process.env.CI === 'true') throw new Error(`datapath test cannot run under CI=true: ${why}`);
  t.skip(why);
  return false;
}

/** A short unique name for namespaces and pin dirs: pcft<pid36><n>. */
let seq = 0;
export function uniqueName(tag = ''): string {
  return `pt${tag}${process.pid.toString(36)}${(seq++).toString(36)}`;
}
