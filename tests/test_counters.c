/*
 * tests/test_counters.c — hardware counters: the real attempt on this machine (a VM without a
 * PMU: it must fail with a reason that names the cause), libpfm4 name encoding, and the
 * perf_event layer driven by fake fds: inheritance to threads, multiplexing scaled and reported,
 * optional default events, and errors.
 */
#include "power/internal.h"
#include "helpers/testutil.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fake perf_event fds ---- */
#define MAX_FAKE 16
static struct {
	struct perf_event_attr attr;
	int cpu;
	uint64_t value, enabled, running;
	bool closed;
} fake[MAX_FAKE];
static int n_fake;
static int fail_config = -1; /* PERF_TYPE_HARDWARE config that fails with fail_err */
static int fail_type = -1;   /* or every event of this type */
static int fail_err;

static int fake_open(void *attr, int cpu)
{
	const struct perf_event_attr *a = attr;

	if ((a->type == PERF_TYPE_HARDWARE && (int)a->config == fail_config) ||
	    (int)a->type == fail_type)
		return -fail_err;
	assert_true(n_fake < MAX_FAKE);
	fake[n_fake].attr = *a;
	fake[n_fake].cpu = cpu;
	fake[n_fake].closed = false;
	return 200 + n_fake++;
}

static ssize_t fake_read(int fd, void *buf, size_t n)
{
	int i = fd - 200;
	uint64_t rf[3];

	assert_true(i >= 0 && i < n_fake);
	assert_false(fake[i].closed);
	assert_int_equal(n, sizeof rf);
	rf[0] = fake[i].value;
	rf[1] = fake[i].enabled;
	rf[2] = fake[i].running;
	memcpy(buf, rf, sizeof rf);
	return (ssize_t)sizeof rf;
}

static int fake_close(int fd)
{
	fake[fd - 200].closed = true;
	return 0;
}

static const struct pwr_perf_ops fake_ops = {fake_open, fake_read, fake_close};

static int setup_fake(void **state)
{
	(void)state;
	n_fake = 0;
	fail_config = fail_type = -1;
	fail_err = 0;
	pwr_counters_set_ops(&fake_ops);
	return 0;
}

static int teardown_fake(void **state)
{
	(void)state;
	pwr_counters_set_ops(NULL);
	return 0;
}

static void test_this_machine(void **state)
{
	(void)state;
	struct pwr_counters *c = (struct pwr_counters *)0x1;
	struct pwr_counter_read a, b;
	char err[512] = "";
	int rc = pwr_counters_open(NULL, 0, &c, err, sizeof err);

	if (rc < 0) {
		assert_null(c);
		assert_true(strlen(err) > 20);
		/* the reason names the cause, not just "failed" */
		assert_true(strstr(err, "perf_event_open") || strstr(err, "PAPI") ||
		            strstr(err, "paranoid"));
		tu_note("counters here: %s", err);
		return;
	}
	/* a machine with counters: they count, and count more after work */
	assert_non_null(pwr_counters_source(c));
	assert_int_equal(pwr_counters_read(c, &a), 0);
	volatile double x = 1;
	for (int i = 0; i < 1000000; i++)
		x = x * 1.0000001 + 1e-9;
	assert_int_equal(pwr_counters_read(c, &b), 0);
	assert_string_equal(b.v[0].name, "instructions");
	assert_true(b.v[0].valid);
	assert_true(b.v[0].value - a.v[0].value > 1000000);
	pwr_counters_close(c);
}

static void test_encode_generic_and_libpfm4(void **state)
{
	(void)state;
	struct perf_event_attr attr;
	char err[256] = "";

	assert_int_equal(pwr_counters_encode("instructions", &attr, err, sizeof err), 0);
	assert_int_equal(attr.type, PERF_TYPE_HARDWARE);
	assert_int_equal(attr.config, PERF_COUNT_HW_INSTRUCTIONS);
	assert_int_equal(pwr_counters_encode("llc-misses", &attr, err, sizeof err), 0);
	assert_int_equal(attr.type, PERF_TYPE_HW_CACHE);

	/* a name only libpfm4 knows (its generic "perf" PMU table) */
	int rc = pwr_counters_encode("PERF_COUNT_HW_CPU_CYCLES", &attr, err, sizeof err);
	if (rc == -ENOSYS)
		TU_SKIP("libpfm4 not usable here: %s", err);
	assert_int_equal(rc, 0);
	assert_int_equal(attr.type, PERF_TYPE_HARDWARE);
	assert_int_equal(attr.config, PERF_COUNT_HW_CPU_CYCLES);
	assert_int_equal(attr.exclude_kernel, 1); /* PFM_PLM3: user space only */

	/* an unknown name is an input error naming it */
	err[0] = '\0';
	assert_int_equal(pwr_counters_encode("NO_SUCH_EVENT:FOO", &attr, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "unknown event 'NO_SUCH_EVENT:FOO'"));

	/* Intel's INST_RETIRED:ANY encodes on Intel, and is unknown (with a reason) elsewhere */
	err[0] = '\0';
	rc = pwr_counters_encode("INST_RETIRED:ANY", &attr, err, sizeof err);
	if (rc == 0)
		assert_int_equal(attr.type, PERF_TYPE_RAW);
	else
		assert_non_null(strstr(err, "INST_RETIRED:ANY"));
}

static void test_fake_multiplexing_reported(void **state)
{
	(void)state;
	struct pwr_counters *c = NULL;
	struct pwr_counter_read r;
	char err[256] = "";

	assert_int_equal(pwr_counters_open(NULL, 0, &c, err, sizeof err), 0);
	assert_string_equal(pwr_counters_source(c), "perf_event");
	assert_int_equal(n_fake, 4);
	for (int i = 0; i < n_fake; i++) {
		/* every thread started later is counted; user space only; times for scaling */
		assert_int_equal(fake[i].attr.inherit, 1);
		assert_int_equal(fake[i].attr.exclude_kernel, 1);
		assert_int_equal(fake[i].cpu, -1);
		assert_int_equal(fake[i].attr.read_format,
		                 PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING);
	}
	fake[0].value = 1000, fake[0].enabled = 100, fake[0].running = 100; /* all the time */
	fake[1].value = 600, fake[1].enabled = 100, fake[1].running = 25;   /* a quarter */
	fake[2].value = 5, fake[2].enabled = 100, fake[2].running = 0;      /* never ran */
	fake[3].value = 7, fake[3].enabled = 0, fake[3].running = 0;
	assert_int_equal(pwr_counters_read(c, &r), 0);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.v[0].name, "instructions");
	assert_string_equal(r.v[1].name, "cycles");
	assert_string_equal(r.v[2].name, "llc-misses");
	assert_string_equal(r.v[3].name, "branch-misses");
	assert_true(r.v[0].valid);
	assert_true(r.v[0].value == 1000.0);
	assert_true(r.v[0].enabled_ratio == 1.0);
	assert_true(r.v[1].valid);
	assert_true(r.v[1].value == 2400.0); /* scaled by enabled / running */
	assert_true(r.v[1].enabled_ratio == 0.25);
	assert_false(r.v[2].valid); /* no figure rather than a made-up one */
	assert_false(r.v[3].valid);
	pwr_counters_close(c);
	for (int i = 0; i < n_fake; i++)
		assert_true(fake[i].closed);
}

static void test_fake_no_pmu(void **state)
{
	(void)state;
	struct pwr_counters *c = (struct pwr_counters *)0x1;
	char err[512] = "";

	fail_type = PERF_TYPE_HARDWARE;
	fail_err = ENOENT;
	assert_int_equal(pwr_counters_open(NULL, 0, &c, err, sizeof err), -ENOENT);
	assert_null(c);
	assert_non_null(
	    strstr(err, "perf_event_open(PERF_COUNT_HW_INSTRUCTIONS) failed with ENOENT"));
	assert_non_null(strstr(err, "no hardware counter"));

	/* permission */
	fail_err = EACCES;
	err[0] = '\0';
	assert_int_equal(pwr_counters_open(NULL, 0, &c, err, sizeof err), -EACCES);
	assert_non_null(strstr(err, "perf_event_paranoid is"));
}

static void test_fake_optional_defaults(void **state)
{
	(void)state;
	struct pwr_counters *c = NULL;
	struct pwr_counter_read r;
	char err[256] = "";

	/* the LLC event is missing (e.g. on a Zen core): instructions/cycles still count,
	 * llc-misses falls back to the generic cache-misses event */
	fail_type = PERF_TYPE_HW_CACHE;
	fail_err = ENOENT;
	assert_int_equal(pwr_counters_open(NULL, 0, &c, err, sizeof err), 0);
	assert_int_equal(n_fake, 4);
	assert_int_equal(fake[2].attr.type, PERF_TYPE_HARDWARE);
	assert_int_equal(fake[2].attr.config, PERF_COUNT_HW_CACHE_MISSES);
	pwr_counters_close(c);

	/* and when branch misses cannot count at all, that one value is invalid */
	n_fake = 0;
	fail_type = -1;
	fail_config = PERF_COUNT_HW_BRANCH_MISSES;
	assert_int_equal(pwr_counters_open(NULL, 0, &c, err, sizeof err), 0);
	for (int i = 0; i < n_fake; i++)
		fake[i].value = 10, fake[i].enabled = fake[i].running = 5;
	assert_int_equal(pwr_counters_read(c, &r), 0);
	assert_true(r.v[0].valid);
	assert_false(r.v[3].valid);
	pwr_counters_close(c);
}

static void test_fake_named_events(void **state)
{
	(void)state;
	const char *ev[] = {"branches", "instructions"};
	const char *bad[] = {"instructions", "NO_SUCH_EVENT:FOO"};
	const char *many[PWR_MAX_COUNTERS + 1];
	struct pwr_counters *c = NULL;
	struct pwr_counter_read r;
	char err[256] = "";

	assert_int_equal(pwr_counters_open(ev, 2, &c, err, sizeof err), 0);
	assert_int_equal(fake[0].attr.config, PERF_COUNT_HW_BRANCH_INSTRUCTIONS);
	assert_int_equal(pwr_counters_read(c, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[0].name, "branches");
	pwr_counters_close(c);

	/* explicit names must all work: the first failure is the error */
	fail_config = PERF_COUNT_HW_BRANCH_INSTRUCTIONS;
	fail_err = ENOENT;
	assert_true(pwr_counters_open(ev, 2, &c, err, sizeof err) < 0);
	assert_non_null(strstr(err, "PERF_COUNT_HW_BRANCH_INSTRUCTIONS"));
	fail_config = -1;

	err[0] = '\0';
	int rc = pwr_counters_open(bad, 2, &c, err, sizeof err);
	assert_true(rc == -EINVAL || rc == -ENOSYS);
	assert_non_null(strstr(err, "NO_SUCH_EVENT:FOO"));

	for (int i = 0; i <= PWR_MAX_COUNTERS; i++)
		many[i] = "cycles";
	assert_int_equal(pwr_counters_open(many, PWR_MAX_COUNTERS + 1, &c, err, sizeof err),
	                 -EINVAL);
	assert_non_null(strstr(err, "at most"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_this_machine),
	    cmocka_unit_test(test_encode_generic_and_libpfm4),
	    cmocka_unit_test_setup_teardown(test_fake_multiplexing_reported, setup_fake,
	                                    teardown_fake),
	    cmocka_unit_test_setup_teardown(test_fake_no_pmu, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_fake_optional_defaults, setup_fake, teardown_fake),
	    cmocka_unit_test_setup_teardown(test_fake_named_events, setup_fake, teardown_fake),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
