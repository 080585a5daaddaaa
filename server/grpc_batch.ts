// grpc_batch.ts - BatchUpsertFlowsRequest decoded a step at a time: 200,000 rules decoded at
// once would hold the event loop for ~200 ms; a step of BATCH_STEP takes a few ms, and the
// service takes a turn between steps (service.ts batchInSteps).
import path from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_DIR, PROTO_FILES, PROTO_OPTIONS } from '../api/proto.js';
import { quote, ValidationError } from './errors.js';
import type { FlowSpec__Output } from './generated/proto/pcf/v1/FlowSpec.js';

let flowSpec: protobuf.Type | null = null;

/** pcf.v1.FlowSpec, loaded as proto-loader loads it (field names as written in the .proto). */
function flowSpecType(): protobuf.Type {
  if (flowSpec) return flowSpec;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(PROTO_FILES, { keepCase: true });
  flowSpec = root.lookupType('pcf.v1.FlowSpec');
  return flowSpec;
}

/** proto-loader's conversion options (api/proto.ts), as protobufjs names them. */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: PROTO_OPTIONS.longs as typeof Number, enums: String, defaults: PROTO_OPTIONS.defaults, oneofs: PROTO_OPTIONS.oneofs,
};

/** The request's `flows` (field 1), `step` at a time, each as proto-loader would decode it. */
export function* flowsOf(request: Buffer, step: number): Generator<FlowSpec__Output[]> {
  const type = flowSpecType();
  const r = protobuf.Reader.create(request);
  let out: FlowSpec__Output[] = [];
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag !== ((1 << 3) | 2)) {
        r.skipType(tag & 7); // a field this server does not know: proto3 skips it
        continue;
      }
      out.push(type.toObject(type.decode(r, r.uint32()), TO_OBJECT) as FlowSpec__Output);
      if (out.length === step) {
        yield out;
        out = [];
      }
    }
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw ValidationError.one('request', `does not decode as the request of /pcf.v1.PcfControl/BatchUpsertFlows: ${quote((err as Error).message)}`);
  }
  if (out.length) yield out;
}

/** A non-negative integer below 2^53 as a protobuf varint at `at`; returns the next offset. */
function putVarint(buf: Buffer, at: number, v: number): number {
  while (v >= 0x80) {
    buf[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
  return at;
}

/**
 * BatchUpsertFlowsResponse, encoded here: protobufjs takes ~70 ms for 200,000 uint64 ids (one
 * Long each), which would hold the event loop; this takes a few ms. Fields as in pcf.proto:
 * created = 1, updated = 2, ids = 3 (packed), revision = 4; the numbers always written, even
 * 0, as protobufjs writes a field the answer has (a client decoding with defaults off sees 0).
 */
export function encodeBatchAnswer(a: { created: number; updated: number; ids: number[]; revision: number }): Buffer {
  const buf = Buffer.allocUnsafe(40 + 8 * a.ids.length);
  let at = 0;
  at = putVarint(buf, putVarint(buf, at, (1 << 3) | 0), a.created);
  at = putVarint(buf, putVarint(buf, at, (2 << 3) | 0), a.updated);
  if (a.ids.length) {
    // The packed ids go after room for their length (at most 5 bytes), then move back.
    const start = at + 1 + 5;
    let end = start;
    for (const id of a.ids) end = putVarint(buf, end, id);
    at = putVarint(buf, putVarint(buf, at, (3 << 3) | 2), end - start);
    buf.copy(buf, at, start, end);
    at += end - start;
  }
  at = putVarint(buf, putVarint(buf, at, (4 << 3) | 0), a.revision);
  return buf.subarray(0, at);
}
