// report_sink.cc - a tiny pcf.v1.WorkerReport server for the worker's tests (not the control
// plane's: that is server/). Prints each report as one JSON line on stdout and answers with
// the time it got it; with --hang it is a hung control plane: it takes each call and never
// answers (the caller's deadline ends it), printing nothing.
//   report_sink ADDRESS MAX_SECONDS [--hang]     e.g. report_sink 127.0.0.1:50999 60
// Stops by itself after MAX_SECONDS, or on SIGTERM/SIGINT.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "pcf/v1/worker.grpc.pb.h"

namespace {

std::atomic<bool> stop{false};
bool hang = false;

void OnSignal(int) { stop = true; }

class Sink final : public pcf::v1::WorkerReport::Service {
  grpc::Status Report(grpc::ServerContext *ctx, const pcf::v1::WorkerStats *req, pcf::v1::ReportAck *ack) override {
    if (hang) {
      while (!stop && !ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "hung on purpose");
    }
    std::string json;
    google::protobuf::util::JsonPrintOptions opts;
    opts.always_print_primitive_fields = true;
    opts.preserve_proto_field_names = true;
    google::protobuf::util::MessageToJsonString(*req, &json, opts);
    std::printf("%s\n", json.c_str());
    std::fflush(stdout);
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    ack->set_received_at_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char **argv) {
  if (argc != 3 && !(argc == 4 && std::string(argv[3]) == "--hang")) {
    std::fprintf(stderr, "usage: report_sink ADDRESS MAX_SECONDS [--hang]\n");
    return 2;
  }
  hang = argc == 4;
  const int max_s = std::atoi(argv[2]);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  Sink sink;
  int port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort(argv[1], grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&sink);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "report_sink: cannot listen on %s\n", argv[1]);
    return 1;
  }
  std::fprintf(stderr, "report_sink: listening on %s\n", argv[1]);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(max_s);
  while (!stop && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}
