/*
 * tests/test_threads.c — the persistent thread pool.
 *
 * Every dispatch must run fn exactly once for every ith in 0..nth-1, with the pool's nth, and
 * return only after all of them finished; the pool must keep doing so over many dispatches
 * (including ones separated by pauses long enough for the workers to fall asleep on the futex,
 * and jobs long enough for the caller to sleep), for 1..4 threads.
 */
#include "helpers/testutil.h"

#include "engine/kernels_impl.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_T 8

struct count_job {
	atomic_int runs[MAX_T];
	atomic_int bad_nth;
	atomic_int finished;
	int expect_nth;
	int sleep_us; /* per call, to make the caller wait for slow workers */
};

static void sleep_us(int us)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)us * 1000 };

	nanosleep(&ts, NULL);
}

static void count_fn(void *arg, int ith, int nth)
{
	struct count_job *j = arg;

	if (nth != j->expect_nth || ith < 0 || ith >= nth)
		atomic_fetch_add(&j->bad_nth, 1);
	else
		atomic_fetch_add(&j->runs[ith], 1);
	if (j->sleep_us && ith != 0)
		sleep_us(j->sleep_us);
	atomic_fetch_add(&j->finished, 1);
}

static void run_and_check(struct eng_pool *p, int nth, int n_dispatch, int job_sleep_us, int gap_us)
{
	struct count_job j;

	for (int d = 0; d < n_dispatch; d++) {
		memset(&j, 0, sizeof j);
		j.expect_nth = nth;
		j.sleep_us = job_sleep_us;
		eng_pool_run(p, count_fn, &j);
		/* all calls have returned when eng_pool_run returns */
		assert_int_equal(atomic_load(&j.finished), nth);
		assert_int_equal(atomic_load(&j.bad_nth), 0);
		for (int i = 0; i < nth; i++)
			if (atomic_load(&j.runs[i]) != 1) {
				fprintf(stderr, "dispatch %d: ith %d of %d ran %d times\n", d, i, nth,
					atomic_load(&j.runs[i]));
				fail();
			}
		if (gap_us)
			sleep_us(gap_us);
	}
}

static void test_each_ith_once(void **state)
{
	(void)state;
	for (int nth = 1; nth <= 4; nth++) {
		struct eng_pool *p = eng_pool_new(nth);

		assert_non_null(p);
		assert_int_equal(eng_pool_threads(p), nth);
		run_and_check(p, nth, nth <= 2 ? 20000 : 2000, 0, 0); /* back to back */
		eng_pool_free(p);
	}
}

/* Pauses between dispatches longer than the spin: workers sleep on the futex and must wake. */
static void test_wake_after_sleep(void **state)
{
	(void)state;
	for (int nth = 2; nth <= 4; nth++) {
		struct eng_pool *p = eng_pool_new(nth);

		assert_non_null(p);
		run_and_check(p, nth, 30, 0, 3000);
		eng_pool_free(p);
	}
}

/* Workers slower than the caller's spin: the caller sleeps and must be woken by the last one. */
static void test_caller_waits_for_slow_workers(void **state)
{
	struct eng_pool *p = eng_pool_new(3);

	(void)state;
	assert_non_null(p);
	run_and_check(p, 3, 20, 5000, 0);
	eng_pool_free(p);
}

/* Work split by (ith, nth) as the engine does it covers every row exactly once. */
struct rows_job {
	int n;
	atomic_int *hits;
};

static void rows_fn(void *arg, int ith, int nth)
{
	struct rows_job *j = arg;
	int per = (j->n + nth - 1) / nth;

	for (int r = ith * per; r < (ith + 1) * per && r < j->n; r++)
		atomic_fetch_add(&j->hits[r], 1);
}

static void test_rows_split(void **state)
{
	struct eng_pool *p = eng_pool_new(3);
	struct rows_job j = { .n = 1001 };

	(void)state;
	assert_non_null(p);
	j.hits = calloc((size_t)j.n, sizeof *j.hits);
	assert_non_null(j.hits);
	for (int k = 0; k < 100; k++)
		eng_pool_run(p, rows_fn, &j);
	for (int r = 0; r < j.n; r++)
		assert_int_equal(atomic_load(&j.hits[r]), 100);
	free(j.hits);
	eng_pool_free(p);
}

static void test_bad_sizes_and_scratch(void **state)
{
	struct eng_pool *p;
	char *s1, *s2;

	(void)state;
	assert_null(eng_pool_new(0));
	assert_null(eng_pool_new(-3));
	eng_pool_free(NULL); /* allowed, like free() */
	assert_int_equal(eng_pool_threads(NULL), 1);
	p = eng_pool_new(1);
	assert_non_null(p);
	s1 = eng_pool_scratch(p, 100);
	assert_non_null(s1);
	assert_int_equal((uintptr_t)s1 % 64, 0);
	memset(s1, 1, 100);
	s2 = eng_pool_scratch(p, 8u << 20); /* grows */
	assert_non_null(s2);
	assert_int_equal((uintptr_t)s2 % 64, 0);
	memset(s2, 2, 8u << 20);
	assert_ptr_equal(eng_pool_scratch(p, 1000), s2); /* smaller requests reuse it */
	eng_pool_free(p);
}

/* Dynamic jobs: items claimed from a counter; every item is done exactly once per dispatch whether
 * or not every worker took part, and mixing dynamic and ordinary dispatches keeps both right. */
struct dyn_job {
	int n_items;
	atomic_int next;
	atomic_int *done;
	atomic_int threads_in;
};

static void dyn_fn(void *arg, int ith, int nth)
{
	struct dyn_job *j = arg;
	int k;

	(void)ith;
	(void)nth;
	atomic_fetch_add(&j->threads_in, 1);
	while ((k = atomic_fetch_add(&j->next, 1)) < j->n_items)
		atomic_fetch_add(&j->done[k], 1);
}

static void test_dynamic_dispatch(void **state)
{
	(void)state;
	for (int nth = 1; nth <= 4; nth++) {
		struct eng_pool *p = eng_pool_new(nth);
		struct dyn_job j = { .n_items = 37 };

		assert_non_null(p);
		j.done = calloc((size_t)j.n_items, sizeof *j.done);
		assert_non_null(j.done);
		for (int d = 0; d < 3000; d++) {
			atomic_store(&j.next, 0);
			atomic_store(&j.threads_in, 0);
			eng_pool_run_dynamic(p, dyn_fn, &j);
			for (int k = 0; k < j.n_items; k++)
				if (atomic_load(&j.done[k]) != d + 1) {
					fprintf(stderr, "nth %d dispatch %d: item %d done %d times\n", nth, d, k,
						atomic_load(&j.done[k]) - d);
					fail();
				}
			/* the caller always takes part; skipped workers never enter */
			assert_true(atomic_load(&j.threads_in) >= 1 && atomic_load(&j.threads_in) <= nth);
			if (d % 100 == 0)
				run_and_check(p, nth, 2, 0, d % 200 ? 0 : 3000); /* ordinary jobs in between */
		}
		free(j.done);
		eng_pool_free(p);
	}
}

/* A dispatch from inside a job runs the inner job on that thread alone instead of deadlocking. */
struct nested_job {
	struct eng_pool *p;
	atomic_int inner_runs;
	atomic_int inner_bad;
};

static void inner_fn(void *arg, int ith, int nth)
{
	struct nested_job *j = arg;

	if (ith != 0 || nth != 1)
		atomic_fetch_add(&j->inner_bad, 1);
	atomic_fetch_add(&j->inner_runs, 1);
}

static void outer_fn(void *arg, int ith, int nth)
{
	struct nested_job *j = arg;

	(void)ith;
	(void)nth;
	eng_pool_run(j->p, inner_fn, j);
}

static void test_nested_dispatch(void **state)
{
	struct nested_job j;

	(void)state;
	memset(&j, 0, sizeof j);
	j.p = eng_pool_new(3);
	assert_non_null(j.p);
	for (int k = 0; k < 100; k++)
		eng_pool_run(j.p, outer_fn, &j);
	assert_int_equal(atomic_load(&j.inner_runs), 300); /* once per outer thread per dispatch */
	assert_int_equal(atomic_load(&j.inner_bad), 0);
	run_and_check(j.p, 3, 10, 0, 0); /* the pool still works normally afterwards */
	eng_pool_free(j.p);
}

/* Many pools created and destroyed: no thread or memory leaks (ASan checks the latter). */
static void test_create_destroy(void **state)
{
	(void)state;
	for (int k = 0; k < 50; k++) {
		struct eng_pool *p = eng_pool_new(1 + k % 4);

		assert_non_null(p);
		if (k % 2)
			run_and_check(p, 1 + k % 4, 3, 0, 0);
		eng_pool_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_ith_once),
		cmocka_unit_test(test_wake_after_sleep),
		cmocka_unit_test(test_caller_waits_for_slow_workers),
		cmocka_unit_test(test_rows_split),
		cmocka_unit_test(test_bad_sizes_and_scratch),
		cmocka_unit_test(test_dynamic_dispatch),
		cmocka_unit_test(test_nested_dispatch),
		cmocka_unit_test(test_create_destroy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
