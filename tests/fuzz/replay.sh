#!/usr/bin/env bash
# Replays every seed corpus through its fuzz target (no mutation): a quick
# regression check that runs in `make test`. `make fuzz` does the real runs.
set -u
dir=$1
pass=0 fail=0
for f in "$dir"/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=tests/fuzz/corpus/${name#fuzz_}
	if [ ! -d "$corpus" ]; then
		echo "FAIL $name: no seed corpus at $corpus"
		fail=$((fail + 1))
		continue
	fi
	if "$f" -runs=0 "$corpus" >"tests/out/replay-$name.log" 2>&1; then
		echo "ok   $name ($(ls "$corpus" | wc -l) seeds)"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		tail -n 30 "tests/out/replay-$name.log"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
