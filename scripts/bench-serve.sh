#!/usr/bin/env bash
# scripts/bench-serve.sh — aggregate decode tokens/s of `joulebench serve` at concurrency 1 vs N.
# Not a test: it prints what it measured (`make bench` runs it as its "serve" section).
#
# Starts `joulebench serve` on 127.0.0.1 (a free port) with SERVE_MODEL (default
# synth:bench-1b:q4_0), as many slots as the largest concurrency, SERVE_THREADS threads (default:
# online CPUs). For each concurrency c in SERVE_CONCURRENCY (default "1 8"), SERVE_REPS times
# (default 3): c streaming completions at once with curl, each a different 16-token prompt and
# SERVE_TOKENS (default 32) greedy tokens with ignore_eos. Per concurrency it prints:
#   decode tok/s  tokens of the decode steps / time in them, from the server's /health counters
#                 (decode_tokens, decode_seconds): the aggregate decode rate, prefill excluded;
#   seqs/step     sequences per batched decode step (c when every request overlapped);
#   wall tok/s    generated tokens / wall time of the whole round, prefill of every prompt included;
# then the ratio of the decode rates, highest concurrency over 1. The median of the reps is taken;
# rounds alternate between the concurrencies.
#
# Then the HTTP adapter against the built-in engine, same model, same workload, concurrency 1:
# `joulebench run --engine openai --url http://127.0.0.1:PORT/v1 --prompt-format ids` against this
# server and `joulebench run --engine builtin` on SERVE_MODEL, each with a CMP_PROMPT-token prompt
# (default 64; the same token ids: --prompt-format ids sends the built-in engine's) and CMP_GEN
# tokens (default 32), CMP_REPS requests / repetitions (default 5) after one warm-up, no idle
# measurement, CMP_ROUNDS rounds (default 3) alternating between the two. It prints for each the
# TTFT (median) and the decode tokens/s, taken as 1000 / the median inter-token gap in ms on both
# sides (the built-in engine's own decode tok/s beside it), medians over the rounds, and the
# ratios adapter / built-in. The server's usage.prompt_tokens is checked against the ids
# sent (sweep.server_added_bos of the adapter's result). The built-in run happens while the server
# idles (its thread pool sleeps on a futex), so the two do not compete.
# Batched decode reads every weight once per step, so the ratio is bounded by how much faster the
# engine's matrix-matrix kernels run a batch than the memory-bound matrix-vector case (compare
# pp64 and tg32 in `make bench`'s engine section).
set -euo pipefail
cd "$(dirname "$0")/.."

jb=${JOULEBENCH_BIN:-./joulebench}
model=${SERVE_MODEL:-synth:bench-1b:q4_0}
threads=${SERVE_THREADS:-$(nproc)}
conc=${SERVE_CONCURRENCY:-"1 8"}
ntok=${SERVE_TOKENS:-32}
reps=${SERVE_REPS:-3}
cmp_prompt=${CMP_PROMPT:-64}
cmp_gen=${CMP_GEN:-32}
cmp_reps=${CMP_REPS:-5}
cmp_rounds=${CMP_ROUNDS:-3}
maxc=1
for c in $conc; do ((c > maxc)) && maxc=$c; done
ctx=$((16 + ntok + 16))
((cmp_prompt + cmp_gen + 8 > ctx)) && ctx=$((cmp_prompt + cmp_gen + 8))

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

"$jb" serve -m "$model" --host 127.0.0.1 --port 0 -np "$maxc" -t "$threads" -c "$ctx" \
	2>"$tmp/serve.err" &
pid=$!
port=
for _ in $(seq 1 1200); do # up to 120 s: a synthetic model is generated first
	port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/serve.err")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/serve.err" >&2; exit 1; }
	sleep 0.1
done
[ -n "$port" ] || { echo "bench-serve: the server did not start in 120 s" >&2; cat "$tmp/serve.err" >&2; exit 1; }
base="http://127.0.0.1:$port"

# The value of a numeric key in a flat JSON object (as cJSON prints it).
json_num() { printf '%s' "$2" | sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p"; }
health() { curl -s --noproxy '*' --max-time 30 "$base/health"; }
median() { sort -g | awk '{v[NR]=$1} END{if(NR==0){print "null"} else if(NR%2){print v[(NR+1)/2]} else {print (v[NR/2]+v[NR/2+1])/2}}'; }

# One request: prompt ids depend on the request number, so no two prompts are alike.
request() {
	local i=$1 ids="1" k
	for k in $(seq 1 15); do ids="$ids,$(( (i * 7919 + k * 104729) % 500 + 3 ))"; done
	curl -sN --noproxy '*' --max-time 600 "$base/v1/completions" -d "{\"prompt\":[$ids],\"max_tokens\":$ntok,\
\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
}

request 0 >/dev/null # warm-up: faults the weights in, starts the threads

echo "== serve: $model, $threads threads, $ntok tokens per request, 16-token prompts, $reps rounds (median) =="
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M) UTC; the machine may be shared: numbers are noisy"
printf '%11s %12s %10s %11s %s\n' concurrency "decode tok/s" seqs/step "wall tok/s" "(each round)"
# One round at concurrency $1: appends "decode_rate seqs_per_step wall_rate" to $tmp/rounds.$1.
round() {
	local c=$1 i p h0 h1 t0 t1 got u dt ds st pids=()
	h0=$(health)
	t0=$(date +%s.%N)
	for ((i = 0; i < c; i++)); do
		n=$((n + 1))
		request "$n" >"$tmp/out.$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	t1=$(date +%s.%N)
	h1=$(health)
	got=0
	for ((i = 0; i < c; i++)); do
		grep -q 'data: \[DONE\]' "$tmp/out.$i" || { echo "request $i at concurrency $c did not finish:" >&2; cat "$tmp/out.$i" >&2; exit 1; }
		u=$(grep -o '"completion_tokens":[0-9]*' "$tmp/out.$i" | tail -1 | cut -d: -f2)
		got=$((got + ${u:-0}))
	done
	read -r dt ds st < <(awk -v a="$(json_num decode_tokens "$h1")" -v b="$(json_num decode_tokens "$h0")" \
		-v c="$(json_num decode_seconds "$h1")" -v d="$(json_num decode_seconds "$h0")" \
		-v e="$(json_num decode_steps "$h1")" -v f="$(json_num decode_steps "$h0")" \
		'BEGIN{print a-b, c-d, e-f}')
	awk -v t="$dt" -v s="$ds" -v k="$st" -v g="$got" -v a="$t0" -v b="$t1" \
		'BEGIN{printf "%.2f %.2f %.2f\n", (s > 0 ? t/s : 0), (k > 0 ? t/k : 0), g/(b-a)}' >>"$tmp/rounds.$c"
}

# Rounds alternate between the concurrencies (1, 8, 1, 8, ...), so that a change in the machine's
# load over the run falls on both alike.
n=0
for ((r = 0; r < reps; r++)); do
	for c in $conc; do round "$c"; done
done
declare -A rate
for c in $conc; do
	rate[$c]=$(cut -d' ' -f1 "$tmp/rounds.$c" | median)
	printf '%11s %12s %10s %11s (%s )\n' "$c" "${rate[$c]}" "$(cut -d' ' -f2 "$tmp/rounds.$c" | median)" \
		"$(cut -d' ' -f3 "$tmp/rounds.$c" | median)" "$(cut -d' ' -f1 "$tmp/rounds.$c" | tr '\n' ' ' | sed 's/ $//; s/^/ /')"
done
first=${conc%% *}
if [ "$maxc" != "$first" ]; then
	awk -v a="${rate[$maxc]}" -v b="${rate[$first]}" -v c="$maxc" -v f="$first" \
		'BEGIN{ if (b > 0) printf "decode tok/s at concurrency %s / concurrency %s: %.2fx\n", c, f, a/b }'
fi

# ---- the adapter (--engine openai, token ids) against the built-in engine at concurrency 1 ----
# The value of column NAME in row 2 of a summary.csv (the columns read come before any quoted one).
csv_col() { awk -F, -v k="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == k) c = i } NR == 2 && c { print $c }' "$1"; }
echo
echo "== adapter vs built-in: $model, $threads threads, ${cmp_prompt}-token prompt, $cmp_gen tokens, concurrency 1, $cmp_reps requests / repetitions, $cmp_rounds rounds (median) =="
# Rounds alternate between the two engines, so that a change in the machine's load falls on both.
for ((r = 0; r < cmp_rounds; r++)); do
	"$jb" run --engine openai --url "$base/v1" --model "$model" --prompt-tokens "$cmp_prompt" \
		--gen-tokens "$cmp_gen" --prompt-format ids --concurrency 1 --requests "$cmp_reps" --warmup 1 \
		--idle-seconds 0 --no-db -q -o "$tmp/adapter.$r" >"$tmp/adapter.out" 2>&1 ||
		{ cat "$tmp/adapter.out" >&2; exit 1; }
	"$jb" run --model "$model" --prompt-tokens "$cmp_prompt" --gen-tokens "$cmp_gen" -t "$threads" \
		--reps "$cmp_reps" --warmup 1 --idle-seconds 0 --no-db -q -o "$tmp/builtin.$r" >"$tmp/builtin.out" 2>&1 ||
		{ cat "$tmp/builtin.out" >&2; exit 1; }
	echo "$(csv_col "$tmp/adapter.$r/summary.csv" ttft_p50_ms) $(csv_col "$tmp/adapter.$r/summary.csv" itl_p50_ms)" >>"$tmp/cmp.adapter"
	echo "$(csv_col "$tmp/builtin.$r/summary.csv" ttft_ms) $(csv_col "$tmp/builtin.$r/summary.csv" itl_p50_ms) $(csv_col "$tmp/builtin.$r/summary.csv" decode_tok_s)" >>"$tmp/cmp.builtin"
done
grep '^prompt:' "$tmp/adapter.out" || true
added=$(grep -o '"server_added_bos":[[:space:]]*[a-z]*' "$tmp/adapter.0/result.json" | sed 's/.*:[[:space:]]*//')
echo "server added a token in front of the ids (usage.prompt_tokens = ids + 1): ${added:-unknown}"
a_ttft=$(cut -d' ' -f1 "$tmp/cmp.adapter" | median)
a_itl=$(cut -d' ' -f2 "$tmp/cmp.adapter" | median)
b_ttft=$(cut -d' ' -f1 "$tmp/cmp.builtin" | median)
b_itl=$(cut -d' ' -f2 "$tmp/cmp.builtin" | median)
b_tok=$(cut -d' ' -f3 "$tmp/cmp.builtin" | median)
awk -v at="$a_ttft" -v ai="$a_itl" -v bt="$b_ttft" -v bi="$b_itl" -v bd="$b_tok" \
	-v ar="$(tr '\n' ';' <"$tmp/cmp.adapter")" -v br="$(tr '\n' ';' <"$tmp/cmp.builtin")" 'BEGIN {
	printf "%-22s %10s %14s %s\n", "engine", "TTFT ms", "decode tok/s", "(1000 / median inter-token gap)"
	printf "%-22s %10.1f %14.2f\n", "openai adapter (ids)", at, (ai > 0 ? 1000 / ai : 0)
	printf "%-22s %10.1f %14.2f %s\n", "builtin", bt, (bi > 0 ? 1000 / bi : 0), "(its own decode tok/s: " bd ")"
	if (bt > 0 && ai > 0)
		printf "adapter / built-in: TTFT %.2fx, decode tok/s %.2fx\n", at / bt, bi / ai
	printf "rounds (TTFT ms, ITL p50 ms): adapter %s builtin %s\n", ar, br
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
