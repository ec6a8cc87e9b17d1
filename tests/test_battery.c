/*
 * tests/test_battery.c — the battery backend against fake power_supply trees: a laptop that
 * discharges (power_now, and voltage x current), one that charges, a peripheral's battery, a
 * battery plugged in mid-run, and an empty root.
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

static struct pwr_set *open_battery(const char *root)
{
	struct pwr_opts o = {.sysfs_root = root};

	return fs_open_one(&pwr_backend_battery, &o);
}

static void test_discharging_power_now(void **state)
{
	(void)state;
	struct pwr_set *s = open_battery(FIX "laptop-discharging");
	int i = fs_dom_index(s, "battery:BAT0");
	uint64_t raw = 0;

	assert_true(i >= 0);
	struct pwr_dom *d = s->doms[i];
	assert_int_equal(d->value_kind, PWR_VALUE_POWER);
	assert_int_equal(d->backend->read(d, &raw), 0);
	assert_int_equal(raw, 11250000);
	assert_true(raw * d->watts_per_unit > 11.24 && raw * d->watts_per_unit < 11.26);
	assert_non_null(strstr(d->desc.covers, "whole system"));
	/* the peripheral (scope Device) battery is not a domain */
	assert_int_equal(fs_dom_index(s, "battery:hidpp_battery_0"), -1);

	/* energy_now becomes a counter of energy drawn: up when energy_now goes down */
	i = fs_dom_index(s, "battery:BAT0-energy");
	assert_true(i >= 0);
	d = s->doms[i];
	assert_int_equal(d->value_kind, PWR_VALUE_COUNTER);
	assert_int_equal(d->backend->read(d, &raw), 0);
	assert_int_equal(raw, (1ull << 48) - 41230000);
	assert_true(d->joules_per_unit > 3.5999e-3 && d->joules_per_unit < 3.6001e-3);
	assert_non_null(strstr(d->desc.covers, "coarse"));
	/* a laptop battery is the primary whole-system domain when there is no psys */
	assert_int_equal(pwr_primary_domain(s), fs_dom_index(s, "battery:BAT0"));
	pwr_close(s);
}

static void test_charging_is_unavailable(void **state)
{
	(void)state;
	struct pwr_set *s = open_battery(FIX "laptop-charging");
	const char *why = fs_reason(s, "battery:BAT0");

	assert_int_equal(pwr_n_domains(s), 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "on AC power: battery power is only meaningful while "
	                            "discharging; unplug to measure"));
	assert_non_null(strstr(why, "Charging"));
	pwr_close(s);
}

static void test_voltage_current_and_unplug_midrun(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	struct pwr_set *s;
	uint64_t raw = 0;
	char why[256] = "";

	fs_put(root, "sys/class/power_supply/BAT1/type", "Battery\n");
	fs_put(root, "sys/class/power_supply/BAT1/status", "Discharging\n");
	fs_put(root, "sys/class/power_supply/BAT1/voltage_now", "11400000\n"); /* 11.4 V */
	fs_put(root, "sys/class/power_supply/BAT1/current_now", "-1500000\n"); /* 1.5 A, signed */
	s = open_battery(root);
	int i = fs_dom_index(s, "battery:BAT1");
	assert_true(i >= 0);
	assert_int_equal(fs_dom_index(s, "battery:BAT1-energy"), -1); /* no energy_now here */
	struct pwr_dom *d = s->doms[i];
	assert_int_equal(d->backend->read(d, &raw), 0);
	double w = (double)raw * d->watts_per_unit;
	assert_true(w > 17.099 && w < 17.101);

	/* plugged in: the next read fails and says why, never a stale or zero figure */
	fs_put(root, "sys/class/power_supply/BAT1/status", "Charging\n");
	raw = 12345;
	int rc = d->backend->read(d, &raw);
	assert_int_equal(rc, -ENODATA);
	assert_int_equal(raw, 12345);
	assert_non_null(d->backend->explain);
	d->backend->explain(d, rc, why, sizeof why);
	assert_non_null(strstr(why, "unplug to measure"));

	/* firmware that reports 0 W while discharging gives no domain, and says so */
	fs_put(root, "sys/class/power_supply/BAT1/status", "Discharging\n");
	fs_put(root, "sys/class/power_supply/BAT1/current_now", "0\n");
	struct pwr_set *s0 = open_battery(root);
	assert_int_equal(pwr_n_domains(s0), 0);
	const char *why0 = fs_reason(s0, "battery:BAT1");
	assert_non_null(why0);
	assert_non_null(strstr(why0, "reports no discharge power"));
	pwr_close(s0);
	fs_put(root, "sys/class/power_supply/BAT1/current_now", "-1500000\n");

	/* the battery vanishes (removed): an error, not a number */
	fs_put(root, "sys/class/power_supply/BAT1/status", "Discharging\n");
	char path[1024];
	snprintf(path, sizeof path, "%s/sys/class/power_supply/BAT1/voltage_now", root);
	unlink(path);
	assert_int_equal(d->backend->read(d, &raw), -ENOENT);
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

/* Through the real sampler: constant 11.25 W integrates exactly (trapezoid); unplugging
 * mid-run ends the figures with the reason instead of carrying on. */
static void test_sampler_integrates_and_stops_on_ac(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	struct pwr_opts o = {.sysfs_root = root, .interval_ms = 20};
	struct pwr_set *s = NULL;
	struct pwr_sample *smp = NULL;
	struct timespec ts = {0, 150 * 1000000};
	char err[256] = "", why[256] = "";

	fs_put(root, "sys/class/power_supply/BAT0/type", "Battery\n");
	fs_put(root, "sys/class/power_supply/BAT0/status", "Discharging\n");
	fs_put(root, "sys/class/power_supply/BAT0/power_now", "11250000\n");
	s = fs_open_one(&pwr_backend_battery, &o);
	assert_int_equal(pwr_n_domains(s), 1);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	nanosleep(&ts, NULL);
	pwr_sample_now(s);
	size_t n = pwr_samples(s, 0, &smp);
	assert_true(n >= 2);
	double dt = (double)(smp[n - 1].t_ns - smp[0].t_ns) / 1e9;
	double j = smp[n - 1].energy_j - smp[0].energy_j;
	assert_true(dt > 0.1);
	assert_true(j > 11.25 * dt * 0.999 && j < 11.25 * dt * 1.001);
	free(smp);
	assert_true(pwr_domain_valid(s, 0, why, sizeof why));

	fs_put(root, "sys/class/power_supply/BAT0/status", "Charging\n");
	pwr_sample_now(s);
	pwr_sampler_stop(s);
	assert_false(pwr_domain_valid(s, 0, why, sizeof why));
	assert_non_null(strstr(why, "unplug to measure"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void test_empty_root(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	struct pwr_set *s = open_battery(root);
	const char *why = fs_reason(s, "battery");

	assert_int_equal(pwr_n_domains(s), 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "sys/class/power_supply missing"));
	pwr_close(s);

	/* a desktop: power supplies exist, but no battery */
	fs_put(root, "sys/class/power_supply/AC/type", "Mains\n");
	s = open_battery(root);
	why = fs_reason(s, "battery");
	assert_non_null(why);
	assert_non_null(strstr(why, "no system battery"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_discharging_power_now),
	    cmocka_unit_test(test_charging_is_unavailable),
	    cmocka_unit_test(test_voltage_current_and_unplug_midrun),
	    cmocka_unit_test(test_sampler_integrates_and_stops_on_ac),
	    cmocka_unit_test(test_empty_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
