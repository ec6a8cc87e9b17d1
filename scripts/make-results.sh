#!/usr/bin/env bash
# `make results`: runs the documented workloads on this machine, renders one report over all of
# them (plots under docs/results/), and regenerates RESULTS.md with the machine description and
# the date. Overridable: RESULTS_DIR (default docs/results), RESULTS_WORKLOADS (default
# "default sweep-threads claim-7b"), RESULTS_KERNELS=0 to skip the kernel microbenchmarks,
# RESULTS_REUSE=1 (keep existing DIR/runs/WORKLOAD/result.json files, only run what is missing),
# RESULTS_RUN_ARGS (extra `joulebench run` flags, e.g. "--tdp-w 65" when this CPU's TDP is known
# and no energy probe is readable), JOULEBENCH (default ./joulebench).
# It also runs the engine speed table and the sampler overhead of `make bench` (scripts/bench.sh
# sections "engine sampler": ours against llama.cpp on the same GGUF files, interleaved) and puts
# their output in RESULTS.md with the date, the CPU's SIMD flags and the peer's version:
# RESULTS_BENCH=0 skips them, RESULTS_BENCH_REPS (default 3) sets the runs per engine row,
# RESULTS_BENCH_TYPES (default "q4_0 q8_0 f16 q4_k_m") the weight types, RESULTS_SAMPLER_REPS
# (default 3) the sampler A/B reps; RESULTS_BENCH_FROM=FILE takes a saved `make bench` output (all
# its sections) instead of running it again.
set -uo pipefail
cd "$(dirname "$0")/.."
jb=${JOULEBENCH:-./joulebench}
# Every figure comes from one binary: a copy, so a rebuild during the run cannot swap it.
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
if ! cp "$jb" "$tmp/joulebench"; then
	echo "make results: $jb: cannot copy the joulebench binary" >&2
	exit 1
fi
jb="$tmp/joulebench"
out=${RESULTS_DIR:-docs/results}
workloads=${RESULTS_WORKLOADS:-default sweep-threads claim-7b}
kernels=${RESULTS_KERNELS:-1}
run_args=${RESULTS_RUN_ARGS:-}
runs="$out/runs"
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
mkdir -p "$runs" || exit 1

results=()
notes=()
for w in $workloads; do
	f="configs/workloads/$w.json"
	if [ ! -f "$f" ]; then
		echo "make results: $f: no such workload" >&2
		exit 2
	fi
	if [ "${RESULTS_REUSE:-0}" = 1 ] && [ -s "$runs/$w/result.json" ]; then
		echo "make results: reusing $runs/$w/result.json" >&2
		results+=("$runs/$w/result.json")
		notes+=("workload \`$w\`: result reused from an earlier run (RESULTS_REUSE=1; its start time is in the report)")
		continue
	fi
	echo "make results: joulebench run $f" >&2
	rm -rf "${runs:?}/$w"
	# shellcheck disable=SC2086 # RESULTS_RUN_ARGS is a list of flags
	"$jb" run "$f" -o "$runs/$w" --quiet $run_args
	rc=$?
	if [ -s "$runs/$w/result.json" ]; then
		results+=("$runs/$w/result.json")
		[ $rc -ne 0 ] && notes+=("workload \`$w\` exited with status $rc; its result is kept (marked incomplete if it stopped early)")
	else
		notes+=("workload \`$w\` produced no result (exit status $rc)")
	fi
done
if [ "$kernels" != 0 ] && [ "${RESULTS_REUSE:-0}" = 1 ] && [ -s "$runs/kernels.json" ]; then
	results+=("$runs/kernels.json")
elif [ "$kernels" != 0 ]; then
	echo "make results: joulebench kernels --type q4_0,q8_0 -o $runs/kernels.json" >&2
	if "$jb" kernels --type q4_0,q8_0 --reps 5 -o "$runs/kernels.json" >/dev/null; then
		results+=("$runs/kernels.json")
	else
		notes+=("kernel microbenchmarks failed (exit status $?)")
	fi
fi
# The engine speed table and the sampler overhead, as `make bench` prints them.
bench_txt="$out/bench.txt"
bench_rc=0
if [ "${RESULTS_BENCH:-1}" != 0 ]; then
	if [ -n "${RESULTS_BENCH_FROM:-}" ]; then
		echo "make results: engine speed from $RESULTS_BENCH_FROM (RESULTS_BENCH_FROM)" >&2
		cp "$RESULTS_BENCH_FROM" "$bench_txt" && : >"$out/bench.err"
		bench_rc=$?
		notes+=("engine speed table: a saved \`make bench\` output of $(date -u -r "$RESULTS_BENCH_FROM" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?') (RESULTS_BENCH_FROM), not re-run")
	else
		echo "make results: scripts/bench.sh (engine speed against llama.cpp, sampler overhead) > $bench_txt" >&2
		BENCH_SECTIONS="engine sampler" BENCH_REPS=${RESULTS_BENCH_REPS:-3} \
			BENCH_TYPES=${RESULTS_BENCH_TYPES:-"q4_0 q8_0 f16 q4_k_m"} \
			SAMPLER_REPS=${RESULTS_SAMPLER_REPS:-3} JOULEBENCH_BIN="$jb" \
			scripts/bench.sh >"$bench_txt" 2>"$out/bench.err"
		bench_rc=$?
	fi
	[ -s "$out/bench.err" ] || rm -f "$out/bench.err"
	[ $bench_rc -ne 0 ] && notes+=("scripts/bench.sh exited with status $bench_rc (\`$out/bench.err\`); its output so far is below")
fi
if [ ${#results[@]} -eq 0 ]; then
	echo "make results: no result to report" >&2
	exit 1
fi

host=$(hostname 2>/dev/null || echo unknown)
# the CPU's SIMD flags that pick kernels (x86: AVX2/AVX-512/VNNI/AMX; ARM: asimd, dotprod, i8mm, sve)
simd_flags=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' | tr ' ' '\n' |
	grep -E '^(avx2|fma|f16c|avx512[a-z_0-9]*|avx_vnni|amx[a-z_0-9]*|asimd|asimddp|i8mm|sve2?)$' | tr '\n' ' ' | sed 's/ $//')
peer=
if [ -e scripts/oracle/node_modules/node-llama-cpp/package.json ]; then
	peer="node-llama-cpp $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' scripts/oracle/node_modules/node-llama-cpp/package.json | head -1)"
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
"$jb" report "${results[@]}" -o "$out" --title "joulebench results on $host" || exit 1

# RESULTS.md: the report with its image links made relative to the repository root.
{
	echo "# joulebench results"
	echo
	echo "Regenerated by \`make results\` on $(date -u '+%Y-%m-%d %H:%M UTC') on \`$host\`:"
	echo "$(uname -srm); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'),"
	echo "$(nproc 2>/dev/null) logical CPUs. Workloads: $(for w in $workloads; do printf '`configs/workloads/%s.json` ' "$w"; done)"
	echo "Load average (1/5/15 min) at the start: ${load_start:-?}; at the end: ${load_end:-?}${run_args:+; run flags: \`$run_args\`}."
	echo "Raw results: \`$runs/\`; the same report as HTML: \`$out/report.html\`."
	[ "${RESULTS_BENCH:-1}" != 0 ] &&
		echo "The engine speed table of \`make bench\` and the sampler overhead are in the last section."
	echo
	for n in "${notes[@]+"${notes[@]}"}"; do
		echo "- $n"
	done
	[ ${#notes[@]} -gt 0 ] && echo
	sed -e '1d' \
	    -e "s#^!\[\(.*\)\](\([^)]*\))#![\1]($out/\2)#" \
	    -e "s#(\[SVG\](\([^)]*\)))#([SVG]($out/\1))#" \
	    "$out/report.md"
	if [ "${RESULTS_BENCH:-1}" != 0 ]; then
		echo
		echo "## Engine speed and sampler overhead (\`make bench\`)"
		echo
		echo "The engine and sampler sections of \`scripts/bench.sh\` (what \`make bench\` prints), run by"
		echo "\`make results\` with BENCH_REPS=${RESULTS_BENCH_REPS:-3} and SAMPLER_REPS=${RESULTS_SAMPLER_REPS:-3}, on $(date -u '+%Y-%m-%d'),"
		echo "CPU SIMD flags: \`${simd_flags:-unknown}\`. Sources of the figures:"
		echo
		echo "- pp64 / tg32 tok/s, MB/token, RSS: **measured** here by \`joulebench generate\` on"
		echo "  \`synth:bench-1b:TYPE\` written to a GGUF file (median of the runs, min..max in brackets)."
		echo "- llama.cpp columns: **measured in the same run** on the same GGUF file by"
		echo "  \`scripts/oracle/bench.mjs\` (${peer:-peer not installed}: its prebuilt llama.cpp,"
		echo "  timed as llama-bench does — warm-up, same thread count, fresh context per run, one"
		echo "  \`llama_decode\` per token without sampling), alternating with ours run by run; ratio ="
		echo "  ours / llama.cpp. Under each row, every run of the pair, with llama.cpp's own counters"
		echo "  (\`llama_perf_context\`) for the same decodes next to the harness's timing."
		echo "- GB/s: memory read bandwidth **measured** here by \`joulebench membw\`; bound = GB/s / MB per"
		echo "  token, the decode speed if every weight byte came from memory at that bandwidth."
		echo "- Sampler overhead: decode tok/s with the 100 ms power sampler over the same run with it"
		echo "  effectively off (ratio and interval from \`joulebench compare\`), **measured** here against"
		echo "  the fake powercap tree \`tests/fixtures/sysfs/intel-client\`."
		echo
		echo '```'
		cat "$bench_txt"
		echo '```'
	fi
} >RESULTS.md.tmp && mv RESULTS.md.tmp RESULTS.md
echo "make results: wrote RESULTS.md and $out/" >&2
