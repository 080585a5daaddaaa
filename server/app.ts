// app.ts - wires config, SQLite, datapath and the service; used by main.ts and by tests.
import fs from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type * as grpc from '@grpc/grpc-js';
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

export async function startControlPlane(cfg: Config, log: Logger = pino({ level: cfg.logLevel })): Promise<Running> {
  const db = openDatabase(cfg.dbPath);
  const service = new FlowService(db, new Datapath(cfg.pinDir, log), log, cfg.workerStaleMs, cfg.workerExpireMs);
  service.start(cfg.datapathPollMs);

  const app = createHttpApp(service, log);
  const http: Server = await new Promise((resolve, reject) => {
    const s = app.listen(cfg.http.port, cfg.http.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const httpPort = (http.address() as { port: number }).port;
  const grpcServer: grpc.Server = createGrpcServer(service, log, cfg.grpcLimits);
  const grpcPort = await bindGrpc(grpcServer, `${cfg.grpc.host}:${cfg.grpc.port}`);
  let localServer: grpc.Server | null = null;
  if (cfg.grpcUnix) {
    // The socket also takes the workers' reports: root's only. A socket file left by a killed
    // predecessor would make the bind fail.
    localServer = createGrpcServer(service, log, cfg.grpcLimits, true);
    fs.mkdirSync(path.dirname(cfg.grpcUnix), { recursive: true });
    fs.rmSync(cfg.grpcUnix, { force: true });
    await bindGrpc(localServer, `unix:${cfg.grpcUnix}`);
    fs.chmodSync(cfg.grpcUnix, 0o600); // connecting needs write permission: root only
  }
  log.info({ http: `${cfg.http.host}:${httpPort}`, grpc: `${cfg.grpc.host}:${grpcPort}`, grpcUnix: cfg.grpcUnix, db: cfg.dbPath, pinDir: cfg.pinDir }, 'control plane listening');

  return {
    service,
    httpPort,
    grpcPort,
    async close() {
      await Promise.all([
        new Promise<void>((r) => {
          http.close(() => r());
          http.closeAllConnections();
        }),
        shutdownGrpc(grpcServer),
        ...(localServer ? [shutdownGrpc(localServer)] : []),
      ]);
      service.stop();
      db.close();
    },
  };
}
