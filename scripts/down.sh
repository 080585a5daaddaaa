#!/usr/bin/env bash
# down.sh - what `make down` does: stop the control plane, detach XDP and remove its pins,
# remove the lab. The SQLite file stays: it is the rules' source of truth.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

if pid=$(control_pid); then
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  echo "control plane: stopped (pid $pid)"
fi
rm -f "$STATE_DIR/control.pid"

if [ -n "${PCF_IFACE:-}" ] || ip netns list | grep -qw "^$PCF_LAB-dut"; then
  $(dut_exec) build/pcf-xdp detach --iface "$(dut_iface)" --pin-dir "$PCF_PIN_DIR" --purge || true
fi
rm -rf "$PCF_PIN_DIR" 2>/dev/null || true
if [ -z "${PCF_IFACE:-}" ]; then
  scripts/lab.sh down
fi
