/*
 * tests/test_estimate.c — the labelled CPU power model: hand-computed energies, the hardware
 * table (its shipped rows and its error messages), CPU-name matching, and the backend end to end
 * on fixture roots.
 */
#include "helpers/testutil.h"

#include "power/backend.h"
#include "power/estimate.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static int put(const char *path, const char *text)
{
	return tu_write_file(path, text, strlen(text));
}

static void model_on_bare_metal(void **state)
{
	struct pwr_cpu_entry row = { .match = "i5-12400", .name = "Intel Core i5-12400", .tdp_w = 65,
				     .idle_fraction = 0.10, .cores = 6, .threads = 12, .file = "t.json" };
	struct pwr_opts o = { 0 };
	struct pwr_estimate_model m;
	char err[256];

	(void)state;
	assert_int_equal(pwr_estimate_build("12th Gen Intel(R) Core(TM) i5-12400", &row, &o, 12, &m, err, sizeof err), 0);
	/* idle 6.5 W; (65 - 6.5) / 12 = 4.875 W per busy CPU; all 12 CPUs here: share 1 */
	assert_true(NEAR(m.idle_w, 6.5));
	assert_true(NEAR(m.per_cpu_w, 4.875));
	assert_true(NEAR(m.idle_share, 1.0));
	/* 10 s with 4 CPU-seconds: 65 + 19.5 */
	assert_true(NEAR(pwr_estimate_energy_j(&m, 10, 4), 84.5));
	/* every thread busy for 1 s gives the TDP */
	assert_true(NEAR(pwr_estimate_energy_j(&m, 1, 12), 65.0));
	assert_non_null(strstr(m.text, "TDP 65 W of Intel Core i5-12400 (t.json)"));
	assert_non_null(strstr(m.text, "idle assumed 10% of TDP"));
	assert_non_null(strstr(m.text, "4.875 W per busy CPU"));
}

static void model_in_a_small_vm(void **state)
{
	struct pwr_cpu_entry row = { .match = "Gold 6338", .name = "Intel Xeon Gold 6338", .tdp_w = 205,
				     .idle_fraction = 0.25, .threads = 64, .file = "x.json" };
	struct pwr_opts o = { 0 };
	struct pwr_estimate_model m;
	char err[256];

	(void)state;
	assert_int_equal(pwr_estimate_build("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", &row, &o, 2, &m, err,
					    sizeof err),
			 0);
	/* idle 51.25 W, of which a 2-of-64-CPU VM is charged 1/32; (205 - 51.25) / 64 W per CPU */
	assert_true(NEAR(m.idle_w, 51.25));
	assert_true(NEAR(m.idle_share, 0.03125));
	assert_true(NEAR(m.per_cpu_w, 2.40234375));
	/* 10 s, 15 CPU-seconds: 16.015625 + 36.03515625 */
	assert_true(NEAR(pwr_estimate_energy_j(&m, 10, 15), 52.05078125));
	assert_non_null(strstr(m.text, "2 of 64 CPUs online"));
}

static void model_from_user_values(void **state)
{
	struct pwr_opts o = { .tdp_w = 100, .idle_w = 20, .cpu_threads = 8 };
	struct pwr_estimate_model m;
	char err[256];

	(void)state;
	assert_int_equal(pwr_estimate_build("AMD EPYC", NULL, &o, 8, &m, err, sizeof err), 0);
	assert_true(NEAR(m.per_cpu_w, 10.0));
	/* 2 s, 3 CPU-seconds: 40 + 30 */
	assert_true(NEAR(pwr_estimate_energy_j(&m, 2, 3), 70.0));
	assert_non_null(strstr(m.text, "TDP 100 W given for 'AMD EPYC'"));
	assert_non_null(strstr(m.text, "idle 20 W given"));
	/* only a TDP: threads default to the online CPUs, idle to 10% */
	o.idle_w = 0;
	o.cpu_threads = 0;
	assert_int_equal(pwr_estimate_build("AMD EPYC", NULL, &o, 4, &m, err, sizeof err), 0);
	assert_true(NEAR(m.idle_w, 10.0));
	assert_true(NEAR(m.per_cpu_w, 22.5));
	assert_true(NEAR(pwr_estimate_energy_j(&m, 1, 1), 32.5));
}

static void user_values_override_the_table(void **state)
{
	struct pwr_cpu_entry row = { .match = "i7-1260P", .name = "Intel Core i7-1260P", .tdp_w = 28,
				     .idle_w = 3, .threads = 16, .file = "t.json" };
	struct pwr_opts o = { .tdp_w = 40 };
	struct pwr_estimate_model m;
	char err[256];

	(void)state;
	assert_int_equal(pwr_estimate_build("i7-1260P", &row, &o, 16, &m, err, sizeof err), 0);
	assert_true(NEAR(m.tdp_w, 40));
	assert_true(NEAR(m.idle_w, 4)); /* the table's idle belongs to its TDP: 10% of the given one */
	o.tdp_w = 0;
	assert_int_equal(pwr_estimate_build("i7-1260P", &row, &o, 16, &m, err, sizeof err), 0);
	assert_true(NEAR(m.idle_w, 3));
	assert_non_null(strstr(m.text, "idle 3 W from the table"));
}

static void unknown_cpu_is_unavailable(void **state)
{
	struct pwr_opts o = { 0 };
	struct pwr_estimate_model m;
	char err[256];

	(void)state;
	assert_int_equal(pwr_estimate_build("AMD EPYC", NULL, &o, 2, &m, err, sizeof err), -ENOENT);
	assert_string_equal(err, "CPU 'AMD EPYC' is not in configs/hardware: pass --tdp-w W (the vendor's "
				 "TDP; in a VM, TDP x vCPUs / host threads) or add the CPU to "
				 "configs/hardware/amd-epyc.json");
	assert_int_equal(pwr_estimate_build("Intel(R) Xeon(R) CPU @ 2.20GHz", NULL, &o, 2, &m, err, sizeof err),
			 -ENOENT);
	assert_non_null(strstr(err, "to configs/hardware/intel-server.json"));
	assert_int_equal(pwr_estimate_build("Intel(R) Core(TM) i5-8250U", NULL, &o, 2, &m, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "to configs/hardware/intel-client.json"));
	assert_int_equal(pwr_estimate_build("Some RISC-V core", NULL, &o, 2, &m, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "to configs/hardware/<vendor>.json (a new file)"));
	o.tdp_w = 10;
	o.idle_w = 12;
	assert_int_equal(pwr_estimate_build("AMD EPYC", NULL, &o, 2, &m, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "must be below the TDP"));
	o.idle_w = -1;
	assert_int_equal(pwr_estimate_build("AMD EPYC", NULL, &o, 2, &m, err, sizeof err), -EINVAL);
}

static void matching_is_by_whole_word_longest_first(void **state)
{
	struct pwr_cpu_entry v[4] = {
		{ .match = "i7-12700K" },
		{ .match = "Ryzen 9 7950X" },
		{ .match = "Ryzen 9 7950X3D" },
		{ .match = "Raspberry Pi 5" },
	};

	(void)state;
	assert_int_equal(pwr_hwdb_match(v, 4, "12th Gen Intel(R) Core(TM) i7-12700K"), 0);
	assert_int_equal(pwr_hwdb_match(v, 4, "12th Gen Intel(R) Core(TM) i7-12700KF"), -1);
	assert_int_equal(pwr_hwdb_match(v, 4, "AMD Ryzen 9 7950X 16-Core Processor"), 1);
	assert_int_equal(pwr_hwdb_match(v, 4, "AMD Ryzen 9 7950X3D 16-Core Processor"), 2);
	assert_int_equal(pwr_hwdb_match(v, 4, "amd ryzen 9 7950x 16-core processor"), 1);
	assert_int_equal(pwr_hwdb_match(v, 4, "Raspberry Pi 5 Model B Rev 1.0"), 3);
	assert_int_equal(pwr_hwdb_match(v, 4, "Raspberry Pi 500"), -1);
	assert_int_equal(pwr_hwdb_match(v, 4, ""), -1);
}

static void shipped_table_rows_have_sources(void **state)
{
	struct pwr_cpu_entry *v = NULL;
	int n = 0;
	char err[512];
	bool intel = false, xeon = false, ryzen = false, epyc = false, apple = false, pi = false;

	(void)state;
	if (pwr_hwdb_load_dir("configs/hardware", &v, &n, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_true(n >= 20);
	for (int k = 0; k < n; k++) {
		assert_true(v[k].tdp_w > 0);
		assert_true(v[k].threads > 0);
		if (!strstr(v[k].source, "https://"))
			fail_msg("%s (%s) cites no source URL", v[k].name, v[k].file);
		intel |= strstr(v[k].name, "Intel Core") != NULL;
		xeon |= strstr(v[k].name, "Xeon") != NULL;
		ryzen |= strstr(v[k].name, "Ryzen") != NULL;
		epyc |= strstr(v[k].name, "EPYC") != NULL;
		apple |= strstr(v[k].name, "Apple M") != NULL;
		pi |= strstr(v[k].name, "Raspberry Pi 5") != NULL;
	}
	assert_true(intel && xeon && ryzen && epyc && apple && pi);
	/* the fixture machines are in it */
	assert_true(pwr_hwdb_match(v, n, "12th Gen Intel(R) Core(TM) i7-1260P") >= 0);
	assert_true(pwr_hwdb_match(v, n, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz") >= 0);
	assert_true(pwr_hwdb_match(v, n, "AMD Ryzen 9 7950X 16-Core Processor") >= 0);
	assert_true(pwr_hwdb_match(v, n, "Apple Mac mini (M1, 2020)") >= 0);
	assert_true(pwr_hwdb_match(v, n, "Raspberry Pi 5 Model B Rev 1.0") >= 0);
	/* a bare "AMD EPYC" (cloud VMs) has no TDP: not guessed */
	assert_int_equal(pwr_hwdb_match(v, n, "AMD EPYC"), -1);
	free(v);
}

static void table_errors_name_file_and_field(void **state)
{
	char *dir = tu_mkdtemp(), path[PATH_MAX], err[512];
	struct pwr_cpu_entry *v = NULL;
	int n = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/bad.json", dir);
	assert_int_equal(put(path, "{\"cpus\": [ {\"match\": \"x\",}"), 0);
	assert_int_equal(pwr_hwdb_load(path, &v, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "bad.json: invalid JSON at byte"));
	assert_int_equal(put(path, "{\"cpus\": [{\"match\": \"x\", \"threads\": 4}]}"), 0);
	assert_int_equal(pwr_hwdb_load(path, &v, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "bad.json: cpus[0].tdp_w must be a number"));
	assert_int_equal(put(path, "{\"cpus\": [{\"match\": \"x\", \"tdp_w\": 10, \"threads\": 0}]}"), 0);
	assert_int_equal(pwr_hwdb_load(path, &v, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "cpus[0].threads"));
	assert_int_equal(put(path, "[1, 2]"), 0);
	assert_int_equal(pwr_hwdb_load(path, &v, &n, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "\"cpus\" array"));
	snprintf(path, sizeof path, "%s/missing.json", dir);
	assert_int_equal(pwr_hwdb_load(path, &v, &n, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "missing.json: No such file"));
	assert_int_equal(n, 0);
	free(v);
	tu_rmtree(dir);
	free(dir);
}

static void cpu_names_from_the_root(void **state)
{
	char *root = tu_mkdtemp(), path[PATH_MAX], name[160], alt[160], cmd[PATH_MAX + 32];
	const char *pi = "processor\t: 0\nBogoMIPS\t: 108.00\nCPU part\t: 0xd0b\n\nRevision\t: d04170\n"
			 "Model\t\t: Raspberry Pi 5 Model B Rev 1.0\n";

	(void)state;
	pwr_estimate_cpu_name("tests/fixtures/sysfs/intel-2s-server", name, sizeof name, alt, sizeof alt);
	assert_string_equal(name, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/proc/device-tree'", root);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof path, "%s/proc/cpuinfo", root);
	assert_int_equal(tu_write_file(path, pi, strlen(pi)), 0);
	pwr_estimate_cpu_name(root, name, sizeof name, alt, sizeof alt);
	assert_string_equal(name, "Raspberry Pi 5 Model B Rev 1.0");
	/* Apple silicon: no model name, the device tree names the machine */
	assert_int_equal(put(path, "processor\t: 0\nCPU implementer\t: 0x61\n"), 0);
	snprintf(path, sizeof path, "%s/proc/device-tree/model", root);
	assert_int_equal(tu_write_file(path, "Apple Mac mini (M1, 2020)\0", 26), 0);
	pwr_estimate_cpu_name(root, name, sizeof name, alt, sizeof alt);
	assert_string_equal(name, "Apple Mac mini (M1, 2020)");
	tu_rmtree(root);
	free(root);
}

/* ---- the backend end to end ---------------------------------------------------------------- */

static const char *estimate_only[] = { "estimate", NULL };

static int64_t process_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void backend_estimates_this_process(void **state)
{
	struct pwr_opts o = { .sysfs_root = "tests/fixtures/sysfs/intel-client", .probes = estimate_only };
	struct pwr_set *s = NULL;
	const struct pwr_domain_desc *d;
	struct pwr_energy e;
	struct pwr_sample *v;
	char err[256];
	int64_t c0, c1;
	volatile double sink = 0;
	double idle_w, per_cpu_w, share, want;
	int online;
	size_t n;

	(void)state;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	/* the model and its low and high bounds */
	assert_int_equal(pwr_n_domains(s), 3);
	assert_string_equal(pwr_domain(s, 1)->id, "estimate:cpu-low");
	assert_string_equal(pwr_domain(s, 2)->id, "estimate:cpu-high");
	d = pwr_domain(s, 0);
	assert_string_equal(d->id, "estimate:cpu");
	assert_int_equal(d->kind, PWR_ESTIMATED);
	assert_non_null(strstr(d->model, "TDP 28 W of Intel Core i7-1260P"));
	assert_non_null(strstr(d->covers, "not a measurement"));
	assert_int_equal(pwr_primary_domain(s), 0);
	assert_non_null(strstr(pwr_primary_why(s), "estimate"));
	pwr_sample_now(s);
	c0 = process_cpu_ns();
	for (long k = 0; k < 30000000; k++)
		sink += (double)k * 1e-9;
	(void)sink; /* clang: -Wunused-but-set-variable */
	c1 = process_cpu_ns();
	pwr_sample_now(s);
	n = pwr_samples(s, 0, &v);
	assert_int_equal(n, 2);
	assert_int_equal(pwr_energy_window(s, 0, v[0].t_ns, v[1].t_ns, &e), 0);
	assert_true(e.valid);
	/* the model from its own inputs: 2.8 W idle, 1.575 W per busy CPU, share online/16 */
	idle_w = 2.8;
	per_cpu_w = (28 - 2.8) / 16;
	online = (int)sysconf(_SC_NPROCESSORS_ONLN);
	share = online >= 16 ? 1.0 : online / 16.0;
	want = idle_w * share * (double)(v[1].t_ns - v[0].t_ns) / 1e9 + per_cpu_w * (double)(c1 - c0) / 1e9;
	/* the samples bracket the loop a little more widely than c0..c1 */
	if (fabs(e.energy_j - want) > 0.05 * want + 2e-4)
		fail_msg("estimate %.6f J, hand-computed %.6f J", e.energy_j, want);
	free(v);
	pwr_close(s);
}

static void backend_unknown_cpu_reason(void **state)
{
	char *root = tu_mkdtemp(), path[PATH_MAX], cmd[PATH_MAX + 32];
	struct pwr_opts o = { .probes = estimate_only };
	struct pwr_set *s = NULL;
	char err[256];

	(void)state;
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/proc'", root);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof path, "%s/proc/cpuinfo", root);
	assert_int_equal(put(path, "processor\t: 0\nmodel name\t: AMD EPYC\n"), 0);
	o.sysfs_root = root;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	assert_int_equal(pwr_n_domains(s), 0);
	assert_int_equal(pwr_primary_domain(s), -1);
	assert_string_equal(pwr_unavailable(s, 0)->what, "estimate");
	assert_non_null(strstr(pwr_unavailable(s, 0)->reason,
			       "CPU 'AMD EPYC' is not in configs/hardware: pass --tdp-w W"));
	assert_non_null(strstr(pwr_unavailable(s, 0)->reason, "to configs/hardware/amd-epyc.json"));
	/* the whole reason reaches the primary-source explanation, not cut */
	assert_non_null(strstr(pwr_primary_why(s), "to configs/hardware/amd-epyc.json"));
	pwr_close(s);
	/* with --tdp-w the same machine gets a labelled estimate */
	o.tdp_w = 180;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	assert_int_equal(pwr_n_domains(s), 3);
	assert_non_null(strstr(pwr_domain(s, 0)->model, "TDP 180 W given for 'AMD EPYC'"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void backend_user_table_wins(void **state)
{
	char *dir = tu_mkdtemp(), path[PATH_MAX];
	const char *mine = "{\"cpus\": [{\"match\": \"i7-1260P\", \"name\": \"my tuned i7-1260P\", \"tdp_w\": 40, "
			   "\"threads\": 16, \"idle_w\": 5}]}";
	struct pwr_opts o = { .sysfs_root = "tests/fixtures/sysfs/intel-client", .probes = estimate_only };
	struct pwr_set *s = NULL;
	char err[256];

	(void)state;
	snprintf(path, sizeof path, "%s/mine.json", dir);
	assert_int_equal(tu_write_file(path, mine, strlen(mine)), 0);
	o.hardware_db = path;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	assert_non_null(strstr(pwr_domain(s, 0)->model, "TDP 40 W of my tuned i7-1260P"));
	assert_non_null(strstr(pwr_domain(s, 0)->model, "idle 5 W from the table"));
	pwr_close(s);
	/* the environment variable does the same; a broken file is reported, not ignored */
	o.hardware_db = NULL;
	assert_int_equal(put(path, "{"), 0);
	setenv("JOULEBENCH_HARDWARE_DB", path, 1);
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	unsetenv("JOULEBENCH_HARDWARE_DB");
	assert_int_equal(pwr_n_domains(s), 0);
	assert_non_null(strstr(pwr_unavailable(s, 0)->reason, "mine.json: invalid JSON"));
	pwr_close(s);
	tu_rmtree(dir);
	free(dir);
}

#define FRACTIONS "configs/hardware/ranges/tdp-fractions.json"

/* The range from the published fractions of TDP, hand-computed: a Xeon Gold 6338 (205 W, 64
 * threads, the server table's 25% idle assumption) in a 2-CPU VM. */
static void range_from_published_fractions(void **state)
{
	struct pwr_cpu_entry row = { .match = "Gold 6338", .name = "Intel Xeon Gold 6338", .tdp_w = 205,
				     .idle_fraction = 0.25, .threads = 64, .file = "x.json" };
	struct pwr_opts o = { 0 };
	struct pwr_estimate_model m;
	struct pwr_tdp_fractions f;
	char err[256];
	double e, lo, hi;

	(void)state;
	assert_int_equal(pwr_tdp_fractions_load(FRACTIONS, &f, err, sizeof err), 0);
	/* idle: Teads/Boavizta 0.12 to CCF's highest min/max 0.3685; full load 1.0 to Teads 1.02 */
	assert_true(NEAR(f.idle[0], 0.12) && NEAR(f.idle[1], 0.3685));
	assert_true(NEAR(f.full[0], 1.0) && NEAR(f.full[1], 1.02));
	assert_string_equal(f.sets, "teads-boavizta,ccf-specpower");
	assert_int_equal(pwr_estimate_build("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", &row, &o, 2, &m, err,
					    sizeof err),
			 0);
	pwr_estimate_range(&m, &f);
	assert_true(m.has_range);
	/* low: idle 24.6 W, full 205 W; high: idle 75.5425 W, full 209.1 W */
	assert_true(NEAR(m.idle_lh_w[0], 24.6) && NEAR(m.idle_lh_w[1], 75.5425));
	assert_true(NEAR(m.full_lh_w[0], 205) && NEAR(m.full_lh_w[1], 209.1));
	/* per busy CPU at the corners: (205 - 75.5425) / 64 and (209.1 - 24.6) / 64 */
	assert_true(NEAR(m.per_cpu_lh_w[0], (205 - 75.5425) / 64) && NEAR(m.per_cpu_lh_w[1], (209.1 - 24.6) / 64));
	assert_true(m.per_cpu_lh_w[0] < m.per_cpu_w && m.per_cpu_w < m.per_cpu_lh_w[1]);
	/* 10 s, 15 CPU-seconds: low 24.6/32 x 10 + 2.02277 x 15, high 75.5425/32 x 10 + 2.88281 x 15 */
	e = pwr_estimate_energy_j(&m, 10, 15);
	lo = pwr_estimate_bound_j(&m, 0, 10, 15);
	hi = pwr_estimate_bound_j(&m, 1, 10, 15);
	assert_true(NEAR(lo, 24.6 / 32 * 10 + (205 - 75.5425) / 64 * 15));
	assert_true(NEAR(hi, 75.5425 / 32 * 10 + (209.1 - 24.6) / 64 * 15));
	assert_true(lo < e && e < hi);
	/* idle for 1 s: the VM's 1/32 share of the low idle; both vCPUs busy for 1 s: the high idle
	 * share and two threads' part of the high full load */
	assert_true(NEAR(pwr_estimate_bound_j(&m, 0, 1, 0), 24.6 / 32));
	assert_true(NEAR(pwr_estimate_bound_j(&m, 1, 1, 2), 75.5425 / 32 + (209.1 - 24.6) / 64 * 2));
	assert_true(pwr_estimate_bound_j(&m, 1, 1, 2) > pwr_estimate_energy_j(&m, 1, 2));
	assert_string_equal(m.range_sets, "table-idle-fraction,teads-boavizta,ccf-specpower");
	assert_non_null(strstr(m.range_text, "teads-boavizta,ccf-specpower"));
	/* an idle power that was given stays as given: only full load moves */
	o.idle_w = 30;
	assert_int_equal(pwr_estimate_build("Gold 6338", &row, &o, 2, &m, err, sizeof err), 0);
	pwr_estimate_range(&m, &f);
	assert_true(NEAR(m.idle_lh_w[0], 30) && NEAR(m.idle_lh_w[1], 30));
	assert_true(NEAR(m.full_lh_w[1], 209.1));
	assert_string_equal(m.range_sets, "given-idle,teads-boavizta,ccf-specpower");
}

static void fraction_file_errors_name_file_and_field(void **state)
{
	char *dir = tu_mkdtemp(), path[PATH_MAX];
	struct pwr_tdp_fractions f;
	char err[320];

	(void)state;
	snprintf(path, sizeof path, "%s/f.json", dir);
	assert_int_equal(put(path, "{\"sets\": [{\"id\": \"x\", \"source\": \"s\", \"idle_fraction\": {\"low\": 0.5, "
				   "\"high\": 0.2}, \"full_fraction\": {\"low\": 1, \"high\": 1}}]}"),
			 0);
	assert_int_equal(pwr_tdp_fractions_load(path, &f, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "f.json: sets[0].idle_fraction must be"));
	assert_int_equal(put(path, "{\"sets\": [{\"id\": \"x\", \"idle_fraction\": {\"low\": 0.1, \"high\": 0.2}, "
				   "\"full_fraction\": {\"low\": 1, \"high\": 1}}]}"),
			 0);
	assert_int_equal(pwr_tdp_fractions_load(path, &f, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "sets[0] (x) has no \"source\""));
	assert_int_equal(put(path, "{\"sets\": []"), 0);
	assert_int_equal(pwr_tdp_fractions_load(path, &f, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "f.json: invalid JSON at byte"));
	tu_rmtree(dir);
	free(dir);
}

/* A broken fractions file: estimate:cpu still runs, without a range, and estimate:range says why. */
static void broken_fraction_file_is_reported(void **state)
{
	char *data = tu_mkdtemp(), cmd[PATH_MAX + 64], path[PATH_MAX];
	struct pwr_opts o = { .sysfs_root = "tests/fixtures/sysfs/intel-client", .probes = estimate_only };
	struct pwr_set *s = NULL;
	char err[256];
	const char *why = NULL;

	(void)state;
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/configs/hardware/ranges'", data);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof path, "%s/configs/hardware/ranges/tdp-fractions.json", data);
	assert_int_equal(put(path, "{\"sets\": [{\"id\": \"x\", \"source\": \"s\", \"idle_fraction\": {\"low\": 0.5, "
				   "\"high\": 0.2}, \"full_fraction\": {\"low\": 1, \"high\": 1}}]}"),
			 0);
	/* configs/hardware is then the one under $JOULEBENCH_DATA, without tables: give the TDP */
	o.tdp_w = 28;
	setenv("JOULEBENCH_DATA", data, 1);
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	unsetenv("JOULEBENCH_DATA");
	assert_int_equal(pwr_n_domains(s), 1);
	assert_string_equal(pwr_domain(s, 0)->id, "estimate:cpu");
	assert_non_null(strstr(pwr_domain(s, 0)->model, "no range: "));
	for (int u = 0; u < pwr_n_unavailable(s); u++)
		if (!strcmp(pwr_unavailable(s, u)->what, "estimate:range"))
			why = pwr_unavailable(s, u)->reason;
	assert_non_null(why);
	assert_non_null(strstr(why, "tdp-fractions.json: sets[0].idle_fraction must be"));
	assert_non_null(strstr(why, "(low 0.5, high 0.2)"));
	pwr_close(s);
	tu_rmtree(data);
	free(data);
}

/* The backend: estimate:cpu-low and -high bracket estimate:cpu over the same window (their
 * samples shared, so to the nanojoule), never stand for the run, and record the sets their range
 * spans. */
static void backend_range_brackets_the_estimate(void **state)
{
	struct pwr_opts o = { .sysfs_root = "tests/fixtures/sysfs/intel-client", .probes = estimate_only };
	struct pwr_set *s = NULL;
	struct pwr_energy e[3];
	struct pwr_sample *v;
	char err[256];
	volatile double sink = 0;
	int64_t t[2] = {0, 0};
	size_t n;

	(void)state;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	assert_int_equal(pwr_n_domains(s), 3);
	assert_int_equal(pwr_primary_domain(s), 0);
	for (int i = 0; i < 3; i++)
		assert_string_equal(pwr_domain(s, i)->range_sets, "table-idle-fraction,teads-boavizta,ccf-specpower");
	assert_non_null(strstr(pwr_domain(s, 0)->model, "range: idle 2.8-10.32 W"));
	assert_non_null(strstr(pwr_domain(s, 1)->covers, "low bound of estimate:cpu"));
	pwr_sample_now(s);
	for (long k = 0; k < 10000000; k++)
		sink += (double)k * 1e-9;
	(void)sink;
	pwr_sample_now(s);
	/* the three take each round's figures from one sample: the same instants, so the same window */
	for (int i = 0; i < 3; i++) {
		n = pwr_samples(s, i, &v);
		assert_int_equal(n, 2);
		if (i == 0)
			t[0] = v[0].t_ns, t[1] = v[1].t_ns;
		else if (v[0].t_ns != t[0] || v[1].t_ns != t[1])
			fail_msg("%s read at %lld-%lld ns, estimate:cpu at %lld-%lld", pwr_domain(s, i)->id,
				 (long long)v[0].t_ns, (long long)v[1].t_ns, (long long)t[0], (long long)t[1]);
		assert_int_equal(pwr_energy_window(s, i, v[0].t_ns, v[1].t_ns, &e[i]), 0);
		assert_true(e[i].valid);
		free(v);
	}
	/* over the same window no slack is needed for the time between reads */
	if (!(e[1].energy_j <= e[0].energy_j && e[0].energy_j <= e[2].energy_j && e[1].energy_j < e[2].energy_j))
		fail_msg("low %.6f J, estimate %.6f J, high %.6f J", e[1].energy_j, e[0].energy_j, e[2].energy_j);
	pwr_close(s);
}

static void measured_beats_estimate_for_primary(void **state)
{
	const char *both[] = { "powercap", "estimate", NULL };
	struct pwr_opts o = { .sysfs_root = "tests/fixtures/sysfs/amd-zen", .probes = both };
	struct pwr_set *s = NULL;
	char err[256];

	(void)state;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	assert_int_equal(pwr_n_domains(s), 4);
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, "powercap:package-0");
	pwr_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model_on_bare_metal),
		cmocka_unit_test(model_in_a_small_vm),
		cmocka_unit_test(model_from_user_values),
		cmocka_unit_test(user_values_override_the_table),
		cmocka_unit_test(unknown_cpu_is_unavailable),
		cmocka_unit_test(matching_is_by_whole_word_longest_first),
		cmocka_unit_test(shipped_table_rows_have_sources),
		cmocka_unit_test(table_errors_name_file_and_field),
		cmocka_unit_test(cpu_names_from_the_root),
		cmocka_unit_test(backend_estimates_this_process),
		cmocka_unit_test(backend_unknown_cpu_reason),
		cmocka_unit_test(backend_user_table_wins),
		cmocka_unit_test(measured_beats_estimate_for_primary),
		cmocka_unit_test(range_from_published_fractions),
		cmocka_unit_test(fraction_file_errors_name_file_and_field),
		cmocka_unit_test(backend_range_brackets_the_estimate),
		cmocka_unit_test(broken_fraction_file_is_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
