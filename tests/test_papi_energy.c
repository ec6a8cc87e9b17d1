/*
 * tests/test_papi_energy.c — the PAPI energy backend on this machine: it either finds energy
 * events (a host with powercap/rapl/RAPL PMU) that read and advance, or says which components
 * exist and why none gives energy.
 */
#include "power/internal.h"
#include "helpers/testutil.h"

#include <string.h>
#include <time.h>

static void test_discover_here(void **state)
{
	(void)state;
	const struct pwr_backend *list[] = {&pwr_backend_papi};
	struct pwr_opts o = {0};
	struct pwr_set *s = NULL;
	char err[256] = "";

	assert_int_equal(pwr_open_backends(&o, list, 1, &s, err, sizeof err), 0);
	if (pwr_n_domains(s) == 0) {
		assert_int_equal(pwr_n_unavailable(s), 1);
		const struct pwr_unavailable *u = pwr_unavailable(s, 0);
		assert_string_equal(u->what, "papi");
#ifdef JB_HAVE_PAPI
		/* names the components that exist and the energy ones it looked for */
		assert_non_null(strstr(u->reason, "no PAPI component gives energy (components: "));
		assert_non_null(strstr(u->reason, "perf_event"));
		assert_non_null(strstr(u->reason, "powercap"));
#else
		assert_non_null(strstr(u->reason, "built without PAPI"));
#endif
		tu_note("papi here: %s", u->reason);
		pwr_close(s);
		return;
	}
	/* energy available: it reads and counts up while the CPU works */
	struct pwr_dom *d = s->doms[0];
	uint64_t a, b;
	assert_int_equal(d->backend->read(d, &a), 0);
	struct timespec ts = {0, 200000000};
	nanosleep(&ts, NULL);
	assert_int_equal(d->backend->read(d, &b), 0);
	assert_true(b >= a);
	pwr_close(s);
}

/* Event names of the three components map to domains and units; other events do not. */
static void test_classify_event_names(void **state)
{
	(void)state;
	char dom[64], cov[160];
	double j = 0;

	assert_true(pwr_papi_classify("powercap", "powercap:::ENERGY_UJ:ZONE1", dom, sizeof dom,
	                              cov, sizeof cov, &j));
	assert_string_equal(dom, "package-1");
	assert_true(j == 1e-6);
	assert_true(pwr_papi_classify("powercap", "powercap:::ENERGY_UJ:ZONE0_SUBZONE1", dom,
	                              sizeof dom, cov, sizeof cov, &j));
	assert_string_equal(dom, "zone0-sub1");
	assert_false(pwr_papi_classify("powercap", "powercap:::MAX_ENERGY_RANGE_UJ:ZONE0", dom,
	                               sizeof dom, cov, sizeof cov, &j));
	assert_false(pwr_papi_classify("powercap", "powercap:::POWER_LIMIT_A_UW:ZONE0", dom,
	                               sizeof dom, cov, sizeof cov, &j));

	assert_true(pwr_papi_classify("rapl", "rapl:::DRAM_ENERGY:PACKAGE1", dom, sizeof dom, cov,
	                              sizeof cov, &j));
	assert_string_equal(dom, "dram-1");
	assert_true(j == 1e-9);
	assert_non_null(strstr(cov, "separate from package"));
	assert_true(pwr_papi_classify("rapl", "rapl:::PP0_ENERGY:PACKAGE0", dom, sizeof dom, cov,
	                              sizeof cov, &j));
	assert_string_equal(dom, "core-0");
	assert_true(pwr_papi_classify("rapl", "rapl:::PSYS_ENERGY:PACKAGE0", dom, sizeof dom, cov,
	                              sizeof cov, &j));
	assert_string_equal(dom, "psys");
	assert_false(pwr_papi_classify("rapl", "rapl:::THERMAL_SPEC_CNT:PACKAGE0", dom, sizeof dom,
	                               cov, sizeof cov, &j));

	assert_true(pwr_papi_classify("perf_event_uncore", "amd64_rapl::RAPL_ENERGY_PKG", dom,
	                              sizeof dom, cov, sizeof cov, &j));
	assert_string_equal(dom, "package-0");
	assert_true(j == 1.0 / 4294967296.0);
	assert_true(pwr_papi_classify("perf_event_uncore", "rapl::RAPL_ENERGY_DRAM", dom,
	                              sizeof dom, cov, sizeof cov, &j));
	assert_string_equal(dom, "dram-0");
	assert_false(pwr_papi_classify("perf_event_uncore", "amd_l3::L3_LOOKUP_STATE", dom,
	                               sizeof dom, cov, sizeof cov, &j));
	assert_false(
	    pwr_papi_classify("perf_event", "PAPI_TOT_INS", dom, sizeof dom, cov, sizeof cov, &j));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify_event_names),
	    cmocka_unit_test(test_discover_here),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
