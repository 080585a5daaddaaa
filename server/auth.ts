// auth.ts - who may call the API. Bearer tokens from PCF_AUTH_TOKEN_FILE (one `name:token` a
// line; the name is what the logs show, the token never is), compared in constant time,
// for REST (Authorization: Bearer) and gRPC (the `authorization` metadata) alike; and the
// rule that a control plane listening beyond loopback has a token or client certificates.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';

/** Paths any caller may read: probes and scrapes carry no token. */
export const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

const MIN_TOKEN = 16;
const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

export class Tokens {
  private constructor(private readonly entries: { name: string; hash: Buffer }[]) {}

  /** Reads the file; throws naming the file and line of anything wrong, never the token. */
  static load(file: string): Tokens {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`PCF_AUTH_TOKEN_FILE=${file}: ${(err as Error).message}`);
    }
    const entries: { name: string; hash: Buffer }[] = [];
    const names = new Set<string>();
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const at = `PCF_AUTH_TOKEN_FILE=${file} line ${i + 1}`;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`${at}: expected name:token`);
      const name = line.slice(0, colon);
      const token = line.slice(colon + 1);
      if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new Error(`${at}: the name must be 1..64 of A-Z a-z 0-9 . _ @ -`);
      if (names.has(name)) throw new Error(`${at}: the name ${name} is there twice`);
      if (token.length < MIN_TOKEN || /\s/.test(token)) throw new Error(`${at}: the token of ${name} must be at least ${MIN_TOKEN} characters without spaces`);
      names.add(name);
      entries.push({ name, hash: digest(token) });
    });
    if (!entries.length) throw new Error(`PCF_AUTH_TOKEN_FILE=${file}: no name:token line`);
    return new Tokens(entries);
  }

  /**
   * The name of the caller that presented `authorization` ("Bearer <token>"), or why not.
   * Every entry is compared (equal-length digests, timingSafeEqual): the time does not tell
   * which token was close.
   */
  check(authorization: string | undefined): { name: string } | { why: string } {
    if (!authorization) return { why: 'no Authorization: Bearer token' };
    const m = /^Bearer +(\S+)$/i.exec(authorization.trim());
    if (!m) return { why: 'the Authorization header is not "Bearer <token>"' };
    const h = digest(m[1]);
    let found: string | null = null;
    for (const e of this.entries) if (crypto.timingSafeEqual(e.hash, h) && found === null) found = e.name;
    return found !== null ? { name: found } : { why: 'the token is not one of PCF_AUTH_TOKEN_FILE' };
  }
}

/** 127.0.0.0/8, ::1, localhost: only this host can connect. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}
