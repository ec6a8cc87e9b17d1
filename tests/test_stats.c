/*
 * tests/test_stats.c — bench/stats.c against values worked out by hand (and checked with
 * numpy.percentile / statistics.stdev where noted).
 */
#include "helpers/testutil.h"

#include "bench/bench.h"

#include <math.h>
#include <string.h>

static void test_mean_sd(void **state)
{
	/* mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; sd = sqrt(32/7) */
	const double x[] = { 2, 4, 4, 4, 5, 5, 7, 9 };

	(void)state;
	assert_float_equal(rpt_mean(x, 8), 5.0, 1e-12);
	assert_float_equal(rpt_sd(x, 8), sqrt(32.0 / 7.0), 1e-12);
	assert_float_equal(rpt_sd(x, 8), 2.1380899352993950, 1e-12);
	assert_float_equal(rpt_sd(x, 1), 0.0, 0);
	/* RSD: 2.13809 / 5 * 100 */
	assert_float_equal(rpt_rsd_pct(x, 8), 42.761798705987900, 1e-9);
	assert_float_equal(rpt_rsd_pct(x, 1), 0.0, 0);
}

static void test_median(void **state)
{
	double odd[] = { 9, 1, 5 };
	double even[] = { 4, 1, 3, 2 };
	double one[] = { 7.5 };

	(void)state;
	assert_float_equal(rpt_median(odd, 3), 5.0, 0);
	assert_float_equal(rpt_median(even, 4), 2.5, 0);
	assert_float_equal(rpt_median(one, 1), 7.5, 0);
	/* the caller's array is not reordered */
	assert_float_equal(odd[0], 9.0, 0);
	assert_float_equal(even[0], 4.0, 0);
}

static void test_percentile_type7(void **state)
{
	const double ten[] = { 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 };
	const double five[] = { 15, 20, 35, 40, 50 };

	(void)state;
	/* h = (n-1) p/100: p90 → h = 8.1 → 9 + 0.1 × (10 − 9) */
	assert_float_equal(rpt_percentile(ten, 10, 90), 9.1, 1e-12);
	assert_float_equal(rpt_percentile(ten, 10, 99), 9.91, 1e-12);
	assert_float_equal(rpt_percentile(ten, 10, 50), 5.5, 1e-12);
	assert_float_equal(rpt_percentile(ten, 10, 0), 1.0, 0);
	assert_float_equal(rpt_percentile(ten, 10, 100), 10.0, 0);
	/* numpy.percentile([15,20,35,40,50], 40) = 29.0; 25 → 20.0 */
	assert_float_equal(rpt_percentile(five, 5, 40), 29.0, 1e-12);
	assert_float_equal(rpt_percentile(five, 5, 25), 20.0, 1e-12);
	assert_float_equal(rpt_percentile(five, 5, 75), 40.0, 1e-12);
}

static void test_bootstrap_reproducible(void **state)
{
	const double x[] = { 10.2, 9.8, 11.5, 10.0, 10.7, 9.5, 12.1, 10.4, 9.9, 10.1 };
	double lo1, hi1, lo2, hi2, lo3, hi3, med = rpt_median(x, 10);

	(void)state;
	rpt_bootstrap_ci(x, 10, NULL, 0.95, 1000, 42, &lo1, &hi1);
	rpt_bootstrap_ci(x, 10, NULL, 0.95, 1000, 42, &lo2, &hi2);
	rpt_bootstrap_ci(x, 10, rpt_median, 0.95, 1000, 43, &lo3, &hi3);
	assert_true(lo1 == lo2 && hi1 == hi2);
	assert_true(lo1 <= med && med <= hi1);
	assert_true(lo3 <= med && med <= hi3);
	assert_true(lo1 < hi1);
	/* a median of resamples of these values lies within [min, max] */
	assert_true(lo1 >= 9.5 && hi1 <= 12.1);
}

static void test_bootstrap_two_values(void **state)
{
	/* Resample medians of {0, 1} are 0 (p = 1/4), 0.5 (1/2), 1 (1/4): with 1000 resamples the
	 * 2.5th percentile is 0 and the 97.5th is 1. */
	const double x[] = { 0, 1 };
	double lo, hi;

	(void)state;
	rpt_bootstrap_ci(x, 2, NULL, 0.95, 1000, 7, &lo, &hi);
	assert_float_equal(lo, 0.0, 0);
	assert_float_equal(hi, 1.0, 0);
	/* a 10% interval around the middle is the middle value */
	rpt_bootstrap_ci(x, 2, NULL, 0.10, 1000, 7, &lo, &hi);
	assert_float_equal(lo, 0.5, 0);
	assert_float_equal(hi, 0.5, 0);
}

static void test_bootstrap_mean_width(void **state)
{
	/* 0..99: mean 49.5, sd 29.011, standard error 2.9011; a 95% bootstrap interval of the mean
	 * is close to 49.5 ± 1.96 × 2.9011 = [43.81, 55.19]. */
	double x[100], lo, hi;

	(void)state;
	for (int i = 0; i < 100; i++)
		x[i] = i;
	rpt_bootstrap_ci(x, 100, rpt_mean, 0.95, 2000, 1, &lo, &hi);
	assert_true(fabs(lo - 43.81) < 1.0);
	assert_true(fabs(hi - 55.19) < 1.0);
}

static void test_summarize(void **state)
{
	const double x[] = { 3, 1, 2, 5, 4 };
	const double one[] = { 42 };
	struct rpt_summary s;

	(void)state;
	rpt_summarize(x, 5, 9, &s);
	assert_int_equal(s.n, 5);
	assert_float_equal(s.median, 3, 0);
	assert_float_equal(s.mean, 3, 1e-12);
	assert_float_equal(s.sd, sqrt(2.5), 1e-12);
	assert_float_equal(s.min, 1, 0);
	assert_float_equal(s.max, 5, 0);
	assert_true(s.ci_low <= 3 && s.ci_high >= 3 && s.ci_low >= 1 && s.ci_high <= 5);

	rpt_summarize(one, 1, 9, &s);
	assert_int_equal(s.n, 1);
	assert_float_equal(s.median, 42, 0);
	assert_float_equal(s.sd, 0, 0);
	assert_float_equal(s.ci_low, 42, 0);
	assert_float_equal(s.ci_high, 42, 0);

	rpt_summarize(one, 0, 9, &s);
	assert_int_equal(s.n, 0);
}

static void test_stop_rule(void **state)
{
	/* {100, 101, 99}: sd 1, mean 100 → RSD 1% */
	const double tight[] = { 100, 101, 99 };
	/* {100, 110, 90}: sd 10 → RSD 10% */
	const double loose[] = { 100, 110, 90 };

	(void)state;
	assert_float_equal(rpt_rsd_pct(tight, 3), 1.0, 1e-12);
	assert_true(rpt_stop_rule_met(tight, 3, 3, 3.5));
	assert_false(rpt_stop_rule_met(tight, 2, 3, 3.5)); /* fewer than min_n */
	assert_false(rpt_stop_rule_met(tight, 3, 3, 1.0)); /* 1% is not below 1% */
	assert_false(rpt_stop_rule_met(loose, 3, 3, 3.5));
	assert_true(rpt_stop_rule_met(loose, 3, 2, 10.5));
	/* one value says nothing about spread */
	assert_false(rpt_stop_rule_met(tight, 1, 1, 3.5));
}

static void test_rng(void **state)
{
	struct rpt_rng a, b;
	int counts[5] = { 0 };

	(void)state;
	rpt_rng_seed(&a, 123);
	rpt_rng_seed(&b, 123);
	for (int i = 0; i < 100; i++)
		assert_true(rpt_rng_next(&a) == rpt_rng_next(&b));
	rpt_rng_seed(&b, 124);
	assert_true(rpt_rng_next(&a) != rpt_rng_next(&b));
	for (int i = 0; i < 50000; i++) {
		uint64_t v = rpt_rng_below(&a, 5);

		assert_true(v < 5);
		counts[v]++;
	}
	/* expected 10000 each; 5 sigma ≈ 450 */
	for (int i = 0; i < 5; i++)
		assert_true(counts[i] > 9500 && counts[i] < 10500);
	assert_true(rpt_rng_below(&a, 1) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mean_sd),
		cmocka_unit_test(test_median),
		cmocka_unit_test(test_percentile_type7),
		cmocka_unit_test(test_bootstrap_reproducible),
		cmocka_unit_test(test_bootstrap_two_values),
		cmocka_unit_test(test_bootstrap_mean_width),
		cmocka_unit_test(test_summarize),
		cmocka_unit_test(test_stop_rule),
		cmocka_unit_test(test_rng),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
