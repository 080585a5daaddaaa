#!/usr/bin/env bash
# up.sh - what `make up` does once built: the lab (unless PCF_IFACE names a real NIC), XDP on
# the interface, the control plane and the worker in the background. Running it again changes
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

ensure_bpffs "$PCF_PIN_DIR"
if [ -z "${PCF_IFACE:-}" ]; then
  scripts/lab.sh up
fi
# PCF_MAX_RULES sizes the rule maps when they are created (the loader's default: 1,048,576).
max_rules=(${PCF_MAX_RULES:+--max-rules "$PCF_MAX_RULES"})
$(dut_exec) build/pcf-xdp attach --iface "$(dut_iface)" --pin-dir "$PCF_PIN_DIR" "${max_rules[@]}"
if [ -n "${PCF_REVERSE_IFACE:-}" ]; then
  $(dut_exec) build/pcf-xdp attach --iface "$PCF_REVERSE_IFACE" --attachment 1 --pin-dir "$PCF_PIN_DIR" "${max_rules[@]}"
fi

mkdir -p "$STATE_DIR"
if pid=$(control_pid); then
  echo "control plane: already running (pid $pid)"
else
  nohup node --import tsx server/main.ts >>"$STATE_DIR/control.log" 2>&1 &
  write_pid control $!
  wait_started control "curl -fsS http://$PCF_HTTP/healthz"
  echo "control plane: started (pid $(control_pid), log $STATE_DIR/control.log)"
fi
if [ "$PCF_WORKER" = 0 ]; then
  echo "worker: not started (PCF_WORKER=0)"
elif pid=$(worker_pid); then
  echo "worker: already running (pid $pid)"
else
  ensure_hugepages
  # nsenter keeps the host's bpffs (pins) visible; the report goes to the control plane's
  # Unix socket, reachable from the DUT namespace.
  nohup $(dut_exec) build/pcf-worker --in-memory --no-pci --lcores "$PCF_WORKER_LCORES" --file-prefix "$PCF_LAB-worker" -- \
    --iface "$(dut_iface)" --pin-dir "$PCF_PIN_DIR" --egress "$PCF_WORKER_EGRESS" --poll "$PCF_WORKER_POLL" \
    ${PCF_REVERSE_IFACE:+--reverse} --report "unix:$PCF_GRPC_UNIX" >>"$STATE_DIR/worker.log" 2>&1 &
  write_pid worker $!
  wait_started worker "grep -q 'pcf-worker: ready' $STATE_DIR/worker.log"
  echo "worker: started (pid $(worker_pid), $(dut_iface) -> $PCF_WORKER_EGRESS, poll $PCF_WORKER_POLL, log $STATE_DIR/worker.log)"
fi

cat <<TXT
REST  http://$PCF_HTTP   (curl http://$PCF_HTTP/stats)
gRPC  $PCF_GRPC   (pcf.v1.PcfControl, proto/pcf/v1/pcf.proto)
CLI   bin/pcfctl flows list
pins  $PCF_PIN_DIR   db $PCF_DB
TXT
