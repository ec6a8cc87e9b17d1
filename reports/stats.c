/*
 * reports/stats.c — the statistics of reports/reports.h, which the runner (bench/) and the reports
 * both use: mean, sample sd, median, type-7 percentiles, a seeded percentile bootstrap of any
 * statistic, RSD and the stop rule.
 *
 * Everything works on a private sorted copy, so callers' arrays are never reordered.
 */
#include "reports/reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- generator --------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void rpt_rng_seed(struct rpt_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

/* xoshiro256** */
uint64_t rpt_rng_next(struct rpt_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Rejection sampling: unbiased for every n. */
uint64_t rpt_rng_below(struct rpt_rng *r, uint64_t n)
{
	uint64_t limit, v;

	if (n <= 1)
		return 0;
	limit = UINT64_MAX - (UINT64_MAX % n);
	do
		v = rpt_rng_next(r);
	while (v >= limit);
	return v % n;
}

/* ---- basic statistics --------------------------------------------------------------------- */

double rpt_mean(const double *x, int n)
{
	double s = 0;

	if (n <= 0)
		return NAN;
	for (int i = 0; i < n; i++)
		s += x[i];
	return s / n;
}

double rpt_sd(const double *x, int n)
{
	double m, ss = 0;

	if (n < 2)
		return 0;
	m = rpt_mean(x, n);
	for (int i = 0; i < n; i++)
		ss += (x[i] - m) * (x[i] - m);
	return sqrt(ss / (n - 1));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Type 7 on an already sorted array. */
static double percentile_sorted(const double *s, int n, double p)
{
	double h, lo;
	int i;

	if (n == 1)
		return s[0];
	if (p <= 0)
		return s[0];
	if (p >= 100)
		return s[n - 1];
	h = (n - 1) * (p / 100.0);
	lo = floor(h);
	i = (int)lo;
	if (i >= n - 1)
		return s[n - 1];
	return s[i] + (h - lo) * (s[i + 1] - s[i]);
}

/* A sorted malloc'd copy, or NULL when out of memory. */
static double *sorted_copy(const double *x, int n)
{
	double *s = malloc((size_t)n * sizeof *s);

	if (!s)
		return NULL;
	memcpy(s, x, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	return s;
}

double rpt_percentile(const double *x, int n, double p)
{
	double *s, v;

	if (n <= 0)
		return NAN;
	if (n == 1)
		return x[0];
	s = sorted_copy(x, n);
	if (!s)
		return NAN;
	v = percentile_sorted(s, n, p);
	free(s);
	return v;
}

double rpt_median(const double *x, int n)
{
	return rpt_percentile(x, n, 50.0);
}

void rpt_bootstrap_ci(const double *x, int n, double (*stat)(const double *, int), double conf,
			int resamples, uint64_t seed, double *lo, double *hi)
{
	double *boot = NULL, *buf = NULL;
	struct rpt_rng rng;
	double alpha;

	if (!stat)
		stat = rpt_median;
	if (n <= 0) {
		*lo = *hi = NAN;
		return;
	}
	if (n == 1 || resamples < 1) {
		*lo = *hi = stat(x, n);
		return;
	}
	boot = malloc((size_t)resamples * sizeof *boot);
	buf = malloc((size_t)n * sizeof *buf);
	if (!boot || !buf) {
		*lo = *hi = NAN;
		goto out;
	}
	rpt_rng_seed(&rng, seed);
	for (int r = 0; r < resamples; r++) {
		for (int i = 0; i < n; i++)
			buf[i] = x[rpt_rng_below(&rng, (uint64_t)n)];
		boot[r] = stat(buf, n);
	}
	qsort(boot, (size_t)resamples, sizeof *boot, cmp_double);
	alpha = (1.0 - conf) / 2.0;
	*lo = percentile_sorted(boot, resamples, alpha * 100.0);
	*hi = percentile_sorted(boot, resamples, (1.0 - alpha) * 100.0);
out:
	free(boot);
	free(buf);
}

void rpt_summarize(const double *x, int n, uint64_t seed, struct rpt_summary *s)
{
	memset(s, 0, sizeof *s);
	s->n = n > 0 ? n : 0;
	if (n <= 0)
		return;
	s->median = rpt_median(x, n);
	s->mean = rpt_mean(x, n);
	s->sd = rpt_sd(x, n);
	s->min = s->max = x[0];
	for (int i = 1; i < n; i++) {
		if (x[i] < s->min)
			s->min = x[i];
		if (x[i] > s->max)
			s->max = x[i];
	}
	if (n < 2) {
		s->ci_low = s->ci_high = s->median;
		return;
	}
	rpt_bootstrap_ci(x, n, rpt_median, 0.95, 1000, seed, &s->ci_low, &s->ci_high);
}

double rpt_rsd_pct(const double *x, int n)
{
	double m;

	if (n < 2)
		return 0;
	m = rpt_mean(x, n);
	if (m == 0)
		return 0;
	return rpt_sd(x, n) / fabs(m) * 100.0;
}

bool rpt_stop_rule_met(const double *x, int n, int min_n, double max_rsd_pct)
{
	if (n < min_n || n < 2)
		return false;
	return rpt_rsd_pct(x, n) < max_rsd_pct;
}
