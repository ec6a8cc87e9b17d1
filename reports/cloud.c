/*
 * reports/cloud.c — cloud-equivalent estimates from configs/cloud/NAME.json profiles.
 *
 * A profile is one method with its constants; every constant carries a default, a low and a
 * high value and its source. Ranges are propagated by evaluating the method at every corner of
 * the constants' [low, high] box (2^k evaluations for k constants with a range) and taking the
 * minimum and maximum: exact for the shipped methods, which are monotonic in each constant.
 */
#include "reports/rpt_json.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const ecologits_consts[] = {"a",          "b",         "c",
                                               "alpha",      "beta",      "gamma",
                                               "batch",      "bits",      "mem_overhead",
                                               "gpu_mem_gb", "server_kw", "gpus_per_server",
                                               "pue",        NULL};
static const char *const flops_consts[] = {
    "flops_per_param_token", "peak_flops", "util", "node_w_per_gpu", "avg_to_peak", "pue", NULL};
static const char *const per_prompt_consts[] = {"wh_per_prompt", "tokens_per_query", NULL};

static const char *const *required_consts(enum rpt_cloud_method m)
{
	switch (m) {
	case RPT_CLOUD_ECOLOGITS:
		return ecologits_consts;
	case RPT_CLOUD_FLOPS:
		return flops_consts;
	default:
		return per_prompt_consts;
	}
}

static void stem_of(const char *path, char *buf, size_t len)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strcspn(base, ".");
	snprintf(buf, len, "%.*s", (int)n, base);
}

static int read_const(const cJSON *node, const char *name, const char *path, struct rpt_const *k,
                      char *err, size_t errlen)
{
	memset(k, 0, sizeof *k);
	snprintf(k->name, sizeof k->name, "%s", name);
	if (!cJSON_IsObject(node)) {
		snprintf(err, errlen, "%s: field 'constants.%s' must be an object", path, name);
		return -EINVAL;
	}
	if (!rj_num(node, "default", &k->def) || !rj_num(node, "low", &k->low) ||
	    !rj_num(node, "high", &k->high)) {
		snprintf(err, errlen,
		         "%s: field 'constants.%s' needs numeric default, low and high", path,
		         name);
		return -EINVAL;
	}
	if (!(k->low <= k->def && k->def <= k->high)) {
		snprintf(err, errlen, "%s: field 'constants.%s': expected low <= default <= high",
		         path, name);
		return -EINVAL;
	}
	rj_str(node, "unit", k->unit, sizeof k->unit);
	rj_str(node, "source", k->source, sizeof k->source);
	if (!k->source[0]) {
		snprintf(err, errlen,
		         "%s: field 'constants.%s.source' is missing (every constant "
		         "needs its citation)",
		         path, name);
		return -EINVAL;
	}
	return 0;
}

int rpt_cloud_profile_load(const char *path, struct rpt_cloud_profile *p, char *err, size_t errlen)
{
	cJSON *root = NULL;
	const cJSON *consts, *it;
	char *text = NULL, method[32];
	const char *const *need;
	int rc = 0;

	memset(p, 0, sizeof *p);
	snprintf(p->path, sizeof p->path, "%s", path);
	stem_of(path, p->name, sizeof p->name);
	text = rj_slurp(path, NULL);
	if (!text) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	root = cJSON_ParseWithOpts(text, NULL, 1);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: not a JSON object", path);
		rc = -EINVAL;
		goto out;
	}
	rj_str(root, "method", method, sizeof method);
	if (!strcmp(method, "ecologits"))
		p->method = RPT_CLOUD_ECOLOGITS;
	else if (!strcmp(method, "flops"))
		p->method = RPT_CLOUD_FLOPS;
	else if (!strcmp(method, "per_prompt"))
		p->method = RPT_CLOUD_PER_PROMPT;
	else {
		snprintf(err, errlen,
		         "%s: field 'method' must be \"ecologits\", \"flops\" or \"per_prompt\"",
		         path);
		rc = -EINVAL;
		goto out;
	}
	rj_str(root, "title", p->title, sizeof p->title);
	rj_str(root, "boundary", p->boundary, sizeof p->boundary);
	p->same_model = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "same_model"));
	p->superseded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "superseded"));
	consts = cJSON_GetObjectItemCaseSensitive(root, "constants");
	if (!cJSON_IsObject(consts)) {
		snprintf(err, errlen, "%s: field 'constants' must be an object", path);
		rc = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(it, consts)
	{
		if (p->n_consts == RPT_MAX_CONSTS) {
			snprintf(err, errlen, "%s: more than %d constants", path, RPT_MAX_CONSTS);
			rc = -EINVAL;
			goto out;
		}
		rc = read_const(it, it->string, path, &p->consts[p->n_consts], err, errlen);
		if (rc)
			goto out;
		p->n_consts++;
	}
	need = required_consts(p->method);
	for (int i = 0; need[i]; i++) {
		if (!rpt_cloud_const(p, need[i])) {
			snprintf(err, errlen,
			         "%s: field 'constants.%s' is missing (method %s needs it)", path,
			         need[i], method);
			rc = -EINVAL;
			goto out;
		}
	}
out:
	cJSON_Delete(root);
	free(text);
	return rc;
}

const struct rpt_const *rpt_cloud_const(const struct rpt_cloud_profile *p, const char *name)
{
	for (int i = 0; i < p->n_consts; i++)
		if (!strcmp(p->consts[i].name, name))
			return &p->consts[i];
	return NULL;
}

static int cmp_profile(const void *a, const void *b)
{
	const struct rpt_cloud_profile *x = a, *y = b;

	/* Same-model methods first, then published figures; by name within each group. */
	if (x->same_model != y->same_model)
		return x->same_model ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool is_profile_file(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && !strcmp(name + n - 5, ".json") && strcmp(name, "grid.json") &&
	       strcmp(name, "network.json") && name[0] != '.';
}

int rpt_cloud_profiles_load(const char *dir, struct rpt_cloud_profile **out, char *err,
                            size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct rpt_cloud_profile *ps = NULL;
	int n = 0, rc = 0;

	*out = NULL;
	if (!d) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open cloud profile directory: %s", dir,
		         strerror(errno));
		return rc;
	}
	while ((e = readdir(d))) {
		char path[1024];
		struct rpt_cloud_profile *np;

		if (!is_profile_file(e->d_name))
			continue;
		np = realloc(ps, (size_t)(n + 1) * sizeof *ps);
		if (!np) {
			rc = -ENOMEM;
			goto fail;
		}
		ps = np;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		rc = rpt_cloud_profile_load(path, &ps[n], err, errlen);
		if (rc)
			goto fail;
		n++;
	}
	closedir(d);
	if (n == 0) {
		free(ps);
		snprintf(err, errlen, "%s: no cloud profiles (*.json) found", dir);
		return -ENOENT;
	}
	qsort(ps, (size_t)n, sizeof *ps, cmp_profile);
	*out = ps;
	return n;
fail:
	closedir(d);
	free(ps);
	return rc;
}

/* ---- the methods ------------------------------------------------------------------------ */

/* Constant values by name for one corner evaluation. */
struct cvals {
	const struct rpt_cloud_profile *p;
	double v[RPT_MAX_CONSTS];
};

static double cv(const struct cvals *c, const char *name)
{
	for (int i = 0; i < c->p->n_consts; i++)
		if (!strcmp(c->p->consts[i].name, name))
			return c->v[i];
	return NAN; /* required constants are checked at load time */
}

/* GPUs needed to hold the weights: 2^ceil(log2(ceil(M / gpu_mem))), M = overhead * P * bits/8. */
static int ecologits_gpus(double p_billion, double overhead, double bits, double gpu_mem_gb)
{
	double mem_gb = overhead * p_billion * bits / 8.0;
	double need = ceil(mem_gb / gpu_mem_gb);
	int gpus = 1;

	while (gpus < need)
		gpus *= 2;
	return gpus;
}

/* One evaluation: J per output token and Wh per query of gen_tokens output tokens. */
static void evaluate(const struct cvals *c, const struct rpt_cloud_query *q, double *jpt,
                     double *wh_query, int *gpus)
{
	switch (c->p->method) {
	case RPT_CLOUD_ECOLOGITS: {
		double P = q->n_params / 1e9, B = cv(c, "batch");
		int g =
		    ecologits_gpus(P, cv(c, "mem_overhead"), cv(c, "bits"), cv(c, "gpu_mem_gb"));
		double fe_wh = cv(c, "a") * exp(cv(c, "b") * B) * P + cv(c, "c");
		double fl_s = cv(c, "alpha") * P + cv(c, "beta") * B + cv(c, "gamma");
		double server_wh = fl_s / 3600.0 * cv(c, "server_kw") * 1000.0 *
		                   ((double)g / cv(c, "gpus_per_server")) / B;
		double wh_tok = cv(c, "pue") * (server_wh + g * fe_wh);

		*jpt = wh_tok * 3600.0;
		*wh_query = wh_tok * q->gen_tokens;
		*gpus = g;
		break;
	}
	case RPT_CLOUD_FLOPS: {
		double s_tok = cv(c, "flops_per_param_token") * q->n_params /
		               (cv(c, "peak_flops") * cv(c, "util"));

		*jpt = s_tok * cv(c, "node_w_per_gpu") * cv(c, "avg_to_peak") * cv(c, "pue");
		*wh_query = *jpt * q->gen_tokens / 3600.0;
		*gpus = 0;
		break;
	}
	case RPT_CLOUD_PER_PROMPT:
		*wh_query = cv(c, "wh_per_prompt");
		*jpt = *wh_query * 3600.0 / cv(c, "tokens_per_query");
		*gpus = 0;
		break;
	}
}

int rpt_cloud_estimate(const struct rpt_cloud_profile *p, const struct rpt_cloud_query *q,
                       struct rpt_cloud_estimate *e, char *err, size_t errlen)
{
	struct cvals c = {.p = p};
	int vary[RPT_MAX_CONSTS], k = 0;
	double jpt, wh;
	int gpus;

	memset(e, 0, sizeof *e);
	if (p->method != RPT_CLOUD_PER_PROMPT && !(q->n_params > 0)) {
		snprintf(err, errlen,
		         "profile %s needs the model's parameter count (model.n_params)", p->name);
		return -EINVAL;
	}
	if (p->method != RPT_CLOUD_PER_PROMPT && q->gen_tokens < 1) {
		snprintf(err, errlen, "profile %s needs at least one generated token", p->name);
		return -EINVAL;
	}
	for (int i = 0; i < p->n_consts; i++) {
		c.v[i] = p->consts[i].def;
		/* Water does not change energy: keep it out of the corner search. */
		if (p->consts[i].low != p->consts[i].high && strcmp(p->consts[i].name, "wue"))
			vary[k++] = i;
	}
	evaluate(&c, q, &jpt, &wh, &gpus);
	e->j_per_token = (struct rpt_range){jpt, jpt, jpt};
	e->wh_per_query = (struct rpt_range){wh, wh, wh};
	e->gpus = gpus;
	if (p->method == RPT_CLOUD_PER_PROMPT)
		e->tokens_per_query = (int)rpt_cloud_const(p, "tokens_per_query")->def;
	for (unsigned long mask = 0; mask < (1UL << k); mask++) {
		int g;

		for (int j = 0; j < k; j++) {
			const struct rpt_const *kc = &p->consts[vary[j]];

			c.v[vary[j]] = (mask >> j) & 1 ? kc->high : kc->low;
		}
		evaluate(&c, q, &jpt, &wh, &g);
		e->j_per_token.low = fmin(e->j_per_token.low, jpt);
		e->j_per_token.high = fmax(e->j_per_token.high, jpt);
		e->wh_per_query.low = fmin(e->wh_per_query.low, wh);
		e->wh_per_query.high = fmax(e->wh_per_query.high, wh);
	}
	return 0;
}

/* ---- network and grid ------------------------------------------------------------------- */

int rpt_network_wh(const char *dir, double bytes, struct rpt_range *wh, char *source,
                   size_t source_len, char *err, size_t errlen)
{
	char path[1024];
	cJSON *root = NULL;
	const cJSON *k;
	char *text;
	struct rpt_const kc;
	int rc;

	snprintf(path, sizeof path, "%s/network.json", dir);
	text = rj_slurp(path, NULL);
	if (!text) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return rc;
	}
	root = cJSON_Parse(text);
	free(text);
	k = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "constants"),
	                                     "kwh_per_gb");
	rc = read_const(k, "kwh_per_gb", path, &kc, err, errlen);
	cJSON_Delete(root);
	if (rc)
		return rc;
	/* kWh/GB × GB × 1000 Wh/kWh */
	wh->v = kc.def * bytes / 1e9 * 1000.0;
	wh->low = kc.low * bytes / 1e9 * 1000.0;
	wh->high = kc.high * bytes / 1e9 * 1000.0;
	if (source)
		snprintf(source, source_len, "%s", kc.source);
	return 0;
}

static cJSON *load_grid(const char *dir, char *path, size_t path_len, char *err, size_t errlen)
{
	char *text;
	cJSON *root;

	snprintf(path, path_len, "%s/grid.json", dir);
	text = rj_slurp(path, NULL);
	if (!text) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	root = cJSON_Parse(text);
	free(text);
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "regions"))) {
		snprintf(err, errlen, "%s: field 'regions' must be an array", path);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

const char *rpt_grid_ids(const char *dir)
{
	static char buf[512];
	char path[1024], err[RPT_ERR_LEN];
	cJSON *root = load_grid(dir, path, sizeof path, err, sizeof err);
	const cJSON *it;
	size_t n = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "regions"))
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");

		if (cJSON_IsString(id) && n + strlen(id->valuestring) + 3 < sizeof buf)
			n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", n ? ", " : "",
			                      id->valuestring);
	}
	cJSON_Delete(root);
	return buf;
}

int rpt_grid_load(const char *dir, const char *id, struct rpt_grid *g, char *err, size_t errlen)
{
	char path[1024], want[32];
	cJSON *root = load_grid(dir, path, sizeof path, err, errlen);
	const cJSON *it, *gv;
	int rc = -ENOENT;

	memset(g, 0, sizeof *g);
	if (!root)
		return -EINVAL;
	if (id)
		snprintf(want, sizeof want, "%s", id);
	else
		rj_str(root, "default", want, sizeof want);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "regions"))
	{
		char rid[32];

		rj_str(it, "id", rid, sizeof rid);
		if (strcasecmp(rid, want))
			continue;
		snprintf(g->id, sizeof g->id, "%s", rid);
		rj_str(it, "name", g->name, sizeof g->name);
		rj_str(it, "source", g->source, sizeof g->source);
		gv = cJSON_GetObjectItemCaseSensitive(it, "g_per_kwh");
		if (!rj_num(gv, "default", &g->g_per_kwh.v) ||
		    !rj_num(gv, "low", &g->g_per_kwh.low) ||
		    !rj_num(gv, "high", &g->g_per_kwh.high) || !g->source[0]) {
			snprintf(
			    err, errlen,
			    "%s: region '%s' needs g_per_kwh {default, low, high} and a source",
			    path, rid);
			rc = -EINVAL;
		} else {
			rc = 0;
		}
		break;
	}
	cJSON_Delete(root);
	if (rc == -ENOENT)
		snprintf(err, errlen, "unknown grid region '%s' (known: %s)", want,
		         rpt_grid_ids(dir));
	return rc;
}

/* ---- local figures ---------------------------------------------------------------------- */

void rj_local(const struct rpt_result *r, struct rj_local *l)
{
	const struct rpt_config *c = rpt_headline_config(r);

	memset(l, 0, sizeof *l);
	l->cfg = c;
	if (!c) {
		snprintf(l->reason, sizeof l->reason, "the result has no configuration");
		return;
	}
	if (!c->energy_source[0]) {
		snprintf(l->reason, sizeof l->reason, "%s", c->energy_reason);
		return;
	}
	if (!c->decode_jpt_gross.ok) {
		snprintf(l->reason, sizeof l->reason, "%s", c->decode_jpt_gross.reason);
		return;
	}
	l->ok = true;
	l->estimated = !strcmp(c->energy_kind, "estimated");
	snprintf(l->source, sizeof l->source, "%s", c->energy_source);
	l->jpt = (struct rpt_range){c->decode_jpt_gross.median, c->decode_jpt_gross.ci_low,
	                            c->decode_jpt_gross.ci_high};
	/* an estimate's range: the CI widened to the model's low and high coefficients */
	if (l->estimated && c->est_decode_jpt_gross.ok) {
		l->with_model_range = true;
		if (c->est_decode_jpt_gross.lo < l->jpt.low)
			l->jpt.low = c->est_decode_jpt_gross.lo;
		if (c->est_decode_jpt_gross.hi > l->jpt.high)
			l->jpt.high = c->est_decode_jpt_gross.hi;
	}
	l->wh_query = rj_local_query_wh(l, c->prompt_tokens, c->gen_tokens);
}

struct rpt_range rj_local_query_wh(const struct rj_local *l, int prompt, int answer)
{
	const struct rpt_config *c = l->cfg;
	struct rpt_range p = {0, 0, 0}, out;

	if (c->prefill_jpt_gross.ok)
		p = (struct rpt_range){c->prefill_jpt_gross.median, c->prefill_jpt_gross.ci_low,
		                       c->prefill_jpt_gross.ci_high};
	if (c->prefill_jpt_gross.ok && l->with_model_range && c->est_prefill_jpt_gross.ok) {
		if (c->est_prefill_jpt_gross.lo < p.low)
			p.low = c->est_prefill_jpt_gross.lo;
		if (c->est_prefill_jpt_gross.hi > p.high)
			p.high = c->est_prefill_jpt_gross.hi;
	}
	out.v = (p.v * prompt + l->jpt.v * answer) / 3600.0;
	out.low = (p.low * prompt + l->jpt.low * answer) / 3600.0;
	out.high = (p.high * prompt + l->jpt.high * answer) / 3600.0;
	return out;
}

/* ---- the table -------------------------------------------------------------------------- */

static void fmt_range(char *buf, size_t len, struct rpt_range r)
{
	char a[32], b[32], c[32];

	rj_fmt(a, sizeof a, r.v, 3);
	if (r.low == r.high && r.low == r.v) {
		snprintf(buf, len, "%s", a);
		return;
	}
	rj_fmt(b, sizeof b, r.low, 3);
	rj_fmt(c, sizeof c, r.high, 3);
	snprintf(buf, len, "%s (%s–%s)", a, b, c);
}

static struct rpt_range ratio_range(struct rpt_range num, struct rpt_range den)
{
	return (struct rpt_range){num.v / den.v, num.low / den.high, num.high / den.low};
}

static struct rpt_range scale_range(struct rpt_range a, struct rpt_range k, double unit)
{
	return (struct rpt_range){a.v * k.v * unit, a.low * k.low * unit, a.high * k.high * unit};
}

/* Display width of a UTF-8 string (code points; the tables use only narrow characters). */
static int text_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void row(FILE *f, bool md, const char *const *cells, int n)
{
	static const int widths[] = {20, 30, 28, 29, 27, 29, 28};

	for (int i = 0; i < n; i++) {
		if (md) {
			fprintf(f, "| %s ", cells[i]);
		} else if (i == n - 1) {
			fputs(cells[i], f);
		} else {
			int pad = widths[i < 7 ? i : 6] - text_width(cells[i]);

			fprintf(f, "%s%*s ", cells[i], pad > 0 ? pad : 0, "");
		}
	}
	fprintf(f, md ? "|\n" : "\n");
}

int rpt_cloud_table(FILE *f, const struct rpt_result *r, const struct rpt_cloud_opts *o, char *err,
                    size_t errlen)
{
	struct rpt_cloud_profile *ps = NULL, one;
	struct rpt_grid grid;
	struct rj_local l;
	struct rpt_range net = {0, 0, 0};
	char net_src[400] = "";
	int n, rc;
	const char *dir = o->dir ? o->dir : "configs/cloud";

	if (strcmp(r->kind, "run")) {
		snprintf(err, errlen,
		         "%s: a cloud comparison needs a result of kind \"run\" (got \"%s\")",
		         r->path, r->kind);
		return -EINVAL;
	}
	if (o->profile) {
		char path[1024];

		if (strchr(o->profile, '/') || !o->profile[0]) {
			snprintf(err, errlen, "unknown cloud profile '%s'", o->profile);
			return -EINVAL;
		}
		snprintf(path, sizeof path, "%s/%s.json", dir, o->profile);
		rc = rpt_cloud_profile_load(path, &one, err, errlen);
		if (rc == -ENOENT) {
			struct rpt_cloud_profile *all = NULL;
			int na = rpt_cloud_profiles_load(dir, &all, err, errlen);
			size_t off;

			off = (size_t)snprintf(err, errlen,
			                       "unknown cloud profile '%s' (known:", o->profile);
			for (int i = 0; i < na && off < errlen; i++)
				off +=
				    (size_t)snprintf(err + off, errlen - off, " %s", all[i].name);
			if (off < errlen)
				snprintf(err + off, errlen - off, ")");
			free(all);
			return -EINVAL;
		}
		if (rc)
			return rc;
		ps = malloc(sizeof *ps);
		if (!ps)
			return -ENOMEM;
		*ps = one;
		n = 1;
	} else {
		n = rpt_cloud_profiles_load(dir, &ps, err, errlen);
		if (n < 0)
			return n;
	}
	rc = rpt_grid_load(dir, o->grid, &grid, err, errlen);
	if (rc)
		goto out;
	if (o->network_bytes > 0) {
		rc = rpt_network_wh(dir, o->network_bytes, &net, net_src, sizeof net_src, err,
		                    errlen);
		if (rc)
			goto out;
	}
	rj_local(r, &l);

	char buf[7][160];
	const char *cells[7];
	for (int i = 0; i < 7; i++)
		cells[i] = buf[i];
	const char *hdr[] = {"figure",
	                     "basis",
	                     "J/token (range)",
	                     "Wh/query (range)",
	                     "local/cloud J/token",
	                     "gCO2e/query",
	                     "water mL/query"};

	fprintf(f, "%sLocal vs cloud-equivalent energy: %s\n\n", o->md ? "### " : "", r->path);
	if (l.ok && l.cfg->concurrency > 0)
		fprintf(
		    f,
		    "Local: %s server at concurrency %d (the sweep level with the highest "
		    "aggregate "
		    "tok/s), J/token over the level's window (prefill included); Wh/query for %d "
		    "prompt + %d generated tokens; energy %s by source '%s'.\n",
		    l.cfg->type, l.cfg->concurrency, l.cfg->prompt_tokens, l.cfg->gen_tokens,
		    l.estimated ? "ESTIMATED" : "measured", l.source);
	else if (l.ok)
		fprintf(f,
		        "Local: %d threads, %s, decode J/token gross, median (95%% CI%s); Wh/query "
		        "for %d prompt + %d generated tokens; energy %s by source '%s'.\n",
		        l.cfg->threads, l.cfg->type,
		        l.with_model_range ? " widened to the estimate's low/high coefficients" : "",
		        l.cfg->prompt_tokens, l.cfg->gen_tokens,
		        l.estimated ? "ESTIMATED" : "measured", l.source);
	else
		fprintf(f, "Local energy: not available (%s).\n", l.reason);
	if (r->n_params.ok)
		fprintf(f,
		        "Model: %s, %.4g parameters. Same-model methods estimate serving this "
		        "model size in a data centre, for %d output tokens per query.\n",
		        r->model_name[0] ? r->model_name : r->model_spec, r->n_params.v,
		        l.cfg ? l.cfg->gen_tokens : r->gen_tokens);
	else
		fprintf(f, "Model parameter count: not available (%s).\n", r->n_params.reason);
	fprintf(f, "Carbon: grid '%s' (%s), %.4g gCO2e/kWh [%s].\n", grid.id, grid.name,
	        grid.g_per_kwh.v, grid.source);
	if (o->network_bytes > 0)
		fprintf(f,
		        "Network: %.0f bytes per query add %.3g Wh (%.3g–%.3g) to each cloud "
		        "figure [%s].\n",
		        o->network_bytes, net.v, net.low, net.high, net_src);
	fprintf(f, "Ranges: each method evaluated at every low/high corner of its constants.\n\n");
	row(f, o->md, hdr, 7);
	if (o->md)
		fprintf(f, "|---|---|---|---|---|---|---|\n");

	if (l.ok) {
		snprintf(buf[0], sizeof buf[0], "local (%s)",
		         l.estimated ? (l.with_model_range ? "estimated, model range" : "estimated")
		                     : "measured");
		snprintf(buf[1], sizeof buf[1], "this machine");
		fmt_range(buf[2], sizeof buf[2], l.jpt);
		fmt_range(buf[3], sizeof buf[3], l.wh_query);
		snprintf(buf[4], sizeof buf[4], "1");
		fmt_range(buf[5], sizeof buf[5], scale_range(l.wh_query, grid.g_per_kwh, 1e-3));
		snprintf(buf[6], sizeof buf[6], "-");
		row(f, o->md, cells, 7);
	}
	for (int i = 0; i < n; i++) {
		const struct rpt_cloud_profile *p = &ps[i];
		struct rpt_cloud_query q = {
		    .n_params = r->n_params.ok ? r->n_params.v : 0,
		    .prompt_tokens = l.cfg ? l.cfg->prompt_tokens : r->prompt_tokens,
		    .gen_tokens = l.cfg ? l.cfg->gen_tokens : r->gen_tokens,
		};
		struct rpt_cloud_estimate e;
		char why[RPT_ERR_LEN];
		const struct rpt_const *wue = rpt_cloud_const(p, "wue");

		snprintf(buf[0], sizeof buf[0], "%s", p->name);
		if (p->method == RPT_CLOUD_ECOLOGITS)
			snprintf(buf[1], sizeof buf[1], "same model, bottom-up");
		else if (p->method == RPT_CLOUD_FLOPS)
			snprintf(buf[1], sizeof buf[1], "same model, FLOPs");
		else
			snprintf(buf[1], sizeof buf[1], "published, frontier");
		if (rpt_cloud_estimate(p, &q, &e, why, sizeof why)) {
			snprintf(buf[2], sizeof buf[2], "n/a: %.140s", why);
			for (int k = 3; k < 7; k++)
				snprintf(buf[k], sizeof buf[k], "-");
			row(f, o->md, cells, 7);
			continue;
		}
		if (p->method == RPT_CLOUD_ECOLOGITS)
			snprintf(buf[1] + strlen(buf[1]), sizeof buf[1] - strlen(buf[1]),
			         ", %d GPU%s", e.gpus, e.gpus > 1 ? "s" : "");
		if (p->method == RPT_CLOUD_PER_PROMPT)
			snprintf(buf[1] + strlen(buf[1]), sizeof buf[1] - strlen(buf[1]),
			         ", /%d tok", e.tokens_per_query);
		if (o->network_bytes > 0) {
			e.wh_per_query.v += net.v;
			e.wh_per_query.low += net.low;
			e.wh_per_query.high += net.high;
		}
		fmt_range(buf[2], sizeof buf[2], e.j_per_token);
		fmt_range(buf[3], sizeof buf[3], e.wh_per_query);
		if (l.ok)
			fmt_range(buf[4], sizeof buf[4], ratio_range(l.jpt, e.j_per_token));
		else
			snprintf(buf[4], sizeof buf[4], "n/a");
		fmt_range(buf[5], sizeof buf[5], scale_range(e.wh_per_query, grid.g_per_kwh, 1e-3));
		if (wue)
			fmt_range(buf[6], sizeof buf[6],
			          scale_range(e.wh_per_query,
			                      (struct rpt_range){wue->def, wue->low, wue->high},
			                      1.0));
		else
			snprintf(buf[6], sizeof buf[6], "-");
		row(f, o->md, cells, 7);
	}
	fprintf(f, "\nSources:\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s %s — %s (%s). Boundary: %s. [%s]\n", o->md ? "-" : "*", ps[i].name,
		        ps[i].title, ps[i].path, ps[i].boundary,
		        ps[i].method == RPT_CLOUD_PER_PROMPT
		            ? rpt_cloud_const(&ps[i], "wh_per_prompt")->source
		            : "constants and citations in the profile file");
	fprintf(f, "\nlocal/cloud > 1: the local run used more energy per token than the cloud "
	           "figure; per-prompt figures are for a different (frontier) model and are spread "
	           "over an assumed answer length. Water: on-site data-centre water (WUE) only.\n");
out:
	free(ps);
	return rc;
}
