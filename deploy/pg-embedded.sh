#!/usr/bin/env bash
# pg-embedded.sh — a private PostgreSQL 15 cluster in one directory.
#
# Used by `make run` (the embedded default, under var/), by the integration and
# e2e tests (throwaway clusters under /tmp) and by developers by hand.
#
#   pg-embedded.sh init   DIR           create DIR/data if it has no cluster yet
#   pg-embedded.sh start  DIR [DBNAME]  init if needed, start if not running,
#                                       create database DBNAME (default tandem)
#   pg-embedded.sh stop   DIR           fast shutdown if running
#   pg-embedded.sh status DIR           exit 0 if running, 3 if not
#   pg-embedded.sh url    DIR [DBNAME]  print the libpq conninfo string
#   pg-embedded.sh psql   DIR [DBNAME] [psql args...]
#
# Layout: DIR/data (the cluster, mode 0700), DIR/run (its Unix socket, mode
# 0700; no TCP listener at all), DIR/log/postgresql.log. The superuser is
# `tandem`, authentication is `trust`: only processes that can enter DIR/run
# can connect at all, which is what keeps the cluster private.
#
# initdb refuses to run as root, so as root the cluster is owned and run by the
# `postgres` account (PG_EMBEDDED_OS_USER overrides it) and every directory
# above DIR must be traversable by that account.
#
# Environment: PG_BIN (directory of initdb/pg_ctl/postgres; default the
# PostgreSQL 15 one), PG_EMBEDDED_OS_USER (see above).
set -euo pipefail

readonly PORT=5432
readonly SUPERUSER=tandem
# sockaddr_un.sun_path is 108 bytes on Linux; keep clear of the edge.
readonly MAX_SOCKET_PATH=106

prog=${0##*/}

die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $prog init|start|stop|status|url|psql DIR [DBNAME] [psql args...]
EOF
	exit 2
}

find_pg_bin() {
	if [[ -n ${PG_BIN:-} ]]; then
		[[ -x $PG_BIN/pg_ctl ]] || die "PG_BIN=$PG_BIN has no pg_ctl"
		printf '%s\n' "$PG_BIN"
		return
	fi
	local d
	for d in /usr/lib/postgresql/15/bin /usr/local/pgsql/bin; do
		if [[ -x $d/pg_ctl && -x $d/initdb ]]; then
			printf '%s\n' "$d"
			return
		fi
	done
	d=$(command -v pg_ctl 2>/dev/null) || die "PostgreSQL 15 not found (install postgresql-15 or set PG_BIN)"
	dirname "$d"
}

[[ $# -ge 2 ]] || usage
cmd=$1
dir_arg=$2
shift 2

# An optional DBNAME follows DIR unless the next word is an option or `--`.
dbname=tandem
if [[ $# -gt 0 && $1 != -* ]]; then
	dbname=$1
	shift
fi
if [[ $# -gt 0 && $1 == -- ]]; then
	shift
fi
[[ $dbname =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] ||
	die "database name '$dbname' must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes)"

case $cmd in
init | start | stop | status | url | psql) ;;
*) usage ;;
esac

[[ -n $dir_arg ]] || usage
# Absolute, symlinks resolved, without requiring it to exist (url may be asked
# before init).
DIR=$(realpath -m -- "$dir_arg")
DATA=$DIR/data
RUN=$DIR/run
LOG=$DIR/log
LOGFILE=$LOG/postgresql.log
SOCKET=$RUN/.s.PGSQL.$PORT

if ((${#SOCKET} > MAX_SOCKET_PATH)); then
	die "socket path $SOCKET is ${#SOCKET} bytes; Unix socket paths must stay under 107 bytes: use a shorter DIR"
fi

PG_BIN=$(find_pg_bin)

# Who owns and runs the cluster.
if [[ $(id -u) -eq 0 ]]; then
	AS_ROOT=1
	PG_OS_USER=${PG_EMBEDDED_OS_USER:-postgres}
	id -u "$PG_OS_USER" >/dev/null 2>&1 ||
		die "running as root, but there is no '$PG_OS_USER' account to own the cluster (initdb refuses root); create it or set PG_EMBEDDED_OS_USER"
else
	AS_ROOT=0
	PG_OS_USER=$(id -un)
fi

# Run a command as the cluster's owner, from a directory it can enter (the
# caller's cwd may be /root).
as_pg() {
	if ((AS_ROOT)); then
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u "$PG_OS_USER" -- "$@")
		else
			(cd / && setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "$@")
		fi
	else
		"$@"
	fi
}

quote_conninfo() {
	# libpq conninfo value: bare if simple, else single-quoted with \ and '
	# escaped.
	local v=$1
	if [[ $v =~ ^[A-Za-z0-9_./:@-]+$ ]]; then
		printf '%s' "$v"
	else
		v=${v//\\/\\\\}
		v=${v//\'/\\\'}
		printf "'%s'" "$v"
	fi
}

# As root: every directory from / down to DIR must be searchable by the owner,
# or the postmaster cannot reach its data directory and socket.
check_traversable() {
	((AS_ROOT)) || return 0
	local path="" comp
	local -a comps
	IFS=/ read -r -a comps <<<"${DIR#/}"
	for comp in "${comps[@]}"; do
		[[ -n $comp ]] || continue
		path=$path/$comp
		[[ -d $path ]] || break
		if ! as_pg test -x "$path"; then
			die "the '$PG_OS_USER' account cannot enter $path (mode $(stat -c %A "$path"), owner $(stat -c %U "$path")); the cluster under $DIR must be reachable by it: chmod o+x $path, or use a directory under /tmp"
		fi
	done
}

# Create a directory owned by the cluster's owner with the given mode.
owned_dir() {
	local d=$1 mode=$2
	mkdir -p -- "$d"
	if ((AS_ROOT)); then
		chown "$PG_OS_USER": -- "$d"
	fi
	chmod "$mode" -- "$d"
}

check_owner() {
	local owner
	owner=$(stat -c %U -- "$DATA")
	[[ $owner == "$PG_OS_USER" ]] ||
		die "$DATA is owned by '$owner' but this run needs it owned by '$PG_OS_USER' (it was created by another user: run as that user, or remove $DIR)"
}

# The pid of our postmaster, or nothing. A postmaster.pid whose process is gone
# or is some other process (pid reuse after a crash or a container restart) is
# stale: the postmaster chdirs into its data directory, so compare cwd.
running_pid() {
	local pidfile=$DATA/postmaster.pid pid cwd
	[[ -f $pidfile ]] || return 0
	pid=$(head -n 1 -- "$pidfile" 2>/dev/null || true)
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	if [[ -d /proc/self ]]; then
		[[ -d /proc/$pid ]] || return 0
		cwd=$(readlink -- "/proc/$pid/cwd" 2>/dev/null || true)
		[[ $cwd == "$DATA" ]] || return 0
		printf '%s\n' "$pid"
	else
		if as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
			printf '%s\n' "$pid"
		fi
	fi
}

write_config() {
	local conf
	conf=$(
		cat <<EOF
# Written by deploy/pg-embedded.sh on every init/start; edits are lost.
listen_addresses = ''
port = $PORT
unix_socket_directories = '$RUN'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 128MB
fsync = on
logging_collector = off
EOF
	)
	printf '%s\n' "$conf" | as_pg tee "$DATA/pg-embedded.conf" >/dev/null
	if ! grep -qx "include_if_exists = 'pg-embedded.conf'" "$DATA/postgresql.conf"; then
		printf "\ninclude_if_exists = 'pg-embedded.conf'\n" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
	fi
}

do_init() {
	mkdir -p -- "$DIR"
	check_traversable
	owned_dir "$RUN" 0700
	owned_dir "$LOG" 0700
	if [[ -f $DATA/PG_VERSION ]]; then
		check_owner
		write_config
		return 0
	fi
	owned_dir "$DATA" 0700
	[[ -z $(ls -A -- "$DATA") ]] || die "$DATA is not empty but holds no cluster (no PG_VERSION); move it away"

	local locale=C
	if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
		locale=C.UTF-8
	fi
	local out
	if ! out=$(as_pg "$PG_BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust \
		--encoding=UTF8 --locale="$locale" --no-instructions 2>&1); then
		if [[ $locale != C ]]; then
			# initdb removes what it created on failure; retry with the
			# locale every system has.
			as_pg find "$DATA" -mindepth 1 -delete 2>/dev/null || true
			out=$(as_pg "$PG_BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust \
				--encoding=UTF8 --locale=C --no-instructions 2>&1) ||
				die "initdb failed:"$'\n'"$out"
		else
			die "initdb failed:"$'\n'"$out"
		fi
	fi
	write_config
	echo "$prog: created cluster in $DATA" >&2
}

db_exists() {
	local out
	out=$("$PG_BIN/psql" -X -q -At -h "$RUN" -p "$PORT" -U "$SUPERUSER" -d postgres \
		-v ON_ERROR_STOP=1 -v db="$dbname" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';") ||
		die "cannot query the cluster at $RUN (see $LOGFILE)"
	[[ $out == 1 ]]
}

do_start() {
	# Serialise concurrent starts/stops of the same cluster.
	mkdir -p -- "$DIR"
	exec 9>>"$DIR/.pg-embedded.lock"
	flock -w 120 9 || die "timed out waiting for another $prog on $DIR"

	do_init
	if [[ -z $(running_pid) ]]; then
		# Left over from a crash: a pid file naming a dead or foreign
		# process, and socket lock files. Nothing of ours is running, so
		# both can go.
		if [[ -e $DATA/postmaster.pid ]]; then
			echo "$prog: removing stale $DATA/postmaster.pid" >&2
			rm -f -- "$DATA/postmaster.pid"
		fi
		rm -f -- "$RUN/.s.PGSQL.$PORT" "$RUN/.s.PGSQL.$PORT.lock"
		# 9>&-: the postmaster must not inherit (and hold) our lock.
		if ! as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 -s start >/dev/null 9>&-; then
			echo "$prog: PostgreSQL failed to start; last lines of $LOGFILE:" >&2
			tail -n 20 -- "$LOGFILE" >&2 || true
			exit 1
		fi
	fi
	if ! db_exists; then
		# Another start may have created it in between: check again on failure.
		"$PG_BIN/createdb" -h "$RUN" -p "$PORT" -U "$SUPERUSER" -- "$dbname" 2>/dev/null ||
			db_exists || die "could not create database $dbname"
	fi
}

do_stop() {
	[[ -d $DATA ]] || return 0
	mkdir -p -- "$DIR"
	exec 9>>"$DIR/.pg-embedded.lock"
	flock -w 120 9 || die "timed out waiting for another $prog on $DIR"
	[[ -n $(running_pid) ]] || return 0
	as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 -s stop >/dev/null ||
		die "pg_ctl stop failed; see $LOGFILE"
}

case $cmd in
init)
	mkdir -p -- "$DIR"
	exec 9>>"$DIR/.pg-embedded.lock"
	flock -w 120 9 || die "timed out waiting for another $prog on $DIR"
	do_init
	;;
start)
	do_start
	;;
stop)
	do_stop
	;;
status)
	if [[ -d $DATA ]]; then
		pid=$(running_pid)
		if [[ -n $pid ]]; then
			echo "running (pid $pid, socket $RUN)"
			exit 0
		fi
	fi
	echo "not running"
	exit 3
	;;
url)
	printf 'host=%s port=%s dbname=%s user=%s\n' "$(quote_conninfo "$RUN")" "$PORT" "$dbname" "$SUPERUSER"
	;;
psql)
	exec "$PG_BIN/psql" -h "$RUN" -p "$PORT" -U "$SUPERUSER" -d "$dbname" "$@"
	;;
esac
