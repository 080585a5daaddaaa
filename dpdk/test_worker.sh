#!/usr/bin/env bash
# test_worker.sh - end-to-end tests of build/pcf-worker in a lab of its own (scripts/lab.sh,
# PCF_LAB=pw<pid>-<random>): the XDP program attached to dut0 by build/pcf-xdp, REDIRECT rules
# written into the pinned pcf_flow_map through the addon (test/tools/maps.ts: no struct of
# pcf_common.h is packed here), the worker run in the DUT namespace with
# nsenter (ip netns exec would hide bpffs), bounded UDP from the client (test/tools/udp.mjs),
# captures at the server checked with tshark:
#   A  forwarding: DNAT + TTL (TTL sent-5, dport 7001, valid IP and UDP checksums), TTL expiry,
#      SNAT + mirror (pcapng file and a mirror interface), counters equal to the packets sent
#      (telemetry /pcf/stats and the gRPC report to build/report_sink, started after the worker
#      so that the client's reconnect is exercised), idle CPU in wakeup mode;
#   B  SIGKILL mid-flow: the kernel drops the xskmap entry, REDIRECT falls back to the kernel
#      (TTL sent-1, dport 7000); C  a restarted worker takes the flow back, no manual step;
#   D  SIGTERM: exit 0, entry deleted, kernel path;
#   E  --no-meta drop|pass, with test/nometa.bpf.c swapped in (pcf-xdp replace --obj);
#   F  --egress tap: back into the kernel stack through net_tap;
#   G  busy polling forwards and spins;
#   H  Ethernet addresses: --next-hop without a neighbour entry (no_neighbour), --dst/--src-mac;
#   I  bad configurations: exit code and message of each;
#   K  --reverse: TCP through REDIRECT rules with NAT both ways (DNAT on dut0 as attachment 0,
#      SNAT of the replies on dut1 as attachment 1), echoed whole, counters of both directions,
#      idle CPU, SIGTERM deletes both attachments' entries, no connection without the worker;
#   L  IPv6 through the real control plane (server/main.ts, rules with a precedence POSTed over
#      REST; IPv6 NAT addresses go to pcf_nat6, which the worker mmaps): hop limit, SNAT + DNAT
#      of addresses and ports (the receiver sees the translated source), mirror, a port-less
#      rule's fragments (later ones translated too, reassembled and verified by the receiver),
#      hop limit expiry, TCP, counters, SIGKILL mid-flow (the kernel takes over), --next-hop
#      with an IPv6 address, --egress tap, and with --reverse TCP with NAT both ways;
#   M  IPv4 fragments through the real control plane: a 3000-byte UDP datagram over the MTU and
#      a port-less REDIRECT rule (TTL -2, SNAT): every fragment, first and later, leaves the
#      worker translated and decremented, and the server reassembles it (checksum verified);
#   N  per-rule counters under rule churn (the control plane): 4,500 REDIRECT rules over time in
#      batches, the newest counted exactly, nothing in rule_overflow, also in GET /stats;
#   O  neighbour churn: 1,280 permanent neighbours added and deleted on dut1 over time, then a
#      new next hop still gets its packets;
#   P  off-link destinations: routes via a gateway on dut1 (IPv4 and IPv6, no --next-hop), the
#      packets arrive at the gateway's MAC; routes deleted, the tables go;
#   Q  SIGTERM under back-to-back telemetry queries: a clean exit 0;
#   R  a hung report target (report_sink --hang): mirror copies reach the pcapng file and the
#      neighbour table is re-read as if it answered; the stop's wait is bounded;
#   S  reports resume within 2 s after the report target comes back;
#   T  the worker's cost per packet: busy_cycles (TSC cycles of the bursts that carried packets)
#      stays 0 while idle, grows with a known number of packets to between 100 and 10,000,000
#      cycles per packet, at most the wall time; tsc_hz > 0; the same in the gRPC report;
#   U  USDT probes: bpftrace attached to the running worker sees bursts whose packets sum to
#      the packets sent and forwarded;
#   J  two RX queues, two datapath lcores (veth channels, XPS picks the client's TX queue).
#
# A case that cannot run here while the rest can (L, M, N and P without a control plane, L's
# NAT without IPv6 NAT in its API) prints "skip NAME: reason" and is counted as skipped; under
# CI=true a skip is a failure (as exit 77 is for the whole script).
#
# Run as root after `make build` (the loader, the worker, and the addon for test/tools/maps.ts).
# Everything it makes (namespaces, pin dir, /var/run/dpdk/<prefix>, processes, /tmp files,
# hugepages it had to reserve) is removed on exit, failure included. Exit: 0 all passed, 1 a failure, 77 cannot run here (reason printed).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
WORKER=$BUILD/pcf-worker
LOADER=$BUILD/pcf-xdp
SINK=$BUILD/report_sink
NOMETA=$BUILD/test_nometa.bpf.o
UDP=$ROOT/test/tools/udp.mjs
TCP=$ROOT/test/tools/tcp.mjs
ADDON=$ROOT/native/build/Release/pcf_native.node

skip() { echo "test_worker.sh: $*: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root"
for t in ip nsenter bpftool tcpdump tshark node python3 timeout ethtool taskset; do
	command -v "$t" >/dev/null || skip "needs $t"
done
for f in "$WORKER" "$LOADER" "$SINK" "$NOMETA" "$UDP" "$TCP" "$ADDON"; do
	[ -e "$f" ] || skip "missing $f (run make build)"
done
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mount -t bpf bpf /sys/fs/bpf 2>/dev/null || skip "no bpffs at /sys/fs/bpf and cannot mount it"
fi

LAB=pw$$-$RANDOM
CLIENT=$LAB-client DUT=$LAB-dut SERVER=$LAB-server
PIN=/sys/fs/bpf/$LAB
TMP=$(mktemp -d "/tmp/$LAB.XXXX")
PIDS=()
HP_ORIG=

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	nsenter --net="/run/netns/$DUT" "$LOADER" detach --iface dut1 --attachment 1 --pin-dir "$PIN" >/dev/null 2>&1
	nsenter --net="/run/netns/$DUT" "$LOADER" detach --iface dut0 --pin-dir "$PIN" --purge >/dev/null 2>&1
	PCF_LAB=$LAB "$ROOT/scripts/lab.sh" down >/dev/null 2>&1
	rm -rf "$PIN" "$PIN-empty" "$PIN-xsk" "$TMP" /var/run/dpdk/"$LAB"-*
	[ -n "$HP_ORIG" ] && echo "$HP_ORIG" >/proc/sys/vm/nr_hugepages
}
trap cleanup EXIT
trap 'exit 1' INT TERM

PASSED=0
FAILED=0
SKIPPED=0
ok() { echo "ok   $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
# skip_case NAME REASON: a case that cannot run here; under CI=true a failure instead
skip_case() {
	if [ "${CI:-}" = true ]; then
		fail "$1" "cannot run under CI=true: $2"
	else
		echo "skip $1: $2"
		SKIPPED=$((SKIPPED + 1))
	fi
}
expect() { # NAME 'CONDITION' (evaluated); on failure $OUT is shown as the reason
	if eval "$2"; then ok "$1"; else fail "$1" "$(echo "${OUT:-}" | tr '\n' ' ' | cut -c1-400)"; fi
}

# ---- hugepages: --in-memory takes them from the pool (two workers run at once in H) ------
HP_NEED=160 # 2 MiB pages; one worker takes about 35 at 1,048,576 rules (21 + the per-rule table)
hp_free() { awk '/^HugePages_Free/ {print $2}' /proc/meminfo; }
if [ "$(hp_free)" -lt $HP_NEED ]; then
	HP_ORIG=$(cat /proc/sys/vm/nr_hugepages)
	echo $((HP_ORIG + HP_NEED - $(hp_free))) >/proc/sys/vm/nr_hugepages 2>/dev/null
	[ "$(hp_free)" -ge $HP_NEED ] || skip "cannot reserve $HP_NEED hugepages (have $(hp_free) free)"
fi

# ---- the lab ---------------------------------------------------------------------------
PCF_LAB=$LAB "$ROOT/scripts/lab.sh" up >/dev/null || skip "cannot create the lab (scripts/lab.sh up)"
nsenter --net="/run/netns/$DUT" "$LOADER" attach --iface dut0 --pin-dir "$PIN" >/dev/null ||
	skip "cannot attach XDP to dut0 (build/pcf-xdp attach)"
ip -n "$DUT" link add mir0 type veth peer name mir1 && ip -n "$DUT" link set mir0 up &&
	ip -n "$DUT" link set mir1 up || skip "cannot add the mirror veth"

# ---- helpers ----------------------------------------------------------------------------
# The maps are read and written through the addon (test/tools/maps.ts), as the control plane
# does: this script packs no struct of pcf_common.h.
maps() { (cd "$ROOT" && node --import tsx test/tools/maps.ts "$PIN" "$@"); }
SNAT=1 DNAT=2 MIRROR=8 # the FLAGS of rule_k, as in pcf_common.h's PCF_F_*
# nat_side FLAGS FLAG NAME IP PORT: ',"<NAME>Ip":..,"<NAME>Port":..' when FLAGS has FLAG
# (0.0.0.0 / 0: null, the packet's own is kept)
nat_side() {
	(($1 & $2)) || return 0
	local ip=null port=null
	[ "$4" != 0.0.0.0 ] && ip="\"$4\""
	[ "$5" != 0 ] && port=$5
	printf ',"%sIp":%s,"%sPort":%s' "$3" "$ip" "$3" "$port"
}
# rule_k PROTO SRC SPORT DST DPORT RULE_ID TTL_DELTA FLAGS SNAT_IP SNAT_PORT DNAT_IP DNAT_PORT:
#   a REDIRECT rule with any key (stats slot = rule id; queue any; no mark); FLAGS: SNAT, DNAT,
#   MIRROR
rule_k() {
	local mirror=false
	(($8 & MIRROR)) && mirror=true
	maps put-flow "$(printf '{"srcIp":"%s","dstIp":"%s","srcPort":%u,"dstPort":%u,"proto":%u}' "$2" "$4" "$3" "$5" "$1")" \
		"$(printf '{"ruleId":%u,"statsSlot":%u,"type":"REDIRECT","ttlDelta":%d,"mirror":%s%s%s}' "$6" "$6" "$7" "$mirror" \
			"$(nat_side "$8" $SNAT snat "$9" "${10}")" "$(nat_side "$8" $DNAT dnat "${11}" "${12}")")"
}
# rule SPORT DPORT RULE_ID TTL_DELTA FLAGS SNAT_IP SNAT_PORT DNAT_IP DNAT_PORT:
#   rule_k of udp 198.18.0.1:SPORT -> 198.18.1.1:DPORT
rule() { rule_k 17 198.18.0.1 "$1" 198.18.1.1 "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9"; }

# worker_start NAME ARGS...: a worker with file prefix $LAB-NAME and log $TMP/NAME.log,
# waits for its "ready" line; sets WPID (and OUT to the log on failure). LCORES: EAL lcores.
LCORES=(-l 0,1)
worker_start() {
	local name=$1 i
	shift
	nsenter --net="/run/netns/$DUT" "$WORKER" --in-memory --no-pci "${LCORES[@]}" --log-level=notice \
		--file-prefix "$LAB-$name" -- --iface dut0 --pin-dir "$PIN" "$@" >"$TMP/$name.log" 2>&1 &
	WPID=$!
	PIDS+=("$WPID")
	for i in $(seq 1 150); do
		grep -q "pcf-worker: ready" "$TMP/$name.log" && return 0
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.1
	done
	OUT=$(cat "$TMP/$name.log")
	return 1
}
# worker_stop SIGNAL: sets WRC to the worker's exit status
worker_stop() {
	local i
	kill -"$1" "$WPID" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
	{ wait "$WPID"; } 2>/dev/null
	WRC=$?
}
# bad NAME ARGS...: a worker that must refuse to start; sets RC and OUT
bad() {
	local name=$1
	shift
	OUT=$(timeout 30 "$@" 2>&1)
	RC=$?
	rm -rf "/var/run/dpdk/$LAB-$name"
}
# cpu_pct PID SECONDS: the share of one core that PID's datapath lcores (the EAL's
# "rte-worker-N" threads) ran during SECONDS, from their exact run times (schedstat): whether
# wakeup mode sleeps or busy mode spins, apart from the main lcore's reports and telemetry
lcore_ns() {
	local t s=0
	for t in /proc/"$1"/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in rte-worker-*) s=$((s + $(cut -d' ' -f1 "$t/schedstat"))) ;; esac
	done
	echo "$s"
}
cpu_pct() {
	local n0 n1 w0 w1
	n0=$(lcore_ns "$1"); w0=$(date +%s%N)
	sleep "$2"
	n1=$(lcore_ns "$1"); w1=$(date +%s%N)
	awk -v n=$((n1 - n0)) -v w=$((w1 - w0)) 'BEGIN {printf "%.1f", 100 * n / w}'
}

# cap_start FILE [NS DEV [FILTER]]: tcpdump of UDP (or FILTER), bounded; waits until it
# listens. cap_stop: ends it.
cap_start() {
	local i
	ip netns exec "${2:-$SERVER}" timeout 120 tcpdump -i "${3:-s0}" -nn -U --immediate-mode -w "$1" ${4:-udp} 2>"$1.err" &
	CPIDS+=("$!")
	PIDS+=("$!")
	for i in $(seq 1 50); do grep -q "listening on" "$1.err" && return 0; sleep 0.1; done
	return 1
}
cap_stop() {
	local p
	sleep 0.5
	for p in "${CPIDS[@]}"; do kill -INT "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	CPIDS=()
}
CPIDS=()
# fields FILE: "src sport dport ttl ip_csum_ok udp_csum_ok" per packet (tshark: 1 = good)
fields() {
	tshark -r "$1" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields -E separator=' ' \
		-e ip.src -e udp.srcport -e udp.dstport -e ip.ttl -e ip.checksum.status \
		-e udp.checksum.status 2>/dev/null
}
count() { fields "$1" | awk "$2 {n++} END {print n+0}"; } # count FILE 'AWK CONDITION'
# fields6 FILE: "src,dst,sport,dport,hlim,csum_ok,frag_offset,more" per IPv6 UDP packet or
# fragment (not reassembled: a later fragment has no ports; csum_ok 1 = good); fields6 FILE tcp:
# the same for TCP segments (no fragment fields)
fields6() {
	local p=${2:-udp} frag=(-e ipv6.fraghdr.offset -e ipv6.fraghdr.more)
	[ "$p" = tcp ] && frag=()
	tshark -r "$1" -o ipv6.defragment:FALSE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE \
		-Y "ipv6 && !icmpv6" -T fields -E separator=, -e ipv6.src -e ipv6.dst -e "$p.srcport" \
		-e "$p.dstport" -e ipv6.hlim -e "$p.checksum.status" "${frag[@]}" 2>/dev/null
}
count6() { fields6 "$1" "${3:-udp}" | awk -F, "$2 {n++} END {print n+0}"; } # count6 FILE 'AWK CONDITION' [tcp]
# send SPORT DPORT COUNT [GAP_MS]: from the client to 198.18.1.1, TTL 64
send() {
	ip netns exec "$CLIENT" timeout 60 node "$UDP" send 198.18.1.1 "$2" "$1" "$3" "${4:-2}" >/dev/null
}
# telemetry NAME [COMMAND]: /pcf/stats (or COMMAND, e.g. /pcf/rule,42) of worker NAME as JSON
telemetry() {
	python3 - "/var/run/dpdk/$LAB-$1/dpdk_telemetry.v2" "${2:-/pcf/stats}" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
s.recv(1024)
s.send(sys.argv[2].encode())
print(json.dumps(json.loads(s.recv(1 << 16))[sys.argv[2].split(",")[0]]))
EOF
}
jget() { node -e 'const r = JSON.parse(process.argv[1]); console.log(eval(process.argv[2]))' "$1" "$2"; }
# xdp_count NAME: packets of the XDP counter NAME (pcf_stats) over all CPUs, e.g. redirect_fallback
xdp_count() { maps xdp-packets "$1"; }

# The control plane (L), as `make up` runs it: server/main.ts with its own SQLite file, on free
# loopback ports of this namespace. cp_start sets CP_URL (and OUT to the log on failure).
CP_PID=
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cp_start() {
	local i http grpc
	http=$(free_port) grpc=$(free_port)
	mkdir -p "$TMP/cp"
	(cd "$ROOT" && PCF_PIN_DIR=$PIN PCF_DB=$TMP/cp/pcf.db PCF_HTTP=127.0.0.1:$http PCF_GRPC=127.0.0.1:$grpc \
		PCF_GRPC_UNIX=$TMP/cp/grpc.sock PCF_DATAPATH_POLL_MS=100 PCF_LOG_LEVEL=warn \
		exec node --import tsx server/main.ts) >"$TMP/cp/log" 2>&1 & # killed by cp_stop or cleanup
	CP_PID=$!
	PIDS+=("$CP_PID")
	CP_URL=http://127.0.0.1:$http
	for i in $(seq 1 200); do
		[ "$(api GET /healthz | cut -f1)" = 200 ] && return 0
		kill -0 "$CP_PID" 2>/dev/null || break
		sleep 0.1
	done
	OUT=$(tail -n 20 "$TMP/cp/log")
	return 1
}
cp_stop() { kill -TERM "$CP_PID" 2>/dev/null; { wait "$CP_PID"; } 2>/dev/null; CP_PID=; }
# api METHOD PATH [JSON]: "STATUS<TAB>BODY" (status 0: no answer)
api() {
	node -e 'const [m, u, b] = process.argv.slice(1);
		fetch(u, { method: m, headers: { "content-type": "application/json" }, body: b || undefined })
			.then(async (r) => console.log(`${r.status}\t${(await r.text()).replace(/\s+/g, " ")}`))
			.catch((e) => console.log(`0\t${e.message}`));' "$1" "$CP_URL$2" "${3:-}"
}
# post_rule JSON: POST /flows; sets RID to the rule's id (empty on failure) and RES to the answer
post_rule() {
	RES=$(api POST /flows "$1")
	RID=
	case "$RES" in 2??*) RID=$(jget "$(cut -f2- <<<"$RES")" r.id) ;; esac
}

# ---- rules ------------------------------------------------------------------------------
rule 5000 7000 42 -5 $DNAT 0.0.0.0 0 198.18.1.1 7001 &&      # DNAT port, TTL -5
rule 5001 7002 43 -64 0 0.0.0.0 0 0.0.0.0 0 &&               # TTL 64 - 64: expired
rule 5002 7003 44 0 $((SNAT | MIRROR)) 198.18.1.254 40000 0.0.0.0 0 || # SNAT + mirror
	skip "cannot write rules into $PIN/pcf_flow_map (test/tools/maps.ts)"

# ---- A: forwarding, counters, mirror, report, idle CPU ----------------------------------
SINK_ADDR=127.0.0.1:50051 # in the DUT namespace: its loopback is the lab's own
if worker_start main --egress iface:dut1 --poll wakeup --mirror-pcap "$TMP/mirror.pcapng" \
	--mirror-iface mir0 --report "$SINK_ADDR" --report-interval-ms 200 --worker-id test-worker; then
	ok "A worker starts (wakeup mode)"
else
	fail "A worker starts (wakeup mode)" "$OUT"
	echo "test_worker.sh: $PASSED passed, $FAILED failed"
	exit 1
fi
OUT=$(cat "$TMP/main.log")
expect "A the AF_XDP mode in use is reported at start (veth: copy)" 'grep -q "AF_XDP copy" <<<"$OUT"'

IDLE_PCT=$(cpu_pct "$WPID" 5)
echo "info idle CPU of the datapath lcore in wakeup mode: $IDLE_PCT% of one core over 5 s"
OUT="$IDLE_PCT%"
expect "A idle CPU of the datapath lcore in wakeup mode is near zero (< 5% of a core)" 'awk -v p="$IDLE_PCT" "BEGIN {exit !(p < 5)}"'

# The control plane comes up after the worker: its reports reach it once it is there.
nsenter --net="/run/netns/$DUT" "$SINK" "$SINK_ADDR" 300 >"$TMP/sink.json" 2>"$TMP/sink.err" &
PIDS+=("$!")

cap_start "$TMP/a.pcap" && cap_start "$TMP/mir.pcap" "$DUT" mir1 || fail "A captures start" "tcpdump"
send 5000 7000 20
send 5001 7002 5
send 5002 7003 5
cap_stop
OUT=$(fields "$TMP/a.pcap")
expect "A rule 42: 20 packets arrive with TTL 64-5, dport 7001, valid IP and UDP checksums" \
	'[ "$(count "$TMP/a.pcap" "\$3 == 7001 && \$4 == 59 && \$5 == 1 && \$6 == 1")" = 20 ]'
expect "A rule 42: nothing arrives on the kernel path (dport 7000)" '[ "$(count "$TMP/a.pcap" "\$3 == 7000")" = 0 ]'
expect "A rule 43: TTL 64-64 is dropped, nothing arrives" '[ "$(count "$TMP/a.pcap" "\$3 == 7002")" = 0 ]'
expect "A rule 44: SNAT to 198.18.1.254:40000, TTL kept, valid checksums" \
	'[ "$(count "$TMP/a.pcap" "\$1 == \"198.18.1.254\" && \$2 == 40000 && \$3 == 7003 && \$4 == 64 && \$5 == 1 && \$6 == 1")" = 5 ]'

TEL=$(telemetry main)
OUT=$TEL
expect "A telemetry /pcf/stats: rx = the 30 packets sent, tx 25" \
	'[ "$(jget "$TEL" "r.total.rx_packets + \",\" + r.total.tx_packets")" = 30,25 ]'
expect "A telemetry: nat 25, ttl_expired 5 (also a drop), mirrored 5, no other drop" \
	'[ "$(jget "$TEL" "[r.total.nat, r.total.ttl_expired, r.total.drop_ttl_expired, r.total.mirrored, r.total.drop_no_meta + r.total.drop_tx_full + r.total.drop_no_neighbour + r.total.drop_unparsed].join()")" = 25,5,5,5,0 ]'
expect "A telemetry: per-rule counters (42: 20, 44: 5) and bytes" \
	'[ "$(jget "$TEL" "[r.rule_packets[42], r.rule_packets[44], r.rule_bytes[42] > 0].join()")" = 20,5,true ]'
expect "A telemetry: queue_0 and identity (worker id, egress, modes)" \
	'[ "$(jget "$TEL" "[r.queue_0.rx_packets, r.worker_id, r.egress, r.xdp_mode, r.poll_mode].join()")" = 30,test-worker,iface:dut1,copy,wakeup ]'

OUT=$(fields "$TMP/mirror.pcapng" 2>&1)
expect "A mirror pcapng (rte_pcapng): the 5 PCF_F_MIRROR packets, after SNAT" \
	'[ "$(count "$TMP/mirror.pcapng" "\$1 == \"198.18.1.254\" && \$2 == 40000 && \$3 == 7003")" = 5 ] && [ "$(count "$TMP/mirror.pcapng" 1)" = 5 ]'
OUT=$(fields "$TMP/mir.pcap")
expect "A mirror interface: the 5 copies leave mir0" \
	'[ "$(count "$TMP/mir.pcap" "\$1 == \"198.18.1.254\" && \$3 == 7003")" = 5 ] && [ "$(count "$TMP/mir.pcap" 1)" = 5 ]'

# gRPC: the latest report carries the same counters (wait for one made after the traffic).
REPORT=
for i in $(seq 1 200); do
	REPORT=$(tail -n 1 "$TMP/sink.json" 2>/dev/null)
	[ -n "$REPORT" ] && [ "$(jget "$REPORT" 'r.queues[0].counters.rx_packets')" = 30 ] && break
	sleep 0.2
done
OUT="log: $(grep pcf-worker "$TMP/main.log" | tail -2) report: $REPORT"
expect "A gRPC report reaches a control plane that started after the worker (reconnect)" '[ -n "$REPORT" ]'
expect "A gRPC report: counters equal the packets sent" \
	'[ "$(jget "$REPORT" "const c = r.queues[0].counters; [c.rx_packets, c.tx_packets, c.nat, c.ttl_expired, c.mirrored, c.drops.ttl_expired, c.drops.no_meta].join()")" = 30,25,25,5,5,5,0 ]'
expect "A gRPC report: identity, per-rule counters, sequence" \
	'[ "$(jget "$REPORT" "[r.worker_id, r.iface, r.egress, r.xdp_mode, r.poll_mode, r.pid > 0, r.rules.find((x) => x.rule_id == 42).packets, r.sequence > 1].join()")" = "test-worker,dut0,iface:dut1,copy,wakeup,true,20,true" ]'
expect "A gRPC report: the queue as its attachment and queue (0, 0), queue_id still filled" \
	'[ "$(jget "$REPORT" "const q = r.queues[0]; [r.queues.length, q.attachment, q.queue, q.queue_id].join()")" = 1,0,0,0 ]'

# ---- B: SIGKILL mid-flow: the kernel takes over -----------------------------------------
FALLBACK0=$(xdp_count redirect_fallback)
cap_start "$TMP/b.pcap"
send 5000 7000 200 10 &
SENDER=$!
sleep 0.8
{ # stderr off: the shell's "Killed" notice of the worker job
	kill -9 "$WPID"
	wait "$SENDER"
	cap_stop
	wait "$WPID"
} 2>/dev/null
WORKER_PKTS=$(count "$TMP/b.pcap" '$3 == 7001 && $4 == 59 && $5 == 1 && $6 == 1')
KERNEL_PKTS=$(count "$TMP/b.pcap" '$3 == 7000 && $4 == 63 && $5 == 1 && $6 == 1')
FALLBACK=$(($(xdp_count redirect_fallback) - FALLBACK0))
OUT="worker path $WORKER_PKTS, kernel path $KERNEL_PKTS, redirect_fallback $FALLBACK of 200"
echo "info SIGKILL mid-flow: $OUT"
expect "B before the kill: through the worker (TTL 59, dport 7001)" '[ "$WORKER_PKTS" -gt 0 ]'
expect "B after the kill: through the kernel (TTL 63, dport 7000), counted redirect_fallback" \
	'[ "$KERNEL_PKTS" -gt 0 ] && [ "$FALLBACK" -ge "$KERNEL_PKTS" ]'
expect "B at most a ring's worth lost in the kill (>= 180 of 200 arrive)" '[ $((WORKER_PKTS + KERNEL_PKTS)) -ge 180 ]'
expect "B the last packet took the kernel path" '[ "$(fields "$TMP/b.pcap" | tail -n 1 | cut -d" " -f3)" = 7000 ]'

# ---- C: a restarted worker rejoins by itself --------------------------------------------
if worker_start main --egress iface:dut1 --poll wakeup; then ok "C worker restarts with the same command"; else fail "C worker restarts" "$OUT"; fi
cap_start "$TMP/c.pcap"
send 5000 7000 10
cap_stop
OUT=$(fields "$TMP/c.pcap")
expect "C after the restart: back through the worker (10 x TTL 59, dport 7001)" \
	'[ "$(count "$TMP/c.pcap" "\$3 == 7001 && \$4 == 59")" = 10 ] && [ "$(count "$TMP/c.pcap" 1)" = 10 ]'
TEL=$(telemetry main)
OUT=$TEL
expect "C the new worker counts from zero (rx 10)" '[ "$(jget "$TEL" "r.total.rx_packets")" = 10 ]'

# ---- D: SIGTERM: clean stop, entry deleted, the kernel path -----------------------------
worker_stop TERM
OUT=$(tail -n 3 "$TMP/main.log")
expect "D SIGTERM: exit status 0 and 'stopped'" '[ "$WRC" = 0 ] && grep -q "pcf-worker: stopped" "$TMP/main.log"'
cap_start "$TMP/d.pcap"
send 5000 7000 10
cap_stop
OUT=$(fields "$TMP/d.pcap")
expect "D after the stop: the kernel path (10 x TTL 63, dport 7000)" \
	'[ "$(count "$TMP/d.pcap" "\$3 == 7000 && \$4 == 63")" = 10 ]'

# ---- E: frames without valid metadata (--no-meta) ---------------------------------------
if nsenter --net="/run/netns/$DUT" "$LOADER" replace --iface dut0 --pin-dir "$PIN" --obj "$NOMETA" >/dev/null; then
	worker_start nometa-drop --egress iface:dut1 --poll wakeup || fail "E worker starts (--no-meta drop)" "$OUT"
	cap_start "$TMP/e1.pcap"
	send 5100 7010 5 # redirected with no metadata
	send 5101 7011 5 # redirected with the metadata of a PASS rule
	cap_stop
	TEL=$(telemetry nometa-drop)
	OUT=$TEL
	expect "E --no-meta drop (default): counted as no_meta 5 and not_redirect 5, dropped" \
		'[ "$(jget "$TEL" "[r.total.drop_no_meta, r.total.drop_not_redirect, r.total.tx_packets].join()")" = 5,5,0 ] && [ "$(count "$TMP/e1.pcap" 1)" = 0 ]'
	worker_stop TERM
	worker_start nometa-pass --egress iface:dut1 --poll wakeup --no-meta pass || fail "E worker starts (--no-meta pass)" "$OUT"
	cap_start "$TMP/e2.pcap"
	send 5100 7010 5
	send 5101 7011 5
	cap_stop
	TEL=$(telemetry nometa-pass)
	OUT="$TEL $(fields "$TMP/e2.pcap")"
	expect "E --no-meta pass: forwarded unchanged (TTL 64, ports kept, checksums valid), counted" \
		'[ "$(count "$TMP/e2.pcap" "(\$3 == 7010 || \$3 == 7011) && \$4 == 64 && \$5 == 1 && \$6 == 1")" = 10 ] && [ "$(jget "$TEL" "[r.total.no_meta_passed, r.total.tx_packets, r.total.drop_no_meta].join()")" = 10,10,0 ]'
	worker_stop TERM
	nsenter --net="/run/netns/$DUT" "$LOADER" replace --iface dut0 --pin-dir "$PIN" >/dev/null ||
		fail "E pcf_xdp back in place" "pcf-xdp replace"
else
	fail "E swap in test/nometa.bpf.c" "pcf-xdp replace --obj $NOMETA"
fi

# ---- F: TAP egress: back into the kernel stack ------------------------------------------
if worker_start tap --egress tap:pcft0 --poll wakeup; then
	ok "F worker starts with --egress tap:pcft0"
	cap_start "$TMP/f.pcap"
	send 5000 7000 10
	cap_stop
	OUT=$(fields "$TMP/f.pcap")
	expect "F through the TAP and the kernel's forwarding: TTL 64-5-1, dport 7001, checksums" \
		'[ "$(count "$TMP/f.pcap" "\$3 == 7001 && \$4 == 58 && \$5 == 1 && \$6 == 1")" = 10 ]'
	worker_stop TERM
	OUT=$(ip -n "$DUT" -br link)
	expect "F stopped: exit 0, the TAP interface is gone" '[ "$WRC" = 0 ] && ! ip -n "$DUT" link show pcft0 >/dev/null 2>&1'
else
	fail "F worker starts with --egress tap:pcft0" "$OUT"
fi

# ---- G: busy polling ----------------------------------------------------------------------
if worker_start busy --egress iface:dut1 --poll busy; then
	BUSY_PCT=$(cpu_pct "$WPID" 2)
	echo "info idle CPU in busy mode: $BUSY_PCT% of one core"
	cap_start "$TMP/g.pcap"
	send 5000 7000 10
	cap_stop
	OUT=$(fields "$TMP/g.pcap")
	expect "G busy mode forwards (10 x TTL 59, dport 7001)" '[ "$(count "$TMP/g.pcap" "\$3 == 7001 && \$4 == 59")" = 10 ]'
	OUT="$BUSY_PCT%"
	expect "G busy mode spins a core while idle (> 50%)" 'awk -v p="$BUSY_PCT" "BEGIN {exit !(p > 50)}"'
	# I (here, while it runs): a second worker on the same queue, while this one runs
	bad second nsenter --net="/run/netns/$DUT" "$WORKER" --in-memory --no-pci -l 0,1 --file-prefix "$LAB-second" \
		-- --iface dut0 --pin-dir "$PIN" --egress tap:pcft1
	expect "I a second worker on a taken queue: exit 7, 'another worker?'" '[ "$RC" = 7 ] && grep -q "another worker" <<<"$OUT"'
	worker_stop TERM
else
	fail "G worker starts in busy mode" "$OUT"
fi

# ---- H: Ethernet addresses on TX: --next-hop, --dst-mac, --src-mac ----------------------
if worker_start l2-miss --egress iface:dut1 --poll wakeup --next-hop 198.18.1.77; then
	send 5000 7000 5
	TEL=$(telemetry l2-miss)
	OUT=$TEL
	expect "H --next-hop without a kernel neighbour entry: dropped as no_neighbour" \
		'[ "$(jget "$TEL" "[r.total.drop_no_neighbour, r.total.tx_packets].join()")" = 5,0 ]'
	worker_stop TERM
else
	fail "H worker starts with --next-hop" "$OUT"
fi
S0_MAC=$(ip -n "$SERVER" -o link show s0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
if worker_start l2-fixed --egress iface:dut1 --poll wakeup --dst-mac "$S0_MAC" --src-mac 02:00:00:00:00:42; then
	cap_start "$TMP/i.pcap"
	send 5000 7000 5
	cap_stop
	OUT=$(tshark -r "$TMP/i.pcap" -T fields -e eth.src -e eth.dst 2>/dev/null | sort | uniq -c)
	expect "H --dst-mac/--src-mac: the frames carry them" \
		'[ "$(tshark -r "$TMP/i.pcap" -T fields -e eth.src -e eth.dst -e udp.dstport 2>/dev/null | grep -c "^02:00:00:00:00:42	$S0_MAC	7001$")" = 5 ]'
	worker_stop TERM
else
	fail "H worker starts with --dst-mac/--src-mac" "$OUT"
fi

# ---- I: bad configurations ----------------------------------------------------------------
W=(nsenter --net="/run/netns/$DUT" "$WORKER" --in-memory --no-pci -l 0,1 --file-prefix "$LAB-bad")
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN-none" --egress iface:dut1
expect "I no pin dir: exit 3, 'no pin dir'" '[ "$RC" = 3 ] && grep -q "no pin dir $PIN-none" <<<"$OUT"'
mkdir -p "$PIN-empty"
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN-empty" --egress iface:dut1
expect "I no pinned pcf_xskmap: exit 3, 'no pinned pcf_xskmap'" '[ "$RC" = 3 ] && grep -q "no pinned pcf_xskmap" <<<"$OUT"'
# A pin dir with a pcf_xskmap and no pcf_config (no pcf-xdp of this tree makes one; bpftool
# creates the map, nothing is packed) is refused, as any pin dir without the loader's maps.
mkdir -p "$PIN-xsk" && bpftool map create "$PIN-xsk/pcf_xskmap" type xskmap key 4 value 4 entries 256 name pcf_xskmap
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN-xsk" --egress iface:dut1
expect "I a pin dir without pcf_config: exit 3, names it" '[ "$RC" = 3 ] && grep -q "failed to open $PIN-xsk/pcf_config" <<<"$OUT"'
bad bad ip netns exec "$DUT" "$WORKER" --in-memory --no-pci -l 0,1 --file-prefix "$LAB-bad" -- \
	--iface dut0 --pin-dir "$PIN" --egress iface:dut1
expect "I under ip netns exec (bpffs hidden): exit 3, says to use nsenter" '[ "$RC" = 3 ] && grep -q "nsenter" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut1 --pin-dir "$PIN" --egress iface:dut0
expect "I pin dir of another interface: exit 3, 'attached to ifindex'" '[ "$RC" = 3 ] && grep -q "attached to ifindex" <<<"$OUT"'
bad bad "${W[@]}" -- --iface nosuch0 --pin-dir "$PIN" --egress iface:dut1
expect "I no such interface: exit 4, 'no such interface: nosuch0'" '[ "$RC" = 4 ] && grep -q "no such interface: nosuch0" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN" --egress iface:nosuch1
expect "I no such egress interface: exit 4" '[ "$RC" = 4 ] && grep -q "no such interface: nosuch1" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --queues 2
expect "I more queues than the NIC has: exit 5, 'has 1 RX queue'" '[ "$RC" = 5 ] && grep -q "dut0 has 1 RX queue" <<<"$OUT"'
bad bad nsenter --net="/run/netns/$DUT" "$WORKER" --in-memory --no-pci -l 0 --file-prefix "$LAB-bad" -- \
	--iface dut0 --pin-dir "$PIN" --egress iface:dut1
expect "I no worker lcore for the queue: exit 5" '[ "$RC" = 5 ] && grep -q "worker lcore" <<<"$OUT"'
bad bad nsenter --net="/run/netns/$DUT" "$WORKER" --no-pci -l 0,1 --huge-dir "$TMP/no-hugetlbfs" \
	--file-prefix "$LAB-bad" -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1
expect "I no hugepages (no hugetlbfs, no --in-memory): exit 6, says what to do" \
	'[ "$RC" = 6 ] && grep -q "nr_hugepages" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --zero-copy on
expect "I --zero-copy on where the driver has none (veth): exit 1, says so" \
	'[ "$RC" = 1 ] && grep -q "zero-copy mode (--zero-copy on): Operation not supported" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN"
expect "I no --egress: exit 2" '[ "$RC" = 2 ] && grep -q "egress" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --poll sometimes
expect "I a bad option value: exit 2" '[ "$RC" = 2 ] && grep -q "not one of busy, wakeup" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN" --egress iface:dut0
expect "I egress = RX interface: exit 2" '[ "$RC" = 2 ] && grep -q "is the RX interface" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --dst-mac 02:00:00:zz:00:01
expect "I a bad MAC: exit 2" '[ "$RC" = 2 ] && grep -q "not a MAC address" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --next-hop 198.18.1.300
expect "I a bad --next-hop: exit 2" '[ "$RC" = 2 ] && grep -q "not an IPv4 or IPv6 address" <<<"$OUT"'
bad bad "${W[@]}" -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --next-hop 2001:2::1 --next-hop 2001:2::2
expect "I two IPv6 --next-hop: exit 2 (one per family)" '[ "$RC" = 2 ] && grep -q "IPv6 next hop was already given" <<<"$OUT"'
bad bad "${W[@]}" --bogus-eal-option -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1
expect "I a bad EAL option: exit 2" '[ "$RC" = 2 ] && grep -q "invalid EAL arguments" <<<"$OUT"'

# ---- K: --reverse: TCP through REDIRECT rules with NAT in both directions ---------------------
# The client connects from 198.18.0.1:30001 to the virtual 198.18.1.2:8080 (routed via its
# default gateway, dut0). Rule A (dut0, attachment 0) DNATs to the server 198.18.1.1:9090; the
# server's replies arrive on dut1, where rule B (attachment 1) SNATs them back to 198.18.1.2:8080, and
# the worker sends them out of dut0. One socket per (interface, queue), one lcore each.
RW=(nsenter --net="/run/netns/$DUT" "$WORKER" --in-memory --no-pci --file-prefix "$LAB-bad")
bad bad "${RW[@]}" -l 0,1 -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --reverse
expect "K --reverse with one worker lcore for two queues: exit 5" '[ "$RC" = 5 ] && grep -q "2 worker lcores" <<<"$OUT"'
bad bad "${RW[@]}" --lcores 0@0,1@0,2@1 -- --iface dut0 --pin-dir "$PIN" --egress tap --reverse
expect "K --reverse with --egress tap: exit 2" '[ "$RC" = 2 ] && grep -q "reverse needs --egress iface" <<<"$OUT"'
bad bad "${RW[@]}" --lcores 0@0,1@0,2@1 -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --reverse-attachment 1
expect "K --reverse-attachment without --reverse: exit 2" '[ "$RC" = 2 ] && grep -q "need --reverse" <<<"$OUT"'
bad bad "${RW[@]}" --lcores 0@0,1@0,2@1 -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --reverse
expect "K --reverse before dut1 is attached as attachment 1: exit 3, says what to attach" \
	'[ "$RC" = 3 ] && grep -q "no XDP program is attached as attachment 1" <<<"$OUT"'
# --port and --reverse-port: the old names of --attachment and --reverse-attachment, still taken
bad bad "${RW[@]}" --lcores 0@0,1@0,2@1 -- --iface dut0 --pin-dir "$PIN" --egress iface:dut1 --reverse --port 1 --reverse-port 1
expect "K --reverse-attachment = --attachment (by their old names): exit 2" '[ "$RC" = 2 ] && grep -q "reverse-attachment 1 is --attachment 1: each interface needs an attachment of its own" <<<"$OUT"'
if nsenter --net="/run/netns/$DUT" "$LOADER" attach --iface dut1 --attachment 1 --pin-dir "$PIN" >"$TMP/k-attach.log" 2>&1; then
	ok "K pcf-xdp attach --iface dut1 --attachment 1 on the same pin dir"
else
	fail "K pcf-xdp attach --iface dut1 --attachment 1" "$(cat "$TMP/k-attach.log")"
fi
TCPP=6 UDPP=17
rule_k $TCPP 198.18.0.1 30001 198.18.1.2 8080 50 -1 $DNAT 0.0.0.0 0 198.18.1.1 9090 && # A
rule_k $TCPP 198.18.1.1 9090 198.18.0.1 30001 51 -1 $SNAT 198.18.1.2 8080 0.0.0.0 0 && # B
rule_k $TCPP 198.18.0.1 30002 198.18.1.2 8080 52 -1 $DNAT 0.0.0.0 0 198.18.1.1 9090 && # A, 2nd port
rule_k $TCPP 198.18.1.1 9090 198.18.0.1 30002 53 -1 $SNAT 198.18.1.2 8080 0.0.0.0 0 && # B, 2nd port
rule_k $UDPP 198.18.1.1 9091 198.18.0.1 30003 54 -1 0 0.0.0.0 0 0.0.0.0 0 || # attachment 1, UDP
	fail "K rules A and B written" "test/tools/maps.ts put-flow"
ip netns exec "$SERVER" timeout 60 node "$TCP" serve 9090 50000 2>"$TMP/k-serve.err" &
PIDS+=("$!")
for i in $(seq 1 50); do grep -q ready "$TMP/k-serve.err" && break; sleep 0.1; done
LCORES=(--lcores '0@0,1@0,2@1') # main, dut0 queue 0, dut1 queue 0 on two CPUs: wakeup mode
if worker_start reverse --egress iface:dut1 --reverse --poll wakeup; then
	OUT=$(cat "$TMP/reverse.log")
	expect "K one socket and lcore per (interface, queue): dut0 -> dut1 and dut1 -> dut0" \
		'grep -q "dut0 queue 0 -> dut1 queue 0 on lcore 1: attachment 0, pcf_xskmap\[0\]" <<<"$OUT" && grep -q "dut1 queue 0 -> dut0 queue 0 on lcore 2: attachment 1, pcf_xskmap\[64\]" <<<"$OUT"'
	IDLE_PCT=$(cpu_pct "$WPID" 5)
	echo "info idle CPU in wakeup mode with --reverse (2 datapath lcores): $IDLE_PCT% of one core"
	OUT="$IDLE_PCT%"
	expect "K idle CPU with --reverse in wakeup mode is near zero (< 5% of a core)" 'awk -v p="$IDLE_PCT" "BEGIN {exit !(p < 5)}"'
	RES=$(ip netns exec "$CLIENT" timeout 30 node "$TCP" connect 198.18.1.2 8080 30001 10000 10000)
	OUT=$RES
	expect "K TCP 198.18.0.1:30001 -> 198.18.1.2:8080 through the worker: 10000 bytes echoed whole" \
		'[ "$(jget "$RES" "[r.ok, r.echoed].join()")" = true,10000 ]'
	TEL=$(telemetry reverse)
	OUT=$TEL
	expect "K counters of both directions: queue_0 (dut0, attachment 0) and queue_64 (dut1, attachment 1 queue 0) rx = tx = nat" \
		'[ "$(jget "$TEL" "const a = r.queue_0, b = r.queue_64; [a.attachment, b.attachment, b.queue, a.rx_packets > 5, a.rx_packets == a.tx_packets && a.rx_packets == a.nat, b.rx_packets > 5, b.rx_packets == b.tx_packets && b.rx_packets == b.nat].join()")" = 0,1,0,true,true,true,true ]'
	expect "K per-rule counters: A (50) and B (51), no drops" \
		'[ "$(jget "$TEL" "[r.rule_packets[50] == r.queue_0.rx_packets, r.rule_packets[51] == r.queue_64.rx_packets, Object.keys(r.total).filter((k) => k.startsWith(\"drop_\")).reduce((s, k) => s + r.total[k], 0), r.reverse].join()")" = "true,true,0,dut1 attachment 1 -> dut0" ]'
	worker_stop TERM
	OUT=$(tail -n 4 "$TMP/reverse.log")
	expect "K SIGTERM: exit 0, both attachments' pcf_xskmap entries deleted (0 and 64)" \
		'[ "$WRC" = 0 ] && grep -q "deleted pcf_xskmap entries: 0 64" <<<"$OUT"'
	# No socket at either key now: REDIRECT falls back to the kernel on both interfaces.
	FALLBACK0=$(xdp_count redirect_fallback)
	send 5000 7000 5 # rule 42 on dut0 (attachment 0)
	ip netns exec "$SERVER" timeout 60 node "$UDP" send 198.18.0.1 30003 9091 5 2 >/dev/null # rule 54 on dut1 (attachment 1)
	FALLBACK=$(($(xdp_count redirect_fallback) - FALLBACK0))
	OUT="redirect_fallback $FALLBACK"
	expect "K after SIGTERM both attachments fall back to the kernel (redirect_fallback 10)" '[ "$FALLBACK" = 10 ]'
	# Without the worker the kernel forwards the SYN unNATed to 198.18.1.2, which nobody
	# owns: no ARP answer on dut1, no connection (EHOSTUNREACH after the ARP probes, or timeout).
	RES=$(ip netns exec "$CLIENT" timeout 30 node "$TCP" connect 198.18.1.2 8080 30002 10000 5000)
	OUT=$RES
	echo "info K without the worker: $RES"
	expect "K without the worker the connection cannot be made" '[ "$(jget "$RES" "r.ok")" = false ]'
else
	fail "K worker starts with --reverse" "$OUT"
fi
LCORES=(-l 0,1)
nsenter --net="/run/netns/$DUT" "$LOADER" detach --iface dut1 --attachment 1 --pin-dir "$PIN" >/dev/null ||
	fail "K pcf-xdp detach --iface dut1 --attachment 1" "detach"

# ---- O: neighbour churn: entries the kernel drops leave the worker's table ----------------------
# Over time more distinct neighbours than the table holds at once (PCF_NEIGH_MAX 1,024 per family)
# come and go on the egress: 5 batches of 256 permanent entries, each added, seen by the worker
# (telemetry "neighbours"), deleted and seen gone. A next hop added afterwards still gets its
# packets: a table that kept every address it ever saw would be full by then.
# neigh_wait NAME CONDITION: poll telemetry until CONDITION (on r) holds, 5 s at most; sets TEL
neigh_wait() {
	local i
	for i in $(seq 1 50); do
		TEL=$(telemetry "$1")
		[ "$(jget "$TEL" "$2" 2>/dev/null)" = true ] && return 0
		sleep 0.1
	done
	return 1
}
if worker_start neigh --egress iface:dut1 --poll wakeup --next-hop 198.18.1.200; then
	TEL=$(telemetry neigh)
	O_BASE=$(jget "$TEL" "r.neighbours ?? 0")
	O_OK=1
	for b in 0 1 2 3 4; do
		for i in $(seq 0 255); do
			printf 'neigh replace 198.18.%d.%d lladdr 02:00:00:00:%02x:%02x dev dut1 nud permanent\n' $((64 + b)) "$i" "$b" "$i"
		done >"$TMP/o-add"
		sed 's/^neigh replace \([^ ]*\) .*/neigh del \1 dev dut1/' "$TMP/o-add" >"$TMP/o-del"
		ip -n "$DUT" -batch "$TMP/o-add" || O_OK=
		neigh_wait neigh "r.neighbours == $O_BASE + 256" || { O_OK=; OUT="batch $b: added, the worker has $(jget "$TEL" r.neighbours) (want $((O_BASE + 256)))"; }
		ip -n "$DUT" -batch "$TMP/o-del" || O_OK=
		neigh_wait neigh "r.neighbours == $O_BASE" || { O_OK=; OUT="batch $b: deleted, the worker has $(jget "$TEL" r.neighbours) (want $O_BASE)"; }
	done
	expect "O 5 x 256 neighbours added and deleted on dut1: the worker's table follows (1,280 addresses over time)" '[ -n "$O_OK" ]'
	S0_MAC=$(ip -n "$SERVER" -o link show s0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	ip -n "$DUT" neigh replace 198.18.1.200 lladdr "$S0_MAC" dev dut1 nud permanent
	neigh_wait neigh "r.neighbours == $O_BASE + 1"
	cap_start "$TMP/o.pcap"
	send 5000 7000 10
	cap_stop
	TEL=$(telemetry neigh)
	OUT="$TEL $(fields "$TMP/o.pcap")"
	expect "O then a new next hop (--next-hop 198.18.1.200) gets its packets: 10 arrive, no no_neighbour drop" \
		'[ "$(count "$TMP/o.pcap" "\$3 == 7001 && \$4 == 59")" = 10 ] && [ "$(jget "$TEL" "[r.total.tx_packets, r.total.drop_no_neighbour].join()")" = 10,0 ]'
	ip -n "$DUT" neigh del 198.18.1.200 dev dut1
	worker_stop TERM
else
	fail "O worker starts with --next-hop 198.18.1.200" "$OUT"
fi

# ---- Q: SIGTERM while telemetry is being read ----------------------------------------------------
# Three clients query /pcf/stats back to back over the telemetry socket while the worker stops:
# the stop detaches telemetry (and waits for a call in progress) before the ports and tables
# go away. Bounded: 10 s at most, or until the socket goes.
tel_flood() { # NAME SECONDS: queries until the socket closes; prints "answers errors"
	python3 - "/var/run/dpdk/$LAB-$1/dpdk_telemetry.v2" "$2" <<'EOF'
import json, socket, sys, threading, time
path, end = sys.argv[1], time.monotonic() + float(sys.argv[2])
answers = errors = 0
lock = threading.Lock()
def client():
    global answers, errors
    while time.monotonic() < end:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(2)
            s.connect(path)
            s.recv(1024)
            while time.monotonic() < end:
                s.send(b"/pcf/stats")
                r = json.loads(s.recv(1 << 16))
                with lock:
                    if r.get("/pcf/stats"): answers += 1
                    else: errors += 1
        except (OSError, ValueError):
            with lock: errors += 1
            time.sleep(0.01)
            try:
                socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).connect(path)
            except OSError:
                return # the worker is gone
t = [threading.Thread(target=client) for _ in range(3)]
for x in t: x.start()
for x in t: x.join()
print(answers, errors)
EOF
}
if worker_start telstop --egress iface:dut1 --poll wakeup; then
	send 5000 7000 5
	tel_flood telstop 10 >"$TMP/q.out" &
	QPID=$!
	for i in $(seq 1 50); do [ "$(jget "$(telemetry telstop)" r.total.rx_packets)" = 5 ] && break; sleep 0.1; done
	worker_stop TERM
	wait "$QPID"
	read -r Q_ANSWERS Q_ERRORS <"$TMP/q.out"
	OUT="exit $WRC, $Q_ANSWERS answers, $Q_ERRORS errors; $(tail -n 3 "$TMP/telstop.log")"
	echo "info Q telemetry during the stop: $OUT"
	expect "Q SIGTERM under back-to-back /pcf/stats queries: exit 0, 'stopped', no crash" \
		'[ "$WRC" = 0 ] && grep -q "pcf-worker: stopped" "$TMP/telstop.log" && ! grep -qi "segmentation\|core dumped\|panic" "$TMP/telstop.log" && [ "${Q_ANSWERS:-0}" -gt 0 ]'
else
	fail "Q worker starts" "$OUT"
fi

# ---- R: a report target that takes the calls and never answers -----------------------------------
# A hung control plane (report_sink --hang, bounded: 40 s): each report waits out its deadline
# (2 s with --report-interval-ms 4000). The report thread waits,
# not the main lcore: mirror copies keep reaching the pcapng file as they come (a stream of one
# PCF_F_MIRROR packet per 50 ms for 6 s; the file never stops growing for 1 s) and the
# neighbour table keeps being read (its age never reaches 1.5 s; a new entry shows within 1.5 s).
HANG=$TMP/hang.sock
"$SINK" "unix:$HANG" 40 --hang >/dev/null 2>"$TMP/hang-sink.err" &
PIDS+=("$!")
for i in $(seq 1 50); do grep -q listening "$TMP/hang-sink.err" && break; sleep 0.1; done
# watch NAME FILE SECONDS: every 20 ms the file's size and the worker's neighbour age; prints
# "longest_ms_without_growth max_neighbour_age_ms" over the time the file grew
watch_main() {
	python3 - "/var/run/dpdk/$LAB-$1/dpdk_telemetry.v2" "$2" "$3" <<'EOF'
import json, os, socket, sys, time
tel, path, end = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(2)
s.connect(tel)
s.recv(1024)
size, first, last, gap, age = -1, None, None, 0, 0
while time.monotonic() < end:
    now = time.monotonic()
    n = os.path.getsize(path) if os.path.exists(path) else 0
    if n != size:
        if size >= 0 and first is None:
            first = now
        if first is not None and last is not None:
            gap = max(gap, now - last)
        last, size = now, n
    s.send(b"/pcf/stats")
    age = max(age, json.loads(s.recv(1 << 16))["/pcf/stats"].get("neighbour_refresh_age_ms", 1e9))
    time.sleep(0.02)
print(int(gap * 1000), int(age))
EOF
}
if worker_start hang --egress iface:dut1 --poll wakeup --mirror-pcap "$TMP/r-mirror.pcapng" \
	--report "unix:$HANG" --report-interval-ms 4000; then
	watch_main hang "$TMP/r-mirror.pcapng" 7 >"$TMP/r-watch.out" &
	RW=$!
	send 5002 7003 120 50
	TEL=$(telemetry hang)
	R_BASE=$(jget "$TEL" "r.neighbours ?? 0")
	ip -n "$DUT" neigh replace 198.18.1.202 lladdr 02:00:00:00:00:02 dev dut1 nud permanent
	R_SEEN=
	for i in $(seq 1 15); do
		[ "$(jget "$(telemetry hang)" "r.neighbours")" = $((R_BASE + 1)) ] && { R_SEEN=1; break; }
		sleep 0.1
	done
	wait "$RW"
	read -r R_GAP R_AGE <"$TMP/r-watch.out"
	OUT="longest stall of the pcapng file ${R_GAP:-?} ms, neighbour table age up to ${R_AGE:-?} ms; $(grep 'report to' "$TMP/hang.log" | head -1)"
	echo "info R with a hung report target: $OUT"
	expect "R hung report target: the 120 mirror copies reach the pcapng file, which never stalls for 1 s" \
		'[ "$(count "$TMP/r-mirror.pcapng" "\$3 == 7003")" = 120 ] && [ "${R_GAP:-99999}" -lt 1000 ]'
	expect "R hung report target: the neighbour table is re-read every second (age < 1.5 s), a new entry shows within 1.5 s" \
		'[ "${R_AGE:-99999}" -lt 1500 ] && [ -n "$R_SEEN" ]'
	ip -n "$DUT" neigh del 198.18.1.202 dev dut1
	T0=$(date +%s%N)
	worker_stop TERM
	R_STOP_MS=$((($(date +%s%N) - T0) / 1000000))
	OUT="exit $WRC in $R_STOP_MS ms; $(grep 'pcf-worker: report\|last report' "$TMP/hang.log" | head -3)"
	expect "R SIGTERM with a hung report target: exit 0 within 6 s (the last report's wait is bounded)" \
		'[ "$WRC" = 0 ] && [ "$R_STOP_MS" -lt 6000 ]'
else
	fail "R worker starts with a hung report target" "$OUT"
fi

# ---- S: reports resume soon after the control plane comes back ---------------------------------
# report_sink on a Unix socket goes away for 3 s (the backoffs reach their caps) and comes back,
# twice: the next report reaches it within 2 s each time.
SOCK=$TMP/s.sock
sink_up() { # FILE: report_sink on $SOCK, bounded; waits until it listens; sets SINK_PID
	local i
	"$SINK" "unix:$SOCK" 60 >"$1" 2>"$1.err" &
	SINK_PID=$!
	PIDS+=("$SINK_PID")
	for i in $(seq 1 100); do grep -q listening "$1.err" && return 0; sleep 0.02; done
	return 1
}
if worker_start resume --egress iface:dut1 --poll wakeup --report "unix:$SOCK" --report-interval-ms 200; then
	S_MAX=0
	for t in 1 2; do
		sink_up "$TMP/s-before$t.json"
		for i in $(seq 1 100); do [ -s "$TMP/s-before$t.json" ] && break; sleep 0.05; done
		kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null
		sleep 3 # the outage: long enough for the report and reconnect backoffs to reach their caps
		sink_up "$TMP/s-after$t.json"
		T0=$(date +%s%N)
		for i in $(seq 1 500); do [ -s "$TMP/s-after$t.json" ] && break; sleep 0.02; done
		S_MS=$((($(date +%s%N) - T0) / 1000000))
		[ "$S_MS" -gt "$S_MAX" ] && S_MAX=$S_MS
		echo "info S reports resumed $S_MS ms after the report target came back (outage $t)"
		kill -TERM "$SINK_PID"; wait "$SINK_PID" 2>/dev/null
	done
	OUT="$S_MAX ms; $(grep 'pcf-worker: report' "$TMP/resume.log" | tail -2)"
	expect "S reports resume within 2 s of the control plane coming back (after a 3 s outage, twice)" '[ "$S_MAX" -lt 2000 ]'
	worker_stop TERM
else
	fail "S worker starts" "$OUT"
fi

# ---- T: the worker's cost per packet: busy_cycles and tsc_hz -------------------------------------
# 300 packets through rule 42 (REDIRECT, DNAT + TTL) in wakeup mode: queue_0's busy_cycles, the
# TSC cycles from before each burst's RX to after its TX for the bursts that carried packets,
# is 0 before the first packet and does not grow while the lcore idles (empty polls and the
# poll() wait are not counted); per packet it is between 100 and 10,000,000 cycles, and in
# seconds (/ tsc_hz) no more than the time the packets took to send. The report says the same.
T_SOCK=$TMP/t.sock
"$SINK" "unix:$T_SOCK" 60 >"$TMP/t-sink.json" 2>"$TMP/t-sink.err" &
PIDS+=("$!")
for i in $(seq 1 50); do grep -q listening "$TMP/t-sink.err" && break; sleep 0.1; done
if worker_start cost --egress iface:dut1 --poll wakeup --report "unix:$T_SOCK" --report-interval-ms 200; then
	sleep 0.5
	TEL=$(telemetry cost)
	OUT=$TEL
	expect "T before any packet: busy_cycles 0 (idle polls are not counted), tsc_hz > 0" \
		'[ "$(jget "$TEL" "[r.queue_0.busy_cycles, r.total.busy_cycles, r.tsc_hz > 0].join()")" = 0,0,true ]'
	T_N=300
	T0=$(date +%s%N)
	send 5000 7000 $T_N 1
	T_WALL_NS=$(($(date +%s%N) - T0))
	for i in $(seq 1 50); do [ "$(jget "$(telemetry cost)" "r.queue_0.rx_packets")" = $T_N ] && break; sleep 0.1; done
	sleep 0.2 # the last burst's cycles are added after its TX
	TEL=$(telemetry cost)
	T_BUSY=$(jget "$TEL" "r.queue_0.busy_cycles")
	T_HZ=$(jget "$TEL" "r.tsc_hz")
	OUT="$TEL wall ${T_WALL_NS} ns"
	echo "info T cost per packet: $(jget "$TEL" "const q = r.queue_0; \`\${q.busy_cycles} cycles for \${q.rx_packets} packets = \${(q.busy_cycles / q.rx_packets).toFixed(0)} cycles = \${(1e9 * q.busy_cycles / q.rx_packets / r.tsc_hz).toFixed(0)} ns per packet at \${r.tsc_hz} Hz\`")"
	expect "T after $T_N packets: rx $T_N, busy_cycles > 0 (queue_0 and total)" \
		'[ "$(jget "$TEL" "[r.queue_0.rx_packets, r.queue_0.busy_cycles > 0, r.total.busy_cycles == r.queue_0.busy_cycles].join()")" = $T_N,true,true ]'
	expect "T busy_cycles / rx_packets between 100 and 10,000,000 cycles" \
		'[ "$(jget "$TEL" "const c = r.queue_0.busy_cycles / r.queue_0.rx_packets; c >= 100 && c <= 1e7")" = true ]'
	expect "T busy_cycles / tsc_hz (busy seconds) no more than the ${T_WALL_NS} ns the packets took" \
		'[ "$(jget "$TEL" "1e9 * r.queue_0.busy_cycles / r.tsc_hz <= $T_WALL_NS")" = true ]'
	sleep 1
	TEL=$(telemetry cost)
	OUT="$TEL before: $T_BUSY"
	expect "T idle for 1 s after the traffic: busy_cycles unchanged" '[ "$(jget "$TEL" "r.queue_0.busy_cycles")" = "$T_BUSY" ]'
	REPORT=
	for i in $(seq 1 50); do
		REPORT=$(tail -n 1 "$TMP/t-sink.json" 2>/dev/null)
		[ -n "$REPORT" ] && [ "$(jget "$REPORT" 'r.queues[0].counters.rx_packets')" = $T_N ] && break
		sleep 0.1
	done
	OUT="report: $REPORT"
	expect "T gRPC report: QueueStats.busy_cycles and WorkerStats.tsc_hz as telemetry shows them" \
		'[ "$(jget "$REPORT" "[r.queues[0].counters.rx_packets, r.queues[0].busy_cycles, r.tsc_hz].join()")" = "$T_N,$T_BUSY,$T_HZ" ]'
	worker_stop TERM
else
	fail "T worker starts" "$OUT"
fi

# ---- U: USDT probes on the RX and TX bursts --------------------------------------------------
# bpftrace attached to the running worker (no restart) by its probes pcf_worker:rx_burst and
# pcf_worker:tx_burst: the packets of the bursts it sees sum to the packets sent through rule 42
# and to what the worker counted, on the port named "dut0 queue 0".
if ! command -v bpftrace >/dev/null; then
	skip_case U "bpftrace is not installed (make deps installs it)"
elif worker_start usdt --egress iface:dut1 --poll wakeup; then
	U_N=300
	timeout 60 bpftrace -p "$WPID" -e "
usdt:$WORKER:pcf_worker:rx_burst { @rx_packets = sum(arg2); @rx_bursts = count(); @port[str(arg0), arg1] = sum(arg2); }
usdt:$WORKER:pcf_worker:tx_burst { @tx_packets = sum(arg3); @tx_handed = sum(arg2); }" >"$TMP/u.bt" 2>&1 &
	U_BT=$!
	PIDS+=("$U_BT")
	for i in $(seq 1 100); do grep -q "Attaching 2 probes" "$TMP/u.bt" && break; sleep 0.1; done
	send 5000 7000 $U_N 1
	for i in $(seq 1 50); do [ "$(jget "$(telemetry usdt)" "r.queue_0.tx_packets")" = $U_N ] && break; sleep 0.1; done
	TEL=$(telemetry usdt)
	kill -INT "$U_BT" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$U_BT" 2>/dev/null || break; sleep 0.1; done
	OUT="$(cat "$TMP/u.bt") telemetry: $TEL"
	bt() { awk -v k="$1" '$1 == k {print $2}' "$TMP/u.bt"; }
	echo "info U $(bt @rx_bursts:) RX bursts for $U_N packets"
	expect "U rx_burst: the bursts' packets sum to the $U_N sent and to the worker's rx_packets" \
		'[ "$(bt @rx_packets:)" = $U_N ] && [ "$(jget "$TEL" "r.queue_0.rx_packets")" = $U_N ]'
	expect "U rx_burst: between 1 and $U_N bursts, all on port \"dut0 queue 0\", queue 0" \
		'[ "$(bt @rx_bursts:)" -ge 1 ] && [ "$(bt @rx_bursts:)" -le $U_N ] && grep -q "^@port\[dut0 queue 0, 0\]: $U_N\$" "$TMP/u.bt"'
	expect "U tx_burst: handed and sent sum to the worker's tx_packets ($U_N)" \
		'[ "$(bt @tx_handed:)" = $U_N ] && [ "$(bt @tx_packets:)" = $U_N ]'
	worker_stop TERM
else
	fail "U worker starts" "$OUT"
fi

# ---- L: IPv6 through the control plane's rules --------------------------------------------
# IPv6 rules have a precedence: they live in the classifier maps (pcf_rules, pcf_match_map,
# pcf_shapes, pcf_ruleset), which the control plane writes (REST, as in test/lib/cp.ts), and
# their IPv6 NAT addresses in pcf_nat6[stats_slot], which the worker reads through its
# read-only mmap. The control plane reconciles pcf_flow_map with its own (empty) SQLite at
# start: the IPv4 rules written above are deleted; rule 42 is written again for J afterwards.
C6=2001:2::1 S6=2001:2:0:1::1
RPIDS=()
send6() { # DST DPORT SPORT COUNT [GAP_MS [BYTES]]: from the client, hop limit 64
	ip netns exec "$CLIENT" timeout 60 node "$UDP" send "$1" "$2" "$3" "$4" "${5:-2}" "${6:-0}" >/dev/null
}
recv_start() { # PORT FILE: a receiver in the server namespace (both families), bounded
	local i
	ip netns exec "$SERVER" timeout 60 node "$UDP" recv "$1" 30000 >"$2" 2>"$2.err" &
	RPIDS+=("$!")
	PIDS+=("$!")
	for i in $(seq 1 50); do grep -q ready "$2.err" && return 0; sleep 0.1; done
	return 1
}
recv_stop() {
	local p
	for p in "${RPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	RPIDS=()
}
# rule_slot ID: the stats_slot of the live rule with a precedence ID (pcf_rules)
rule_slot() { maps rule-slot "$1"; }
# nat6_entry SLOT: "snat_ip dnat_ip" of pcf_nat6[SLOT]
nat6_entry() { jget "$(maps nat6 "$1")" '[r.snatIp, r.dnatIp].join(" ")'; }

L_OK=
if cp_start; then
	ok "L the control plane starts on the lab's pin dir (server/main.ts)"
	L_OK=1
else
	skip_case "L IPv6 through the worker" "the control plane does not start here (node --import tsx server/main.ts): $(tr '\n' ' ' <<<"$OUT" | cut -c1-300)"
fi
if [ -n "$L_OK" ]; then
	if worker_start v6 --egress iface:dut1 --poll wakeup --mirror-pcap "$TMP/v6-mirror.pcapng"; then
		ok "L worker starts"
	else
		fail "L worker starts" "$OUT"
	fi
	OUT=$(cat "$TMP/v6.log")
	expect "L the worker maps pcf_nat6 read-only at start" 'grep -q "pcf_nat6 mapped read-only: [0-9]* entries" <<<"$OUT"'

	# The rules come after the worker: what the control plane writes into pcf_nat6 while the
	# worker runs is seen through the mapping.
	post_rule '{"match": {"src": "2001:2::/64", "proto": "udp", "dst_ports": 7000}, "precedence": 1, "action": {"type": "REDIRECT", "ttl_delta": -2}}'
	L_HOP=$RID OUT=$RES
	expect "L POST an IPv6 REDIRECT rule with a precedence (udp 7000, hop limit -2)" '[ -n "$L_HOP" ]'
	post_rule '{"match": {"src": "2001:2::/64", "proto": "udp", "dst_ports": 7300}, "precedence": 1, "action": {"type": "REDIRECT", "ttl_delta": -64}}'
	L_EXP=$RID OUT=$RES
	post_rule '{"match": {"src": "2001:2::/64", "proto": "tcp", "dst_ports": 8080}, "precedence": 1, "action": {"type": "REDIRECT", "ttl_delta": -2}}'
	L_TCP=$RID OUT="$OUT $RES"
	expect "L POST the hop-limit-expiry (udp 7300) and TCP (8080) rules" '[ -n "$L_EXP" ] && [ -n "$L_TCP" ]'
	post_rule '{"match": {"src": "2001:2::/64", "dst": "2001:2:0:1::2/128", "proto": "udp", "dst_ports": 7100}, "precedence": 1, "action": {"type": "REDIRECT", "ttl_delta": -1, "mirror": true, "nat": {"snat_ip": "2001:2:0:1::fe", "snat_port": 40000, "dnat_ip": "2001:2:0:1::1", "dnat_port": 7101}}}'
	L_NAT=$RID L_NAT_RES=$RES
	post_rule '{"match": {"src": "2001:2::/64", "dst": "2001:2:0:1::3/128", "proto": "udp"}, "precedence": 2, "action": {"type": "REDIRECT", "ttl_delta": -1, "nat": {"dnat_ip": "2001:2:0:1::1"}}}'
	L_FRAG=$RID L_FRAG_RES=$RES
	NAT6_OK=
	if [ -n "$L_NAT" ] && [ -n "$L_FRAG" ]; then
		NAT6_OK=1
		ok "L POST IPv6 rules with NAT (addresses and ports; a port-less one)"
	else
		skip_case "L IPv6 NAT through the worker (lab; the unit tests cover it)" \
			"the control plane refuses IPv6 NAT over REST: $(cut -f2 <<<"$L_NAT_RES $L_FRAG_RES" | cut -c1-300)"
	fi
	if [ -n "$NAT6_OK" ]; then
		L_SLOT=$(rule_slot "$L_NAT")
		OUT="slot '$L_SLOT': $(nat6_entry "${L_SLOT:-0}" 2>&1)"
		expect "L pcf_nat6[stats_slot] of the NAT rule holds its addresses (written by the control plane)" \
			'[ -n "$L_SLOT" ] && [ "$(nat6_entry "$L_SLOT")" = "2001:2:0:1::fe 2001:2:0:1::1" ]'
	fi

	cap_start "$TMP/l.pcap" "$SERVER" s0 ip6 || fail "L capture starts" "tcpdump"
	recv_start 7101 "$TMP/l-7101.json" && recv_start 7200 "$TMP/l-7200.json" || fail "L receivers start" "udp.mjs recv"
	send6 $S6 7000 5000 10
	send6 $S6 7300 5300 5
	if [ -n "$NAT6_OK" ]; then
		send6 2001:2:0:1::2 7100 5100 10          # to a virtual address: only the DNAT makes it arrive
		send6 2001:2:0:1::3 7200 5200 2 20 3000   # over the MTU: fragments, all of them through the worker
	fi
	cap_stop
	recv_stop
	OUT=$(fields6 "$TMP/l.pcap" | sort | uniq -c)
	expect "L udp 7000: 10 packets arrive through the worker with hop limit 64-2, valid checksums" \
		'[ "$(count6 "$TMP/l.pcap" "\$1 == \"$C6\" && \$2 == \"$S6\" && \$4 == 7000 && \$5 == 62 && \$6 == 1")" = 10 ]'
	expect "L udp 7000: nothing on the kernel path (hop limit 63)" '[ "$(count6 "$TMP/l.pcap" "\$4 == 7000 && \$5 != 62")" = 0 ]'
	expect "L udp 7300: hop limit 64-64 is dropped, nothing arrives" '[ "$(count6 "$TMP/l.pcap" "\$4 == 7300")" = 0 ]'
	if [ -n "$NAT6_OK" ]; then
		expect "L NAT: 10 arrive as [2001:2:0:1::fe]:40000 -> [2001:2:0:1::1]:7101, hop limit 63, valid checksums" \
			'[ "$(count6 "$TMP/l.pcap" "\$1 == \"2001:2:0:1::fe\" && \$3 == 40000 && \$2 == \"$S6\" && \$4 == 7101 && \$5 == 63 && \$6 == 1")" = 10 ]'
		RECV=$(cat "$TMP/l-7101.json")
		OUT=$RECV
		expect "L NAT: the receiver in the server namespace got all 10 from [2001:2:0:1::fe]:40000" \
			'[ "$(jget "$RECV" "[r.received, r.from[\"2001:2:0:1::fe:40000\"]].join()")" = 10,10 ]'
		L_FRAGS=$(count6 "$TMP/l.pcap" "\$7 != \"\"")
		L_LATER=$(count6 "$TMP/l.pcap" "\$7 > 0")
		OUT="fragments $L_FRAGS, later $L_LATER; $(fields6 "$TMP/l.pcap" | awk -F, '$7 != ""' | sort | uniq -c)"
		expect "L fragments of a port-less rule: every one (first and later) DNATed to $S6, hop limit 63" \
			'[ "$L_LATER" -ge 2 ] && [ "$(count6 "$TMP/l.pcap" "\$7 != \"\" && \$1 == \"$C6\" && \$2 == \"$S6\" && \$5 == 63")" = "$L_FRAGS" ] && [ "$(count6 "$TMP/l.pcap" "\$2 == \"2001:2:0:1::3\"")" = 0 ]'
		RECV=$(cat "$TMP/l-7200.json")
		OUT=$RECV
		expect "L fragments: the receiver reassembled both 3000-byte datagrams (UDP checksum verified by its kernel)" \
			'[ "$(jget "$RECV" "[r.received, r.from[\"2001:2::1:5200\"]].join()")" = 2,2 ]'
		OUT=$(fields6 "$TMP/v6-mirror.pcapng" 2>&1)
		expect "L mirror pcapng: the 10 PCF_F_MIRROR packets, after NAT and hop limit" \
			'[ "$(count6 "$TMP/v6-mirror.pcapng" "\$1 == \"2001:2:0:1::fe\" && \$4 == 7101 && \$5 == 63")" = 10 ] && [ "$(count6 "$TMP/v6-mirror.pcapng" 1)" = 10 ]'
	else
		L_FRAGS=0 L_LATER=0
	fi

	# TCP: the client's segments through the worker (hop limit -2), the replies by the kernel.
	ip netns exec "$SERVER" timeout 60 node "$TCP" serve 8080 30000 2>"$TMP/l-serve.err" &
	PIDS+=("$!")
	for i in $(seq 1 50); do grep -q ready "$TMP/l-serve.err" && break; sleep 0.1; done
	TEL0=$(telemetry v6)
	cap_start "$TMP/l-tcp.pcap" "$SERVER" s0 "ip6 and tcp" || fail "L TCP capture starts" "tcpdump"
	RES=$(ip netns exec "$CLIENT" timeout 30 node "$TCP" connect $S6 8080 30010 10000 10000)
	cap_stop
	OUT=$RES
	expect "L TCP [2001:2::1]:30010 -> [$S6]:8080 through the worker: 10000 bytes echoed whole" \
		'[ "$(jget "$RES" "[r.ok, r.echoed].join()")" = true,10000 ]'
	L_SEGS=$(count6 "$TMP/l-tcp.pcap" "\$1 == \"$C6\"" tcp)
	OUT="$L_SEGS segments: $(fields6 "$TMP/l-tcp.pcap" tcp | sort | uniq -c | head)"
	expect "L TCP: every segment from the client arrives with hop limit 62 and a valid checksum" \
		'[ "$L_SEGS" -ge 5 ] && [ "$(count6 "$TMP/l-tcp.pcap" "\$1 == \"$C6\" && \$4 == 8080 && \$5 == 62 && \$6 == 1" tcp)" = "$L_SEGS" ]'

	TEL=$(telemetry v6)
	OUT=$TEL
	L_TCPN=$(($(jget "$TEL" r.total.rx_packets) - $(jget "$TEL0" r.total.rx_packets)))
	L_NATN=$((NAT6_OK ? 10 + L_FRAGS : 0))
	expect "L telemetry: every frame IPv6 (rx_ipv6 = rx), tx = rx - 5, ttl_expired 5, nat = 10 + fragments, frag_later = later fragments, no other drop" \
		'[ "$(jget "$TEL" "const t = r.total; [t.rx_ipv6 == t.rx_packets, t.tx_packets == t.rx_packets - 5, t.ttl_expired, t.drop_ttl_expired, t.nat, t.frag_later, Object.keys(t).filter((k) => k.startsWith(\"drop_\")).reduce((s, k) => s + t[k], 0)].join()")" = "true,true,5,5,$L_NATN,$L_LATER,5" ]'
	expect "L telemetry: per-rule counters (udp 7000: 10, TCP: its segments, NAT: 10, fragments: each)" \
		'[ "$(jget "$TEL" "[r.rule_packets[$L_HOP], r.rule_packets[$L_TCP] == $L_TCPN, r.rule_packets[${L_NAT:-0}] ?? 0, r.rule_packets[${L_FRAG:-0}] ?? 0].join()")" = "10,true,$((NAT6_OK ? 10 : 0)),$L_FRAGS" ]'

	# SIGKILL mid-flow: the kernel drops the socket's xskmap entry, REDIRECT falls back (XDP_PASS)
	FALLBACK0=$(xdp_count redirect_fallback)
	cap_start "$TMP/l-kill.pcap" "$SERVER" s0 ip6
	send6 $S6 7000 5000 200 10 &
	SENDER=$!
	sleep 0.8
	{
		kill -9 "$WPID"
		wait "$SENDER"
		cap_stop
		wait "$WPID"
	} 2>/dev/null
	WORKER_PKTS=$(count6 "$TMP/l-kill.pcap" '$4 == 7000 && $5 == 62 && $6 == 1')
	KERNEL_PKTS=$(count6 "$TMP/l-kill.pcap" '$4 == 7000 && $5 == 63 && $6 == 1')
	FALLBACK=$(($(xdp_count redirect_fallback) - FALLBACK0))
	OUT="worker path $WORKER_PKTS, kernel path $KERNEL_PKTS, redirect_fallback $FALLBACK of 200"
	echo "info L IPv6 SIGKILL mid-flow: $OUT"
	expect "L IPv6 before the kill: through the worker (hop limit 62)" '[ "$WORKER_PKTS" -gt 0 ]'
	expect "L IPv6 after the kill: through the kernel (hop limit 63), counted redirect_fallback" \
		'[ "$KERNEL_PKTS" -gt 0 ] && [ "$FALLBACK" -ge "$KERNEL_PKTS" ]'
	expect "L IPv6: at most a ring's worth lost in the kill (>= 180 of 200 arrive)" '[ $((WORKER_PKTS + KERNEL_PKTS)) -ge 180 ]'
	expect "L IPv6: the last packet took the kernel path" '[ "$(fields6 "$TMP/l-kill.pcap" | tail -n 1 | cut -d, -f5)" = 63 ]'

	# --next-hop per family: an IPv4 one does not apply to IPv6 packets, an IPv6 one does.
	if worker_start v6-nh --egress iface:dut1 --poll wakeup --next-hop 198.18.1.77 --next-hop 2001:2:0:1::77; then
		send6 $S6 7000 5000 5
		TEL=$(telemetry v6-nh)
		OUT=$TEL
		expect "L --next-hop 2001:2:0:1::77 without a neighbour entry: IPv6 packets dropped as no_neighbour" \
			'[ "$(jget "$TEL" "[r.total.drop_no_neighbour, r.total.tx_packets].join()")" = 5,0 ]'
		worker_stop TERM
	else
		fail "L worker starts with an IPv4 and an IPv6 --next-hop" "$OUT"
	fi
	if worker_start v6-nh2 --egress iface:dut1 --poll wakeup --next-hop 198.18.1.77 --next-hop $S6; then
		cap_start "$TMP/l-nh.pcap" "$SERVER" s0 ip6
		send6 $S6 7000 5000 5
		cap_stop
		OUT=$(fields6 "$TMP/l-nh.pcap")
		expect "L --next-hop $S6 (with --next-hop 198.18.1.77 for IPv4): IPv6 packets go to its MAC" \
			'[ "$(count6 "$TMP/l-nh.pcap" "\$4 == 7000 && \$5 == 62")" = 5 ]'
		worker_stop TERM
	else
		fail "L worker starts with --next-hop $S6" "$OUT"
	fi

	# --egress tap: IPv6 back into the kernel stack, which routes it (and decrements again).
	if worker_start v6-tap --egress tap:pcft6 --poll wakeup; then
		cap_start "$TMP/l-tap.pcap" "$SERVER" s0 ip6
		send6 $S6 7000 5000 5
		cap_stop
		OUT=$(fields6 "$TMP/l-tap.pcap")
		expect "L --egress tap: IPv6 through the TAP and the kernel's forwarding (hop limit 64-2-1, checksums)" \
			'[ "$(count6 "$TMP/l-tap.pcap" "\$4 == 7000 && \$5 == 61 && \$6 == 1")" = 5 ]'
		worker_stop TERM
	else
		fail "L worker starts with --egress tap:pcft6" "$OUT"
	fi

	# --reverse: TCP with NAT in both directions over IPv6. The client connects from
	# [2001:2::1]:30011 to the virtual [2001:2:0:1::2]:8081; rule A6 (seen on dut0, attachment 0)
	# DNATs to [2001:2:0:1::1]:9090, rule B6 (on dut1, attachment 1) SNATs the replies back. (Not 8080: the
	# TCP rule above has the same precedence and is older, so it would take the SYN.)
	if [ -n "$NAT6_OK" ]; then
		nsenter --net="/run/netns/$DUT" "$LOADER" attach --iface dut1 --attachment 1 --pin-dir "$PIN" >"$TMP/l-attach.log" 2>&1 ||
			fail "L pcf-xdp attach --iface dut1 --attachment 1" "$(cat "$TMP/l-attach.log")"
		post_rule '{"match": {"src": "2001:2::1/128", "dst": "2001:2:0:1::2/128", "proto": "tcp", "src_ports": 30011, "dst_ports": 8081}, "precedence": 1, "action": {"type": "REDIRECT", "ttl_delta": -1, "nat": {"dnat_ip": "2001:2:0:1::1", "dnat_port": 9090}}}'
		L_A6=$RID OUT=$RES
		post_rule '{"match": {"src": "2001:2:0:1::1/128", "dst": "2001:2::1/128", "proto": "tcp", "src_ports": 9090, "dst_ports": 30011}, "precedence": 1, "action": {"type": "REDIRECT", "ttl_delta": -1, "nat": {"snat_ip": "2001:2:0:1::2", "snat_port": 8081}}}'
		L_B6=$RID OUT="$OUT $RES"
		expect "L --reverse: rules A6 (DNAT) and B6 (SNAT of the replies) POSTed" '[ -n "$L_A6" ] && [ -n "$L_B6" ]'
		ip netns exec "$SERVER" timeout 60 node "$TCP" serve 9090 30000 2>"$TMP/l-serve9090.err" &
		PIDS+=("$!")
		for i in $(seq 1 50); do grep -q ready "$TMP/l-serve9090.err" && break; sleep 0.1; done
		LCORES=(--lcores '0@0,1@0,2@1')
		if worker_start v6-rev --egress iface:dut1 --reverse --poll wakeup; then
			cap_start "$TMP/l-rev-s.pcap" "$SERVER" s0 "ip6 and tcp"
			cap_start "$TMP/l-rev-c.pcap" "$CLIENT" c0 "ip6 and tcp"
			RES=$(ip netns exec "$CLIENT" timeout 30 node "$TCP" connect 2001:2:0:1::2 8081 30011 10000 10000)
			cap_stop
			OUT=$RES
			expect "L --reverse: TCP [2001:2::1]:30011 -> [2001:2:0:1::2]:8081 NATed both ways: 10000 bytes echoed whole" \
				'[ "$(jget "$RES" "[r.ok, r.echoed].join()")" = true,10000 ]'
			N_S=$(count6 "$TMP/l-rev-s.pcap" "\$1 == \"$C6\"" tcp)
			N_C=$(count6 "$TMP/l-rev-c.pcap" "\$2 == \"$C6\"" tcp)
			OUT="server side: $(fields6 "$TMP/l-rev-s.pcap" tcp | sort | uniq -c | head -4) client side: $(fields6 "$TMP/l-rev-c.pcap" tcp | sort | uniq -c | head -4)"
			expect "L --reverse: at the server the client's segments arrive as -> [$S6]:9090, hop limit 63, valid checksums" \
				'[ "$N_S" -ge 5 ] && [ "$(count6 "$TMP/l-rev-s.pcap" "\$1 == \"$C6\" && \$2 == \"$S6\" && \$4 == 9090 && \$5 == 63 && \$6 == 1" tcp)" = "$N_S" ]'
			expect "L --reverse: at the client the replies arrive from [2001:2:0:1::2]:8081, hop limit 63, valid checksums" \
				'[ "$N_C" -ge 5 ] && [ "$(count6 "$TMP/l-rev-c.pcap" "\$2 == \"$C6\" && \$1 == \"2001:2:0:1::2\" && \$3 == 8081 && \$5 == 63 && \$6 == 1" tcp)" = "$N_C" ]'
			TEL=$(telemetry v6-rev)
			OUT=$TEL
			expect "L --reverse: both directions counted (queue_0, queue_64: rx = tx = nat = rx_ipv6, per rule), no drops" \
				'[ "$(jget "$TEL" "const a = r.queue_0, b = r.queue_64; [a.rx_packets >= 5 && a.rx_packets == a.tx_packets && a.rx_packets == a.nat && a.rx_packets == a.rx_ipv6, b.rx_packets >= 5 && b.rx_packets == b.tx_packets && b.rx_packets == b.nat && b.rx_packets == b.rx_ipv6, r.rule_packets[$L_A6] == a.rx_packets, r.rule_packets[$L_B6] == b.rx_packets, Object.keys(r.total).filter((k) => k.startsWith(\"drop_\")).reduce((s, k) => s + r.total[k], 0)].join()")" = true,true,true,true,0 ]'
			worker_stop TERM
		else
			fail "L worker starts with --reverse" "$OUT"
		fi
		LCORES=(-l 0,1)
		nsenter --net="/run/netns/$DUT" "$LOADER" detach --iface dut1 --attachment 1 --pin-dir "$PIN" >/dev/null ||
			fail "L pcf-xdp detach --iface dut1 --attachment 1" "detach"
	fi
fi

# ---- M: IPv4 fragments through the worker ------------------------------------------------
# A 3000-byte UDP datagram leaves the client as three IPv4 fragments: a first one (MF, offset
# 0) with the UDP header, whose checksum covers the whole datagram, and two later ones without
# it. A port-less rule with a precedence, POSTed to L's control plane, takes all of them (XDP
# matches a later fragment against port-less rules only): the worker decrements the TTL of
# each and translates its source (the first fragment's UDP checksum updated incrementally,
# the later ones' header checksums only); the server's kernel reassembles the datagram and
# verifies its UDP checksum. Without the worker they would arrive from 198.18.0.1 with TTL 63.
# fields4 FILE: "src,dst,ttl,ip_csum_ok,frag_offset,mf" per IPv4 UDP packet or fragment (not
# reassembled; ip_csum_ok 1 = good); count4 FILE 'AWK CONDITION'
fields4() {
	tshark -r "$1" -o ip.defragment:FALSE -o ip.check_checksum:TRUE -Y "ip && udp || ip.frag_offset > 0" \
		-T fields -E separator=, -e ip.src -e ip.dst -e ip.ttl -e ip.checksum.status \
		-e ip.frag_offset -e ip.flags.mf 2>/dev/null
}
count4() { fields4 "$1" | awk -F, "$2 {n++} END {print n+0}"; }
if [ -z "$L_OK" ]; then
	skip_case "M IPv4 fragments through the worker" "the control plane does not start here (see L)"
else
	post_rule '{"match": {"src": "198.18.0.1/32", "proto": "udp"}, "precedence": 1, "action": {"type": "REDIRECT", "ttl_delta": -2, "nat": {"snat_ip": "198.18.0.77"}}}'
	M_RULE=$RID OUT=$RES
	expect "M POST a port-less IPv4 REDIRECT rule (udp from 198.18.0.1/32, TTL -2, SNAT 198.18.0.77)" '[ -n "$M_RULE" ]'
	if [ -n "$M_RULE" ] && worker_start v4frag --egress iface:dut1 --poll wakeup; then
		cap_start "$TMP/m.pcap" "$SERVER" s0 "ip and udp" || fail "M capture starts" "tcpdump"
		recv_start 7400 "$TMP/m-7400.json" || fail "M receiver starts" "udp.mjs recv"
		ip netns exec "$CLIENT" timeout 60 node "$UDP" send 198.18.1.1 7400 5400 2 20 3000 >/dev/null
		cap_stop
		recv_stop
		M_FRAGS=$(count4 "$TMP/m.pcap" 1)
		M_FIRST=$(count4 "$TMP/m.pcap" '$5 == 0 && $6 == 1')
		M_LATER=$(count4 "$TMP/m.pcap" '$5 > 0')
		OUT="fragments $M_FRAGS, first $M_FIRST, later $M_LATER; $(fields4 "$TMP/m.pcap" | sort | uniq -c | tr '\n' ';')"
		echo "info M IPv4 fragments at the server: $OUT"
		expect "M 2 datagrams of 3000 bytes arrive as 6 fragments (2 first, 4 later)" \
			'[ "$M_FRAGS" = 6 ] && [ "$M_FIRST" = 2 ] && [ "$M_LATER" = 4 ]'
		expect "M every fragment, first and later, from 198.18.0.77 with TTL 64-2 and a valid header checksum" \
			'[ "$(count4 "$TMP/m.pcap" "\$1 == \"198.18.0.77\" && \$2 == \"198.18.1.1\" && \$3 == 62 && \$4 == 1")" = 6 ]'
		expect "M nothing on the kernel path (source 198.18.0.1 or TTL 63)" \
			'[ "$(count4 "$TMP/m.pcap" "\$1 == \"198.18.0.1\" || \$3 == 63")" = 0 ]'
		OUT=$(fields "$TMP/m.pcap")
		expect "M tshark reassembles both datagrams: 198.18.0.77:5400 -> 7400, UDP checksum valid" \
			'[ "$(count "$TMP/m.pcap" "\$1 == \"198.18.0.77\" && \$2 == 5400 && \$3 == 7400 && \$6 == 1")" = 2 ]'
		RECV=$(cat "$TMP/m-7400.json")
		OUT=$RECV
		expect "M the receiver got both datagrams from 198.18.0.77:5400 (reassembled, UDP checksum verified by its kernel)" \
			'[ "$(jget "$RECV" "[r.received, r.from[\"198.18.0.77:5400\"]].join()")" = 2,2 ]'
		TEL=$(telemetry v4frag)
		OUT=$TEL
		expect "M telemetry: rx = tx = nat = 6 fragments, frag_later 4, rx_ipv6 0, no drops, the rule counts 6" \
			'[ "$(jget "$TEL" "const t = r.total; [t.rx_packets, t.tx_packets, t.nat, t.frag_later, t.rx_ipv6, Object.keys(t).filter((k) => k.startsWith(\"drop_\")).reduce((s, k) => s + t[k], 0), r.rule_packets[$M_RULE]].join()")" = 6,6,6,4,0,0,6 ]'
		worker_stop TERM
	elif [ -n "$M_RULE" ]; then
		fail "M worker starts" "$OUT"
	fi
	if [ -n "$M_RULE" ]; then
		RES=$(api DELETE "/flows/$M_RULE")
		OUT=$RES
		expect "M DELETE the rule" '[ "$(cut -f1 <<<"$RES")" = 204 ]'
	fi
fi

# ---- N: per-rule counters under rule churn ---------------------------------------------------------
# 9 batches of 500 exact REDIRECT rules (udp 198.18.0.1:6000 -> 198.18.1.1:20000..20499) POSTed
# to the control plane, one packet through each, then deleted in one batch-delete: 4,500
# distinct rules over time (more than the 4,096 rules a table keyed by rule id held), the
# control plane handing the same stats slots to each batch (lowest free first). Then one more
# rule and 7 packets (45-byte frames): counted exactly, in telemetry and in the report the
# control plane shows (GET /stats workers[].rules), and nothing counted as rule_overflow (the
# per-rule counters are indexed by stats_slot; an entry restarts when its slot gets a new rule).
# post_batch PORT N: POSTs N exact REDIRECT rules for dst ports PORT.. (8 at a time); prints their ids
post_batch() {
	node -e 'const [url, base, n] = [process.argv[1], +process.argv[2], +process.argv[3]];
		const ids = []; let next = 0;
		const one = async () => { while (next < n) { const i = next++;
			const r = await fetch(url + "/flows", { method: "POST", headers: { "content-type": "application/json" },
				body: JSON.stringify({ key: { src_ip: "198.18.0.1", dst_ip: "198.18.1.1", src_port: 6000, dst_port: base + i, proto: "udp" }, action: { type: "REDIRECT" } }) });
			if (r.status !== 201) throw new Error(`POST ${base + i}: ${r.status} ${await r.text()}`);
			ids[i] = (await r.json()).id; } };
		Promise.all(Array.from({ length: 8 }, one)).then(() => console.log(ids.join(" "))).catch((e) => { console.error(e.message); process.exit(1); });' \
		"$CP_URL" "$1" "$2"
}
# send_ports FIRST LAST [TIMES]: TIMES (1) UDP datagrams of 3 bytes from 198.18.0.1:6000 to each
# port FIRST..LAST of 198.18.1.1
send_ports() {
	ip netns exec "$CLIENT" timeout 30 python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.1", 6000))
for p in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    for _ in range(int(sys.argv[3])):
        s.sendto(b"pcf", ("198.18.1.1", p))' "$1" "$2" "${3:-1}"
}
# rx_wait NAME N: until the worker's total rx is N, 10 s at most; sets TEL
rx_wait() {
	local i
	for i in $(seq 1 100); do
		TEL=$(telemetry "$1")
		[ "$(jget "$TEL" "r.total.rx_packets")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
if [ -z "$L_OK" ]; then
	skip_case "N per-rule counters under rule churn" "the control plane does not start here (see L)"
elif worker_start churn --egress iface:dut1 --poll wakeup --report "unix:$TMP/cp/grpc.sock" \
	--report-interval-ms 200 --worker-id churn; then
	N_OK=1 N_RX=0 N_RULES=0
	for b in $(seq 1 9); do
		N_IDS=$(post_batch 20000 500) || { N_OK=; OUT="batch $b: POST failed"; break; }
		send_ports 20000 20499
		N_RX=$((N_RX + 500)) N_RULES=$((N_RULES + 500))
		rx_wait churn $N_RX || { N_OK=; OUT="batch $b: the worker received $(jget "$TEL" r.total.rx_packets) of $N_RX"; break; }
		RES=$(api POST /flows/batch-delete "{\"ids\": [$(tr ' ' , <<<"$N_IDS")]}")
		[ "$(cut -f1 <<<"$RES")" = 200 ] || { N_OK=; OUT="batch $b: batch-delete: $RES"; break; }
	done
	expect "N 9 batches of 500 REDIRECT rules created, one packet each through the worker, deleted ($N_RULES rules)" '[ -n "$N_OK" ]'
	post_rule '{"key": {"src_ip": "198.18.0.1", "dst_ip": "198.18.1.1", "src_port": 6000, "dst_port": 20000, "proto": "udp"}, "action": {"type": "REDIRECT"}}'
	N_NEW=$RID
	send_ports 20000 20000 7
	rx_wait churn $((N_RX + 7))
	OUT="rule $N_NEW: $(telemetry churn "/pcf/rule,$N_NEW") overflow $(jget "$TEL" "[r.rule_overflow, r.rule_restarts, r.rule_slots].join()")"
	expect "N after $N_RULES rules: the newest (id $N_NEW) counts its 7 packets (/pcf/rule), rule_overflow 0, slots reused (rule_restarts > 0)" \
		'[ -n "$N_NEW" ] && [ "$(jget "$(telemetry churn "/pcf/rule,$N_NEW")" "[r.packets, r.bytes].join()")" = 7,315 ] && [ "$(jget "$TEL" "[r.rule_overflow, r.rule_restarts > 0].join()")" = 0,true ]'
	N_SEEN=
	for i in $(seq 1 50); do
		RES=$(api GET /stats)
		[ "$(jget "$(cut -f2- <<<"$RES")" "(r.workers.find((w) => w.worker_id == \"churn\")?.rules.find((x) => x.rule_id == ${N_NEW:-0})?.packets ?? 0) == 7")" = true ] && { N_SEEN=1; break; }
		sleep 0.1
	done
	OUT=$(cut -c1-300 <<<"$RES")
	expect "N the control plane shows the newest rule's 7 packets in the worker's report (GET /stats)" '[ -n "$N_SEEN" ]'
	[ -n "$N_NEW" ] && api DELETE "/flows/$N_NEW" >/dev/null
	worker_stop TERM
else
	fail "N worker starts" "$OUT"
fi

# ---- P: off-link destinations through the egress's routes -----------------------------------------
# Without --next-hop the worker sends a packet to the neighbour entry of its route's gateway:
# routes 198.18.9.0/24 and 2001:2:0:9::/64 via the server (198.18.1.1, 2001:2:0:1::1, whose
# entries are permanent) on dut1; packets to 198.18.9.5 and 2001:2:0:9::5 arrive at the server
# with its MAC as destination. The worker reads the routes on its neighbour timer.
if [ -z "$L_OK" ]; then
	skip_case "P off-link destinations through the egress's routes" "the control plane does not start here (see L)"
elif worker_start routes --egress iface:dut1 --poll wakeup; then
	post_rule '{"key": {"src_ip": "198.18.0.1", "dst_ip": "198.18.9.5", "src_port": 5010, "dst_port": 7009, "proto": "udp"}, "action": {"type": "REDIRECT", "ttl_delta": -1}}'
	P_RULE4=$RID OUT=$RES
	post_rule '{"match": {"src": "2001:2::/64", "dst": "2001:2:0:9::/64", "proto": "udp", "dst_ports": 7009}, "precedence": 1, "action": {"type": "REDIRECT", "ttl_delta": -1}}'
	P_RULE6=$RID OUT="$OUT $RES"
	expect "P REDIRECT rules to 198.18.9.5 and 2001:2:0:9::/64 POSTed" '[ -n "$P_RULE4" ] && [ -n "$P_RULE6" ]'
	P_R0=$(jget "$(telemetry routes)" "r.routes ?? 0")
	ip -n "$DUT" route add 198.18.9.0/24 via 198.18.1.1 dev dut1 &&
		ip -n "$DUT" -6 route add 2001:2:0:9::/64 via 2001:2:0:1::1 dev dut1 || fail "P routes added" "ip route add"
	P_SEEN=
	for i in $(seq 1 30); do
		TEL=$(telemetry routes)
		[ "$(jget "$TEL" "(r.routes ?? 0) >= $P_R0 + 4")" = true ] && { P_SEEN=1; break; }
		sleep 0.1
	done
	OUT="routes $(jget "$TEL" "r.routes") (from $P_R0); $(grep 'routes of' "$TMP/routes.log" | tail -2)"
	expect "P the worker loads the egress's routes into its LPM tables (telemetry routes: both families)" '[ -n "$P_SEEN" ]'
	S0_MAC=$(ip -n "$SERVER" -o link show s0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	cap_start "$TMP/p.pcap" "$SERVER" s0 "udp and (dst host 198.18.9.5 or dst host 2001:2:0:9::5)"
	ip netns exec "$CLIENT" timeout 60 node "$UDP" send 198.18.9.5 7009 5010 10 2 >/dev/null
	send6 2001:2:0:9::5 7009 5011 10
	cap_stop
	P_FRAMES=$(tshark -r "$TMP/p.pcap" -T fields -e eth.dst -e ip.dst -e ipv6.dst -e ip.ttl -e ipv6.hlim 2>/dev/null)
	OUT="$(sort <<<"$P_FRAMES" | uniq -c | tr '\n' ';') $(telemetry routes)"
	expect "P 10 packets to 198.18.9.5 arrive at the gateway's MAC ($S0_MAC), TTL 64-1 (the worker's, not the kernel's)" \
		'[ "$(grep -c "^$S0_MAC	198.18.9.5		63	$" <<<"$P_FRAMES")" = 10 ]'
	expect "P 10 packets to 2001:2:0:9::5 arrive at the gateway's MAC, hop limit 64-1" \
		'[ "$(grep -c "^$S0_MAC		2001:2:0:9::5		63$" <<<"$P_FRAMES")" = 10 ]'
	TEL=$(telemetry routes)
	OUT=$TEL
	expect "P telemetry: rx = tx = 20, no no_neighbour drop, the rules count 10 each" \
		'[ "$(jget "$TEL" "[r.total.rx_packets, r.total.tx_packets, r.total.drop_no_neighbour, r.rule_packets[$P_RULE4], r.rule_packets[$P_RULE6]].join()")" = 20,20,0,10,10 ]'
	ip -n "$DUT" route del 198.18.9.0/24 via 198.18.1.1 dev dut1
	ip -n "$DUT" -6 route del 2001:2:0:9::/64 via 2001:2:0:1::1 dev dut1
	for i in $(seq 1 30); do [ "$(jget "$(telemetry routes)" "r.routes")" = "$P_R0" ] && break; sleep 0.1; done
	ip netns exec "$CLIENT" timeout 60 node "$UDP" send 198.18.9.5 7009 5010 5 2 >/dev/null
	TEL=$(telemetry routes)
	OUT=$TEL
	expect "P routes deleted: the tables go (routes $P_R0 again) and 198.18.9.5 has no next hop (no_neighbour 5)" \
		'[ "$(jget "$TEL" "[r.routes, r.total.drop_no_neighbour].join()")" = "$P_R0,5" ]'
	worker_stop TERM
	for id in $P_RULE4 $P_RULE6; do api DELETE "/flows/$id" >/dev/null; done
else
	fail "P worker starts" "$OUT"
fi
[ -n "$L_OK" ] && cp_stop

# J uses rule 42 (the control plane's start deleted it from pcf_flow_map). A control plane
# without exact rules sets pcf_ruleset.no_exact (XDP then skips pcf_flow_map); an exact entry
# written behind its back must clear it first, as the control plane does before its first.
maps no-exact false && rule 5000 7000 42 -5 $DNAT 0.0.0.0 0 198.18.1.1 7001 ||
	fail "L rule 42 written again for J (pcf_ruleset.no_exact cleared first)" "test/tools/maps.ts"

# ---- J: two RX queues, one datapath lcore each --------------------------------------------
# veth takes the RX queue from the sender's TX queue, which XPS picks from the sending CPU.
if [ "$(nproc)" -ge 2 ] &&
	nsenter --net="/run/netns/$DUT" "$LOADER" detach --iface dut0 --pin-dir "$PIN" >/dev/null &&
	ip netns exec "$DUT" ethtool -L dut0 rx 2 tx 2 && ip netns exec "$DUT" ethtool -L dut1 rx 2 tx 2 &&
	ip netns exec "$CLIENT" ethtool -L c0 rx 2 tx 2 &&
	ip netns exec "$CLIENT" sh -c 'echo 1 >/sys/class/net/c0/queues/tx-0/xps_cpus && echo 2 >/sys/class/net/c0/queues/tx-1/xps_cpus' &&
	nsenter --net="/run/netns/$DUT" "$LOADER" attach --iface dut0 --pin-dir "$PIN" >/dev/null; then
	LCORES=(--lcores '0@0,1@0,2@0') # three lcores on a two-CPU box: wakeup mode sleeps
	if worker_start multi --egress iface:dut1 --poll wakeup; then
		OUT=$(cat "$TMP/multi.log")
		expect "J two queues by default (all of dut0's), each on its own lcore" \
			'grep -q "dut0 queue 0 -> dut1 queue 0 on lcore 1" <<<"$OUT" && grep -q "dut0 queue 1 -> dut1 queue 1 on lcore 2" <<<"$OUT"'
		cap_start "$TMP/j.pcap"
		ip netns exec "$CLIENT" taskset -c 0 timeout 60 node "$UDP" send 198.18.1.1 7000 5000 10 2 >/dev/null
		ip netns exec "$CLIENT" taskset -c 1 timeout 60 node "$UDP" send 198.18.1.1 7000 5000 10 2 >/dev/null
		cap_stop
		TEL=$(telemetry multi)
		OUT=$TEL
		expect "J each queue forwards its share; per-rule counters summed over lcores" \
			'[ "$(jget "$TEL" "[r.queue_0.rx_packets, r.queue_1.rx_packets, r.total.tx_packets, r.rule_packets[42]].join()")" = 10,10,20,20 ]'
		OUT=$(fields "$TMP/j.pcap")
		expect "J all 20 arrive through the worker (TTL 59, dport 7001)" \
			'[ "$(count "$TMP/j.pcap" "\$3 == 7001 && \$4 == 59 && \$5 == 1 && \$6 == 1")" = 20 ]'
		worker_stop TERM
		expect "J SIGTERM stops both lcores: exit 0" '[ "$WRC" = 0 ]'
	else
		fail "J worker starts on two queues" "$OUT"
	fi
else
	echo "info J two queues: not run (needs 2 CPUs and veth channels)"
fi

echo "test_worker.sh: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
