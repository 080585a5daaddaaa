# common.sh - shared by up.sh and down.sh (sourced).
: "${PCF_LAB:=pcf}" "${PCF_PIN_DIR:=/sys/fs/bpf/pcf}" "${PCF_HTTP:=127.0.0.1:8080}" "${PCF_GRPC:=127.0.0.1:50051}"
STATE_DIR=var/$PCF_LAB
: "${PCF_DB:=$PWD/$STATE_DIR/pcf.db}"
# gRPC on a Unix socket as well: the worker in the DUT namespace reaches the control plane there.
: "${PCF_GRPC_UNIX:=$PWD/$STATE_DIR/grpc.sock}"
export PCF_LAB PCF_PIN_DIR PCF_HTTP PCF_GRPC PCF_DB PCF_GRPC_UNIX

# The interface XDP goes on: the real NIC, or dut0 inside the lab's DUT namespace.
dut_iface() { echo "${PCF_IFACE:-dut0}"; }
# How to run a command next to that interface. nsenter, not `ip netns exec`: the latter
# mounts a fresh /sys and hides the host's bpffs with every pin in it (DESIGN.md).
dut_exec() { [ -n "${PCF_IFACE:-}" ] || echo "nsenter --net=/run/netns/$PCF_LAB-dut"; }

ensure_bpffs() {
  local dir=/sys/fs/bpf
  if [ "$(stat -f -c %T "$dir" 2>/dev/null)" != bpf_fs ]; then
    mount -t bpf bpf "$dir"
  fi
}

# Prints the pid of this lab's control plane if it runs.
control_pid() {
  local pid
  pid=$(cat "$STATE_DIR/control.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}
