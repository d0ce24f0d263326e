#!/usr/bin/env bash
# Run the browser checks against a real server on a throwaway database:
# a private cluster in /tmp (deploy/pg-embedded.sh), `tandem migrate`,
# `tandem seed-demo`, `tandem serve` on a free loopback port (plain http,
# so with insecure_dev_cookies), then every tests/e2e/*.spec.mjs with
# `node`, one after another; everything is torn down on exit.
#
#   TANDEM_BIN=build/tandem tests/e2e/run.sh [intake.spec.mjs ...]
#
# The last line printed is "N passed, M failed" (the server's clean shutdown
# counts as one more check); the exit status is non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
PG=$REPO/deploy/pg-embedded.sh
BIN=${TANDEM_BIN:-$REPO/build/tandem}
[[ $BIN == /* ]] || BIN=$PWD/$BIN
PY=/usr/bin/python3
LOG_LEVEL=${TANDEM_LOG_LEVEL:-}

fail_early() {
	echo "e2e: $*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

[[ -x $BIN ]] || fail_early "tandem binary not found at $BIN (build it or set TANDEM_BIN)"
command -v node >/dev/null || fail_early "node not found"
if [[ ! -d $HERE/node_modules/playwright-core ]]; then
	(cd "$HERE" && npm ci --no-audit --no-fund >&2) || fail_early "npm ci failed in tests/e2e"
fi

# The server refuses unknown TANDEM_* variables: pass only ours.
while IFS= read -r var; do
	unset "$var"
done < <(compgen -e | grep '^TANDEM_' || true)

TMP=$(mktemp -d /tmp/tandem-e2e.XXXXXX)
chmod 755 "$TMP" # as root the cluster runs as postgres, which must enter it
SERVER_PID=
SERVER_LOG=$TMP/server.log

cleanup() {
	local rc=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	"$PG" stop "$TMP/pg" >/dev/null 2>&1 || true
	rm -rf -- "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PG" start "$TMP/pg" tandem >&2 || fail_early "could not start PostgreSQL"
DSN=$("$PG" url "$TMP/pg" tandem)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT

export TANDEM_DATABASE_URL=$DSN
export TANDEM_LISTEN=127.0.0.1:$PORT
export TANDEM_BASE_URL=$BASE
export TANDEM_TEMPLATE_DIR=$REPO/templates
export TANDEM_KEY_FILE=$TMP/tandem.keys
export TANDEM_MAIL_DIR=$TMP/mail
export TANDEM_INSECURE_DEV_COOKIES=true # http://127.0.0.1: no Secure cookies
# The binary, for specs that set up data with the CLI (editors.spec.mjs adds
# a second clinician); not TANDEM_*, which tandem would refuse.
export E2E_TANDEM_BIN=$BIN
"$BIN" keygen "$TANDEM_KEY_FILE" >/dev/null || fail_early "tandem keygen failed"
[[ -z $LOG_LEVEL ]] || export TANDEM_LOG_LEVEL=$LOG_LEVEL

cd "$REPO"
"$BIN" migrate >"$TMP/migrate.log" 2>&1 || { cat "$TMP/migrate.log" >&2; fail_early "tandem migrate failed"; }
"$BIN" seed-demo >"$TMP/seed.log" 2>&1 || { cat "$TMP/seed.log" >&2; fail_early "tandem seed-demo failed"; }

"$BIN" serve </dev/null >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

# /healthz within 10 s.
ready=0
for _ in $(seq 1 100); do
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		tail -n 40 "$SERVER_LOG" >&2
		fail_early "tandem serve exited during start-up"
	fi
	if curl -fsS -o /dev/null --max-time 1 "$BASE/healthz" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
((ready)) || { tail -n 40 "$SERVER_LOG" >&2; fail_early "tandem serve: /healthz not 200 within 10 s"; }

npass=0
nfail=0
# Arguments name specs to run (e.g. intake.spec.mjs); none means all.
specs=()
for arg in "$@"; do
	specs+=("$HERE/${arg##*/}")
done
((${#specs[@]})) || specs=("$HERE"/*.spec.mjs)
for spec in "${specs[@]}"; do
	[[ -f $spec ]] || fail_early "no such spec: ${spec##*/}"
	name=${spec##*/}
	set +e
	BASE_URL=$BASE timeout 150 node "$spec" >"$TMP/node.out" 2>&1
	node_rc=$?
	set -e
	# Everything node printed but its closing summary, which is added up
	# below with the server's shutdown counted in.
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/node.out" | tail -n 1 || true)
	echo "# $name"
	grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$TMP/node.out" || true
	if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		npass=$((npass + BASH_REMATCH[1]))
		spec_fail=${BASH_REMATCH[2]}
		nfail=$((nfail + spec_fail))
	else
		echo "not ok - $name printed no summary (exit $node_rc)"
		spec_fail=1
		nfail=$((nfail + 1))
	fi
	if ((node_rc != 0 && spec_fail == 0)); then
		echo "not ok - $name exited $node_rc"
		nfail=$((nfail + 1))
	fi
done

# Clean shutdown: SIGTERM, exit 0 within 10 s, no sanitizer report.
kill -TERM "$SERVER_PID"
server_rc=
for _ in $(seq 1 100); do
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		set +e
		wait "$SERVER_PID"
		server_rc=$?
		set -e
		break
	fi
	sleep 0.1
done
problem=
if [[ -z $server_rc ]]; then
	problem="did not exit within 10 s of SIGTERM"
	kill -KILL "$SERVER_PID" 2>/dev/null || true
elif ((server_rc != 0)); then
	problem="exited $server_rc after SIGTERM"
elif grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$SERVER_LOG"; then
	problem="sanitizer report in its log"
fi
SERVER_PID=
if [[ -z $problem ]]; then
	echo "ok - the server stopped cleanly"
	npass=$((npass + 1))
else
	echo "not ok - the server $problem"
	nfail=$((nfail + 1))
fi
if ((nfail > 0)); then
	echo "--- server log (last 40 lines) ---" >&2
	tail -n 40 "$SERVER_LOG" >&2 || true
fi

echo "$npass passed, $nfail failed"
((nfail == 0))
