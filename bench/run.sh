#!/usr/bin/env bash
# run.sh - every benchmark of the project, in one run (make bench).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== XDP cost per packet (BPF_PROG_TEST_RUN) =="
build/bench_xdp_cost
echo
echo "== rules per second into SQLite and the map =="
node --import tsx bench/rules_rate.ts
echo
echo "== GET /stats and writes under pollers, 1,000 rules and a full map =="
node --import tsx bench/stats_cost.ts
echo
echo "== forwarding: kernel vs worker vs worker killed (trafgen, one run) =="
node --import tsx bench/forwarding.ts
echo
echo "== classifier cost per packet: exact and prefix rule sets, xdp-filter, before (one run) =="
node --import tsx bench/classifier_cost.ts
