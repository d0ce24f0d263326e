#!/usr/bin/env bash
# restore.sh — restore a backup.sh dump into an EMPTY database and check it.
#
#   restore.sh DUMP_FILE
#
# The database: TANDEM_DATABASE_URL (libpq conninfo or URI), as for tandem
# itself; it must exist and hold no tables (createdb -O tandem tandem, and
# as a superuser: CREATE EXTENSION btree_gist). Refuses a database with
# tables: never restores over live data.
#
# Restores in one transaction (all or nothing), without changing owners
# (objects belong to whoever runs this: run it as the tandem role), then
# runs `tandem migrate` (a no-op when the binary matches the dump; applies
# newer migrations otherwise) and `tandem audit verify` (the hash chain is
# whole; compare its head with the .audit file backup.sh wrote). The data
# key file must be the one the dump was made with.
#
# Environment: TANDEM_BIN (default: tandem on PATH), TANDEM_CONFIG and the
# other TANDEM_* variables tandem reads, PG_RESTORE / PSQL (default
# PostgreSQL 15's).
set -euo pipefail
umask 077

prog=${0##*/}
die() {
	printf '%s: %s\n' "$prog" "$*" >&2
	exit 1
}
[[ $# -eq 1 && -n $1 ]] || {
	echo "usage: $prog DUMP_FILE" >&2
	exit 2
}
dump=$1
[[ -f $dump && -r $dump ]] || die "cannot read $dump"
[[ -n ${TANDEM_DATABASE_URL:-} ]] || die "set TANDEM_DATABASE_URL to the (empty) database to restore into"

pgbin() {
	local name=$1 p
	for p in "/usr/lib/postgresql/15/bin/$name" "/usr/bin/$name"; do
		[[ -x $p ]] && printf '%s\n' "$p" && return
	done
	die "$name not found (install postgresql-client-15)"
}
PG_RESTORE=${PG_RESTORE:-$(pgbin pg_restore)}
PSQL=${PSQL:-$(pgbin psql)}
TANDEM_BIN=${TANDEM_BIN:-$(command -v tandem || true)}
[[ -n $TANDEM_BIN && -x $TANDEM_BIN ]] || die "tandem binary not found: set TANDEM_BIN"

"$PG_RESTORE" --list -- "$dump" >/dev/null || die "$dump is not a pg_dump custom-format archive"

tables=$("$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$TANDEM_DATABASE_URL" -c \
	"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
	   AND n.nspname NOT LIKE 'pg_toast%'") || die "cannot connect to the database"
[[ $tables == 0 ]] || die "the database is not empty ($tables relations); restore only into a new, empty database"

echo "$prog: restoring $dump" >&2
"$PG_RESTORE" --exit-on-error --single-transaction --no-owner --no-privileges \
	--dbname="$TANDEM_DATABASE_URL" -- "$dump" || die "pg_restore failed; the database was left as it was (empty)"

echo "$prog: tandem migrate" >&2
"$TANDEM_BIN" migrate || die "tandem migrate failed after the restore"
echo "$prog: tandem audit verify" >&2
"$TANDEM_BIN" audit verify || die "the audit chain does not verify after the restore"
echo "$prog: restored and verified" >&2
