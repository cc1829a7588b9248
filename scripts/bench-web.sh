#!/usr/bin/env bash
# Load test of the LAN web with wrk (Debian package `wrk`): a demo hub on loopback, an API token
# of a manager, then for each URL 2 threads × 64 connections for DURATION seconds:
#   /api/v1/health                    the baseline: the same server, auth and routing, no work
#   /api/v1/products/{barcode}        a product looked up by its EAN-13 (issue 8: ≥ 5,000 req/s)
#   /api/v1/dashboard/summary         today's figures (cached between sales)
# Prints wrk's summary per URL. Usage: scripts/bench-web.sh [DURATION_SECONDS] (default 10).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
duration="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
bin="$PWD/target/release/storehub"
tmp="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --data-dir "$tmp/demo" demo --listen "127.0.0.1:$port" --shopper-every 0 >"$tmp/demo.log" 2>&1 &
hub=$!
trap 'kill $hub 2>/dev/null; wait $hub 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && break
    sleep 0.1
done
token=$("$bin" --data-dir "$tmp/demo" token add bench --role manager | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
barcode=$("$bin" --data-dir "$tmp/demo" export catalog --format json | python3 -c 'import json,sys; ps=json.load(sys.stdin); print(next(b for p in ps for b in p.get("barcodes",[]) if len(b)==13))')
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%Y-%m-%dT%H:%MZ); barcode $barcode"
for path in /api/v1/health "/api/v1/products/$barcode" /api/v1/dashboard/summary; do
    echo "== GET $path"
    wrk -t2 -c64 -d"${duration}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|Socket errors"
    curl -s -o /dev/null -w "   status %{http_code}\n" -H "Authorization: Bearer $token" "http://127.0.0.1:$port$path"
done
