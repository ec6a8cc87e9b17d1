#!/usr/bin/env bash
# Runs every test binary in DIR (default build/tests) from the repository root, each with a time
# limit, and ends with one summary line: "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/tests}
limit=${TEST_TIMEOUT:-600}
passed=0 failed=0 skipped=0 broken=()
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log=$(mktemp)
	timeout --kill-after=10 "$limit" "$t" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^\[       OK \]' "$log")
	f=$(grep -cE '^\[  (FAILED|  ERROR) *\] [^0-9]' "$log")
	s=$(grep -cE '^\[  SKIPPED \] [^0-9]' "$log")
	# cmocka lists failed/skipped tests twice (as they run, and in the summary).
	f=$(( (f + 1) / 2 )) s=$(( (s + 1) / 2 ))
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$rc" -ne 0 ]; then
		[ "$f" -eq 0 ] && failed=$((failed + 1))
		broken+=("$name (exit $rc)")
	fi
	rm -f "$log"
done
echo
[ ${#broken[@]} -gt 0 ] && printf 'failing test programs: %s\n' "${broken[*]}"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
