#!/usr/bin/env bash
# `make bench`: speed benchmarks. Each section prints what it measured; nothing here is a test.
# BENCH_SECTIONS picks the sections (default "engine kernels sampler store meter serve"; `make
# results` runs "engine sampler" and puts their output in RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
sections=" ${BENCH_SECTIONS:-engine kernels sampler store meter serve} "
./joulebench --version

# ---- engine: end-to-end prefill (pp64) and decode (tg32) on the bench-1b shape ----------------
#
# Each row runs `joulebench generate` on synth:bench-1b:TYPE (dim 2048, 16 layers, 32 heads,
# 8 kv heads, ffn 5632, vocab 32000) with a 64-token prompt and 32 generated tokens, BENCH_REPS
# times (default 3), and prints the median tokens/s with the min..max of the runs, next to
# llama.cpp's llama-bench figures measured on this machine (Feb 2025 build, same shape). The
# bandwidth bound is (read bandwidth from `joulebench membw` at that thread count) / (weight
# bytes one decode step reads); peak RSS is held against weights + KV cache + 10%.
# BENCH_TYPES / BENCH_REPS narrow or widen the run, e.g. BENCH_TYPES="q4_0 q8_0" BENCH_REPS=5;
# JOULEBENCH_BIN picks the binary (default ./joulebench).

reps=${BENCH_REPS:-3}
jb=${JOULEBENCH_BIN:-./joulebench}
types=${BENCH_TYPES:-"q4_0 q8_0 f16 f32"}

# llama.cpp on this machine: "type threads" -> tg32, pp64 ("-" = not measured)
llama_tg() {
	case "$1 $2" in
	"q4_0 2") echo 52.3 ;; "q8_0 2") echo 29.1 ;; "f16 2") echo 19.8 ;; "f32 2") echo 11.0 ;;
	"q4_0 1") echo 27.3 ;; "q8_0 1") echo 16.1 ;; *) echo - ;;
	esac
}
llama_pp() {
	case "$1 $2" in
	"q4_0 2") echo 101 ;; "q8_0 2") echo 88.6 ;; *) echo - ;;
	esac
}

# The value of a numeric key in a flat JSON object (as cJSON prints it); "null" when absent.
json_num() {
	local v
	v=$(printf '%s' "$2" | sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p")
	echo "${v:-null}"
}

median() { sort -g | awk '{v[NR]=$1} END{if(NR==0){print "null"} else if(NR%2){print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }
minmax() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END{printf "%.1f..%.1f", lo, hi}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="null" || b=="-" || b=="null" || b==0) print "-"; else printf "%.0f%%", 100*a/b }'; }

# Memory read bandwidth (GB/s, the best pass) at 1 and 2 threads from `joulebench membw`, measured
# once up front; "null" when unavailable.
membw_json=$("$jb" membw -t 1,2 --json 2>/dev/null || true)
membw_gbs() {
	local v
	v=$(printf '%s' "$membw_json" | sed -n "s/.*\"threads\":$1,\"read_gb_s\":\([-0-9.eE+]*\).*/\1/p")
	if [ -n "$v" ]; then printf '%.1f\n' "$v"; else echo null; fi
}

if [[ $sections == *" engine "* ]]; then
echo
echo "== engine: bench-1b, pp64 + tg32, $reps runs each (median, min..max) =="
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); the machine may be shared: numbers are noisy"
printf '%-5s %3s | %-20s %8s %5s | %-20s %8s %5s | %10s %9s %8s %6s | %9s %9s\n' \
	type thr "pp64 tok/s" llama.cpp "%" "tg32 tok/s" llama.cpp "%" "MB/token" "GB/s" "bound" "%bound" \
	"RSS MiB" "limit MiB"
for cfg in "q4_0 2" "q8_0 2" "f16 2" "f32 2" "q4_0 1" "q8_0 1"; do
	set -- $cfg
	type=$1 thr=$2
	case " $types " in *" $type "*) ;; *) continue ;; esac
	pps=() tgs=() json=
	for ((r = 0; r < reps; r++)); do
		if ! json=$("$jb" generate -m "synth:bench-1b:$type" --prompt-tokens 64 -n 32 \
			--ignore-eos --temp 0 --ctx 96 -t "$thr" --warmup --json 2>/tmp/jb-bench-err.$$); then
			echo "$type $thr: generate failed:" >&2
			cat /tmp/jb-bench-err.$$ >&2
			continue 2
		fi
		pps+=("$(json_num prefill_tok_s "$json")")
		tgs+=("$(json_num decode_tok_s "$json")")
	done
	rm -f /tmp/jb-bench-err.$$
	pp=$(printf '%s\n' "${pps[@]}" | median) tg=$(printf '%s\n' "${tgs[@]}" | median)
	bpt=$(json_num decode_bytes_per_token "$json")
	wb=$(json_num weight_bytes "$json") fb=$(json_num file_bytes "$json")
	kv=$(json_num kv_cache_bytes "$json") rss=$(json_num peak_rss_bytes "$json")
	bw=$(membw_gbs "$thr")
	bound=$(awk -v bw="$bw" -v b="$bpt" 'BEGIN{ if (bw=="null" || b=="null" || b==0) print "null"; else printf "%.1f", bw*1e9/b }')
	limit=$(awk -v f="$fb" -v w="$wb" -v k="$kv" 'BEGIN{ s = (f>0 ? f : w); printf "%.0f", (s+k)*1.1/1048576 }')
	printf '%-5s %3s | %6.1f %-13s %8s %5s | %6.1f %-13s %8s %5s | %10.1f %9s %8s %6s | %9.0f %9s\n' \
		"$type" "$thr" "$pp" "($(printf '%s\n' "${pps[@]}" | minmax))" "$(llama_pp "$type" "$thr")" \
		"$(pct "$pp" "$(llama_pp "$type" "$thr")")" \
		"$tg" "($(printf '%s\n' "${tgs[@]}" | minmax))" "$(llama_tg "$type" "$thr")" \
		"$(pct "$tg" "$(llama_tg "$type" "$thr")")" \
		"$(awk -v b="$bpt" 'BEGIN{printf "%.1f", b/1e6}')" "$bw" "$bound" "$(pct "$tg" "$bound")" \
		"$(awk -v r="$rss" 'BEGIN{printf "%.0f", r/1048576}')" "$limit"
done
echo "(% = ours / llama.cpp; bound = membw / bytes per token; limit = weights (in memory) or file + KV cache + 10%)"
echo "memory read bandwidth (joulebench membw, best pass): 1 thread $(membw_gbs 1) GB/s, 2 threads $(membw_gbs 2) GB/s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"

fi

# ---- engine kernels: decode matvec weight bandwidth vs memory read bandwidth ------------------
#
# `joulebench membw --matvec` measures the memory read bandwidth at 1 and 2 threads, then times
# the decode matrix-vector kernel (one token) per weight type at the bench-1b matrix sizes
# (ffn 5632x2048, attention 2048x2048, output 32000x2048), streaming distinct copies of the
# weights so they come from memory as in decode. "% of bw" is the weight bytes per second the
# kernel reached over the read bandwidth at the same thread count: the target is 85%. Every pass
# is timed; best and median are shown (the machine may be shared: compare medians with care).
# BENCH_MEMBW_REPS sets the passes (default 10).
if [[ $sections == *" kernels "* ]]; then
	echo
	echo "== engine kernels: decode matvec GB/s vs memory read bandwidth (joulebench membw --matvec) =="
	"$jb" membw -t 1,2 --reps "${BENCH_MEMBW_REPS:-10}" --matvec
fi

# ---- power sampler: its cost on decode tokens/s (scripts/bench-sampler.sh) --------------------
if [[ $sections == *" sampler "* ]]; then
	JOULEBENCH_BIN=$jb scripts/bench-sampler.sh
fi

# ---- results store: import and history over 1,000 results (SQLite) ----------------------------
#
# Writes BENCH_STORE_RESULTS (default 1000) result files made from a fixture (3 configurations of
# 5 repetitions each; 5 machines, dates a few hours apart), imports them into a fresh SQLite file
# with `joulebench import`, then times `joulebench history` over all of them (and for one machine
# and one model) BENCH_STORE_REPS times (default 5): median and slowest wall time, process start
# included. The target is under 1 s.
if [[ $sections == *" store "* ]]; then
	n=${BENCH_STORE_RESULTS:-1000}
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/jb-bench-store.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo
	echo "== results store: $n results into SQLite, then history =="
	mkdir -p "$tmp/results"
	awk -v n="$n" -v dir="$tmp/results" '
		{ text = text $0 "\n" }
		END {
			for (i = 0; i < n; i++) {
				t = text
				gsub(/"laptop-1"/, "\"bench-host-" (i % 5) "\"", t)
				stamp = sprintf("\"2026-%02d-%02dT%02d:%02d:00Z\"", 1 + int(i / 100) % 12, 1 + int(i / 4) % 28, i % 24, i % 60)
				gsub(/"2026-11-20T10:00:00Z"/, stamp, t)
				f = sprintf("%s/r%05d.json", dir, i)
				printf "%s", t > f
				close(f)
			}
		}' tests/fixtures/results/laptop-7b-measured.json
	now_ms() { date +%s%3N; }
	t0=$(now_ms)
	"$jb" import -q --db "$tmp/bench.sqlite" "$tmp/results"
	t1=$(now_ms)
	echo "import: $n files in $((t1 - t0)) ms ($(du -k "$tmp/bench.sqlite" | cut -f1) KiB database)"
	time_history() {
		local times=() k t
		for k in $(seq "${BENCH_STORE_REPS:-5}"); do
			t=$(now_ms)
			"$jb" history --db "$tmp/bench.sqlite" "$@" >"$tmp/out.txt"
			times+=($(( $(now_ms) - t )))
		done
		printf '%s\n' "${times[@]}" | sort -n | awk -v rows="$(wc -l <"$tmp/out.txt")" -v what="$*" \
			'{v[NR]=$1} END{printf "history %-54s %6d lines  median %4d ms  max %4d ms  %s\n", what, rows, v[int((NR+1)/2)], v[NR], (v[NR] < 1000 ? "(< 1 s)" : "(OVER 1 s)")}'
	}
	time_history
	time_history --metric j_per_token --format csv
	time_history --machine bench-host-3 --model llama-2-7b --metric ttft_ms
	time_history --since 2026-06-01 --format json
fi

# ---- wall meters: fake Shelly/Tasmota plugs integrated over 60 s (scripts/bench-meter.sh) ----
if [[ $sections == *" meter "* ]]; then
	scripts/bench-meter.sh
fi

# ---- serve: aggregate decode tokens/s at concurrency 1 vs 8 (scripts/bench-serve.sh) -----------
if [[ $sections == *" serve "* ]]; then
	echo
	JOULEBENCH_BIN=$jb scripts/bench-serve.sh
fi
