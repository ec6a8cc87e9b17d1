/*
 * tests/test_llama2c.c — import of a llama2.c checkpoint (../shared/models/stories260K.bin with
 * tok512.bin; skipped when absent) into GGUF: configuration, weights as stored, tokenizer, and
 * greedy generation equal to what llama2.c's run.c prints.
 */
#include "helpers/testutil.h"

#include "engine/engine.h"
#include "engine/model.h"
#include "engine/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;
static char gguf_path[600];
static const char *ckpt, *tok;

static int setup(void **state)
{
	char err[1024];
	const char *c = tu_shared_model("stories260K.bin");
	static char ckpt_buf[4096];

	(void)state;
	dir = tu_mkdtemp();
	snprintf(gguf_path, sizeof gguf_path, "%s/stories260K.gguf", dir);
	if (!c)
		return 0;
	snprintf(ckpt_buf, sizeof ckpt_buf, "%s", c);
	ckpt = ckpt_buf;
	tok = tu_shared_model("tok512.bin");
	if (!tok) {
		ckpt = NULL;
		return 0;
	}
	if (eng_llama2c_import(ckpt, tok, gguf_path, err, sizeof err)) {
		fprintf(stderr, "import failed: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	free(dir);
	return 0;
}

#define NEED_MODEL()                                                                               \
	do {                                                                                       \
		if (!ckpt)                                                                         \
			TU_SKIP("../shared/models/stories260K.bin or tok512.bin is absent");       \
	} while (0)

static void test_config_and_weights(void **state)
{
	struct eng_model *m = NULL;
	const struct eng_config *c;
	struct eng_model_desc d;
	char err[1024];
	size_t len;
	float *file = (float *)tu_read_file(ckpt, &len);

	(void)state;
	NEED_MODEL();
	assert_int_equal(eng_model_open(gguf_path, NULL, &m, err, sizeof err), 0);
	c = eng_model_config(m);
	assert_int_equal(c->dim, 64);
	assert_int_equal(c->hidden_dim, 172);
	assert_int_equal(c->n_layers, 5);
	assert_int_equal(c->n_heads, 8);
	assert_int_equal(c->n_kv_heads, 4);
	assert_int_equal(c->vocab_size, 512);
	assert_int_equal(c->seq_len, 512);
	assert_int_equal(c->head_dim, 8);
	assert_int_equal(c->rope_dim, 8);
	assert_true(c->rope_theta == 10000.0f);
	assert_true(c->norm_eps == 1e-5f);
	/* shared classifier: output is the embedding */
	assert_ptr_equal(m->w.output.data, m->w.token_embd.data);
	/* weights as stored: the embedding starts after the 28-byte header; wq of layer 0 follows
	 * the embedding (512 x 64) and the 5 attention norms (5 x 64) */
	assert_memory_equal(m->w.token_embd.data, (const char *)file + 28, 512 * 64 * 4);
	assert_memory_equal(m->w.layers[0].attn_norm, (const char *)file + 28 + 4 * (512 * 64), 64 * 4);
	assert_memory_equal(m->w.layers[0].wq.data, (const char *)file + 28 + 4 * (512 * 64 + 5 * 64), 64 * 64 * 4);
	/* wk of layer 1: after all 5 wq (64x64) and layer 0's wk (32x64) */
	assert_memory_equal(m->w.layers[1].wk.data,
			    (const char *)file + 28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 + 32 * 64), 32 * 64 * 4);
	assert_int_equal(m->w.layers[1].wk.rows, 32);
	assert_int_equal(m->w.layers[4].w_down.rows, 64);
	assert_int_equal(m->w.layers[4].w_down.cols, 172);
	eng_model_describe(m, &d);
	assert_string_equal(d.name, "stories260K");
	assert_int_equal(d.wtype, ENG_TYPE_F32);
	/* llama2.c counts 260K parameters: 512*64 + 64 + 5 * (2*64 + 64*64*2 + 2*32*64 + 3*64*172) */
	assert_int_equal(d.n_params, 512 * 64 + 64 + 5 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 172));
	eng_model_close(m);
	free(file);
}

/* " Once", " upon", " a", " time" are single tok512 pieces, reached by merging pairs in score
 * order (as llama2.c's bpe_encode does; checked against a separate implementation of run.c's
 * encoder). */
static void test_tokenizer(void **state)
{
	struct eng_model *m = NULL;
	struct eng_vocab *v = NULL;
	int32_t ids[16];
	char err[1024], piece[32];

	(void)state;
	NEED_MODEL();
	assert_int_equal(eng_model_open(gguf_path, NULL, &m, err, sizeof err), 0);
	assert_int_equal(eng_tokenize(m, "Once upon a time", true, ids, 16, err, sizeof err), 5);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 403);
	assert_int_equal(ids[2], 407);
	assert_int_equal(ids[3], 261);
	assert_int_equal(ids[4], 378);
	eng_token_to_piece(m, 1, 403, piece, sizeof piece);
	assert_string_equal(piece, "Once");
	eng_token_to_piece(m, 403, 407, piece, sizeof piece);
	assert_string_equal(piece, " upon");
	/* "Hello!": " He" "ll" "o" "!" */
	assert_int_equal(eng_tokenize(m, "Hello!", false, ids, 16, err, sizeof err), 4);
	assert_int_equal(ids[0], 346);
	assert_int_equal(ids[3], 443);
	eng_model_close(m);

	/* the tokenizer.bin read directly agrees */
	assert_int_equal(eng_vocab_from_llama2c(tok, 512, &v, err, sizeof err), 0);
	assert_int_equal(eng_vocab_encode(v, "Once upon a time", true, ids, 16, err, sizeof err), 5);
	assert_int_equal(ids[4], 378);
	eng_vocab_free(v);
	assert_int_not_equal(eng_vocab_from_llama2c(tok, 600, &v, err, sizeof err), 0);
	assert_non_null(strstr(err, "tok512.bin: truncated"));
}

/* llama2.c's run.c with -t 0 -n 256: 256 positions, prompt tokens forced, greedy after. */
static void test_greedy_matches_llama2c(void **state)
{
	const char *ref_path = tu_shared_model("stories260K-greedy.txt");
	struct eng_model *m = NULL;
	struct eng_ctx *c;
	struct eng_ctx_opts co = { .n_threads = 1 };
	char err[1024], *ref, out[8192] = "", piece[64];
	int32_t prompt[16], token, next;
	float logits[512];
	size_t len = 0;
	int n;

	(void)state;
	NEED_MODEL();
	if (!ref_path)
		TU_SKIP("../shared/models/stories260K-greedy.txt is absent");
	ref = tu_read_file(ref_path, NULL);
	assert_int_equal(eng_model_open(gguf_path, NULL, &m, err, sizeof err), 0);
	c = eng_ctx_new(m, &co, err, sizeof err);
	assert_non_null(c);
	n = eng_tokenize(m, "Once upon a time", true, prompt, 16, err, sizeof err);
	token = prompt[0];
	for (int pos = 0; pos < 256; pos++) {
		assert_int_equal(eng_decode(c, token, logits), 0);
		if (pos < n - 1) {
			next = prompt[pos + 1];
		} else {
			next = 0;
			for (int i = 1; i < 512; i++)
				if (logits[i] > logits[next])
					next = i;
		}
		if (next == 1)
			break;
		{
			int k = eng_token_to_piece(m, token, next, piece, sizeof piece);

			assert_true(len + (size_t)k < sizeof out);
			memcpy(out + len, piece, (size_t)k);
			len += (size_t)k;
		}
		token = next;
	}
	out[len] = '\0';
	if (strncmp(out, ref, len) || strlen(ref) != len + 1) {
		fprintf(stderr, "got:\n%s\nexpected:\n%s\n", out, ref);
		fail();
	}
	free(ref);
	eng_ctx_free(c);
	eng_model_close(m);
}

static void test_bad_inputs(void **state)
{
	char path[700], err[1024];
	int32_t hdr[7] = { 64, 172, 5, 8, 4, 512, 512 };

	(void)state;
	assert_int_not_equal(eng_llama2c_import("/nonexistent.bin", "/nonexistent.tok", gguf_path, err, sizeof err), 0);
	assert_non_null(strstr(err, "/nonexistent.bin"));
	snprintf(path, sizeof path, "%s/short.bin", dir);
	tu_write_file(path, hdr, sizeof hdr);
	assert_int_equal(eng_llama2c_import(path, "/nonexistent.tok", gguf_path, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "truncated"));
	tu_write_file(path, hdr, 10);
	assert_int_equal(eng_llama2c_import(path, "/nonexistent.tok", gguf_path, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "truncated at byte 10"));
	hdr[3] = 7; /* 7 heads do not divide 64 */
	tu_write_file(path, hdr, sizeof hdr);
	assert_int_equal(eng_llama2c_import(path, "/nonexistent.tok", gguf_path, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "head_count 7"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_and_weights),
		cmocka_unit_test(test_tokenizer),
		cmocka_unit_test(test_greedy_matches_llama2c),
		cmocka_unit_test(test_bad_inputs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
