/*
 * power/internal.h — private to power/: the probe set and the sampler state that power.c and
 * sampler.c share, and a constructor that takes an explicit backend list so tests can drive the
 * sampler with fake backends. Backends use backend.h only.
 */
#ifndef JB_POWER_INTERNAL_H
#define JB_POWER_INTERNAL_H

#include "power/backend.h"

#include <pthread.h>

/* Every sample of one domain, plus what the sampler has learnt about it. */
struct pwr_series {
	int64_t *t_ns;
	uint64_t *raw;
	double *energy_j;       /* cumulative since the first sample, wraps unfolded */
	size_t n, cap;
	double max_power_w;     /* highest power seen between two samples (for wrap periods) */
	double last_power_w;    /* POWER domains: the previous reading in watts */
	bool invalid;           /* a read failed: no figures after invalid_t_ns */
	int64_t invalid_t_ns;
	char reason[256];
	/* transient backends: spans without readings (from the last good sample before the first
	 * failed read to the first good one after it; t1 = INT64_MAX while still failing) */
	struct pwr_gap {
		int64_t t0_ns, t1_ns;
		char reason[200];
	} *gaps;
	int n_gaps, cap_gaps;
	bool in_gap;
	size_t last_change;     /* stale_repeats domains: first sample with the current value */
};

/* A derived domain: the sum of disjoint domains sampled in the same round (package-0 +
 * package-1 on a two-socket machine). parts[] index the set's domains. */
#define PWR_MAX_SUM_PARTS 16
struct pwr_sum {
	int n_parts;
	int parts[PWR_MAX_SUM_PARTS];
};

struct pwr_set {
	struct pwr_dom **doms;       /* n_doms entries, each malloc'd (stable addresses) */
	struct pwr_series *series;   /* one per domain */
	struct pwr_sum *sums;        /* one per domain; n_parts 0 for real domains */
	int n_doms, cap_doms;
	struct pwr_unavailable *unav;
	int n_unav, cap_unav;
	int primary;
	char primary_why[512];
	const struct pwr_backend *discovering; /* the backend whose discover() is running */
	int interval_ms;

	pthread_mutex_t lock;        /* guards series, counters and the sampler flags */
	pthread_cond_t wake;         /* CLOCK_MONOTONIC; signalled on stop */
	pthread_t thread;
	bool running, stop;
	uint64_t rounds;             /* sample rounds taken */
	int64_t cpu_ns_total;        /* CLOCK_THREAD_CPUTIME_ID spent in those rounds */
	int64_t last_sleep_ns;       /* the sampler's most recent interval (adaptive) */
};

/* pwr_open with an explicit backend list (tests). */
int pwr_open_backends(const struct pwr_opts *o, const struct pwr_backend *const *list, int n_list,
		      struct pwr_set **out, char *err, size_t errlen);

/* sampler.c: allocates/frees the per-domain series; called by pwr_open/pwr_close. */
int pwr_sampler_init(struct pwr_set *s);
void pwr_sampler_free(struct pwr_set *s);

/* The sampler's current sleep between rounds in ns (adaptive; tests read it). */
int64_t pwr_sampler_next_sleep_ns(struct pwr_set *s);

#endif
