#!/usr/bin/env bash
# Causerie's stateless proxy path under wrk, next to the bare relay (bench/bare-relay.ts), in one run:
# `bin/causerie.js start` as deployed (default logging), pinned to one core; wrk and the upstream on the other.
# Prints, per target, mode and connections: requests/s, latency percentiles, CPU ms per request, RSS.
# Usage (from the project root): bash bench/wrk/proxy.sh [seconds=10] [conns="50 200"] [targets="relay causerie"] (or base, below)
# MODES="json stream" picks the modes ("models": GET /v1/models, a route without upstream call).
# ROUNDS=n measures every target n times, taking turns in a rotating order, then prints each target's
#   median CPU ms per request and the median of its per-round ratio to the first target: the host's speed
#   can drift within minutes, and a ratio between runs a few seconds apart drifts least.
# MONOTONIC=1: bench/wrk/closed-loop.ts drives the load instead of wrk (latencies timed on the monotonic clock;
#   on some machines wrk's break Little's law: trust its percentiles only where requests/s x mean latency is
#   close to the connections). PROFILE=<dir>: Causerie runs with --cpu-prof into that folder.
# VERBOSE=1: the client's own output and TCP counters.
# LOG_TO=<file>: where Causerie's stdout goes (default: a file in the data folder, as a service manager would).
# HOLD=<seconds>: start everything, print URLs and keys, wait (for another client), then stop.
# Loopback only; every process started here is stopped at the end (and the data folder removed).
set -euo pipefail
DUR=${1:-10}; CONNS=${2:-"50 200"}; TARGETS=${3:-"relay causerie"}
APP="$(pwd)"; HERE="$APP/bench/wrk"
UP_PORT=${UP_PORT:-9311}; RELAY_PORT=${RELAY_PORT:-9312}; C_PORT=${C_PORT:-9313}
SUT_CPU=${SUT_CPU:-1}; LOAD_CPU=${LOAD_CPU:-0}
DATA=$(mktemp -d /tmp/causerie-wrk-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
cat > "$DATA/models.json" <<JSON
{ "providers": { "openai": { "discover": false } },
  "models": { "bench": { "provider": "openai", "upstream": "bench" }, "paced-10": { "provider": "openai", "upstream": "paced-10" } } }
JSON
CAUSERIE_DATA_DIR="$DATA" node bin/causerie.js users create bench --admin >/dev/null
KEY=$(CAUSERIE_DATA_DIR="$DATA" node bin/causerie.js keys create bench --name bench | grep -o 'API_[A-Z0-9_]*' | awk '{ print length, $0 }' | sort -rn | head -1 | cut -d' ' -f2)
PORT=$UP_PORT taskset -c "$LOAD_CPU" node "$HERE/upstream.ts" & PIDS+=($!)
PORT=$RELAY_PORT UPSTREAM_PORT=$UP_PORT taskset -c "$SUT_CPU" node "$HERE/relay.ts" & RELAY_PID=$!; PIDS+=($RELAY_PID)
PROF=(); [ -n "${PROFILE:-}" ] && PROF=(--cpu-prof "--cpu-prof-dir=$PROFILE")
CAUSERIE_DATA_DIR="$DATA" PORT=$C_PORT OPENAI_BASE_URL=http://127.0.0.1:$UP_PORT/v1 OPENAI_API_KEY=sk-up \
  CAUSERIE_CONFIG="$DATA/models.json" taskset -c "$SUT_CPU" node "${PROF[@]}" bin/causerie.js start > "${LOG_TO:-$DATA/causerie.log}" 2>&1 &
C_PID=$!; PIDS+=($C_PID)
# BASE=<another checkout> adds target "base": that checkout's Causerie, set up the same way (before/after in one run).
if [ -n "${BASE:-}" ]; then
  mkdir -p "$DATA/base"; cp "$DATA/models.json" "$DATA/base/"
  CAUSERIE_DATA_DIR="$DATA/base" node "$BASE/bin/causerie.js" users create bench --admin >/dev/null
  BASE_KEY=$(CAUSERIE_DATA_DIR="$DATA/base" node "$BASE/bin/causerie.js" keys create bench --name bench | grep -o 'API_[A-Z0-9_]*' | awk '{ print length, $0 }' | sort -rn | head -1 | cut -d' ' -f2)
  CAUSERIE_DATA_DIR="$DATA/base" PORT=$((C_PORT + 1)) OPENAI_BASE_URL=http://127.0.0.1:$UP_PORT/v1 OPENAI_API_KEY=sk-up \
    CAUSERIE_CONFIG="$DATA/models.json" taskset -c "$SUT_CPU" node "$BASE/bin/causerie.js" start > "$DATA/base.log" 2>&1 &
  B_PID=$!; PIDS+=($B_PID)
  for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$((C_PORT + 1))/healthz" >/dev/null && break; sleep 0.2; done
fi
for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$C_PORT/healthz" >/dev/null && curl -s -o /dev/null "http://127.0.0.1:$RELAY_PORT/" && break; sleep 0.2; done
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
# HOLD=1: start everything, print the URLs and keys, and wait (for other clients) until killed.
if [ -n "${HOLD:-}" ]; then echo "upstream http://127.0.0.1:$UP_PORT relay http://127.0.0.1:$RELAY_PORT key relay-key causerie http://127.0.0.1:$C_PORT key $KEY base http://127.0.0.1:$((C_PORT + 1)) key ${BASE_KEY:-}"; sleep "$HOLD"; exit 0; fi
printf '%-9s %-6s %5s | %7s %7s %7s %7s | %9s | %8s\n' target mode conns req/s p50 p90 p99 'CPU ms/r' 'RSS MiB'
ROUNDS=${ROUNDS:-1}; read -r -a TLIST <<< "$TARGETS"; : > "$DATA/rounds.txt"
for round in $(seq 0 $((ROUNDS - 1))); do
for mode in ${MODES:-json stream}; do
  for c in $CONNS; do
    for i in "${!TLIST[@]}"; do
      t=${TLIST[$(( (i + round) % ${#TLIST[@]} ))]}
      if [ "$t" = relay ]; then url=http://127.0.0.1:$RELAY_PORT/v1/chat/completions; key=relay-key; pid=$RELAY_PID
      elif [ "$t" = base ]; then url=http://127.0.0.1:$((C_PORT + 1))/v1/chat/completions; key=$BASE_KEY; pid=$B_PID
      else url=http://127.0.0.1:$C_PORT/v1/chat/completions; key=$KEY; pid=$C_PID; fi
      s=0; [ "$mode" = stream ] && s=1
      STREAM=$s KEY=$key taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d2s -s "$HERE/chat.lua" "$url" >/dev/null 2>&1
      t0=$(ticks $pid); [ -n "${VERBOSE:-}" ] && nstat -n >/dev/null
      if [ -n "${MONOTONIC:-}" ] && [ "$mode" != models ]; then
        # The monotonic client (closed-loop.ts): latencies that obey Little's law where wrk's do not.
        body="{\"model\":\"bench\",\"stream\":$([ $s = 1 ] && echo true || echo false),\"messages\":[{\"role\":\"user\",\"content\":\"Say hello in twenty tokens.\"}]}"
        out=$(BODY=$body taskset -c "$LOAD_CPU" node "$HERE/closed-loop.ts" "${url%/v1/chat/completions}" "$key" "$c" "$DUR" /v1/chat/completions)
        field() { echo "$out" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { v = $(i + 1); gsub(/[()]/, "", v); print v; exit } }'; }
        n=$(field requests); rps=$(field req/s); p50=$(field p50); p90=$(field p90); p99=$(field p99)
        non2xx=$(field '(failed'); if [ "${non2xx:-0}" = 0 ]; then non2xx=; fi
      else
        if [ "$mode" = models ]; then # a route with no upstream call, to tell the server's own tail from the proxy's
          out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${DUR}s" --timeout 10s --latency -H "Authorization: Bearer $key" "${url%/chat/completions}/models")
        else
          out=$(STREAM=$s KEY=$key taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${DUR}s" --timeout 10s --latency -s "$HERE/chat.lua" "$url")
        fi
        lat() { echo "$out" | awk -v q="$1" '$1 == q { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v) } else if (v ~ /s$/) { sub(/s/, "", v); v *= 1000 }; print v }'; }
        n=$(echo "$out" | awk '/requests in/ { print $1 }'); rps=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
        p50=$(lat 50%); p90=$(lat 90%); p99=$(lat 99%); non2xx=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
      fi
      t1=$(ticks $pid)
      [ -n "${VERBOSE:-}" ] && { echo "$out"; nstat | grep -iE "retrans|drop|prune|collapse|overflow|PassiveOpens|Timeouts" ; } >&2
      cpu=$(echo "($t1 - $t0) * 1000 / $HZ / $n" | bc -l)
      printf '%-9s %-6s %5s | %7.0f %7s %7s %7s | %9.3f | %8.0f %s\n' "$t" "$mode" "$c" "$rps" \
        "$p50" "$p90" "$p99" "$cpu" "$(( $(rss $pid) / 1024 ))" "${non2xx:+non-2xx=$non2xx}"
      echo "$round $mode $c $t $cpu" >> "$DATA/rounds.txt"
    done
  done
done
done
if [ "$ROUNDS" -gt 1 ]; then
  echo "medians over $ROUNDS rounds (CPU ms per request; ratio: the median of each round's own ratio to ${TLIST[0]})"
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
    const base = process.argv[2];
    const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
    const cpu = new Map(lines.map(([r, m, c, t, v]) => [`${r} ${m} ${c} ${t}`, Number(v)]));
    for (const key of new Set(lines.map(([, m, c, t]) => `${m} ${c} ${t}`))) {
      const [m, c, t] = key.split(" ");
      const rounds = lines.filter((l) => l[1] === m && l[2] === c && l[3] === t).map((l) => l[0]);
      const ratios = rounds.map((r) => cpu.get(`${r} ${m} ${c} ${t}`) / cpu.get(`${r} ${m} ${c} ${base}`));
      console.log(`${t.padEnd(9)} ${m.padEnd(6)} ${c.padStart(5)} | ${median(rounds.map((r) => cpu.get(`${r} ${m} ${c} ${t}`))).toFixed(3)} ms | ${median(ratios).toFixed(2)}x ${base} (rounds: ${ratios.map((x) => x.toFixed(2)).join(", ")})`);
    }' "$DATA/rounds.txt" "${TLIST[0]}"
fi
