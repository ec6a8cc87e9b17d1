/*
 * tests/test_vm.c — the `vm` backend (CCF watts per vCPU): micro-architecture inference from masked
 * CPU names, the shipped coefficient table, hand-computed energies, and the backend end to end on
 * fake /proc trees driven at known CPU time and utilisation.
 */
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include "power/backend.h"
#include "power/vm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COEF       "configs/hardware/vm/ccf-vcpu.json"
#define BOA        "configs/hardware/vm/boavizta-vcpu.json"
#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static const char *infer(const char *vendor, const char *name, int family, int model, int stepping,
                         const char *flags, char *how, size_t how_len)
{
	struct pwr_cpuid c;

	memset(&c, 0, sizeof c);
	c.arm_implementer = c.arm_part = -1;
	snprintf(c.vendor, sizeof c.vendor, "%s", vendor);
	snprintf(c.model_name, sizeof c.model_name, "%s", name);
	c.family = family;
	c.model = model;
	c.stepping = stepping;
	snprintf(c.flags, sizeof c.flags, " %s ", flags);
	return pwr_vm_infer_uarch(&c, how, how_len);
}

static void masked_names_inferred_from_cpuid(void **state)
{
	char how[320];

	(void)state;
	/* this VM: "AMD EPYC", family 26 */
	assert_string_equal(
	    infer("AuthenticAMD", "AMD EPYC", 0x1a, 2, 1, "fpu avx2 avx512f", how, sizeof how),
	    "zen5");
	assert_non_null(strstr(how, "family 0x1A"));
	assert_non_null(strstr(how, "model name 'AMD EPYC' names no part"));
	/* AVX-512 on family 0x19 is Zen 4, without it Zen 3 */
	assert_string_equal(
	    infer("AuthenticAMD", "AMD EPYC", 0x19, 0x11, 1, "avx2 avx512f", how, sizeof how),
	    "zen4");
	assert_non_null(strstr(how, "AVX-512"));
	assert_string_equal(
	    infer("AuthenticAMD", "AMD EPYC 7B13", 0x19, 0x01, 1, "avx2", how, sizeof how), "zen3");
	assert_non_null(strstr(how, "model name 'AMD EPYC 7B13'"));
	assert_string_equal(
	    infer("AuthenticAMD", "AMD EPYC", 0x19, 0x11, 1, "avx2", how, sizeof how), "zen4");
	assert_string_equal(
	    infer("AuthenticAMD", "AMD EPYC", 0x17, 0x31, 0, "avx2", how, sizeof how), "zen2");
	assert_string_equal(
	    infer("AuthenticAMD", "AMD EPYC", 0x17, 0x01, 2, "avx2", how, sizeof how), "zen1");
	/* Intel: "Intel(R) Xeon(R) Processor" with a known model, or AMX with an unknown one */
	assert_string_equal(infer("GenuineIntel", "Intel(R) Xeon(R) Processor", 6, 0x8f, 8,
	                          "avx512f amx_tile", how, sizeof how),
	                    "sapphirerapids");
	assert_string_equal(infer("GenuineIntel", "Intel(R) Xeon(R) Processor", 6, 0xee, 1,
	                          "avx512f amx_tile", how, sizeof how),
	                    "sapphirerapids");
	assert_non_null(strstr(how, "AMX"));
	assert_string_equal(infer("GenuineIntel", "Intel(R) Xeon(R) Processor", 6, 0x55, 7,
	                          "avx512f avx512_vnni", how, sizeof how),
	                    "cascadelake");
	assert_string_equal(infer("GenuineIntel", "Intel(R) Xeon(R) CPU @ 2.00GHz", 6, 0x55, 4,
	                          "avx512f", how, sizeof how),
	                    "skylake");
	assert_string_equal(
	    infer("GenuineIntel", "Intel(R) Xeon(R) CPU", 6, 0x4f, 1, "avx2", how, sizeof how),
	    "broadwell");
	assert_string_equal(infer("GenuineIntel", "x", 6, 0x01, 1, "sse2", how, sizeof how),
	                    "unknown");
	assert_string_equal(infer("", "", -1, -1, -1, "", how, sizeof how), "unknown");
	{
		struct pwr_cpuid c;

		memset(&c, 0, sizeof c);
		c.family = c.model = c.stepping = -1;
		c.arm_implementer = 0x41;
		c.arm_part = 0xd0c;
		assert_string_equal(pwr_vm_infer_uarch(&c, how, sizeof how), "graviton2");
	}
}

static void shipped_table_rows(void **state)
{
	struct pwr_vm_coef k;
	char err[320];

	(void)state;
	assert_int_equal(pwr_vm_coef_load(COEF, "zen3", &k, err, sizeof err), 0);
	assert_true(k.min_w[0] == 0.45 && k.max_w[0] == 2.02);
	assert_true(k.mem_w_per_gb[0] == 0.392 && k.mem_w_per_gb[1] == 0.375 &&
	            k.mem_w_per_gb[2] == 0.4083);
	assert_non_null(strstr(k.source, "CCF"));
	assert_int_equal(pwr_vm_coef_load(COEF, "zen5", &k, err, sizeof err), 0);
	assert_true(k.min_w[0] == 0.74 && k.min_w[1] == 0.45 && k.min_w[2] == 0.82);
	assert_true(k.max_w[0] == 3.5 && k.max_w[1] == 1.69 && k.max_w[2] == 4.11);
	/* a micro-architecture without a row falls back to "unknown" */
	assert_int_equal(pwr_vm_coef_load(COEF, "nosuch", &k, err, sizeof err), 0);
	assert_string_equal(k.uarch, "unknown");
	/* every row has a source and low <= default <= high (the loader checks) */
	{
		static const char *ids[] = {
		    "sandybridge",   "ivybridge",  "haswell", "broadwell",      "skylake",
		    "cascadelake",   "coffeelake", "icelake", "sapphirerapids", "emeraldrapids",
		    "graniterapids", "zen1",       "zen2",    "zen3",           "zen4",
		    "zen5",          "graviton2",  "unknown"};

		for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
			if (pwr_vm_coef_load(COEF, ids[i], &k, err, sizeof err) != 0)
				fail_msg("%s: %s", ids[i], err);
			assert_string_equal(k.uarch, ids[i]);
			assert_true(k.source[0]);
		}
	}
	assert_true(pwr_vm_coef_load("/nonexistent.json", "zen3", &k, err, sizeof err) < 0);
	assert_non_null(strstr(err, "/nonexistent.json: No such file"));
}

static void energy_hand_computed(void **state)
{
	struct pwr_vm_coef k = {.min_w = {0.74, 0.45, 0.82},
	                        .max_w = {3.5, 1.69, 4.11},
	                        .mem_w_per_gb = {0.392, 0.375, 0.4083}};

	(void)state;
	/* 4 vCPUs, 8 GB, 10 s, 2 vCPUs busy the whole time (20 CPU-s): CCF's avg watts per vCPU at
	 * 50% utilisation is 0.74 + 0.5 x 2.76 = 2.12 W; x 4 vCPUs x 10 s = 84.8 J; memory
	 * 0.392 x 8 x 10 = 31.36 J */
	assert_true(fabs(pwr_vm_energy_j(&k, 0, 4, 8, 10, 20) - (84.8 + 31.36)) < 1e-9);
	/* low: 4 x 0.45 x 10 + 1.24 x 20 + 0.375 x 8 x 10 = 18 + 24.8 + 30 */
	assert_true(fabs(pwr_vm_energy_j(&k, 1, 4, 8, 10, 20) - 72.8) < 1e-9);
	/* high: 4 x 0.82 x 10 + 3.29 x 20 + 0.4083 x 8 x 10 = 32.8 + 65.8 + 32.664 */
	assert_true(fabs(pwr_vm_energy_j(&k, 2, 4, 8, 10, 20) - 131.264) < 1e-9);
	/* idle: only the floor */
	assert_true(fabs(pwr_vm_energy_j(&k, 0, 2, 0, 1, 0) - 1.48) < 1e-9);
}

static void fake_proc(const char *root, unsigned long long self_ticks, unsigned long long busy,
                      unsigned long long idle)
{
	char buf[512];

	/* busy split across user and system; 4 vCPUs */
	snprintf(buf, sizeof buf,
	         "cpu  %llu 0 %llu %llu 0 0 0 0 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 "
	         "0 0 0\n"
	         "cpu2 1 0 1 1 0 0 0 0 0 0\ncpu3 1 0 1 1 0 0 0 0 0 0\nintr 0\n",
	         busy / 2, busy - busy / 2, idle);
	fs_put(root, "proc/stat", buf);
	snprintf(buf, sizeof buf,
	         "4242 (joule bench) R 1 4242 4242 0 -1 4194304 100 0 0 0 %llu %llu 0 0 20 0 3 0 1 "
	         "0 0\n",
	         self_ticks / 3, self_ticks - self_ticks / 3);
	fs_put(root, "proc/self/stat", buf);
}

static char *make_root(void)
{
	char *root = tu_mkdtemp();

	fs_put(root, "proc/cpuinfo",
	       "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
	       "model name\t: AMD EPYC\nstepping\t: 1\nflags\t\t: fpu avx2 avx512f hypervisor\n\n"
	       "processor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n");
	fs_put(root, "proc/meminfo", "MemTotal:        8000000 kB\nMemFree:  1 kB\n");
	fake_proc(root, 100, 1000, 3000);
	return root;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* The sampler on a fake tree: the process uses 0.3 CPU-s and the VM 0.6 CPU-s (util 50% of 4
 * vCPUs over 0.3 s); each domain's window equals the hand-computed model. */
static void backend_end_to_end(void **state)
{
	char *root = make_root();
	struct pwr_opts o = {.sysfs_root = root, .interval_ms = 50};
	struct pwr_set *s = fs_open_one(&pwr_backend_vm, &o);
	double tick = 1.0 / (double)sysconf(_SC_CLK_TCK), mem_gb = 8000000.0 * 1024 / 1e9;
	static const struct {
		const char *id;
		int which;
		double busy_ticks;
	} want[] = {
	    {"vm:process", 0, 30},
	    {"vm:process-low", 1, 30},
	    {"vm:process-high", 2, 30},
	    {"vm:machine", 0, 60},
	};
	struct pwr_vm_coef k;
	char err[256];

	(void)state;
	assert_int_equal(pwr_n_domains(s), 4);
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, "vm:process");
	assert_int_equal(pwr_domain(s, 0)->kind, PWR_ESTIMATED);
	assert_non_null(strstr(pwr_domain(s, 0)->model, "AMD Zen 5 (no CCF row)"));
	assert_non_null(strstr(pwr_domain(s, 0)->model, "family 0x1A"));
	assert_non_null(strstr(pwr_domain(s, 0)->model, "4 vCPU x 0.74 W"));
	assert_int_equal(pwr_vm_coef_load(COEF, "zen5", &k, err, sizeof err), 0);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	sleep_ms(300);
	/* +30 ticks for the process, +60 busy and +60 idle ticks for the machine */
	fake_proc(root, 130, 1060, 3060);
	pwr_sample_now(s);
	sleep_ms(120);
	pwr_sampler_stop(s);
	for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
		int i = fs_dom_index(s, want[w].id);
		struct pwr_sample *v = NULL;
		struct pwr_energy e;
		size_t n;
		double dt, expect;

		assert_true(i >= 0);
		n = pwr_samples(s, i, &v);
		assert_true(n >= 3);
		assert_int_equal(pwr_energy_window(s, i, v[0].t_ns, v[n - 1].t_ns, &e), 0);
		assert_true(e.valid);
		dt = (double)(v[n - 1].t_ns - v[0].t_ns) / 1e9;
		expect =
		    pwr_vm_energy_j(&k, want[w].which, 4, mem_gb, dt, want[w].busy_ticks * tick);
		if (fabs(e.energy_j - expect) > 2e-3 * expect)
			fail_msg("%s: %.6f J over %.3f s, hand-computed %.6f J", want[w].id,
			         e.energy_j, dt, expect);
		free(v);
	}
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void full_registry_prefers_table_and_measurement(void **state)
{
	char *root = make_root();
	struct pwr_opts o = {.sysfs_root = root};
	const char *only[] = {"estimate", "vm", NULL};
	struct pwr_set *s = NULL;
	char err[256];

	(void)state;
	o.probes = only;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	/* "AMD EPYC" is in no TDP table: the vm model stands for the run */
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, "vm:process");
	pwr_close(s);
	/* with --tdp-w the TDP model is preferred; the vm bounds are never primary */
	o.tdp_w = 100;
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, "estimate:cpu");
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

/* A machine that measures (the intel-client fixture's RAPL psys) with the vm model also open: the
 * measurement stands for the run, the estimate never does. */
static void measurement_beats_the_estimate(void **state)
{
	char *root = fs_copy_fixture("intel-client");
	const char *only[] = {"powercap", "vm", NULL};
	struct pwr_opts o = {.sysfs_root = root, .probes = only};
	struct pwr_set *s = NULL;
	char err[256];

	(void)state;
	fs_put(root, "proc/stat", "cpu  10 0 10 100 0 0 0 0 0 0\ncpu0 10 0 10 100 0 0 0 0 0 0\n");
	fs_put(root, "proc/meminfo", "MemTotal: 1000000 kB\n");
	fs_put(root, "proc/self/stat", "1 (x) R 1 1 1 0 -1 0 0 0 0 0 5 5 0 0 20 0 1 0 1 0 0\n");
	assert_int_equal(pwr_open(&o, &s, err, sizeof err), 0);
	assert_true(fs_dom_index(s, "vm:process") >= 0);
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, "powercap:psys");
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void missing_proc_stat_says_why(void **state)
{
	char *root = tu_mkdtemp(), path[512];
	struct pwr_opts o = {0};
	struct pwr_set *s;
	const char *why;

	(void)state;
	fs_put(root, "proc/cpuinfo", "processor\t: 0\nmodel name\t: AMD EPYC\n");
	o.sysfs_root = root;
	s = fs_open_one(&pwr_backend_vm, &o);
	assert_int_equal(pwr_n_domains(s), 0);
	why = fs_reason(s, "vm");
	assert_non_null(why);
	snprintf(path, sizeof path, "cannot read %s/proc/stat", root);
	assert_non_null(strstr(why, path));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

/* The Boavizta/Teads set by hand: the curve, TDP per thread from the reference CPUs' rows of
 * configs/hardware, and the energy of one interval. */
static void boavizta_set_hand_computed(void **state)
{
	struct pwr_vm_boavizta b;
	char err[320], *dir, path[512];

	(void)state;
	assert_int_equal(
	    pwr_vm_boavizta_load(BOA, "configs/hardware", "cascadelake", &b, err, sizeof err), 0);
	assert_true(b.have);
	/* Xeon Gold 6248R: 205 W over 48 threads */
	assert_true(NEAR(b.tdp_per_thread_w[0], 205.0 / 48) &&
	            NEAR(b.tdp_per_thread_w[1], 205.0 / 48));
	assert_true(NEAR(b.mem_w_per_gb, 0.284));
	assert_non_null(strstr(b.refs, "Gold 6248R 205 W/48 thr"));
	/* the Teads points, and linear between them */
	assert_true(NEAR(pwr_vm_boavizta_ratio(&b, 0), 0.12));
	assert_true(NEAR(pwr_vm_boavizta_ratio(&b, 0.1), 0.32));
	assert_true(NEAR(pwr_vm_boavizta_ratio(&b, 0.3), 0.535));
	assert_true(NEAR(pwr_vm_boavizta_ratio(&b, 1), 1.02));
	assert_true(NEAR(pwr_vm_boavizta_ratio(&b, 2), 1.02));
	/* 4 vCPUs, 8 GB, 10 s, 20 CPU-s (50%): 4 x 205/48 x 0.75 x 10 + 0.284 x 8 x 10 */
	assert_true(NEAR(pwr_vm_boavizta_energy_j(&b, 0, 4, 8, 10, 20), 128.125 + 22.72));
	/* idle: 4 x 205/48 x 0.12 x 10 */
	assert_true(NEAR(pwr_vm_boavizta_energy_j(&b, 1, 4, 0, 10, 0), 20.5));
	/* two reference CPUs: low and high TDP per thread */
	assert_int_equal(
	    pwr_vm_boavizta_load(BOA, "configs/hardware", "icelake", &b, err, sizeof err), 0);
	assert_true(NEAR(b.tdp_per_thread_w[0], 205.0 / 64) &&
	            NEAR(b.tdp_per_thread_w[1], 270.0 / 80));
	/* no reference CPU: the set does not apply, and says why */
	assert_int_equal(pwr_vm_boavizta_load(BOA, "configs/hardware", "zen5", &b, err, sizeof err),
	                 0);
	assert_false(b.have);
	assert_non_null(strstr(b.why, "no reference CPU for 'zen5'"));
	/* a reference that is no row: the file, the field and the value */
	dir = tu_mkdtemp();
	snprintf(path, sizeof path, "%s/b.json", dir);
	fs_put(
	    dir, "b.json",
	    "{\"tdp_ratio\": {\"load_pct\": [0, 100], \"ratio\": [0.1, 1]}, \"memory_w_per_gb\": "
	    "{\"value\": 0.3}, \"uarchs\": [{\"id\": \"zen4\", \"reference_cpus\": [\"Nope "
	    "1\"]}]}");
	assert_int_equal(
	    pwr_vm_boavizta_load(path, "configs/hardware", "zen4", &b, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "b.json: uarchs[zen4].reference_cpus[0] = 'Nope 1' is no row"));
	fs_put(dir, "b.json",
	       "{\"tdp_ratio\": {\"load_pct\": [0, 50], \"ratio\": [0.1, 1]}, \"memory_w_per_gb\": "
	       "{\"value\": 0.3}, \"uarchs\": []}");
	assert_int_equal(
	    pwr_vm_boavizta_load(path, "configs/hardware", "zen4", &b, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "b.json: tdp_ratio.load_pct[1] = 50"));
	tu_rmtree(dir);
	free(dir);
}

/* Energy of domain i over all its own samples, and their span in seconds. */
static struct pwr_energy own_window(struct pwr_set *s, int i, double *dt)
{
	struct pwr_sample *v = NULL;
	struct pwr_energy e;
	size_t n = pwr_samples(s, i, &v);

	assert_true(n >= 3);
	assert_int_equal(pwr_energy_window(s, i, v[0].t_ns, v[n - 1].t_ns, &e), 0);
	assert_true(e.valid);
	*dt = (double)(v[n - 1].t_ns - v[0].t_ns) / 1e9;
	free(v);
	return e;
}

/* A Cascade Lake VM, idle then busy: vm:process-low and -high cover both coefficient sets and
 * record them. Idle, Boavizta's floor (0.12 x 205/48 W per vCPU, 0.284 W/GB) is below CCF's low
 * (0.64 W, 0.375 W/GB) and CCF's high above Boavizta's, so the bounds are exactly those. */
static void range_covers_ccf_and_boavizta(void **state)
{
	char *root = make_root();
	struct pwr_opts o = {.sysfs_root = root, .interval_ms = 50};
	struct pwr_set *s;
	double tick = 1.0 / (double)sysconf(_SC_CLK_TCK), mem_gb = 8000000.0 * 1024 / 1e9;
	struct pwr_vm_coef k;
	struct pwr_vm_boavizta b;
	struct pwr_energy lo, hi, mid;
	char err[320];
	int il, ih, im;

	(void)state;
	fs_put(
	    root, "proc/cpuinfo",
	    "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n"
	    "model name\t: Intel(R) Xeon(R) Processor\nstepping\t: 7\nflags\t\t: fpu avx2 avx512f "
	    "avx512_vnni hypervisor\n");
	s = fs_open_one(&pwr_backend_vm, &o);
	assert_int_equal(pwr_vm_coef_load(COEF, "cascadelake", &k, err, sizeof err), 0);
	assert_int_equal(
	    pwr_vm_boavizta_load(BOA, "configs/hardware", "cascadelake", &b, err, sizeof err), 0);
	im = fs_dom_index(s, "vm:process");
	il = fs_dom_index(s, "vm:process-low");
	ih = fs_dom_index(s, "vm:process-high");
	assert_true(im >= 0 && il >= 0 && ih >= 0);
	assert_string_equal(pwr_domain(s, im)->range_sets, "ccf-vcpu,boavizta-vcpu");
	assert_string_equal(pwr_domain(s, il)->range_sets, "ccf-vcpu,boavizta-vcpu");
	assert_string_equal(pwr_domain(s, ih)->range_sets, "ccf-vcpu,boavizta-vcpu");
	assert_non_null(strstr(pwr_domain(s, il)->model, "lower of this and Boavizta/Teads"));
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	sleep_ms(300);
	pwr_sampler_stop(s);
	{
		double dt, dt_hi, dt_mid, ccf_lo, ccf_hi, boa_lo, boa_hi;

		/* each over its own samples (the domains are read one after another) */
		lo = own_window(s, il, &dt);
		hi = own_window(s, ih, &dt_hi);
		mid = own_window(s, im, &dt_mid);
		/* idle, so compare powers */
		hi.energy_j *= dt / dt_hi;
		mid.energy_j *= dt / dt_mid;
		ccf_lo = pwr_vm_energy_j(&k, 1, 4, mem_gb, dt, 0);
		ccf_hi = pwr_vm_energy_j(&k, 2, 4, mem_gb, dt, 0);
		boa_lo = pwr_vm_boavizta_energy_j(&b, 0, 4, mem_gb, dt, 0);
		boa_hi = pwr_vm_boavizta_energy_j(&b, 1, 4, mem_gb, dt, 0);
		if (!(lo.energy_j <= fmin(ccf_lo, boa_lo) * 1.002 &&
		      hi.energy_j >= fmax(ccf_hi, boa_hi) * 0.998))
			fail_msg("range %.6f-%.6f J does not cover CCF %.6f-%.6f J and Boavizta "
			         "%.6f-%.6f J",
			         lo.energy_j, hi.energy_j, ccf_lo, ccf_hi, boa_lo, boa_hi);
		/* where the sets differ, the bound is the wider one: Boavizta low, CCF high */
		assert_true(boa_lo < ccf_lo && ccf_hi > boa_hi);
		assert_true(fabs(lo.energy_j - boa_lo) <= 2e-3 * boa_lo);
		assert_true(fabs(hi.energy_j - ccf_hi) <= 2e-3 * ccf_hi);
		assert_true(lo.energy_j <= mid.energy_j && mid.energy_j <= hi.energy_j);
	}
	pwr_close(s);
	/* busy: 30 ticks of this process; the bounds still cover CCF's low and high */
	s = fs_open_one(&pwr_backend_vm, &o);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	sleep_ms(150);
	fake_proc(root, 130, 1060, 3060);
	pwr_sample_now(s);
	sleep_ms(100);
	pwr_sampler_stop(s);
	{
		double dt, dt_hi;

		lo = own_window(s, il, &dt);
		hi = own_window(s, ih, &dt_hi);
		if (!(lo.energy_j <= pwr_vm_energy_j(&k, 1, 4, mem_gb, dt, 30 * tick) * 1.002 &&
		      hi.energy_j >= pwr_vm_energy_j(&k, 2, 4, mem_gb, dt_hi, 30 * tick) * 0.998))
			fail_msg("busy: range %.6f-%.6f J does not cover CCF", lo.energy_j,
			         hi.energy_j);
		/* net of the idle floor (as the net figures subtract it): the low bound's part
		 * above its floor (Boavizta's here) is at most CCF's (max - min) x busy, the high's
		 * at least */
		lo.energy_j -= pwr_vm_boavizta_energy_j(&b, 0, 4, mem_gb, dt, 0);
		hi.energy_j -= pwr_vm_energy_j(&k, 2, 4, mem_gb, dt_hi, 0);
		if (!(lo.energy_j <= (k.max_w[1] - k.min_w[1]) * 30 * tick * 1.002 + 1e-6 &&
		      hi.energy_j >= (k.max_w[2] - k.min_w[2]) * 30 * tick * 0.998 - 1e-6))
			fail_msg("busy, net: range %.6f-%.6f J does not cover CCF's %.6f-%.6f J",
			         lo.energy_j, hi.energy_j, (k.max_w[1] - k.min_w[1]) * 30 * tick,
			         (k.max_w[2] - k.min_w[2]) * 30 * tick);
	}
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

/* A first-generation EPYC, whose CCF low and high sets differ only in memory watts: the three
 * vm:process domains take each round's figures from one sample (the same timestamps), so net of
 * each set's idle floor they agree to the nanojoule. Read one by one, each saw the process's CPU
 * time at its own instant, and the printed range could exclude the figure or run backwards. */
static void bounds_share_each_sample(void **state)
{
	char *root = make_root();
	struct pwr_opts o = {.sysfs_root = root, .interval_ms = 20};
	struct pwr_set *s;
	struct pwr_sample *v[3] = {NULL, NULL, NULL};
	struct pwr_vm_coef k;
	double tick = 1.0 / (double)sysconf(_SC_CLK_TCK), mem_gb = 8000000.0 * 1024 / 1e9;
	const char *ids[3] = {"vm:process", "vm:process-low", "vm:process-high"};
	size_t n[3];
	char err[320];

	(void)state;
	fs_put(root, "proc/cpuinfo",
	       "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 23\nmodel\t\t: 1\n"
	       "model name\t: AMD EPYC\nstepping\t: 2\nflags\t\t: fpu avx2 hypervisor\n");
	assert_int_equal(pwr_vm_coef_load(COEF, "zen1", &k, err, sizeof err), 0);
	/* the case in point: only the memory term tells the sets apart */
	assert_true(k.min_w[1] == k.min_w[2] && k.max_w[1] == k.max_w[2]);
	assert_true(k.mem_w_per_gb[1] < k.mem_w_per_gb[2]);
	s = fs_open_one(&pwr_backend_vm, &o);
	assert_string_equal(pwr_domain(s, fs_dom_index(s, "vm:process"))->unit, "nJ (estimated)");
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	for (int step = 1; step <= 6; step++) {
		sleep_ms(30);
		fake_proc(root, 100 + 7 * (unsigned long long)step, 1000 + 20 * (unsigned long long)step, 3000);
	}
	sleep_ms(30);
	pwr_sampler_stop(s);
	for (int d = 0; d < 3; d++) {
		int i = fs_dom_index(s, ids[d]);

		assert_true(i >= 0);
		n[d] = pwr_samples(s, i, &v[d]);
	}
	assert_true(n[0] >= 8);
	assert_true(n[1] == n[0] && n[2] == n[0]);
	for (size_t j = 0; j < n[0]; j++) {
		double el = (double)(v[0][j].t_ns - v[0][0].t_ns) / 1e9, net[3];

		if (v[1][j].t_ns != v[0][j].t_ns || v[2][j].t_ns != v[0][j].t_ns)
			fail_msg("sample %zu: read at %lld, %lld and %lld ns", j, (long long)v[0][j].t_ns,
			         (long long)v[1][j].t_ns, (long long)v[2][j].t_ns);
		for (int d = 0; d < 3; d++)
			net[d] = v[d][j].energy_j - pwr_vm_energy_j(&k, d, 4, mem_gb, el, 0);
		if (fabs(net[1] - net[0]) > 3e-9 || fabs(net[2] - net[0]) > 3e-9)
			fail_msg("sample %zu: net %.9f J (default), %.9f (low), %.9f (high)", j, net[0],
			         net[1], net[2]);
		/* and that net is the process's busy time at the sample */
		if (j == n[0] - 1 && fabs(net[0] - (k.max_w[0] - k.min_w[0]) * 42 * tick) > 3e-9)
			fail_msg("net %.9f J, want %.9f J", net[0], (k.max_w[0] - k.min_w[0]) * 42 * tick);
	}
	for (int d = 0; d < 3; d++)
		free(v[d]);
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

/* A broken Boavizta file is reported (vm:boavizta unavailable, with file and position), and the
 * vm model still runs with CCF's range alone. */
static void broken_boavizta_file_is_reported(void **state)
{
	char *root = make_root(), *data = tu_mkdtemp();
	struct pwr_opts o = {0};
	struct pwr_set *s;
	const char *why;

	(void)state;
	fs_put(data, "configs/hardware/vm/boavizta-vcpu.json", "{\"tdp_ratio\": ");
	setenv("JOULEBENCH_DATA", data, 1);
	o.sysfs_root = root;
	s = fs_open_one(&pwr_backend_vm, &o);
	unsetenv("JOULEBENCH_DATA");
	assert_int_equal(pwr_n_domains(s), 4);
	why = fs_reason(s, "vm:boavizta");
	assert_non_null(why);
	assert_non_null(strstr(why, "boavizta-vcpu.json: invalid JSON at byte"));
	assert_non_null(strstr(why, "spans CCF's coefficients only"));
	assert_string_equal(pwr_domain(s, fs_dom_index(s, "vm:process-low"))->range_sets,
	                    "ccf-vcpu");
	pwr_close(s);
	tu_rmtree(data);
	free(data);
	tu_rmtree(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(masked_names_inferred_from_cpuid),
	    cmocka_unit_test(shipped_table_rows),
	    cmocka_unit_test(energy_hand_computed),
	    cmocka_unit_test(backend_end_to_end),
	    cmocka_unit_test(full_registry_prefers_table_and_measurement),
	    cmocka_unit_test(measurement_beats_the_estimate),
	    cmocka_unit_test(missing_proc_stat_says_why),
	    cmocka_unit_test(boavizta_set_hand_computed),
	    cmocka_unit_test(range_covers_ccf_and_boavizta),
	    cmocka_unit_test(broken_boavizta_file_is_reported),
	    cmocka_unit_test(bounds_share_each_sample),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
