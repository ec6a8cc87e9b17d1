/*
 * power/estimate.c — the `estimate` backend: a labelled CPU power model for machines where
 * nothing can be measured (VMs, containers, CI). See estimate.h for the model.
 *
 * The CPU is looked up by name in a table: the user's file (opts->hardware_db or
 * $JOULEBENCH_HARDWARE_DB) first, then configs/hardware/NAME.json (found by pwr_data_path: the working
 * directory, next to the executable, the installed data directory). Every estimate domain has kind PWR_ESTIMATED and a `model` text that
 * states the formula and its inputs. The domain reads as a counter of estimated microjoules
 * since pwr_open, so the sampler treats it like any other counter.
 */
#include "power/backend.h"
#include "power/estimate.h"

#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_TABLE_BYTES (4 << 20)

static char *slurp(const char *path, size_t max, int *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;

	*err = 0;
	if (!f) {
		*err = -errno;
		return NULL;
	}
	buf = malloc(max + 1);
	if (!buf) {
		*err = -ENOMEM;
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		*err = ferror(f) ? -EIO : -EFBIG;
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int json_str(const cJSON *o, const char *key, char *dst, size_t len, bool required, const char *path,
		    int row, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	dst[0] = '\0';
	if (!v && !required)
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= len) {
		pwr_strf(err, errlen, "%s: cpus[%d].%s must be a non-empty string of at most %zu characters", path,
			 row, key, len - 1);
		return -EINVAL;
	}
	pwr_strf(dst, len, "%s", v->valuestring);
	return 0;
}

static int json_num(const cJSON *o, const char *key, double min, double max, double *dst, bool required,
		    const char *path, int row, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	*dst = 0;
	if (!v && !required)
		return 0;
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max)) {
		pwr_strf(err, errlen, "%s: cpus[%d].%s must be a number in [%g, %g]", path, row, key, min, max);
		return -EINVAL;
	}
	*dst = v->valuedouble;
	return 0;
}

int pwr_hwdb_load(const char *path, struct pwr_cpu_entry **v, int *n, char *err, size_t errlen)
{
	cJSON *root = NULL;
	const cJSON *cpus, *row, *frac;
	const char *end = NULL;
	char *text;
	double idle_fraction = 0;
	int rc = 0, k = 0, ferr;

	text = slurp(path, MAX_TABLE_BYTES, &ferr);
	if (!text) {
		pwr_strf(err, errlen, "%s: %s", path, ferr == -EFBIG ? "larger than 4 MiB" : strerror(-ferr));
		return ferr;
	}
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		pwr_strf(err, errlen, "%s: invalid JSON at byte %td", path, end ? end - text : (ptrdiff_t)0);
		rc = -EINVAL;
		goto out;
	}
	frac = cJSON_GetObjectItemCaseSensitive(root, "idle_fraction");
	if (frac) {
		if (!cJSON_IsNumber(frac) || !(frac->valuedouble > 0 && frac->valuedouble < 1)) {
			pwr_strf(err, errlen, "%s: idle_fraction must be a number in (0, 1)", path);
			rc = -EINVAL;
			goto out;
		}
		idle_fraction = frac->valuedouble;
	}
	cpus = cJSON_GetObjectItemCaseSensitive(root, "cpus");
	if (!cJSON_IsArray(cpus)) {
		pwr_strf(err, errlen, "%s: expected an object with a \"cpus\" array", path);
		rc = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(row, cpus)
	{
		struct pwr_cpu_entry e, *nv;
		double cores = 0, threads = 0;

		memset(&e, 0, sizeof e);
		if (!cJSON_IsObject(row)) {
			pwr_strf(err, errlen, "%s: cpus[%d] must be an object", path, k);
			rc = -EINVAL;
			goto out;
		}
		if ((rc = json_str(row, "match", e.match, sizeof e.match, true, path, k, err, errlen)) ||
		    (rc = json_str(row, "name", e.name, sizeof e.name, false, path, k, err, errlen)) ||
		    (rc = json_str(row, "source", e.source, sizeof e.source, false, path, k, err, errlen)) ||
		    (rc = json_num(row, "tdp_w", 0.1, 5000, &e.tdp_w, true, path, k, err, errlen)) ||
		    (rc = json_num(row, "idle_w", 0, 5000, &e.idle_w, false, path, k, err, errlen)) ||
		    (rc = json_num(row, "cores", 1, 4096, &cores, false, path, k, err, errlen)) ||
		    (rc = json_num(row, "threads", 1, 8192, &threads, true, path, k, err, errlen)))
			goto out;
		if (e.idle_w >= e.tdp_w) {
			pwr_strf(err, errlen, "%s: cpus[%d].idle_w (%g) must be below tdp_w (%g)", path, k, e.idle_w,
				 e.tdp_w);
			rc = -EINVAL;
			goto out;
		}
		if (!e.name[0])
			pwr_strf(e.name, sizeof e.name, "%s", e.match);
		e.cores = (int)cores;
		e.threads = (int)threads;
		e.idle_fraction = idle_fraction;
		pwr_strf(e.file, sizeof e.file, "%s", path);
		nv = realloc(*v, (size_t)(*n + 1) * sizeof *nv);
		if (!nv) {
			rc = -ENOMEM;
			pwr_strf(err, errlen, "out of memory");
			goto out;
		}
		*v = nv;
		(*v)[(*n)++] = e;
		k++;
	}
out:
	cJSON_Delete(root);
	free(text);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pwr_hwdb_load_dir(const char *dir, struct pwr_cpu_entry **v, int *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[256];
	int nn = 0, rc = 0;

	if (!d) {
		pwr_strf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	while ((e = readdir(d)) && nn < 256) {
		size_t l = strlen(e->d_name);

		if (l > 5 && !strcmp(e->d_name + l - 5, ".json") && e->d_name[0] != '.')
			names[nn++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)nn, sizeof names[0], name_cmp);
	for (int k = 0; k < nn; k++) {
		char path[PATH_MAX];

		if (!names[k]) {
			rc = -ENOMEM;
			continue;
		}
		pwr_strf(path, sizeof path, "%s/%s", dir, names[k]);
		if (rc == 0)
			rc = pwr_hwdb_load(path, v, n, err, errlen);
		free(names[k]);
	}
	return rc;
}

/* Case-insensitive search for `needle` in `hay` as a whole word (no alphanumeric neighbour). */
static bool word_match(const char *hay, const char *needle)
{
	size_t nl = strlen(needle);

	if (!nl)
		return false;
	for (const char *p = hay; *p; p++) {
		if (p > hay && isalnum((unsigned char)p[-1]))
			continue;
		if (strncasecmp(p, needle, nl))
			continue;
		if (!isalnum((unsigned char)p[nl]))
			return true;
	}
	return false;
}

int pwr_hwdb_match(const struct pwr_cpu_entry *v, int n, const char *cpu_name)
{
	int best = -1;
	size_t best_len = 0;

	if (!cpu_name || !*cpu_name)
		return -1;
	for (int k = 0; k < n; k++) {
		size_t l = strlen(v[k].match);

		if (l > best_len && word_match(cpu_name, v[k].match)) {
			best = k;
			best_len = l;
		}
	}
	return best;
}

const char *pwr_hwdb_file_for(const char *cpu_name)
{
	static const struct {
		const char *word, *file;
	} by_word[] = {
		{ "EPYC", "amd-epyc.json" },	  { "Ryzen", "amd-ryzen.json" },
		{ "Threadripper", "amd-ryzen.json" }, { "Xeon", "intel-server.json" },
		{ "Intel", "intel-client.json" }, { "Apple", "apple-m.json" },
		{ "Cortex", "raspberry-pi.json" }, { "Raspberry", "raspberry-pi.json" },
	};

	for (size_t k = 0; cpu_name && k < sizeof by_word / sizeof by_word[0]; k++)
		if (word_match(cpu_name, by_word[k].word))
			return by_word[k].file;
	return "<vendor>.json (a new file)";
}

int pwr_estimate_build(const char *cpu_name, const struct pwr_cpu_entry *row, const struct pwr_opts *o,
		       int online_cpus, struct pwr_estimate_model *m, char *err, size_t errlen)
{
	char idle_note[96], tdp_note[200];
	double frac;

	memset(m, 0, sizeof *m);
	if (o->tdp_w < 0 || o->idle_w < 0 || o->cpu_threads < 0) {
		pwr_strf(err, errlen, "estimate overrides must not be negative");
		return -EINVAL;
	}
	if (!row && o->tdp_w <= 0) {
		pwr_strf(err, errlen,
			 "CPU '%.48s' is not in configs/hardware: pass --tdp-w W (the vendor's TDP; in a "
			 "VM, TDP x vCPUs / host threads) or add the CPU to configs/hardware/%s",
			 cpu_name && *cpu_name ? cpu_name : "unknown", pwr_hwdb_file_for(cpu_name));
		return -ENOENT;
	}
	m->online_cpus = online_cpus > 0 ? online_cpus : 1;
	m->tdp_w = o->tdp_w > 0 ? o->tdp_w : row->tdp_w;
	m->threads = o->cpu_threads > 0 ? o->cpu_threads : row ? row->threads : m->online_cpus;
	frac = row && row->idle_fraction > 0 ? row->idle_fraction : PWR_DEFAULT_IDLE_FRACTION;
	m->idle_given = o->idle_w > 0 || (row && row->idle_w > 0 && o->tdp_w <= 0);
	if (o->idle_w > 0) {
		m->idle_w = o->idle_w;
		pwr_strf(idle_note, sizeof idle_note, "idle %.3g W given", m->idle_w);
	} else if (row && row->idle_w > 0 && o->tdp_w <= 0) {
		m->idle_w = row->idle_w;
		pwr_strf(idle_note, sizeof idle_note, "idle %.3g W from the table", m->idle_w);
	} else {
		m->idle_w = frac * m->tdp_w;
		pwr_strf(idle_note, sizeof idle_note, "idle assumed %.0f%% of TDP", frac * 100);
	}
	if (m->idle_w >= m->tdp_w) {
		pwr_strf(err, errlen, "idle power %.3g W must be below the TDP %.3g W", m->idle_w, m->tdp_w);
		return -EINVAL;
	}
	m->per_cpu_w = (m->tdp_w - m->idle_w) / m->threads;
	m->idle_share = m->online_cpus >= m->threads ? 1.0 : (double)m->online_cpus / m->threads;
	if (o->tdp_w > 0)
		pwr_strf(tdp_note, sizeof tdp_note, "TDP %.4g W given for '%s'", m->tdp_w,
			 cpu_name && *cpu_name ? cpu_name : "unknown CPU");
	else
		pwr_strf(tdp_note, sizeof tdp_note, "TDP %.4g W of %s (%s)", m->tdp_w, row->name, row->file);
	pwr_strf(m->text, sizeof m->text,
		 "E = %.4g W idle x %.3g share x elapsed + %.4g W per busy CPU x process CPU time; %s, %d "
		 "threads, %s, %d of %d CPUs online",
		 m->idle_w, m->idle_share, m->per_cpu_w, tdp_note, m->threads, idle_note, m->online_cpus, m->threads);
	return 0;
}

double pwr_estimate_energy_j(const struct pwr_estimate_model *m, double elapsed_s, double cpu_s)
{
	return m->idle_w * m->idle_share * elapsed_s + m->per_cpu_w * cpu_s;
}

/* {"low": l, "high": h} with 0 < l <= h < max, into v[0], v[1]. */
static int frac_pair(const cJSON *set, const char *key, double max, double v[2], const char *path, int k,
		     char *err, size_t errlen)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(set, key),
		    *l = cJSON_GetObjectItemCaseSensitive(o, "low"), *h = cJSON_GetObjectItemCaseSensitive(o, "high");

	if (!cJSON_IsNumber(l) || !cJSON_IsNumber(h) || !(l->valuedouble > 0 && l->valuedouble <= h->valuedouble &&
							 h->valuedouble < max)) {
		pwr_strf(err, errlen, "%s: sets[%d].%s must be {\"low\": l, \"high\": h} with 0 < l <= h < %g (low %g, high %g)",
			 path, k, key, max, cJSON_IsNumber(l) ? l->valuedouble : NAN, cJSON_IsNumber(h) ? h->valuedouble : NAN);
		return -EINVAL;
	}
	v[0] = l->valuedouble;
	v[1] = h->valuedouble;
	return 0;
}

int pwr_tdp_fractions_load(const char *path, struct pwr_tdp_fractions *f, char *err, size_t errlen)
{
	cJSON *root = NULL;
	const cJSON *sets, *set;
	const char *end = NULL;
	char *text;
	int rc = 0, ferr, k = 0;
	size_t used = 0;

	memset(f, 0, sizeof *f);
	text = slurp(path, MAX_TABLE_BYTES, &ferr);
	if (!text) {
		pwr_strf(err, errlen, "%s: %s", path, ferr == -EFBIG ? "larger than 4 MiB" : strerror(-ferr));
		return ferr;
	}
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		pwr_strf(err, errlen, "%s: invalid JSON at byte %td", path, end ? end - text : (ptrdiff_t)0);
		rc = -EINVAL;
		goto out;
	}
	sets = cJSON_GetObjectItemCaseSensitive(root, "sets");
	if (!cJSON_IsArray(sets) || cJSON_GetArraySize(sets) < 1) {
		pwr_strf(err, errlen, "%s: expected a non-empty \"sets\" array", path);
		rc = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(set, sets)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(set, "id"),
			    *src = cJSON_GetObjectItemCaseSensitive(set, "source");
		double idle[2], full[2];

		if (!cJSON_IsString(id) || !id->valuestring[0] || strchr(id->valuestring, ',')) {
			pwr_strf(err, errlen, "%s: sets[%d].id must be a non-empty string without commas", path, k);
			rc = -EINVAL;
			goto out;
		}
		if (!cJSON_IsString(src) || !src->valuestring[0]) {
			pwr_strf(err, errlen, "%s: sets[%d] (%s) has no \"source\"", path, k, id->valuestring);
			rc = -EINVAL;
			goto out;
		}
		if ((rc = frac_pair(set, "idle_fraction", 1, idle, path, k, err, errlen)) ||
		    (rc = frac_pair(set, "full_fraction", 2, full, path, k, err, errlen)))
			goto out;
		if (idle[1] >= full[0]) {
			pwr_strf(err, errlen, "%s: sets[%d] (%s): idle_fraction.high %g must be below full_fraction.low %g",
				 path, k, id->valuestring, idle[1], full[0]);
			rc = -EINVAL;
			goto out;
		}
		if (k == 0 || idle[0] < f->idle[0])
			f->idle[0] = idle[0];
		if (k == 0 || idle[1] > f->idle[1])
			f->idle[1] = idle[1];
		if (k == 0 || full[0] < f->full[0])
			f->full[0] = full[0];
		if (k == 0 || full[1] > f->full[1])
			f->full[1] = full[1];
		if (used + 1 < sizeof f->sets) {
			pwr_strf(f->sets + used, sizeof f->sets - used, "%s%s", k ? "," : "", id->valuestring);
			used = strlen(f->sets);
		}
		k++;
	}
out:
	cJSON_Delete(root);
	free(text);
	return rc;
}

void pwr_estimate_range(struct pwr_estimate_model *m, const struct pwr_tdp_fractions *f)
{
	double tdp = m->tdp_w;

	m->idle_lh_w[0] = m->idle_given ? m->idle_w : fmin(m->idle_w, f->idle[0] * tdp);
	m->idle_lh_w[1] = m->idle_given ? m->idle_w : fmax(m->idle_w, f->idle[1] * tdp);
	m->full_lh_w[0] = fmin(tdp, f->full[0] * tdp);
	m->full_lh_w[1] = fmax(tdp, f->full[1] * tdp);
	/* per busy CPU: the corners, so that net (idle-subtracted) figures are bounded too */
	m->per_cpu_lh_w[0] = m->full_lh_w[0] > m->idle_lh_w[1] ? (m->full_lh_w[0] - m->idle_lh_w[1]) / m->threads : 0;
	m->per_cpu_lh_w[1] = (m->full_lh_w[1] - m->idle_lh_w[0]) / m->threads;
	m->has_range = true;
	pwr_strf(m->range_sets, sizeof m->range_sets, "%s,%s", m->idle_given ? "given-idle" : "table-idle-fraction",
		 f->sets);
	pwr_strf(m->range_text, sizeof m->range_text,
		 "range: idle %.4g-%.4g W (%s), full load %.4g-%.4g W (%.3g-%.3g of TDP), every corner; the lowest "
		 "and highest of this model and the published fractions of %s",
		 m->idle_lh_w[0], m->idle_lh_w[1],
		 m->idle_given ? "as given" : "fractions of TDP", m->full_lh_w[0], m->full_lh_w[1], m->full_lh_w[0] / tdp,
		 m->full_lh_w[1] / tdp, f->sets);
}

double pwr_estimate_bound_j(const struct pwr_estimate_model *m, int which, double elapsed_s, double cpu_s)
{
	double e = pwr_estimate_energy_j(m, elapsed_s, cpu_s), b;

	if (!m->has_range)
		return e;
	b = m->idle_lh_w[which] * m->idle_share * elapsed_s + m->per_cpu_lh_w[which] * cpu_s;
	return which == 0 ? fmin(b, e) : fmax(b, e);
}

static void rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

void pwr_estimate_cpu_name(const char *root, char *name, size_t len, char *alt, size_t alt_len)
{
	char path[PATH_MAX], line[512];
	FILE *f;

	name[0] = '\0';
	alt[0] = '\0';
	pwr_path(path, sizeof path, root, "proc/cpuinfo");
	f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof line, f)) {
			char *colon = strchr(line, ':'), *val;

			if (!colon)
				continue;
			val = colon + 1;
			while (*val == ' ' || *val == '\t')
				val++;
			*colon = '\0';
			rstrip(line);
			rstrip(val);
			if (!name[0] && !strcmp(line, "model name"))
				pwr_strf(name, len, "%s", val);
			else if (!alt[0] && !strcmp(line, "Model"))
				pwr_strf(alt, alt_len, "%s", val);
		}
		fclose(f);
	}
	if (!alt[0]) {
		int ferr;
		char *dt;

		pwr_path(path, sizeof path, root, "proc/device-tree/model");
		dt = slurp(path, 256, &ferr);
		if (dt) {
			pwr_strf(alt, alt_len, "%s", dt); /* device-tree strings end in NUL */
			rstrip(alt);
			free(dt);
		}
	}
	if (!name[0] && alt[0])
		pwr_strf(name, len, "%s", alt);
}

/* ---- the backend --------------------------------------------------------------------------- */

struct estimate_priv {
	struct pwr_estimate_model m;
	int which; /* -1 the model, 0 its low bound, 1 its high bound */
	int64_t t0_ns, cpu0_ns;
	uint64_t last;
	struct pwr_shared_sample *sh; /* the (time, CPU time) sample the model and its bounds share */
	uint64_t seen;                /* the last shared sample this domain used */
};

#define FRACTIONS_FILE "configs/hardware/ranges/tdp-fractions.json"

/* Adds estimate:cpu (which -1) or its bound estimate:cpu-low / -high. */
static int add_estimate_domain(struct pwr_discover *d, const struct pwr_estimate_model *m, int which,
			       int64_t t0_ns, int64_t cpu0_ns, struct pwr_shared_sample *sh)
{
	struct estimate_priv *p = calloc(1, sizeof *p);
	struct pwr_dom dom, *stored;

	if (!p)
		return -ENOMEM;
	p->m = *m;
	p->which = which;
	p->t0_ns = t0_ns;
	p->cpu0_ns = cpu0_ns;
	p->sh = sh;
	memset(&dom, 0, sizeof dom);
	pwr_strf(dom.desc.backend, sizeof dom.desc.backend, "estimate");
	pwr_strf(dom.desc.domain, sizeof dom.desc.domain, "%s", which < 0 ? "cpu" : which == 0 ? "cpu-low" : "cpu-high");
	if (which < 0)
		pwr_strf(dom.desc.covers, sizeof dom.desc.covers,
			 "model of this process's CPU package power (idle share + busy CPU time); not a measurement");
	else
		pwr_strf(dom.desc.covers, sizeof dom.desc.covers,
			 "%s bound of estimate:cpu (idle and full-load power at their %s published values)",
			 which == 0 ? "low" : "high", which == 0 ? "lowest" : "highest");
	if (which < 0 && m->has_range)
		pwr_strf(dom.desc.model, sizeof dom.desc.model, "%s; %s", m->text, m->range_text);
	else if (which < 0)
		pwr_strf(dom.desc.model, sizeof dom.desc.model, "%s; no range: %s", m->text, m->range_text);
	else
		pwr_strf(dom.desc.model, sizeof dom.desc.model,
			 "%s bound: E = %.4g W idle x %.3g share x elapsed + %.4g W per busy CPU x process CPU time; %s",
			 which == 0 ? "low" : "high", m->idle_lh_w[which], m->idle_share, m->per_cpu_lh_w[which],
			 m->range_text);
	if (m->has_range)
		pwr_strf(dom.desc.range_sets, sizeof dom.desc.range_sets, "%s", m->range_sets);
	pwr_strf(dom.desc.unit, sizeof dom.desc.unit, "nJ (estimated)");
	dom.desc.kind = PWR_ESTIMATED;
	dom.desc.resolution_j = 1e-9;
	dom.value_kind = PWR_VALUE_COUNTER;
	dom.range_raw = 0;
	dom.joules_per_unit = 1e-9;
	dom.backend = &pwr_backend_estimate;
	dom.not_primary = which >= 0;
	dom.priv = p;
	stored = d->add(d, &dom);
	if (!stored) {
		free(p);
		return -ENOMEM;
	}
	sh->refs++;
	return 0;
}

static int64_t process_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* configs/hardware wherever pwr_data_path finds it. */
static void default_db_dir(char *buf, size_t len)
{
	pwr_data_path("configs/hardware", buf, len);
}

static int estimate_discover(struct pwr_discover *d)
{
	const struct pwr_opts *o = d->opts;
	struct pwr_cpu_entry *rows = NULL;
	struct pwr_estimate_model m;
	struct pwr_shared_sample *sh;
	int64_t t0, cpu0;
	char name[160], alt[160], err[320], dir[PATH_MAX];
	const char *user_db = d->hardware_db;
	int n_rows = 0, n_user = 0, row = -1, rc;
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	if (!user_db || !*user_db)
		user_db = getenv("JOULEBENCH_HARDWARE_DB");
	pwr_estimate_cpu_name(d->sysfs_root, name, sizeof name, alt, sizeof alt);
	if (user_db && *user_db) {
		rc = pwr_hwdb_load(user_db, &rows, &n_rows, err, sizeof err);
		if (rc < 0) {
			d->unavailable(d, "estimate", "cannot use the hardware table %s", err);
			free(rows);
			return rc == -ENOMEM ? rc : 0;
		}
		n_user = n_rows;
	}
	default_db_dir(dir, sizeof dir);
	rc = pwr_hwdb_load_dir(dir, &rows, &n_rows, err, sizeof err);
	if (rc < 0 && rc != -ENOENT) {
		d->unavailable(d, "estimate", "cannot use the hardware table %s", err);
		free(rows);
		return rc == -ENOMEM ? rc : 0;
	}
	/* The user's rows win over the shipped ones. */
	row = pwr_hwdb_match(rows, n_user, name);
	if (row < 0 && alt[0])
		row = pwr_hwdb_match(rows, n_user, alt);
	if (row < 0) {
		row = pwr_hwdb_match(rows + n_user, n_rows - n_user, name);
		if (row < 0 && alt[0])
			row = pwr_hwdb_match(rows + n_user, n_rows - n_user, alt);
		if (row >= 0)
			row += n_user;
	}
	rc = pwr_estimate_build(name, row >= 0 ? &rows[row] : NULL, o, online > 0 ? (int)online : 1, &m, err,
				sizeof err);
	free(rows);
	if (rc < 0) {
		d->unavailable(d, "estimate", "%s", err);
		return 0;
	}
	/* the range: published idle and full-load fractions of TDP; without them, none (said so) */
	{
		struct pwr_tdp_fractions f;
		char fpath[PATH_MAX];

		if (pwr_data_path(FRACTIONS_FILE, fpath, sizeof fpath) < 0)
			pwr_strf(m.range_text, sizeof m.range_text, "%s not found", FRACTIONS_FILE);
		else if (pwr_tdp_fractions_load(fpath, &f, err, sizeof err) < 0)
			pwr_strf(m.range_text, sizeof m.range_text, "%s", err);
		else
			pwr_estimate_range(&m, &f);
		if (!m.has_range)
			d->unavailable(d, "estimate:range", "cannot use the published TDP fractions (%s): estimate:cpu has no range",
				       m.range_text);
	}
	sh = calloc(1, sizeof *sh);
	if (!sh)
		return -ENOMEM;
	t0 = pwr_now_ns();
	cpu0 = process_cpu_ns();
	rc = add_estimate_domain(d, &m, -1, t0, cpu0, sh);
	if (!rc && m.has_range)
		rc = add_estimate_domain(d, &m, 0, t0, cpu0, sh);
	if (!rc && m.has_range)
		rc = add_estimate_domain(d, &m, 1, t0, cpu0, sh);
	if (sh->refs == 0)
		free(sh); /* no domain holds it */
	return rc;
}

static int process_cpu_s(const void *ctx, double *s)
{
	int64_t ns = process_cpu_ns();

	(void)ctx;
	if (ns < 0)
		return -ENOTSUP;
	*s = (double)ns / 1e9;
	return 0;
}

static int estimate_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct estimate_priv *p = dom->priv;
	int64_t now;
	double cpu, e_nj;
	uint64_t v;
	int rc;

	if (p->cpu0_ns < 0)
		return -ENOTSUP;
	rc = pwr_shared_sample(p->sh, &p->seen, process_cpu_s, NULL, &now, &cpu);
	if (rc < 0)
		return rc;
	dom->sample_t_ns = now;
	{
		double el = (double)(now - p->t0_ns) / 1e9, cs = cpu - (double)p->cpu0_ns / 1e9;

		e_nj = (p->which < 0 ? pwr_estimate_energy_j(&p->m, el, cs) : pwr_estimate_bound_j(&p->m, p->which, el, cs)) *
		       1e9;
	}
	v = e_nj > 0 ? (uint64_t)llround(e_nj) : 0;
	if (v < p->last)
		v = p->last; /* never run backwards on rounding */
	p->last = v;
	*raw = v;
	return 0;
}

static void estimate_close(struct pwr_dom *dom)
{
	struct estimate_priv *p = dom->priv;

	if (p && p->sh && --p->sh->refs == 0)
		free(p->sh);
	free(dom->priv);
	dom->priv = NULL;
}

const struct pwr_backend pwr_backend_estimate = {
	.name = "estimate",
	.summary = "labelled model from the CPU's TDP and this process's CPU time (configs/hardware)",
	.discover = estimate_discover,
	.read = estimate_read,
	.close = estimate_close,
};
