/*
 * power/perf_power.c — RAPL energy through the perf_event "power" PMU.
 *
 * The kernel's RAPL PMU (arch/x86/events/rapl.c) lists itself at
 * /sys/bus/event_source/devices/power with a dynamic PMU `type`, a `cpumask` holding one CPU per
 * package, and events/energy-{pkg,cores,ram,gpu,psys} ("event=0x02") each with a `.scale` (2^-32
 * J on every kernel so far) and a `.unit` ("Joules"). Events are opened system-wide (pid -1) on
 * each cpumask CPU, which needs perf_event_paranoid <= 0 or CAP_PERFMON. The kernel unfolds the
 * 32-bit MSR into a 64-bit count, so the counter range is 2^64. On AMD with Linux 6.14+, a
 * second PMU, "power_core", counts energy-core per physical core (its cpumask holds one CPU per
 * core); those are summed per package into core-N.
 *
 * All system calls go through `ops` so tests can drive the backend with fake counter values.
 */
#include "power/backend.h"
#include "power/hw_util.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PERF_MAX_PKGS  64
#define PERF_MAX_CORES 1024

/* One domain: one fd, or (power_core) the fds of every core of a package, summed. */
struct perf_priv {
	int n;
	int fds[];
};

static int real_perf_open(void *attr, int cpu)
{
	long fd = syscall(SYS_perf_event_open, attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

static ssize_t real_read(int fd, void *buf, size_t n)
{
	return read(fd, buf, n);
}

static const struct pwr_perf_ops real_ops = {real_perf_open, real_read, close};
static const struct pwr_perf_ops *ops = &real_ops;

void pwr_perf_set_ops(const struct pwr_perf_ops *o)
{
	ops = o ? o : &real_ops;
}

/* What each RAPL event covers, and the domain name it gets. */
static const struct {
	const char *event; /* after "energy-" */
	const char *domain;
	const char *covers;
} perf_events[] = {
    {"pkg", "package", "CPU package %d: cores, caches, uncore (RAPL PKG)"},
    {"cores", "core", "CPU cores of package %d (RAPL PP0; part of package)"},
    {"gpu", "uncore", "integrated GPU / uncore of package %d (RAPL PP1; part of package)"},
    {"ram", "dram", "DRAM of package %d (RAPL DRAM; separate from package)"},
    {"psys", "psys", "whole platform/SoC (RAPL PSYS; broadest, includes package %d)"},
};

/* Parses "event=0x02[,umask=...]" into config; only `event` is used by the RAPL PMU. */
static int parse_event_config(const char *s, uint64_t *config)
{
	const char *p = strstr(s, "event=");
	char *end;

	if (!p)
		return -EINVAL;
	errno = 0;
	*config = strtoull(p + 6, &end, 0);
	if (errno || end == p + 6)
		return -EINVAL;
	return 0;
}

static int read_paranoid(const char *root)
{
	char path[512];
	int64_t v;

	pwr_path(path, sizeof path, root, "proc/sys/kernel/perf_event_paranoid");
	return pwr_hw_read_i64(path, &v) == 0 ? (int)v : 99;
}

static void open_failed(struct pwr_discover *d, const char *event, int cpu, int err)
{
	char what[96];
	int paranoid;

	snprintf(what, sizeof what, "perf:energy-%s", event);
	if (err == -EACCES || err == -EPERM) {
		paranoid = read_paranoid(d->sysfs_root);
		if (paranoid == 99)
			d->unavailable(d, "perf",
			               "perf_event_open(power/energy-%s) denied (%s); needs "
			               "perf_event_paranoid <= 0 or CAP_PERFMON (run as root)",
			               event, pwr_hw_errstr(err));
		else
			d->unavailable(
			    d, "perf",
			    "perf_event_paranoid is %d; needs <= 0 or CAP_PERFMON (run as root, "
			    "or `sudo sysctl kernel.perf_event_paranoid=0`)",
			    paranoid);
		return;
	}
	if (err == -ENOENT || err == -ENODEV || err == -EINVAL) {
		bool other_root = d->sysfs_root && *d->sysfs_root && strcmp(d->sysfs_root, "/");

		d->unavailable(d, what,
		               "perf_event_open(power/energy-%s) on CPU %d failed: %s; %s", event, cpu,
		               pwr_hw_errstr(err),
		               other_root ? "this kernel lacks that PMU, event or CPU: is the sysfs root "
		                            "another machine's tree (a fixture)?"
		                          : "this kernel rejects an event its own sysfs lists (try "
		                            "`perf stat -a -e power/energy-pkg/ sleep 1`)");
		return;
	}
	d->unavailable(d, what, "perf_event_open(power/energy-%s) on CPU %d failed: %s", event, cpu,
	               pwr_hw_errstr(err));
}

/*
 * Reads events/energy-<ev> of the PMU in dir: its config and scale. Returns 0, 1 when the PMU
 * has no such event, or -1 when the event is malformed (the reason is recorded).
 */
static int read_event(struct pwr_discover *d, const char *dir, const char *ev, uint64_t *config,
                      double *scale)
{
	char path[640], buf[256], unit[32];
	int rc;

	snprintf(path, sizeof path, "%s/events/energy-%s", dir, ev);
	if (pwr_hw_read_str(path, buf, sizeof buf))
		return 1;
	if (parse_event_config(buf, config)) {
		d->unavailable(d, "perf", "%s: cannot parse event '%s'", path, buf);
		return -1;
	}
	snprintf(path, sizeof path, "%s/events/energy-%s.scale", dir, ev);
	rc = pwr_hw_read_double(path, scale);
	if (rc || !(*scale > 0)) {
		d->unavailable(d, "perf", "%s: %s", path,
		               rc ? pwr_hw_errstr(rc) : "scale is not a positive number");
		return -1;
	}
	snprintf(path, sizeof path, "%s/events/energy-%s.unit", dir, ev);
	if (pwr_hw_read_str(path, unit, sizeof unit) == 0 && strcmp(unit, "Joules") != 0) {
		d->unavailable(d, "perf", "%s: unit is '%s', expected Joules", path, unit);
		return -1;
	}
	return 0;
}

/* Reads a PMU's type and CPU list; returns the CPU count, 0 when the PMU is absent, or -1 when
 * it is unreadable (the reason is recorded). */
static int read_pmu(struct pwr_discover *d, const char *dir, uint64_t *type, int *cpus, int max)
{
	char path[640], buf[1024];
	int rc, n;

	snprintf(path, sizeof path, "%s/type", dir);
	rc = pwr_hw_read_u64(path, type);
	if (rc == -ENOENT)
		return 0;
	if (rc) {
		d->unavailable(d, "perf", "cannot read %s: %s", path, pwr_hw_errstr(rc));
		return -1;
	}
	snprintf(path, sizeof path, "%s/cpumask", dir);
	rc = pwr_hw_read_str(path, buf, sizeof buf);
	n = rc ? rc : pwr_hw_parse_cpulist(buf, cpus, max);
	if (n <= 0) {
		d->unavailable(d, "perf", "cannot read the CPU list %s: %s", path,
		               rc ? pwr_hw_errstr(rc) : "empty or malformed");
		return -1;
	}
	return n;
}

/* Adds a counter domain that owns fds[0..n) (summed on read); closes them on failure. */
static int add_perf_dom(struct pwr_discover *d, const char *domain, const char *covers,
                        double scale, const int *fds, int n)
{
	struct pwr_dom dom;
	struct pwr_dom *added;
	struct perf_priv *pp = malloc(sizeof *pp + (size_t)n * sizeof pp->fds[0]);

	if (!pp) {
		for (int i = 0; i < n; i++)
			ops->close(fds[i]);
		return -ENOMEM;
	}
	pp->n = n;
	memcpy(pp->fds, fds, (size_t)n * sizeof fds[0]);
	memset(&dom, 0, sizeof dom);
	snprintf(dom.desc.backend, sizeof dom.desc.backend, "perf");
	snprintf(dom.desc.domain, sizeof dom.desc.domain, "%s", domain);
	snprintf(dom.desc.id, sizeof dom.desc.id, "perf:%s", domain);
	snprintf(dom.desc.covers, sizeof dom.desc.covers, "%s", covers);
	dom.desc.kind = PWR_MEASURED;
	dom.desc.range_j = 0;      /* 64-bit in the kernel: never wraps in practice */
	dom.desc.resolution_j = 0; /* the hardware step (ESU) is not exposed here */
	dom.value_kind = PWR_VALUE_COUNTER;
	dom.range_raw = 0;
	dom.joules_per_unit = scale;
	dom.backend = &pwr_backend_perf;
	added = d->add(d, &dom);
	if (!added) {
		for (int i = 0; i < n; i++)
			ops->close(fds[i]);
		free(pp);
		return -ENOMEM;
	}
	added->priv = pp;
	return 0;
}

static int open_event(struct pwr_discover *d, uint64_t type, uint64_t config, const char *ev,
                      int cpu)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof attr);
	attr.size = sizeof attr;
	attr.type = (uint32_t)type;
	attr.config = config;
	fd = ops->perf_open(&attr, cpu);
	if (fd < 0)
		open_failed(d, ev, cpu, fd);
	return fd;
}

static int package_of(const char *root, int cpu)
{
	char rel[128], path[512];
	int64_t v;

	snprintf(rel, sizeof rel, "sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
	pwr_path(path, sizeof path, root, rel);
	return pwr_hw_read_i64(path, &v) == 0 && v >= 0 && v < 4096 ? (int)v : 0;
}

/*
 * AMD's per-core energy (Linux 6.14+): a "power_core" PMU whose cpumask holds one CPU per core
 * and whose energy-core event counts that core. Each package's cores are summed into core-N
 * (64-bit counts, so the sum never wraps). Adds nothing when the PMU is absent.
 */
static int discover_power_core(struct pwr_discover *d, const int *pkg_cpus, int n_pkgs)
{
	char dir[512];
	uint64_t type, config;
	double scale;
	int *cpus = NULL, *fds = NULL, n, rc = 0;

	pwr_path(dir, sizeof dir, d->sysfs_root, "sys/bus/event_source/devices/power_core");
	cpus = malloc(PERF_MAX_CORES * sizeof *cpus);
	fds = malloc(PERF_MAX_CORES * sizeof *fds);
	if (!cpus || !fds) {
		rc = -ENOMEM;
		goto out;
	}
	n = read_pmu(d, dir, &type, cpus, PERF_MAX_CORES);
	if (n <= 0 || read_event(d, dir, "core", &config, &scale) != 0)
		goto out;
	for (int p = 0; p < n_pkgs; p++) {
		int pkg = package_of(d->sysfs_root, pkg_cpus[p]), k = 0;
		char domain[32], covers[160];

		for (int i = 0; i < n; i++) {
			if (package_of(d->sysfs_root, cpus[i]) != pkg)
				continue;
			fds[k] = open_event(d, type, config, "core", cpus[i]);
			if (fds[k] < 0) {
				for (int j = 0; j < k; j++)
					ops->close(fds[j]);
				k = -1;
				break;
			}
			k++;
		}
		if (k <= 0)
			continue;
		snprintf(domain, sizeof domain, "core-%d", p);
		snprintf(covers, sizeof covers,
		         "all %d CPU cores of package %d, summed per core (power_core PMU; part of "
		         "package)",
		         k, p);
		if ((rc = add_perf_dom(d, domain, covers, scale, fds, k)))
			goto out;
	}
out:
	free(cpus);
	free(fds);
	return rc;
}

static int perf_discover(struct pwr_discover *d)
{
	char dir[512];
	int cpus[PERF_MAX_PKGS], n_cpus, found = 0;
	bool have_cores = false;
	uint64_t type;

	pwr_path(dir, sizeof dir, d->sysfs_root, "sys/bus/event_source/devices/power");
	n_cpus = read_pmu(d, dir, &type, cpus, PERF_MAX_PKGS);
	if (n_cpus == 0) {
		d->unavailable(d, "perf",
		               "no power PMU: %s missing (VM or kernel without RAPL PMU)", dir);
		return 0;
	}
	if (n_cpus < 0)
		return 0;
	for (size_t e = 0; e < sizeof perf_events / sizeof perf_events[0]; e++) {
		const char *ev = perf_events[e].event;
		uint64_t config;
		double scale;
		int rc = read_event(d, dir, ev, &config, &scale);

		if (rc == 1)
			continue; /* this CPU has no such domain */
		found++;
		if (rc < 0)
			continue;
		for (int p = 0; p < n_cpus; p++) {
			char domain[64], covers[160];
			int fd = open_event(d, type, config, ev, cpus[p]);

			if (fd == -EACCES || fd == -EPERM)
				return 0; /* the same answer for every event */
			if (fd < 0)
				continue;
			if (strcmp(ev, "psys") == 0 && n_cpus == 1)
				snprintf(domain, sizeof domain, "psys");
			else
				snprintf(domain, sizeof domain, "%s-%d", perf_events[e].domain, p);
			snprintf(covers, sizeof covers, perf_events[e].covers, p);
			if ((rc = add_perf_dom(d, domain, covers, scale, &fd, 1)))
				return rc;
			have_cores |= !strcmp(ev, "cores");
		}
	}
	if (!found)
		d->unavailable(d, "perf", "power PMU %s lists no energy-* events", dir);
	return have_cores ? 0 : discover_power_core(d, cpus, n_cpus);
}

static int perf_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct perf_priv *pp = dom->priv;
	uint64_t v, sum = 0;
	ssize_t n;

	if (!pp)
		return -EBADF;
	for (int i = 0; i < pp->n; i++) {
		n = ops->read(pp->fds[i], &v, sizeof v);
		if (n < 0)
			return -errno;
		if (n != (ssize_t)sizeof v)
			return -EIO;
		sum += v;
	}
	*raw = sum;
	return 0;
}

static void perf_close(struct pwr_dom *dom)
{
	struct perf_priv *pp = dom->priv;

	if (pp) {
		for (int i = 0; i < pp->n; i++)
			ops->close(pp->fds[i]);
		free(pp);
		dom->priv = NULL;
	}
}

const struct pwr_backend pwr_backend_perf = {
    .name = "perf",
    .summary = "RAPL energy via the perf_event power PMU (needs perf_event_paranoid <= 0 or "
               "CAP_PERFMON)",
    .discover = perf_discover,
    .read = perf_read,
    .close = perf_close,
};
