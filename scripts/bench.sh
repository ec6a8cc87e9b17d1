#!/usr/bin/env bash
# `make bench`: speed benchmarks. Each section prints what it measured; nothing here is a test.
# BENCH_SECTIONS picks the sections (default "engine kernels sampler store meter serve"; `make
# results` runs "engine sampler" and puts their output in RESULTS.md).
set -euo pipefail
# Byte-wise text handling: generated text in --json output need not be valid UTF-8.
export LC_ALL=C
cd "$(dirname "$0")/.."
sections=" ${BENCH_SECTIONS:-engine kernels sampler store meter serve} "
./joulebench --version

# ---- engine: end-to-end prefill (pp64) and decode (tg32), ours against llama.cpp ---------------
#
# Each row writes synth:bench-1b:TYPE (dim 2048, 16 layers, 32 heads, 8 kv heads, ffn 5632, vocab
# 32000) to a GGUF file once (under $BENCH_MODEL_DIR, default build/bench-models) and measures
# that same file BENCH_REPS times (default 3) with both engines, interleaved: ours (`joulebench
# generate`, 64-token prompt, 32 generated tokens, one warm-up) then llama.cpp (the peer:
# scripts/oracle/bench.mjs, node-llama-cpp's prebuilt llama.cpp timed as llama-bench does: same
# thread count, one warm-up, fresh context per rep, one llama_decode per token without
# sampling), then ours again, and so on, so that load on a shared machine falls on both alike.
# Each cell is the median tokens/s with the min..max of the runs; ratio = median ours / median
# llama.cpp, with the min..max of the per-pair ratios (run i of ours over run i of theirs).
# Nothing here is a recorded figure: where the peer cannot run (no node, node-llama-cpp not
# installed: `scripts/install-deps.sh --oracle`), or a type does not exist in this build, the row
# says so. The bandwidth bound is (read bandwidth from `joulebench membw` at that thread count,
# the DRAM figure, or the cache-resident one when a decode step reads no more than that buffer) /
# (weight bytes one decode step reads); peak RSS is held against weights + KV cache + 10%.
# BENCH_TYPES / BENCH_REPS / BENCH_THREADS narrow or widen the run, e.g. BENCH_TYPES="q4_0 q8_0"
# BENCH_REPS=5 BENCH_THREADS="2 1"; BENCH_PEER=0 skips the peer; JOULEBENCH_BIN picks the binary
# (default ./joulebench); JOULEBENCH_ISA=ref|avx2|avx512 picks our kernel path.

reps=${BENCH_REPS:-3}
jb=${JOULEBENCH_BIN:-./joulebench}
types=${BENCH_TYPES:-"q4_0 q8_0 f16 q4_k_m"}
threads_list=${BENCH_THREADS:-2}
model_dir=${BENCH_MODEL_DIR:-build/bench-models}
oracle_dir=scripts/oracle

# The value of a numeric key in a flat JSON object (as cJSON prints it); "null" when absent.
json_num() {
	local v
	v=$(printf '%s' "$2" | sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p")
	echo "${v:-null}"
}
json_str() {
	local v
	v=$(printf '%s' "$2" | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p")
	echo "${v:-null}"
}

median() { sort -g | awk '{v[NR]=$1} END{if(NR==0){print "null"} else if(NR%2){print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }
minmax() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END{if(NR==0) print "-"; else printf "%.1f..%.1f", lo, hi}'; }
minmax2() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END{if(NR==0) print "-"; else printf "%.2f..%.2f", lo, hi}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="null" || b=="null" || b=="-" || b==0) print "null"; else printf "%.2f\n", a/b }'; }
# Per-pair ratios of two lists of the same length.
pair_ratios() {
	local -n xs=$1 ys=$2
	for ((i = 0; i < ${#xs[@]} && i < ${#ys[@]}; i++)); do ratio "${xs[$i]}" "${ys[$i]}"; done | grep -v null || true
}

# Memory read bandwidth (GB/s, the best pass) at each thread count from `joulebench membw`,
# measured once up front: "dram" (buffer >= 4x the last-level cache) and "cache" (a buffer that
# fits in it); "null" when unavailable.
membw_json=$("$jb" membw -t "$(echo "$threads_list" | tr ' ' ',')" --json 2>/dev/null || true)
membw_gbs() { # THREADS KEY
	local v
	v=$(printf '%s' "$membw_json" | grep -o "{\"threads\":$1,[^}]*}" | head -1 | sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p")
	if [ -n "$v" ]; then printf '%.1f\n' "$v"; else echo null; fi
}
# the size of the cache-resident buffer (half the last-level cache, at most 16 MiB): models whose
# decode step reads no more than this use the cache figure as their bound
cache_bytes=$(printf '%s' "$membw_json" | sed -n 's/.*"cache_bytes":\([0-9]*\).*/\1/p')

# The peer: why it cannot run, or empty when it can.
peer_why=
if [ "${BENCH_PEER:-1}" = 0 ]; then
	peer_why="skipped (BENCH_PEER=0)"
elif ! command -v node >/dev/null 2>&1; then
	peer_why="node not found (scripts/install-deps.sh --oracle)"
elif [ ! -e "$oracle_dir/node_modules/node-llama-cpp/package.json" ]; then
	peer_why="node-llama-cpp not installed in $oracle_dir (scripts/install-deps.sh --oracle)"
fi
peer_version=
if [ -z "$peer_why" ]; then
	peer_version="node-llama-cpp $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$oracle_dir/node_modules/node-llama-cpp/package.json" | head -1)"
fi

if [[ $sections == *" engine "* ]]; then
echo
echo "== engine: bench-1b, pp64 + tg32, ours against llama.cpp on the same GGUF file, $reps interleaved runs each (median, min..max) =="
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); the machine may be shared: numbers are noisy"
echo "ours: $("$jb" --version | sed -n 's/^kernels: *//p') kernels; peer: ${peer_version:-none: $peer_why}"
printf '%-6s %3s | %-18s %-18s %-16s | %-18s %-18s %-16s | %8s %7s %7s %6s | %7s %7s\n' \
	type thr "pp64 ours tok/s" "pp64 llama.cpp" "ratio" "tg32 ours tok/s" "tg32 llama.cpp" "ratio" \
	"MB/tok" "GB/s" "bound" "%bound" "RSS MiB" "limit"
peer_info=
mkdir -p "$model_dir"
for thr in $threads_list; do
for type in $types; do
	model="$model_dir/bench-1b-$type.gguf"
	if [ ! -s "$model" ]; then
		if ! "$jb" model synth --shape bench-1b --type "$type" -o "$model.tmp" >/dev/null 2>/tmp/jb-bench-err.$$; then
			rm -f "$model.tmp"
			printf '%-6s %3s | type unavailable in this build: %s\n' "$type" "$thr" \
				"$(head -1 /tmp/jb-bench-err.$$ | sed 's/^joulebench model: //')"
			continue
		fi
		mv "$model.tmp" "$model"
	fi
	pps=() tgs=() ppp=() tgp=() json= pjson= why=$peer_why runs_txt=
	for ((r = 0; r < reps; r++)); do
		if ! json=$("$jb" generate -m "$model" --prompt-tokens 64 -n 32 \
			--ignore-eos --temp 0 --ctx 96 -t "$thr" --warmup --json 2>/tmp/jb-bench-err.$$); then
			echo "$type $thr: generate failed:" >&2
			cat /tmp/jb-bench-err.$$ >&2
			continue 2
		fi
		pps+=("$(json_num prefill_tok_s "$json")")
		tgs+=("$(json_num decode_tok_s "$json")")
		if [ -z "$why" ]; then
			if pjson=$(node "$oracle_dir/bench.mjs" --model "$model" --threads "$thr" --pp 64 --tg 32 \
				--reps 1 2>/tmp/jb-bench-err.$$); then
				ppp+=("$(json_num prefill_tok_s "$pjson")")
				tgp+=("$(json_num decode_tok_s "$pjson")")
				peer_info="llama.cpp $(json_str llama_cpp_release "$pjson") ($(json_str build_type "$pjson"), CPU backend $(json_str cpu_backend "$pjson")), $peer_version"
				runs_txt+=$(printf '  %s t%s run %d: ours pp64 %.1f tg32 %.1f; llama.cpp pp64 %.1f tg32 %.1f tok/s, its own counters (llama_perf_context): prompt eval %s, eval %s tok/s' \
					"$type" "$thr" "$r" "${pps[-1]}" "${tgs[-1]}" "${ppp[-1]}" "${tgp[-1]}" \
					"$(printf '%.1f' "$(json_num llama_perf_prompt_eval_tok_s "$pjson")" 2>/dev/null || echo null)" \
					"$(printf '%.1f' "$(json_num llama_perf_eval_tok_s "$pjson")" 2>/dev/null || echo null)")$'\n'
			else
				why="peer failed: $(grep -v '^\s*$' /tmp/jb-bench-err.$$ | tail -1 | cut -c1-100)"
			fi
		fi
	done
	rm -f /tmp/jb-bench-err.$$
	pp=$(printf '%s\n' "${pps[@]}" | median) tg=$(printf '%s\n' "${tgs[@]}" | median)
	if [ -z "$why" ]; then
		pp_p=$(printf '%s\n' "${ppp[@]}" | median) tg_p=$(printf '%s\n' "${tgp[@]}" | median)
		pp_peer=$(printf '%6.1f %-11s' "$pp_p" "($(printf '%s\n' "${ppp[@]}" | minmax))")
		tg_peer=$(printf '%6.1f %-11s' "$tg_p" "($(printf '%s\n' "${tgp[@]}" | minmax))")
		pp_ratio=$(printf '%5s %-10s' "$(ratio "$pp" "$pp_p")" "($(pair_ratios pps ppp | minmax2))")
		tg_ratio=$(printf '%5s %-10s' "$(ratio "$tg" "$tg_p")" "($(pair_ratios tgs tgp | minmax2))")
	else
		pp_peer="-" tg_peer="-" pp_ratio="-" tg_ratio="-"
	fi
	bpt=$(json_num decode_bytes_per_token "$json")
	wb=$(json_num weight_bytes "$json") fb=$(json_num file_bytes "$json")
	kv=$(json_num kv_cache_bytes "$json") rss=$(json_num peak_rss_bytes "$json")
	# the roofline: DRAM bandwidth, or the cache-resident one when the weights fit in the LLC
	if [ -n "$cache_bytes" ] && [ "$bpt" != null ] && awk -v b="$bpt" -v l="$cache_bytes" 'BEGIN{exit !(b <= l)}'; then
		bw=$(membw_gbs "$thr" cache_gb_s)
	else
		bw=$(membw_gbs "$thr" read_gb_s)
	fi
	bound=$(awk -v bw="$bw" -v b="$bpt" 'BEGIN{ if (bw=="null" || b=="null" || b==0) print "null"; else printf "%.1f", bw*1e9/b }')
	limit=$(awk -v f="$fb" -v w="$wb" -v k="$kv" 'BEGIN{ s = (f>0 ? f : w); printf "%.0f", (s+k)*1.1/1048576 }')
	printf '%-6s %3s | %6.1f %-11s %-18s %-16s | %6.1f %-11s %-18s %-16s | %8.1f %7s %7s %6s | %7.0f %7s\n' \
		"$type" "$thr" "$pp" "($(printf '%s\n' "${pps[@]}" | minmax))" "$pp_peer" "$pp_ratio" \
		"$tg" "($(printf '%s\n' "${tgs[@]}" | minmax))" "$tg_peer" "$tg_ratio" \
		"$(awk -v b="$bpt" 'BEGIN{printf "%.1f", b/1e6}')" "$bw" "$bound" \
		"$(awk -v a="$tg" -v b="$bound" 'BEGIN{ if (b=="null" || b==0) print "-"; else printf "%.0f%%", 100*a/b }')" \
		"$(awk -v r="$rss" 'BEGIN{printf "%.0f", r/1048576}')" "$limit"
	[ -n "$why" ] && echo "       llama.cpp: not measured: $why"
	# every run of the pair, with llama.cpp's own counters for the same decodes
	printf '%s' "$runs_txt"
done
done
echo "(ratio = median ours / median llama.cpp, min..max of the per-run pairs in brackets; bound = membw / bytes per token;"
echo " limit = weights (in memory) or file + KV cache + 10%)"
echo "peer: ${peer_info:-${peer_version:-none: $peer_why}}"
echo "memory read bandwidth (joulebench membw, best pass): $(for t in $threads_list; do printf '%s thread(s) DRAM %s GB/s, cache-resident %s GB/s; ' "$t" "$(membw_gbs "$t" read_gb_s)" "$(membw_gbs "$t" cache_gb_s)"; done)"
echo "load average now $(cut -d' ' -f1-3 /proc/loadavg)"

fi

# ---- engine kernels: decode matvec weight bandwidth vs memory read bandwidth ------------------
#
# `joulebench membw --matvec` measures the memory read bandwidth at 1 and 2 threads, then times
# the decode matrix-vector kernel (one token) per weight type at the bench-1b matrix sizes
# (ffn 5632x2048, attention 2048x2048, output 32000x2048), streaming distinct copies of the
# weights so they come from memory as in decode. "% of bw" is the weight bytes per second the
# kernel reached over the read bandwidth at the same thread count: the target is 85% for Q4_K.
# Every pass is timed; best and median are shown, and "% paired" is the median share of a read
# pass over the same weights straight after each kernel pass (a shared machine's bandwidth drifts
# between the two measurements; the paired figure does not).
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

# ---- serve: decode tokens/s at concurrency 1 vs 8, adapter vs built-in (scripts/bench-serve.sh) --
if [[ $sections == *" serve "* ]]; then
	echo
	JOULEBENCH_BIN=$jb scripts/bench-serve.sh
fi
