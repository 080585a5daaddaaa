# common.sh - sourced by the loader's and the worker's entrypoints.
#
# PCF_NETNS: the network namespace the interface lives in (a name under /run/netns, or a path).
# Empty on a real node, where the NIC is in the host namespace (network_mode: host). In the lab
# the entrypoint enters the namespace with nsenter --net (not `ip netns exec`, which would mount
# a fresh /sys and hide the bpffs and its pins); that needs CAP_SYS_ADMIN and /run/netns bound
# from the host (docker/compose.netns.yml).
: "${PCF_PIN_DIR:=/sys/fs/bpf/pcf}"

die() { echo "$(basename "$0"): $*" >&2; exit "${2:-1}"; }

netns_path() {
  case ${PCF_NETNS:-} in
    "") ;;
    /*) echo "$PCF_NETNS" ;;
    *) echo "/run/netns/$PCF_NETNS" ;;
  esac
}

# Runs a command next to the interface: in PCF_NETNS when set, else here.
in_netns() {
  local ns
  ns=$(netns_path)
  if [ -n "$ns" ]; then nsenter --net="$ns" -- "$@"; else "$@"; fi
}

check_netns() {
  local ns
  ns=$(netns_path)
  [ -z "$ns" ] && return 0
  [ -e "$ns" ] || die "PCF_NETNS=$PCF_NETNS: $ns does not exist (bind /run/netns from the host: docker/compose.netns.yml)"
  nsenter --net="$ns" -- true 2>/dev/null ||
    die "PCF_NETNS=$PCF_NETNS: cannot enter $ns (the service needs cap_add SYS_ADMIN: docker/compose.netns.yml)"
}

# The pins live on the host's bpffs, bound into the container: mounting one here would
# need CAP_SYS_ADMIN and would vanish with the container.
check_bpffs() {
  local dir=/sys/fs/bpf
  [ "$(stat -f -c %T "$dir" 2>/dev/null)" = bpf_fs ] ||
    die "$dir is not a BPF filesystem: on the host run 'mount -t bpf bpf /sys/fs/bpf' and bind it (volumes: /sys/fs/bpf:/sys/fs/bpf)" 3
  case $PCF_PIN_DIR in /sys/fs/bpf/*) ;; *) die "PCF_PIN_DIR=$PCF_PIN_DIR: must be under /sys/fs/bpf" 2 ;; esac
}
