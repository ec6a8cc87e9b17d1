#!/usr/bin/env node
// scripts/oracle/logits.mjs — teacher-forced logits of a GGUF model from llama.cpp (the prebuilt
// library node-llama-cpp pins in package.json), as JSON, for checking joulebench's engine against
// an independent implementation on the same file and the same token ids.
//
//   node scripts/oracle/logits.mjs MODEL.gguf --tokens "1 5 9" [--tokens-file FILE] [--top-k K]
//        [--threads N] [-o OUT.json]
//
// Output: {"engine", "llama_cpp", "model", "n_vocab", "tokens", "positions": [{"greedy", "logits"}]}
// where logits[p] holds the n_vocab raw logits after tokens[0..p] (position-major, as
// `joulebench logits` writes them); with --top-k K each position holds "top": [[id, logprob], ...]
// (K most likely, log-softmax) instead of "logits". Runs on the CPU only and never builds
// llama.cpp from source. Exit status 2 for a usage error, 1 when the model cannot be run.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {readFileSync, writeFileSync} from "node:fs";
import {fileURLToPath} from "node:url";

function usage(msg) {
    if (msg)
        process.stderr.write(`logits.mjs: ${msg}\n`);
    process.stderr.write("usage: node scripts/oracle/logits.mjs MODEL.gguf (--tokens \"ID ...\" | --tokens-file FILE) " +
        "[--top-k K] [--threads N] [-o OUT.json]\n");
    process.exit(2);
}

function parseTokens(text, what) {
    const words = text.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0)
        usage(`${what} holds no token ids`);
    return words.map((w) => {
        if (!/^\d+$/.test(w))
            usage(`${what}: '${w}' is not a token id`);
        return Number(w);
    });
}

const args = process.argv.slice(2);
let modelPath = null, tokens = null, topK = 0, threads = 1, outPath = null;
for (let i = 0; i < args.length; i++) {
    const a = args[i], next = () => (i + 1 < args.length ? args[++i] : usage(`${a} needs a value`));
    if (a === "--tokens") tokens = parseTokens(next(), "--tokens");
    else if (a === "--tokens-file") { const f = next(); tokens = parseTokens(readFileSync(f, "utf8"), f); }
    else if (a === "--top-k") topK = Number(next());
    else if (a === "--threads") threads = Number(next());
    else if (a === "-o" || a === "--output") outPath = next();
    else if (a === "-h" || a === "--help") usage();
    else if (a.startsWith("-")) usage(`unknown option ${a}`);
    else if (modelPath === null) modelPath = a;
    else usage(`unexpected argument ${a}`);
}
if (!modelPath) usage("missing MODEL.gguf");
if (!tokens) usage("missing --tokens or --tokens-file");
if (!Number.isInteger(topK) || topK < 0) usage("--top-k wants an integer >= 0");
if (!Number.isInteger(threads) || threads < 1) usage("--threads wants an integer >= 1");

const version = JSON.parse(readFileSync(fileURLToPath(
    new URL("./node_modules/node-llama-cpp/package.json", import.meta.url)), "utf8")).version;

let llama, model, context;
try {
    llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
    model = await llama.loadModel({modelPath, gpuLayers: 0});
    context = await model.createContext({
        contextSize: Math.max(tokens.length, 32), batchSize: Math.max(tokens.length, 32),
        threads, sequences: 1
    });
    const seq = context.getSequence();
    const input = tokens.map((t) => [t, {generateNext: {logits: true}}]);
    const res = await seq.controlledEvaluate(input);
    const positions = [];
    let vocab = 0;
    for (let p = 0; p < res.length; p++) {
        const map = res[p]?.next?.logits;
        if (!map)
            throw new Error(`llama.cpp returned no logits for position ${p}`);
        let n = 0;
        for (const id of map.keys()) n = Math.max(n, id + 1);
        vocab = Math.max(vocab, n);
        const logits = new Float64Array(n);
        for (const [id, v] of map) logits[id] = v;
        let greedy = 0;
        for (let i = 1; i < n; i++) if (logits[i] > logits[greedy]) greedy = i;
        if (topK > 0) {
            let sum = 0;
            for (let i = 0; i < n; i++) sum += Math.exp(logits[i] - logits[greedy]);
            const lse = logits[greedy] + Math.log(sum);
            const top = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, topK)
                .map(([id, v]) => [id, v - lse]);
            positions.push({greedy, top});
        } else {
            positions.push({greedy, logits: Array.from(logits, (x) => Math.fround(x))});
        }
    }
    const out = JSON.stringify({
        engine: `llama.cpp via node-llama-cpp ${version}`,
        llama_cpp: llama.llamaCppRelease ?? null,
        model: modelPath, n_vocab: vocab, tokens, positions
    });
    if (outPath) writeFileSync(outPath, out + "\n");
    else process.stdout.write(out + "\n");
} catch (e) {
    process.stderr.write(`logits.mjs: ${modelPath}: ${e?.message ?? e}\n`);
    process.exitCode = 1;
} finally {
    await context?.dispose();
    await model?.dispose();
    await llama?.dispose();
}
