/*
 * power/perf_power.c — RAPL energy through the perf_event "power" PMU.
 *
 * The kernel's RAPL PMU (arch/x86/events/rapl.c) lists itself at
 * /sys/bus/event_source/devices/power with a dynamic PMU `type`, a `cpumask` holding one CPU per
 * package, and events/energy-{pkg,cores,ram,gpu,psys} ("event=0x02") each with a `.scale` (2^-32
 * J on every kernel so far) and a `.unit` ("Joules"). Events are opened system-wide (pid -1) on
 * each cpumask CPU, which needs perf_event_paranoid <= 0 or CAP_PERFMON. The kernel unfolds the
 * 32-bit MSR into a 64-bit count, so the counter range is 2^64.
 *
 * All system calls go through `ops` so tests can drive the backend with fake counter values.
 */
#include "power/backend.h"
#include "power/hw_util.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PERF_MAX_PKGS 64

struct perf_priv {
	int fd;
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

static const struct pwr_perf_ops real_ops = { real_perf_open, real_read, close };
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
	{ "pkg", "package", "CPU package %d: cores, caches, uncore (RAPL PKG)" },
	{ "cores", "core", "CPU cores of package %d (RAPL PP0; part of package)" },
	{ "gpu", "uncore", "integrated GPU / uncore of package %d (RAPL PP1; part of package)" },
	{ "ram", "dram", "DRAM of package %d (RAPL DRAM; separate from package)" },
	{ "psys", "psys", "whole platform/SoC (RAPL PSYS; broadest, includes package %d)" },
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
			d->unavailable(d, "perf",
				       "perf_event_paranoid is %d; needs <= 0 or CAP_PERFMON (run as root, "
				       "or `sudo sysctl kernel.perf_event_paranoid=0`)",
				       paranoid);
		return;
	}
	d->unavailable(d, what, "perf_event_open(power/energy-%s) on CPU %d failed: %s", event, cpu,
		       pwr_hw_errstr(err));
}

static int perf_discover(struct pwr_discover *d)
{
	char dir[512], path[640], buf[256];
	int cpus[PERF_MAX_PKGS], n_cpus;
	uint64_t type;
	int rc;

	pwr_path(dir, sizeof dir, d->sysfs_root, "sys/bus/event_source/devices/power");
	snprintf(path, sizeof path, "%s/type", dir);
	rc = pwr_hw_read_u64(path, &type);
	if (rc == -ENOENT) {
		d->unavailable(d, "perf", "no power PMU: %s missing (VM or kernel without RAPL PMU)",
			       dir);
		return 0;
	}
	if (rc) {
		d->unavailable(d, "perf", "cannot read %s: %s", path, pwr_hw_errstr(rc));
		return 0;
	}
	snprintf(path, sizeof path, "%s/cpumask", dir);
	rc = pwr_hw_read_str(path, buf, sizeof buf);
	n_cpus = rc ? rc : pwr_hw_parse_cpulist(buf, cpus, PERF_MAX_PKGS);
	if (n_cpus <= 0) {
		d->unavailable(d, "perf", "cannot read the power PMU's CPU list %s: %s", path,
			       rc ? pwr_hw_errstr(rc) : "empty or malformed");
		return 0;
	}

	int found = 0;
	for (size_t e = 0; e < sizeof perf_events / sizeof perf_events[0]; e++) {
		const char *ev = perf_events[e].event;
		char unit[32];
		uint64_t config;
		double scale;

		snprintf(path, sizeof path, "%s/events/energy-%s", dir, ev);
		if (pwr_hw_read_str(path, buf, sizeof buf))
			continue; /* this CPU has no such domain */
		found++;
		if (parse_event_config(buf, &config)) {
			d->unavailable(d, "perf", "%s: cannot parse event '%s'", path, buf);
			continue;
		}
		snprintf(path, sizeof path, "%s/events/energy-%s.scale", dir, ev);
		rc = pwr_hw_read_double(path, &scale);
		if (rc || !(scale > 0)) {
			d->unavailable(d, "perf", "%s: %s", path,
				       rc ? pwr_hw_errstr(rc) : "scale is not a positive number");
			continue;
		}
		snprintf(path, sizeof path, "%s/events/energy-%s.unit", dir, ev);
		if (pwr_hw_read_str(path, unit, sizeof unit) == 0 && strcmp(unit, "Joules") != 0) {
			d->unavailable(d, "perf", "%s: unit is '%s', expected Joules", path, unit);
			continue;
		}
		for (int p = 0; p < n_cpus; p++) {
			struct perf_event_attr attr;
			struct pwr_dom dom;
			struct perf_priv *pp;
			struct pwr_dom *added;
			int fd;

			memset(&attr, 0, sizeof attr);
			attr.size = sizeof attr;
			attr.type = (uint32_t)type;
			attr.config = config;
			fd = ops->perf_open(&attr, cpus[p]);
			if (fd < 0) {
				open_failed(d, ev, cpus[p], fd);
				if (fd == -EACCES || fd == -EPERM)
					return 0; /* same answer for every event */
				continue;
			}
			memset(&dom, 0, sizeof dom);
			if (strcmp(ev, "psys") == 0 && n_cpus == 1)
				snprintf(dom.desc.domain, sizeof dom.desc.domain, "psys");
			else
				snprintf(dom.desc.domain, sizeof dom.desc.domain, "%s-%d",
					 perf_events[e].domain, p);
			snprintf(dom.desc.backend, sizeof dom.desc.backend, "perf");
			snprintf(dom.desc.id, sizeof dom.desc.id, "perf:%s", dom.desc.domain);
			snprintf(dom.desc.covers, sizeof dom.desc.covers, perf_events[e].covers, p);
			dom.desc.kind = PWR_MEASURED;
			dom.desc.range_j = 0; /* 64-bit in the kernel: never wraps in practice */
			dom.desc.resolution_j = 0; /* the hardware step (ESU) is not exposed here */
			dom.value_kind = PWR_VALUE_COUNTER;
			dom.range_raw = 0;
			dom.joules_per_unit = scale;
			dom.backend = &pwr_backend_perf;
			pp = malloc(sizeof *pp);
			if (!pp) {
				ops->close(fd);
				return -ENOMEM;
			}
			pp->fd = fd;
			added = d->add(d, &dom);
			if (!added) {
				ops->close(fd);
				free(pp);
				return -ENOMEM;
			}
			added->priv = pp;
		}
	}
	if (!found)
		d->unavailable(d, "perf", "power PMU %s lists no energy-* events", dir);
	return 0;
}

static int perf_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct perf_priv *pp = dom->priv;
	uint64_t v;
	ssize_t n;

	if (!pp)
		return -EBADF;
	n = ops->read(pp->fd, &v, sizeof v);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof v)
		return -EIO;
	*raw = v;
	return 0;
}

static void perf_close(struct pwr_dom *dom)
{
	struct perf_priv *pp = dom->priv;

	if (pp) {
		ops->close(pp->fd);
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
