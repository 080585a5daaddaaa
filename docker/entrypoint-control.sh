#!/usr/bin/env bash
# pcf-control - the control plane container's entrypoint.
#   serve        (default) node --import tsx server/main.ts (REST PCF_HTTP, gRPC PCF_GRPC and
#                PCF_GRPC_UNIX, SQLite PCF_DB in the named volume)
#   healthcheck  GET /readyz: 200 once the maps are there and reconciled with SQLite
#   pcfctl ...   the CLI (docker compose exec control pcfctl flows list)
set -euo pipefail
cd /app
: "${PCF_HTTP:=127.0.0.1:8080}" "${PCF_DB:=/var/lib/pcf/pcf.db}"
export PCF_HTTP PCF_DB

case ${1:-serve} in
  serve)
    mkdir -p "$(dirname "$PCF_DB")"
    if [ -n "${PCF_GRPC_UNIX:-}" ]; then mkdir -p "$(dirname "$PCF_GRPC_UNIX")"; rm -f "$PCF_GRPC_UNIX"; fi
    exec node --import tsx server/main.ts ;;
  healthcheck)
    host=${PCF_HTTP%:*} port=${PCF_HTTP##*:}
    case $host in "" | 0.0.0.0 | "[::]" | "::") host=127.0.0.1 ;; esac
    exec node -e '
      fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
        .then(async (r) => { if (r.status !== 200) { console.error(r.status, await r.text()); process.exit(1); } })
        .catch((e) => { console.error(String(e)); process.exit(1); });' "http://$host:$port/readyz" ;;
  pcfctl)
    shift; exec /app/bin/pcfctl "$@" ;;
  *)
    exec "$@" ;;
esac
