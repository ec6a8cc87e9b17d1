/*
 * tests/fuzz/fuzz_vocab_json.c — libFuzzer harness for the tokenizer.json converter
 * (eng_vocab_from_hf, `joulebench model vocab-from-hf`).
 *
 * Every input is written as tokenizer.json into a private temporary directory and converted;
 * when that succeeds the vocabulary written is loaded and encodes and decodes a short text, so
 * ASan sees the converter's JSON handling and the BPE loader on what it produced. Seeds are in
 * tests/fuzz/corpus-json.
 */
#include "engine/engine.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;
static char dir[64], in_path[128], out_path[128];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gguf_file *f = NULL;
	struct eng_vocab *v = NULL;
	char err[1024];
	FILE *fp;

	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/fuzz-vocab-json-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(in_path, sizeof in_path, "%s/tokenizer.json", dir);
		snprintf(out_path, sizeof out_path, "%s/vocab.gguf", dir);
	}
	fp = fopen(in_path, "wb");
	if (!fp)
		abort();
	if (size && fwrite(data, 1, size, fp) != size)
		abort();
	fclose(fp);
	if (eng_vocab_from_hf(in_path, NULL, out_path, err, sizeof err) == 0) {
		if (gguf_open(out_path, &f, err, sizeof err) == 0 &&
		    eng_vocab_from_gguf(f, &v, err, sizeof err) == 0 && v) {
			int32_t ids[64];
			char piece[64];
			int n = eng_vocab_encode(v, "Hello w\xc3\xb6rld 12345 I'm\n\n  x<|bos|>",
			                         true, ids, 64, err, sizeof err);

			for (int i = 1; i < n && i < 64; i++)
				sink += (uint64_t)eng_vocab_decode(v, ids[i - 1], ids[i], piece,
				                                   sizeof piece);
		}
		eng_vocab_free(v);
		gguf_close(f);
		unlink(out_path);
	}
	sink += (uint64_t)strlen(err);
	return 0;
}
