#!/usr/bin/env node
// scripts/oracle/kquant-check.mjs — checks joulebench's teacher-forced logits on a GGUF file
// against llama.cpp's (the prebuilt library of node-llama-cpp in ./node_modules) on the same file
// and the same token ids: the cosine similarity of the two logit vectors at every position.
//
//   node scripts/oracle/kquant-check.mjs MODEL.gguf JB_LOGITS.f32 [MODEL2.gguf JB_LOGITS2.f32 ...]
//        --tokens "1 5 9" [--min 0.995]
//
// JB_LOGITS.f32 is what `joulebench logits -m MODEL.gguf --tokens FILE -o JB_LOGITS.f32` writes
// (float32, position-major). Several pairs share one start of llama.cpp. Prints one line per
// file: the smallest and the mean cosine, the position of the smallest, and how many positions
// pick the same greedy token. Exit status 0 when every cosine of every file is at least --min, 1
// when one is below or llama.cpp cannot run a file, 2 for a usage error.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {readFileSync} from "node:fs";

function usage(msg) {
    if (msg) process.stderr.write(`kquant-check.mjs: ${msg}\n`);
    process.stderr.write("usage: node scripts/oracle/kquant-check.mjs MODEL.gguf JB_LOGITS.f32 [MODEL.gguf JB_LOGITS.f32 ...] " +
        "--tokens \"ID ...\" [--min C]\n");
    process.exit(2);
}

const args = process.argv.slice(2);
const files = [];
let tokens = null, minCos = 0.995;
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--tokens") tokens = (args[++i] ?? "").trim().split(/\s+/).filter(Boolean).map(Number);
    else if (a === "--min") minCos = Number(args[++i]);
    else if (a.startsWith("-")) usage(`unknown option ${a}`);
    else files.push(a);
}
if (files.length === 0 || files.length % 2) usage("needs MODEL.gguf JB_LOGITS.f32 pairs");
if (!tokens || tokens.length === 0 || tokens.some((t) => !Number.isInteger(t) || t < 0)) usage("bad --tokens");

// joulebench's logits of one file and their vocabulary size (the floats per position).
function readLogits(jbPath) {
    const raw = readFileSync(jbPath);
    const jb = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    if (jb.length % tokens.length) usage(`${jbPath}: ${jb.length} floats is not a multiple of ${tokens.length} positions`);
    return [jb, jb.length / tokens.length];
}

// Runs one file through llama.cpp and prints its line; true when every cosine is at least --min.
async function check(llama, modelPath, jbPath) {
    const [jb, nVocab] = readLogits(jbPath);
    let model, context;
    try {
        model = await llama.loadModel({modelPath, gpuLayers: 0});
        context = await model.createContext({
            contextSize: Math.max(tokens.length, 32), batchSize: Math.max(tokens.length, 32), threads: 1, sequences: 1
        });
        const res = await context.getSequence().controlledEvaluate(tokens.map((t) => [t, {generateNext: {logits: true}}]));
        let worst = 2, worstPos = -1, sum = 0, sameGreedy = 0;
        for (let p = 0; p < tokens.length; p++) {
            const map = res[p]?.next?.logits;
            if (!map) throw new Error(`llama.cpp returned no logits for position ${p}`);
            const ref = new Float64Array(nVocab);
            for (const [id, v] of map) if (id < nVocab) ref[id] = v;
            let dot = 0, na = 0, nb = 0, ga = 0, gb = 0;
            for (let i = 0; i < nVocab; i++) {
                const a = jb[p * nVocab + i], b = ref[i];
                dot += a * b; na += a * a; nb += b * b;
                if (a > jb[p * nVocab + ga]) ga = i;
                if (b > ref[gb]) gb = i;
            }
            const cos = dot / Math.sqrt(na * nb);
            sum += cos;
            if (ga === gb) sameGreedy++;
            if (!(cos >= worst)) { worst = cos; worstPos = p; }
        }
        const ok = worst >= minCos;
        process.stdout.write(`${modelPath}: positions ${tokens.length} cosine min ${worst.toFixed(6)} (position ${worstPos}) ` +
            `mean ${(sum / tokens.length).toFixed(6)} same-greedy ${sameGreedy}/${tokens.length} ${ok ? "ok" : "BELOW " + minCos}\n`);
        return ok;
    } catch (e) {
        process.stderr.write(`kquant-check.mjs: ${modelPath}: ${e?.message ?? e}\n`);
        return false;
    } finally {
        await context?.dispose();
        await model?.dispose();
    }
}

let llama;
try {
    llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
    let ok = true;
    for (let i = 0; i < files.length; i += 2)
        if (!(await check(llama, files[i], files[i + 1]))) ok = false;
    process.exitCode = ok ? 0 : 1;
} catch (e) {
    process.stderr.write(`kquant-check.mjs: ${e?.message ?? e}\n`);
    process.exitCode = 1;
} finally {
    await llama?.dispose();
}
