/*
 * tests/test_machine.c — the `machine` object of results, read from fake /proc, /sys and /etc
 * trees: every field from the files that carry it, null + reason when a file is missing.
 */
#include "helpers/testutil.h"

#include "bench/bench.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void put(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX], *slash;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	snprintf(dir, sizeof dir, "%s", path);
	for (char *p = dir + strlen(root) + 1; (slash = strchr(p, '/')); p = slash + 1) {
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
}

/* One processor block of cpuinfo. */
static void cpu_block(char *buf, size_t len, int proc, int pkg, int core)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n,
		 "processor\t: %d\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338 "
		 "CPU @ 2.00GHz\nphysical id\t: %d\ncore id\t\t: %d\nflags\t\t: fpu sse4_2 avx avx2 fma "
		 "f16c avx512f avx512bw avx512_vnni hypervisor\n\n",
		 proc, pkg, core);
}

static const cJSON *get(const cJSON *m, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);

	if (!v)
		fail_msg("machine.%s missing", k);
	return v;
}

static void test_full_tree(void **state)
{
	char *root = tu_mkdtemp(), ci[8192] = "";
	cJSON *m;
	const cJSON *simd;
	int i = 0;

	(void)state;
	/* 2 sockets × 2 cores × 2 threads */
	for (int p = 0; p < 2; p++)
		for (int c = 0; c < 2; c++)
			for (int t = 0; t < 2; t++)
				cpu_block(ci, sizeof ci, i++, p, c);
	put(root, "proc/cpuinfo", ci);
	put(root, "proc/meminfo", "MemTotal:       16384000 kB\nMemFree:         1000 kB\n");
	put(root, "proc/sys/kernel/osrelease", "6.8.0-test\n");
	put(root, "etc/os-release", "NAME=\"Test\"\nPRETTY_NAME=\"Test Linux 1.0\"\nID=test\n");
	put(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_min_freq", "800000\n");
	put(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "3200000\n");
	put(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "powersave\n");
	put(root, "sys/devices/system/cpu/intel_pstate/no_turbo", "1\n");
	put(root, "sys/hypervisor/type", "xen\n");

	m = bench_machine_json(root);
	assert_non_null(m);
	assert_string_equal(get(m, "cpu_model")->valuestring, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
	assert_string_equal(get(m, "cpu_vendor")->valuestring, "GenuineIntel");
	assert_int_equal(get(m, "threads")->valueint, 8);
	assert_int_equal(get(m, "sockets")->valueint, 2);
	assert_int_equal(get(m, "cores")->valueint, 4);
	assert_float_equal(get(m, "freq_min_mhz")->valuedouble, 800, 0);
	assert_float_equal(get(m, "freq_max_mhz")->valuedouble, 3200, 0);
	assert_string_equal(get(m, "governor")->valuestring, "powersave");
	assert_true(cJSON_IsFalse(get(m, "boost"))); /* no_turbo = 1 */
	assert_string_equal(get(m, "boost_source")->valuestring, "intel_pstate/no_turbo");
	assert_float_equal(get(m, "mem_bytes")->valuedouble, 16384000.0 * 1024, 0);
	assert_string_equal(get(m, "kernel")->valuestring, "Linux 6.8.0-test");
	assert_string_equal(get(m, "os")->valuestring, "Test Linux 1.0");
	assert_string_equal(get(m, "virtualized")->valuestring, "xen");
	assert_string_equal(get(m, "sysfs_root")->valuestring, root);
	simd = get(m, "simd_flags");
	assert_int_equal(cJSON_GetArraySize(simd), 8);
	assert_string_equal(cJSON_GetArrayItem(simd, 2)->valuestring, "avx2");
	assert_null(cJSON_GetObjectItem(m, "hypervisor_flag")); /* internal, not written */
	cJSON_Delete(m);
	tu_rmtree(root);
	free(root);
}

static void test_boost_and_no_hypervisor(void **state)
{
	char *root = tu_mkdtemp();
	cJSON *m;

	(void)state;
	put(root, "proc/cpuinfo",
	    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 7 7840U\n"
	    "physical id\t: 0\ncore id\t\t: 0\nflags\t\t: avx2 fma f16c\n\n");
	put(root, "sys/devices/system/cpu/cpufreq/boost", "1\n");
	m = bench_machine_json(root);
	assert_true(cJSON_IsTrue(get(m, "boost")));
	assert_string_equal(get(m, "boost_source")->valuestring, "cpufreq/boost");
	assert_true(cJSON_IsFalse(get(m, "virtualized")));
	cJSON_Delete(m);
	tu_rmtree(root);
	free(root);
}

/* ARM: no physical id / core id in cpuinfo; the topology comes from sysfs. */
static void test_arm_topology(void **state)
{
	char *root = tu_mkdtemp(), ci[2048] = "", rel[128];
	cJSON *m;

	(void)state;
	for (int i = 0; i < 4; i++) {
		size_t n = strlen(ci);

		snprintf(ci + n, sizeof ci - n,
			 "processor\t: %d\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd asimdhp asimddp i8mm\n"
			 "CPU implementer\t: 0x41\n\n",
			 i);
		snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", i);
		put(root, rel, "0\n");
		snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/core_id", i);
		put(root, rel, i < 2 ? "0\n" : "1\n");
	}
	put(root, "proc/cpuinfo", ci);
	m = bench_machine_json(root);
	assert_int_equal(get(m, "threads")->valueint, 4);
	assert_int_equal(get(m, "sockets")->valueint, 1);
	assert_int_equal(get(m, "cores")->valueint, 2);
	assert_string_equal(get(m, "cpu_vendor")->valuestring, "0x41");
	assert_int_equal(cJSON_GetArraySize(get(m, "simd_flags")), 4); /* asimd asimddp i8mm asimdhp */
	assert_true(cJSON_IsNull(get(m, "cpu_model")));
	assert_true(cJSON_IsString(get(m, "cpu_model_reason")));
	cJSON_Delete(m);
	tu_rmtree(root);
	free(root);
}

/* An empty root: every field null with a reason naming the file. */
static void test_nothing_readable(void **state)
{
	static const char *const keys[] = { "cpu_model", "cpu_vendor", "sockets", "cores", "threads",
					    "freq_min_mhz", "freq_max_mhz", "governor", "boost",
					    "mem_bytes", "kernel", "os", "virtualized", "simd_flags" };
	char *root = tu_mkdtemp();
	cJSON *m;

	(void)state;
	m = bench_machine_json(root);
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		char rk[64];
		const cJSON *reason;

		snprintf(rk, sizeof rk, "%s_reason", keys[i]);
		reason = cJSON_GetObjectItem(m, rk);
		if (!cJSON_IsNull(get(m, keys[i])) || !cJSON_IsString(reason))
			fail_msg("%s: expected null with a reason", keys[i]);
		assert_non_null(strstr(reason->valuestring, root));
	}
	assert_non_null(strstr(cJSON_GetObjectItem(m, "governor_reason")->valuestring,
			       "cpufreq/scaling_governor: No such file or directory"));
	cJSON_Delete(m);
	tu_rmtree(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_tree),
		cmocka_unit_test(test_boost_and_no_hypervisor),
		cmocka_unit_test(test_arm_topology),
		cmocka_unit_test(test_nothing_readable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
