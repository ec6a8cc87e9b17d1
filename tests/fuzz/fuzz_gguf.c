/*
 * tests/fuzz/fuzz_gguf.c — libFuzzer harness for the GGUF reader and the vocabulary loader.
 *
 * Every input is parsed as a GGUF file; when it parses, every metadata value, string array and
 * tensor byte range is read back, and a vocabulary found in it encodes and decodes a short text,
 * so ASan sees any access the reader's bounds checks let through. `make fuzz` builds it with
 * clang -fsanitize=fuzzer,address,undefined and runs it on the seed corpus in tests/fuzz/corpus.
 */
#include "engine/gguf.h"
#include "engine/tokenizer.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch_kv(const struct gguf_kv *kv)
{
	uint64_t pos = 0;

	sink += kv->key.len ? (uint8_t)kv->key.p[kv->key.len - 1] : 0;
	if (kv->type != GGUF_VT_ARRAY) {
		sink += kv->val_bytes ? kv->val[kv->val_bytes - 1] : 0;
		return;
	}
	for (uint64_t i = 0; i < kv->arr_n; i++) {
		if (kv->arr_type == GGUF_VT_STRING) {
			struct gguf_str s = gguf_arr_next_str(kv, &pos);

			sink += s.len ? (uint8_t)s.p[s.len - 1] : 0;
		} else {
			double d = gguf_arr_float(kv, i);
			uint64_t bits;

			memcpy(&bits, &d, sizeof bits);
			sink += (uint64_t)gguf_arr_int(kv, i) + bits;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gguf_file *f = NULL;
	struct eng_vocab *v = NULL;
	char err[512];

	if (gguf_parse(data, size, "fuzz.gguf", &f, err, sizeof err))
		return 0;
	for (uint64_t i = 0; i < f->n_kv; i++)
		touch_kv(&f->kv[i]);
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];

		if (t->nbytes)
			sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->nbytes - 1];
	}
	if (eng_vocab_from_gguf(f, &v, err, sizeof err) == 0 && v) {
		int32_t ids[64];
		char piece[64];
		int n = eng_vocab_encode(v, "Hello w\xc3\xb6rld \xf0\x9f\xa6\x99! 12345 I'm\n\n  x", true, ids, 64, err,
					 sizeof err);

		for (int i = 1; i < n && i < 64; i++)
			sink += (uint64_t)eng_vocab_decode(v, ids[i - 1], ids[i], piece, sizeof piece);
		eng_vocab_free(v);
	}
	gguf_close(f);
	return 0;
}
