/*
 * power/powercap.c — RAPL energy through the powercap sysfs class.
 *
 * The kernel's intel_rapl drivers list zones at /sys/class/powercap/intel-rapl:N (a package, or
 * psys) and intel-rapl:N:M (core, uncore, dram inside package N); intel-rapl-mmio:N is the same
 * package counter reached through MMIO on recent Intel client parts. AMD packages (Zen, Linux
 * >= 5.11) appear under the same intel-rapl names. Each zone has `name`, `energy_uj` (a counter
 * in microjoules that wraps at `max_energy_range_uj`) and, since Linux 5.10, energy_uj is mode
 * 0400 (root only) because of the Platypus side channel (CVE-2020-8694, CVE-2020-12912).
 *
 * energy_uj is opened once at discovery and read with pread, so a sample costs one system call.
 * A zone that disappears (driver unloaded) reads as ENODEV on real sysfs; on other file systems
 * the open file keeps returning its last value, so an unchanged reading is checked with fstat.
 */
#include "power/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ZONES 64

struct powercap_priv {
	int fd;
	uint64_t last;
	bool have_last;
	char path[PATH_MAX];
};

static int real_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static ssize_t real_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r = pread(fd, buf, n, off);

	return r < 0 ? -errno : r;
}

static const struct pwr_powercap_io real_io = { real_open, real_pread };
static const struct pwr_powercap_io *io = &real_io;

void pwr_powercap_set_io(const struct pwr_powercap_io *o)
{
	io = o ? o : &real_io;
}

/* Reads a small attribute file through `io`, trailing whitespace removed. 0 or -errno. */
static int read_attr(const char *path, char *buf, size_t len)
{
	int fd = io->open(path);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = io->pread(fd, buf, len - 1, 0);
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	return 0;
}

/* Parses a whole unsigned decimal number; -EINVAL if the text is anything else. */
static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\t')
		end++;
	if (errno || *end)
		return -EINVAL;
	*v = x;
	return 0;
}

struct zone {
	char dir[64];    /* "intel-rapl:0:1" */
	bool mmio;
	int pkg, sub;    /* N and M (sub -1 for a top-level zone) */
};

/* Accepts "<control type containing rapl>:N" and "...:N:M". */
static bool parse_zone(const char *name, struct zone *z)
{
	const char *colon = strchr(name, ':');
	char *end;
	long n, m = -1;

	if (!colon || !strstr(name, "rapl") || strlen(name) >= sizeof z->dir || colon[1] < '0' || colon[1] > '9')
		return false;
	n = strtol(colon + 1, &end, 10);
	if (*end == ':') {
		if (end[1] < '0' || end[1] > '9')
			return false;
		m = strtol(end + 1, &end, 10);
	}
	if (*end || n > 4095 || m > 4095)
		return false;
	pwr_strf(z->dir, sizeof z->dir, "%s", name);
	z->mmio = strstr(name, "mmio") != NULL;
	z->pkg = (int)n;
	z->sub = (int)m;
	return true;
}

static int zone_cmp(const void *a, const void *b)
{
	const struct zone *x = a, *y = b;

	if (x->mmio != y->mmio)
		return x->mmio - y->mmio;
	if (x->pkg != y->pkg)
		return x->pkg - y->pkg;
	return x->sub - y->sub;
}

/* Package index from a zone name "package-K"; -1 otherwise. */
static int name_pkg(const char *name)
{
	char *end;
	long v;

	if (strncmp(name, "package-", 8) || name[8] < '0' || name[8] > '9')
		return -1;
	v = strtol(name + 8, &end, 10);
	return *end ? -1 : (int)v;
}

static void describe(const char *name, int pkg, char *covers, size_t len)
{
	if (name_pkg(name) >= 0)
		pwr_strf(covers, len,
			 "CPU package %d: cores, caches, uncore (and the integrated GPU on client parts); "
			 "not DRAM",
			 pkg);
	else if (!strcmp(name, "psys"))
		pwr_strf(covers, len,
			 "whole platform/SoC (psys): the packages plus the rest of the SoC power rail; broadest");
	else if (!strcmp(name, "core"))
		pwr_strf(covers, len, "the CPU cores of package %d (RAPL PP0; part of package-%d)", pkg, pkg);
	else if (!strcmp(name, "uncore"))
		pwr_strf(covers, len, "uncore/integrated GPU of package %d (RAPL PP1; part of package-%d)", pkg,
			 pkg);
	else if (!strcmp(name, "dram"))
		pwr_strf(covers, len, "DRAM attached to package %d (separate from package-%d)", pkg, pkg);
	else
		pwr_strf(covers, len, "RAPL zone '%s' of package %d (overlap with other zones unknown)", name, pkg);
}

static void explain_open(struct pwr_discover *d, const char *what, const char *path, int err)
{
	if (err == -EACCES || err == -EPERM)
		d->unavailable(d, what,
			       "energy_uj is readable by root only since Linux 5.10: run with sudo or "
			       "`sudo chmod o+r %s`",
			       path);
	else if (err == -ENOENT)
		d->unavailable(d, what, "%s does not exist: this zone has power limits but no energy counter",
			       path);
	else
		d->unavailable(d, what, "cannot read %s: %s", path, strerror(-err));
}

static int add_zone(struct pwr_discover *d, const char *base, const struct zone *z, const char *parent_name,
		    char (*seen)[64], int *n_seen)
{
	char path[PATH_MAX], buf[64], name[48], domain[64], what[96];
	struct powercap_priv *p = NULL;
	struct pwr_dom dom, *stored;
	uint64_t range = 0, first = 0;
	int rc, fd, pkg;

	pwr_strf(path, sizeof path, "%s/%s/name", base, z->dir);
	rc = read_attr(path, name, sizeof name);
	if (rc < 0) {
		pwr_strf(what, sizeof what, "powercap:%s", z->dir);
		d->unavailable(d, what, "cannot read %s: %s", path, strerror(-rc));
		return 0;
	}
	pkg = name_pkg(parent_name ? parent_name : name);
	if (pkg < 0)
		pkg = z->pkg;
	if (z->sub >= 0)
		pwr_strf(domain, sizeof domain, "%s-%d", name, pkg);
	else
		pwr_strf(domain, sizeof domain, "%s", name);
	pwr_strf(what, sizeof what, "powercap:%s", domain);
	for (int k = 0; k < *n_seen; k++) {
		if (!strcmp(seen[k], domain)) {
			char what_dir[96];

			pwr_strf(what_dir, sizeof what_dir, "powercap:%s", z->dir);
			d->unavailable(d, what_dir,
				       "a second view of %s (the same counter through %s); not used twice",
				       what, z->mmio ? "MMIO" : "another zone");
			return 0;
		}
	}
	pwr_strf(path, sizeof path, "%s/%s/max_energy_range_uj", base, z->dir);
	rc = read_attr(path, buf, sizeof buf);
	if (rc == 0)
		rc = parse_u64(buf, &range);
	if (rc == 0 && range == 0)
		rc = -EINVAL;
	if (rc < 0) {
		d->unavailable(d, what, "cannot use %s (%s): without the counter range wraps cannot be unfolded",
			       path, rc == -EINVAL ? "not a positive number" : strerror(-rc));
		return 0;
	}
	pwr_strf(path, sizeof path, "%s/%s/energy_uj", base, z->dir);
	fd = io->open(path);
	if (fd < 0) {
		explain_open(d, what, path, fd);
		return 0;
	}
	rc = (int)io->pread(fd, buf, sizeof buf - 1, 0);
	if (rc >= 0) {
		buf[rc] = '\0';
		rc = parse_u64(buf, &first);
	}
	if (rc < 0) {
		close(fd);
		if (rc == -EINVAL)
			d->unavailable(d, what, "%s does not hold a number", path);
		else
			explain_open(d, what, path, rc);
		return 0;
	}
	p = calloc(1, sizeof *p);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->fd = fd;
	pwr_strf(p->path, sizeof p->path, "%s", path);
	memset(&dom, 0, sizeof dom);
	pwr_strf(dom.desc.backend, sizeof dom.desc.backend, "powercap");
	pwr_strf(dom.desc.domain, sizeof dom.desc.domain, "%s", domain);
	describe(name, pkg, dom.desc.covers, sizeof dom.desc.covers);
	dom.desc.kind = PWR_MEASURED;
	dom.desc.resolution_j = 1e-6;
	dom.value_kind = PWR_VALUE_COUNTER;
	dom.range_raw = range;
	dom.joules_per_unit = 1e-6;
	dom.backend = &pwr_backend_powercap;
	dom.priv = p;
	stored = d->add(d, &dom);
	if (!stored) {
		close(fd);
		free(p);
		return -ENOMEM;
	}
	if (*n_seen < MAX_ZONES)
		pwr_strf(seen[(*n_seen)++], 64, "%s", domain);
	return 0;
}

static int powercap_discover(struct pwr_discover *d)
{
	char base[PATH_MAX];
	struct zone zones[MAX_ZONES];
	char seen[MAX_ZONES][64];
	char top_names[MAX_ZONES][48];
	int n = 0, n_seen = 0, rc = 0;
	struct dirent *e;
	DIR *dir;

	pwr_path(base, sizeof base, d->sysfs_root, "sys/class/powercap");
	dir = opendir(base);
	if (!dir) {
		if (errno == ENOENT || errno == ENOTDIR)
			d->unavailable(d, "powercap", "no RAPL in this VM/kernel: %s has no intel-rapl zones", base);
		else
			d->unavailable(d, "powercap", "cannot list %s: %s", base, strerror(errno));
		return 0;
	}
	while ((e = readdir(dir)) && n < MAX_ZONES)
		if (parse_zone(e->d_name, &zones[n]))
			n++;
	closedir(dir);
	if (n == 0) {
		d->unavailable(d, "powercap", "no RAPL in this VM/kernel: %s has no intel-rapl zones", base);
		return 0;
	}
	qsort(zones, (size_t)n, sizeof zones[0], zone_cmp);
	for (int i = 0; i < n && rc == 0; i++) {
		const char *parent = NULL;
		char path[PATH_MAX];

		top_names[i][0] = '\0';
		if (zones[i].sub < 0) {
			pwr_strf(path, sizeof path, "%s/%s/name", base, zones[i].dir);
			if (read_attr(path, top_names[i], sizeof top_names[i]) < 0)
				top_names[i][0] = '\0';
		} else {
			for (int j = 0; j < i; j++)
				if (zones[j].sub < 0 && zones[j].pkg == zones[i].pkg &&
				    zones[j].mmio == zones[i].mmio && top_names[j][0])
					parent = top_names[j];
		}
		rc = add_zone(d, base, &zones[i], parent, seen, &n_seen);
	}
	return rc;
}

static int powercap_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct powercap_priv *p = dom->priv;
	char buf[32];
	ssize_t n;
	uint64_t v;
	int rc;

	n = io->pread(p->fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENODATA;
	buf[n] = '\0';
	rc = parse_u64(buf, &v);
	if (rc < 0)
		return -EIO;
	if (p->have_last && v == p->last) {
		struct stat st;

		/* Unchanged: is the file still there? (sysfs itself answers ENODEV) */
		if (fstat(p->fd, &st) == 0 && st.st_nlink == 0)
			return -ENODEV;
	}
	p->last = v;
	p->have_last = true;
	*raw = v;
	return 0;
}

static void powercap_explain(struct pwr_dom *dom, int err, char *buf, size_t len)
{
	const struct powercap_priv *p = dom->priv;

	if (err == -EACCES || err == -EPERM)
		pwr_strf(buf, len,
			 "energy_uj is readable by root only since Linux 5.10: run with sudo or `sudo chmod o+r %s`",
			 p->path);
	else if (err == -ENODEV || err == -ENOENT)
		pwr_strf(buf, len, "the zone disappeared: %s is gone (RAPL driver unloaded or device removed)",
			 p->path);
	else if (err == -EIO)
		pwr_strf(buf, len, "%s no longer holds a number", p->path);
	else
		pwr_strf(buf, len, "reading %s failed: %s", p->path, strerror(-err));
}

static void powercap_close(struct pwr_dom *dom)
{
	struct powercap_priv *p = dom->priv;

	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p);
	dom->priv = NULL;
}

const struct pwr_backend pwr_backend_powercap = {
	.name = "powercap",
	.summary = "RAPL energy counters in /sys/class/powercap (Intel; AMD since Linux 5.11)",
	.discover = powercap_discover,
	.read = powercap_read,
	.close = powercap_close,
	.explain = powercap_explain,
};
