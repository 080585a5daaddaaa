#!/usr/bin/env bash
# pcf-worker-entrypoint - the worker container's entrypoint: checks what the worker needs from the
# host, then becomes pcf-worker (exec: signals reach it directly; SIGTERM removes its sockets
# from pcf_xskmap, after SIGKILL the kernel does and REDIRECT traffic falls back to the kernel).
#
#   (no arguments)  pcf-worker with the options below
#   healthcheck     the worker's DPDK telemetry socket exists and the process runs
#   anything else   run it (e.g. pcf-worker --help)
#
# Environment: PCF_IFACE (required), PCF_PIN_DIR, PCF_NETNS (lab), PCF_REVERSE_IFACE (--reverse),
# PCF_WORKER_EGRESS (tap | iface:NAME; default tap), PCF_WORKER_POLL (busy | wakeup; default busy),
# PCF_WORKER_LCORES (EAL --lcores; default 0@0,1@1), PCF_WORKER_REPORT (gRPC target of the control
# plane; default unix:/run/pcf/grpc.sock), PCF_WORKER_PREFIX (EAL --file-prefix; default
# pcf-worker), PCF_WORKER_HUGEPAGES (2 MiB pages that must be free; default 64),
# PCF_WORKER_EAL_ARGS and PCF_WORKER_ARGS (more EAL / worker options).
set -uo pipefail
source /usr/local/lib/pcf/common.sh

: "${PCF_WORKER_EGRESS:=tap}" "${PCF_WORKER_POLL:=busy}" "${PCF_WORKER_LCORES:=0@0,1@1}"
: "${PCF_WORKER_REPORT:=unix:/run/pcf/grpc.sock}" "${PCF_WORKER_PREFIX:=pcf-worker}" "${PCF_WORKER_HUGEPAGES:=64}"

case ${1:-} in
  healthcheck)
    [ -S "/var/run/dpdk/$PCF_WORKER_PREFIX/dpdk_telemetry.v2" ] && kill -0 1
    exit ;;
  "") ;;
  *) exec "$@" ;;
esac

[ -n "${PCF_IFACE:-}" ] || die "PCF_IFACE is not set" 2
check_bpffs
check_netns
[ -e "$PCF_PIN_DIR/pcf_xskmap" ] || die "no $PCF_PIN_DIR/pcf_xskmap: the loader (service xdp) has not attached" 3

# EAL --in-memory takes hugepages without a hugetlbfs mount, but they must be reserved on the
# host (/proc/sys is read-only here): echo 256 > /proc/sys/vm/nr_hugepages.
free=$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${free:-0}" -lt "$PCF_WORKER_HUGEPAGES" ]; then
  die "only ${free:-0} free 2 MiB hugepages, the worker needs $PCF_WORKER_HUGEPAGES: on the host run 'echo 256 > /proc/sys/vm/nr_hugepages'" 6
fi

# A report target on a Unix socket that is not there yet is fine: the worker retries.
# shellcheck disable=SC2086
set -- pcf-worker --in-memory --no-pci --lcores "$PCF_WORKER_LCORES" --file-prefix "$PCF_WORKER_PREFIX" ${PCF_WORKER_EAL_ARGS:-} -- \
  --iface "$PCF_IFACE" --pin-dir "$PCF_PIN_DIR" --egress "$PCF_WORKER_EGRESS" --poll "$PCF_WORKER_POLL" \
  ${PCF_REVERSE_IFACE:+--reverse} --report "$PCF_WORKER_REPORT" ${PCF_WORKER_ARGS:-}
echo "pcf-worker-entrypoint: $*${PCF_NETNS:+ (netns $PCF_NETNS)}"
ns=$(netns_path)
if [ -n "$ns" ]; then exec nsenter --net="$ns" -- "$@"; else exec "$@"; fi
