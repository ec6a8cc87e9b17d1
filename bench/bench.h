/*
 * bench/bench.h — the benchmark runner and its statistics.
 *
 * The runner turns a workload (configs/workloads/NAME.json plus command-line overrides) into runs
 * of the engine while the power sampler records, and writes one result JSON per run (schema in
 * reports/SCHEMA.md). The statistics below are shared with reports/ (compare, regress).
 */
#ifndef JB_BENCH_H
#define JB_BENCH_H

#include <stdbool.h>
#include <stdint.h>

/* ---- statistics ------------------------------------------------------------------------ */

/* A summary of repeated measurements: median with a 95% bootstrap confidence interval. */
struct bench_stat {
	int n;
	double median;
	double mean;
	double sd;       /* sample standard deviation (n-1); 0 when n < 2 */
	double ci_low;   /* 95% bootstrap CI of the median; == median when n < 2 */
	double ci_high;
	double min, max;
};

double bench_mean(const double *x, int n);
double bench_sd(const double *x, int n);
double bench_median(const double *x, int n);
/* p in [0, 100]; linear interpolation between order statistics (Hyndman–Fan type 7, as
 * numpy.percentile's default). n >= 1. */
double bench_percentile(const double *x, int n, double p);
/* Percentile bootstrap CI of `stat` (NULL = median) with `resamples` resamples from a seeded
 * generator: the same inputs and seed give the same interval. conf e.g. 0.95. */
void bench_bootstrap_ci(const double *x, int n, double (*stat)(const double *, int), double conf,
			int resamples, uint64_t seed, double *lo, double *hi);
/* Fills s from x[0..n): 1000 resamples, 95%, the given seed. n == 0 leaves s->n = 0. */
void bench_summarize(const double *x, int n, uint64_t seed, struct bench_stat *s);
/* Relative standard deviation in percent (sd / mean * 100); 0 when n < 2 or mean == 0. */
double bench_rsd_pct(const double *x, int n);
/* The stop rule: true when n >= min_n, n >= 2 (one value says nothing about spread) and the
 * RSD is strictly below max_rsd_pct. */
bool bench_stop_rule_met(const double *x, int n, int min_n, double max_rsd_pct);

/* Deterministic 64-bit generator (splitmix64 seeding a xoshiro-style state) for resampling. */
struct bench_rng {
	uint64_t s[4];
};
void bench_rng_seed(struct bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform integer in [0, n). */
uint64_t bench_rng_below(struct bench_rng *r, uint64_t n);

/* ---- machine ----------------------------------------------------------------------------- */

struct cJSON;
/*
 * The `machine` object of a result (reports/SCHEMA.md): CPU model and vendor, sockets, cores,
 * threads, cpufreq limits and governor, boost state, memory, kernel, OS, hypervisor, SIMD flags.
 * Files are read under sysfs_root (NULL: $JOULEBENCH_SYSFS_ROOT or "/"); what cannot be read is
 * null with `<field>_reason`. The caller owns the returned tree (NULL only when out of memory).
 */
struct cJSON *bench_machine_json(const char *sysfs_root);

#endif
