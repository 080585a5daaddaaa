// report_client.cc - the gRPC C++ client of pcf.v1.WorkerReport behind report_client.h.
// There is no well-kept C client of gRPC (its core C API is private), so this is the one C++
// file of the worker. Nothing here throws across the C interface.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "pcf/v1/worker.grpc.pb.h"
#include "report_client.h"

namespace {

using Clock = std::chrono::steady_clock;

// Between failed reports: 250 ms doubling to 1 s, so a restarted control plane hears from the
// worker within about a second (each attempt is one connect: cheap while it is down).
constexpr auto kInitialBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::milliseconds(1000);
// The channel's own reconnect schedule, between the attempts the reports ask for.
constexpr int kReconnectInitialMs = 100;
constexpr int kReconnectMaxMs = 1000;
constexpr int kMinConnectTimeoutMs = 1000; // gRPC's GRPC_ARG_MIN_RECONNECT_BACKOFF_MS

void Fill(const pcf_report &r, uint64_t sequence, pcf::v1::WorkerStats *m) {
  m->set_worker_id(r.worker_id ? r.worker_id : "");
  m->set_iface(r.iface ? r.iface : "");
  m->set_egress(r.egress ? r.egress : "");
  m->set_xdp_mode(r.xdp_mode ? r.xdp_mode : "");
  m->set_poll_mode(r.poll_mode ? r.poll_mode : "");
  m->set_pid(r.pid);
  m->set_started_at_unix_ms(r.started_at_unix_ms);
  m->set_sequence(sequence);
  m->set_tsc_hz(r.tsc_hz);
  for (unsigned i = 0; i < r.n_queues; i++) {
    const pcf_report_queue &q = r.queues[i];
    pcf::v1::QueueStats *qs = m->add_queues();
    // QueueStats.queue_id is deprecated (attachment and queue say it) but still filled for
    // one release, for control planes that read only it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    qs->set_queue_id(q.queue_id);
#pragma GCC diagnostic pop
    qs->set_attachment(q.attachment);
    qs->set_queue(q.queue);
    qs->set_busy_cycles(q.busy_cycles);
    pcf::v1::StageCounters *c = qs->mutable_counters();
    c->set_rx_packets(q.rx_packets);
    c->set_rx_bytes(q.rx_bytes);
    c->set_tx_packets(q.tx_packets);
    c->set_tx_bytes(q.tx_bytes);
    c->set_nat(q.nat);
    c->set_ttl_expired(q.ttl_expired);
    c->set_mirrored(q.mirrored);
    c->set_rx_ipv6(q.rx_ipv6);
    c->set_frag_later(q.frag_later);
    for (unsigned d = 0; d < q.n_drops; d++) (*c->mutable_drops())[q.drops[d].name] = q.drops[d].value;
  }
  for (unsigned i = 0; i < r.n_rules; i++) {
    pcf::v1::RuleStats *rs = m->add_rules();
    rs->set_rule_id(r.rules[i].rule_id);
    rs->set_packets(r.rules[i].packets);
    rs->set_bytes(r.rules[i].bytes);
  }
}

}  // namespace

struct pcf_report_client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pcf::v1::WorkerReport::Stub> stub;
  Clock::duration backoff = kInitialBackoff;
  Clock::time_point next_attempt{};
  bool failing = false;  // the last call failed: the next one starts a fresh connection attempt
  uint64_t sequence = 0, ok = 0, failed = 0;
};

extern "C" pcf_report_client *pcf_report_client_create(const char *target, char *err, size_t errlen) {
  try {
    auto c = std::make_unique<pcf_report_client>();
    grpc::ChannelArguments args;
    // gRPC's defaults (1 s growing by 1.6 to 120 s, 20 % jitter, 20 s to connect) would leave
    // a restarted control plane without reports for minutes. Short here, and each report after
    // a failure resets it (below): reports then follow their own backoff alone. (Fail-fast
    // calls on the channel's own schedule, both capped at 4 s, resumed reports 2-7 s after a
    // restart: a call fails at once until the channel's next reconnect has succeeded.)
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kReconnectInitialMs);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinConnectTimeoutMs);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kReconnectMaxMs);
    c->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    if (!c->channel) {
      std::snprintf(err, errlen, "cannot make a gRPC channel to '%s'", target);
      return nullptr;
    }
    c->stub = pcf::v1::WorkerReport::NewStub(c->channel);
    return c.release();
  } catch (const std::exception &e) {
    std::snprintf(err, errlen, "gRPC client for '%s': %s", target, e.what());
    return nullptr;
  }
}

extern "C" pcf_report_result pcf_report_client_send(pcf_report_client *c, const pcf_report *r,
                                                    unsigned int timeout_ms, bool force, char *err,
                                                    size_t errlen) {
  const Clock::time_point now = Clock::now();
  if (!force && now < c->next_attempt) return PCF_REPORT_BACKOFF;
  try {
    pcf::v1::WorkerStats msg;
    pcf::v1::ReportAck ack;
    grpc::ClientContext ctx;
    Fill(*r, ++c->sequence, &msg);
    // After a failure, connect now rather than when the channel's reconnect backoff says.
    if (c->failing) grpc::experimental::ChannelResetConnectionBackoff(c->channel.get());
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
    // Wait for the connection within the deadline: a fail-fast call made while the channel is
    // between two connection attempts (TRANSIENT_FAILURE) fails at once even when the control
    // plane is back. This runs on the report thread: blocking it costs nothing else.
    ctx.set_wait_for_ready(true);
    const grpc::Status s = c->stub->Report(&ctx, msg, &ack);
    if (s.ok()) {
      c->ok++;
      c->failing = false;
      c->backoff = kInitialBackoff;
      c->next_attempt = Clock::time_point{};
      return PCF_REPORT_OK;
    }
    std::snprintf(err, errlen, "%s (gRPC status %d)", s.error_message().c_str(), static_cast<int>(s.error_code()));
  } catch (const std::exception &e) {
    std::snprintf(err, errlen, "%s", e.what());
  }
  c->failed++;
  c->failing = true;
  c->next_attempt = Clock::now() + c->backoff;
  c->backoff = std::min<Clock::duration>(c->backoff * 2, kMaxBackoff);
  return PCF_REPORT_FAILED;
}

extern "C" void pcf_report_client_counts(const pcf_report_client *c, uint64_t *ok, uint64_t *failed,
                                         uint64_t *sequence) {
  *ok = c->ok;
  *failed = c->failed;
  *sequence = c->sequence;
}

extern "C" void pcf_report_client_destroy(pcf_report_client *c) { delete c; }
