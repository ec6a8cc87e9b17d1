/*
 * tests/test_perf_power.c — the perf_event power-PMU backend against fake PMU directories, with
 * perf_event_open/read/close injected: event parsing, scale and unit, one domain per cpumask CPU,
 * fake counter values, paranoid and missing-PMU reasons.
 */
#include "power/internal.h"
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/sysfs/"

/* Fake counters: fd = 100 + index of the open; value per fd. */
#define MAX_FAKE 16
static struct {
	uint32_t type;
	uint64_t config;
	int cpu;
	uint64_t value;
	bool closed;
} fake[MAX_FAKE];
static int n_fake;
static int open_err; /* non-zero: perf_open fails with -open_err */

static int fake_open(void *attr, int cpu)
{
	const struct perf_event_attr *a = attr;

	if (open_err)
		return -open_err;
	assert_true(n_fake < MAX_FAKE);
	assert_int_equal(a->size, sizeof *a);
	fake[n_fake].type = a->type;
	fake[n_fake].config = a->config;
	fake[n_fake].cpu = cpu;
	fake[n_fake].value = 0;
	fake[n_fake].closed = false;
	return 100 + n_fake++;
}

static ssize_t fake_read(int fd, void *buf, size_t n)
{
	int i = fd - 100;

	assert_true(i >= 0 && i < n_fake);
	assert_false(fake[i].closed);
	assert_int_equal(n, 8);
	memcpy(buf, &fake[i].value, 8);
	return 8;
}

static int fake_close(int fd)
{
	int i = fd - 100;

	assert_true(i >= 0 && i < n_fake);
	fake[i].closed = true;
	return 0;
}

static const struct pwr_perf_ops fake_ops = {fake_open, fake_read, fake_close};

static int setup(void **state)
{
	(void)state;
	n_fake = 0;
	open_err = 0;
	pwr_perf_set_ops(&fake_ops);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pwr_perf_set_ops(NULL);
	return 0;
}

static struct pwr_set *open_perf(const char *root)
{
	struct pwr_opts o = {.sysfs_root = root};

	return fs_open_one(&pwr_backend_perf, &o);
}

static int fake_of(uint64_t config, int cpu)
{
	for (int i = 0; i < n_fake; i++)
		if (fake[i].config == config && fake[i].cpu == cpu)
			return i;
	return -1;
}

static void test_intel_client_pmu(void **state)
{
	(void)state;
	struct pwr_set *s = open_perf(FIX "perf-intel");
	uint64_t a, b;

	/* pkg, cores, ram, psys on the single cpumask CPU */
	assert_int_equal(s->n_doms, 4);
	assert_int_equal(n_fake, 4);
	int f = fake_of(0x02, 0);
	assert_true(f >= 0);
	assert_int_equal(fake[f].type, 23); /* the PMU's dynamic type */
	struct pwr_dom *pkg = fs_dom(s, "perf:package-0");
	assert_non_null(pkg);
	assert_non_null(fs_dom(s, "perf:core-0"));
	assert_non_null(fs_dom(s, "perf:dram-0"));
	assert_non_null(fs_dom(s, "perf:psys"));
	assert_true(pkg->joules_per_unit == 2.3283064365386962890625e-10); /* 2^-32 J */
	assert_int_equal(pkg->range_raw, 0);
	assert_non_null(strstr(fs_dom(s, "perf:dram-0")->desc.covers, "separate from package"));

	/* 10 J in 2^-32 J units, across the 32-bit boundary the MSR would have wrapped at */
	fake[f].value = 0xFFFFF000ull;
	assert_int_equal(pkg->backend->read(pkg, &a), 0);
	fake[f].value = 0xFFFFF000ull + 10ull * 4294967296ull;
	assert_int_equal(pkg->backend->read(pkg, &b), 0);
	double j = (double)pwr_counter_delta(a, b, pkg->range_raw) * pkg->joules_per_unit;
	assert_true(j == 10.0);
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, "perf:psys");
	pwr_close(s);
	for (int i = 0; i < n_fake; i++)
		assert_true(fake[i].closed);
}

static void test_two_sockets_one_cpu_each(void **state)
{
	(void)state;
	struct pwr_set *s = open_perf(FIX "perf-2socket");
	uint64_t raw;

	/* pkg and ram, each on CPU 0 and CPU 36, plus the core's packages sum */
	assert_int_equal(n_fake, 4);
	assert_true(fake_of(0x02, 36) >= 0);
	assert_true(fake_of(0x03, 0) >= 0);
	struct pwr_dom *p1 = fs_dom(s, "perf:package-1");
	assert_non_null(p1);
	assert_non_null(fs_dom(s, "perf:dram-1"));
	assert_null(fs_dom(s, "perf:psys"));
	assert_non_null(fs_dom(s, "perf:packages"));
	fake[fake_of(0x02, 36)].value = 123456789;
	assert_int_equal(p1->backend->read(p1, &raw), 0);
	assert_int_equal(raw, 123456789);
	pwr_close(s);
}

/* AMD: package from the power PMU, cores from power_core summed per package. */
static void test_amd_power_core_sum(void **state)
{
	(void)state;
	struct pwr_set *s = open_perf(FIX "perf-amd-power-core");
	uint64_t raw;

	/* energy-pkg on CPU 0, energy-core on CPUs 0-3 (one per core) */
	assert_int_equal(n_fake, 5);
	for (int c = 0; c < 4; c++) {
		int f = fake_of(0x01, c);
		assert_true(f >= 0);
		assert_int_equal(fake[f].type, 25);
		fake[f].value = 1000ull * (unsigned)(c + 1);
	}
	struct pwr_dom *core = fs_dom(s, "perf:core-0");
	assert_non_null(core);
	assert_non_null(fs_dom(s, "perf:package-0"));
	assert_int_equal(s->n_doms, 2);
	const char *cov = core ? core->desc.covers : "";
	assert_non_null(strstr(cov, "all 4 CPU cores of package 0"));
	assert_int_equal(core->backend->read(core, &raw), 0);
	assert_int_equal(raw, 1000 + 2000 + 3000 + 4000);
	pwr_close(s);
	for (int i = 0; i < n_fake; i++)
		assert_true(fake[i].closed);
}

static void test_paranoid_reason(void **state)
{
	(void)state;
	open_err = EACCES;
	struct pwr_set *s = open_perf(FIX "perf-intel");
	const char *why = fs_reason(s, "perf");

	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "perf_event_paranoid is 2; needs <= 0 or CAP_PERFMON"));
	pwr_close(s);
}

static void test_event_not_supported(void **state)
{
	(void)state;
	open_err = ENOENT;
	struct pwr_set *s = open_perf(FIX "perf-2socket");
	const char *why = fs_reason(s, "perf:energy-ram");

	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "ENOENT"));
	/* a fixture root: the reason says why this kernel cannot open what the tree lists */
	assert_non_null(strstr(why, "is the sysfs root another machine's tree (a fixture)?"));
	pwr_close(s);
}

static void test_bad_pmu_files(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	const char *d = "sys/bus/event_source/devices/power/";
	char rel[256];

	snprintf(rel, sizeof rel, "%stype", d);
	fs_put(root, rel, "23\n");
	snprintf(rel, sizeof rel, "%scpumask", d);
	fs_put(root, rel, "0\n");
	snprintf(rel, sizeof rel, "%sevents/energy-pkg", d);
	fs_put(root, rel, "event=0x02\n");
	snprintf(rel, sizeof rel, "%sevents/energy-pkg.scale", d);
	fs_put(root, rel, "banana\n");
	snprintf(rel, sizeof rel, "%sevents/energy-ram", d);
	fs_put(root, rel, "umask=0x1\n");
	struct pwr_set *s = open_perf(root);
	assert_int_equal(s->n_doms, 0);
	assert_int_equal(n_fake, 0);
	int n_reasons = 0;
	for (int i = 0; i < pwr_n_unavailable(s); i++) {
		const char *r = pwr_unavailable(s, i)->reason;
		n_reasons += strstr(r, "energy-pkg.scale") != NULL;
		n_reasons += strstr(r, "cannot parse event 'umask=0x1'") != NULL;
	}
	assert_int_equal(n_reasons, 2);
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void test_empty_root(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	struct pwr_set *s = open_perf(root);
	const char *why = fs_reason(s, "perf");

	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "no power PMU: "));
	assert_non_null(strstr(why,
	                       "sys/bus/event_source/devices/power missing (VM or kernel without "
	                       "RAPL PMU)"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_intel_client_pmu, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_sockets_one_cpu_each, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_amd_power_core_sum, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paranoid_reason, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_not_supported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_pmu_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_root, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
