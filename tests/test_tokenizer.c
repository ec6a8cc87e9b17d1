/*
 * tests/test_tokenizer.c — the SentencePiece BPE tokenizer against the Llama 2 vocabulary
 * (../shared/models/ggml-vocab-llama-spm.gguf; skipped when absent), byte fallback, leading
 * spaces, round trips, the placeholder vocabulary and unsupported tokenizer models.
 */
#include "helpers/testutil.h"

#include "engine/engine.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct eng_model *spm;

static int setup(void **state)
{
	const char *path = tu_shared_model("ggml-vocab-llama-spm.gguf");
	struct eng_open_opts o = { .vocab_only = true };
	char err[1024];

	(void)state;
	if (path && eng_model_open(path, &o, &spm, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	eng_model_close(spm);
	return 0;
}

#define NEED_SPM()                                                                                 \
	do {                                                                                       \
		if (!spm)                                                                          \
			TU_SKIP("../shared/models/ggml-vocab-llama-spm.gguf is absent");           \
	} while (0)

static void expect_ids(const struct eng_model *m, const char *text, bool bos, const int32_t *want, int n_want)
{
	int32_t got[256];
	char err[512];
	int n = eng_tokenize(m, text, bos, got, 256, err, sizeof err);

	if (n != n_want || memcmp(got, want, (size_t)n * sizeof *got)) {
		fprintf(stderr, "'%s': expected", text);
		for (int i = 0; i < n_want; i++)
			fprintf(stderr, " %d", want[i]);
		fprintf(stderr, ", got");
		for (int i = 0; i < n && i < 256; i++)
			fprintf(stderr, " %d", got[i]);
		fprintf(stderr, " (n=%d %s)\n", n, n < 0 ? err : "");
		fail();
	}
}

#define IDS(...) (const int32_t[]){ __VA_ARGS__ }, (int)(sizeof((const int32_t[]){ __VA_ARGS__ }) / sizeof(int32_t))

/*
 * Expected ids: the first four are what llama.cpp's tokenizer gives for this vocabulary (its
 * test-tokenizer-0 cases for the Llama SPM vocabulary). The reasons, from the vocabulary:
 *   "▁Hello" is 15043 and "▁world" 3186, both reachable by merges of higher-scoring pairs.
 *   " Hello" becomes "▁▁Hello"; "▁▁" (259) has score -1e9, so "▁H" (-120) merges first and the
 *   lone leading "▁" stays 29871. "  Hello" is "▁▁▁Hello": after "▁Hello" forms, the two
 *   leading "▁" can only merge with each other, into 259.
 *   U+1F999 is not in the vocabulary: its UTF-8 bytes F0 9F A6 99 fall back to <0xNN> tokens,
 *   whose ids are 3 + the byte (243 162 169 156); "\n" is <0x0A> = 13.
 */
static void test_known_encodings(void **state)
{
	(void)state;
	NEED_SPM();
	expect_ids(spm, "Hello world", true, IDS(1, 15043, 3186));
	expect_ids(spm, " Hello", true, IDS(1, 29871, 15043));
	expect_ids(spm, "  Hello", true, IDS(1, 259, 15043));
	expect_ids(spm, " this is \xf0\x9f\xa6\x99.cpp", true,
		   IDS(1, 29871, 445, 338, 29871, 243, 162, 169, 156, 29889, 8223));
	expect_ids(spm, "Hello world", false, IDS(15043, 3186));
	expect_ids(spm, "\xf0\x9f\xa6\x99", false, IDS(29871, 243, 162, 169, 156));
	expect_ids(spm, "\n", false, IDS(29871, 13));
	expect_ids(spm, "", true, IDS(1));
	assert_int_equal(eng_tokenize(spm, "", false, NULL, 0, (char[64]){ 0 }, 64), 0);
	assert_int_equal(eng_token_bos(spm), 1);
	assert_int_equal(eng_token_eos(spm), 2);
	assert_true(eng_has_vocab(spm));
}

/* Control-token text becomes the token (llama.cpp's parse_special); every raw fragment gets the
 * space prefix, so " world" after </s> is "▁▁world" = 29871 3186. */
static void test_special_tokens(void **state)
{
	int32_t ids[32];
	char err[128];
	int n;

	(void)state;
	NEED_SPM();
	expect_ids(spm, "<s>Hello", true, IDS(1, 1, 15043));
	expect_ids(spm, "Hello</s> world", true, IDS(1, 15043, 2, 29871, 3186));
	expect_ids(spm, "</s>", false, IDS(2));
	/* kept as text: no id 1 or 2 after the BOS */
	n = eng_tokenize_ex(spm, "<s>Hello</s>", true, false, ids, 32, err, sizeof err);
	assert_true(n > 4);
	for (int i = 1; i < n; i++)
		assert_true(ids[i] > 2);
}

static void test_buffer_too_small(void **state)
{
	int32_t ids[2] = { -7, -7 };
	char err[128];

	(void)state;
	NEED_SPM();
	/* Returns the count needed and writes only what fits. */
	assert_int_equal(eng_tokenize(spm, "Hello world", true, ids, 1, err, sizeof err), 3);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], -7);
}

/* Decoding the tokens of a text after BOS gives the text back, byte for byte. */
static void round_trip(const struct eng_model *m, const char *text)
{
	int32_t ids[512];
	char err[256], out[4096] = "", piece[256];
	size_t len = 0;
	int n = eng_tokenize(m, text, true, ids, 512, err, sizeof err);

	assert_true(n > 0 && n <= 512);
	for (int i = 1; i < n; i++) {
		int k = eng_token_to_piece(m, ids[i - 1], ids[i], piece, sizeof piece);

		assert_true(k >= 0 && len + (size_t)k < sizeof out);
		memcpy(out + len, piece, (size_t)k);
		len += (size_t)k;
	}
	out[len] = '\0';
	if (strcmp(out, text)) {
		fprintf(stderr, "round trip of '%s' gave '%s'\n", text, out);
		fail();
	}
}

static const char *const texts[] = {
	"Hello world",
	" Hello",
	"   leading and trailing   ",
	"Once upon a time, there was a little girl named Lily.",
	"tabs\tand\nnewlines\r\n",
	"\xd0\xbd\xd0\xb5\xd1\x89\xd0\xbe \xd0\xbd\xd0\xb0 \xd0\x91\xd1\x8a\xd0\xbb\xd0\xb3\xd0\xb0\xd1\x80\xd1\x81\xd0\xba\xd0\xb8",
	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87\xe7\xab\xa0",
	"emoji \xf0\x9f\xa6\x99\xf0\x9f\x98\x80 and symbols \xe2\x82\xac\xc2\xa9",
	"w048 7tuijk dsdfhu",
	"x",
	"\x01\x7f control bytes",
};

static void test_round_trips(void **state)
{
	(void)state;
	NEED_SPM();
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		round_trip(spm, texts[i]);
}

static void test_pieces(void **state)
{
	char buf[64];

	(void)state;
	NEED_SPM();
	/* A leading space is dropped right after BOS only. */
	assert_int_equal(eng_token_to_piece(spm, 1, 15043, buf, sizeof buf), 5);
	assert_string_equal(buf, "Hello");
	assert_int_equal(eng_token_to_piece(spm, 15043, 3186, buf, sizeof buf), 6);
	assert_string_equal(buf, " world");
	/* byte token <0x0A> is a newline; control tokens print nothing; out of range is empty */
	assert_int_equal(eng_token_to_piece(spm, 5, 13, buf, sizeof buf), 1);
	assert_string_equal(buf, "\n");
	assert_int_equal(eng_token_to_piece(spm, 5, 2, buf, sizeof buf), 0);
	assert_int_equal(eng_token_to_piece(spm, 5, 32000, buf, sizeof buf), 0);
	assert_int_equal(eng_token_to_piece(spm, 5, -1, buf, sizeof buf), 0);
	/* truncated to the buffer, still NUL-terminated */
	assert_int_equal(eng_token_to_piece(spm, 5, 3186, buf, 4), 3);
	assert_string_equal(buf, " wo");
}

static void test_placeholder(void **state)
{
	struct eng_vocab *v = eng_vocab_placeholder(1000);
	size_t len;
	int32_t ids[64];
	char err[128];

	(void)state;
	assert_non_null(v);
	assert_int_equal(eng_vocab_size(v), 1000);
	assert_string_equal(eng_vocab_piece(v, 0, &len), "<unk>");
	assert_string_equal(eng_vocab_piece(v, 1, &len), "<s>");
	assert_string_equal(eng_vocab_piece(v, 3, &len), "<0x00>");
	assert_string_equal(eng_vocab_piece(v, 258, &len), "<0xFF>");
	assert_string_equal(eng_vocab_piece(v, 259, &len), "\xe2\x96\x81" "a");
	assert_string_equal(eng_vocab_piece(v, 259 + 26, &len), "\xe2\x96\x81" "aa");
	/* "▁a" is a piece; "!" is not, so it falls back to its byte <0x21> = 3 + 0x21 */
	assert_int_equal(eng_vocab_encode(v, "a!", true, ids, 64, err, sizeof err), 3);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 259);
	assert_int_equal(ids[2], 3 + '!');
	/* every piece is unique */
	for (int i = 0; i < 1000; i++) {
		const char *p = eng_vocab_piece(v, i, &len);
		int32_t one[4];

		if (i >= 259) {
			char text[16];

			snprintf(text, sizeof text, " %s", p + 3);
			assert_int_equal(eng_vocab_encode(v, text + 1, false, one, 4, err, sizeof err), 1);
			assert_int_equal(one[0], i);
		}
	}
	eng_vocab_free(v);
}

static void test_unsupported_model(void **state)
{
	char *dir = tu_mkdtemp(), path[600], err[1024];
	struct gguf_writer *w = gguf_writer_new();
	const char *toks[] = { "a", "b" };
	struct eng_open_opts o = { .vocab_only = true };
	struct eng_model *m = NULL;
	int32_t ids[4];

	(void)state;
	snprintf(path, sizeof path, "%s/bert.gguf", dir);
	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_str(w, "tokenizer.ggml.model", "bert");
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 2);
	assert_int_equal(gguf_writer_open(w, path), 0);
	assert_int_equal(gguf_writer_finish(w), 0);
	gguf_writer_free(w);
	assert_int_equal(eng_model_open(path, &o, &m, err, sizeof err), 0);
	assert_false(eng_has_vocab(m));
	assert_true(eng_tokenize(m, "hi", true, ids, 4, err, sizeof err) < 0);
	assert_non_null(strstr(err, "tokenizer model 'bert' is not supported"));
	eng_model_close(m);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_encodings), cmocka_unit_test(test_special_tokens),
		cmocka_unit_test(test_buffer_too_small),
		cmocka_unit_test(test_round_trips),     cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_placeholder),     cmocka_unit_test(test_unsupported_model),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
