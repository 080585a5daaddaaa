#!/usr/bin/env bash
# test_loader.sh - end-to-end tests of build/pcf-xdp (the loader) in network namespaces of its
# own: attach (mode, pins, ip link), idempotent re-attach, status --json, rules steering real
# UDP traffic (PASS with a mark that reaches skb->mark, DROP), replace keeping map contents,
# exit codes 3/4/5/6, the clsact fallback, generic mode, detach and --purge.
#
#   ns pcft-cli-ID  c0 198.18.0.1/24 --veth-- d0 198.18.0.254/24  ns pcft-dut-ID  (+ d1/c1 spare)
#
# Run as root after `make -C xdp`. Everything it creates (namespaces, pin dirs under
# /sys/fs/bpf, /tmp dirs) carries a unique ID and is removed on exit, failure included.
# Exit: 0 all passed, 1 a failure, 77 cannot run here.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
LOADER=$BUILD/pcf-xdp
UDP=$BUILD/test_udp

skip() { echo "test_loader.sh: $*: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
for t in ip nsenter bpftool tc; do
	command -v "$t" >/dev/null || skip "needs $t"
done
for f in "$LOADER" "$UDP" "$BUILD/pass.bpf.o" "$BUILD/test_bad.bpf.o"; do
	[ -e "$f" ] || skip "missing $f (run make -C xdp)"
done
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf 2>/dev/null || skip "no bpffs at /sys/fs/bpf and cannot mount it"
fi

ID=$$-$RANDOM
NS_DUT=pcft-dut-$ID
NS_CLI=pcft-cli-$ID
PIN=/sys/fs/bpf/pcft-$ID
PIN2=/sys/fs/bpf/pcft2-$ID
PIN3=/sys/fs/bpf/pcft3-$ID
TMP=$(mktemp -d /tmp/pcft-$ID.XXXX)

cleanup() {
	ip netns del "$NS_DUT" 2>/dev/null
	ip netns del "$NS_CLI" 2>/dev/null
	rm -rf "$PIN" "$PIN2" "$PIN3" "$TMP"
}
trap cleanup EXIT

PASSED=0
FAILED=0
ok() { echo "ok   $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
expect() { # expect NAME 'CONDITION' (evaluated); on failure $OUT is shown as the reason
	if eval "$2"; then ok "$1"; else fail "$1" "$(echo "${OUT:-}" | tr '\n' ' ' | cut -c1-300)"; fi
}

DUT="nsenter --net=/run/netns/$NS_DUT"
CLI="nsenter --net=/run/netns/$NS_CLI"
# run the loader in the DUT namespace: sets OUT (stdout+stderr) and RC
pcf() { OUT=$($DUT "$LOADER" "$@" 2>&1); RC=$?; }

# ---- the lab --------------------------------------------------------------------------
ip netns add "$NS_DUT" && ip netns add "$NS_CLI" || skip "cannot create network namespaces"
ip -n "$NS_DUT" link add d0 numrxqueues 2 numtxqueues 2 type veth peer name c0 netns "$NS_CLI" &&
ip -n "$NS_DUT" link add d1 type veth peer name c1 netns "$NS_CLI" &&
ip -n "$NS_DUT" addr add 198.18.0.254/24 dev d0 &&
ip -n "$NS_CLI" addr add 198.18.0.1/24 dev c0 &&
for l in lo d0 d1; do ip -n "$NS_DUT" link set "$l" up; done &&
for l in lo c0 c1; do ip -n "$NS_CLI" link set "$l" up; done || skip "cannot build the veth lab"

# ---- helpers --------------------------------------------------------------------------
hex_be16() { printf '%02x %02x' $(($1 >> 8)) $(($1 & 255)); }
hex_le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
# flow key: 198.18.0.1:SPORT -> 198.18.0.254:DPORT udp
flow_key() { echo "c6 12 00 01 c6 12 00 fe $(hex_be16 "$1") $(hex_be16 "$2") 11 00 00 00"; }
# action: RULE_ID TYPE FLAGS MARK (queue any)
flow_action() { echo "$(hex_le32 "$1") $(printf '%02x' "$2") 00 $(printf '%02x' "$3") ff $(hex_le32 "$4") 00 00 00 00 00 00 00 00 00 00 00 00"; }
add_rule() { # SPORT DPORT RULE_ID TYPE FLAGS MARK
	bpftool map update pinned "$PIN/pcf_flow_map" key hex $(flow_key "$1" "$2") \
		value hex $(flow_action "$3" "$4" "$5" "$6") &&
	bpftool map update pinned "$PIN/pcf_rule_stats" key hex $(hex_le32 "$3") \
		value hex 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
}
rule_present() { bpftool map lookup pinned "$PIN/pcf_flow_map" key hex $(flow_key "$1" "$2") >/dev/null 2>&1; }
# packets of a pcf_rule_stats entry, summed over CPUs (the maps carry BTF: bpftool names fields)
rule_packets() {
	bpftool map lookup pinned "$PIN/pcf_rule_stats" key hex $(hex_le32 "$1") 2>/dev/null |
		awk -F: '/"packets"/ { gsub(/[ ,]/, "", $2); s += $2 } END { print s + 0 }'
}
json_field() { # KEY: first scalar value of "KEY": in $OUT
	echo "$OUT" | grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2- | tr -d '"'
}
json_valid() {
	if command -v python3 >/dev/null; then echo "$OUT" | python3 -m json.tool >/dev/null
	elif command -v jq >/dev/null; then echo "$OUT" | jq . >/dev/null
	else return 0; fi
}
# send one datagram SPORT -> DPORT from the client, print what the DUT's receiver saw
send_recv() {
	local out=$TMP/recv.$2
	$DUT "$UDP" recv 198.18.0.254 "$2" 1500 >"$out" 2>&1 &
	local pid=$!
	for _ in $(seq 50); do grep -q ready "$out" 2>/dev/null && break; sleep 0.02; done
	$CLI "$UDP" send 198.18.0.1 "$1" 198.18.0.254 "$2"
	wait "$pid"
	tail -1 "$out"
}
xdp_prog_on() { ip -n "$NS_DUT" -d link show "$1" | grep -o 'prog/xdp id [0-9]*' | awk '{print $3}'; }

# ---- attach ---------------------------------------------------------------------------
pcf attach --iface d0 --pin-dir "$PIN"
expect "attach_native" '[ "$RC" = 0 ] && echo "$OUT" | grep -q "native mode"'
echo "     $OUT"
missing=""
for p in pcf_flow_map pcf_stats pcf_rule_stats pcf_xskmap pcf_config xdp_link tc_link; do
	[ -e "$PIN/$p" ] || missing="$missing $p"
done
OUT="missing:$missing"; expect "attach_pins_all_objects" '[ -z "$missing" ]'
OUT=$(ip -n "$NS_DUT" link show d0); expect "attach_ip_link_shows_xdp" 'grep -q " xdp" <<<"$OUT"'
PROG1=$(xdp_prog_on d0)

pcf attach --iface d0 --pin-dir "$PIN"
expect "reattach_idempotent" '[ "$RC" = 0 ] && grep -q "no change" <<<"$OUT" && [ "$(xdp_prog_on d0)" = "$PROG1" ]'

pcf status --iface d0 --pin-dir "$PIN" --json
STATUS_JSON=$OUT
LINK1=$(json_field link_id)
expect "status_json_valid" 'json_valid'
expect "status_json_fields" '[ "$RC" = 0 ] && [ "$(json_field attached)" = true ] && [ "$(json_field mode)" = native ] && [ "$(json_field prog_id)" = "$PROG1" ] && [ "$(json_field n_rx_queues)" = 2 ] && [ "$(json_field default_action)" = pass ] && [ -n "$LINK1" ] && grep -q '\''"kind":"tcx"'\'' <<<"$OUT" && grep -q "\"pin\":\"$PIN/pcf_flow_map\"" <<<"$OUT"'
pcf status --iface d0 --pin-dir "$PIN"
expect "status_text" '[ "$RC" = 0 ] && grep -q "attached, native mode" <<<"$OUT"'

# ---- rules on real traffic ------------------------------------------------------------
add_rule 5001 7001 11 0 4 42   # PASS, PCF_F_MARK, mark 42
add_rule 5002 7002 12 1 0 0    # DROP
add_rule 5003 7003 13 0 0 99   # PASS without PCF_F_MARK: no mark
OUT=$(send_recv 5001 7001); expect "traffic_pass_rule_mark_reaches_skb" '[ "$OUT" = "mark=0x2a" ]'
OUT="rule 11 packets $(rule_packets 11)"; expect "traffic_rule_counter" '[ "$(rule_packets 11)" = 1 ]'
OUT=$(send_recv 5002 7002); expect "traffic_drop_rule" '[ "$OUT" = nothing ]'
OUT="rule 12 packets $(rule_packets 12)"; expect "traffic_drop_counter" '[ "$(rule_packets 12)" -ge 1 ]'
OUT=$(send_recv 5003 7003); expect "traffic_pass_without_mark_flag" '[ "$OUT" = "mark=0x0" ]'
OUT=$(send_recv 5009 7009); expect "traffic_miss_passes" '[ "$OUT" = "mark=0x0" ]'

# ---- replace --------------------------------------------------------------------------
pcf replace --iface d0 --pin-dir "$PIN"
echo "     $OUT"
PROG2=$(xdp_prog_on d0)
expect "replace_ok" '[ "$RC" = 0 ]'
OUT="prog $PROG1 -> $PROG2"; expect "replace_new_prog_id" '[ -n "$PROG2" ] && [ "$PROG2" != "$PROG1" ]'
pcf status --iface d0 --pin-dir "$PIN" --json
expect "replace_same_link_id" '[ "$(json_field link_id)" = "$LINK1" ] && [ "$(json_field prog_id)" = "$PROG2" ]'
OUT="rule 5001->7001 gone"; expect "replace_keeps_rules" 'rule_present 5001 7001'
OUT="rule 11 packets $(rule_packets 11)"; expect "replace_keeps_counters" '[ "$(rule_packets 11)" = 1 ]'
OUT=$(send_recv 5001 7001); expect "replace_traffic_still_marked" '[ "$OUT" = "mark=0x2a" ]'

pcf replace --iface d0 --pin-dir "$PIN" --obj "$BUILD/test_bad.bpf.o"
expect "verifier_rejection_exit_6" '[ "$RC" = 6 ] && grep -q "verifier rejected" <<<"$OUT" && grep -q "invalid access to packet" <<<"$OUT"'
OUT="prog now $(xdp_prog_on d0)"; expect "verifier_rejection_keeps_program" '[ "$(xdp_prog_on d0)" = "$PROG2" ]'

# ---- refusals and exit codes ----------------------------------------------------------
ip -n "$NS_DUT" link set dev d1 xdp obj "$BUILD/pass.bpf.o" sec xdp 2>/dev/null
FOREIGN=$(xdp_prog_on d1)
pcf attach --iface d1 --pin-dir "$PIN2"
expect "foreign_program_refused_exit_5" '[ -n "$FOREIGN" ] && [ "$RC" = 5 ]'
OUT="foreign prog now $(xdp_prog_on d1)"; expect "foreign_program_untouched" '[ "$(xdp_prog_on d1)" = "$FOREIGN" ]'
OUT="$PIN2 left behind"; expect "foreign_refusal_leaves_no_pin_dir" '[ ! -e "$PIN2" ]'
pcf detach --iface d1 --pin-dir "$PIN2"
expect "detach_never_removes_foreign" '[ "$RC" = 0 ] && [ "$(xdp_prog_on d1)" = "$FOREIGN" ]'
pcf attach --iface d1 --pin-dir "$PIN"
expect "pin_dir_of_other_iface_refused" '[ "$RC" = 1 ] && [ "$(xdp_prog_on d1)" = "$FOREIGN" ]'
ip -n "$NS_DUT" link set dev d1 xdp off

pcf attach --iface nosuch0 --pin-dir "$PIN2"
expect "no_such_interface_exit_4" '[ "$RC" = 4 ]'
pcf status --iface nosuch0 --pin-dir "$PIN2"
expect "status_no_such_interface_exit_4" '[ "$RC" = 4 ]'
pcf attach --iface d1 --pin-dir "$TMP/pins"
expect "pin_dir_not_bpffs_exit_3" '[ "$RC" = 3 ] && grep -q "not on a BPF filesystem" <<<"$OUT" && [ ! -e "$TMP/pins" ]'
pcf attach --iface d1 --pin-dir "$PIN2" --mode bogus
expect "usage_exit_2" '[ "$RC" = 2 ]'
OUT=$("$LOADER" --help 2>&1); RC=$?
expect "help_documents_exit_codes" '[ "$RC" = 0 ] && grep -q "5 a foreign XDP program" <<<"$OUT"'

# ---- detach, re-attach, purge ---------------------------------------------------------
pcf attach --iface d0 --pin-dir "$PIN" --mode generic
expect "mode_change_needs_detach" '[ "$RC" = 1 ]'
pcf detach --iface d0 --pin-dir "$PIN"
expect "detach_ok" '[ "$RC" = 0 ]'
OUT=$(ls "$PIN"); expect "detach_removes_links_keeps_maps" '[ ! -e "$PIN/xdp_link" ] && [ ! -e "$PIN/tc_link" ] && [ -e "$PIN/pcf_flow_map" ]'
OUT=$(ip -n "$NS_DUT" link show d0); expect "detach_ip_link_no_xdp" '! grep -q " xdp" <<<"$OUT"'
OUT=$(send_recv 5002 7002); expect "detach_traffic_flows_again" '[ "$OUT" = "mark=0x0" ]'

pcf attach --iface d0 --pin-dir "$PIN" --mode generic --default drop
expect "attach_generic" '[ "$RC" = 0 ] && grep -q "generic mode" <<<"$OUT"'
pcf status --iface d0 --pin-dir "$PIN" --json
expect "generic_status" '[ "$(json_field mode)" = generic ] && [ "$(json_field default_action)" = drop ]'
OUT="rule 5001->7001 gone"; expect "reattach_rules_survive" 'rule_present 5001 7001'
OUT=$(send_recv 5001 7001); expect "generic_traffic_marked" '[ "$OUT" = "mark=0x2a" ]'
OUT=$(send_recv 5009 7009); expect "default_drop_drops_misses" '[ "$OUT" = nothing ]'
pcf detach --iface d0 --pin-dir "$PIN" --purge
expect "detach_purge" '[ "$RC" = 0 ] && [ ! -e "$PIN" ]'

# ---- TC through clsact (kernels without tcx) ------------------------------------------
OUT=$(PCF_XDP_TC=clsact $DUT "$LOADER" attach --iface d0 --pin-dir "$PIN" 2>&1); RC=$?
expect "clsact_attach" '[ "$RC" = 0 ] && [ ! -e "$PIN/tc_link" ]'
OUT=$($DUT tc filter show dev d0 ingress)
expect "clsact_filter_present" 'grep -q pcf_tc_mark <<<"$OUT"'
add_rule 5001 7001 11 0 4 42
OUT=$(send_recv 5001 7001); expect "clsact_traffic_marked" '[ "$OUT" = "mark=0x2a" ]'
pcf status --iface d0 --pin-dir "$PIN" --json
expect "clsact_status" 'grep -q '\''"kind":"clsact"'\'' <<<"$OUT"'
pcf detach --iface d0 --pin-dir "$PIN" --purge
OUT=$($DUT tc filter show dev d0 ingress)
expect "clsact_detach_removes_filter" '[ -z "$OUT" ] && [ ! -e "$PIN" ]'

# ---- the interface goes away ----------------------------------------------------------
pcf attach --iface d1 --pin-dir "$PIN3"
expect "attach_d1" '[ "$RC" = 0 ]'
ip -n "$NS_DUT" link del d1
pcf detach --iface d1 --pin-dir "$PIN3" --purge
expect "detach_purge_after_iface_gone" '[ "$RC" = 0 ] && [ ! -e "$PIN3" ]'

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
