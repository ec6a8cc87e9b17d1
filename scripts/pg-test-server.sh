#!/usr/bin/env bash
# A throwaway PostgreSQL server for the results-store tests: a fresh cluster in a temporary
# folder, reachable only through a Unix socket in that folder (no TCP port), with password
# authentication, fsync off. Used by scripts/run-tests.sh (and so by `make test` and CI).
#
#   scripts/pg-test-server.sh start [DIR]  prints the URL (postgresql://jbtest:PASSWORD@/jbtest?host=DIR)
#                                          on stdout; exit 3 (with the reason on stderr) when the
#                                          server binaries are missing
#   scripts/pg-test-server.sh stop DIR     stops the server and removes DIR
#
# initdb refuses to run as root: as root the cluster belongs to the user `nobody` (PG_TEST_USER
# overrides it) and the server runs as that user through runuser. PG_BIN names the folder of
# initdb and pg_ctl (default: the newest /usr/lib/postgresql/*/bin, else $PATH).
set -euo pipefail

find_bin() {
	if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
	if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
	echo ""
}

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "${PG_TEST_USER:-nobody}" -- "$@"
	else
		"$@"
	fi
}

cmd=${1:-}
case "$cmd" in
start)
	bin=$(find_bin)
	if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
		echo "no PostgreSQL server binaries (initdb, pg_ctl; Debian: apt-get install postgresql)" >&2
		exit 3
	fi
	if [ "$(id -u)" -eq 0 ] && ! command -v runuser >/dev/null 2>&1; then
		echo "running as root without runuser: cannot start PostgreSQL as another user" >&2
		exit 3
	fi
	dir=${2:-$(mktemp -d "${TMPDIR:-/tmp}/jb-pg.XXXXXX")}
	mkdir -p "$dir"
	chmod 700 "$dir"
	password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$password" >"$dir/pwfile"
	if [ "$(id -u)" -eq 0 ]; then chown -R "${PG_TEST_USER:-nobody}" "$dir"; fi
	if ! as_owner "$bin/initdb" -D "$dir/data" -U jbtest --pwfile="$dir/pwfile" --auth=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
		echo "initdb failed (log: $dir/initdb.log):" >&2
		tail -5 "$dir/initdb.log" >&2
		exit 1
	fi
	rm -f "$dir/pwfile"
	if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=40" \
		start >/dev/null; then
		echo "the PostgreSQL server did not start (log: $dir/server.log):" >&2
		tail -5 "$dir/server.log" >&2
		exit 1
	fi
	PGPASSWORD=$password "$bin/../bin/psql" -X -q -h "$dir" -U jbtest -d postgres -c "CREATE DATABASE jbtest" \
		>/dev/null 2>&1 || true
	echo "postgresql://jbtest:$password@/jbtest?host=$dir"
	;;
stop)
	dir=${2:?usage: pg-test-server.sh stop DIR}
	bin=$(find_bin)
	if [ -n "$bin" ] && [ -d "$dir/data" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: scripts/pg-test-server.sh start [DIR] | stop DIR" >&2
	exit 2
	;;
esac
