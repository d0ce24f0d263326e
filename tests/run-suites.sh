#!/usr/bin/env bash
# Runs test suites given as pairs: NAME "COMMAND". Each suite's output goes
# to the terminal and to tests/out/NAME.log; its own summary (cmocka,
# pytest, or a plain "N passed, M failed" line) is read and added up. A
# suite that dies without a summary counts as one failure. The last line is
# the total: "N passed, M failed"; the exit status is non-zero on failure.
set -u
mkdir -p tests/out
total_pass=0
total_fail=0
report=()
while [ $# -ge 2 ]; do
	name=$1 cmd=$2
	shift 2
	log=tests/out/$name.log
	echo "==== $name"
	bash -c "$cmd" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	pass=0 fail=0 found=0
	# cmocka: "[  PASSED  ] 3 test(s)." / "[  FAILED  ] 1 test(s), listed below:"
	while read -r n; do pass=$((pass + n)); found=1; done < <(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log")
	while read -r n; do fail=$((fail + n)); found=1; done < <(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed.*/\1/p' "$log")
	# pytest: "== 3 passed, 1 failed, 2 errors in 1.2s ==", or with -q
	# "1 failed, 195 passed in 150.05s (0:02:30)"
	line=$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped|deselected)[^=]* in [0-9.]+s' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		found=1
		p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); pass=$((pass + ${p:-0}))
		f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+'); fail=$((fail + ${f:-0}))
		e=$(echo "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+'); fail=$((fail + ${e:-0}))
	fi
	# plain: "N passed, M failed" on a line of its own
	if [ $found -eq 0 ]; then
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
		if [ -n "$line" ]; then
			found=1
			pass=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
			fail=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
		fi
	fi
	if [ $found -eq 0 ]; then
		echo "!! $name ended (status $status) without a test summary: counted as one failure"
		fail=$((fail + 1))
	elif [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then
		echo "!! $name exited with status $status: counted as one failure"
		fail=$((fail + 1))
	fi
	report+=("$(printf '%-18s %5d passed, %3d failed' "$name" "$pass" "$fail")")
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
done
echo "==== summary"
printf '%s\n' "${report[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
