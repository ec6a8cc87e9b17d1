/*
 * power/power.c — the probe core: the backend registry, pwr_open/pwr_close, probe selection,
 * the primary-domain rule, and the small helpers every backend shares (pwr_path,
 * pwr_counter_delta, pwr_now_ns). The sampler lives in sampler.c.
 */
#include "power/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/*
 * Every backend, in the order they are discovered and preferred when two measure the same thing
 * (powercap before perf before MSR: the least privileged and most widely available first).
 * Hardware backends add their line above the two models (estimate, then vm), which are always last.
 */
static const struct pwr_backend *const pwr_registry[] = {
	&pwr_backend_powercap,
	&pwr_backend_perf,
	&pwr_backend_msr,
	&pwr_backend_papi,
	&pwr_backend_battery,
	&pwr_backend_hwmon,
	&pwr_backend_nvml,
	&pwr_backend_shelly,
	&pwr_backend_tasmota,
	&pwr_backend_exec,
	&pwr_backend_estimate,
	&pwr_backend_vm,
};
#define N_REGISTRY ((int)(sizeof pwr_registry / sizeof pwr_registry[0]))

int64_t pwr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

char *pwr_path(char *buf, size_t len, const char *root, const char *rel)
{
	size_t n;

	if (!root || !*root)
		root = "/";
	while (*rel == '/')
		rel++;
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		pwr_strf(buf, len, "/%s", rel);
	else
		pwr_strf(buf, len, "%.*s/%s", (int)n, root, rel);
	return buf;
}

/*
 * cur - prev modulo range. For powercap the modulus is max_energy_range_uj: the hardware counter
 * really wraps one counter unit (~61 uJ) later, an error of one unit per wrap. Values at or above
 * the range (which a correct counter never shows) are reduced modulo it first.
 */
uint64_t pwr_counter_delta(uint64_t prev, uint64_t cur, uint64_t range)
{
	if (range == 0)
		return cur - prev; /* 2^64: unsigned arithmetic is already modular */
	prev %= range;
	cur %= range;
	if (cur >= prev)
		return cur - prev;
	return range - prev + cur;
}

int pwr_shared_sample(struct pwr_shared_sample *sh, uint64_t *seen, int (*cpu)(const void *ctx, double *s),
		      const void *ctx, int64_t *t_ns, double *cpu_s)
{
	if (*seen == sh->seq) { /* this domain used the current sample (or none was taken yet) */
		int64_t a = pwr_now_ns(), b;

		sh->rc = cpu(ctx, &sh->cpu_s);
		b = pwr_now_ns();
		sh->t_ns = a + (b - a) / 2;
		sh->seq++;
	}
	*seen = sh->seq;
	*t_ns = sh->t_ns;
	*cpu_s = sh->cpu_s;
	return sh->rc;
}

void pwr_strf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

const char *pwr_backend_name(int i)
{
	return i >= 0 && i < N_REGISTRY ? pwr_registry[i]->name : NULL;
}

const char *pwr_backend_summary(int i)
{
	return i >= 0 && i < N_REGISTRY ? pwr_registry[i]->summary : NULL;
}

/* ---- building a set ------------------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void describe_unit(struct pwr_dom *d)
{
	struct pwr_domain_desc *dd = &d->desc;

	if (dd->unit[0])
		return;
	if (d->value_kind == PWR_VALUE_POWER) {
		if (d->watts_per_unit == 1e-6)
			pwr_strf(dd->unit, sizeof dd->unit, "uW power");
		else if (d->watts_per_unit == 1e-3)
			pwr_strf(dd->unit, sizeof dd->unit, "mW power");
		else
			pwr_strf(dd->unit, sizeof dd->unit, "%.3g W power", d->watts_per_unit);
	} else {
		if (d->joules_per_unit == 1e-6)
			pwr_strf(dd->unit, sizeof dd->unit, "uJ counter");
		else if (d->joules_per_unit == 1e-3)
			pwr_strf(dd->unit, sizeof dd->unit, "mJ counter");
		else
			pwr_strf(dd->unit, sizeof dd->unit, "%.4g J counter", d->joules_per_unit);
	}
}

static struct pwr_dom *set_add(struct pwr_discover *dc, const struct pwr_dom *dom)
{
	struct pwr_set *s = dc->set;
	struct pwr_dom *d;

	if (s->n_doms == s->cap_doms) {
		int cap = s->cap_doms ? s->cap_doms * 2 : 16;
		struct pwr_dom **nd = realloc(s->doms, (size_t)cap * sizeof *nd);

		if (!nd)
			return NULL;
		s->doms = nd;
		s->cap_doms = cap;
	}
	d = malloc(sizeof *d);
	if (!d)
		return NULL;
	*d = *dom;
	if (!d->backend)
		d->backend = s->discovering;
	if (!d->desc.backend[0] && d->backend)
		pwr_strf(d->desc.backend, sizeof d->desc.backend, "%s", d->backend->name);
	if (!d->desc.id[0])
		pwr_strf(d->desc.id, sizeof d->desc.id, "%s:%s", d->desc.backend, d->desc.domain);
	if (d->value_kind == PWR_VALUE_COUNTER && d->range_raw && d->desc.range_j == 0)
		d->desc.range_j = (double)d->range_raw * d->joules_per_unit;
	describe_unit(d);
	s->doms[s->n_doms++] = d;
	return d;
}

static void set_unavailable_v(struct pwr_set *s, const char *what, const char *fmt, va_list ap)
{
	struct pwr_unavailable *u;

	if (s->n_unav == s->cap_unav) {
		int cap = s->cap_unav ? s->cap_unav * 2 : 16;
		struct pwr_unavailable *nu = realloc(s->unav, (size_t)cap * sizeof *nu);

		if (!nu)
			return; /* out of memory: the reason is lost, nothing else is */
		s->unav = nu;
		s->cap_unav = cap;
	}
	u = &s->unav[s->n_unav++];
	pwr_strf(u->what, sizeof u->what, "%s", what);
	vsnprintf(u->reason, sizeof u->reason, fmt, ap);
}

static void set_unavailable_f(struct pwr_set *s, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_unavailable_f(struct pwr_set *s, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_unavailable_v(s, what, fmt, ap);
	va_end(ap);
}

static void discover_unavailable(struct pwr_discover *dc, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_unavailable_v(dc->set, what, fmt, ap);
	va_end(ap);
}

static void drop_domain(struct pwr_set *s, int i)
{
	struct pwr_dom *d = s->doms[i];

	if (d->backend && d->backend->close)
		d->backend->close(d);
	free(d);
	memmove(&s->doms[i], &s->doms[i + 1], (size_t)(s->n_doms - i - 1) * sizeof *s->doms);
	s->n_doms--;
}

/* One entry of the probes list, split at the first ':'. */
struct probe_sel {
	char backend[32];
	char domain[256]; /* "" = every domain of the backend; a target for target_probe backends */
	bool found;
};

static int parse_probes(const char *const *probes, const struct pwr_backend *const *list, int n_list,
			struct probe_sel **out, int *n_out, char *err, size_t errlen)
{
	struct probe_sel *sel;
	int n = 0;

	*out = NULL;
	*n_out = 0;
	if (!probes)
		return 0;
	while (probes[n])
		n++;
	sel = calloc((size_t)n + 1, sizeof *sel);
	if (!sel)
		return -ENOMEM;
	for (int k = 0; k < n; k++) {
		const char *p = probes[k], *colon = strchr(p, ':');
		size_t bl = colon ? (size_t)(colon - p) : strlen(p);
		bool known = false;
		char names[256] = "";
		size_t used = 0;

		if (bl == 0 || bl >= sizeof sel[k].backend || (colon && !colon[1]) ||
		    (colon && strlen(colon + 1) >= sizeof sel[k].domain)) {
			set_err(err, errlen, "bad probe '%s': expected BACKEND or BACKEND:DOMAIN", p);
			free(sel);
			return -EINVAL;
		}
		memcpy(sel[k].backend, p, bl);
		if (colon)
			pwr_strf(sel[k].domain, sizeof sel[k].domain, "%s", colon + 1);
		for (int b = 0; b < n_list; b++) {
			if (!strcmp(list[b]->name, sel[k].backend))
				known = true;
			used += (size_t)snprintf(names + used, used < sizeof names ? sizeof names - used : 0,
						 "%s%s", b ? ", " : "", list[b]->name);
			if (used >= sizeof names)
				used = sizeof names - 1;
		}
		if (!known) {
			set_err(err, errlen, "unknown probe backend '%s' (known: %s)", sel[k].backend, names);
			free(sel);
			return -EINVAL;
		}
	}
	*out = sel;
	*n_out = n;
	return 0;
}

static bool backend_selected(const struct probe_sel *sel, int n_sel, const char *name)
{
	if (!sel)
		return true;
	for (int k = 0; k < n_sel; k++)
		if (!strcmp(sel[k].backend, name))
			return true;
	return false;
}

/* Whether domain d survives the selection (marks the selection entries it satisfies). */
static bool domain_selected(struct probe_sel *sel, int n_sel, const struct pwr_dom *d)
{
	bool keep = false;

	if (!sel)
		return true;
	for (int k = 0; k < n_sel; k++) {
		if (strcmp(sel[k].backend, d->desc.backend))
			continue;
		if (d->backend && d->backend->target_probe) {
			sel[k].found = true; /* it opened what the probe named */
			keep = true;
			continue;
		}
		if (!sel[k].domain[0] || !strcmp(sel[k].domain, d->desc.domain)) {
			sel[k].found = true;
			keep = true;
		}
	}
	return keep;
}

static bool backend_has_unavailable(const struct pwr_set *s, int first_unav, const char *backend)
{
	size_t bl = strlen(backend);

	for (int u = first_unav; u < s->n_unav; u++)
		if (!strncmp(s->unav[u].what, backend, bl) &&
		    (s->unav[u].what[bl] == '\0' || s->unav[u].what[bl] == ':'))
			return true;
	return false;
}

/* Parses "package-N", or hwmon's "amd_energy-EsocketN" (the same RAPL package counter through
 * the amd_energy driver); returns N or -1. */
static int package_index(const char *domain)
{
	const char *num;
	char *end;
	long v;

	if (!strncmp(domain, "package-", 8))
		num = domain + 8;
	else if (!strncmp(domain, "amd_energy-Esocket", 18))
		num = domain + 18;
	else
		return -1;
	if (!*num)
		return -1;
	v = strtol(num, &end, 10);
	return *end || v < 0 || v > 4095 ? -1 : (int)v;
}

/*
 * Packages of different sockets are disjoint, so their sum is the energy of every CPU socket
 * with nothing counted twice. For each measuring backend with two or more package-N domains,
 * adds a derived "<backend>:packages" domain. Core, uncore and dram are never added to it.
 */
static int add_package_sums(struct pwr_set *s)
{
	int n_real = s->n_doms;

	for (int i = 0; i < n_real; i++) {
		const struct pwr_dom *first = s->doms[i];
		struct pwr_dom sum;
		struct pwr_sum parts = { 0 };
		struct pwr_discover dc = { .set = s };
		char list[128] = "";
		size_t used = 0;
		bool seen_before = false;

		if (first->desc.kind != PWR_MEASURED || package_index(first->desc.domain) < 0)
			continue;
		for (int j = 0; j < i; j++)
			if (!strcmp(s->doms[j]->desc.backend, first->desc.backend) &&
			    package_index(s->doms[j]->desc.domain) >= 0)
				seen_before = true;
		if (seen_before)
			continue;
		for (int j = i; j < n_real && parts.n_parts < PWR_MAX_SUM_PARTS; j++) {
			const struct pwr_dom *d = s->doms[j];

			if (d->desc.kind != PWR_MEASURED || strcmp(d->desc.backend, first->desc.backend) ||
			    package_index(d->desc.domain) < 0)
				continue;
			parts.parts[parts.n_parts++] = j;
			used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s",
						 parts.n_parts > 1 ? " + " : "", d->desc.domain);
			if (used >= sizeof list)
				used = sizeof list - 1;
		}
		if (parts.n_parts < 2)
			continue;
		memset(&sum, 0, sizeof sum);
		pwr_strf(sum.desc.backend, sizeof sum.desc.backend, "%s", first->desc.backend);
		pwr_strf(sum.desc.domain, sizeof sum.desc.domain, "packages");
		pwr_strf(sum.desc.covers, sizeof sum.desc.covers,
			 "every CPU socket: %s (disjoint sockets, nothing counted twice; no DRAM)", list);
		pwr_strf(sum.desc.unit, sizeof sum.desc.unit, "J (sum of parts)");
		sum.desc.kind = PWR_MEASURED;
		sum.desc.resolution_j = first->desc.resolution_j;
		sum.value_kind = PWR_VALUE_COUNTER;
		sum.joules_per_unit = first->joules_per_unit;
		if (!set_add(&dc, &sum))
			return -ENOMEM;
		{
			struct pwr_sum *ns = realloc(s->sums, (size_t)s->n_doms * sizeof *ns);

			if (!ns)
				return -ENOMEM;
			s->sums = ns;
			s->sums[s->n_doms - 1] = parts;
		}
	}
	return 0;
}

static int domain_rank(const struct pwr_dom *d)
{
	const char *dom = d->desc.domain;

	if (d->desc.kind != PWR_MEASURED || d->not_primary)
		return -1;
	if (d->backend && d->backend->wall)
		return 0;
	if (!strcmp(dom, "psys"))
		return 1;
	if (!strcmp(d->desc.backend, "battery"))
		return 2;
	if (!strcmp(dom, "packages"))
		return 3;
	if (package_index(dom) >= 0 || !strcmp(dom, "package"))
		return 4;
	return -1;
}

static void choose_primary(struct pwr_set *s)
{
	int best = -1, best_rank = 99, n_pkgs = 0;

	for (int i = 0; i < s->n_doms; i++) {
		int r = domain_rank(s->doms[i]);

		if (r >= 0 && r < best_rank) {
			best = i;
			best_rank = r;
		}
	}
	if (best >= 0) {
		const struct pwr_dom *d = s->doms[best];

		for (int i = 0; i < s->n_doms; i++)
			if (!strcmp(s->doms[i]->desc.backend, d->desc.backend) &&
			    package_index(s->doms[i]->desc.domain) >= 0)
				n_pkgs++;
		s->primary = best;
		switch (best_rank) {
		case 0:
			pwr_strf(s->primary_why, sizeof s->primary_why,
				 "%s: an external meter named with --probe (%s), preferred over internal "
				 "sensors",
				 d->desc.id, d->desc.covers);
			break;
		case 1:
			pwr_strf(s->primary_why, sizeof s->primary_why,
				 "%s: psys, the broadest measured domain (whole platform, includes the packages)",
				 d->desc.id);
			break;
		case 2:
			pwr_strf(s->primary_why, sizeof s->primary_why,
				 "%s: whole-system power from the battery (no psys domain)", d->desc.id);
			break;
		case 3:
			pwr_strf(s->primary_why, sizeof s->primary_why,
				 "%s: sum of %d disjoint CPU packages (no psys domain; core, uncore and dram are "
				 "never added)",
				 d->desc.id, n_pkgs);
			break;
		default:
			pwr_strf(s->primary_why, sizeof s->primary_why,
				 "%s: the CPU package (no psys domain; excludes DRAM and the rest of the system)",
				 d->desc.id);
		}
		return;
	}
	for (int i = 0; i < s->n_doms; i++) {
		if (s->doms[i]->desc.kind == PWR_ESTIMATED && !s->doms[i]->not_primary) {
			s->primary = i;
			pwr_strf(s->primary_why, sizeof s->primary_why,
				 "%s: nothing could be measured here, so the figure is a model estimate, not a "
				 "measurement",
				 s->doms[i]->desc.id);
			return;
		}
	}
	s->primary = -1;
	for (int i = 0; i < s->n_doms; i++) {
		if (s->doms[i]->desc.kind == PWR_MEASURED) {
			const char *est = "";

			for (int u = 0; u < s->n_unav; u++)
				if (!strncmp(s->unav[u].what, "estimate", 8))
					est = s->unav[u].reason;
			pwr_strf(s->primary_why, sizeof s->primary_why,
				 "measured domains exist (%s, ...) but none is a whole CPU package or the system "
				 "(what they cover is part of it, or up to their driver), so none stands for the "
				 "run; no estimate either%s%.280s",
				 s->doms[i]->desc.id, *est ? ": " : "", est);
			return;
		}
	}
	for (int u = 0; u < s->n_unav; u++) {
		if (!strncmp(s->unav[u].what, "estimate", 8)) {
			pwr_strf(s->primary_why, sizeof s->primary_why,
				 "nothing could be measured and there is no estimate: %.300s", s->unav[u].reason);
			return;
		}
	}
	pwr_strf(s->primary_why, sizeof s->primary_why,
		 "no probe measures the whole CPU package or system (see the unavailable list)");
}

int pwr_open_backends(const struct pwr_opts *o, const struct pwr_backend *const *list, int n_list,
		      struct pwr_set **out, char *err, size_t errlen)
{
	static const struct pwr_opts defaults;
	struct pwr_set *s = NULL;
	struct probe_sel *sel = NULL;
	int n_sel = 0, rc;
	const char *root;
	bool from_env = false;
	struct stat st;

	*out = NULL;
	if (!o)
		o = &defaults;
	if (o->interval_ms < 0 || o->interval_ms > 3600000) {
		set_err(err, errlen, "sampling interval %d ms is out of range (1..3600000)", o->interval_ms);
		return -EINVAL;
	}
	rc = parse_probes(o->probes, list, n_list, &sel, &n_sel, err, errlen);
	if (rc < 0)
		return rc;
	s = calloc(1, sizeof *s);
	if (!s) {
		rc = -ENOMEM;
		goto fail;
	}
	s->primary = -1;
	s->interval_ms = o->interval_ms ? o->interval_ms : 100;
	root = o->sysfs_root;
	if (!root || !*root) {
		root = getenv("JOULEBENCH_SYSFS_ROOT");
		from_env = root && *root;
	}
	if (!root || !*root)
		root = "/";
	if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
		int e = errno;

		set_err(err, errlen, "sysfs root '%s'%s: %s", root, from_env ? " (from $JOULEBENCH_SYSFS_ROOT)" : "",
			stat(root, &st) != 0 ? strerror(e) : "not a directory");
		rc = -EINVAL;
		goto fail;
	}

	for (int b = 0; b < n_list; b++) {
		struct pwr_discover dc = {
			.sysfs_root = root,
			.dev_root = o->dev_root && *o->dev_root ? o->dev_root : "/",
			.hardware_db = o->hardware_db,
			.add = set_add,
			.unavailable = discover_unavailable,
			.set = s,
			.opts = o,
		};
		int first_dom = s->n_doms, first_unav = s->n_unav;
		char found[200];
		size_t used;
		int n_found;

		if (!backend_selected(sel, n_sel, list[b]->name))
			continue;
		s->discovering = list[b];
		rc = list[b]->discover(&dc);
		s->discovering = NULL;
		if (rc < 0) {
			set_err(err, errlen, "probe backend '%s' failed: %s", list[b]->name, strerror(-rc));
			goto fail;
		}
		for (int i = first_dom; i < s->n_doms; i++)
			if (!s->doms[i]->backend)
				s->doms[i]->backend = list[b];
		n_found = s->n_doms - first_dom;
		found[0] = '\0';
		used = 0;
		for (int i = first_dom; i < s->n_doms; i++) {
			used += (size_t)snprintf(found + used, used < sizeof found ? sizeof found - used : 0, "%s%s",
						 used ? ", " : "", s->doms[i]->desc.domain);
			if (used >= sizeof found)
				used = sizeof found - 1;
		}
		for (int i = first_dom; i < s->n_doms;) {
			if (domain_selected(sel, n_sel, s->doms[i]))
				i++;
			else
				drop_domain(s, i);
		}
		/* A named domain the backend does not have is an input error, unless the backend
		 * could not look at all (then its reason is already recorded). */
		for (int k = 0; k < n_sel; k++) {
			if (strcmp(sel[k].backend, list[b]->name) || sel[k].found || !sel[k].domain[0] ||
			    list[b]->target_probe)
				continue;
			if (n_found == 0 && backend_has_unavailable(s, first_unav, list[b]->name)) {
				set_unavailable_f(s, o->probes[k], "%s is unavailable here (see '%s')",
						  list[b]->name, list[b]->name);
				continue;
			}
			{
				set_err(err, errlen, "probe '%s': %s has no domain '%s' (found: %s)", o->probes[k],
					list[b]->name, sel[k].domain, found[0] ? found : "none");
				rc = -EINVAL;
				goto fail;
			}
		}
	}
	s->sums = calloc((size_t)s->n_doms + 1, sizeof *s->sums);
	if (!s->sums) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = add_package_sums(s);
	if (rc < 0)
		goto fail;
	choose_primary(s);
	rc = pwr_sampler_init(s);
	if (rc < 0)
		goto fail;
	free(sel);
	*out = s;
	return 0;
fail:
	if (rc == -ENOMEM)
		set_err(err, errlen, "out of memory while opening power probes");
	free(sel);
	pwr_close(s);
	return rc;
}

int pwr_open(const struct pwr_opts *o, struct pwr_set **out, char *err, size_t errlen)
{
	return pwr_open_backends(o, pwr_registry, N_REGISTRY, out, err, errlen);
}

void pwr_close(struct pwr_set *s)
{
	if (!s)
		return;
	pwr_sampler_free(s);
	for (int i = 0; i < s->n_doms; i++) {
		struct pwr_dom *d = s->doms[i];

		if (d->backend && d->backend->close)
			d->backend->close(d);
		free(d);
	}
	free(s->doms);
	free(s->sums);
	free(s->unav);
	free(s);
}

int pwr_n_domains(const struct pwr_set *s)
{
	return s ? s->n_doms : 0;
}

const struct pwr_domain_desc *pwr_domain(const struct pwr_set *s, int i)
{
	return s && i >= 0 && i < s->n_doms ? &s->doms[i]->desc : NULL;
}

int pwr_primary_domain(const struct pwr_set *s)
{
	return s ? s->primary : -1;
}

const char *pwr_primary_why(const struct pwr_set *s)
{
	return s ? s->primary_why : "no probe set";
}

int pwr_n_unavailable(const struct pwr_set *s)
{
	return s ? s->n_unav : 0;
}

const struct pwr_unavailable *pwr_unavailable(const struct pwr_set *s, int i)
{
	return s && i >= 0 && i < s->n_unav ? &s->unav[i] : NULL;
}
