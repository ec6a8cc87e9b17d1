/*
 * tests/test_forward_batch.c — batched decode of several sequences (eng_decode_batch) against the
 * single-sequence forward pass (eng_prefill + eng_decode in a context of its own).
 *
 * B = 1..8 sequences, each with a prompt of a different length (so every row of a batch sits at
 * another position), run several decode steps as one batch each, the batch order shuffled and,
 * in later steps, only some of the sequences taking part. Every row's logits must match the
 * same sequence decoded alone. The kernels compute each row of a batch with the same operations
 * as a single row, so the match is expected to be exact; the bound allows float rounding, as
 * max |batch - alone| / RMS(alone) <= 1e-5 over a row. Weights F32, Q8_0 and Q4_0, KV cache F32
 * and F16, 1 and 2 threads.
 */
#include "helpers/testutil.h"

#include "engine/engine.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_B 8
#define STEPS 4
#define TOL 1e-5

struct fixture {
	struct eng_model *m;
};

/* max |a - b| / rms(b) over n values */
static double rel_err(const float *a, const float *b, int n)
{
	double ss = 0.0, worst = 0.0;

	for (int i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);

		ss += (double)b[i] * b[i];
		if (d > worst)
			worst = d;
	}
	ss = sqrt(ss / n);
	return ss > 0 ? worst / ss : worst;
}

static int32_t tok_of(int seq, int i, int vocab)
{
	return (int32_t)(1 + ((int64_t)(seq + 1) * 7919 + (int64_t)i * 104729) % (vocab - 1));
}

static void check_model(const char *spec, int kv_type, int threads)
{
	struct eng_model *m = NULL;
	struct eng_ctx *batch = NULL, *alone[MAX_B] = { 0 };
	char err[512] = "";
	const struct eng_config *cfg;
	float *lb, *la;
	int vocab;

	assert_int_equal(eng_model_open(spec, NULL, &m, err, sizeof err), 0);
	cfg = eng_model_config(m);
	vocab = cfg->vocab_size;
	lb = malloc((size_t)MAX_B * vocab * sizeof *lb);
	la = malloc((size_t)vocab * sizeof *la);
	assert_non_null(lb);
	assert_non_null(la);

	for (int B = 1; B <= MAX_B; B++) {
		struct eng_ctx_opts bo = { .n_threads = threads, .n_ctx = 64, .kv_type = kv_type, .n_seq = B };
		struct eng_ctx_opts ao = { .n_threads = threads, .n_ctx = 64, .kv_type = kv_type };
		int32_t next[MAX_B];
		double worst = 0.0;

		batch = eng_ctx_new(m, &bo, err, sizeof err);
		assert_non_null(batch);
		assert_int_equal(eng_ctx_n_seq(batch), B);
		for (int s = 0; s < B; s++) {
			int32_t prompt[32];
			int np = 1 + 3 * s + B % 3; /* a different length for every sequence */

			for (int i = 0; i < np; i++)
				prompt[i] = tok_of(s, i, vocab);
			alone[s] = eng_ctx_new(m, &ao, err, sizeof err);
			assert_non_null(alone[s]);
			assert_int_equal(eng_prefill(alone[s], prompt, np, la, NULL), 0);
			assert_int_equal(eng_seq_prefill(batch, s, prompt, np, lb), 0);
			assert_int_equal(eng_seq_pos(batch, s), np);
			assert_true(rel_err(lb, la, vocab) <= TOL);
			next[s] = tok_of(s, 100, vocab);
		}
		for (int step = 0; step < STEPS; step++) {
			int seq[MAX_B], nb = 0;
			int32_t tok[MAX_B];

			/* every sequence in the first steps, then every other one; order reversed on odd steps */
			for (int k = 0; k < B; k++) {
				int s = step % 2 ? B - 1 - k : k;

				if (step >= 2 && s % 2 == 1 && B > 1)
					continue;
				seq[nb] = s;
				tok[nb++] = next[s];
			}
			assert_int_equal(eng_decode_batch(batch, seq, tok, nb, lb), 0);
			for (int i = 0; i < nb; i++) {
				double e;

				assert_int_equal(eng_decode(alone[seq[i]], tok[i], la), 0);
				assert_int_equal(eng_seq_pos(batch, seq[i]), eng_ctx_pos(alone[seq[i]]));
				e = rel_err(lb + (size_t)i * vocab, la, vocab);
				if (e > worst)
					worst = e;
				if (e > TOL)
					fail_msg("%s kv %d t%d B=%d step %d seq %d (pos %d): rel err %.3g > %.0e", spec,
						 kv_type, threads, B, step, seq[i], eng_seq_pos(batch, seq[i]) - 1, e, TOL);
				next[seq[i]] = tok_of(seq[i], 200 + step, vocab);
			}
		}
		if (B == MAX_B)
			tu_note("%s kv %s %d thread%s: worst rel err %.3g over B=1..8", spec,
				kv_type == ENG_TYPE_F16 ? "f16" : "f32", threads, threads > 1 ? "s" : "", worst);
		for (int s = 0; s < B; s++) {
			eng_ctx_free(alone[s]);
			alone[s] = NULL;
		}
		eng_ctx_free(batch);
		batch = NULL;
	}
	free(lb);
	free(la);
	eng_model_close(m);
}

static void test_batch_f32(void **state)
{
	(void)state;
	check_model("synth:stories260k:f32", ENG_TYPE_F32, 1);
	check_model("synth:stories260k:f32", ENG_TYPE_F16, 2);
}

static void test_batch_q8_0(void **state)
{
	(void)state;
	check_model("synth:stories260k:q8_0", ENG_TYPE_F32, 2);
}

static void test_batch_q4_0(void **state)
{
	(void)state;
	check_model("synth:stories260k:q4_0", ENG_TYPE_F32, 2);
	check_model("synth:stories260k:q4_0", ENG_TYPE_F16, 1);
}

/* Bad batches are refused before anything runs; one sequence's reset leaves the others alone. */
static void test_batch_errors(void **state)
{
	struct eng_model *m = NULL;
	struct eng_ctx *c;
	struct eng_ctx_opts o = { .n_threads = 1, .n_ctx = 4, .n_seq = 3 };
	char err[512] = "";
	float *logits;
	int32_t tok[3] = { 5, 6, 7 }, big = 1 << 30;
	int seq[3] = { 0, 1, 1 };

	(void)state;
	assert_int_equal(eng_model_open("synth:stories260k:f32", NULL, &m, err, sizeof err), 0);
	logits = malloc(3 * (size_t)eng_model_config(m)->vocab_size * sizeof *logits);
	assert_non_null(logits);
	c = eng_ctx_new(m, &o, err, sizeof err);
	assert_non_null(c);
	assert_int_equal(eng_decode_batch(c, seq, tok, 3, logits), -EINVAL);
	assert_non_null(strstr(eng_ctx_error(c), "twice"));
	seq[2] = 3;
	assert_int_equal(eng_decode_batch(c, seq, tok, 3, logits), -EINVAL);
	seq[2] = 2;
	assert_int_equal(eng_decode_batch(c, seq, &big, 1, logits), -EINVAL);
	assert_int_equal(eng_decode_batch(c, seq, tok, 4, logits), -EINVAL);
	assert_int_equal(eng_seq_pos(c, 0), 0);
	assert_int_equal(eng_seq_prefill(c, 3, tok, 1, logits), -EINVAL);
	assert_int_equal(eng_seq_prefill(c, 1, tok, 3, logits), 0);
	assert_int_equal(eng_decode_batch(c, seq, tok, 3, logits), 0);
	assert_int_equal(eng_seq_pos(c, 0), 1);
	assert_int_equal(eng_seq_pos(c, 1), 4);
	assert_int_equal(eng_seq_pos(c, 2), 1);
	assert_int_equal(eng_decode_batch(c, seq, tok, 3, logits), -ENOSPC);
	assert_non_null(strstr(eng_ctx_error(c), "context full"));
	assert_int_equal(eng_seq_pos(c, 0), 1); /* nothing ran */
	eng_seq_reset(c, 1);
	assert_int_equal(eng_seq_pos(c, 1), 0);
	assert_int_equal(eng_seq_pos(c, 0), 1);
	assert_int_equal(eng_decode_batch(c, seq, tok, 3, logits), 0);
	assert_int_equal(eng_ctx_kv_bytes(c), 3 * 2 * (size_t)5 * 4 * 32 * sizeof(float));
	eng_ctx_free(c);
	o.n_seq = -1;
	assert_null(eng_ctx_new(m, &o, err, sizeof err));
	assert_non_null(strstr(err, "sequence count"));
	free(logits);
	eng_model_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_f32),
		cmocka_unit_test(test_batch_q8_0),
		cmocka_unit_test(test_batch_q4_0),
		cmocka_unit_test(test_batch_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
