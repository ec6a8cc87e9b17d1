/*
 * tests/test_sampler.c — the token sampler: greedy is argmax, a seed fixes the sequence, top-k 1
 * and a tiny top-p reduce to greedy, and draws follow softmax(logits / temp) restricted to the
 * top-k / top-p candidates (frequencies within 5 standard deviations over many draws).
 */
#include "helpers/testutil.h"

#include "engine/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NV 64

/* Deterministic pseudo-random logits in [-4, 4). */
static void fill_logits(float *x, int n, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		x[i] = (float)((seed >> 8) & 0xffff) / 65536.0f * 8.0f - 4.0f;
	}
}

static int argmax_f(const float *x, int n)
{
	int b = 0;

	for (int i = 1; i < n; i++)
		if (x[i] > x[b])
			b = i;
	return b;
}

static int32_t draw(struct eng_sampler *s, const float *logits, int n)
{
	float tmp[NV];

	memcpy(tmp, logits, (size_t)n * sizeof *tmp);
	return eng_sample(s, tmp);
}

static void test_greedy_is_argmax(void **state)
{
	(void)state;
	struct eng_sampler_opts o = { .temp = 0.0f, .top_k = 0, .top_p = 1.0f, .seed = 1 };
	struct eng_sampler *s = eng_sampler_new(&o, NV);
	float x[NV];

	assert_non_null(s);
	for (unsigned k = 0; k < 50; k++) {
		fill_logits(x, NV, k + 1);
		int want = argmax_f(x, NV);
		assert_int_equal(draw(s, x, NV), want);
	}
	/* ties go to the lowest id */
	for (int i = 0; i < NV; i++)
		x[i] = 0.0f;
	x[7] = x[30] = 2.0f;
	assert_int_equal(draw(s, x, NV), 7);
	eng_sampler_free(s);
}

static void test_seed_reproducible(void **state)
{
	(void)state;
	struct eng_sampler_opts o = { .temp = 1.0f, .top_k = 40, .top_p = 0.95f, .seed = 1234 };
	struct eng_sampler *a = eng_sampler_new(&o, NV), *b = eng_sampler_new(&o, NV), *c;
	float x[NV];
	int differ = 0;

	o.seed = 1235;
	c = eng_sampler_new(&o, NV);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	for (unsigned k = 0; k < 300; k++) {
		fill_logits(x, NV, k % 7 + 1);
		int ta = draw(a, x, NV), tb = draw(b, x, NV), tc = draw(c, x, NV);
		assert_int_equal(ta, tb);
		differ += ta != tc;
	}
	assert_true(differ > 0); /* another seed gives another sequence */
	eng_sampler_free(a);
	eng_sampler_free(b);
	eng_sampler_free(c);
}

static void test_topk1_and_tiny_topp_are_greedy(void **state)
{
	(void)state;
	struct eng_sampler_opts ok = { .temp = 1.5f, .top_k = 1, .top_p = 1.0f, .seed = 9 };
	struct eng_sampler_opts op = { .temp = 1.5f, .top_k = 0, .top_p = 1e-6f, .seed = 9 };
	struct eng_sampler *sk = eng_sampler_new(&ok, NV), *sp = eng_sampler_new(&op, NV);
	float x[NV];

	assert_non_null(sk);
	assert_non_null(sp);
	for (unsigned k = 0; k < 200; k++) {
		fill_logits(x, NV, k + 100);
		int want = argmax_f(x, NV);
		assert_int_equal(draw(sk, x, NV), want);
		assert_int_equal(draw(sp, x, NV), want);
	}
	eng_sampler_free(sk);
	eng_sampler_free(sp);
}

/* Draws n times and checks each token's frequency against want[] (0 = must never appear). */
static void check_frequencies(const struct eng_sampler_opts *o, const float *logits, int nv,
			      const double *want, int n)
{
	struct eng_sampler *s = eng_sampler_new(o, nv);
	int count[NV] = { 0 };

	assert_non_null(s);
	for (int i = 0; i < n; i++) {
		int32_t t = draw(s, logits, nv);
		assert_true(t >= 0 && t < nv);
		count[t]++;
	}
	for (int i = 0; i < nv; i++) {
		double f = (double)count[i] / n;
		double sd = sqrt(want[i] * (1.0 - want[i]) / n);
		if (want[i] == 0.0) {
			assert_int_equal(count[i], 0);
			continue;
		}
		if (fabs(f - want[i]) > 5.0 * sd + 1e-9) {
			fprintf(stderr, "token %d: frequency %.4f, probability %.4f (bound %.4f)\n", i, f,
				want[i], 5.0 * sd);
			fail();
		}
	}
	eng_sampler_free(s);
}

static void test_temperature_distribution(void **state)
{
	(void)state;
	const float logits[5] = { 1.0f, 2.0f, 0.5f, -1.0f, 1.5f };
	const float temp = 0.7f;
	double want[5], sum = 0.0;
	struct eng_sampler_opts o = { .temp = temp, .top_k = 0, .top_p = 1.0f, .seed = 42 };

	for (int i = 0; i < 5; i++)
		sum += want[i] = exp(logits[i] / temp);
	for (int i = 0; i < 5; i++)
		want[i] /= sum;
	check_frequencies(&o, logits, 5, want, 40000);
}

static void test_topk_distribution(void **state)
{
	(void)state;
	const float logits[5] = { 1.0f, 2.0f, 0.5f, -1.0f, 1.5f };
	/* top-2 keeps tokens 1 and 4; temperature 1 */
	double e1 = exp(2.0), e4 = exp(1.5);
	double want[5] = { 0, e1 / (e1 + e4), 0, 0, e4 / (e1 + e4) };
	struct eng_sampler_opts o = { .temp = 1.0f, .top_k = 2, .top_p = 1.0f, .seed = 7 };

	check_frequencies(&o, logits, 5, want, 40000);
}

static void test_topp_distribution(void **state)
{
	(void)state;
	/* probabilities 0.5, 0.3, 0.15, 0.05: top_p 0.75 keeps the first two (0.5 < 0.75 <= 0.8) */
	const float logits[4] = { logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f) };
	double want[4] = { 0.5 / 0.8, 0.3 / 0.8, 0, 0 };
	struct eng_sampler_opts o = { .temp = 1.0f, .top_k = 0, .top_p = 0.75f, .seed = 3 };

	check_frequencies(&o, logits, 4, want, 40000);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct eng_sampler_opts o = { .temp = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 3 };

	assert_null(eng_sampler_new(&o, 0));
	assert_null(eng_sampler_new(NULL, 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greedy_is_argmax),
		cmocka_unit_test(test_seed_reproducible),
		cmocka_unit_test(test_topk1_and_tiny_topp_are_greedy),
		cmocka_unit_test(test_temperature_distribution),
		cmocka_unit_test(test_topk_distribution),
		cmocka_unit_test(test_topp_distribution),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
