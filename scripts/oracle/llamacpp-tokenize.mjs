// Token ids from llama.cpp itself (node-llama-cpp's prebuilt library, pinned in package.json) for
// a vocabulary GGUF, as a second reference next to bpe-oracle.mjs: it shows that the files
// `joulebench model vocab-from-hf` writes load in llama.cpp and tokenize the same there.
//
//   node scripts/oracle/llamacpp-tokenize.mjs [--no-parse-special] VOCAB.gguf [CORPUS.jsonl] > IDS.txt
//
// One line per text of CORPUS (default tests/fixtures/tokenizer/corpus.jsonl): the ids, space
// separated, without BOS/EOS, special-token text matched as the special token (with
// --no-parse-special kept as text, as llama-tokenize --no-parse-special does).
import { readFileSync } from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const args = process.argv.slice(2);
const special = args[0] !== "--no-parse-special";
const [vocab, corpus = "tests/fixtures/tokenizer/corpus.jsonl"] = special ? args : args.slice(1);
const texts = readFileSync(corpus, "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: vocab, vocabOnly: true });
process.stdout.write(texts.map((t) => Array.from(model.tokenize(t, special)).join(" ")).join("\n") + "\n");
