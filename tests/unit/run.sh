#!/usr/bin/env bash
# Runs every cmocka unit test binary in DIR; each prints its own summary.
set -u
dir=$1
status=0
export MUSTACHE_SPEC_DIR=${MUSTACHE_SPEC_DIR:-tests/fixtures/mustache-spec}
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	"$t" || status=1
done
exit $status
