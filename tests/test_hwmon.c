/*
 * tests/test_hwmon.c — the hwmon backend against fake /sys/class/hwmon trees: amd_energy energy
 * counters (and one advancing), power*_average sensors preferred over power*_input, labels,
 * an unreadable sensor, and an empty root.
 */
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIX FS_FIXTURES

static struct pwr_set *open_hwmon(const char *root)
{
	struct pwr_opts o = {.sysfs_root = root};

	return fs_open_one(&pwr_backend_hwmon, &o);
}

static void test_amd_energy_counters(void **state)
{
	(void)state;
	struct pwr_set *s = open_hwmon(FIX "hwmon-amd-energy");
	uint64_t raw = 0;

	/* three energy sensors, none from k10temp (temperature only) */
	assert_int_equal(pwr_n_domains(s), 3);
	int sock = fs_dom_index(s, "hwmon:amd_energy-Esocket0");
	int core = fs_dom_index(s, "hwmon:amd_energy-Ecore001");
	assert_true(sock >= 0);
	assert_true(core >= 0);
	struct pwr_dom *d = s->doms[sock];
	assert_int_equal(d->value_kind, PWR_VALUE_COUNTER);
	assert_int_equal(d->range_raw, 0);
	assert_true(d->joules_per_unit == 1e-6);
	assert_non_null(strstr(d->desc.covers, "socket 0"));
	assert_non_null(strstr(s->doms[core]->desc.covers, "part of its socket"));
	assert_int_equal(d->backend->read(d, &raw), 0);
	assert_int_equal(raw, 98765432101ull);
	pwr_close(s);
}

static void test_energy_counter_advances(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	uint64_t a = 0, b = 0;

	fs_put(root, "sys/class/hwmon/hwmon4/name", "amd_energy\n");
	fs_put(root, "sys/class/hwmon/hwmon4/energy1_input", "5000000\n");
	fs_put(root, "sys/class/hwmon/hwmon4/energy1_label", "Esocket0\n");
	struct pwr_set *s = open_hwmon(root);
	int i = fs_dom_index(s, "hwmon:amd_energy-Esocket0");
	assert_true(i >= 0);
	struct pwr_dom *d = s->doms[i];
	assert_int_equal(d->backend->read(d, &a), 0);
	/* 2.5 J later (e.g. 25 W for 100 ms) */
	fs_put(root, "sys/class/hwmon/hwmon4/energy1_input", "7500000\n");
	assert_int_equal(d->backend->read(d, &b), 0);
	double j = (double)pwr_counter_delta(a, b, d->range_raw) * d->joules_per_unit;
	assert_true(j > 2.4999 && j < 2.5001);
	/* garbage in the file is an error, not a number */
	fs_put(root, "sys/class/hwmon/hwmon4/energy1_input", "n/a\n");
	assert_int_equal(d->backend->read(d, &b), -EINVAL);
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

/* Through the real sampler: the counter's advance becomes cumulative joules exactly. */
static void test_sampler_counts_energy(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	struct pwr_opts o = {.sysfs_root = root, .interval_ms = 10};
	struct pwr_set *s = NULL;
	struct pwr_sample *smp = NULL;
	char err[256] = "";
	char buf[32];

	fs_put(root, "sys/class/hwmon/hwmon0/name", "amd_energy\n");
	fs_put(root, "sys/class/hwmon/hwmon0/energy1_input", "1000000\n");
	s = fs_open_one(&pwr_backend_hwmon, &o);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	for (int k = 1; k <= 10; k++) { /* 10 steps of 0.75 J */
		struct timespec ts = {0, 3 * 1000000};

		char tmp[1024], dst[1024];

		/* replace the file atomically, as sysfs reads are: never a half-written value */
		snprintf(buf, sizeof buf, "%d\n", 1000000 + k * 750000);
		fs_put(root, "sys/class/hwmon/hwmon0/next", buf);
		snprintf(tmp, sizeof tmp, "%s/sys/class/hwmon/hwmon0/next", root);
		snprintf(dst, sizeof dst, "%s/sys/class/hwmon/hwmon0/energy1_input", root);
		assert_int_equal(rename(tmp, dst), 0);
		nanosleep(&ts, NULL);
	}
	pwr_sampler_stop(s);
	size_t n = pwr_samples(s, 0, &smp);
	assert_true(n >= 2);
	assert_true(smp[0].raw == 1000000);
	double j = smp[n - 1].energy_j - smp[0].energy_j;
	assert_true(j > 7.4999 && j < 7.5001);
	free(smp);
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void test_power_average_preferred(void **state)
{
	(void)state;
	struct pwr_set *s = open_hwmon(FIX "hwmon-power-average");
	uint64_t raw = 0;

	assert_int_equal(pwr_n_domains(s), 2);
	int meter = fs_dom_index(s, "hwmon:power_meter-power1");
	int gpu = fs_dom_index(s, "hwmon:amdgpu-PPT");
	assert_true(meter >= 0);
	assert_true(gpu >= 0);
	struct pwr_dom *d = s->doms[gpu];
	assert_int_equal(d->value_kind, PWR_VALUE_POWER);
	assert_int_equal(d->backend->read(d, &raw), 0);
	assert_int_equal(raw, 15000000); /* power1_average, not power1_input's 16 W */
	assert_true(raw * d->watts_per_unit > 14.99 && raw * d->watts_per_unit < 15.01);
	d = s->doms[meter];
	assert_int_equal(d->backend->read(d, &raw), 0);
	assert_int_equal(raw, 87500000);
	pwr_close(s);
}

static void test_unreadable_sensor(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	char path[1024];

	if (geteuid() == 0) {
		/* root reads mode-000 files anyway; use a directory in place of the file instead */
		fs_put(root, "sys/class/hwmon/hwmon0/name", "amd_energy\n");
		fs_put(root, "sys/class/hwmon/hwmon0/energy1_input/x", "1\n");
	} else {
		fs_put(root, "sys/class/hwmon/hwmon0/name", "amd_energy\n");
		fs_put(root, "sys/class/hwmon/hwmon0/energy1_input", "1\n");
		snprintf(path, sizeof path, "%s/sys/class/hwmon/hwmon0/energy1_input", root);
		chmod(path, 0);
	}
	struct pwr_set *s = open_hwmon(root);
	assert_int_equal(pwr_n_domains(s), 0);
	const char *why = fs_reason_prefix(s, "hwmon:amd_energy-energy1_input");
	assert_non_null(why);
	assert_non_null(strstr(why, "energy1_input"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void test_empty_root(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	struct pwr_set *s = open_hwmon(root);
	const char *why = fs_reason_prefix(s, "hwmon");

	assert_int_equal(pwr_n_domains(s), 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "sys/class/hwmon missing"));
	assert_non_null(strstr(why, "sensors-detect"));
	pwr_close(s);

	/* sensors, but none that measure power or energy */
	fs_put(root, "sys/class/hwmon/hwmon0/name", "k10temp\n");
	fs_put(root, "sys/class/hwmon/hwmon0/temp1_input", "40000\n");
	s = open_hwmon(root);
	why = fs_reason_prefix(s, "hwmon");
	assert_non_null(why);
	assert_non_null(strstr(why, "none with power"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

/* amd_energy's socket counters are RAPL packages: one is the primary source, two are summed
 * (cores never); sensors whose coverage is the driver's never stand for the run. */
static void test_primary_domain(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	const struct pwr_domain_desc *p;

	fs_put(root, "sys/class/hwmon/hwmon2/name", "amd_energy\n");
	fs_put(root, "sys/class/hwmon/hwmon2/energy1_input", "1000\n");
	fs_put(root, "sys/class/hwmon/hwmon2/energy1_label", "Ecore000\n");
	fs_put(root, "sys/class/hwmon/hwmon2/energy2_input", "2000\n");
	fs_put(root, "sys/class/hwmon/hwmon2/energy2_label", "Esocket0\n");
	fs_put(root, "sys/class/hwmon/hwmon2/energy3_input", "3000\n");
	fs_put(root, "sys/class/hwmon/hwmon2/energy3_label", "Esocket1\n");
	struct pwr_set *s = open_hwmon(root);
	assert_true(pwr_primary_domain(s) >= 0);
	p = pwr_domain(s, pwr_primary_domain(s));
	assert_string_equal(p->id, "hwmon:packages");
	/* both sockets, in the order the directory lists them */
	assert_non_null(strstr(p->covers, "every CPU socket: amd_energy-Esocket"));
	assert_non_null(strstr(p->covers, "amd_energy-Esocket0"));
	assert_non_null(strstr(p->covers, "amd_energy-Esocket1"));
	assert_non_null(strstr(p->covers, " + "));
	assert_null(strstr(p->covers, "Ecore"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);

	s = open_hwmon(FIX "hwmon-amd-energy");
	assert_int_equal(pwr_primary_domain(s), fs_dom_index(s, "hwmon:amd_energy-Esocket0"));
	pwr_close(s);

	s = open_hwmon(FIX "hwmon-power-average");
	assert_true(pwr_n_domains(s) > 0);
	assert_int_equal(pwr_primary_domain(s), -1);
	assert_non_null(strstr(pwr_primary_why(s), "none is a whole CPU package or the system"));
	pwr_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_amd_energy_counters),
	    cmocka_unit_test(test_energy_counter_advances),
	    cmocka_unit_test(test_sampler_counts_energy),
	    cmocka_unit_test(test_power_average_preferred),
	    cmocka_unit_test(test_unreadable_sensor),
	    cmocka_unit_test(test_primary_domain),
	    cmocka_unit_test(test_empty_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
