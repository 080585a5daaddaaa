#!/usr/bin/env bash
# test_loader.sh - end-to-end tests of build/pcf-xdp (the loader) in network namespaces of its
# own: attach (mode, pins, ip link), idempotent re-attach, status --json, rules steering real
# UDP traffic (PASS with a mark that reaches skb->mark, DROP), per-rule counters at the rule's
# stats slot, replace keeping map contents, exit codes 3/4/5/6, the clsact fallback, generic
# mode, detach and --purge, --max-rules sizing both rule maps, slots at and beyond the map's
# end, pinned maps of another layout refused (exit 1, "detach --purge"), two attachments on one
# pin dir (an interface's place in it, --attachment N: shared maps, one rule matched through
# both, per-attachment links/config/status, refusals, --port as the old name of --attachment,
# detach of one attachment, purge refused while another remains), and --obj (attachment 0 only).
# Rules and counters go through the addon (test/tools/maps.ts), as the control plane writes
# them; bpftool only creates maps of a wrong shape on purpose and names a map's type.
#
#   ns pcft-cli-ID  c0 198.18.0.1/24 --veth-- d0 198.18.0.254/24  ns pcft-dut-ID  (+ d1/c1 spare)
#   two attachments:  ns pcft-cl2-ID  c1 198.18.0.1/24 --veth-- d1 (attachment 1), d2/c2 spare
#
# Run as root after `make build` (the loader, and the addon for test/tools/maps.ts). Everything
# it creates (namespaces, pin dirs under /sys/fs/bpf, /tmp dirs) carries a unique ID and is
# removed on exit, failure included.
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
for f in "$LOADER" "$UDP" "$BUILD/pass.bpf.o" "$BUILD/test_bad.bpf.o" "$BUILD/pcf_xdp.bpf.o"; do
	[ -e "$f" ] || skip "missing $f (run make -C xdp)"
done
# the maps are read and written through the addon (test/tools/maps.ts)
command -v node >/dev/null || skip "needs node"
for f in "$ROOT/native/build/Release/pcf_native.node" "$ROOT/node_modules/tsx"; do
	[ -e "$f" ] || skip "missing $f (run make build)"
done
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf 2>/dev/null || skip "no bpffs at /sys/fs/bpf and cannot mount it"
fi

ID=$$-$RANDOM
NS_DUT=pcft-dut-$ID
NS_CLI=pcft-cli-$ID
NS_CL2=pcft-cl2-$ID
PIN=/sys/fs/bpf/pcft-$ID
PIN2=/sys/fs/bpf/pcft2-$ID
PIN3=/sys/fs/bpf/pcft3-$ID
TMP=$(mktemp -d /tmp/pcft-$ID.XXXX)

cleanup() {
	ip netns del "$NS_DUT" 2>/dev/null
	ip netns del "$NS_CLI" 2>/dev/null
	ip netns del "$NS_CL2" 2>/dev/null
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
# The maps are read and written through the addon (test/tools/maps.ts), as the control plane
# does: this script packs no struct of pcf_common.h.
maps() { (cd "$ROOT" && node --import tsx test/tools/maps.ts "$PIN" "$@"); }
# flow key: 198.18.0.1:SPORT -> 198.18.0.254:DPORT udp
flow_key() { printf '{"srcIp":"198.18.0.1","dstIp":"198.18.0.254","srcPort":%u,"dstPort":%u,"proto":17}' "$1" "$2"; }
# action: RULE_ID STATS_SLOT TYPE (PASS, DROP) MARK (- for none)
flow_action() {
	local mark=$4
	[ "$mark" = - ] && mark=null
	printf '{"ruleId":%u,"statsSlot":%u,"type":"%s","mark":%s}' "$1" "$2" "$3" "$mark"
}
add_flow() { # SPORT DPORT RULE_ID SLOT TYPE MARK: the map entry only
	maps put-flow "$(flow_key "$1" "$2")" "$(flow_action "$3" "$4" "$5" "$6")"
}
add_rule() { # SPORT DPORT RULE_ID SLOT TYPE MARK: as the control plane, the slot zeroed first
	maps put-rule "$(flow_key "$1" "$2")" "$(flow_action "$3" "$4" "$5" "$6")"
}
rule_present() { maps has-flow "$(flow_key "$1" "$2")" 2>/dev/null; }
# packets of pcf_rule_stats[SLOT], summed over CPUs
rule_packets() { maps packets "$1" 2>/dev/null; }
# packets of every slot of pcf_rule_stats together
all_slots_packets() { maps packets all 2>/dev/null; }
map_entries() { # NAME: max_entries of the pinned map NAME in status --json ($OUT)
	echo "$OUT" | grep -o "\"$1\":{[^}]*}" | grep -o '"max_entries":[0-9]*' | cut -d: -f2
}
map_type() { bpftool map show pinned "$PIN/$1" 2>/dev/null | head -1 | awk '{ print $2 }'; }
json_field() { # KEY: first scalar value of "KEY": in $OUT
	echo "$OUT" | grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2- | tr -d '"'
}
json_valid() {
	if command -v python3 >/dev/null; then echo "$OUT" | python3 -m json.tool >/dev/null
	elif command -v jq >/dev/null; then echo "$OUT" | jq . >/dev/null
	else return 0; fi
}
# send one datagram SPORT -> DPORT from the client (c0, or the namespace command given as the
# third argument), print what the DUT's receiver saw
send_recv() {
	local out=$TMP/recv.$2 from=${3:-$CLI}
	$DUT "$UDP" recv 198.18.0.254 "$2" 1500 >"$out" 2>&1 &
	local pid=$!
	for _ in $(seq 250); do grep -q ready "$out" 2>/dev/null && break; sleep 0.02; done # up to 5 s (a loaded machine)
	$from "$UDP" send 198.18.0.1 "$1" 198.18.0.254 "$2"
	wait "$pid"
	tail -1 "$out"
}
xdp_prog_on() { ip -n "$NS_DUT" -d link show "$1" | grep -o 'prog/xdp id [0-9]*' | awk '{print $3}'; }

# ---- attach ---------------------------------------------------------------------------
pcf attach --iface d0 --pin-dir "$PIN"
expect "attach_native" '[ "$RC" = 0 ] && echo "$OUT" | grep -q "native mode"'
echo "     $OUT"
missing=""
for p in pcf_flow_map pcf_stats pcf_rule_stats pcf_xskmap pcf_config xdp_link_0 tc_link_0; do
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
add_rule 5001 7001 11 0 PASS 42   # slot 0: PASS, mark 42
add_rule 5002 7002 12 1 DROP -    # slot 1: DROP
add_rule 5003 7003 13 2 PASS -    # slot 2: PASS without a mark (no PCF_F_MARK)
OUT=$(send_recv 5001 7001); expect "traffic_pass_rule_mark_reaches_skb" '[ "$OUT" = "mark=0x2a" ]'
OUT="slot 0 packets $(rule_packets 0)"; expect "traffic_rule_counter_at_slot" '[ "$(rule_packets 0)" = 1 ]'
OUT="slot 11 (rule id) packets $(rule_packets 11)"; expect "traffic_rule_id_is_not_the_slot" '[ "$(rule_packets 11)" = 0 ]'
OUT=$(send_recv 5002 7002); expect "traffic_drop_rule" '[ "$OUT" = nothing ]'
OUT="slot 1 packets $(rule_packets 1)"; expect "traffic_drop_counter" '[ "$(rule_packets 1)" -ge 1 ]'
OUT=$(send_recv 5003 7003); expect "traffic_pass_without_mark" '[ "$OUT" = "mark=0x0" ]'
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
OUT="slot 0 packets $(rule_packets 0)"; expect "replace_keeps_counters" '[ "$(rule_packets 0)" = 1 ]'
OUT=$(send_recv 5001 7001); expect "replace_traffic_still_marked" '[ "$OUT" = "mark=0x2a" ]'

# Without CAP_SYS_ADMIN (a container with CAP_BPF) the old program cannot be opened by id:
# replace and attach still swap the program, the rules stay.
OUT=$($DUT setpriv --bounding-set=-sys_admin "$LOADER" replace --iface d0 --pin-dir "$PIN" 2>&1); RC=$?
PROG3=$(xdp_prog_on d0)
expect "replace_without_sys_admin" '[ "$RC" = 0 ] && [ -n "$PROG3" ] && [ "$PROG3" != "$PROG2" ] && rule_present 5001 7001'
OUT=$($DUT setpriv --bounding-set=-sys_admin "$LOADER" attach --iface d0 --pin-dir "$PIN" 2>&1); RC=$?
expect "reattach_without_sys_admin" '[ "$RC" = 0 ] && [ -n "$(xdp_prog_on d0)" ] && rule_present 5001 7001'
OUT=$(send_recv 5001 7001); expect "traffic_after_unprivileged_replace" '[ "$OUT" = "mark=0x2a" ]'
PROG2=$(xdp_prog_on d0)   # the program the checks below expect to stay

pcf replace --iface d0 --pin-dir "$PIN" --obj "$BUILD/test_bad.bpf.o"
expect "verifier_rejection_exit_6" '[ "$RC" = 6 ] && grep -q "verifier rejected" <<<"$OUT" && grep -q "invalid access to packet" <<<"$OUT"'
OUT="prog now $(xdp_prog_on d0)"; expect "verifier_rejection_keeps_program" '[ "$(xdp_prog_on d0)" = "$PROG2" ]'
# --obj: a file is loaded as it is, on attachment 0 (the built-in object is the skeleton's)
pcf replace --iface d0 --pin-dir "$PIN" --obj "$BUILD/pcf_xdp.bpf.o"
expect "replace_obj_file_attachment0" '[ "$RC" = 0 ] && [ -n "$(xdp_prog_on d0)" ] && [ "$(xdp_prog_on d0)" != "$PROG2" ] && rule_present 5001 7001'
OUT=$(send_recv 5001 7001); expect "replace_obj_file_traffic_marked" '[ "$OUT" = "mark=0x2a" ]'
PROG2=$(xdp_prog_on d0)

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
OUT=$(ls "$PIN"); expect "detach_removes_links_keeps_maps" '[ ! -e "$PIN/xdp_link_0" ] && [ ! -e "$PIN/tc_link_0" ] && [ -e "$PIN/pcf_flow_map" ]'
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
expect "clsact_attach" '[ "$RC" = 0 ] && [ ! -e "$PIN/tc_link_0" ]'
OUT=$($DUT tc filter show dev d0 ingress)
expect "clsact_filter_present" 'grep -q pcf_tc_mark <<<"$OUT"'
add_rule 5001 7001 11 0 PASS 42
OUT=$(send_recv 5001 7001); expect "clsact_traffic_marked" '[ "$OUT" = "mark=0x2a" ]'
pcf status --iface d0 --pin-dir "$PIN" --json
expect "clsact_status" 'grep -q '\''"kind":"clsact"'\'' <<<"$OUT"'
pcf detach --iface d0 --pin-dir "$PIN" --purge
OUT=$($DUT tc filter show dev d0 ingress)
expect "clsact_detach_removes_filter" '[ -z "$OUT" ] && [ ! -e "$PIN" ]'

# ---- stats slots and map sizing -------------------------------------------------------
pcf attach --iface d0 --pin-dir "$PIN" --max-rules 64
expect "max_rules_attach" '[ "$RC" = 0 ]'
pcf status --iface d0 --pin-dir "$PIN" --json
expect "max_rules_sizes_both_rule_maps" '[ "$(map_entries pcf_flow_map)" = 64 ] && [ "$(map_entries pcf_rule_stats)" = 64 ]'
OUT="pcf_rule_stats is $(map_type pcf_rule_stats)"; expect "rule_stats_is_percpu_array" '[ "$(map_type pcf_rule_stats)" = percpu_array ]'
add_rule 5101 7101 21 63 DROP -       # DROP counted at the last slot
OUT=$(send_recv 5101 7101); expect "slot_last_drop" '[ "$OUT" = nothing ]'
OUT="slot 63 $(rule_packets 63), all $(all_slots_packets)"
expect "slot_last_counted_there_only" '[ "$(rule_packets 63)" -ge 1 ] && [ "$(all_slots_packets)" = "$(rule_packets 63)" ]'
BEFORE=$(all_slots_packets)
add_flow 5102 7102 22 64 PASS 43      # PASS + mark at slot 64: beyond the map
OUT=$(send_recv 5102 7102); expect "slot_beyond_map_rule_still_applies" '[ "$OUT" = "mark=0x2b" ]'
OUT="all slots $BEFORE -> $(all_slots_packets)"; expect "slot_beyond_map_counted_nowhere" '[ "$(all_slots_packets)" = "$BEFORE" ]'
add_flow 5103 7103 23 4294967295 DROP -  # DROP at slot 0xffffffff
OUT=$(send_recv 5103 7103); expect "slot_max_u32_rule_still_applies" '[ "$OUT" = nothing ]'
OUT="all slots $BEFORE -> $(all_slots_packets)"; expect "slot_max_u32_counted_nowhere" '[ "$(all_slots_packets)" = "$BEFORE" ]'

pcf detach --iface d0 --pin-dir "$PIN"
pcf attach --iface d0 --pin-dir "$PIN" --max-rules 128
expect "max_rules_ignored_for_pinned_maps" '[ "$RC" = 0 ] && grep -q "keeps its 64 entries" <<<"$OUT"'
pcf detach --iface d0 --pin-dir "$PIN"
rm -f "$PIN/pcf_rule_stats"
pcf attach --iface d0 --pin-dir "$PIN"
pcf status --iface d0 --pin-dir "$PIN" --json
expect "missing_rule_stats_sized_like_pinned_flow_map" '[ "$(map_entries pcf_rule_stats)" = 64 ]'
OUT="rule 5101->7101 gone"; expect "missing_rule_stats_keeps_rules" 'rule_present 5101 7101'

# ---- pinned maps of another layout are refused, never reused --------------------------
# (bpftool creates maps of a wrong shape on purpose; no struct is packed)
rm -f "$PIN/pcf_rule_stats"   # while attached: replace must refuse and keep the program
bpftool map create "$PIN/pcf_rule_stats" type array key 4 value 16 entries 64 name pcf_rule_stats
PROG_BEFORE=$(xdp_prog_on d0)
pcf replace --iface d0 --pin-dir "$PIN"
expect "misfit_rule_stats_replace_refused_exit_1" '[ "$RC" = 1 ] && grep -q "pcf_rule_stats is array key 4 value 16" <<<"$OUT" && grep -q -- "--purge" <<<"$OUT" && [ -n "$PROG_BEFORE" ] && [ "$(xdp_prog_on d0)" = "$PROG_BEFORE" ]'
pcf detach --iface d0 --pin-dir "$PIN"
pcf attach --iface d0 --pin-dir "$PIN"
echo "     $(head -c 400 <<<"$OUT" | tr '\n' ' ')"
expect "misfit_rule_stats_refused_exit_1" '[ "$RC" = 1 ] && grep -q "pcf_rule_stats is array key 4 value 16" <<<"$OUT" && grep -q "needs percpu_array key 4 value 16" <<<"$OUT" && grep -q -- "detach --iface d0 --pin-dir $PIN --purge" <<<"$OUT"'
OUT=$(ip -n "$NS_DUT" link show d0); expect "misfit_nothing_attached" '! grep -q " xdp" <<<"$OUT" && [ ! -e "$PIN/xdp_link_0" ] && [ ! -e "$PIN/tc_link_0" ]'
OUT="pcf_rule_stats is $(map_type pcf_rule_stats)"; expect "misfit_left_alone" '[ "$(map_type pcf_rule_stats)" = array ] && rule_present 5101 7101'

rm -f "$PIN/pcf_rule_stats"
bpftool map create "$PIN/pcf_rule_stats" type percpu_array key 4 value 16 entries 32 name pcf_rule_stats
pcf attach --iface d0 --pin-dir "$PIN"
expect "rule_stats_of_other_size_refused_exit_1" '[ "$RC" = 1 ] && grep -q "must be the same size" <<<"$OUT" && grep -q -- "--purge" <<<"$OUT"'

rm -f "$PIN/pcf_rule_stats" "$PIN/pcf_flow_map"   # two misfits: both are named
bpftool map create "$PIN/pcf_flow_map" type hash key 16 value 32 entries 64 name pcf_flow_map
bpftool map create "$PIN/pcf_rule_stats" type percpu_array key 4 value 8 entries 64 name pcf_rule_stats
pcf attach --iface d0 --pin-dir "$PIN"
expect "misfits_all_named" '[ "$RC" = 1 ] && grep -q "pcf_flow_map is hash key 16 value 32" <<<"$OUT" && grep -q "pcf_rule_stats is percpu_array key 4 value 8" <<<"$OUT" && grep -q -- "--purge" <<<"$OUT"'
pcf detach --iface d0 --pin-dir "$PIN" --purge
expect "misfits_purged" '[ "$RC" = 0 ] && [ ! -e "$PIN" ]'
pcf attach --iface d0 --pin-dir "$PIN"
pcf status --iface d0 --pin-dir "$PIN" --json
expect "attach_after_purge" '[ "$RC" = 0 ] && [ "$(json_field attached)" = true ] && [ "$(map_type pcf_rule_stats)" = percpu_array ] && [ "$(map_entries pcf_rule_stats)" = "$(map_entries pcf_flow_map)" ]'
pcf detach --iface d0 --pin-dir "$PIN" --purge

# ---- two attachments on one pin dir --------------------------------------------------
# d0 is attachment 0 (client c0 in $NS_CLI), d1 attachment 1 (client c1, moved to $NS_CL2 with
# the same address 198.18.0.1): one flow key reaches the DUT through either, so a rule written once
# must be matched on both. d2 (peer c2, no traffic) is a third interface for the refusals.
ip netns add "$NS_CL2" &&
ip -n "$NS_CLI" link set c1 netns "$NS_CL2" &&
ip -n "$NS_CL2" addr add 198.18.0.1/24 dev c1 &&
ip -n "$NS_CL2" link set lo up && ip -n "$NS_CL2" link set c1 up &&
ip -n "$NS_DUT" link add d2 type veth peer name c2 netns "$NS_CLI" &&
ip -n "$NS_DUT" link set d2 up &&
$DUT sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.d1.rp_filter=0 ||
	fail "two_attachments_lab" "cannot build the second client"
CL2="nsenter --net=/run/netns/$NS_CL2"
map_id() { # NAME: id of the pinned map NAME in status --json ($OUT)
	echo "$OUT" | grep -o "\"$1\":{\"id\":[0-9]*" | grep -o '[0-9]*$'
}
config_ifindex_of() { # ATTACHMENT: pcf_config[ATTACHMENT].ifindex
	maps config "$1" 2>/dev/null | grep -o '"ifindex":[0-9]*' | grep -o '[0-9]*$'
}

pcf attach --iface d0 --pin-dir "$PIN" --default drop
expect "attachments_attach_attachment0" '[ "$RC" = 0 ] && grep -q "as attachment 0" <<<"$OUT"'
pcf status --iface d0 --pin-dir "$PIN" --json
FLOW_ID0=$(map_id pcf_flow_map); XSK_ID0=$(map_id pcf_xskmap)
XSK_N=$(map_entries pcf_xskmap); CFG_N=$(map_entries pcf_config)
OUT="xskmap $XSK_N config $CFG_N"; expect "attachments_map_shapes" '[ "$XSK_N" = 256 ] && [ "$CFG_N" = 4 ]'
add_rule 5201 7201 31 5 PASS 42  # written once, before attachment 1 exists: PASS + mark 42
add_rule 5202 7202 32 6 DROP -   # DROP
pcf attach --iface d1 --pin-dir "$PIN" --attachment 1
expect "attachments_attach_attachment1" '[ "$RC" = 0 ] && grep -q "as attachment 1" <<<"$OUT"'
missing=""
for p in xdp_link_0 tc_link_0 xdp_link_1 tc_link_1; do [ -e "$PIN/$p" ] || missing="$missing $p"; done
OUT="missing:$missing"; expect "attachments_pins_per_attachment" '[ -z "$missing" ]'
OUT="d0 $(xdp_prog_on d0) d1 $(xdp_prog_on d1)"
expect "attachments_both_have_xdp" '[ -n "$(xdp_prog_on d0)" ] && [ -n "$(xdp_prog_on d1)" ] && [ "$(xdp_prog_on d0)" != "$(xdp_prog_on d1)" ]'
pcf status --iface d1 --pin-dir "$PIN" --json
expect "attachments_status_json_valid" 'json_valid'
expect "attachments_maps_shared" '[ "$(map_id pcf_flow_map)" = "$FLOW_ID0" ] && [ "$(map_id pcf_xskmap)" = "$XSK_ID0" ]'
expect "attachments_status_finds_attachment1" '[ "$(json_field attachment)" = 1 ] && [ "$(json_field attached)" = true ] && [ "$(json_field prog_id)" = "$(xdp_prog_on d1)" ] && [ "$(json_field default_action)" = pass ] && [ "$(json_field n_rx_queues)" = 1 ] && [ "$(json_field config_ifindex)" = "$(json_field ifindex)" ]'
expect "attachments_status_lists_both" 'grep -q "\"attachments\":\[{\"attachment\":0,\"iface\":\"d0\",\"ifindex\":[0-9]*,\"prog_id\":$(xdp_prog_on d0),\"link_id\":[0-9]*,\"mode\":\"native\",\"n_rx_queues\":2,\"default_action\":\"drop\"" <<<"$OUT" && grep -q "{\"attachment\":1,\"iface\":\"d1\",\"ifindex\":[0-9]*,\"prog_id\":$(xdp_prog_on d1),\"link_id\":[0-9]*,\"mode\":\"native\",\"n_rx_queues\":1,\"default_action\":\"pass\"" <<<"$OUT"'
pcf status --iface d0 --pin-dir "$PIN" --json
expect "attachments_attachment0_config_kept" '[ "$(json_field attachment)" = 0 ] && [ "$(json_field default_action)" = drop ] && [ "$(json_field n_rx_queues)" = 2 ]'
pcf status --iface d1 --pin-dir "$PIN"
expect "attachments_status_text" '[ "$RC" = 0 ] && grep -q "attachment 0: .*d0" <<<"$OUT" && grep -q "attachment 1: .*d1" <<<"$OUT"'

OUT=$(send_recv 5201 7201); expect "attachments_rule_on_attachment0" '[ "$OUT" = "mark=0x2a" ]'
OUT=$(send_recv 5201 7201 "$CL2"); expect "attachments_same_rule_on_attachment1" '[ "$OUT" = "mark=0x2a" ]'
OUT="slot 5 packets $(rule_packets 5)"; expect "attachments_one_slot_counts_both" '[ "$(rule_packets 5)" = 2 ]'
OUT=$(send_recv 5202 7202); expect "attachments_drop_on_attachment0" '[ "$OUT" = nothing ]'
OUT=$(send_recv 5202 7202 "$CL2"); expect "attachments_drop_on_attachment1" '[ "$OUT" = nothing ]'
OUT=$(send_recv 5209 7209); expect "attachments_default_drop_attachment0" '[ "$OUT" = nothing ]'
OUT=$(send_recv 5209 7209 "$CL2"); expect "attachments_default_pass_attachment1" '[ "$OUT" = "mark=0x0" ]'

# refusals
pcf attach --iface d1 --pin-dir "$PIN" --attachment 2
expect "attachments_same_iface_two_attachments_refused" '[ "$RC" = 1 ] && grep -q "is already attachment 1" <<<"$OUT" && [ ! -e "$PIN/xdp_link_2" ]'
pcf attach --iface d2 --pin-dir "$PIN" --attachment 1
expect "attachments_attachment_taken_refused" '[ "$RC" = 1 ] && grep -q "attachment 1 of pin dir .* is attached to d1" <<<"$OUT" && [ -z "$(xdp_prog_on d2)" ]'
pcf attach --iface d2 --pin-dir "$PIN" --attachment 4
expect "attachments_attachment_out_of_range_exit_2" '[ "$RC" = 2 ] && grep -q -- "--attachment must be" <<<"$OUT"'
pcf status --iface d2 --pin-dir "$PIN" --attachment x
expect "attachments_attachment_not_a_number_exit_2" '[ "$RC" = 2 ]'
pcf attach --iface d2 --pin-dir "$PIN" --attachment 2 --obj "$BUILD/pcf_xdp.bpf.o"
expect "attachments_obj_file_attachment2_refused" '[ "$RC" = 1 ] && grep -q "serves attachment 0 only" <<<"$OUT" && [ -z "$(xdp_prog_on d2)" ] && [ ! -e "$PIN/xdp_link_2" ] && [ "$(config_ifindex_of 2)" = 0 ]'
PROG_D1=$(xdp_prog_on d1)
pcf replace --iface d1 --pin-dir "$PIN" --attachment 1 --obj "$BUILD/pcf_xdp.bpf.o"
expect "attachments_obj_file_replace_attachment1_refused" '[ "$RC" = 1 ] && grep -q "serves attachment 0 only" <<<"$OUT" && [ "$(xdp_prog_on d1)" = "$PROG_D1" ]'
pcf replace --iface d1 --pin-dir "$PIN" --port 1   # --port: the old name of --attachment, still taken
expect "attachments_replace_attachment1_by_old_flag_name" '[ "$RC" = 0 ] && grep -q "attachment 1" <<<"$OUT"'
OUT=$(send_recv 5201 7201 "$CL2"); expect "attachments_replace_attachment1_traffic" '[ "$OUT" = "mark=0x2a" ]'
pcf detach --iface d1 --pin-dir "$PIN"   # attachment 0 is d0: nothing is detached
expect "attachments_detach_wrong_attachment_refused" '[ "$RC" = 1 ] && grep -q "add --attachment 1" <<<"$OUT" && [ -n "$(xdp_prog_on d0)" ] && [ -n "$(xdp_prog_on d1)" ]'

# detach attachment 1: attachment 0 keeps working; purge refused while attachment 0 is attached
pcf detach --iface d1 --pin-dir "$PIN" --attachment 1
expect "attachments_detach_attachment1" '[ "$RC" = 0 ] && [ ! -e "$PIN/xdp_link_1" ] && [ ! -e "$PIN/tc_link_1" ] && [ -e "$PIN/xdp_link_0" ] && [ -z "$(xdp_prog_on d1)" ]'
OUT="config[1].ifindex $(config_ifindex_of 1), config[0].ifindex $(config_ifindex_of 0)"
expect "attachments_detach_zeroes_config_1" '[ "$(config_ifindex_of 1)" = 0 ] && [ "$(config_ifindex_of 0)" -gt 0 ]'
OUT=$(send_recv 5201 7201); expect "attachments_attachment0_still_marks" '[ "$OUT" = "mark=0x2a" ]'
OUT=$(send_recv 5202 7202); expect "attachments_attachment0_still_drops" '[ "$OUT" = nothing ]'
OUT=$(send_recv 5202 7202 "$CL2"); expect "attachments_attachment1_gone_passes" '[ "$OUT" = "mark=0x0" ]'
pcf status --iface d0 --pin-dir "$PIN" --json
expect "attachments_status_lists_attachment0_only" 'grep -q "\"attachments\":\[{\"attachment\":0,\"iface\":\"d0\"" <<<"$OUT" && ! grep -q "{\"attachment\":1," <<<"$OUT"'
pcf detach --iface d1 --pin-dir "$PIN" --attachment 1 --purge
expect "attachments_purge_refused_while_attachment0" '[ "$RC" = 1 ] && grep -q "attachment 0 (d0.*still attached" <<<"$OUT" && [ -e "$PIN/pcf_flow_map" ] && rule_present 5201 7201'
OUT=$(send_recv 5201 7201); expect "attachments_purge_refused_attachment0_works" '[ "$OUT" = "mark=0x2a" ]'
pcf detach --iface d0 --pin-dir "$PIN" --purge
expect "attachments_purge_last_attachment" '[ "$RC" = 0 ] && [ ! -e "$PIN" ] && [ -z "$(xdp_prog_on d0)" ]'

# pcf_xskmap and pcf_config have one entry (block) per attachment: other sizes are refused
mkdir "$PIN"
bpftool map create "$PIN/pcf_xskmap" type xskmap key 4 value 4 entries 64 name pcf_xskmap
bpftool map create "$PIN/pcf_config" type array key 4 value 16 entries 1 name pcf_config
pcf attach --iface d1 --pin-dir "$PIN" --attachment 1
expect "attachment_sized_maps_refused_exit_1" '[ "$RC" = 1 ] && grep -q "pcf_xskmap is xskmap key 4 value 4 max_entries 64" <<<"$OUT" && grep -q "pcf_config is array key 4 value 16 max_entries 1" <<<"$OUT" && grep -q -- "--purge" <<<"$OUT" && [ -z "$(xdp_prog_on d1)" ]'
pcf detach --iface d1 --pin-dir "$PIN" --attachment 1 --purge
expect "attachment_sized_maps_purged" '[ "$RC" = 0 ] && [ ! -e "$PIN" ]'

# ---- the interface goes away ----------------------------------------------------------
pcf attach --iface d1 --pin-dir "$PIN3"
expect "attach_d1" '[ "$RC" = 0 ]'
ip -n "$NS_DUT" link del d1
pcf detach --iface d1 --pin-dir "$PIN3" --purge
expect "detach_purge_after_iface_gone" '[ "$RC" = 0 ] && [ ! -e "$PIN3" ]'

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
