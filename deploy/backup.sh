#!/usr/bin/env bash
# backup.sh — a pg_dump of Tandem's database with rotation.
#
#   backup.sh [--daily N] [--weekly N] TARGET_DIR
#
# Writes TARGET_DIR/tandem-YYYYmmddTHHMMSSZ.dump (pg_dump custom format,
# compressed; restore with deploy/restore.sh), written under a temporary
# name and renamed only when pg_dump succeeded, mode 0600. Then rotates:
# keeps the newest dump of each of the last N days that have one (default
# 7) and the newest of each of the last N ISO weeks before those (default
# 5); deletes every other tandem-*.dump in TARGET_DIR. Never touches other
# files.
#
# The database: TANDEM_DATABASE_URL (a libpq conninfo or URI), else libpq's
# own PG* variables (PGHOST, PGDATABASE, …). Run it as a user that may read
# every table (the tandem account, or postgres), e.g. from a systemd timer
# or cron. The data key file (key_file) is NOT in the dump: back it up once,
# apart from the dumps; without it the encrypted columns cannot be read.
#
# With TANDEM_BIN set (the tandem binary, and its configuration through
# TANDEM_CONFIG), also runs `tandem audit verify` and writes its line to
# the .dump's .audit file: the chain head to compare after a restore.
set -euo pipefail
umask 077

prog=${0##*/}
die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}
usage() {
	echo "usage: $prog [--daily N] [--weekly N] TARGET_DIR" >&2
	exit 2
}

daily=7
weekly=5
while [[ $# -gt 0 ]]; do
	case $1 in
	--daily)
		[[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage
		daily=$2
		shift 2
		;;
	--weekly)
		[[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage
		weekly=$2
		shift 2
		;;
	--)
		shift
		break
		;;
	-*) usage ;;
	*) break ;;
	esac
done
[[ $# -eq 1 && -n $1 ]] || usage
target=$1
[[ -d $target ]] || die "target directory $target does not exist (create it, mode 0700, on a disk apart from the database)"
[[ -w $target ]] || die "cannot write to $target"
((daily >= 1)) || die "--daily must be at least 1"

PG_DUMP=${PG_DUMP:-}
if [[ -z $PG_DUMP ]]; then
	for p in /usr/lib/postgresql/15/bin/pg_dump /usr/bin/pg_dump; do
		[[ -x $p ]] && PG_DUMP=$p && break
	done
fi
[[ -n $PG_DUMP ]] || die "pg_dump not found (install postgresql-client-15 or set PG_DUMP)"

args=(--format=custom --compress=6 --no-password)
if [[ -n ${TANDEM_DATABASE_URL:-} ]]; then
	args+=(--dbname="$TANDEM_DATABASE_URL")
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
final=$target/tandem-$stamp.dump
[[ ! -e $final ]] || die "$final exists already (two backups in one second?)"
tmp=$(mktemp "$target/.tandem-$stamp.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
"$PG_DUMP" "${args[@]}" --file="$tmp" || die "pg_dump failed; no backup written"
chmod 0600 -- "$tmp"
mv -- "$tmp" "$final"
trap - EXIT

if [[ -n ${TANDEM_BIN:-} ]]; then
	if ! "$TANDEM_BIN" audit verify >"$final.audit" 2>&1; then
		cat "$final.audit" >&2
		die "the backup $final was written, but tandem audit verify failed (see $final.audit)"
	fi
fi

# Rotation. Names sort by time; walk them newest first.
keep=()
declare -A days=() weeks=()
while IFS= read -r f; do
	name=${f##*/}
	ts=${name#tandem-}
	ts=${ts%.dump}
	day=${ts:0:8}
	if ((${#days[@]} < daily)) || [[ -n ${days[$day]:-} ]]; then
		if [[ -z ${days[$day]:-} ]]; then
			days[$day]=1
			keep+=("$f")
		fi
		continue
	fi
	week=$(date -u -d "${day:0:4}-${day:4:2}-${day:6:2}" +%G-W%V)
	if [[ -z ${weeks[$week]:-} ]] && ((${#weeks[@]} < weekly)); then
		weeks[$week]=1
		keep+=("$f")
	fi
done < <(find "$target" -maxdepth 1 -type f -name 'tandem-[0-9]*T[0-9]*Z.dump' | sort -r)

while IFS= read -r f; do
	k=0
	for x in "${keep[@]}"; do
		[[ $x == "$f" ]] && k=1 && break
	done
	if ((!k)); then
		rm -f -- "$f" "$f.audit"
	fi
done < <(find "$target" -maxdepth 1 -type f -name 'tandem-[0-9]*T[0-9]*Z.dump')

echo "$final"
