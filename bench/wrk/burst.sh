#!/usr/bin/env bash
# A burst of streams opened at once, as deployed (`bin/causerie.js start`, default logging, pinned to one core;
# the client and a plain upstream on the other): the upstream sends its first chunk at once, then one a second.
# Prints, per target: first byte p50/p99/min in ms, failures, KiB of RSS per open stream of the serving process.
# Usage (from the project root): bash bench/wrk/burst.sh [streams=1000] [runs=1] [targets="upstream relay causerie"]
# BASE=<another checkout> adds target "base" (before/after in one run). PROFILE=<dir>: Causerie runs with --cpu-prof.
# Loopback only; every process started here is stopped at the end (and the data folder removed).
set -euo pipefail
N=${1:-1000}; RUNS=${2:-1}; TARGETS=${3:-"upstream relay causerie"}
APP="$(pwd)"; HERE="$APP/bench/wrk"
UP_PORT=${UP_PORT:-9321}; RELAY_PORT=${RELAY_PORT:-9322}; C_PORT=${C_PORT:-9323}
SUT_CPU=${SUT_CPU:-1}; LOAD_CPU=${LOAD_CPU:-0}
DATA=$(mktemp -d /tmp/causerie-burst-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
cat > "$DATA/models.json" <<JSON
{ "providers": { "openai": { "discover": false } }, "models": { "paced-1000": { "provider": "openai", "upstream": "paced-1000" } } }
JSON
key_for() { # data folder, checkout
  CAUSERIE_DATA_DIR="$1" node "$2/bin/causerie.js" users create bench --admin >/dev/null
  CAUSERIE_DATA_DIR="$1" node "$2/bin/causerie.js" keys create bench --name bench | grep -o 'API_[A-Z0-9_]*' | awk '{ print length, $0 }' | sort -rn | head -1 | cut -d' ' -f2
}
start_causerie() { # data folder, checkout, port
  CAUSERIE_DATA_DIR="$1" PORT=$3 OPENAI_BASE_URL=http://127.0.0.1:$UP_PORT/v1 OPENAI_API_KEY=sk-up CAUSERIE_CONFIG="$DATA/models.json" \
    taskset -c "$SUT_CPU" node "${PROF[@]}" "$2/bin/causerie.js" start > "$1/causerie.log" 2>&1 &
}
PROF=(); [ -n "${PROFILE:-}" ] && PROF=(--cpu-prof "--cpu-prof-dir=$PROFILE")
ulimit -n 65536 2>/dev/null || true
PORT=$UP_PORT taskset -c "$LOAD_CPU" node "$HERE/upstream.ts" & UP_PID=$!; PIDS+=($UP_PID)
PORT=$RELAY_PORT UPSTREAM_PORT=$UP_PORT taskset -c "$SUT_CPU" node "$HERE/relay.ts" & RELAY_PID=$!; PIDS+=($RELAY_PID)
KEY=$(key_for "$DATA" "$APP"); start_causerie "$DATA" "$APP" $C_PORT; C_PID=$!; PIDS+=($C_PID)
if [ -n "${BASE:-}" ]; then
  mkdir -p "$DATA/base"; BASE_KEY=$(key_for "$DATA/base" "$BASE"); PROF=()
  start_causerie "$DATA/base" "$BASE" $((C_PORT + 1)); B_PID=$!; PIDS+=($B_PID)
  for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$((C_PORT + 1))/healthz" >/dev/null && break; sleep 0.2; done
fi
for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$C_PORT/healthz" >/dev/null && curl -s -o /dev/null "http://127.0.0.1:$RELAY_PORT/" && break; sleep 0.2; done
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
printf '%-9s %3s | %6s %6s %6s | %8s | %10s | %s\n' target run p50 p99 min failures 'KiB/stream' 'CPU ms/stream'
for run in $(seq 1 "$RUNS"); do
  for t in $TARGETS; do
    case $t in
      upstream) url=http://127.0.0.1:$UP_PORT/v1/chat/completions; key=x; pid=$UP_PID ;;
      relay) url=http://127.0.0.1:$RELAY_PORT/v1/chat/completions; key=relay-key; pid=$RELAY_PID ;;
      base) url=http://127.0.0.1:$((C_PORT + 1))/v1/chat/completions; key=$BASE_KEY; pid=$B_PID ;;
      *) url=http://127.0.0.1:$C_PORT/v1/chat/completions; key=$KEY; pid=$C_PID ;;
    esac
    t0=$(ticks $pid)
    out=$(taskset -c "$LOAD_CPU" node "$HERE/burst-client.ts" "$url" "$key" paced-1000 "$N" "$pid")
    cpu=$(echo "($(ticks $pid) - $t0) * 1000 / $HZ / $N" | bc -l)
    echo "$out" | node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); const [t, run, cpu] = process.argv.slice(1);
      console.log(`${t.padEnd(9)} ${run.padStart(3)} | ${String(r.p50).padStart(6)} ${String(r.p99).padStart(6)} ${String(r.min).padStart(6)} | ${String(r.failures).padStart(8)} | ${String(r.kibPerStream).padStart(10)} | ${Number(cpu).toFixed(2)}`)' "$t" "$run" "$cpu"
    sleep 1
  done
done
