// config.ts - the control plane's settings, from the environment (README: Configuration).
import path from 'node:path';
import { WATCH_STALL_MS } from './watch.js';

export interface Config {
  pinDir: string;
  http: { host: string; port: number };
  grpc: { host: string; port: number };
  /**
   * gRPC on a Unix socket too: reachable from every network namespace (a worker in the
   * lab's DUT namespace cannot reach 127.0.0.1 of the host's). Null: TCP only.
   */
  grpcUnix: string | null;
  dbPath: string;
  /** How often the pinned maps are checked for (re)appearance, in ms. */
  datapathPollMs: number;
  logLevel: string;
  /** A worker that has not reported for this long shows as stale, in ms. */
  workerStaleMs: number;
  /** A worker that has not reported for this long is forgotten, in ms. */
  workerExpireMs: number;
  /** How often the maps are compared with SQLite (and repaired), in ms. */
  driftCheckMs: number;
  grpcLimits: GrpcLimits;
  /** name:token lines (auth.ts); null: no tokens asked. */
  authTokenFile: string | null;
  /** HTTPS and gRPC over TLS; clientCa: client certificates required (mTLS). */
  tls: { cert: string; key: string; clientCa: string | null } | null;
  /** Listen beyond loopback without a token or mTLS (a warning, not a refusal). */
  insecure: boolean;
}

export interface GrpcLimits {
  /** A connection without calls this long is closed (grpc.max_connection_idle_ms). */
  idleMs: number;
  /** A ping every this long on a connection; no answer in keepaliveTimeoutMs closes it. */
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  /** WatchFlows: a client that reads nothing this long while changes wait is cut off. */
  watchStallMs: number;
}

export const DEFAULT_GRPC_LIMITS: GrpcLimits = { idleMs: 120_000, keepaliveMs: 60_000, keepaliveTimeoutMs: 20_000, watchStallMs: WATCH_STALL_MS };

function hostPort(name: string, value: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  if (!m) throw new Error(`${name}=${value}: expected host:port`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`${name}=${value}: port out of range`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port };
}

function tlsConfig(env: NodeJS.ProcessEnv): Config['tls'] {
  const cert = env.PCF_TLS_CERT, key = env.PCF_TLS_KEY, clientCa = env.PCF_TLS_CLIENT_CA || null;
  if (!cert && !key && !clientCa) return null;
  if (!cert || !key) throw new Error('PCF_TLS_CERT and PCF_TLS_KEY go together (PCF_TLS_CLIENT_CA needs both)');
  return { cert, key, clientCa };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const ms = (name: string, def: number) => {
    const v = Number(env[name] ?? def);
    if (!Number.isInteger(v) || v < 10) throw new Error(`${name}=${env[name]}: expected an integer number of ms >= 10`);
    return v;
  };
  return {
    pinDir: env.PCF_PIN_DIR || '/sys/fs/bpf/pcf',
    http: hostPort('PCF_HTTP', env.PCF_HTTP || '127.0.0.1:8080'),
    grpc: hostPort('PCF_GRPC', env.PCF_GRPC || '127.0.0.1:50051'),
    grpcUnix: env.PCF_GRPC_UNIX || null,
    dbPath: env.PCF_DB || path.resolve('var/pcf.db'),
    datapathPollMs: ms('PCF_DATAPATH_POLL_MS', 1000),
    logLevel: env.PCF_LOG_LEVEL || 'info',
    workerStaleMs: ms('PCF_WORKER_STALE_MS', 5000),
    workerExpireMs: ms('PCF_WORKER_EXPIRE_MS', 300_000),
    driftCheckMs: ms('PCF_DRIFT_CHECK_MS', 5000),
    authTokenFile: env.PCF_AUTH_TOKEN_FILE || null,
    tls: tlsConfig(env),
    insecure: env.PCF_INSECURE === '1',
    grpcLimits: {
      idleMs: ms('PCF_GRPC_IDLE_MS', DEFAULT_GRPC_LIMITS.idleMs),
      keepaliveMs: ms('PCF_GRPC_KEEPALIVE_MS', DEFAULT_GRPC_LIMITS.keepaliveMs),
      keepaliveTimeoutMs: ms('PCF_GRPC_KEEPALIVE_TIMEOUT_MS', DEFAULT_GRPC_LIMITS.keepaliveTimeoutMs),
      watchStallMs: ms('PCF_WATCH_STALL_MS', DEFAULT_GRPC_LIMITS.watchStallMs),
    },
  };
}
