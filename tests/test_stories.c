/*
 * tests/test_stories.c — end to end on a real trained model: llama2.c's stories260K checkpoint
 * imported to GGUF, run greedy for 256 positions from "Once upon a time", must print exactly what
 * llama2.c's reference `run` prints (../shared/models/stories260K-greedy.txt). Then the same
 * model through the `generate` and `logits` commands. Skips when ../shared/models is absent.
 */
#include "helpers/testutil.h"

#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 256

struct fixture {
	char *dir;
	char gguf[1024];
	struct eng_model *m;
};

/* Imports the checkpoint into a temporary GGUF and opens it; skips when the files are absent. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char ckpt[1024], tok[1024], err[512] = "";
	const char *p;

	*state = f;
	if (!f)
		return -1;
	p = tu_shared_model("stories260K.bin");
	if (!p)
		return 0;
	snprintf(ckpt, sizeof ckpt, "%s", p);
	p = tu_shared_model("tok512.bin");
	if (!p)
		return 0;
	snprintf(tok, sizeof tok, "%s", p); /* p is a static buffer the next call overwrites */
	if (!tu_shared_model("stories260K-greedy.txt"))
		return 0;
	f->dir = tu_mkdtemp();
	if (!f->dir)
		return -1;
	snprintf(f->gguf, sizeof f->gguf, "%s/stories260K.gguf", f->dir);
	if (eng_llama2c_import(ckpt, tok, f->gguf, err, sizeof err)) {
		fprintf(stderr, "import failed: %s\n", err);
		return -1;
	}
	if (eng_model_open(f->gguf, NULL, &f->m, err, sizeof err)) {
		fprintf(stderr, "open %s failed: %s\n", f->gguf, err);
		f->m = NULL;
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	if (f->m)
		eng_model_close(f->m);
	if (f->dir) {
		tu_rmtree(f->dir);
		free(f->dir);
	}
	free(f);
	return 0;
}

/* Appends text, growing *buf; aborts the test on out of memory. */
static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*cap + n) * 2 + 256;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Prints the first difference of two texts. */
static void show_difference(const char *got, size_t ng, const char *want, size_t nw)
{
	size_t i = 0, line = 1;

	while (i < ng && i < nw && got[i] == want[i]) {
		line += got[i] == '\n';
		i++;
	}
	fprintf(stderr, "texts differ at byte %zu (line %zu); lengths %zu (got) and %zu (want)\n", i,
		line, ng, nw);
	fprintf(stderr, "  want: \"%.60s\"\n  got:  \"%.60s\"\n", want + (i > 20 ? i - 20 : 0),
		got + (i > 20 ? i - 20 : 0));
}

/*
 * llama2.c's generate loop, greedy: STEPS forward passes in all (the prompt's as one batch here),
 * printing each next token as it is fed (prompt tokens, then argmax picks), stopping at BOS.
 */
static void test_greedy_matches_llama2c(void **state)
{
	struct fixture *f = *state;
	struct eng_ctx_opts co = { .n_threads = 2, .n_ctx = 0, .kv_type = ENG_TYPE_F32 };
	struct eng_sampler_opts so = { .temp = 0.0f, .top_k = 0, .top_p = 1.0f, .seed = 0 };
	struct eng_ctx *c;
	struct eng_sampler *s;
	char err[512] = "", piece[256], *want, *got = NULL;
	size_t nwant = 0, ngot = 0, cap = 0;
	int32_t prompt[64], token, bos;
	float *logits;
	int n;

	if (!f->m)
		TU_SKIP("../shared/models/stories260K.bin, tok512.bin or stories260K-greedy.txt absent");
	want = tu_read_file(tu_shared_model("stories260K-greedy.txt"), &nwant);
	assert_non_null(want);
	bos = eng_token_bos(f->m);
	assert_true(bos >= 0);
	n = eng_tokenize(f->m, "Once upon a time", true, prompt, 64, err, sizeof err);
	assert_true(n > 1 && n <= 64);
	assert_int_equal(prompt[0], bos);

	c = eng_ctx_new(f->m, &co, err, sizeof err);
	assert_non_null(c);
	assert_true(eng_ctx_len(c) >= STEPS);
	s = eng_sampler_new(&so, eng_model_config(f->m)->vocab_size);
	assert_non_null(s);
	logits = malloc(eng_model_config(f->m)->vocab_size * sizeof *logits);
	assert_non_null(logits);

	for (int i = 1; i < n; i++) {
		int k = eng_token_to_piece(f->m, prompt[i - 1], prompt[i], piece, sizeof piece);
		append(&got, &ngot, &cap, piece, (size_t)k);
	}
	assert_int_equal(eng_prefill(c, prompt, n, logits, NULL), 0);
	token = prompt[n - 1];
	for (;;) {
		int32_t next = eng_sample(s, logits);
		int k;

		if (next == bos)
			break;
		k = eng_token_to_piece(f->m, token, next, piece, sizeof piece);
		append(&got, &ngot, &cap, piece, (size_t)k);
		token = next;
		if (eng_ctx_pos(c) == STEPS)
			break;
		assert_int_equal(eng_decode(c, next, logits), 0);
	}
	append(&got, &ngot, &cap, "\n", 1);
	if (ngot != nwant || memcmp(got, want, nwant)) {
		show_difference(got, ngot, want, nwant);
		fail();
	}
	free(got);
	free(want);
	free(logits);
	eng_sampler_free(s);
	eng_ctx_free(c);
}

/* The generate command prints the same story as it goes (the 4 prompt tokens after BOS, then
 * 256 - 5 + 1 = 252 generated: what llama2.c prints for 256 positions), timings on stderr. */
static void test_generate_command(void **state)
{
	struct fixture *f = *state;
	char cmd[2048], *out = NULL, *err = NULL;
	char *want;
	size_t nwant = 0;
	int rc;

	if (!f->m)
		TU_SKIP("../shared/models/stories260K.bin, tok512.bin or stories260K-greedy.txt absent");
	want = tu_read_file(tu_shared_model("stories260K-greedy.txt"), &nwant);
	assert_non_null(want);
	snprintf(cmd, sizeof cmd,
		 "\"$JB\" generate -m '%s' -p 'Once upon a time' -n 252 --temp 0 -t 2", f->gguf);
	rc = tu_run(cmd, 60, &out, &err);
	if (rc != 0 || strcmp(out, want) || !strstr(err, "prefill: 5 tokens") ||
	    !strstr(err, "decode:  252 tokens") || !strstr(err, "load:")) {
		if (rc == 0)
			show_difference(out, strlen(out), want, nwant);
		fprintf(stderr, "%s\nexit %d\nstdout: %s\nstderr: %s\n", cmd, rc, out, err);
		fail();
	}
	free(out);
	free(err);

	/* --json: one object with the measurements and the text */
	snprintf(cmd, sizeof cmd,
		 "\"$JB\" generate -m '%s' -p 'Once upon a time' -n 8 --temp 0 -t 1 --json", f->gguf);
	rc = tu_run(cmd, 60, &out, &err);
	if (rc != 0 || out[0] != '{' || !strstr(out, "\"decode_tok_s\":") ||
	    !strstr(out, "\"prefill_tok_s\":") || !strstr(out, "\"peak_rss_bytes\":") ||
	    !strstr(out, "\"text\":\"Once upon a time, there was")) {
		fprintf(stderr, "%s\nexit %d\nstdout: %s\nstderr: %s\n", cmd, rc, out, err);
		fail();
	}
	free(out);
	free(err);
	free(want);
}

/* The logits command writes exactly what eng_prefill computes (same thread count, same order). */
static void test_logits_command(void **state)
{
	struct fixture *f = *state;
	struct eng_ctx_opts co = { .n_threads = 1, .n_ctx = 0, .kv_type = ENG_TYPE_F32 };
	const int32_t tok[6] = { 1, 403, 407, 261, 378, 10 };
	char path[1100], out_path[1100], cmd[4096], *out = NULL, *err = NULL, *data;
	char errbuf[256];
	int vocab;
	size_t len = 0;
	float *want;
	struct eng_ctx *c;
	int rc;

	if (!f->m)
		TU_SKIP("../shared/models/stories260K.bin, tok512.bin or stories260K-greedy.txt absent");
	vocab = eng_model_config(f->m)->vocab_size;
	snprintf(path, sizeof path, "%s/tokens.txt", f->dir);
	snprintf(out_path, sizeof out_path, "%s/logits.f32", f->dir);
	assert_int_equal(tu_write_file(path, "1 403 407\n261\t378 10\n", 21), 0);
	snprintf(cmd, sizeof cmd, "\"$JB\" logits -m '%s' --tokens '%s' -o '%s' -t 1", f->gguf, path,
		 out_path);
	rc = tu_run(cmd, 60, &out, &err);
	if (rc != 0) {
		fprintf(stderr, "%s\nexit %d\nstderr: %s\n", cmd, rc, err);
		fail();
	}
	free(out);
	free(err);
	data = tu_read_file(out_path, &len);
	assert_non_null(data);
	assert_int_equal(len, 6 * (size_t)vocab * sizeof(float));
	want = malloc(6 * (size_t)vocab * sizeof *want);
	c = eng_ctx_new(f->m, &co, errbuf, sizeof errbuf);
	assert_non_null(c);
	assert_int_equal(eng_prefill(c, tok, 6, NULL, want), 0);
	assert_memory_equal(data, want, len);
	eng_ctx_free(c);
	free(want);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greedy_matches_llama2c),
		cmocka_unit_test(test_generate_command),
		cmocka_unit_test(test_logits_command),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
