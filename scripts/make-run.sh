#!/usr/bin/env bash
# `make run`: what a new user sees first. Runs the `default` workload (configs/workloads/
# default.json: a synthetic 1.1B-parameter Llama shape as Q4_0, about a minute on a 2-core
# machine) into results/<UTC time>-<host>/, points results/latest at it, then renders its report
# and plots with `joulebench report` into the same directory.
#
# Environment: WORKLOAD (default "default"), RUN_ARGS (extra `joulebench run` flags, e.g.
# "--tdp-w 65" on a CPU missing from configs/hardware, or "-t 4").
set -euo pipefail
cd "$(dirname "$0")/.."

workload=${WORKLOAD:-default}
host=$(hostname 2>/dev/null | tr '/ ' '__' || echo host)
dir="results/$(date -u +%Y%m%dT%H%M%SZ)-${host:-host}"

./joulebench --version | head -1
echo "make run: workload '$workload' -> $dir/ (Ctrl-C stops and keeps what was measured)"
rc=0
# shellcheck disable=SC2086
./joulebench run "$workload" -o "$dir" ${RUN_ARGS:-} || rc=$?
if [ ! -f "$dir/result.json" ]; then
	echo "make run: no result was written (exit $rc)" >&2
	exit "$rc"
fi
ln -sfn "$(basename "$dir")" results/latest

if ./joulebench report --help >/dev/null 2>&1; then
	if ./joulebench report "$dir/result.json" -o "$dir"; then
		echo "make run: report: $dir/report.md, $dir/report.html (also results/latest/)"
	else
		echo "make run: the report could not be rendered; the result is $dir/result.json" >&2
		rc=1
	fi
else
	echo "make run: result: $dir/result.json, summary: $dir/summary.csv (also results/latest/)"
fi
exit "$rc"
