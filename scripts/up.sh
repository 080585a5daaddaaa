#!/usr/bin/env bash
# up.sh - what `make up` does once built: the lab (unless PCF_IFACE names a real NIC), XDP on
# the interface, the control plane in the background. Running it again changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

ensure_bpffs "$PCF_PIN_DIR"
if [ -z "${PCF_IFACE:-}" ]; then
  scripts/lab.sh up
fi
$(dut_exec) build/pcf-xdp attach --iface "$(dut_iface)" --pin-dir "$PCF_PIN_DIR"

mkdir -p "$STATE_DIR"
if pid=$(control_pid); then
  echo "control plane: already running (pid $pid)"
else
  nohup node --import tsx server/main.ts >>"$STATE_DIR/control.log" 2>&1 &
  echo $! >"$STATE_DIR/control.pid"
  for _ in $(seq 1 100); do
    curl -fsS "http://$PCF_HTTP/healthz" >/dev/null 2>&1 && break
    if ! control_pid >/dev/null; then
      echo "control plane: failed to start; last lines of $STATE_DIR/control.log:" >&2
      tail -n 20 "$STATE_DIR/control.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "control plane: started (pid $(cat "$STATE_DIR/control.pid"), log $STATE_DIR/control.log)"
fi
cat <<TXT
REST  http://$PCF_HTTP   (curl http://$PCF_HTTP/stats)
gRPC  $PCF_GRPC   (pcf.v1.PcfControl, proto/pcf/v1/pcf.proto)
CLI   bin/pcfctl flows list
pins  $PCF_PIN_DIR   db $PCF_DB
TXT
