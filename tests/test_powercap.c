/*
 * tests/test_powercap.c — the powercap backend and the probe core: counter differencing, zone
 * discovery on fixture trees modelled on real machines, probe selection, the primary-domain rule,
 * and the reasons given when RAPL cannot be read.
 */
#include "helpers/testutil.h"

#include "power/backend.h"

#include <cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZONE_DIR "sys/devices/virtual/powercap/intel-rapl/"

/* ---- pwr_counter_delta --------------------------------------------------------------------- */

static void delta_without_wrap(void **state)
{
	(void)state;
	assert_int_equal(pwr_counter_delta(100, 350, 262143328850ULL), 250);
	assert_int_equal(pwr_counter_delta(0, 262143328849ULL, 262143328850ULL), 262143328849ULL);
}

static void delta_across_a_wrap(void **state)
{
	(void)state;
	/* powercap: 10 uJ before the end of the range to 5 uJ after it */
	assert_int_equal(pwr_counter_delta(262143328840ULL, 5, 262143328850ULL), 15);
	/* to exactly 0 */
	assert_int_equal(pwr_counter_delta(262143328849ULL, 0, 262143328850ULL), 1);
}

static void delta_of_equal_readings_is_zero(void **state)
{
	(void)state;
	assert_int_equal(pwr_counter_delta(777, 777, 262143328850ULL), 0);
	assert_int_equal(pwr_counter_delta(0xFFFFFFFFULL, 0xFFFFFFFFULL, 1ULL << 32), 0);
	assert_int_equal(pwr_counter_delta(42, 42, 0), 0);
}

static void delta_with_a_32_bit_range(void **state)
{
	(void)state;
	assert_int_equal(pwr_counter_delta(0xFFFFFFF0ULL, 0x10, 1ULL << 32), 0x20);
	assert_int_equal(pwr_counter_delta(0x10, 0xFFFFFFF0ULL, 1ULL << 32), 0xFFFFFFE0ULL);
	/* bits above the range (a misbehaving source) are ignored, not turned into huge deltas */
	assert_int_equal(pwr_counter_delta(0x1FFFFFFF0ULL, 0x100000010ULL, 1ULL << 32), 0x20);
}

static void delta_with_a_64_bit_range(void **state)
{
	(void)state;
	assert_true(pwr_counter_delta(UINT64_MAX - 5, 10, 0) == 16);
	assert_true(pwr_counter_delta(0, UINT64_MAX, 0) == UINT64_MAX);
	assert_true(pwr_counter_delta(5, 5 + (1ULL << 40), 0) == 1ULL << 40);
}

static void path_join(void **state)
{
	char buf[256];

	(void)state;
	assert_string_equal(pwr_path(buf, sizeof buf, "/", "sys/class/powercap"), "/sys/class/powercap");
	assert_string_equal(pwr_path(buf, sizeof buf, "", "/sys/x"), "/sys/x");
	assert_string_equal(pwr_path(buf, sizeof buf, NULL, "sys"), "/sys");
	assert_string_equal(pwr_path(buf, sizeof buf, "/tmp/root/", "sys/x"), "/tmp/root/sys/x");
	assert_string_equal(pwr_path(buf, sizeof buf, "fix", "/proc/cpuinfo"), "fix/proc/cpuinfo");
}

/* ---- discovery ----------------------------------------------------------------------------- */

static const char *powercap_only[] = { "powercap", NULL };

static struct pwr_set *open_fixture(const char *root, const char *const *probes)
{
	struct pwr_opts o = { .sysfs_root = root, .probes = probes ? probes : powercap_only };
	struct pwr_set *s = NULL;
	char err[256] = "";

	if (pwr_open(&o, &s, err, sizeof err) != 0)
		fail_msg("pwr_open(%s): %s", root, err);
	return s;
}

static const struct pwr_domain_desc *domain(struct pwr_set *s, const char *id)
{
	for (int i = 0; i < pwr_n_domains(s); i++)
		if (!strcmp(pwr_domain(s, i)->id, id))
			return pwr_domain(s, i);
	return NULL;
}

static const char *unavailable(struct pwr_set *s, const char *what)
{
	for (int i = 0; i < pwr_n_unavailable(s); i++)
		if (!strcmp(pwr_unavailable(s, i)->what, what))
			return pwr_unavailable(s, i)->reason;
	return NULL;
}

static void intel_client_zones(void **state)
{
	struct pwr_set *s = open_fixture("tests/fixtures/sysfs/intel-client", NULL);
	const struct pwr_domain_desc *d;
	const char *why;

	(void)state;
	assert_int_equal(pwr_n_domains(s), 4);
	d = domain(s, "powercap:package-0");
	assert_non_null(d);
	assert_string_equal(d->backend, "powercap");
	assert_string_equal(d->domain, "package-0");
	assert_int_equal(d->kind, PWR_MEASURED);
	assert_string_equal(d->model, "");
	assert_string_equal(d->unit, "uJ counter");
	assert_true(fabs(d->range_j - 262143.32885) < 1e-6);
	assert_true(d->resolution_j == 1e-6);
	assert_non_null(strstr(d->covers, "not DRAM"));
	d = domain(s, "powercap:core-0");
	assert_non_null(d);
	assert_non_null(strstr(d->covers, "part of package-0"));
	assert_non_null(domain(s, "powercap:uncore-0"));
	d = domain(s, "powercap:psys");
	assert_non_null(d);
	assert_non_null(strstr(d->covers, "broadest"));
	/* psys wins; the MMIO view of package-0 is not a second package */
	assert_ptr_equal(pwr_domain(s, pwr_primary_domain(s)), d);
	assert_non_null(strstr(pwr_primary_why(s), "psys"));
	why = unavailable(s, "powercap:intel-rapl-mmio:0");
	assert_non_null(why);
	assert_non_null(strstr(why, "second view of powercap:package-0"));
	pwr_close(s);
}

static void intel_two_socket_zones(void **state)
{
	struct pwr_set *s = open_fixture("tests/fixtures/sysfs/intel-2s-server", NULL);
	const struct pwr_domain_desc *d;

	(void)state;
	assert_non_null(domain(s, "powercap:package-0"));
	assert_non_null(domain(s, "powercap:package-1"));
	d = domain(s, "powercap:dram-1");
	assert_non_null(d);
	/* DRAM counts in 15.3 uJ units on servers: a 65.7 kJ range */
	assert_true(fabs(d->range_j - 65712.999613) < 1e-6);
	assert_non_null(strstr(d->covers, "separate from package-1"));
	d = domain(s, "powercap:packages");
	assert_non_null(d);
	assert_non_null(strstr(d->covers, "package-0 + package-1"));
	assert_null(strstr(d->covers, "dram"));
	assert_ptr_equal(pwr_domain(s, pwr_primary_domain(s)), d);
	assert_int_equal(pwr_n_domains(s), 5);
	pwr_close(s);
}

static void amd_zen_package_only(void **state)
{
	struct pwr_set *s = open_fixture("tests/fixtures/sysfs/amd-zen", NULL);
	const struct pwr_domain_desc *d;

	(void)state;
	assert_int_equal(pwr_n_domains(s), 1);
	d = domain(s, "powercap:package-0");
	assert_non_null(d);
	assert_true(fabs(d->range_j - 65532.610987) < 1e-6);
	assert_int_equal(pwr_primary_domain(s), 0);
	assert_non_null(strstr(pwr_primary_why(s), "no psys"));
	assert_null(domain(s, "powercap:packages")); /* one package: no sum */
	pwr_close(s);
}

static void no_powercap_says_no_rapl(void **state)
{
	char *root = tu_mkdtemp(), want[PATH_MAX + 128], dir[PATH_MAX];
	struct pwr_set *s;

	(void)state;
	s = open_fixture(root, NULL);
	assert_int_equal(pwr_n_domains(s), 0);
	assert_int_equal(pwr_primary_domain(s), -1);
	snprintf(want, sizeof want, "no RAPL in this VM/kernel: %s/sys/class/powercap has no intel-rapl zones", root);
	assert_non_null(unavailable(s, "powercap"));
	assert_string_equal(unavailable(s, "powercap"), want);
	pwr_close(s);
	/* the class directory exists but holds no RAPL zone (e.g. only dtpm) */
	pwr_path(dir, sizeof dir, root, "sys/class/powercap/dtpm");
	{
		char cmd[PATH_MAX + 32];

		snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
	s = open_fixture(root, NULL);
	assert_string_equal(unavailable(s, "powercap"), want);
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void sysfs_root_from_environment(void **state)
{
	struct pwr_opts o = { .probes = powercap_only };
	struct pwr_set *s = NULL;
	char err[256];

	(void)state;
	setenv("JOULEBENCH_SYSFS_ROOT", "tests/fixtures/sysfs/amd-zen", 1);
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	unsetenv("JOULEBENCH_SYSFS_ROOT");
	assert_non_null(domain(s, "powercap:package-0"));
	pwr_close(s);
	/* the option wins over the environment */
	setenv("JOULEBENCH_SYSFS_ROOT", "/nonexistent", 1);
	o.sysfs_root = "tests/fixtures/sysfs/intel-2s-server";
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	unsetenv("JOULEBENCH_SYSFS_ROOT");
	assert_non_null(domain(s, "powercap:package-1"));
	pwr_close(s);
	/* a root that does not exist is an input error naming where it came from */
	o.sysfs_root = NULL;
	setenv("JOULEBENCH_SYSFS_ROOT", "/nonexistent/root", 1);
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), -EINVAL);
	unsetenv("JOULEBENCH_SYSFS_ROOT");
	assert_null(s);
	assert_string_equal(err, "sysfs root '/nonexistent/root' (from $JOULEBENCH_SYSFS_ROOT): No such file or directory");
	o.sysfs_root = "tests/fixtures/sysfs/amd-zen/proc/cpuinfo";
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "cpuinfo': not a directory"));
}

/* ---- selection ----------------------------------------------------------------------------- */

static void select_one_domain(void **state)
{
	const char *probes[] = { "powercap:package-0", NULL };
	struct pwr_set *s = open_fixture("tests/fixtures/sysfs/intel-client", probes);

	(void)state;
	assert_int_equal(pwr_n_domains(s), 1);
	assert_string_equal(pwr_domain(s, 0)->id, "powercap:package-0");
	assert_int_equal(pwr_primary_domain(s), 0);
	pwr_close(s);
}

static void select_errors_name_the_probe(void **state)
{
	const char *unknown[] = { "powercap", "rapl9000", NULL };
	const char *nodomain[] = { "powercap:dram", NULL };
	const char *empty[] = { "powercap:", NULL };
	struct pwr_opts o = { .sysfs_root = "tests/fixtures/sysfs/intel-client", .probes = unknown };
	struct pwr_set *s = NULL;
	char err[256];

	(void)state;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), -EINVAL);
	assert_null(s);
	assert_non_null(strstr(err, "unknown probe backend 'rapl9000' (known: powercap, "));
	assert_non_null(strstr(err, "estimate"));
	o.probes = nodomain;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), -EINVAL);
	assert_string_equal(err, "probe 'powercap:dram': powercap has no domain 'dram' (found: package-0, core-0, "
				 "uncore-0, psys)");
	o.probes = empty;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "bad probe 'powercap:'"));
	o.interval_ms = -5;
	o.probes = NULL;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "-5 ms"));
}

static void selected_domain_of_absent_backend_is_unavailable(void **state)
{
	const char *probes[] = { "powercap:package-0", NULL };
	char *root = tu_mkdtemp();
	struct pwr_set *s = open_fixture(root, probes);
	const char *why;

	(void)state;
	assert_int_equal(pwr_n_domains(s), 0);
	why = unavailable(s, "powercap:package-0");
	assert_non_null(why);
	assert_non_null(strstr(why, "powercap is unavailable"));
	assert_non_null(strstr(unavailable(s, "powercap"), "no RAPL"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

/* ---- permission and malformed zones -------------------------------------------------------- */

static char deny[64];

static int deny_open(const char *path)
{
	int fd;

	if (deny[0] && strstr(path, deny))
		return -EACCES;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static ssize_t plain_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r = pread(fd, buf, n, off);

	return r < 0 ? -errno : r;
}

static const struct pwr_powercap_io deny_io = { deny_open, plain_pread };

static void root_only_energy_uj_says_what_to_do(void **state)
{
	struct pwr_set *s;
	char want[PATH_MAX + 128], path[PATH_MAX];

	(void)state;
	snprintf(deny, sizeof deny, "intel-rapl:0/energy_uj");
	pwr_powercap_set_io(&deny_io);
	s = open_fixture("tests/fixtures/sysfs/amd-zen", NULL);
	pwr_powercap_set_io(NULL);
	assert_int_equal(pwr_n_domains(s), 0);
	pwr_path(path, sizeof path, "tests/fixtures/sysfs/amd-zen", "sys/class/powercap/intel-rapl:0/energy_uj");
	snprintf(want, sizeof want,
		 "energy_uj is readable by root only since Linux 5.10: run with sudo or `sudo chmod o+r %s`", path);
	assert_non_null(unavailable(s, "powercap:package-0"));
	assert_string_equal(unavailable(s, "powercap:package-0"), want);
	pwr_close(s);
}

static void real_chmod_when_not_root(void **state)
{
	char *root;
	char path[PATH_MAX], cmd[PATH_MAX + 64];
	struct pwr_set *s;

	(void)state;
	if (geteuid() == 0)
		TU_SKIP("running as root, where chmod 000 does not deny reads (the injected EACCES test covers "
			"the same path)");
	root = tu_mkdtemp();
	snprintf(cmd, sizeof cmd, "cp -a tests/fixtures/sysfs/amd-zen/. '%s'/", root);
	assert_int_equal(system(cmd), 0);
	pwr_path(path, sizeof path, root, ZONE_DIR "intel-rapl:0/energy_uj");
	assert_int_equal(chmod(path, 0), 0);
	s = open_fixture(root, NULL);
	assert_non_null(strstr(unavailable(s, "powercap:package-0"), "readable by root only"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void malformed_zones_are_explained(void **state)
{
	char *root = tu_mkdtemp(), cmd[PATH_MAX + 64], path[PATH_MAX];
	struct pwr_set *s;
	const char *why;

	(void)state;
	snprintf(cmd, sizeof cmd, "cp -a tests/fixtures/sysfs/intel-2s-server/. '%s'/", root);
	assert_int_equal(system(cmd), 0);
	/* package-1 lost its range file; dram of package 0 holds garbage */
	pwr_path(path, sizeof path, root, ZONE_DIR "intel-rapl:1/max_energy_range_uj");
	assert_int_equal(unlink(path), 0);
	pwr_path(path, sizeof path, root, ZONE_DIR "intel-rapl:0/intel-rapl:0:0/energy_uj");
	assert_int_equal(tu_write_file(path, "n/a\n", 4), 0);
	s = open_fixture(root, NULL);
	why = unavailable(s, "powercap:package-1");
	assert_non_null(why);
	assert_non_null(strstr(why, "wraps cannot be unfolded"));
	why = unavailable(s, "powercap:dram-0");
	assert_non_null(why);
	assert_non_null(strstr(why, "does not hold a number"));
	assert_non_null(domain(s, "powercap:package-0"));
	assert_non_null(domain(s, "powercap:dram-1"));
	assert_null(domain(s, "powercap:packages")); /* only one package left: no sum */
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void reads_the_counter(void **state)
{
	struct pwr_set *s = open_fixture("tests/fixtures/sysfs/intel-client", NULL);
	struct pwr_sample *v;
	size_t n;

	(void)state;
	pwr_sample_now(s);
	n = pwr_samples(s, 0, &v);
	assert_int_equal(n, 1);
	assert_string_equal(pwr_domain(s, 0)->id, "powercap:package-0");
	assert_true(v[0].raw == 118452031755ULL); /* the fixture's energy_uj */
	assert_true(v[0].energy_j == 0.0);
	free(v);
	pwr_close(s);
}

/* ---- `joulebench probes --json` ----------------------------------------------------------- */

static cJSON *probes_json(const char *args)
{
	char cmd[1024], *out = NULL, *err = NULL;
	cJSON *j;
	int rc;

	if (access(tu_joulebench(), X_OK) != 0)
		return NULL;
	snprintf(cmd, sizeof cmd, "exec \"$JB\" probes --json %s", args);
	rc = tu_run(cmd, 60, &out, &err);
	if (rc != 0)
		fail_msg("%s: exit %d: %s", cmd, rc, err);
	j = cJSON_Parse(out);
	if (!j)
		fail_msg("%s: not JSON: %.300s", cmd, out);
	free(out);
	free(err);
	return j;
}

static void probes_json_on_fixtures(void **state)
{
	cJSON *j, *doms, *d, *live, *un;
	bool mmio = false;
	int n = 0;

	(void)state;
	j = probes_json("--seconds 0.3 --probe powercap,estimate --sysfs-root tests/fixtures/sysfs/intel-client");
	if (!j)
		TU_SKIP("%s is not built", tu_joulebench());
	assert_string_equal(cJSON_GetObjectItem(j, "primary")->valuestring, "powercap:psys");
	doms = cJSON_GetObjectItem(j, "domains");
	cJSON_ArrayForEach(d, doms)
	{
		n++;
		live = cJSON_GetObjectItem(d, "live");
		assert_true(cJSON_IsObject(live));
		assert_true(cJSON_GetObjectItem(live, "samples")->valueint >= 2);
		assert_true(cJSON_GetObjectItem(live, "seconds")->valuedouble > 0.2);
		if (!strcmp(cJSON_GetObjectItem(d, "id")->valuestring, "powercap:psys")) {
			assert_string_equal(cJSON_GetObjectItem(d, "kind")->valuestring, "measured");
			assert_true(cJSON_IsNull(cJSON_GetObjectItem(d, "model")));
			assert_true(fabs(cJSON_GetObjectItem(d, "range_j")->valuedouble - 262143.32885) < 1e-6);
			/* the fixture does not move: 0 J measured, not a missing value */
			assert_true(cJSON_GetObjectItem(live, "energy_j")->valuedouble == 0.0);
		}
		if (!strcmp(cJSON_GetObjectItem(d, "id")->valuestring, "estimate:cpu")) {
			assert_string_equal(cJSON_GetObjectItem(d, "kind")->valuestring, "estimated");
			assert_non_null(strstr(cJSON_GetObjectItem(d, "model")->valuestring, "i7-1260P"));
		}
	}
	/* four powercap zones, and the estimate with its low and high bounds */
	assert_int_equal(n, 7);
	cJSON_ArrayForEach(un, cJSON_GetObjectItem(j, "unavailable"))
	mmio |= !strcmp(cJSON_GetObjectItem(un, "what")->valuestring, "powercap:intel-rapl-mmio:0");
	assert_true(mmio);
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sampler"), "samples")->valueint >= 2);
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "counters")));
	cJSON_Delete(j);
}

static void probes_json_without_rapl(void **state)
{
	char *root = tu_mkdtemp(), args[512];
	cJSON *j, *un, *d;

	(void)state;
	snprintf(args, sizeof args, "--seconds 0 --probe powercap --sysfs-root '%s'", root);
	j = probes_json(args);
	tu_rmtree(root);
	free(root);
	if (!j)
		TU_SKIP("%s is not built", tu_joulebench());
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "primary")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "domains")), 0);
	un = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "unavailable"), 0);
	assert_string_equal(cJSON_GetObjectItem(un, "what")->valuestring, "powercap");
	assert_non_null(strstr(cJSON_GetObjectItem(un, "reason")->valuestring, "no RAPL in this VM/kernel"));
	cJSON_ArrayForEach(d, cJSON_GetObjectItem(j, "backends"))
	if (!strcmp(cJSON_GetObjectItem(d, "name")->valuestring, "powercap"))
		assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "available")));
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(delta_without_wrap),
		cmocka_unit_test(delta_across_a_wrap),
		cmocka_unit_test(delta_of_equal_readings_is_zero),
		cmocka_unit_test(delta_with_a_32_bit_range),
		cmocka_unit_test(delta_with_a_64_bit_range),
		cmocka_unit_test(path_join),
		cmocka_unit_test(intel_client_zones),
		cmocka_unit_test(intel_two_socket_zones),
		cmocka_unit_test(amd_zen_package_only),
		cmocka_unit_test(no_powercap_says_no_rapl),
		cmocka_unit_test(sysfs_root_from_environment),
		cmocka_unit_test(select_one_domain),
		cmocka_unit_test(select_errors_name_the_probe),
		cmocka_unit_test(selected_domain_of_absent_backend_is_unavailable),
		cmocka_unit_test(root_only_energy_uj_says_what_to_do),
		cmocka_unit_test(real_chmod_when_not_root),
		cmocka_unit_test(malformed_zones_are_explained),
		cmocka_unit_test(reads_the_counter),
		cmocka_unit_test(probes_json_on_fixtures),
		cmocka_unit_test(probes_json_without_rapl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
