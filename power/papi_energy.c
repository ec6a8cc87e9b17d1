/*
 * power/papi_energy.c — RAPL energy through whichever PAPI component this PAPI build has.
 *
 * PAPI exposes energy three ways, chosen here at run time by component and event name:
 *  - powercap:           "powercap:::ENERGY_UJ:ZONE<n>[_SUBZONE<m>]"   µJ
 *  - rapl (MSR based):   "rapl:::PACKAGE_ENERGY:PACKAGE<n>", DRAM_, PP0_, PP1_, PSYS_   nJ
 *  - perf_event_uncore:  libpfm4's RAPL PMU, "rapl::RAPL_ENERGY_PKG" (Intel) or
 *                        "amd64_rapl::RAPL_ENERGY_PKG" (AMD)   2^-32 J (the kernel's scale)
 * Debian's PAPI has neither powercap nor rapl, only perf_event_uncore, which needs the RAPL PMU
 * and perf_event_paranoid <= 0. Values are PAPI's counts since PAPI_start. PAPI's powercap
 * component unfolds only one wrap, so those domains wrap at the zone's max_energy_range_uj and
 * the sampler unfolds the rest; the rapl and uncore values are treated as 64-bit counters. One
 * event set per component holds all its events (PAPI runs one set per component at a time);
 * reads are serialised because PAPI_read reads them all.
 */
#include "power/backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a native event measures: domain name, coverage, joules per count; false if not energy. */
bool pwr_papi_classify(const char *comp, const char *ev, char *domain, size_t dlen, char *covers,
                       size_t clen, double *j_per_unit)
{
	const char *p;
	int n, m;

	if (!strcmp(comp, "powercap")) {
		if (!(p = strstr(ev, "ENERGY_UJ:ZONE")) || strstr(ev, "MAX_ENERGY"))
			return false;
		*j_per_unit = 1e-6;
		if (sscanf(p, "ENERGY_UJ:ZONE%d_SUBZONE%d", &n, &m) == 2) {
			snprintf(domain, dlen, "zone%d-sub%d", n, m);
			snprintf(covers, clen,
			         "powercap zone %d subzone %d (core, uncore or dram; see "
			         "/sys/class/powercap)",
			         n, m);
		} else if (sscanf(p, "ENERGY_UJ:ZONE%d", &n) == 1) {
			snprintf(domain, dlen, "package-%d", n);
			snprintf(covers, clen, "CPU package %d via PAPI powercap (RAPL PKG)", n);
		} else {
			return false;
		}
		return true;
	}
	if (!strcmp(comp, "rapl")) {
		static const struct {
			const char *prefix, *domain, *covers;
		} map[] = {
		    {"PACKAGE_ENERGY:PACKAGE", "package",
		     "CPU package %d via PAPI rapl (RAPL PKG)"},
		    {"PP0_ENERGY:PACKAGE", "core",
		     "CPU cores of package %d (PP0; part of package)"},
		    {"PP1_ENERGY:PACKAGE", "uncore",
		     "GPU/uncore of package %d (PP1; part of package)"},
		    {"DRAM_ENERGY:PACKAGE", "dram", "DRAM of package %d (separate from package)"},
		    {"PSYS_ENERGY:PACKAGE", "psys", "whole platform (PSYS, broadest; package %d)"},
		};
		const char *tail = strstr(ev, ":::");

		tail = tail ? tail + 3 : ev;
		for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
			size_t l = strlen(map[i].prefix);

			if (strncmp(tail, map[i].prefix, l) || sscanf(tail + l, "%d", &n) != 1)
				continue;
			if (!strcmp(map[i].domain, "psys"))
				snprintf(domain, dlen, "psys");
			else
				snprintf(domain, dlen, "%s-%d", map[i].domain, n);
			snprintf(covers, clen, map[i].covers, n);
			*j_per_unit = 1e-9; /* PAPI's rapl component reports scaled nJ */
			return true;
		}
		return false;
	}
	if (!strcmp(comp, "perf_event_uncore")) {
		static const struct {
			const char *suffix, *domain, *covers;
		} map[] = {
		    {"RAPL_ENERGY_PKG", "package-0", "CPU package 0 via libpfm4 RAPL PMU"},
		    {"RAPL_ENERGY_CORES", "core-0", "CPU cores of package 0 (part of package)"},
		    {"RAPL_ENERGY_GPU", "uncore-0", "GPU/uncore of package 0 (part of package)"},
		    {"RAPL_ENERGY_DRAM", "dram-0", "DRAM of package 0 (separate from package)"},
		    {"RAPL_ENERGY_PSYS", "psys", "whole platform (PSYS, broadest)"},
		};

		if (!strstr(ev, "rapl::"))
			return false;
		for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
			p = strstr(ev, map[i].suffix);
			if (!p || p[strlen(map[i].suffix)] != '\0')
				continue;
			snprintf(domain, dlen, "%s", map[i].domain);
			snprintf(covers, clen, "%s", map[i].covers);
			*j_per_unit = 1.0 / 4294967296.0;
			return true;
		}
	}
	return false;
}

#ifdef JB_HAVE_PAPI
#include <papi.h>

#define PAPI_MAX_EVENTS 32

struct papi_comp {
	int es;   /* running event set */
	int n;    /* events in it */
	int refs; /* domains using it */
	long long vals[PAPI_MAX_EVENTS];
};

struct papi_priv {
	struct papi_comp *comp;
	int idx;
};

static pthread_mutex_t papi_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * PAPI's powercap events count since PAPI_start and unfold at most one wrap, so the value itself
 * wraps at the zone's max_energy_range_uj (read from sysfs: PAPI always uses the real /sys).
 * The zone's own name ("package-0", "core", "dram", "psys") is the description of its NAME event.
 */
static void powercap_refine(const char *ev, char *domain, size_t dlen, uint64_t *range)
{
	const char *p = strstr(ev, "ENERGY_UJ:ZONE");
	char name_ev[PAPI_MAX_STR_LEN], rel[96], path[160], buf[64];
	PAPI_event_info_t info;
	int n, m, code, sub;

	if (!p)
		return;
	sub = sscanf(p, "ENERGY_UJ:ZONE%d_SUBZONE%d", &n, &m);
	if (sub < 1)
		return;
	if (sub == 2) {
		snprintf(name_ev, sizeof name_ev, "powercap:::NAME:ZONE%d_SUBZONE%d", n, m);
		snprintf(rel, sizeof rel, "intel-rapl:%d:%d", n, m);
	} else {
		snprintf(name_ev, sizeof name_ev, "powercap:::NAME:ZONE%d", n);
		snprintf(rel, sizeof rel, "intel-rapl:%d", n);
	}
	snprintf(path, sizeof path, "/sys/class/powercap/%s/max_energy_range_uj", rel);
	{
		FILE *f = fopen(path, "re");
		unsigned long long r;

		if (f) {
			if (fscanf(f, "%llu", &r) == 1)
				*range = r;
			fclose(f);
		}
	}
	if (PAPI_event_name_to_code(name_ev, &code) != PAPI_OK ||
	    PAPI_get_event_info(code, &info) != PAPI_OK ||
	    sscanf(info.long_descr, "%63s", buf) != 1)
		return;
	if (!strncmp(buf, "package-", 8) || !strcmp(buf, "psys"))
		snprintf(domain, dlen, "%s", buf);
	else
		snprintf(domain, dlen, "%.20s-%d", buf, n); /* core-0, uncore-0, dram-0 */
}

static void comp_unref(struct papi_comp *c)
{
	long long dummy[PAPI_MAX_EVENTS];

	if (--c->refs > 0)
		return;
	PAPI_stop(c->es, dummy);
	PAPI_cleanup_eventset(c->es);
	PAPI_destroy_eventset(&c->es);
	free(c);
}

/* Tries the energy events of one component; returns domains added (>= 0) or -ENOMEM. */
static int try_component(struct pwr_discover *d, int cid, const char *cname, char *why,
                         size_t whylen)
{
	struct {
		char domain[64], covers[160];
		double j;
		uint64_t range;
	} found[PAPI_MAX_EVENTS];
	struct papi_comp *c;
	int code = PAPI_NATIVE_MASK, n = 0, rc, es = PAPI_NULL;

	if (PAPI_enum_cmp_event(&code, PAPI_ENUM_FIRST, cid) != PAPI_OK) {
		snprintf(why, whylen, "%.24s: no events", cname);
		return 0;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	if (PAPI_create_eventset(&es) != PAPI_OK) {
		free(c);
		snprintf(why, whylen, "%.24s: cannot create an event set", cname);
		return 0;
	}
	do {
		char name[PAPI_MAX_STR_LEN];

		if (n >= PAPI_MAX_EVENTS || PAPI_event_code_to_name(code, name) != PAPI_OK)
			continue;
		if (!pwr_papi_classify(cname, name, found[n].domain, sizeof found[n].domain,
		                       found[n].covers, sizeof found[n].covers, &found[n].j))
			continue;
		found[n].range = 0;
		if (!strcmp(cname, "powercap"))
			powercap_refine(name, found[n].domain, sizeof found[n].domain,
			                &found[n].range);
		rc = PAPI_add_event(es, code);
		if (rc != PAPI_OK) {
			snprintf(why, whylen, "%.24s: cannot add %.60s: %.40s", cname, name,
			         PAPI_strerror(rc));
			continue;
		}
		n++;
	} while (PAPI_enum_cmp_event(&code, PAPI_ENUM_EVENTS, cid) == PAPI_OK);
	if (n == 0) {
		if (!why[0])
			snprintf(why, whylen, "%.24s: no energy events", cname);
		PAPI_cleanup_eventset(es);
		PAPI_destroy_eventset(&es);
		free(c);
		return 0;
	}
	rc = PAPI_start(es);
	if (rc == PAPI_OK)
		rc = PAPI_read(es, c->vals);
	if (rc != PAPI_OK) {
		snprintf(why, whylen, "%.24s: PAPI_start/read failed: %.40s%s", cname,
		         PAPI_strerror(rc),
		         rc == PAPI_EPERM ? " (needs root or perf_event_paranoid <= 0)" : "");
		PAPI_cleanup_eventset(es);
		PAPI_destroy_eventset(&es);
		free(c);
		return 0;
	}
	c->es = es;
	c->n = n;
	c->refs = 1; /* discovery's own, dropped below */
	for (int i = 0; i < n; i++) {
		struct pwr_dom dom;
		struct pwr_dom *added;
		struct papi_priv *p = malloc(sizeof *p);

		if (!p) {
			comp_unref(c);
			return -ENOMEM;
		}
		memset(&dom, 0, sizeof dom);
		snprintf(dom.desc.backend, sizeof dom.desc.backend, "papi");
		snprintf(dom.desc.domain, sizeof dom.desc.domain, "%.60s", found[i].domain);
		snprintf(dom.desc.id, sizeof dom.desc.id, "papi:%.60s", found[i].domain);
		snprintf(dom.desc.covers, sizeof dom.desc.covers, "%s", found[i].covers);
		dom.desc.kind = PWR_MEASURED;
		dom.value_kind = PWR_VALUE_COUNTER;
		dom.range_raw = found[i].range;
		dom.joules_per_unit = found[i].j;
		dom.desc.range_j = (double)found[i].range * found[i].j;
		dom.backend = &pwr_backend_papi;
		p->comp = c;
		p->idx = i;
		added = d->add(d, &dom);
		if (!added) {
			free(p);
			comp_unref(c);
			return -ENOMEM;
		}
		added->priv = p;
		c->refs++;
	}
	comp_unref(c);
	return n;
}

static int papi_discover(struct pwr_discover *d)
{
	static const char *const energy_comps[] = {"powercap", "rapl", "perf_event_uncore"};
	char seen[200] = "", why[3][160] = {"", "", ""};
	size_t used = 0;
	int total = 0, rc, n_comp;

	pthread_mutex_lock(&papi_lock);
	if (PAPI_is_initialized() == PAPI_NOT_INITED) {
		rc = PAPI_library_init(PAPI_VER_CURRENT);
		if (rc != PAPI_VER_CURRENT) {
			pthread_mutex_unlock(&papi_lock);
			d->unavailable(d, "papi", "PAPI_library_init failed: %s",
			               rc > 0 ? "library version mismatch" : PAPI_strerror(rc));
			return 0;
		}
	}
	n_comp = PAPI_num_components();
	for (int cid = 0; cid < n_comp; cid++) {
		const PAPI_component_info_t *ci = PAPI_get_component_info(cid);

		if (!ci)
			continue;
		used += (size_t)snprintf(seen + used, used < sizeof seen ? sizeof seen - used : 0,
		                         "%s%s%s", used ? ", " : "", ci->name,
		                         ci->disabled ? " (disabled)" : "");
		if (used >= sizeof seen)
			used = sizeof seen - 1;
		for (int k = 0; k < 3; k++) {
			if (strcmp(ci->name, energy_comps[k]))
				continue;
			if (ci->disabled) {
				snprintf(why[k], sizeof why[k], "%.24s disabled: %.100s", ci->name,
				         ci->disabled_reason);
				break;
			}
			rc = try_component(d, cid, ci->name, why[k], sizeof why[k]);
			if (rc < 0) {
				pthread_mutex_unlock(&papi_lock);
				return rc;
			}
			total += rc;
		}
	}
	pthread_mutex_unlock(&papi_lock);
	if (total == 0) {
		char detail[400] = "";
		size_t dl = 0;

		for (int k = 0; k < 3; k++) {
			const char *w = why[k][0] ? why[k] : NULL;
			char none[64];

			if (!w) {
				snprintf(none, sizeof none, "no %s component", energy_comps[k]);
				w = none;
			}
			dl += (size_t)snprintf(detail + dl,
			                       dl < sizeof detail ? sizeof detail - dl : 0, "%s%s",
			                       dl ? "; " : "", w);
			if (dl >= sizeof detail)
				dl = sizeof detail - 1;
		}
		d->unavailable(d, "papi", "no PAPI component gives energy (components: %s): %s",
		               seen, detail);
	}
	return 0;
}

static int papi_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct papi_priv *p = dom->priv;
	int rc;

	if (!p)
		return -EBADF;
	pthread_mutex_lock(&papi_lock);
	rc = PAPI_read(p->comp->es, p->comp->vals);
	if (rc == PAPI_OK)
		*raw = (uint64_t)p->comp->vals[p->idx];
	pthread_mutex_unlock(&papi_lock);
	return rc == PAPI_OK ? 0 : -EIO;
}

static void papi_close(struct pwr_dom *dom)
{
	struct papi_priv *p = dom->priv;

	if (!p)
		return;
	pthread_mutex_lock(&papi_lock);
	comp_unref(p->comp);
	pthread_mutex_unlock(&papi_lock);
	free(p);
	dom->priv = NULL;
}

#else /* !JB_HAVE_PAPI */

static int papi_discover(struct pwr_discover *d)
{
	d->unavailable(d, "papi", "built without PAPI (install libpapi-dev and rebuild)");
	return 0;
}

static int papi_read(struct pwr_dom *dom, uint64_t *raw)
{
	(void)dom;
	(void)raw;
	return -ENOSYS;
}

static void papi_close(struct pwr_dom *dom)
{
	(void)dom;
}

#endif

const struct pwr_backend pwr_backend_papi = {
    .name = "papi",
    .summary = "RAPL energy through PAPI's powercap, rapl or perf_event_uncore component, "
               "whichever this PAPI has",
    .discover = papi_discover,
    .read = papi_read,
    .close = papi_close,
};
