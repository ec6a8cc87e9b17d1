#!/usr/bin/env bash
# The power sampler's cost on the engine (a benchmark for `make bench`, not a test).
#
# Runs the same decode workload A/B/A/B: (A) the sampler effectively off between phase
# boundaries (--interval-ms 60000: samples only where the runner forces them), (B) the default
# 100 ms interval (and, with SAMPLER_FAST=1, a 10 ms interval). The probe reads a copy of the
# fake powercap tree tests/fixtures/sysfs/intel-client, so the sampler does the same file reads
# it does on a machine with RAPL. Prints each run's decode tok/s (median, 95% CI), B/A as a ratio
# with its interval (`joulebench compare`), and the sampler's measured CPU cost per sample.
# SAMPLER_MODEL, SAMPLER_GEN, SAMPLER_REPS, SAMPLER_THREADS override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
jb=${JOULEBENCH_BIN:-./joulebench}
model=${SAMPLER_MODEL:-synth:bench-1b:q4_0}
gen=${SAMPLER_GEN:-64}
reps=${SAMPLER_REPS:-5}
threads=${SAMPLER_THREADS:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp -r tests/fixtures/sysfs/intel-client "$out/root"

run_one() { # NAME INTERVAL_MS
	"$jb" run --model "$model" --prompt-tokens 16 --gen-tokens "$gen" -t "$threads" \
		--reps "$reps" --warmup 1 --idle-seconds 0 --cooldown-seconds 0 --max-reps "$reps" \
		--interval-ms "$2" --probe powercap --sysfs-root "$out/root" --quiet -o "$out/$1" >/dev/null
}

echo
echo "== power sampler overhead: $model, $threads threads, tg$gen x $reps reps, A/B/A/B =="
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); the machine may be shared: numbers are noisy"
runs=(off1 on1 off2 on2)
intervals=(60000 100 60000 100)
if [ "${SAMPLER_FAST:-0}" = 1 ]; then
	runs+=(fast)
	intervals+=(10)
fi
for i in "${!runs[@]}"; do
	run_one "${runs[$i]}" "${intervals[$i]}"
done
for pair in "off1 on1" "off2 on2" ${SAMPLER_FAST:+"off2 fast"}; do
	set -- $pair
	"$jb" compare "$out/$1/result.json" "$out/$2/result.json" --format csv |
		awk -F, -v a="$1" -v b="$2" '$6 == "\"decode tok/s\"" && index($1, "/" b "/") {
			printf "%-5s vs %-5s decode tok/s ratio %.4f (interval %.4f..%.4f)\n", b, a, $11, $12, $13 }'
done
for r in "${runs[@]}"; do
	awk -v r="$r" '/"sampler":/ { on = 1; next }
		on && /}/ { on = 0 }
		on { v = $0; sub(/.*:[ \t]*/, "", v); v += 0 }
		on && /"interval_ms":/ { iv = v }
		on && /"cpu_ns_per_sample":/ { ns = v }
		on { gsub(/[\t",]/, ""); s = s " " $0 }
		END { printf "%-5s sampler:%s", r, s
		      if (iv > 0 && iv < 60000) printf "  -> %.4f%% of one CPU at this interval", 100 * ns / (iv * 1e6)
		      printf "\n" }' "$out/$r/result.json"
done
echo "target: the default interval changes decode tok/s by less than 1% (ratio within 0.99..1.01)"
