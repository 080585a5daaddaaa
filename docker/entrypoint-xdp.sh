#!/usr/bin/env bash
# pcf-loader - the XDP loader container's entrypoint.
#
#   run          (default) attach pcf_xdp to PCF_IFACE (attachment 0) and PCF_REVERSE_IFACE
#                (attachment 1, optional), pin under PCF_PIN_DIR, stay up; on SIGTERM act as the
#                on-stop policy says
#   healthcheck  pcf-xdp status of attachment 0 (exit 0 when the program is attached)
#   keep         (docker-compose exec xdp pcf-loader keep) the running loader leaves XDP, the
#                maps and their rules in place when it stops: before an upgrade or a rollback,
#                the next loader's attach swaps the program inside the pinned links
#   on-stop P    the same for any policy P: purge | detach | keep
#   replace      pcf-xdp replace on every attachment: this image's program into the pinned links
#   cleanup      (docker-compose run --rm xdp cleanup) detach every attachment, remove the pins now,
#                e.g. after a loader was killed with SIGKILL
#   status|attach|detach ...   pcf-xdp with these arguments, in PCF_NETNS
#
# Environment: PCF_IFACE (required), PCF_REVERSE_IFACE, PCF_PIN_DIR (/sys/fs/bpf/pcf),
# PCF_NETNS (lab: the namespace of the interfaces), PCF_MAX_RULES (the rule maps' size when
# they are created; the loader's default is 1,048,576), PCF_XDP_ARGS (more attach options),
# PCF_XDP_ON_STOP (purge | detach | keep; default purge).
set -uo pipefail
source /usr/local/lib/pcf/common.sh

STATE=/run/pcf-loader
: "${PCF_XDP_ON_STOP:=purge}"
xdp() { in_netns pcf-xdp "$@"; }

attachments() {   # "iface attachment" lines (the interface's place in the pin dir)
  [ -n "${PCF_IFACE:-}" ] || die "PCF_IFACE is not set" 2
  echo "$PCF_IFACE 0"
  if [ -n "${PCF_REVERSE_IFACE:-}" ]; then echo "$PCF_REVERSE_IFACE 1"; fi
}

stop() {
  local policy
  policy=$(cat "$STATE/on-stop" 2>/dev/null || echo "$PCF_XDP_ON_STOP")
  echo "pcf-loader: stopping, on-stop policy: $policy"
  case $policy in
    keep) echo "pcf-loader: XDP and the pins stay in $PCF_PIN_DIR" ;;
    detach | purge)
      # Attachment 1 first: attachment 0's --purge removes the maps only when no other is in use.
      if [ -n "${PCF_REVERSE_IFACE:-}" ]; then xdp detach --iface "$PCF_REVERSE_IFACE" --attachment 1 --pin-dir "$PCF_PIN_DIR" || true; fi
      if [ "$policy" = purge ]; then
        xdp detach --iface "$PCF_IFACE" --pin-dir "$PCF_PIN_DIR" --purge || true
        rmdir "$PCF_PIN_DIR" 2>/dev/null || true
      else
        xdp detach --iface "$PCF_IFACE" --pin-dir "$PCF_PIN_DIR" || true
      fi ;;
    *) echo "pcf-loader: unknown on-stop policy '$policy': leaving everything in place" >&2 ;;
  esac
  exit 0
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
case $cmd in
  run)
    [ -n "${PCF_IFACE:-}" ] || die "PCF_IFACE is not set" 2
    check_bpffs
    check_netns
    mkdir -p "$STATE"
    rm -f "$STATE/on-stop"
    trap stop TERM INT
    while read -r iface attachment; do
      # shellcheck disable=SC2086
      xdp attach --iface "$iface" --attachment "$attachment" --pin-dir "$PCF_PIN_DIR" ${PCF_MAX_RULES:+--max-rules "$PCF_MAX_RULES"} ${PCF_XDP_ARGS:-} ||
        { rc=$?; echo "pcf-loader: attach $iface (attachment $attachment) failed, exit $rc" >&2; stop_rc=$rc; break; }
    done < <(attachments)
    if [ -n "${stop_rc:-}" ]; then
      # Leave nothing half-attached behind, then fail (the restart policy tries again).
      PCF_XDP_ON_STOP=purge; trap - TERM INT; (stop) ; exit "$stop_rc"
    fi
    echo "pcf-loader: ready ($(attachments | tr '\n' ' ')pins $PCF_PIN_DIR${PCF_NETNS:+, netns $PCF_NETNS})"
    touch "$STATE/ready"
    sleep infinity &
    wait $!
    ;;
  healthcheck)
    [ -e "$STATE/ready" ] || exit 1
    xdp status --iface "$PCF_IFACE" --pin-dir "$PCF_PIN_DIR" >/dev/null
    ;;
  keep | on-stop)
    policy=keep
    if [ "$cmd" = on-stop ]; then policy=${1:-}; fi
    case $policy in purge | detach | keep) ;; *) die "usage: pcf-loader on-stop purge|detach|keep" 2 ;; esac
    [ -d "$STATE" ] || die "no loader runs in this container (use: docker-compose exec xdp pcf-loader $cmd)"
    echo "$policy" >"$STATE/on-stop"
    echo "pcf-loader: when this loader stops: $policy"
    ;;
  cleanup)
    [ -n "${PCF_IFACE:-}" ] || die "PCF_IFACE is not set" 2
    check_bpffs; check_netns
    PCF_XDP_ON_STOP=purge; mkdir -p "$STATE"; rm -f "$STATE/on-stop"
    stop ;;
  replace)
    check_bpffs; check_netns
    while read -r iface attachment; do
      xdp replace --iface "$iface" --attachment "$attachment" --pin-dir "$PCF_PIN_DIR" "$@" || exit
    done < <(attachments)
    ;;
  status | attach | detach)
    check_bpffs; check_netns
    xdp "$cmd" "$@" ;;
  *)
    exec "$cmd" "$@" ;;
esac
