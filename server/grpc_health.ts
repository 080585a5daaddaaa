// grpc_health.ts - the standard services beside PcfControl: grpc.health.v1.Health
// (grpc-health-check) and server reflection (@grpc/reflection, v1 and v1alpha), so that
// grpcurl, grpc_health_probe and Kubernetes' gRPC probes work without the .proto files.
//
// A service is SERVING exactly when GET /readyz answers 200 (FlowService.readiness()), else
// NOT_SERVING. Check and Watch read the status that a server interceptor sets again before
// each health call, so a Check never answers an old status; a watcher hears of a change
// within WATCH_SYNC_MS. The health and reflection services take no token, like /readyz: a
// probe has none, and what they tell is what the .proto files and /readyz tell.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as HEALTH_PROTO, type ServingStatus } from 'grpc-health-check';
import path from 'node:path';
import { PROTO_DIR, PROTO_FILES, PROTO_OPTIONS } from '../api/proto.js';

/** How often watchers are told of a change of readiness. */
export const WATCH_SYNC_MS = 1000;
const HEALTH_PATH = '/grpc.health.v1.Health/';

export interface Readiness {
  readiness(): { ready: boolean };
  onClose(fn: () => void): () => void;
}

/** The services a server's health answers for: '' (the whole server) and each it serves. */
function healthServices(workerReport: boolean): string[] {
  return ['', 'pcf.v1.PcfControl', ...(workerReport ? ['pcf.v1.WorkerReport'] : [])];
}

/**
 * The health service's state for one server: `interceptor` goes into the server's options
 * (before the services exist), `addTo` adds the health and reflection services to it.
 */
export function healthAndReflection(service: Readiness, workerReport: boolean) {
  const names = healthServices(workerReport);
  const health = new HealthImplementation();
  let last: ServingStatus | null = null;
  const sync = () => {
    const status: ServingStatus = service.readiness().ready ? 'SERVING' : 'NOT_SERVING';
    if (status === last) return; // the package writes to every watcher on each setStatus
    last = status;
    for (const n of names) health.setStatus(n, status);
  };
  sync();
  const timer = setInterval(sync, WATCH_SYNC_MS);
  timer.unref();
  service.onClose(() => clearInterval(timer));
  const interceptor: grpc.ServerInterceptor = (method, call) => {
    if (method.path.startsWith(HEALTH_PATH)) sync();
    return new grpc.ServerInterceptingCall(call);
  };
  return {
    interceptor,
    addTo(server: grpc.Server): void {
      health.addToServer(server);
      const served = names.filter((n) => n).concat('grpc.health.v1.Health');
      new ReflectionService(reflectedDefinitions(), { services: served }).addToServer(server);
    },
  };
}

/** PcfControl's, WorkerReport's and Health's definitions with their file descriptors. */
function reflectedDefinitions(): protoLoader.PackageDefinition {
  const pcf = protoLoader.loadSync(PROTO_FILES, { ...PROTO_OPTIONS, includeDirs: [PROTO_DIR] });
  const root = path.resolve(path.dirname(HEALTH_PROTO), '../..'); // health/v1/health.proto, as the package loads it
  const health = protoLoader.loadSync(path.relative(root, HEALTH_PROTO), { ...PROTO_OPTIONS, includeDirs: [root] });
  return { ...pcf, ...health };
}
