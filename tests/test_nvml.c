/*
 * tests/test_nvml.c — the NVML backend against a fake libnvidia-ml built from
 * tests/fixtures/fake_nvml.c by make test-build (beside the test programs, tools/) and loaded via
 * $JOULEBENCH_NVML_LIB:
 * energy counters per GPU, the power-only fallback, init failure, no GPUs, no library, and the
 * library's lifetime. No real GPU is needed (or used).
 */
#include "power/internal.h"
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmpdir;
static char libpath[1024];
static void *fake; /* our own reference to the fake library */
static void (*fake_advance_ms)(unsigned);
static int (*fake_initialised)(void);

static int group_setup(void **state)
{
	const char *lib = tu_tool_path("libnvidia-ml-fake.so");

	(void)state;
	tmpdir = tu_mkdtemp();
	if (!lib)
		return 0; /* each test skips */
	snprintf(libpath, sizeof libpath, "%s", lib);
	fake = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
	if (fake) {
		*(void **)&fake_advance_ms = dlsym(fake, "fake_nvml_advance_ms");
		*(void **)&fake_initialised = dlsym(fake, "fake_nvml_initialised");
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (fake)
		dlclose(fake);
	tu_rmtree(tmpdir);
	free(tmpdir);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	unsetenv("FAKE_NVML_GPUS");
	unsetenv("FAKE_NVML_WATTS");
	unsetenv("FAKE_NVML_NO_ENERGY");
	unsetenv("FAKE_NVML_INIT_FAIL");
	setenv("JOULEBENCH_NVML_LIB", libpath, 1);
	return 0;
}

#define NEED_FAKE()                                                                                \
	do {                                                                                       \
		if (!fake || !fake_advance_ms || !fake_initialised)                                \
			TU_SKIP("could not load the fake NVML library (make test-build builds "   \
				"tools/libnvidia-ml-fake.so): %s", dlerror() ? dlerror() : "not built"); \
	} while (0)

static struct pwr_set *open_nvml(void)
{
	struct pwr_opts o = {0};

	return fs_open_one(&pwr_backend_nvml, &o);
}

static void test_energy_counter_per_gpu(void **state)
{
	(void)state;
	NEED_FAKE();
	setenv("FAKE_NVML_GPUS", "2", 1);
	setenv("FAKE_NVML_WATTS", "300", 1);
	struct pwr_set *s = open_nvml();
	uint64_t a, b;

	assert_int_equal(s->n_doms, 2);
	assert_int_equal(fake_initialised(), 1);
	struct pwr_dom *g1 = fs_dom(s, "nvml:gpu1");
	assert_non_null(g1);
	assert_non_null(fs_dom(s, "nvml:gpu0"));
	assert_int_equal(g1->value_kind, PWR_VALUE_COUNTER);
	assert_true(g1->joules_per_unit == 1e-3);
	assert_non_null(strstr(g1->desc.covers, "Fake GPU 1"));
	assert_int_equal(g1->backend->read(g1, &a), 0);
	assert_int_equal(a, 2000000); /* mJ since the (fake) driver loaded */
	fake_advance_ms(1500);        /* 300 W for 1.5 s */
	assert_int_equal(g1->backend->read(g1, &b), 0);
	double j = (double)pwr_counter_delta(a, b, g1->range_raw) * g1->joules_per_unit;
	assert_true(j == 450.0);
	/* a GPU is never the primary (whole-system or CPU) domain */
	assert_int_equal(pwr_primary_domain(s), -1);
	pwr_close(s);
	assert_int_equal(fake_initialised(), 0); /* nvmlShutdown with the last domain */
}

static void test_sampler_integrates_gpu_energy(void **state)
{
	(void)state;
	NEED_FAKE();
	setenv("FAKE_NVML_WATTS", "200", 1);
	struct pwr_set *s = open_nvml();
	char err[256];
	struct pwr_sample *smp = NULL;

	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	fake_advance_ms(500);
	pwr_sample_now(s);
	fake_advance_ms(250);
	pwr_sampler_stop(s);
	size_t n = pwr_samples(s, 0, &smp);
	assert_true(n >= 3);
	double j = smp[n - 1].energy_j - smp[0].energy_j;
	assert_true(j > 149.999 && j < 150.001); /* 200 W x 0.75 s */
	free(smp);
	pwr_close(s);
}

static void test_power_only_fallback(void **state)
{
	(void)state;
	NEED_FAKE();
	setenv("FAKE_NVML_NO_ENERGY", "1", 1);
	setenv("FAKE_NVML_WATTS", "75", 1);
	struct pwr_set *s = open_nvml();
	uint64_t raw;

	assert_int_equal(s->n_doms, 1);
	struct pwr_dom *g = fs_dom(s, "nvml:gpu0");
	assert_non_null(g);
	assert_int_equal(g->value_kind, PWR_VALUE_POWER);
	assert_true(g->watts_per_unit == 1e-3);
	assert_int_equal(g->backend->read(g, &raw), 0);
	assert_int_equal(raw, 75000);
	assert_non_null(strstr(g->desc.covers, "no energy counter before Volta"));
	pwr_close(s);
}

static void test_init_fails_and_no_gpus(void **state)
{
	(void)state;
	NEED_FAKE();
	setenv("FAKE_NVML_INIT_FAIL", "1", 1);
	struct pwr_set *s = open_nvml();
	const char *why = fs_reason(s, "nvml");
	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "nvmlInit_v2 failed: Driver Not Loaded"));
	pwr_close(s);

	unsetenv("FAKE_NVML_INIT_FAIL");
	setenv("FAKE_NVML_GPUS", "0", 1);
	s = open_nvml();
	why = fs_reason(s, "nvml");
	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "reports no GPUs"));
	pwr_close(s);
	assert_int_equal(fake_initialised(), 0);
}

static void test_no_library(void **state)
{
	(void)state;
	struct pwr_set *s;
	const char *why;
	char missing[1100];

	snprintf(missing, sizeof missing, "%s/nope/libnvidia-ml.so.1", tmpdir);
	setenv("JOULEBENCH_NVML_LIB", missing, 1);
	s = open_nvml();
	why = fs_reason(s, "nvml");
	assert_non_null(why);
	assert_non_null(strstr(why, "NVML not found: "));
	assert_non_null(strstr(why, "$JOULEBENCH_NVML_LIB"));
	pwr_close(s);

	unsetenv("JOULEBENCH_NVML_LIB");
	void *real = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (real) {
		dlclose(real);
		TU_SKIP("this machine has a real libnvidia-ml.so.1; the not-found reason is "
		        "untestable");
	}
	s = open_nvml();
	why = fs_reason(s, "nvml");
	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_string_equal(why, "NVML not found: libnvidia-ml.so.1 (install the NVIDIA driver)");
	pwr_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_energy_counter_per_gpu, setup),
	    cmocka_unit_test_setup(test_sampler_integrates_gpu_energy, setup),
	    cmocka_unit_test_setup(test_power_only_fallback, setup),
	    cmocka_unit_test_setup(test_init_fails_and_no_gpus, setup),
	    cmocka_unit_test_setup(test_no_library, setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
