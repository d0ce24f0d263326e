#!/usr/bin/env bash
# make bench: wrk against a real tandem on a throwaway PostgreSQL cluster.
# Prints requests/s and p50/p99 latency per endpoint at 16 connections, and
# the server's peak RSS (VmHWM). Bounded: BENCH_SECONDS per endpoint.
set -euo pipefail
bin=${1:-build/tandem}
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-16}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/tandem-bench.XXXXXX)
chmod 755 "$work"
server_pid=""
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	"$root/deploy/pg-embedded.sh" stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

"$root/deploy/pg-embedded.sh" start "$work/pg" >/dev/null
export TANDEM_DATABASE_URL
TANDEM_DATABASE_URL=$("$root/deploy/pg-embedded.sh" url "$work/pg")
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TANDEM_LISTEN=127.0.0.1:$port TANDEM_BASE_URL=http://127.0.0.1:$port TANDEM_ACCESS_LOG=false
export TANDEM_KEY_FILE=$work/tandem.keys
"$bin" keygen "$TANDEM_KEY_FILE" >/dev/null
"$bin" migrate >/dev/null 2>&1
"$bin" seed-demo >/dev/null
"$bin" serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

printf '%-28s %10s %10s %10s %8s\n' endpoint "req/s" p50 p99 errors
run() {
	local name=$1 path=$2
	local out
	out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port$path" 2>&1)
	local rps p50 p99 errs
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1=="50%" {print $2}')
	p99=$(echo "$out" | awk '$1=="99%" {print $2}')
	errs=$(echo "$out" | awk '/Non-2xx/ {print $5} /Socket errors/ {print "sock"}' | head -n1)
	printf '%-28s %10s %10s %10s %8s\n' "$name" "$rps" "$p50" "$p99" "${errs:-0}"
}
run "GET /healthz" /healthz
run "GET /readyz" /readyz
run "GET / (home page)" /
run "GET /api/v1/offerings" /api/v1/offerings
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$server_pid/status)"
echo "(${secs}s per endpoint, $conns connections, wrk -t2; tandem $("$bin" version | cut -d' ' -f2))"
