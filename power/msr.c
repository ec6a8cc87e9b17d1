/*
 * power/msr.c — RAPL energy read straight from the model-specific registers via /dev/cpu/N/msr.
 *
 * Intel: MSR_RAPL_POWER_UNIT 0x606 bits 12:8 give the energy status unit (1/2^ESU J; 0xA0E03 →
 * 2^-14 J = 61 µJ), with counters PKG 0x611, PP0 (cores) 0x639, PP1 (uncore/GPU) 0x641, DRAM 0x619
 * (a fixed 2^-16 J on server parts, as turbostat knows) and PLATFORM/psys 0x64D.
 * AMD family 17h/19h/1Ah: units 0xC0010299 (same layout), package 0xC001029B per package and core
 * 0xC001029A per physical core; the backend sums the cores of each package, unfolding each core's
 * 32-bit counter itself. All counters are 32 bits: 2^32 × 61 µJ = 262 kJ, so a package at
 * 200 W wraps every 22 minutes and the sampler must read more often than that.
 *
 * The vendor comes from <root>/proc/cpuinfo (falling back to this machine's /proc/cpuinfo); the
 * package of each CPU from <root>/sys/devices/system/cpu/cpuN/topology. Register reads go through
 * an injectable pread so tests can play any counter sequence, wraps included.
 */
#include "power/backend.h"
#include "power/hw_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MSR_MAX_CPUS 1024
#define MSR_MAX_PKGS 16

enum {
	MSR_INTEL_UNIT = 0x606,
	MSR_PKG = 0x611,
	MSR_DRAM = 0x619,
	MSR_PP0 = 0x639,
	MSR_PP1 = 0x641,
	MSR_PLATFORM = 0x64D
};
#define MSR_AMD_UNIT 0xC0010299u
#define MSR_AMD_CORE 0xC001029Au
#define MSR_AMD_PKG  0xC001029Bu

static int real_open(const char *path, int flags)
{
	return open(path, flags);
}

static pwr_pread_fn msr_pread = pread;
static pwr_open_fn msr_open = real_open;

void pwr_msr_set_pread(pwr_pread_fn fn)
{
	msr_pread = fn ? fn : pread;
}

void pwr_msr_set_open(pwr_open_fn fn)
{
	msr_open = fn ? fn : real_open;
}

/* One domain: a single 32-bit counter (n == 1), or the sum of per-core counters (n > 1). */
struct msr_priv {
	off_t reg;
	int n;
	uint64_t acc; /* sum mode: unfolded total */
	bool primed;
	int *fds;
	uint32_t *prev; /* [n] last raw values, then [n] scratch for the current read */
};

struct msr_cpu {
	int cpu, pkg, core;
};

static int read_msr(int fd, off_t reg, uint64_t *v)
{
	ssize_t n = msr_pread(fd, v, sizeof *v, reg);

	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof *v ? 0 : -EIO;
}

/* Energy status unit in joules from a RAPL power-unit register value (bits 12:8). */
static double esu_joules(uint64_t unit_reg)
{
	return 1.0 / (double)(1ull << ((unit_reg >> 8) & 0x1f));
}

/* Intel server parts whose DRAM domain counts in fixed 15.3 µJ units regardless of 0x606. */
static bool intel_dram_fixed_unit(int model)
{
	static const int models[] = {0x3F, 0x4F, 0x56, 0x55, 0x57, 0x85, 0x6A, 0x6C, 0x8F, 0xCF};

	for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
		if (models[i] == model)
			return true;
	return false;
}

struct cpu_ident {
	char vendor[32];
	int family, model;
	bool hypervisor;
};

static int read_cpuinfo(const char *path, struct cpu_ident *id)
{
	char line[4096];
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	memset(id, 0, sizeof *id);
	id->family = id->model = -1;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		if (!strncmp(line, "vendor_id", 9) && !id->vendor[0])
			sscanf(colon + 1, " %31s", id->vendor);
		else if (!strncmp(line, "cpu family", 10) && id->family < 0)
			id->family = atoi(colon + 1);
		else if (!strncmp(line, "model\t", 6) && id->model < 0)
			id->model = atoi(colon + 1);
		else if (!strncmp(line, "flags", 5) && strstr(colon, " hypervisor"))
			id->hypervisor = true;
		else if (line[0] == '\n' && id->vendor[0])
			break; /* first processor block is enough */
	}
	fclose(f);
	return id->vendor[0] ? 0 : -EINVAL;
}

static int topo_value(const char *root, int cpu, const char *file)
{
	char rel[128], path[512];
	int64_t v;

	snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/%s", cpu, file);
	pwr_path(path, sizeof path, root, rel);
	return pwr_hw_read_i64(path, &v) == 0 ? (int)v : 0;
}

static int cmp_cpu(const void *a, const void *b)
{
	return ((const struct msr_cpu *)a)->cpu - ((const struct msr_cpu *)b)->cpu;
}

/* CPUs that have an msr node directory under <dev_root>/dev/cpu, sorted; returns the count. */
static int list_cpus(struct pwr_discover *d, struct msr_cpu *cpus, int max)
{
	char path[512];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	pwr_path(path, sizeof path, d->dev_root, "dev/cpu");
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir)) && n < max) {
		char *end;
		long c = strtol(de->d_name, &end, 10);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end)
			continue;
		cpus[n].cpu = (int)c;
		cpus[n].pkg = topo_value(d->sysfs_root, (int)c, "physical_package_id");
		cpus[n].core = topo_value(d->sysfs_root, (int)c, "core_id");
		n++;
	}
	closedir(dir);
	qsort(cpus, (size_t)n, sizeof *cpus, cmp_cpu);
	return n;
}

static int open_msr(const char *dev_root, int cpu, char *path, size_t len)
{
	char rel[64];
	int fd;

	snprintf(rel, sizeof rel, "dev/cpu/%d/msr", cpu);
	pwr_path(path, len, dev_root, rel);
	fd = msr_open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void msr_free(struct msr_priv *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		if (p->fds[i] >= 0)
			close(p->fds[i]);
	free(p->fds);
	free(p->prev);
	free(p);
}

static struct msr_priv *msr_priv_new(off_t reg, int n)
{
	struct msr_priv *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->reg = reg;
	p->fds = malloc((size_t)n * sizeof *p->fds);
	p->prev = calloc(2 * (size_t)n, sizeof *p->prev);
	if (!p->fds || !p->prev) {
		free(p->fds);
		free(p->prev);
		free(p);
		return NULL;
	}
	p->n = n;
	for (int i = 0; i < n; i++)
		p->fds[i] = -1;
	return p;
}

/* Adds one domain owning `p` (freed on failure). Returns 0 or -ENOMEM. */
static int add_domain(struct pwr_discover *d, struct msr_priv *p, const char *domain,
                      const char *covers, double unit_j, bool sum)
{
	struct pwr_dom dom;
	struct pwr_dom *added;

	memset(&dom, 0, sizeof dom);
	snprintf(dom.desc.backend, sizeof dom.desc.backend, "msr");
	snprintf(dom.desc.domain, sizeof dom.desc.domain, "%s", domain);
	snprintf(dom.desc.id, sizeof dom.desc.id, "msr:%s", domain);
	snprintf(dom.desc.covers, sizeof dom.desc.covers, "%s", covers);
	dom.desc.kind = PWR_MEASURED;
	/* A sum of per-core counters is unfolded here, but each core still wraps at 2^32 units. */
	dom.desc.range_j = 4294967296.0 * unit_j;
	dom.desc.resolution_j = unit_j;
	dom.value_kind = PWR_VALUE_COUNTER;
	dom.range_raw = sum ? 0 : (1ull << 32);
	dom.joules_per_unit = unit_j;
	dom.backend = &pwr_backend_msr;
	added = d->add(d, &dom);
	if (!added) {
		msr_free(p);
		return -ENOMEM;
	}
	added->priv = p;
	return 0;
}

/* Opens reg on one CPU as a single-counter domain if it reads non-zero. */
static int try_counter(struct pwr_discover *d, int cpu, off_t reg, const char *domain,
                       const char *covers, double unit_j)
{
	char path[512];
	struct msr_priv *p;
	uint64_t v;
	int fd = open_msr(d->dev_root, cpu, path, sizeof path);

	if (fd < 0) {
		d->unavailable(d, "msr", "open %s: %s", path, pwr_hw_errstr(fd));
		return 0;
	}
	if (read_msr(fd, reg, &v) || (v & 0xffffffffu) == 0) {
		close(fd); /* not implemented on this CPU (EIO) or never counts: not a domain */
		return 0;
	}
	p = msr_priv_new(reg, 1);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->fds[0] = fd;
	return add_domain(d, p, domain, covers, unit_j, false);
}

/* AMD: sum of the per-core energy counters of package `pkg`. */
static int amd_core_sum(struct pwr_discover *d, const struct msr_cpu *cpus, int n_cpus, int pkg,
                        int pkg_index, double unit_j)
{
	char path[512], domain[32], covers[160];
	struct msr_priv *p;
	int n_cores = 0;

	for (int i = 0; i < n_cpus; i++) {
		bool seen = false;

		if (cpus[i].pkg != pkg)
			continue;
		for (int j = 0; j < i; j++)
			if (cpus[j].pkg == pkg && cpus[j].core == cpus[i].core)
				seen = true;
		n_cores += !seen;
	}
	p = msr_priv_new(MSR_AMD_CORE, n_cores);
	if (!p)
		return -ENOMEM;
	int k = 0;
	for (int i = 0; i < n_cpus && k < n_cores; i++) {
		bool seen = false;

		if (cpus[i].pkg != pkg)
			continue;
		for (int j = 0; j < i; j++)
			if (cpus[j].pkg == pkg && cpus[j].core == cpus[i].core)
				seen = true;
		if (seen)
			continue;
		p->fds[k] = open_msr(d->dev_root, cpus[i].cpu, path, sizeof path);
		if (p->fds[k] < 0) {
			d->unavailable(d, "msr:core", "open %s: %s", path,
			               pwr_hw_errstr(p->fds[k]));
			msr_free(p);
			return 0;
		}
		k++;
	}
	snprintf(domain, sizeof domain, "core-%d", pkg_index);
	snprintf(covers, sizeof covers,
	         "all %d CPU cores of package %d, summed per core (RAPL core; part of package)",
	         n_cores, pkg_index);
	return add_domain(d, p, domain, covers, unit_j, true);
}

static int msr_discover(struct pwr_discover *d)
{
	struct msr_cpu cpus[MSR_MAX_CPUS];
	char path[512], cpath[512];
	struct cpu_ident id;
	bool amd, intel;
	uint64_t unit_reg;
	int rc, n_cpus, fd;

	pwr_path(cpath, sizeof cpath, d->sysfs_root, "proc/cpuinfo");
	rc = read_cpuinfo(cpath, &id);
	if (rc == -ENOENT)
		rc = read_cpuinfo("/proc/cpuinfo", &id);
	if (rc) {
		d->unavailable(d, "msr", "cannot identify the CPU from %s: %s", cpath,
		               pwr_hw_errstr(rc));
		return 0;
	}
	intel = !strcmp(id.vendor, "GenuineIntel");
	amd = (!strcmp(id.vendor, "AuthenticAMD") || !strcmp(id.vendor, "HygonGenuine")) &&
	      (id.family == 0x17 || id.family == 0x18 || id.family == 0x19 || id.family == 0x1A);
	if (!intel && !amd) {
		d->unavailable(d, "msr",
		               "not an Intel or AMD RAPL CPU (vendor %s, family %#x): no RAPL MSRs",
		               id.vendor, (unsigned)id.family);
		return 0;
	}

	n_cpus = list_cpus(d, cpus, MSR_MAX_CPUS);
	pwr_path(path, sizeof path, d->dev_root, "dev/cpu/0/msr");
	if (n_cpus <= 0) {
		d->unavailable(d, "msr", "no msr driver: %s missing (load it: `sudo modprobe msr`)",
		               path);
		return 0;
	}
	fd = open_msr(d->dev_root, cpus[0].cpu, path, sizeof path);
	if (fd == -ENOENT || fd == -ENXIO || fd == -ENODEV) {
		d->unavailable(d, "msr", "no msr driver: %s missing (load it: `sudo modprobe msr`)",
		               path);
		return 0;
	}
	if (fd == -EACCES || fd == -EPERM) {
		d->unavailable(d, "msr", "%s: %s; reading MSRs needs root or CAP_SYS_RAWIO", path,
		               pwr_hw_errstr(fd));
		return 0;
	}
	if (fd < 0) {
		d->unavailable(d, "msr", "open %s: %s", path, pwr_hw_errstr(fd));
		return 0;
	}
	rc = read_msr(fd, intel ? MSR_INTEL_UNIT : (off_t)MSR_AMD_UNIT, &unit_reg);
	close(fd);
	if (rc) {
		d->unavailable(d, "msr", "reading the RAPL unit MSR %#x on CPU %d failed: %s; %s",
		               intel ? MSR_INTEL_UNIT : MSR_AMD_UNIT, cpus[0].cpu,
		               pwr_hw_errstr(rc),
		               id.hypervisor ? "this is a VM: the hypervisor does not expose RAPL"
		                             : "this CPU has no RAPL");
		return 0;
	}
	double unit_j = esu_joules(unit_reg);
	double dram_j = intel && intel_dram_fixed_unit(id.model) ? 1.0 / 65536.0 : unit_j;

	/* One reader per package: the lowest-numbered CPU of each. */
	int pkgs[MSR_MAX_PKGS], n_pkgs = 0;
	for (int i = 0; i < n_cpus; i++) {
		bool seen = false;

		for (int j = 0; j < n_pkgs; j++)
			seen |= cpus[pkgs[j]].pkg == cpus[i].pkg;
		if (!seen && n_pkgs < MSR_MAX_PKGS)
			pkgs[n_pkgs++] = i;
	}
	for (int k = 0; k < n_pkgs; k++) {
		const struct msr_cpu *c = &cpus[pkgs[k]];
		char dom[32], cov[160];

		snprintf(dom, sizeof dom, "package-%d", k);
		snprintf(cov, sizeof cov, "CPU package %d: cores, caches, uncore (RAPL PKG)", k);
		if ((rc = try_counter(d, c->cpu, amd ? (off_t)MSR_AMD_PKG : MSR_PKG, dom, cov,
		                      unit_j)))
			return rc;
		if (amd) {
			if ((rc = amd_core_sum(d, cpus, n_cpus, c->pkg, k, unit_j)))
				return rc;
			continue;
		}
		snprintf(dom, sizeof dom, "core-%d", k);
		snprintf(cov, sizeof cov, "CPU cores of package %d (RAPL PP0; part of package)", k);
		if ((rc = try_counter(d, c->cpu, MSR_PP0, dom, cov, unit_j)))
			return rc;
		snprintf(dom, sizeof dom, "uncore-%d", k);
		snprintf(cov, sizeof cov,
		         "integrated GPU / uncore of package %d (RAPL PP1; part of package)", k);
		if ((rc = try_counter(d, c->cpu, MSR_PP1, dom, cov, unit_j)))
			return rc;
		snprintf(dom, sizeof dom, "dram-%d", k);
		snprintf(cov, sizeof cov, "DRAM of package %d (RAPL DRAM; separate from package)",
		         k);
		if ((rc = try_counter(d, c->cpu, MSR_DRAM, dom, cov, dram_j)))
			return rc;
		if (k == 0 &&
		    (rc = try_counter(d, c->cpu, MSR_PLATFORM, "psys",
		                      "whole platform/SoC (RAPL PSYS; broadest, includes package)",
		                      unit_j)))
			return rc;
	}
	return 0;
}

static int msr_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct msr_priv *p = dom->priv;
	uint32_t *cur;
	uint64_t v;
	int rc;

	if (!p)
		return -EBADF;
	cur = p->prev + p->n;
	for (int i = 0; i < p->n; i++) {
		if ((rc = read_msr(p->fds[i], p->reg, &v)))
			return rc;
		cur[i] = (uint32_t)v;
	}
	if (p->n == 1 && dom->range_raw) {
		*raw = cur[0];
		return 0;
	}
	/* Sum mode: unfold each core's 32-bit counter (at most one wrap between reads). */
	for (int i = 0; i < p->n; i++) {
		if (p->primed)
			p->acc += (uint32_t)(cur[i] - p->prev[i]);
		p->prev[i] = cur[i];
	}
	p->primed = true;
	*raw = p->acc;
	return 0;
}

static void msr_close(struct pwr_dom *dom)
{
	msr_free(dom->priv);
	dom->priv = NULL;
}

const struct pwr_backend pwr_backend_msr = {
    .name = "msr",
    .summary = "RAPL energy MSRs via /dev/cpu/N/msr (Intel 0x611..., AMD 0xC001029B; needs the "
               "msr module and root or CAP_SYS_RAWIO)",
    .discover = msr_discover,
    .read = msr_read,
    .close = msr_close,
};
