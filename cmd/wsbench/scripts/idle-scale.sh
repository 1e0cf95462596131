#!/usr/bin/env bash
# idle-scale.sh holds N idle connections through P wasmgate processes that
# share one address with SO_REUSEPORT (listener reuse_port = true), then
# checks every connection still echoes, and prints each process's RSS.
#
#   cmd/wsbench/scripts/idle-scale.sh [N] [P]     defaults: 100000 11
#
# One process may open 20,000 files here (ulimit -Hn), two per proxied
# connection: about 9,900 connections each, so 100,000 take 11 processes.
# The echo backend listens on one address per 10,000 connections (one
# destination gives the proxies only some 14,000 to 28,000 ephemeral ports),
# in enough processes to stay under the limit too; the clients spread over
# eight source addresses.
set -euo pipefail
n=${1:-100000}
procs=${2:-11}
cd "$(dirname "$0")/../../.."
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/wsbench" ./cmd/wsbench
go build -o "$tmp/wasmgate" ./cmd/wasmgate

echo_procs=$(( (n + 17999) / 18000 ))
# One listener per 10,000 connections (at least four): connect() takes its
# ephemeral ports from half the range first, about 14,000 per destination.
listens=()
for _ in $(seq $(( n / 10000 > 4 ? (n + 9999) / 10000 : 4 ))); do listens+=(-listen 127.0.0.1:0); done
"$tmp/wsbench" echo "${listens[@]}" -procs "$echo_procs" >"$tmp/echo.out" 2>"$tmp/echo.err" &
pids+=($!)
until grep -q '^READY' "$tmp/echo.out" 2>/dev/null; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "echo backend failed: $(cat "$tmp/echo.err")"; exit 1; }
  sleep 0.2
done
addrs=$(awk '/^READY/{print $2; exit}' "$tmp/echo.out")
servers=$(echo "$addrs" | tr ',' '\n' | sed 's|.*|"ws://&"|' | paste -sd, -)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/wasmgate.hcl" <<HCL
listener "public" {
  address    = "127.0.0.1:$port"
  reuse_port = true
}
upstream "echo" { servers = [$servers] }
route "all" { upstream = "echo" }
# The idle clients hold their sockets without reading, so they cannot
# answer keepalive pings: opening 100,000 takes longer than the default
# ping_interval, and unanswered pings rightly end connections.
limits { ping_interval = "1h" }
HCL
wg_pids=()
for _ in $(seq "$procs"); do
  "$tmp/wasmgate" run -config "$tmp/wasmgate.hcl" -log-level warn >/dev/null 2>>"$tmp/wasmgate.err" &
  pids+=($!)
  wg_pids+=($!)
done
for _ in $(seq 100); do
  if "$tmp/wsbench" pingpong -url "ws://127.0.0.1:$port/" -duration 100ms -warmup 0s >/dev/null 2>&1; then break; fi
  sleep 0.1
done

rss() { local t=0; for p in "${wg_pids[@]}"; do t=$(( t + $(awk '/VmRSS/{print $2}' "/proc/$p/status") )); done; echo "$t"; }
before=$(rss)
start=$(date +%s.%N)
mkfifo "$tmp/idle.in"
exec 3<>"$tmp/idle.in"
"$tmp/wsbench" idle -url "ws://127.0.0.1:$port/" -n "$n" -procs auto -sources 8 -rate 10000 \
  <"$tmp/idle.in" >"$tmp/idle.out" 2>"$tmp/idle.err" 3>&- &
idle_pid=$!
pids+=($idle_pid)
until grep -q '^READY' "$tmp/idle.out" 2>/dev/null; do
  kill -0 "$idle_pid" 2>/dev/null || { echo "idle failed: $(cat "$tmp/idle.err")"; exit 1; }
  sleep 0.5
done
sleep 5
after=$(rss)
echo "$(grep '^READY' "$tmp/idle.out") in $(python3 -c "print(round($(date +%s.%N)-$start-5,1))") s"
echo "wasmgate processes: $procs (open descriptors: two per proxied connection):"
for p in "${wg_pids[@]}"; do
  printf '  pid %s: %s descriptors, RSS %s KiB\n' "$p" "$(ls /proc/$p/fd | wc -l)" "$(awk '/VmRSS/{print $2}' "/proc/$p/status")"
done
exec 3>&-  # releases the idle clients: they check every connection, then close
wait "$idle_pid" || true
tail -n 1 "$tmp/idle.out"
for f in echo.err wasmgate.err idle.err; do
  if [ -s "$tmp/$f" ]; then echo "--- the end of $f"; tail -n 5 "$tmp/$f"; fi
done
python3 - "$before" "$after" "$tmp/idle.out" <<'PY'
import json, sys
before, after = int(sys.argv[1]), int(sys.argv[2])
res = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1][len("RESULT "):])
print(f"RSS of all wasmgate processes: {before} KiB before, {after} KiB with "
      f"{res['opened']} connections: {(after-before)/max(res['opened'],1):.2f} KiB per connection; "
      f"alive {res['alive']}, dropped {res['dropped']}, failed {res['failed']}")
PY
