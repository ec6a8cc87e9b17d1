#!/usr/bin/env bash
# Runs every test binary in DIR (default build/tests) from the repository root, each with a time
# limit, and ends with one summary line: "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/tests}
limit=${TEST_TIMEOUT:-600}
passed=0 failed=0 skipped=0 broken=()

# Runs store their results in a database: keep the tests' own out of results/.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/jb-tests.XXXXXX")
export JOULEBENCH_DB="$scratch/results.sqlite"
# A throwaway PostgreSQL server, so the results-store tests run against both backends.
pgdir=
cleanup() {
	[ -n "$pgdir" ] && scripts/pg-test-server.sh stop "$pgdir"
	rm -rf "$scratch"
}
trap cleanup EXIT
if [ -z "${JOULEBENCH_TEST_PG_URL:-}" ]; then
	# under /tmp: the server user must reach it, and a Unix socket path has at most 107 bytes
	pgdir=$(mktemp -d /tmp/jb-pg.XXXXXX)
	if url=$(scripts/pg-test-server.sh start "$pgdir" 2>"$scratch/pg.err"); then
		export JOULEBENCH_TEST_PG_URL="$url"
		echo "PostgreSQL test server: ${url%%:*}://jbtest:****@${url#*@}"
	else
		echo "PostgreSQL tests skipped: $(tr '\n' ' ' <"$scratch/pg.err")"
		rm -rf "$pgdir"
		pgdir=
	fi
fi
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
