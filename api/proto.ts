// proto.ts - the gRPC API as the server and pcfctl load it: proto/pcf/v1, one set of loader options, the message size limit.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from '../server/generated/proto/pcf.js';

export const PROTO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../proto');
export const PROTO_FILES = ['pcf/v1/pcf.proto', 'pcf/v1/worker.proto'];
/** BatchUpsertFlows of 200,000 rules is about 10 MB on the wire. */
export const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/**
 * Field names as written in the .proto, 64-bit integers as numbers, enums as their names, no
 * defaults for absent fields. The types in server/generated/proto (package.json gen:proto) are
 * generated with the same options.
 */
export const PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: false };

/** pcf.v1 (PcfControl, WorkerReport and their messages), typed by the generated types. */
export function loadPcfPackage(): ProtoGrpcType {
  const def = protoLoader.loadSync(PROTO_FILES, { ...PROTO_OPTIONS, includeDirs: [PROTO_DIR] });
  return grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
}
