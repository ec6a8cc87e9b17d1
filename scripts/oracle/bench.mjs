#!/usr/bin/env node
// scripts/oracle/bench.mjs — llama.cpp's speed on a GGUF file, measured the way llama-bench
// measures it, as the peer of `joulebench generate` in `make bench` (scripts/bench.sh).
//
//   node scripts/oracle/bench.mjs --model FILE.gguf [--threads N] [--pp 64] [--tg 32] [--reps 1]
//
// prints one JSON object on stdout: prefill (pp) and decode (tg) tokens/s of every rep and their
// medians, the llama.cpp release and CPU backend that ran, and llama.cpp's own timing counters
// (llama_perf_context: prompt eval and eval times) over the measured reps.
//
// llama.cpp is the prebuilt CPU build of the pinned node-llama-cpp (scripts/oracle/package.json;
// `scripts/install-deps.sh --oracle` installs it). The timing goes through node-llama-cpp's
// low-level context (initBatch / addToBatch / decodeBatch) rather than its generator: decode is
// one llama_decode of one token with logits for that token and no sampling, as llama-bench's tg
// does; the high-level evaluate() generator adds sampling and per-token JavaScript work and runs
// decode at roughly half of llama-bench's speed. Per rep (as llama-bench): the sequence's KV cache
// is cleared, pp decodes the PP prompt tokens in one batch, then tg decodes TG tokens one at a
// time after them (our own decode figure is also measured after the prompt). One untimed warm-up
// rep runs first. Tokens are fixed pseudo-random ids below the vocabulary size.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

function usage(msg) {
	if (msg) process.stderr.write(`bench.mjs: ${msg}\n`);
	process.stderr.write("usage: node scripts/oracle/bench.mjs --model FILE.gguf [--threads N] [--pp 64] [--tg 32] [--reps 1]\n");
	process.exit(2);
}

const opt = { model: null, threads: 2, pp: 64, tg: 32, reps: 1 };
for (let i = 2; i < process.argv.length; i++) {
	const a = process.argv[i], v = process.argv[i + 1];
	if (a === "--model") opt.model = v;
	else if (a === "--threads" || a === "-t") opt.threads = Number(v);
	else if (a === "--pp") opt.pp = Number(v);
	else if (a === "--tg") opt.tg = Number(v);
	else if (a === "--reps") opt.reps = Number(v);
	else usage(`unknown argument '${a}'`);
	i++;
}
if (!opt.model) usage("--model is required");
for (const k of ["threads", "pp", "tg", "reps"])
	if (!Number.isInteger(opt[k]) || opt[k] < 1) usage(`--${k} must be a positive integer`);

const median = (v) => {
	const s = [...v].sort((a, b) => a - b), n = s.length;
	return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// llama.cpp's log lines: kept to pick llama_perf_context_print's counters out of them.
const logLines = [];
const llama = await getLlama({
	gpu: false,
	build: "never",
	maxThreads: opt.threads,
	logLevel: LlamaLogLevel.debug,
	logger: (level, message) => logLines.push(String(message)),
});
const model = await llama.loadModel({ modelPath: opt.model, gpuLayers: 0 });
const nVocab = model.tokens?.vocabSize ?? model.fileInfo?.metadata?.llama?.vocab_size ?? 32000;
const tokens = Array.from({ length: opt.pp + opt.tg }, (_, i) => 1 + ((i * 7919 + 13) % (nVocab - 1)));

// llama_perf_context_print's counters from the log lines since `from`: prompt eval covers the
// multi-token batch, eval the single-token decodes.
function perfSince(from) {
	const text = logLines.slice(from).join("\n");
	const m1 = text.match(/prompt eval time =\s*([\d.]+) ms \/\s*(\d+) tokens/);
	const m2 = text.match(/\beval time =\s*([\d.]+) ms \/\s*(\d+) runs/);
	return {
		prompt_eval_tok_s: m1 ? (Number(m1[2]) / Number(m1[1])) * 1e3 : null,
		eval_tok_s: m2 ? (Number(m2[2]) / Number(m2[1])) * 1e3 : null,
	};
}

// One rep on a fresh context (fresh KV cache and perf counters): pp tokens in one batch, then tg
// single-token decodes, each llama_decode with logits for its last token and no sampling.
async function rep() {
	const context = await model.createContext({
		contextSize: opt.pp + opt.tg + 32,
		batchSize: opt.pp,
		sequences: 1,
		threads: opt.threads,
		performanceTracking: true,
	});
	const ctx = context._ctx; // node-llama-cpp's addon context: llama_decode without its scheduler
	const seqId = context.getSequence()._sequenceId ?? 0;
	const decode = async (first, toks) => {
		ctx.initBatch(toks.length);
		ctx.addToBatch(seqId, first, Uint32Array.from(toks), Uint32Array.from([toks.length - 1]));
		await ctx.decodeBatch();
	};
	let t0 = performance.now();
	await decode(0, tokens.slice(0, opt.pp));
	const ppS = (performance.now() - t0) / 1e3;
	t0 = performance.now();
	for (let i = 0; i < opt.tg; i++) await decode(opt.pp + i, [tokens[opt.pp + i]]);
	const tgS = (performance.now() - t0) / 1e3;
	const from = logLines.length;
	const threads = ctx.getThreads();
	ctx.printTimings();
	await new Promise((r) => setTimeout(r, 20)); // the log lines arrive through the event loop
	const perf = perfSince(from);
	await context.dispose();
	return { pp: opt.pp / ppS, tg: opt.tg / tgS, perf, threads };
}

await rep(); // warm-up
const pps = [], tgs = [], perfPp = [], perfTg = [];
let threads = null;
for (let r = 0; r < opt.reps; r++) {
	const x = await rep();
	pps.push(x.pp);
	tgs.push(x.tg);
	if (x.perf.prompt_eval_tok_s != null) perfPp.push(x.perf.prompt_eval_tok_s);
	if (x.perf.eval_tok_s != null) perfTg.push(x.perf.eval_tok_s);
	threads = x.threads;
}

let pkgVersion = null;
try {
	const url = new URL("./node_modules/node-llama-cpp/package.json", import.meta.url);
	pkgVersion = JSON.parse(readFileSync(url, "utf8")).version;
} catch {
	pkgVersion = null;
}
const cpuBackend = (logLines.join("").match(/libggml-cpu-([a-z0-9_]+)\.so/) || [])[1] ?? null;
const out = {
	engine: "llama.cpp",
	node_llama_cpp: pkgVersion,
	llama_cpp_release: llama.llamaCppRelease.release,
	build_type: llama.buildType,
	cpu_backend: cpuBackend,
	system_info: llama.systemInfo,
	model: opt.model,
	threads,
	pp_tokens: opt.pp,
	tg_tokens: opt.tg,
	pp_tok_s: pps,
	tg_tok_s: tgs,
	prefill_tok_s: median(pps),
	decode_tok_s: median(tgs),
	// llama.cpp's own counters (llama_perf_context) for the same decodes, median over the reps
	llama_perf_prompt_eval_tok_s: perfPp.length ? median(perfPp) : null,
	llama_perf_eval_tok_s: perfTg.length ? median(perfTg) : null,
};
process.stdout.write(JSON.stringify(out) + "\n");
await model.dispose();
await llama.dispose();
