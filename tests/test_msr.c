/*
 * tests/test_msr.c — the MSR backend driven through its injected pread: Intel and AMD unit
 * decoding, which counters become domains, the 32-bit wrap, the AMD per-core sum, the fixed DRAM
 * unit of Intel servers, and every reason it gives when it cannot run.
 *
 * The fake register file: tests set values per (cpu, register); the fake pread finds the CPU of
 * an fd from /proc/self/fd (the backend opens ROOT/dev/cpu/N/msr, plain files here).
 */
#include "power/internal.h"
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_REGS 64

static struct fake_reg {
	int cpu;
	off_t reg;
	uint64_t value;
	int err; /* non-zero: pread fails with this errno */
} regs[MAX_REGS];
static int n_regs;
static int preads;

static void set_reg(int cpu, off_t reg, uint64_t value)
{
	for (int i = 0; i < n_regs; i++)
		if (regs[i].cpu == cpu && regs[i].reg == reg) {
			regs[i].value = value;
			regs[i].err = 0;
			return;
		}
	assert_true(n_regs < MAX_REGS);
	regs[n_regs++] = (struct fake_reg){cpu, reg, value, 0};
}

static void set_reg_err(int cpu, off_t reg, int err)
{
	set_reg(cpu, reg, 0);
	for (int i = 0; i < n_regs; i++)
		if (regs[i].cpu == cpu && regs[i].reg == reg)
			regs[i].err = err;
}

static int fd_cpu(int fd)
{
	char link[64], target[1024];
	ssize_t n;
	const char *p;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof target - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	p = strstr(target, "/dev/cpu/");
	return p ? atoi(p + 9) : -1;
}

/* Unknown registers fail with EIO, as the msr driver does for a register the CPU lacks. */
static ssize_t fake_pread(int fd, void *buf, size_t n, off_t off)
{
	int cpu = fd_cpu(fd);

	preads++;
	assert_int_equal(n, 8);
	for (int i = 0; i < n_regs; i++)
		if (regs[i].cpu == cpu && regs[i].reg == off) {
			if (regs[i].err) {
				errno = regs[i].err;
				return -1;
			}
			memcpy(buf, &regs[i].value, 8);
			return 8;
		}
	errno = EIO;
	return -1;
}

static int fake_open_eacces(const char *path, int flags)
{
	(void)path;
	(void)flags;
	errno = EACCES;
	return -1;
}

/* A machine: cpuinfo, and for each CPU its msr node and topology. pkg[i]/core[i] per CPU. */
static char *make_machine(const char *vendor, int family, int model, const char *flags, int n_cpus,
                          const int *pkg, const int *core)
{
	char *root = tu_mkdtemp();
	char rel[128], text[512];

	snprintf(text, sizeof text,
	         "processor\t: 0\nvendor_id\t: %s\ncpu family\t: %d\nmodel\t\t: %d\nmodel name\t: "
	         "Fake CPU\nflags\t\t: fpu %s\n\nprocessor\t: 1\nvendor_id\t: %s\n",
	         vendor, family, model, flags, vendor);
	fs_put(root, "proc/cpuinfo", text);
	for (int c = 0; c < n_cpus; c++) {
		snprintf(rel, sizeof rel, "dev/cpu/%d/msr", c);
		fs_put(root, rel, "");
		snprintf(rel, sizeof rel,
		         "sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
		snprintf(text, sizeof text, "%d\n", pkg ? pkg[c] : 0);
		fs_put(root, rel, text);
		snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/core_id", c);
		snprintf(text, sizeof text, "%d\n", core ? core[c] : c);
		fs_put(root, rel, text);
	}
	return root;
}

static struct pwr_set *open_msr(const char *root)
{
	struct pwr_opts o = {.sysfs_root = root, .dev_root = root};

	return fs_open_one(&pwr_backend_msr, &o);
}

static void done(struct pwr_set *s, char *root)
{
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static int setup(void **state)
{
	(void)state;
	n_regs = 0;
	preads = 0;
	pwr_msr_set_pread(fake_pread);
	pwr_msr_set_open(NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pwr_msr_set_pread(NULL);
	pwr_msr_set_open(NULL);
	return 0;
}

static void test_intel_client_units_and_domains(void **state)
{
	(void)state;
	char *root = make_machine("GenuineIntel", 6, 0x8C, "rapl", 2, NULL, NULL);
	uint64_t raw;

	set_reg(0, 0x606, 0xA0E03); /* ESU 0xE: 2^-14 J = 61.04 µJ */
	set_reg(0, 0x611, 1000);    /* PKG */
	set_reg(0, 0x639, 400);     /* PP0 */
	set_reg(0, 0x641, 0);       /* PP1 present but never counts: not a domain */
	set_reg(0, 0x64D, 3000);    /* PLATFORM (psys) */
	/* DRAM 0x619 absent: EIO */
	struct pwr_set *s = open_msr(root);

	assert_int_equal(s->n_doms, 3);
	struct pwr_dom *pkg = fs_dom(s, "msr:package-0");
	assert_non_null(pkg);
	assert_non_null(fs_dom(s, "msr:core-0"));
	assert_non_null(fs_dom(s, "msr:psys"));
	assert_null(fs_dom(s, "msr:uncore-0"));
	assert_null(fs_dom(s, "msr:dram-0"));
	assert_true(pkg->joules_per_unit == 1.0 / 16384.0);
	assert_true(pkg->range_raw == (1ull << 32));
	assert_true(pkg->desc.range_j == 262144.0); /* 2^32 units x 2^-14 J */
	assert_true(pkg->desc.resolution_j == 1.0 / 16384.0);
	assert_int_equal(pkg->backend->read(pkg, &raw), 0);
	assert_int_equal(raw, 1000);
	/* psys is the primary domain when present */
	assert_string_equal(pwr_domain(s, pwr_primary_domain(s))->id, "msr:psys");
	done(s, root);
}

static void test_intel_32bit_wrap(void **state)
{
	(void)state;
	char *root = make_machine("GenuineIntel", 6, 0x9A, "", 1, NULL, NULL);
	uint64_t a, b;

	set_reg(0, 0x606, 0xA0E03);
	set_reg(0, 0x611, 0xFFFFFF00);
	struct pwr_set *s = open_msr(root);
	struct pwr_dom *pkg = fs_dom(s, "msr:package-0");
	assert_non_null(pkg);
	assert_int_equal(pkg->backend->read(pkg, &a), 0);
	assert_int_equal(a, 0xFFFFFF00);
	/* the counter wraps; upper reserved bits set by the CPU are ignored */
	set_reg(0, 0x611, 0xDEAD000000000100ull);
	assert_int_equal(pkg->backend->read(pkg, &b), 0);
	assert_int_equal(b, 0x100);
	uint64_t d = pwr_counter_delta(a, b, pkg->range_raw);
	assert_int_equal(d, 0x200);
	double j = (double)d * pkg->joules_per_unit;
	assert_true(j == 512.0 / 16384.0);
	/* a failed read is an error, never a zero */
	set_reg_err(0, 0x611, EIO);
	b = 77;
	assert_int_equal(pkg->backend->read(pkg, &b), -EIO);
	assert_int_equal(b, 77);
	done(s, root);
}

static void test_intel_server_two_sockets_dram_unit(void **state)
{
	(void)state;
	const int pkg_of[4] = {0, 0, 1, 1};
	char *root = make_machine("GenuineIntel", 6, 0x55, "", 4, pkg_of, NULL);
	uint64_t raw;

	for (int c = 0; c < 4; c += 2) {
		set_reg(c, 0x606, 0xA0E03);
		set_reg(c, 0x611, 111u + (unsigned)c);
		set_reg(c, 0x619, 222u + (unsigned)c);
	}
	struct pwr_set *s = open_msr(root);
	struct pwr_dom *p1 = fs_dom(s, "msr:package-1");
	struct pwr_dom *d0 = fs_dom(s, "msr:dram-0");
	struct pwr_dom *d1 = fs_dom(s, "msr:dram-1");
	assert_non_null(fs_dom(s, "msr:package-0"));
	assert_non_null(p1);
	assert_non_null(d0);
	assert_non_null(d1);
	/* Skylake-SP's DRAM counts in 2^-16 J whatever 0x606 says; the package in 2^-14 J */
	assert_true(d0->joules_per_unit == 1.0 / 65536.0);
	assert_true(p1->joules_per_unit == 1.0 / 16384.0);
	/* package 1 is read on its own first CPU (cpu 2) */
	assert_int_equal(p1->backend->read(p1, &raw), 0);
	assert_int_equal(raw, 113);
	assert_int_equal(d1->backend->read(d1, &raw), 0);
	assert_int_equal(raw, 224);
	/* the probe core sums the two disjoint packages; dram stays separate */
	struct pwr_dom *sum = fs_dom(s, "msr:packages");
	assert_non_null(sum);
	assert_null(strstr(sum->desc.covers, "dram"));
	done(s, root);
}

static void test_amd_units_package_and_core_sum(void **state)
{
	(void)state;
	/* 4 CPUs: two cores with two SMT threads each */
	const int core_of[4] = {0, 0, 1, 1};
	char *root = make_machine("AuthenticAMD", 0x19, 0x21, "", 4, NULL, core_of);
	uint64_t a, b;

	set_reg(0, 0xC0010299, 0xA1003); /* ESU 0x10: 2^-16 J = 15.3 µJ */
	set_reg(0, 0xC001029B, 5000);
	set_reg(0, 0xC001029A, 0xFFFFFFF0); /* core 0 */
	set_reg(2, 0xC001029A, 100);        /* core 1 */
	set_reg(1, 0xC001029A, 0x0BADBAD);  /* SMT sibling of core 0: must not be added */
	set_reg(3, 0xC001029A, 0x0BADBAD);
	struct pwr_set *s = open_msr(root);
	struct pwr_dom *pkg = fs_dom(s, "msr:package-0");
	struct pwr_dom *core = fs_dom(s, "msr:core-0");
	assert_non_null(pkg);
	assert_non_null(core);
	assert_true(pkg->joules_per_unit == 1.0 / 65536.0);
	assert_int_equal(pkg->backend->read(pkg, &a), 0);
	assert_int_equal(a, 5000);
	const char *cov = core ? core->desc.covers : "";
	assert_non_null(strstr(cov, "2 CPU cores"));
	assert_int_equal(core->range_raw, 0); /* unfolded per core by the backend */

	assert_int_equal(core->backend->read(core, &a), 0);
	set_reg(0, 0xC001029A, 0x10); /* core 0 wraps: +0x20 */
	set_reg(2, 0xC001029A, 200);  /* core 1: +100 */
	assert_int_equal(core->backend->read(core, &b), 0);
	assert_int_equal(b - a, 0x20 + 100);
	set_reg(0, 0xC001029A, 0x15); /* +5, core 1 equal reading: +0 */
	assert_int_equal(core->backend->read(core, &a), 0);
	assert_int_equal(a - b, 5);
	done(s, root);
}

/* Through the real sampler: a 32-bit package counter wrapping three times between forced
 * samples (each step under one wrap) adds up exactly. */
static void test_sampler_unfolds_many_wraps(void **state)
{
	(void)state;
	char *root = make_machine("GenuineIntel", 6, 0x8C, "", 1, NULL, NULL);
	struct pwr_opts o = {.sysfs_root = root, .dev_root = root, .interval_ms = 3600000};
	const uint64_t seq[] = {0xFFFFFF00u, 0x100u,      0x80000100u, 0xF0000000u,
	                        0x10u,       0x7FFFFFFFu, 0x00000005u};
	struct pwr_set *s = NULL;
	struct pwr_sample *smp = NULL;
	char err[256] = "";
	uint64_t units = 0;

	set_reg(0, 0x606, 0xA0E03);
	set_reg(0, 0x611, seq[0]);
	s = fs_open_one(&pwr_backend_msr, &o);
	assert_int_equal(s->n_doms, 1);
	assert_int_equal(pwr_sampler_start(s, err, sizeof err), 0);
	for (size_t k = 1; k < sizeof seq / sizeof seq[0]; k++) {
		units += (uint32_t)(seq[k] - seq[k - 1]);
		set_reg(0, 0x611, seq[k]);
		pwr_sample_now(s);
	}
	pwr_sampler_stop(s);
	size_t n = pwr_samples(s, 0, &smp);
	assert_true(n >= sizeof seq / sizeof seq[0]);
	double j = smp[n - 1].energy_j - smp[0].energy_j;
	double want = (double)units / 16384.0; /* three wraps: more than 2^32 units in all */
	assert_true(units > (1ull << 32));
	assert_true(j > want - 1e-6 && j < want + 1e-6);
	free(smp);
	done(s, root);
}

static void test_not_rapl_cpu(void **state)
{
	(void)state;
	char *root = make_machine("CentaurHauls", 6, 0x0F, "", 1, NULL, NULL);
	struct pwr_set *s = open_msr(root);
	const char *why = fs_reason(s, "msr");

	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "not an Intel or AMD RAPL CPU"));
	assert_non_null(strstr(why, "CentaurHauls"));
	done(s, root);

	root = make_machine("AuthenticAMD", 0x15, 0x02, "", 1, NULL, NULL); /* Bulldozer: no RAPL */
	s = open_msr(root);
	why = fs_reason(s, "msr");
	assert_non_null(why);
	assert_non_null(strstr(why, "not an Intel or AMD RAPL CPU"));
	done(s, root);
}

static void test_no_msr_module(void **state)
{
	(void)state;
	/* /dev/cpu/0 exists (cpuid) but the msr driver is not loaded: this VM's situation */
	char *root = make_machine("AuthenticAMD", 0x1A, 0x02, "hypervisor", 0, NULL, NULL);
	fs_put(root, "dev/cpu/0/cpuid", "");
	struct pwr_set *s = open_msr(root);
	const char *why = fs_reason(s, "msr");

	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "modprobe msr"));
	assert_non_null(strstr(why, "dev/cpu/0/msr"));
	done(s, root);
}

static void test_permission_denied(void **state)
{
	(void)state;
	char *root = make_machine("GenuineIntel", 6, 0x8C, "", 1, NULL, NULL);

	pwr_msr_set_open(fake_open_eacces);
	struct pwr_set *s = open_msr(root);
	const char *why = fs_reason(s, "msr");
	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "needs root or CAP_SYS_RAWIO"));
	assert_non_null(strstr(why, "EACCES"));
	done(s, root);
}

static void test_vm_without_rapl_msrs(void **state)
{
	(void)state;
	char *root = make_machine("GenuineIntel", 6, 0x8F, "hypervisor", 1, NULL, NULL);
	set_reg_err(0, 0x606, EIO);
	struct pwr_set *s = open_msr(root);
	const char *why = fs_reason(s, "msr");

	assert_int_equal(s->n_doms, 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "0x606"));
	assert_non_null(strstr(why, "hypervisor does not expose RAPL"));
	done(s, root);
}

static void test_empty_roots(void **state)
{
	(void)state;
	char *root = tu_mkdtemp();
	struct pwr_set *s = open_msr(root);

	/* no cpuinfo under the root: this machine's own is used, then no /dev/cpu */
	assert_int_equal(s->n_doms, 0);
	assert_int_equal(pwr_n_unavailable(s), 1);
	const char *why = pwr_unavailable(s, 0)->reason;
	assert_true(strstr(why, "modprobe msr") || strstr(why, "not an Intel or AMD RAPL CPU"));
	pwr_close(s);
	tu_rmtree(root);
	free(root);
}

static void test_this_machine(void **state)
{
	(void)state;
	struct pwr_opts o = {.sysfs_root = "/", .dev_root = "/"};
	struct pwr_set *s;

	pwr_msr_set_pread(NULL);
	s = fs_open_one(&pwr_backend_msr, &o);
	if (s->n_doms == 0) {
		assert_true(pwr_n_unavailable(s) >= 1);
		assert_true(strlen(pwr_unavailable(s, 0)->reason) > 20);
		tu_note("msr here: %s", pwr_unavailable(s, 0)->reason);
	}
	pwr_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_intel_client_units_and_domains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intel_32bit_wrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intel_server_two_sockets_dram_unit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_amd_units_package_and_core_sum, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sampler_unfolds_many_wraps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_rapl_cpu, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_msr_module, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vm_without_rapl_msrs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_roots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_this_machine, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
