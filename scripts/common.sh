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

# The worker: where it sends (the lab's dut1, or back into the kernel through a TAP on a real
# NIC) and how it polls (wakeup in the lab: 2 cores; busy, its default, on a real node).
: "${PCF_WORKER:=1}"
if [ -z "${PCF_IFACE:-}" ]; then
  : "${PCF_WORKER_EGRESS:=iface:dut1}" "${PCF_WORKER_POLL:=wakeup}"
  # dut1 is attachment 1 of the same pin dir: XDP there too, so the worker gets NATed flows' replies.
  : "${PCF_REVERSE_IFACE:=dut1}"
else
  : "${PCF_WORKER_EGRESS:=tap}" "${PCF_WORKER_POLL:=busy}"
fi
# EAL --lcores: the main lcore and one per (interface, RX queue); in the lab dut0 and dut1
# (replies of NATed flows) each have one queue, so three lcores on the two CPUs.
: "${PCF_WORKER_LCORES:=0@0,1@0,2@1}"

# The start time (/proc/PID/stat field 22, clock ticks since boot) of a process that runs:
# not a zombie. kill -0 succeeds on a killed process until it is reaped, and on an unrelated
# process that took the pid later; the state and the start time tell them apart.
proc_start() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) } # the fields after the command name, which may hold spaces and parentheses
  # shellcheck disable=SC2086
  set -- $s   # $1 = state (field 3), ${20} = start time (field 22)
  case $1 in Z | X | x) return 1 ;; esac
  echo "${20}"
}

# Records PID as the process of $STATE_DIR/<name>.pid, with its start time.
write_pid() {
  echo "$2 $(proc_start "$2")" >"$STATE_DIR/$1.pid"
}

# Prints the pid in $STATE_DIR/<name>.pid if that very process runs.
running_pid() {
  local pid start now
  read -r pid start 2>/dev/null <"$STATE_DIR/$1.pid" || return 1
  [ -n "$pid" ] || return 1
  now=$(proc_start "$pid") || return 1
  [ -z "$start" ] || [ "$start" = "$now" ] || return 1
  echo "$pid"
}
control_pid() { running_pid control; }
worker_pid() { running_pid worker; }

# Waits up to 20 s until CHECK succeeds for the process of $STATE_DIR/<name>.pid; when that
# process dies first, shows the end of its log and exits 1.
wait_started() {
  local name=$1 check=$2
  for _ in $(seq 1 100); do
    eval "$check" >/dev/null 2>&1 && return 0
    if ! running_pid "$name" >/dev/null; then
      echo "$name: failed to start; last lines of $STATE_DIR/$name.log:" >&2
      tail -n 20 "$STATE_DIR/$name.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "$name: not ready after 20 s; see $STATE_DIR/$name.log" >&2
  exit 1
}

# Stops the process of $STATE_DIR/<name>.pid: SIGTERM, then SIGKILL after 5 s.
stop_pid() {
  local name=$1 pid
  if pid=$(running_pid "$name"); then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do proc_start "$pid" >/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "$name: stopped (pid $pid)"
  fi
  rm -f "$STATE_DIR/$name.pid"
}

# The worker takes its memory from hugepages (EAL --in-memory): reserve some when short
# (256 MiB: one queue with a million rules takes about 75 MiB, routes 66 MiB per family).
ensure_hugepages() {
  local need=128 free
  free=$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)
  if [ "$free" -lt "$need" ]; then
    echo $(( $(cat /proc/sys/vm/nr_hugepages) + need - free )) >/proc/sys/vm/nr_hugepages
  fi
}
