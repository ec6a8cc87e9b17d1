/*
 * tests/test_membw.c — engine/membw.c: the cache sizes read from a fake sysfs tree, the buffer
 * sizes of the DRAM and cache-resident bandwidth figures derived from them, and both
 * measurements on small buffers.
 */
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE "devices/system/cpu/cpu0/cache/"

static void put_cache(const char *root, int index, const char *level, const char *type, const char *size)
{
	char rel[128];

	snprintf(rel, sizeof rel, CACHE "index%d/level", index);
	fs_put(root, rel, level);
	snprintf(rel, sizeof rel, CACHE "index%d/type", index);
	fs_put(root, rel, type);
	snprintf(rel, sizeof rel, CACHE "index%d/size", index);
	fs_put(root, rel, size);
}

/* A Zen 4 core as Linux lists it: L1d, L1i, L2, L3; the largest data/unified level wins. */
static void test_cache_info_sysfs(void **state)
{
	char *root = tu_mkdtemp();
	struct eng_cache_info ci;

	(void)state;
	put_cache(root, 0, "1\n", "Data\n", "32K\n");
	put_cache(root, 1, "1\n", "Instruction\n", "32K\n");
	put_cache(root, 2, "2\n", "Unified\n", "1024K\n");
	put_cache(root, 3, "3\n", "Unified\n", "32768K\n");
	eng_cache_info(root, &ci);
	assert_int_equal(ci.llc_level, 3);
	assert_int_equal(ci.llc_bytes, (size_t)32 << 20);
	assert_non_null(strstr(ci.source, "sysfs"));
	/* DRAM: max(256 MiB, 4 x LLC); cache-resident: LLC / 2, at most 16 MiB */
	assert_int_equal(eng_membw_dram_bytes(&ci), ENG_MEMBW_DEFAULT_BYTES);
	assert_int_equal(eng_membw_cache_bytes(&ci), (size_t)16 << 20);
	tu_rmtree(root);
	free(root);
}

static void test_cache_info_sizes(void **state)
{
	char *root = tu_mkdtemp();
	struct eng_cache_info ci;

	(void)state;
	/* no L3: the L2 is the last level; an instruction cache never counts */
	put_cache(root, 0, "1\n", "Instruction\n", "64M\n");
	put_cache(root, 1, "2\n", "Unified\n", "1M\n");
	eng_cache_info(root, &ci);
	assert_int_equal(ci.llc_level, 2);
	assert_int_equal(ci.llc_bytes, (size_t)1 << 20);
	assert_int_equal(eng_membw_cache_bytes(&ci), (size_t)1 << 20); /* at least 1 MiB */

	/* a large L3: the DRAM buffer grows to 4x it */
	ci.llc_bytes = (size_t)96 << 20;
	assert_int_equal(eng_membw_dram_bytes(&ci), (size_t)384 << 20);
	assert_int_equal(eng_membw_cache_bytes(&ci), (size_t)16 << 20);
	tu_rmtree(root);
	free(root);
}

/* A fake root without cache files reports none, with the reason, and never the real machine's. */
static void test_cache_info_missing(void **state)
{
	char *root = tu_mkdtemp();
	struct eng_cache_info ci;

	(void)state;
	fs_put(root, "devices/system/cpu/cpu0/uevent", "");
	eng_cache_info(root, &ci);
	assert_int_equal(ci.llc_bytes, 0);
	assert_non_null(strstr(ci.source, "no cache sizes"));
	assert_int_equal(eng_membw_dram_bytes(&ci), ENG_MEMBW_DEFAULT_BYTES);
	assert_int_equal(eng_membw_cache_bytes(&ci), (size_t)1 << 20);
	tu_rmtree(root);
	free(root);
}

static void test_measure_small_buffers(void **state)
{
	struct eng_membw m;
	char err[256];

	(void)state;
	/* the DRAM measurement refuses a buffer the caches could hold */
	assert_int_equal(eng_membw_measure(1, (size_t)1 << 20, 2, &m, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "too small"));
	/* the cache-resident one takes it */
	assert_int_equal(eng_membw_measure_cached(2, (size_t)1 << 20, 3, &m, err, sizeof err), 0);
	assert_int_equal(m.n_samples, 3);
	assert_int_equal(m.n_threads, 2);
	assert_true(m.best_gbs > 0.0);
	assert_true(m.median_gbs <= m.best_gbs);
	assert_int_equal(eng_membw_measure_cached(1, 1024, 1, &m, err, sizeof err), -EINVAL);
}

/* The matvec measurement pairs every kernel pass with a read pass over the same weights; the
 * ratio is the median of the per-pass ratios, not a ratio of bests. */
static void test_matvec_paired(void **state)
{
	enum { REPS = 5 };
	struct eng_membw m;
	double r[REPS], tmp;
	char err[256];

	(void)state;
	assert_int_equal(eng_membw_matvec(ENG_TYPE_Q4_K, 64, 512, 2, (size_t)4 << 20, REPS, &m, err, sizeof err), 0);
	assert_int_equal(m.n_samples, REPS);
	for (int i = 0; i < REPS; i++) {
		assert_true(m.samples_gbs[i] > 0.0);
		assert_true(m.paired_read_gbs[i] > 0.0);
		assert_true(m.paired_read_gbs[i] <= m.paired_read_best_gbs);
		r[i] = m.samples_gbs[i] / m.paired_read_gbs[i];
	}
	for (int i = 0; i < REPS; i++) /* sort the ratios */
		for (int j = i + 1; j < REPS; j++)
			if (r[j] < r[i]) {
				tmp = r[i];
				r[i] = r[j];
				r[j] = tmp;
			}
	assert_true(m.paired_ratio_median == r[REPS / 2]);
	assert_int_equal(eng_membw_matvec(ENG_TYPE_Q4_K, 64, 500, 1, (size_t)1 << 20, 1, &m, err, sizeof err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_info_sysfs),
		cmocka_unit_test(test_cache_info_sizes),
		cmocka_unit_test(test_cache_info_missing),
		cmocka_unit_test(test_measure_small_buffers),
		cmocka_unit_test(test_matvec_paired),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
