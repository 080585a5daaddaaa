// app.ts - wires config, SQLite, datapath and the service; used by main.ts and by tests.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import * as grpc from '@grpc/grpc-js';
import { isLoopback, Tokens } from './auth.js';
import type { Config } from './config.js';
import { Datapath } from './datapath.js';
import { openDatabase } from './db.js';
import { bindGrpc, createGrpcServer, shutdownGrpc } from './grpc.js';
import { createHttpApp } from './http.js';
import { FlowService } from './service.js';

export interface Running {
  service: FlowService;
  httpPort: number;
  grpcPort: number;
  close(): Promise<void>;
}

interface Security {
  tokens: Tokens | null;
  tls: { cert: Buffer; key: Buffer; clientCa: Buffer | null } | null;
}

/** Reads the token file and certificates; refuses to listen beyond loopback unauthenticated. */
function security(cfg: Config, log: Logger): Security {
  const read = (name: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${name}=${file}: ${(err as Error).message}`);
    }
  };
  const tokens = cfg.authTokenFile ? Tokens.load(cfg.authTokenFile) : null;
  const tls = cfg.tls && {
    cert: read('PCF_TLS_CERT', cfg.tls.cert),
    key: read('PCF_TLS_KEY', cfg.tls.key),
    clientCa: cfg.tls.clientCa ? read('PCF_TLS_CLIENT_CA', cfg.tls.clientCa) : null,
  };
  const exposed = [`PCF_HTTP=${cfg.http.host}`, `PCF_GRPC=${cfg.grpc.host}`].filter((_, i) => !isLoopback([cfg.http.host, cfg.grpc.host][i]));
  if (exposed.length && !tokens && !tls?.clientCa) {
    const what = `${exposed.join(' and ')} listen beyond loopback without authentication: anyone who reaches the port could change the rules`;
    if (!cfg.insecure) throw new Error(`${what}. Set PCF_AUTH_TOKEN_FILE (bearer tokens), or PCF_TLS_CERT, PCF_TLS_KEY and PCF_TLS_CLIENT_CA (client certificates), or PCF_INSECURE=1 to accept that`);
    log.warn(`${what} (PCF_INSECURE=1)`);
  }
  return { tokens, tls };
}

export async function startControlPlane(cfg: Config, log: Logger = pino({ level: cfg.logLevel })): Promise<Running> {
  const sec = security(cfg, log);
  const db = openDatabase(cfg.dbPath);
  const service = new FlowService(db, new Datapath(cfg.pinDir, log), log, cfg.workerStaleMs, cfg.workerExpireMs, cfg.driftCheckMs);
  service.start(cfg.datapathPollMs);

  const app = createHttpApp(service, log, sec.tokens);
  const server = sec.tls
    ? https.createServer({ cert: sec.tls.cert, key: sec.tls.key, ...(sec.tls.clientCa ? { ca: sec.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, app)
    : http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.http.port, cfg.http.host, () => resolve());
  });
  const httpPort = (server.address() as { port: number }).port;
  const grpcServer: grpc.Server = createGrpcServer(service, log, cfg.grpcLimits, { tokens: sec.tokens });
  const creds = sec.tls
    ? grpc.ServerCredentials.createSsl(sec.tls.clientCa, [{ cert_chain: sec.tls.cert, private_key: sec.tls.key }], !!sec.tls.clientCa)
    : grpc.ServerCredentials.createInsecure();
  const grpcPort = await bindGrpc(grpcServer, `${cfg.grpc.host}:${cfg.grpc.port}`, creds);
  let localServer: grpc.Server | null = null;
  if (cfg.grpcUnix) {
    // The socket also takes the workers' reports; its file mode (root's only) is its
    // authentication. A socket file left by a killed predecessor would make the bind fail.
    localServer = createGrpcServer(service, log, cfg.grpcLimits, { tokens: null, workerReport: true });
    fs.mkdirSync(path.dirname(cfg.grpcUnix), { recursive: true });
    fs.rmSync(cfg.grpcUnix, { force: true });
    await bindGrpc(localServer, `unix:${cfg.grpcUnix}`, grpc.ServerCredentials.createInsecure());
    fs.chmodSync(cfg.grpcUnix, 0o600); // connecting needs write permission: root only
  }
  log.info({
    http: `${sec.tls ? 'https' : 'http'}://${cfg.http.host}:${httpPort}`, grpc: `${cfg.grpc.host}:${grpcPort}${sec.tls ? ' (TLS)' : ''}`,
    auth: [sec.tokens ? 'bearer tokens' : null, sec.tls?.clientCa ? 'client certificates' : null].filter(Boolean).join(' + ') || 'none',
    grpcUnix: cfg.grpcUnix, db: cfg.dbPath, pinDir: cfg.pinDir,
  }, 'control plane listening');

  return {
    service,
    httpPort,
    grpcPort,
    async close() {
      await Promise.all([
        new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
        shutdownGrpc(grpcServer),
        ...(localServer ? [shutdownGrpc(localServer)] : []),
      ]);
      service.stop();
      db.close();
    },
  };
}
