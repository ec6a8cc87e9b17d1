/*
 * tests/test_regress.c — the regression gate: the Mann–Whitney U test against hand-computed
 * values, verdicts on synthetic samples with known answers, and whole-file comparisons on the
 * fixtures in tests/fixtures/regress/ (kernels and run results with known samples).
 */
#include "helpers/testutil.h"

#include "reports/reports.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "tests/fixtures/regress/"

static const struct rpt_gate_opts gate = { .threshold = 0.05, .alpha = 0.05, .resamples = 2000, .seed = 7 };

/* ---- Mann–Whitney U ---------------------------------------------------------------------- */

static void test_mwu_exact_separated(void **state)
{
	/* a entirely below b: U_a = 0; the exact two-sided p is 2 / C(7,3) = 2/35. */
	const double a[] = { 1, 2, 3 }, b[] = { 4, 5, 6, 7 };
	struct rpt_mwu m;

	(void)state;
	assert_int_equal(rpt_mann_whitney(a, 3, b, 4, &m), 0);
	assert_true(m.exact);
	assert_float_equal(m.u, 0, 1e-12);
	assert_float_equal(m.p, 2.0 / 35, 1e-12);
	/* Swapped: U of the first sample is now 12 = 3*4, same p. */
	assert_int_equal(rpt_mann_whitney(b, 4, a, 3, &m), 0);
	assert_float_equal(m.u, 12, 1e-12);
	assert_float_equal(m.p, 2.0 / 35, 1e-12);
}

static void test_mwu_exact_mixed(void **state)
{
	/*
	 * a = {1,4,6}, b = {2,3,5,7}: U_a = 0 + 2 + 3 = 5. Under H0 U counts partitions of u into at
	 * most 3 parts of at most 4: 1,1,2,3,4,4,5,4,4,3,2,1,1 for u = 0..12 (35 in all), so
	 * P(U <= 5) = 15/35 and the two-sided p is 30/35.
	 */
	const double a[] = { 1, 4, 6 }, b[] = { 2, 3, 5, 7 };
	struct rpt_mwu m;

	(void)state;
	assert_int_equal(rpt_mann_whitney(a, 3, b, 4, &m), 0);
	assert_true(m.exact);
	assert_float_equal(m.u, 5, 1e-12);
	assert_float_equal(m.p, 30.0 / 35, 1e-12);
}

static void test_mwu_ties_normal(void **state)
{
	/*
	 * a = {1,2,2,3}, b = {2,3,3,4,5}: mid-ranks 1 | 3 3 3 | 6 6 6 | 8 | 9, R_a = 1+3+3+6 = 13,
	 * U_a = 13 - 10 = 3, mean 10, tie-corrected variance 20/12 * (10 - 48/72) = 15.5556,
	 * z = (|3 - 10| - 0.5) / 3.9441 = 1.64805, p = erfc(z / sqrt 2) = 0.099342.
	 */
	const double a[] = { 1, 2, 2, 3 }, b[] = { 2, 3, 3, 4, 5 };
	struct rpt_mwu m;

	(void)state;
	assert_int_equal(rpt_mann_whitney(a, 4, b, 5, &m), 0);
	assert_false(m.exact);
	assert_float_equal(m.u, 3, 1e-12);
	assert_float_equal(m.p, 0.0993422, 1e-6);
}

static void test_mwu_edge(void **state)
{
	const double a[] = { 5, 5, 5 }, b[] = { 5, 5 };
	struct rpt_mwu m;

	(void)state;
	assert_int_equal(rpt_mann_whitney(a, 3, b, 2, &m), 0);
	assert_float_equal(m.p, 1, 1e-12); /* all equal */
	assert_int_equal(rpt_mann_whitney(a, 0, b, 2, &m), -EINVAL);
	assert_float_equal(rpt_mwu_min_p(2, 2), 2.0 / 6, 1e-12);
	assert_float_equal(rpt_mwu_min_p(4, 4), 2.0 / 70, 1e-12);
}

/* ---- verdicts on synthetic samples ------------------------------------------------------- */

/* Ten values around `center` with a fixed spread of about +-1%. */
static void around(double *v, double center, int variant)
{
	static const double e1[10] = { .004, -.006, .001, .009, -.002, -.008, .003, .006, -.004, -.001 };
	static const double e2[10] = { -.003, .005, -.007, .002, .008, -.001, .004, -.009, .006, 0 };

	for (int i = 0; i < 10; i++)
		v[i] = center * (1 + (variant ? e2 : e1)[i]);
}

static void test_verdict_regression(void **state)
{
	double base[10], cur[10];
	struct rpt_gate_row row;

	(void)state;
	around(base, 100, 0);
	around(cur, 120, 1); /* 20% slower, lower is better */
	memset(&row, 0, sizeof row);
	rpt_gate_samples(base, 10, cur, 10, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_REGRESSED);
	assert_true(row.has_p && row.p < 0.001);
	assert_true(row.has_ci && row.ci_low > 1.15 && row.ci_high < 1.25);
	assert_float_equal(row.ratio, 1.2, 0.01);

	/* The same numbers as throughput (higher is better) are an improvement. */
	memset(&row, 0, sizeof row);
	rpt_gate_samples(base, 10, cur, 10, true, &gate, &row);
	assert_int_equal(row.verdict, RPT_IMPROVED);
}

static void test_verdict_improvement(void **state)
{
	double base[10], cur[10];
	struct rpt_gate_row row;

	(void)state;
	around(base, 100, 0);
	around(cur, 80, 1);
	memset(&row, 0, sizeof row);
	rpt_gate_samples(base, 10, cur, 10, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_IMPROVED);
	/* tok/s falling from 100 to 80 is a regression. */
	memset(&row, 0, sizeof row);
	rpt_gate_samples(base, 10, cur, 10, true, &gate, &row);
	assert_int_equal(row.verdict, RPT_REGRESSED);
}

static void test_verdict_same_distribution(void **state)
{
	double base[10], cur[10];
	struct rpt_gate_row row;

	(void)state;
	around(base, 100, 0);
	around(cur, 100, 1);
	memset(&row, 0, sizeof row);
	rpt_gate_samples(base, 10, cur, 10, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_UNCHANGED);
	assert_true(row.p > 0.2);
}

static void test_verdict_significant_but_small(void **state)
{
	double base[10], cur[10];
	struct rpt_gate_row row;

	(void)state;
	around(base, 100, 0);
	around(cur, 102, 1); /* a real 2% change: significant, but under the 5% threshold */
	memset(&row, 0, sizeof row);
	rpt_gate_samples(base, 10, cur, 10, false, &gate, &row);
	assert_true(row.p < 0.05);
	assert_int_equal(row.verdict, RPT_UNCHANGED);
	assert_non_null(strstr(row.note, "within the threshold"));
}

static void test_verdict_tiny_samples(void **state)
{
	const double base[] = { 100, 101 }, cur[] = { 150, 151 };
	const double one[] = { 100 };
	struct rpt_gate_row row;

	(void)state;
	memset(&row, 0, sizeof row);
	rpt_gate_samples(base, 2, cur, 2, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_INCONCLUSIVE);
	assert_non_null(strstr(row.note, "too few samples"));
	memset(&row, 0, sizeof row);
	rpt_gate_samples(one, 1, cur, 2, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_INCONCLUSIVE);
}

static void test_verdict_noisy_straddles(void **state)
{
	/* A 5% shift buried in +-15% noise: the CI reaches both sides of 1.05. */
	const double base[] = { 85, 115, 100, 92, 108, 97, 103, 88, 112, 100 };
	const double cur[] = { 90, 120, 104, 96, 114, 101, 109, 93, 118, 106 };
	struct rpt_gate_row row;

	(void)state;
	memset(&row, 0, sizeof row);
	rpt_gate_samples(base, 10, cur, 10, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_INCONCLUSIVE);
	assert_true(row.ci_low < 1.05 && row.ci_high > 1.05);
}

static void test_verdict_counts(void **state)
{
	struct rpt_gate_row row;

	(void)state;
	memset(&row, 0, sizeof row);
	rpt_gate_value(1000000, 1100000, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_REGRESSED);
	memset(&row, 0, sizeof row);
	rpt_gate_value(1000000, 1049000, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_UNCHANGED);
	memset(&row, 0, sizeof row);
	rpt_gate_value(1000000, 900000, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_IMPROVED);
	memset(&row, 0, sizeof row);
	rpt_gate_value(0, 900000, false, &gate, &row);
	assert_int_equal(row.verdict, RPT_INCONCLUSIVE);
}

static void test_ratio_ci_deterministic(void **state)
{
	double base[10], cur[10], lo1, hi1, lo2, hi2;

	(void)state;
	around(base, 100, 0);
	around(cur, 110, 1);
	rpt_ratio_ci(base, 10, cur, 10, 0.95, 1000, 3, &lo1, &hi1);
	rpt_ratio_ci(base, 10, cur, 10, 0.95, 1000, 3, &lo2, &hi2);
	assert_float_equal(lo1, lo2, 0);
	assert_float_equal(hi1, hi2, 0);
	assert_true(lo1 <= 1.10 && hi1 >= 1.10 && lo1 > 1.07 && hi1 < 1.13);
}

/* ---- whole files ------------------------------------------------------------------------- */

static struct rpt_regress *compare(const char *a, const char *b, const char *metric, bool allow, int want_rc,
				   char *err, size_t errlen)
{
	const char *list[1] = { metric };
	struct rpt_regress_opts o = { .metrics = metric ? list : NULL, .n_metrics = metric ? 1 : 0, .gate = gate,
				      .allow_different_machine = allow };
	struct rpt_regress *r = NULL;
	int rc;

	err[0] = '\0';
	rc = rpt_regress_files(a, b, &o, &r, err, errlen);
	if (rc != want_rc)
		fprintf(stderr, "rpt_regress_files(%s, %s) = %d (want %d): %s\n", a, b, rc, want_rc, err);
	assert_int_equal(rc, want_rc);
	return r;
}

static const struct rpt_gate_row *find_row(const struct rpt_regress *r, const char *metric, const char *item)
{
	for (int i = 0; i < r->n_rows; i++)
		if (!strcmp(r->rows[i].metric, metric) && !strcmp(r->rows[i].item, item))
			return &r->rows[i];
	fail_msg("no row %s %s", metric, item);
	return NULL;
}

static void test_files_kernels(void **state)
{
	char err[RPT_ERR_LEN];
	struct rpt_regress *r;

	(void)state;
	/* Slower build: the simd matvec regressed in time and in instructions; the ref twin and
	 * rmsnorm did not change. */
	r = compare(FIX "kernels-base.json", FIX "kernels-slow.json", NULL, false, 0, err, sizeof err);
	assert_int_equal(find_row(r, "ns_per_call", "matvec.q4_0.attn_q [simd]")->verdict, RPT_REGRESSED);
	assert_int_equal(find_row(r, "instructions", "matvec.q4_0.attn_q [simd]")->verdict, RPT_REGRESSED);
	assert_int_equal(find_row(r, "ns_per_call", "matvec.q4_0.attn_q [ref]")->verdict, RPT_UNCHANGED);
	assert_int_equal(find_row(r, "instructions", "rmsnorm.f32 [simd]")->verdict, RPT_UNCHANGED);
	assert_int_equal(r->n_regressed, 2);
	rpt_regress_free(r);

	r = compare(FIX "kernels-base.json", FIX "kernels-same.json", NULL, false, 0, err, sizeof err);
	assert_int_equal(r->n_regressed, 0);
	assert_int_equal(r->n_improved, 0);
	assert_int_equal(r->n_unchanged, r->n_rows);
	rpt_regress_free(r);

	/* Counts from callgrind and from hardware counters are not comparable. */
	r = compare(FIX "kernels-base.json", FIX "kernels-perf-counted.json", "instructions", false, 0, err, sizeof err);
	assert_int_equal(r->n_inconclusive, r->n_rows);
	assert_non_null(strstr(r->rows[0].note, "callgrind vs perf_event"));
	rpt_regress_free(r);

	r = compare(FIX "kernels-base.json", FIX "kernels-fast.json", "instructions", false, 0, err, sizeof err);
	assert_int_equal(r->n_regressed, 0);
	assert_int_equal(find_row(r, "instructions", "matvec.q4_0.attn_q [simd]")->verdict, RPT_IMPROVED);
	for (int i = 0; i < r->n_rows; i++)
		assert_string_equal(r->rows[i].metric, "instructions");
	rpt_regress_free(r);
}

static void test_files_runs(void **state)
{
	char err[RPT_ERR_LEN];
	struct rpt_regress *r;
	const struct rpt_gate_row *w;

	(void)state;
	r = compare(FIX "run-base.json", FIX "run-slow.json", NULL, false, 0, err, sizeof err);
	w = find_row(r, "decode_tok_s", "t=2 q4_0");
	assert_int_equal(w->verdict, RPT_REGRESSED);
	assert_float_equal(w->ratio, 0.8, 0.01);
	w = find_row(r, "j_per_token", "t=2 q4_0");
	assert_int_equal(w->verdict, RPT_REGRESSED);
	assert_non_null(strstr(w->note, "estimated"));
	assert_int_equal(find_row(r, "prefill_tok_s", "t=2 q4_0")->verdict, RPT_UNCHANGED);
	rpt_regress_free(r);

	r = compare(FIX "run-base.json", FIX "run-same.json", "decode_tok_s", false, 0, err, sizeof err);
	assert_int_equal(r->n_rows, 1);
	assert_int_equal(r->rows[0].verdict, RPT_UNCHANGED);
	rpt_regress_free(r);

	r = compare(FIX "run-base.json", FIX "run-tiny.json", "decode_tok_s", false, 0, err, sizeof err);
	assert_int_equal(r->rows[0].verdict, RPT_INCONCLUSIVE);
	rpt_regress_free(r);
}

static void test_files_refusals(void **state)
{
	char err[RPT_ERR_LEN];
	struct rpt_regress *r;

	(void)state;
	compare(FIX "kernels-base.json", FIX "kernels-other-machine.json", NULL, false, -EXDEV, err, sizeof err);
	assert_non_null(strstr(err, "machine.cpu_model 'AMD EPYC 7B13' vs 'Intel(R) Core(TM) i7-1185G7'"));
	assert_non_null(strstr(err, "machine.cores 2 vs 4"));
	assert_non_null(strstr(err, "--allow-different-machine"));
	r = compare(FIX "kernels-base.json", FIX "kernels-other-machine.json", NULL, true, 0, err, sizeof err);
	assert_non_null(strstr(r->differences, "machine.threads 2 vs 8"));
	rpt_regress_free(r);

	compare(FIX "kernels-base.json", FIX "kernels-other-shape.json", NULL, false, -EXDEV, err, sizeof err);
	assert_non_null(strstr(err, "shape 'stories15m' vs 'bench-1b'"));
	compare(FIX "run-base.json", FIX "run-other-model.json", NULL, false, -EXDEV, err, sizeof err);
	assert_non_null(strstr(err, "model.sha256 '5f2b' vs '77aa'"));

	compare(FIX "run-base.json", FIX "kernels-base.json", NULL, false, -EINVAL, err, sizeof err);
	assert_non_null(strstr(err, "one kind"));
	compare(FIX "run-base.json", FIX "run-slow.json", "watts", false, -EINVAL, err, sizeof err);
	assert_non_null(strstr(err, "unknown metric 'watts'"));
	compare(FIX "run-base.json", FIX "run-slow.json", "instructions", false, -EINVAL, err, sizeof err);
	assert_non_null(strstr(err, "applies to 'kernels' results"));
	compare(FIX "run-base.json", FIX "no-such-file.json", NULL, false, -EINVAL, err, sizeof err);
	assert_non_null(strstr(err, "no-such-file.json"));
}

/* A synthetic concurrency sweep in place of r's own: the given levels, 8 requests each with TTFT
 * and inter-token gaps within 3% of each other; at level `slow` every gap is 1.5 times as long
 * (the streams decode a third slower, and the level's aggregate rate falls with them); at level
 * `noisy` only the aggregate rate is 20% lower, the requests are as they were. */
static void set_sweep(struct rpt_result *r, const int *levels, int n_levels, int slow, int noisy)
{
	cJSON *sw, *arr;

	cJSON_DeleteItemFromObjectCaseSensitive(r->json, "sweep");
	sw = cJSON_AddObjectToObject(r->json, "sweep");
	arr = cJSON_AddArrayToObject(sw, "levels");
	for (int l = 0; l < n_levels; l++) {
		cJSON *lv = cJSON_CreateObject(), *reqs;

		cJSON_AddItemToArray(arr, lv);
		cJSON_AddNumberToObject(lv, "concurrency", levels[l]);
		cJSON_AddNumberToObject(lv, "agg_tok_s", 90.0 * levels[l] / (levels[l] == slow ? 1.5 : 1) *
							       (levels[l] == noisy ? 0.8 : 1));
		cJSON_AddNumberToObject(lv, "j_per_token", 0.5 / levels[l]);
		reqs = cJSON_AddArrayToObject(lv, "requests");
		for (int i = 0; i < 8; i++) {
			cJSON *q = cJSON_CreateObject(), *itl;
			double t = 1e8 * i + 40e6 + 0.1e6 * i;

			cJSON_AddItemToArray(reqs, q);
			cJSON_AddBoolToObject(q, "ok", 1);
			cJSON_AddNumberToObject(q, "ttft_ns", 40e6 + 0.1e6 * i);
			cJSON_AddNumberToObject(q, "prompt_tokens", 64);
			itl = cJSON_AddArrayToObject(q, "itl_ns");
			for (int k = 0; k < 4; k++) {
				double gap = (10 + 0.1 * (i % 4) + 0.01 * k) * 1e6 * (levels[l] == slow ? 1.5 : 1);

				cJSON_AddItemToArray(itl, cJSON_CreateNumber(gap));
				t += gap;
			}
			cJSON_AddNumberToObject(q, "t_start_ns", 1e8 * i);
			cJSON_AddNumberToObject(q, "t_end_ns", t + 1e5);
			cJSON_AddNumberToObject(q, "completion_tokens", 5);
		}
	}
}

/* Two sweeps compared level by level: the one level whose streams decode slower regresses (its
 * aggregate rate too, borne out by the requests' own times), a level whose aggregate alone fell is
 * inconclusive, the other is unchanged, and the overall verdict follows; sweeps of other levels, or a sweep against a
 * built-in run, are refused with what differs. */
static void test_sweeps_level_by_level(void **state)
{
	static const int lv[] = { 1, 2, 4 }, other[] = { 1, 2, 8 };
	struct rpt_regress_opts o = { .gate = gate };
	struct rpt_result *a = NULL, *b = NULL;
	struct rpt_regress *r = NULL;
	char err[RPT_ERR_LEN], *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(rpt_result_load(FIX "run-base.json", &a, err, sizeof err), 0);
	assert_int_equal(rpt_result_load(FIX "run-base.json", &b, err, sizeof err), 0);
	set_sweep(a, lv, 3, 0, 0);
	set_sweep(b, lv, 3, 4, 2);
	assert_int_equal(rpt_regress_results(a, b, &o, &r, err, sizeof err), 0);
	assert_true(r->sweep);
	assert_int_equal(r->n_levels, 3);
	assert_int_equal(r->levels[0].concurrency, 1);
	assert_int_equal(r->levels[0].verdict, RPT_UNCHANGED);
	assert_int_equal(r->levels[1].verdict, RPT_INCONCLUSIVE); /* the aggregate alone fell */
	assert_int_equal(r->levels[2].concurrency, 4);
	assert_int_equal(r->levels[2].verdict, RPT_REGRESSED);
	assert_int_equal(r->overall, RPT_REGRESSED);
	assert_int_equal(r->n_regressed, 2);
	assert_int_equal(find_row(r, "decode_tok_s", "c=4")->verdict, RPT_REGRESSED);
	assert_int_equal(find_row(r, "agg_tok_s", "c=4")->verdict, RPT_REGRESSED);
	assert_non_null(strstr(find_row(r, "agg_tok_s", "c=4")->note, "borne out by the requests"));
	assert_int_equal(find_row(r, "agg_tok_s", "c=2")->verdict, RPT_INCONCLUSIVE);
	assert_non_null(strstr(find_row(r, "agg_tok_s", "c=2")->note, "could be noise"));
	assert_float_equal(find_row(r, "decode_tok_s", "c=4")->ratio, 1 / 1.5, 0.01);
	assert_int_equal(find_row(r, "decode_tok_s", "c=2")->verdict, RPT_UNCHANGED);
	assert_int_equal(find_row(r, "ttft_ns", "c=4")->verdict, RPT_UNCHANGED);
	assert_int_equal(find_row(r, "agg_tok_s", "c=1")->verdict, RPT_UNCHANGED);
	assert_non_null(strstr(find_row(r, "j_per_token", "c=2")->note, "plain threshold"));
	f = open_memstream(&text, &len);
	assert_non_null(f);
	rpt_regress_print(f, r, &o, RPT_FMT_TERM);
	fclose(f);
	assert_non_null(strstr(text, "concurrency 1: unchanged\n"));
	assert_non_null(strstr(text, "concurrency 2: inconclusive\n"));
	assert_non_null(strstr(text, "concurrency 4: regressed\n"));
	assert_non_null(strstr(text, "overall: regressed\n"));
	free(text);
	rpt_regress_free(r);

	/* the same sweep twice: nothing regressed anywhere */
	set_sweep(b, lv, 3, 0, 0);
	assert_int_equal(rpt_regress_results(a, b, &o, &r, err, sizeof err), 0);
	assert_int_equal(r->overall, RPT_UNCHANGED);
	assert_int_equal(r->n_regressed, 0);
	rpt_regress_free(r);

	/* other levels: refused, naming both */
	r = NULL;
	set_sweep(b, other, 3, 0, 0);
	assert_int_equal(rpt_regress_results(a, b, &o, &r, err, sizeof err), -EINVAL);
	assert_null(r);
	assert_non_null(strstr(err, "different concurrency levels (1,2,4 vs 1,2,8)"));

	/* a sweep against a built-in engine run */
	cJSON_DeleteItemFromObjectCaseSensitive(b->json, "sweep");
	assert_int_equal(rpt_regress_results(a, b, &o, &r, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "compare a sweep with a sweep"));
	rpt_result_free(a);
	rpt_result_free(b);
}

static void test_print_markdown(void **state)
{
	char err[RPT_ERR_LEN], *text = NULL;
	size_t len = 0;
	struct rpt_regress_opts o = { .gate = gate };
	struct rpt_regress *r = NULL;
	FILE *f;

	(void)state;
	assert_int_equal(rpt_regress_files(FIX "kernels-base.json", FIX "kernels-slow.json", &o, &r, err, sizeof err), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	rpt_regress_print(f, r, &o, RPT_FMT_MD);
	fclose(f);
	assert_non_null(strstr(text, "### joulebench regress: REGRESSION"));
	assert_non_null(strstr(text, "| metric | item | baseline | current | ratio |"));
	assert_non_null(strstr(text, "| instructions | matvec.q4_0.attn_q [simd] | 41234 | 49481 | 1.200 | exact count | - | **regressed** |"));
	assert_non_null(strstr(text, "2 regressed"));
	free(text);
	rpt_regress_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mwu_exact_separated),
		cmocka_unit_test(test_mwu_exact_mixed),
		cmocka_unit_test(test_mwu_ties_normal),
		cmocka_unit_test(test_mwu_edge),
		cmocka_unit_test(test_verdict_regression),
		cmocka_unit_test(test_verdict_improvement),
		cmocka_unit_test(test_verdict_same_distribution),
		cmocka_unit_test(test_verdict_significant_but_small),
		cmocka_unit_test(test_verdict_tiny_samples),
		cmocka_unit_test(test_verdict_noisy_straddles),
		cmocka_unit_test(test_verdict_counts),
		cmocka_unit_test(test_ratio_ci_deterministic),
		cmocka_unit_test(test_files_kernels),
		cmocka_unit_test(test_files_runs),
		cmocka_unit_test(test_files_refusals),
		cmocka_unit_test(test_print_markdown),
		cmocka_unit_test(test_sweeps_level_by_level),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
