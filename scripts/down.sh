#!/usr/bin/env bash
# down.sh - what `make down` does: stop the worker and the control plane, detach XDP and remove its pins,
# remove the lab. The SQLite file stays: it is the rules' source of truth.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

# The worker first: on SIGTERM it removes its sockets from pcf_xskmap.
stop_pid worker
stop_pid control

if [ -n "${PCF_IFACE:-}" ] || ip netns list | grep -qw "^$PCF_LAB-dut"; then
  if [ -n "${PCF_REVERSE_IFACE:-}" ]; then
    $(dut_exec) build/pcf-xdp detach --iface "$PCF_REVERSE_IFACE" --attachment 1 --pin-dir "$PCF_PIN_DIR" || true
  fi
  $(dut_exec) build/pcf-xdp detach --iface "$(dut_iface)" --pin-dir "$PCF_PIN_DIR" --purge || true
fi
rm -rf "$PCF_PIN_DIR" 2>/dev/null || true
if [ -z "${PCF_IFACE:-}" ]; then
  scripts/lab.sh down
fi
