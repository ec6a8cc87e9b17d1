/*
 * power/sampler.c — the sampling thread: reads every domain of a set at an interval, keeps every
 * sample {t_ns, raw, unfolded energy_j}, and integrates any window.
 *
 * Counters are differenced modulo their range (pwr_counter_delta) and converted to joules once;
 * power readings are integrated by the trapezoid rule. The interval shrinks when a counter is
 * within 10% of its range of wrapping, and never exceeds a quarter of the shortest wrap period at
 * the highest power seen, so a wrap is never missed while samples keep coming; a window in which
 * two samples were further apart than one wrap period at the highest power seen is flagged
 * `wrap_suspect`. A failed read marks the domain invalid from then on, with the reason; windows
 * after it have no energy (never 0 J).
 */
#include "power/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_SLEEP_NS 1000000LL /* 1 ms: RAPL itself updates about every ms */
#define SLOW_READ_NS 500000LL  /* a read slower than 0.5 ms is retried for a tighter timestamp */
/* Counters tick in steps (RAPL about every ms), so power over a shorter gap is mostly step noise:
 * only gaps of at least 5 ms feed the highest power seen (and so the wrap period). */
#define MIN_POWER_DT_S 0.005

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int pwr_sampler_init(struct pwr_set *s)
{
	pthread_condattr_t ca;
	int rc;

	s->series = calloc((size_t)s->n_doms + 1, sizeof *s->series);
	if (!s->series)
		return -ENOMEM;
	rc = pthread_mutex_init(&s->lock, NULL);
	if (rc)
		return -rc;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (rc) {
		pthread_mutex_destroy(&s->lock);
		return -rc;
	}
	s->last_sleep_ns = (int64_t)s->interval_ms * 1000000;
	return 0;
}

void pwr_sampler_free(struct pwr_set *s)
{
	if (!s->series)
		return;
	pwr_sampler_stop(s);
	for (int i = 0; i < s->n_doms; i++) {
		free(s->series[i].t_ns);
		free(s->series[i].raw);
		free(s->series[i].energy_j);
		free(s->series[i].gaps);
	}
	free(s->series);
	s->series = NULL;
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
}

static int series_push(struct pwr_series *ser, int64_t t_ns, uint64_t raw, double energy_j)
{
	if (ser->n == ser->cap) {
		size_t cap = ser->cap ? ser->cap * 2 : 256;
		int64_t *t = realloc(ser->t_ns, cap * sizeof *t);
		uint64_t *r;
		double *e;

		if (!t)
			return -ENOMEM;
		ser->t_ns = t;
		r = realloc(ser->raw, cap * sizeof *r);
		if (!r)
			return -ENOMEM;
		ser->raw = r;
		e = realloc(ser->energy_j, cap * sizeof *e);
		if (!e)
			return -ENOMEM;
		ser->energy_j = e;
		ser->cap = cap;
	}
	ser->t_ns[ser->n] = t_ns;
	ser->raw[ser->n] = raw;
	ser->energy_j[ser->n] = energy_j;
	ser->n++;
	return 0;
}

static void invalidate(struct pwr_series *ser, int64_t t_ns, const char *reason)
{
	ser->invalid = true;
	ser->invalid_t_ns = t_ns;
	pwr_strf(ser->reason, sizeof ser->reason, "%s", reason);
}

/* A transient backend's failed read: opens a gap (from the last good sample) unless one is open. */
static void gap_open(struct pwr_series *ser, int64_t t_ns, const char *reason)
{
	struct pwr_gap *g;

	if (ser->in_gap)
		return;
	if (ser->n_gaps == ser->cap_gaps) {
		int cap = ser->cap_gaps ? ser->cap_gaps * 2 : 8;
		struct pwr_gap *ng = realloc(ser->gaps, (size_t)cap * sizeof *ng);

		if (!ng) {
			invalidate(ser, t_ns, "out of memory while recording a gap in the readings");
			return;
		}
		ser->gaps = ng;
		ser->cap_gaps = cap;
	}
	g = &ser->gaps[ser->n_gaps++];
	g->t0_ns = ser->n ? ser->t_ns[ser->n - 1] : t_ns;
	g->t1_ns = INT64_MAX;
	pwr_strf(g->reason, sizeof g->reason, "%s", reason);
	ser->in_gap = true;
}

/* Adds one reading of a real domain: unfolds the counter or integrates the power. */
static void take_reading(struct pwr_dom *d, struct pwr_series *ser)
{
	uint64_t raw = 0;
	int64_t a, b, t;
	double e = 0;
	int rc;

	/* The reading is stamped with the middle of the read call, so a read that took long (the
	 * thread was preempted, the driver was slow) has an uncertain time: read again, up to
	 * twice, and keep the tightest. */
	d->sample_t_ns = 0;
	a = pwr_now_ns();
	rc = d->backend->read(d, &raw);
	b = pwr_now_ns();
	for (int attempt = 1; rc == 0 && !d->sample_t_ns && b - a > SLOW_READ_NS && attempt < 3; attempt++) {
		uint64_t raw2 = 0;
		int64_t a2 = pwr_now_ns();
		int rc2 = d->backend->read(d, &raw2);
		int64_t b2 = pwr_now_ns();

		if (rc2 < 0) {
			rc = rc2;
			a = a2;
			b = b2;
		} else if (b2 - a2 < b - a) {
			raw = raw2;
			a = a2;
			b = b2;
		}
	}
	t = a + (b - a) / 2;
	if (rc == 0 && d->sample_t_ns) {
		/* the backend's own instant; kept in order with the samples before it */
		t = d->sample_t_ns;
		if (ser->n > 0 && t < ser->t_ns[ser->n - 1])
			t = ser->t_ns[ser->n - 1];
	}
	if (rc < 0) {
		char why[256];

		if (d->backend->explain)
			d->backend->explain(d, rc, why, sizeof why);
		else
			pwr_strf(why, sizeof why, "%s: read failed: %s%s", d->desc.id, strerror(-rc),
				 rc == -ENOENT || rc == -ENODEV ? " (the sensor disappeared)" : "");
		if (d->backend->transient)
			gap_open(ser, t, why);
		else
			invalidate(ser, t, why);
		return;
	}
	if (ser->in_gap) {
		ser->gaps[ser->n_gaps - 1].t1_ns = t;
		ser->in_gap = false;
	}
	if (ser->n > 0) {
		double dt_s = (double)(t - ser->t_ns[ser->n - 1]) / 1e9;

		if (d->value_kind == PWR_VALUE_POWER) {
			double p = (double)raw * d->watts_per_unit;

			e = (ser->last_power_w + p) / 2 * dt_s;
			ser->last_power_w = p;
			if (p > ser->max_power_w)
				ser->max_power_w = p;
		} else {
			e = (double)pwr_counter_delta(ser->raw[ser->n - 1], raw, d->range_raw) * d->joules_per_unit;
			if (dt_s >= MIN_POWER_DT_S && e / dt_s > ser->max_power_w)
				ser->max_power_w = e / dt_s;
		}
		e += ser->energy_j[ser->n - 1];
		if (d->stale_repeats && raw != ser->raw[ser->n - 1]) {
			/* a meter's counter that was stale since sample lc: the energy of this step
			 * accrued between the two distinct readings, not in the last poll */
			size_t lc = ser->last_change;
			double e0 = ser->energy_j[lc], span = (double)(t - ser->t_ns[lc]);

			for (size_t j = lc + 1; d->value_kind == PWR_VALUE_COUNTER && span > 0 && j < ser->n; j++)
				ser->energy_j[j] = e0 + (e - e0) * (double)(ser->t_ns[j] - ser->t_ns[lc]) / span;
			ser->last_change = ser->n;
		}
	} else if (d->value_kind == PWR_VALUE_POWER) {
		ser->last_power_w = (double)raw * d->watts_per_unit;
		ser->max_power_w = ser->last_power_w;
	}
	if (series_push(ser, t, raw, e) < 0)
		invalidate(ser, t, "out of memory while storing samples");
}

/* A derived sum: one sample from the latest sample of each part, if all parts read this round. */
static void take_sum(struct pwr_set *s, int i, uint64_t round_n)
{
	const struct pwr_sum *sum = &s->sums[i];
	struct pwr_series *ser = &s->series[i];
	double e = 0;
	int64_t t = 0;

	(void)round_n;
	for (int k = 0; k < sum->n_parts; k++) {
		const struct pwr_series *p = &s->series[sum->parts[k]];

		if (p->invalid || p->n == 0) {
			char why[256];

			pwr_strf(why, sizeof why, "part %s failed: %s", s->doms[sum->parts[k]]->desc.id,
				 p->invalid ? p->reason : "no sample");
			invalidate(ser, pwr_now_ns(), why);
			return;
		}
		e += p->energy_j[p->n - 1];
		t += p->t_ns[p->n - 1] / sum->n_parts;
	}
	if (ser->n > 0) {
		double de = e - ser->energy_j[ser->n - 1], dt_s = (double)(t - ser->t_ns[ser->n - 1]) / 1e9;

		if (dt_s >= MIN_POWER_DT_S && de / dt_s > ser->max_power_w)
			ser->max_power_w = de / dt_s;
		if (t < ser->t_ns[ser->n - 1])
			t = ser->t_ns[ser->n - 1]; /* keep timestamps ordered */
	}
	if (series_push(ser, t, 0, e) < 0)
		invalidate(ser, t, "out of memory while storing samples");
}

/* Reads every domain once. Caller holds s->lock. */
static void sample_round(struct pwr_set *s)
{
	int64_t c0 = thread_cpu_ns();

	for (int i = 0; i < s->n_doms; i++)
		if (s->sums[i].n_parts == 0 && !s->series[i].invalid)
			take_reading(s->doms[i], &s->series[i]);
	for (int i = 0; i < s->n_doms; i++)
		if (s->sums[i].n_parts > 0 && !s->series[i].invalid)
			take_sum(s, i, s->rounds);
	s->cpu_ns_total += thread_cpu_ns() - c0;
	s->rounds++;
}

/* The next interval: the configured one, a tenth of it when a counter is within 10% of its
 * range of wrapping, and at most a quarter of the shortest wrap period at the highest power
 * seen. Caller holds s->lock. */
static int64_t next_sleep(struct pwr_set *s)
{
	int64_t base = (int64_t)s->interval_ms * 1000000, sleep_ns = base;

	for (int i = 0; i < s->n_doms; i++) {
		const struct pwr_dom *d = s->doms[i];
		const struct pwr_series *ser = &s->series[i];
		double range_j, left;

		if (s->sums[i].n_parts || d->value_kind != PWR_VALUE_COUNTER || !d->range_raw || ser->invalid ||
		    ser->n == 0)
			continue;
		left = (double)(d->range_raw - ser->raw[ser->n - 1] % d->range_raw);
		if (left < 0.1 * (double)d->range_raw && base / 10 < sleep_ns)
			sleep_ns = base / 10;
		range_j = (double)d->range_raw * d->joules_per_unit;
		if (ser->max_power_w > 0) {
			double quarter_ns = range_j / ser->max_power_w * 1e9 / 4;

			if (quarter_ns < (double)sleep_ns)
				sleep_ns = (int64_t)quarter_ns;
		}
	}
	if (sleep_ns < MIN_SLEEP_NS)
		sleep_ns = MIN_SLEEP_NS;
	return sleep_ns;
}

int64_t pwr_sampler_next_sleep_ns(struct pwr_set *s)
{
	int64_t v;

	pthread_mutex_lock(&s->lock);
	v = next_sleep(s);
	pthread_mutex_unlock(&s->lock);
	return v;
}

static void *sampler_main(void *arg)
{
	struct pwr_set *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		int64_t sleep_ns = next_sleep(s), deadline = pwr_now_ns() + sleep_ns;
		struct timespec ts = { (time_t)(deadline / 1000000000), (long)(deadline % 1000000000) };

		s->last_sleep_ns = sleep_ns;
		while (!s->stop && pwr_now_ns() < deadline)
			pthread_cond_timedwait(&s->wake, &s->lock, &ts);
		if (s->stop)
			break;
		sample_round(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int pwr_sampler_start(struct pwr_set *s, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->running) {
		pthread_mutex_unlock(&s->lock);
		pwr_strf(err, errlen, "the power sampler is already running");
		return -EALREADY;
	}
	sample_round(s);
	s->stop = false;
	rc = pthread_create(&s->thread, NULL, sampler_main, s);
	if (rc) {
		pthread_mutex_unlock(&s->lock);
		pwr_strf(err, errlen, "cannot start the power sampler thread: %s", strerror(rc));
		return -rc;
	}
	s->running = true;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void pwr_sampler_stop(struct pwr_set *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	if (!s->running) {
		pthread_mutex_unlock(&s->lock);
		return;
	}
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_lock(&s->lock);
	s->running = false;
	sample_round(s);
	pthread_mutex_unlock(&s->lock);
}

void pwr_sample_now(struct pwr_set *s)
{
	pthread_mutex_lock(&s->lock);
	sample_round(s);
	pthread_mutex_unlock(&s->lock);
}

size_t pwr_samples(struct pwr_set *s, int i, struct pwr_sample **out)
{
	const struct pwr_series *ser;
	struct pwr_sample *v;
	size_t n;

	*out = NULL;
	if (!s || i < 0 || i >= s->n_doms)
		return 0;
	pthread_mutex_lock(&s->lock);
	ser = &s->series[i];
	n = ser->n;
	v = n ? malloc(n * sizeof *v) : NULL;
	if (!v)
		n = 0;
	for (size_t k = 0; k < n; k++) {
		v[k].t_ns = ser->t_ns[k];
		v[k].energy_j = ser->energy_j[k];
		v[k].raw = ser->raw[k];
	}
	pthread_mutex_unlock(&s->lock);
	*out = v;
	return n;
}

bool pwr_domain_valid(struct pwr_set *s, int i, char *reason, size_t len)
{
	bool ok;

	if (!s || i < 0 || i >= s->n_doms) {
		if (reason && len)
			pwr_strf(reason, len, "no such domain");
		return false;
	}
	pthread_mutex_lock(&s->lock);
	ok = !s->series[i].invalid;
	if (reason && len)
		pwr_strf(reason, len, "%s", ok ? "" : s->series[i].reason);
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* Index of the last sample at or before t (-1 if none). */
static ptrdiff_t find_le(const struct pwr_series *ser, int64_t t)
{
	ptrdiff_t lo = 0, hi = (ptrdiff_t)ser->n - 1, ans = -1;

	while (lo <= hi) {
		ptrdiff_t mid = lo + (hi - lo) / 2;

		if (ser->t_ns[mid] <= t) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

/* Cumulative energy at t, interpolated between the samples around it (t inside the series). */
static double energy_at(const struct pwr_series *ser, int64_t t)
{
	ptrdiff_t k = find_le(ser, t);
	double f;

	if (k < 0)
		return ser->energy_j[0];
	if ((size_t)k + 1 >= ser->n || ser->t_ns[k] == t)
		return ser->energy_j[k];
	f = (double)(t - ser->t_ns[k]) / (double)(ser->t_ns[k + 1] - ser->t_ns[k]);
	return ser->energy_j[k] + f * (ser->energy_j[k + 1] - ser->energy_j[k]);
}

/* Whether two samples of domain i around [t0, t1] were further apart than one wrap period at
 * the highest power seen. Sums ask their parts. */
static bool window_wrap_suspect(const struct pwr_set *s, int i, int64_t t0, int64_t t1)
{
	const struct pwr_dom *d = s->doms[i];
	const struct pwr_series *ser = &s->series[i];
	double period_ns;
	ptrdiff_t k0, k1;

	if (s->sums[i].n_parts) {
		for (int k = 0; k < s->sums[i].n_parts; k++)
			if (window_wrap_suspect(s, s->sums[i].parts[k], t0, t1))
				return true;
		return false;
	}
	if (d->value_kind != PWR_VALUE_COUNTER || !d->range_raw || ser->max_power_w <= 0 || ser->n < 2)
		return false;
	period_ns = (double)d->range_raw * d->joules_per_unit / ser->max_power_w * 1e9;
	k0 = find_le(ser, t0);
	k1 = find_le(ser, t1);
	if (k0 < 0)
		k0 = 0;
	if ((size_t)k1 + 1 < ser->n)
		k1++;
	for (ptrdiff_t k = k0; k < k1; k++)
		if ((double)(ser->t_ns[k + 1] - ser->t_ns[k]) > period_ns)
			return true;
	return false;
}

/*
 * A meter's power domain with an energy counter next to it: the trapezoid integral of power
 * samples errs by up to about sum |P_k - P_k-1| x dt_k / 2 over the window (half the spread
 * between its left and right Riemann sums), the counter by one step of its resolution at each
 * end. When the counter's error is the smaller, and it read without gaps, the window takes its
 * energy. Caller holds s->lock.
 */
static void prefer_counter(struct pwr_set *s, int i, int64_t t0, int64_t t1, struct pwr_energy *e)
{
	const struct pwr_dom *d = s->doms[i];
	const struct pwr_series *ser = &s->series[i], *cs;
	ptrdiff_t k0, k1;
	double err_int = 0, err_cnt;
	int c = -1;

	for (int k = 0; k < s->n_doms; k++)
		if (s->doms[k] == d->counter)
			c = k;
	if (c < 0 || d->value_kind != PWR_VALUE_POWER)
		return;
	cs = &s->series[c];
	/* the counter is read right after the power in each round (the same reply): edges within
	 * 10 ms are taken at its nearest sample */
	if (cs->n < 2 || cs->t_ns[0] > t0 + 10000000 || cs->t_ns[cs->n - 1] < t1 - 10000000)
		return;
	int64_t c0 = t0 < cs->t_ns[0] ? cs->t_ns[0] : t0, c1 = t1 > cs->t_ns[cs->n - 1] ? cs->t_ns[cs->n - 1] : t1;

	for (int g = 0; g < cs->n_gaps; g++)
		if (cs->gaps[g].t0_ns < t1 && cs->gaps[g].t1_ns > t0)
			return;
	k0 = find_le(ser, t0);
	k1 = find_le(ser, t1);
	if (k0 < 0)
		k0 = 0;
	if ((size_t)k1 + 1 < ser->n)
		k1++;
	for (ptrdiff_t k = k0 + 1; k <= k1; k++)
		err_int += fabs(((double)ser->raw[k] - (double)ser->raw[k - 1]) * d->watts_per_unit) *
			   (double)(ser->t_ns[k] - ser->t_ns[k - 1]) / 1e9 / 2;
	err_cnt = 2 * d->counter->desc.resolution_j;
	if (err_cnt >= err_int)
		return;
	e->energy_j = energy_at(cs, c1) - energy_at(cs, c0);
	if (t1 > t0)
		e->avg_power_w = e->energy_j / ((double)(t1 - t0) / 1e9);
	e->from_counter = true;
}

/* Sampling time after which a measured counter that never moved is treated as reporting nothing. */
#define STUCK_NS 1000000000LL

int pwr_energy_window(struct pwr_set *s, int i, int64_t t0_ns, int64_t t1_ns, struct pwr_energy *e)
{
	const struct pwr_series *ser;
	int64_t first, last;

	memset(e, 0, sizeof *e);
	if (!s || i < 0 || i >= s->n_doms) {
		pwr_strf(e->reason, sizeof e->reason, "no such energy domain (%d)", i);
		return -EINVAL;
	}
	if (t1_ns < t0_ns) {
		pwr_strf(e->reason, sizeof e->reason, "window ends before it starts");
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	ser = &s->series[i];
	if (ser->n == 0) {
		pwr_strf(e->reason, sizeof e->reason, "%s",
			 ser->invalid ? ser->reason : "no samples yet (the sampler was not started)");
		goto out;
	}
	for (int g = 0; g < ser->n_gaps; g++) {
		const struct pwr_gap *gp = &ser->gaps[g];

		if (gp->t0_ns < t1_ns && gp->t1_ns > t0_ns) {
			if (gp->t1_ns == INT64_MAX)
				pwr_strf(e->reason, sizeof e->reason,
					 "no readings for the last %.2f s: %s",
					 (double)(t1_ns - gp->t0_ns) / 1e9, gp->reason);
			else
				pwr_strf(e->reason, sizeof e->reason,
					 "no readings for %.2f s: %s",
					 (double)(gp->t1_ns - gp->t0_ns) / 1e9, gp->reason);
			goto out;
		}
	}
	first = ser->t_ns[0];
	last = ser->t_ns[ser->n - 1];
	if (t1_ns > last && ser->invalid) {
		pwr_strf(e->reason, sizeof e->reason, "stopped reading %.3f s before the window ended: %s",
			 (double)(t1_ns - ser->invalid_t_ns) / 1e9, ser->reason);
		goto out;
	}
	if (t0_ns < first) {
		pwr_strf(e->reason, sizeof e->reason,
			 "the window starts %.3f ms before the first sample (start the sampler earlier)",
			 (double)(first - t0_ns) / 1e6);
		goto out;
	}
	if (t1_ns > last) {
		pwr_strf(e->reason, sizeof e->reason,
			 "the window ends %.3f ms after the last sample (take a sample at its end)",
			 (double)(t1_ns - last) / 1e6);
		goto out;
	}
	/* A measured counter that has not moved at all over a second or more of sampling is not an
	 * energy figure of 0 J: some VMs expose the RAPL event (perf's power/energy-psys, say) and
	 * always read it as 0. Real RAPL counts within a millisecond on an idle machine. */
	if (s->doms[i]->value_kind == PWR_VALUE_COUNTER && s->doms[i]->desc.kind == PWR_MEASURED &&
	    last - first >= STUCK_NS && ser->raw[ser->n - 1] == ser->raw[0]) {
		pwr_strf(e->reason, sizeof e->reason,
			 "%s never advanced in %.1f s of sampling (%zu readings, all %llu): the counter "
			 "is exposed but reports no energy, as in some VMs",
			 s->doms[i]->desc.id, (double)(last - first) / 1e9, ser->n,
			 (unsigned long long)ser->raw[0]);
		goto out;
	}
	e->energy_j = energy_at(ser, t1_ns) - energy_at(ser, t0_ns);
	if (t1_ns > t0_ns)
		e->avg_power_w = e->energy_j / ((double)(t1_ns - t0_ns) / 1e9);
	{
		ptrdiff_t k1 = find_le(ser, t1_ns), k0 = find_le(ser, t0_ns - 1);

		e->n_samples = (int)(k1 - k0);
		if (s->doms[i]->stale_repeats) {
			/* a repeated reading is the meter's stale value, not a new sample */
			e->n_samples = 0;
			for (ptrdiff_t k = k0 + 1; k <= k1; k++)
				if (k == 0 || ser->raw[k] != ser->raw[k - 1])
					e->n_samples++;
		}
	}
	e->wrap_suspect = window_wrap_suspect(s, i, t0_ns, t1_ns);
	e->valid = true;
	if (s->doms[i]->counter)
		prefer_counter(s, i, t0_ns, t1_ns, e);
out:
	pthread_mutex_unlock(&s->lock);
	return 0;
}

double pwr_sampler_cpu_ns_per_sample(const struct pwr_set *s)
{
	struct pwr_set *m = (struct pwr_set *)s;
	double v;

	pthread_mutex_lock(&m->lock);
	v = m->rounds ? (double)m->cpu_ns_total / (double)m->rounds : 0;
	pthread_mutex_unlock(&m->lock);
	return v;
}

uint64_t pwr_sampler_count(const struct pwr_set *s)
{
	struct pwr_set *m = (struct pwr_set *)s;
	uint64_t v;

	pthread_mutex_lock(&m->lock);
	v = m->rounds;
	pthread_mutex_unlock(&m->lock);
	return v;
}

int pwr_sampler_interval_ms(const struct pwr_set *s)
{
	return s->interval_ms;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static double median_ns(int64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_i64);
	return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

int pwr_update_period(struct pwr_set *s, int i, struct pwr_update *u)
{
	const struct pwr_series *ser;
	int64_t *polls = NULL, *changes = NULL, last_change = -1;
	size_t np = 0, nc = 0;
	int rc = 0;

	memset(u, 0, sizeof *u);
	if (!s || i < 0 || i >= s->n_doms) {
		pwr_strf(u->reason, sizeof u->reason, "no such domain");
		return -EINVAL;
	}
	if (s->sums[i].n_parts) {
		pwr_strf(u->reason, sizeof u->reason, "a sum of other domains (see its parts)");
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	ser = &s->series[i];
	if (ser->n >= 2) {
		polls = malloc((ser->n - 1) * sizeof *polls);
		changes = malloc((ser->n - 1) * sizeof *changes);
	}
	if (ser->n >= 2 && (!polls || !changes)) {
		pwr_strf(u->reason, sizeof u->reason, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (size_t k = 1; k < ser->n; k++) {
		polls[np++] = ser->t_ns[k] - ser->t_ns[k - 1];
		if (ser->raw[k] == ser->raw[k - 1])
			continue;
		u->n_changes++;
		if (last_change >= 0)
			changes[nc++] = ser->t_ns[k] - last_change;
		last_change = ser->t_ns[k];
	}
	if (np)
		u->poll_s = median_ns(polls, np) / 1e9;
	if (nc < 2) {
		pwr_strf(u->reason, sizeof u->reason,
			 "%d change%s of the reading in %zu samples: too few to tell how often it updates",
			 u->n_changes, u->n_changes == 1 ? "" : "s", ser->n);
		goto out;
	}
	u->period_s = median_ns(changes, nc) / 1e9;
	u->known = true;
	u->at_poll_rate = u->period_s <= 1.5 * u->poll_s;
out:
	pthread_mutex_unlock(&s->lock);
	free(polls);
	free(changes);
	return rc;
}
