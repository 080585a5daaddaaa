#!/usr/bin/env bash
# run.sh - every benchmark of the project, one after another (make bench; QUICK=1 in the
# environment: the short version of each, a few minutes in all), each writing
# bench/results/<name>.json and <name>.md; then bench/report.ts joins the sections into
# bench/results/REPORT.md. A benchmark that fails stops the run: the report is still written
# (those that ran, which one failed, which were not run) and the exit is non-zero.
set -uo pipefail
cd "$(dirname "$0")/.."
export QUICK="${QUICK:-}"

since=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
failed=""
report=()

# bench NAME TITLE COMMAND...: runs it unless an earlier one failed.
bench() {
  local name=$1 title=$2 t0=$SECONDS rc
  shift 2
  if [ -n "$failed" ]; then
    report+=(--not-run "$name")
    return
  fi
  echo "== $title =="
  "$@"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    report+=(--ran "$name:$((SECONDS - t0))")
  else
    echo "bench/run.sh: $name failed (exit $rc)" >&2
    failed=$name
    report+=(--failed "$name:$((SECONDS - t0))")
  fi
  echo "-- $name: $((SECONDS - t0)) s"
  echo
}

if [ -f bench/rfc2544.ts ]; then
  bench rfc2544 "RFC 2544: throughput, latency, loss" node --import tsx bench/rfc2544.ts
fi
bench xdp_cost "XDP cost per packet (BPF_PROG_TEST_RUN)" node --import tsx bench/xdp_cost.ts
bench event_cost "packet events: cost per packet (BPF_PROG_TEST_RUN)" node --import tsx bench/event_cost.ts
bench classifier_cost "classifier cost per packet: exact and prefix rule sets, xdp-filter, before (one run)" \
  node --import tsx bench/classifier_cost.ts
bench rules_rate "rules per second into SQLite and the map" node --import tsx bench/rules_rate.ts
bench stats_cost "GET /stats and writes under pollers, 1,000 rules and 131,000 (QUICK: 50,000)" node --import tsx bench/stats_cost.ts

node --import tsx bench/report.ts --since "$since" "${report[@]}" || exit 1
if [ -n "$failed" ]; then
  echo "bench/run.sh: $failed failed; bench/results/REPORT.md has the benchmarks that ran" >&2
  exit 1
fi
