/*
 * reports/result_read.c — loads a result file (reports/SCHEMA.md) and validates what the
 * reports rely on: the schema version, the kind, required objects and the types of the summary
 * fields. Everything else stays reachable through r->json.
 */
#include "reports/rpt_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Line and column of a parse error position, for "FILE:LINE:COL" messages. */
static void position_of(const char *text, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int need_object(const cJSON *root, const char *name, const char *file, char *err,
                       size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);

	if (!cJSON_IsObject(it)) {
		snprintf(err, errlen, "%s: field '%s' %s", file, name,
		         it ? "must be an object" : "is missing");
		return -EINVAL;
	}
	return 0;
}

static int read_pair(const cJSON *sum, const char *name, struct rpt_stat *gross,
                     struct rpt_stat *net, const char *file, const char *ctx, char *err,
                     size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(sum, name);
	char sub[160];
	int rc;

	memset(gross, 0, sizeof *gross);
	memset(net, 0, sizeof *net);
	if (!it || cJSON_IsNull(it)) {
		char key[96], reason[RPT_REASON_LEN];

		snprintf(key, sizeof key, "%s_reason", name);
		rj_str(sum, key, reason, sizeof reason);
		if (!reason[0])
			snprintf(reason, sizeof reason, "%s not recorded", name);
		snprintf(gross->reason, sizeof gross->reason, "%s", reason);
		snprintf(net->reason, sizeof net->reason, "%s", reason);
		return 0;
	}
	if (!cJSON_IsObject(it)) {
		snprintf(err, errlen, "%s: field '%s.%s' must be {gross, net} or null", file, ctx,
		         name);
		return -EINVAL;
	}
	snprintf(sub, sizeof sub, "%s.%s", ctx, name);
	rc = rj_stat(it, "gross", gross, file, sub, err, errlen);
	if (!rc)
		rc = rj_stat(it, "net", net, file, sub, err, errlen);
	return rc;
}

/* The median of by_source[id].<path...> (path of up to two keys), if present. */
static bool bound_median(const cJSON *by, const char *id, const char *k1, const char *k2, double *v)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(by, id), k1);

	if (k2)
		o = cJSON_GetObjectItemCaseSensitive(o, k2);
	return rj_num(o, "median", v);
}

static void bound_pair(const cJSON *by, const struct rpt_config *cfg, const char *k1, const char *k2,
                       struct rpt_range_pair *p)
{
	double a, b;

	p->ok = bound_median(by, cfg->est_low_id, k1, k2, &a) && bound_median(by, cfg->est_high_id, k1, k2, &b);
	if (p->ok) {
		p->lo = a < b ? a : b;
		p->hi = a < b ? b : a;
	}
}

/* An estimated source's range: the "<source>-low" and "-high" bound sources of by_source. */
static void read_est_range(const cJSON *sum, struct rpt_config *cfg)
{
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(sum, "by_source");

	snprintf(cfg->est_low_id, sizeof cfg->est_low_id, "%.60s-low", cfg->energy_source);
	snprintf(cfg->est_high_id, sizeof cfg->est_high_id, "%.60s-high", cfg->energy_source);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(by, cfg->est_low_id)) ||
	    !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(by, cfg->est_high_id)))
		return;
	bound_pair(by, cfg, "decode_j_per_token", "gross", &cfg->est_decode_jpt_gross);
	bound_pair(by, cfg, "decode_j_per_token", "net", &cfg->est_decode_jpt_net);
	bound_pair(by, cfg, "prefill_j_per_token", "gross", &cfg->est_prefill_jpt_gross);
	bound_pair(by, cfg, "avg_power_w", NULL, &cfg->est_avg_power_w);
	bound_pair(by, cfg, "wh_per_query", NULL, &cfg->est_wh_per_query);
	cfg->est_tokens_per_j.ok = cfg->est_decode_jpt_net.ok && cfg->est_decode_jpt_net.lo > 0;
	if (cfg->est_tokens_per_j.ok) {
		cfg->est_tokens_per_j.lo = 1.0 / cfg->est_decode_jpt_net.hi;
		cfg->est_tokens_per_j.hi = 1.0 / cfg->est_decode_jpt_net.lo;
	}
	cfg->est_range = cfg->est_decode_jpt_gross.ok;
}

static int read_config(const cJSON *c, int i, const struct rpt_result *r, struct rpt_config *cfg,
                       char *err, size_t errlen)
{
	const char *file = r->path;
	const cJSON *reps = cJSON_GetObjectItemCaseSensitive(c, "reps");
	const cJSON *sum = cJSON_GetObjectItemCaseSensitive(c, "summary");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(c, "model");
	const cJSON *itl;
	char ctx[64];
	double v;
	int rc;

	snprintf(ctx, sizeof ctx, "configs[%d]", i);
	if (!cJSON_IsObject(c)) {
		snprintf(err, errlen, "%s: field '%s' must be an object", file, ctx);
		return -EINVAL;
	}
	if (!rj_num(c, "threads", &v) || v < 1) {
		snprintf(err, errlen, "%s: field '%s.threads' must be a positive number", file,
		         ctx);
		return -EINVAL;
	}
	cfg->threads = (int)v;
	rj_str(c, "type", cfg->type, sizeof cfg->type);
	if (!cfg->type[0]) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");

		/* null + reason: the configuration's model could not be opened */
		if (t && !cJSON_IsNull(t)) {
			snprintf(err, errlen, "%s: field '%s.type' must be a string or null", file,
			         ctx);
			return -EINVAL;
		}
		snprintf(cfg->type, sizeof cfg->type, "?");
	}
	if (reps && !cJSON_IsArray(reps)) {
		snprintf(err, errlen, "%s: field '%s.reps' must be an array", file, ctx);
		return -EINVAL;
	}
	cfg->n_reps = cJSON_GetArraySize(reps);
	cfg->prompt_tokens = r->prompt_tokens;
	cfg->gen_tokens = r->gen_tokens;
	if (cfg->n_reps > 0) {
		const cJSON *r0 = cJSON_GetArrayItem(reps, 0);

		if (rj_num(r0, "prompt_tokens", &v))
			cfg->prompt_tokens = (int)v;
		if (rj_num(r0, "gen_tokens", &v))
			cfg->gen_tokens = (int)v;
	}
	/* the configuration's own lengths win (a prompt-length sweep has several) */
	if (rj_num(c, "prompt_tokens", &v))
		cfg->prompt_tokens = (int)v;
	if (rj_num(c, "gen_tokens", &v))
		cfg->gen_tokens = (int)v;
	rj_rnum(cJSON_IsObject(model)
	            ? model
	            : cJSON_GetObjectItemCaseSensitive((const cJSON *)r->json, "model"),
	        "weight_bytes", &cfg->weight_bytes);
	rj_rnum(cJSON_IsObject(model)
	            ? model
	            : cJSON_GetObjectItemCaseSensitive((const cJSON *)r->json, "model"),
	        "decode_bytes_per_token", &cfg->decode_bytes_per_token);
	if (sum && !cJSON_IsNull(sum) && !cJSON_IsObject(sum)) {
		snprintf(err, errlen, "%s: field '%s.summary' must be an object or null", file,
		         ctx);
		return -EINVAL;
	}
	if (!cJSON_IsObject(sum)) {
		const char *why = "no summary (no repetition finished)";
		char reason[RPT_REASON_LEN];

		rj_str(c, "summary_reason", reason, sizeof reason);
		if (!reason[0])
			rj_str(c, "error", reason, sizeof reason);
		if (reason[0])
			why = reason;
		struct rpt_stat *all[] = {&cfg->prefill_tok_s,   &cfg->decode_tok_s,
		                          &cfg->ttft_ms,         &cfg->prefill_jpt_gross,
		                          &cfg->prefill_jpt_net, &cfg->decode_jpt_gross,
		                          &cfg->decode_jpt_net,  &cfg->tokens_per_j,
		                          &cfg->avg_power_w,     &cfg->wh_per_query};
		for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
			snprintf(all[k]->reason, sizeof all[k]->reason, "%s", why);
		struct rpt_num *nums[] = {&cfg->itl_p50_ms, &cfg->itl_p90_ms, &cfg->itl_p99_ms};
		for (size_t k = 0; k < 3; k++)
			snprintf(nums[k]->reason, sizeof nums[k]->reason, "%s", why);
		snprintf(cfg->energy_reason, sizeof cfg->energy_reason, "%s", why);
		return 0;
	}
	snprintf(ctx, sizeof ctx, "configs[%d].summary", i);
	if ((rc = rj_stat(sum, "prefill_tok_s", &cfg->prefill_tok_s, file, ctx, err, errlen)) ||
	    (rc = rj_stat(sum, "decode_tok_s", &cfg->decode_tok_s, file, ctx, err, errlen)) ||
	    (rc = rj_stat(sum, "ttft_ms", &cfg->ttft_ms, file, ctx, err, errlen)) ||
	    (rc = rj_stat(sum, "tokens_per_j", &cfg->tokens_per_j, file, ctx, err, errlen)) ||
	    (rc = rj_stat(sum, "avg_power_w", &cfg->avg_power_w, file, ctx, err, errlen)) ||
	    (rc = rj_stat(sum, "wh_per_query", &cfg->wh_per_query, file, ctx, err, errlen)) ||
	    (rc = read_pair(sum, "prefill_j_per_token", &cfg->prefill_jpt_gross,
	                    &cfg->prefill_jpt_net, file, ctx, err, errlen)) ||
	    (rc = read_pair(sum, "decode_j_per_token", &cfg->decode_jpt_gross, &cfg->decode_jpt_net,
	                    file, ctx, err, errlen)))
		return rc;
	itl = cJSON_GetObjectItemCaseSensitive(sum, "itl_ms");
	if (itl && !cJSON_IsNull(itl) && !cJSON_IsObject(itl)) {
		snprintf(err, errlen, "%s: field '%s.itl_ms' must be {p50, p90, p99} or null", file,
		         ctx);
		return -EINVAL;
	}
	if (cJSON_IsObject(itl)) {
		rj_rnum(itl, "p50", &cfg->itl_p50_ms);
		rj_rnum(itl, "p90", &cfg->itl_p90_ms);
		rj_rnum(itl, "p99", &cfg->itl_p99_ms);
	} else {
		rj_rnum(sum, "itl_ms", &cfg->itl_p50_ms);
		cfg->itl_p90_ms = cfg->itl_p50_ms;
		cfg->itl_p99_ms = cfg->itl_p50_ms;
	}
	rj_str(sum, "energy_source", cfg->energy_source, sizeof cfg->energy_source);
	rj_str(sum, "energy_kind", cfg->energy_kind, sizeof cfg->energy_kind);
	if (cfg->energy_source[0] && strcmp(cfg->energy_kind, "measured") &&
	    strcmp(cfg->energy_kind, "estimated")) {
		snprintf(err, errlen,
		         "%s: field '%s.energy_kind' must be \"measured\" or \"estimated\" when "
		         "energy_source is set",
		         file, ctx);
		return -EINVAL;
	}
	if (!strcmp(cfg->energy_kind, "estimated"))
		read_est_range(sum, cfg);
	if (!cfg->energy_source[0]) {
		rj_str(sum, "energy_source_reason", cfg->energy_reason, sizeof cfg->energy_reason);
		if (!cfg->energy_reason[0])
			snprintf(cfg->energy_reason, sizeof cfg->energy_reason, "%s",
			         r->primary_reason[0] ? r->primary_reason
			                              : "no energy source recorded");
	}
	return 0;
}

/* A single value as a stat of one (median = CI = v), or missing with the `<name>_reason`. */
static void one_stat(const cJSON *o, const char *name, struct rpt_stat *s)
{
	double v;

	memset(s, 0, sizeof *s);
	if (!rj_num(o, name, &v)) {
		char key[96];

		snprintf(key, sizeof key, "%s_reason", name);
		rj_str(o, key, s->reason, sizeof s->reason);
		if (!s->reason[0])
			snprintf(s->reason, sizeof s->reason, "%s not recorded", name);
		return;
	}
	s->ok = true;
	s->n = 1;
	s->median = s->mean = s->ci_low = s->ci_high = s->min = s->max = v;
}

/* Appends one configuration per `sweep.levels[]` entry (see struct rpt_config). */
static int read_sweep(struct rpt_result *r, const cJSON *root, char *err, size_t errlen)
{
	const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sweep");
	const cJSON *levels = cJSON_GetObjectItemCaseSensitive(sw, "levels");
	const cJSON *covers = cJSON_GetObjectItemCaseSensitive(sw, "energy_covers"), *it;
	char src[64] = "", note[RPT_REASON_LEN] = "";
	int n = cJSON_GetArraySize(levels), i = 0;
	double max_tokens = 0;
	struct rpt_config *nc;

	if (!sw || cJSON_IsNull(sw))
		return 0;
	if (!cJSON_IsObject(sw) || (levels && !cJSON_IsArray(levels))) {
		snprintf(err, errlen, "%s: field 'sweep' must be an object with a 'levels' array",
		         r->path);
		return -EINVAL;
	}
	if (n == 0)
		return 0;
	rj_num(sw, "max_tokens", &max_tokens);
	rj_str(sw, "energy_note", note, sizeof note);
	/* the ids the level energy adds up, "a+b" */
	cJSON_ArrayForEach(it, covers)
	{
		char id[64];
		size_t u = strlen(src), k;

		rj_str(it, "id", id, sizeof id);
		k = strlen(id);
		if (u + k + 2 > sizeof src)
			break; /* "a+b" must fit energy_source; the JSON keeps the whole list */
		if (u)
			src[u++] = '+';
		memcpy(src + u, id, k + 1);
	}
	nc = realloc(r->configs, (size_t)(r->n_configs + n) * sizeof *nc);
	if (!nc)
		return -ENOMEM;
	r->configs = nc;
	cJSON_ArrayForEach(it, levels)
	{
		struct rpt_config *c = &r->configs[r->n_configs + i];
		const cJSON *ttft = cJSON_GetObjectItemCaseSensitive(it, "ttft_ms");
		const cJSON *itl = cJSON_GetObjectItemCaseSensitive(it, "itl_ms");
		double v, ok = 0, ptok = 0;

		memset(c, 0, sizeof *c);
		if (!rj_num(it, "concurrency", &v) || v < 1) {
			snprintf(err, errlen,
			         "%s: field 'sweep.levels[%d].concurrency' must be a positive "
			         "number",
			         r->path, i);
			return -EINVAL;
		}
		c->concurrency = (int)v;
		c->threads = 1;
		snprintf(c->type, sizeof c->type, "%s", r->engine[0] ? r->engine : "http");
		rj_num(it, "n_ok", &ok);
		rj_num(it, "prompt_tokens", &ptok);
		c->n_reps = (int)ok;
		c->prompt_tokens = ok > 0 ? (int)(ptok / ok + 0.5) : r->prompt_tokens;
		c->gen_tokens = max_tokens > 0 ? (int)max_tokens : r->gen_tokens;
		snprintf(c->prefill_tok_s.reason, sizeof c->prefill_tok_s.reason, "%s",
		         "an external engine's prefill is not timed apart from its stream");
		one_stat(it, "agg_tok_s", &c->decode_tok_s);
		if (cJSON_IsObject(ttft))
			one_stat(ttft, "p50", &c->ttft_ms);
		else
			one_stat(it, "ttft_ms", &c->ttft_ms);
		if (cJSON_IsObject(itl)) {
			rj_rnum(itl, "p50", &c->itl_p50_ms);
			rj_rnum(itl, "p90", &c->itl_p90_ms);
			rj_rnum(itl, "p99", &c->itl_p99_ms);
		} else {
			rj_rnum(it, "itl_ms", &c->itl_p50_ms);
			c->itl_p90_ms = c->itl_p99_ms = c->itl_p50_ms;
		}
		one_stat(it, "j_per_token", &c->decode_jpt_gross);
		one_stat(it, "j_per_token_net", &c->decode_jpt_net);
		one_stat(it, "tokens_per_j", &c->tokens_per_j);
		one_stat(it, "avg_power_w", &c->avg_power_w);
		snprintf(c->prefill_jpt_gross.reason, sizeof c->prefill_jpt_gross.reason, "%s",
		         "a sweep level's energy covers prefill and decode together (j_per_token)");
		snprintf(c->prefill_jpt_net.reason, sizeof c->prefill_jpt_net.reason, "%s",
		         c->prefill_jpt_gross.reason);
		if (c->decode_jpt_gross.ok && c->gen_tokens > 0) {
			c->wh_per_query =
			    c->decode_jpt_net.ok ? c->decode_jpt_net : c->decode_jpt_gross;
			c->wh_per_query.median *= c->gen_tokens / 3600.0;
			c->wh_per_query.mean = c->wh_per_query.ci_low = c->wh_per_query.ci_high =
			    c->wh_per_query.min = c->wh_per_query.max = c->wh_per_query.median;
		} else {
			snprintf(c->wh_per_query.reason, sizeof c->wh_per_query.reason, "%s",
			         c->decode_jpt_gross.reason);
		}
		rj_str(it, "energy_kind", c->energy_kind, sizeof c->energy_kind);
		if (c->decode_jpt_gross.ok && c->energy_kind[0])
			snprintf(c->energy_source, sizeof c->energy_source, "%s",
			         src[0] ? src : "?");
		else
			snprintf(c->energy_reason, sizeof c->energy_reason, "%s",
			         c->decode_jpt_gross.reason[0] ? c->decode_jpt_gross.reason
			         : note[0]                     ? note
			                                       : "no energy recorded");
		snprintf(c->weight_bytes.reason, sizeof c->weight_bytes.reason, "%s",
		         "an external engine's model file is not visible");
		c->decode_bytes_per_token = c->weight_bytes;
		i++;
	}
	r->n_configs += n;
	r->n_sweep_levels = n;
	return 0;
}

static int read_run(struct rpt_result *r, const cJSON *root, char *err, size_t errlen)
{
	const cJSON *complete = cJSON_GetObjectItemCaseSensitive(root, "complete");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "machine");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "workload");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
	const cJSON *srcs = cJSON_GetObjectItemCaseSensitive(root, "energy_sources");
	const cJSON *cfgs = cJSON_GetObjectItemCaseSensitive(root, "configs");
	const cJSON *it;
	double v;
	int rc, i = 0;

	if (!cJSON_IsBool(complete)) {
		snprintf(err, errlen, "%s: field 'complete' %s", r->path,
		         complete ? "must be true or false" : "is missing");
		return -EINVAL;
	}
	r->complete = cJSON_IsTrue(complete);
	rj_str(root, "incomplete_reason", r->incomplete_reason, sizeof r->incomplete_reason);
	if (!r->complete && !r->incomplete_reason[0])
		snprintf(r->incomplete_reason, sizeof r->incomplete_reason, "no reason recorded");
	if ((rc = need_object(root, "workload", r->path, err, errlen)))
		return rc;
	if (model && !cJSON_IsNull(model) && !cJSON_IsObject(model)) {
		snprintf(err, errlen, "%s: field 'model' must be an object or null", r->path);
		return -EINVAL;
	}
	rj_str(w, "name", r->workload, sizeof r->workload);
	/* prompt_tokens: a number, or an array of lengths (a sweep): the first one */
	if (rj_num(w, "prompt_tokens", &v) ||
	    (cJSON_IsNumber(
	         cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "prompt_tokens"), 0)) &&
	     (v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w, "prompt_tokens"), 0)
	              ->valuedouble,
	      1)))
		r->prompt_tokens = (int)v;
	if (rj_num(w, "gen_tokens", &v))
		r->gen_tokens = (int)v;
	if (rj_num(w, "reps", &v))
		r->reps = (int)v;
	rj_str(model, "name", r->model_name, sizeof r->model_name);
	rj_str(model, "spec", r->model_spec, sizeof r->model_spec);
	rj_str(model, "arch", r->model_arch, sizeof r->model_arch);
	r->model_synthetic = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "synthetic"));
	rj_rnum(model, "n_params", &r->n_params);
	if (!cJSON_IsObject(model)) {
		rj_str(root, "model_reason", r->n_params.reason, sizeof r->n_params.reason);
		if (!r->n_params.reason[0])
			snprintf(r->n_params.reason, sizeof r->n_params.reason,
			         "model not recorded");
	}
	if (r->n_params.ok && r->n_params.v <= 0) {
		snprintf(err, errlen, "%s: field 'model.n_params' must be positive", r->path);
		return -EINVAL;
	}
	rj_str(root, "primary_source", r->primary_source, sizeof r->primary_source);
	rj_str(root, "primary_source_reason", r->primary_reason, sizeof r->primary_reason);
	if (srcs && !cJSON_IsArray(srcs)) {
		snprintf(err, errlen, "%s: field 'energy_sources' must be an array", r->path);
		return -EINVAL;
	}
	r->n_sources = cJSON_GetArraySize(srcs);
	if (r->n_sources > 0) {
		r->sources = calloc((size_t)r->n_sources, sizeof *r->sources);
		if (!r->sources)
			return -ENOMEM;
	}
	cJSON_ArrayForEach(it, srcs)
	{
		struct rpt_source *s = &r->sources[i++];

		rj_str(it, "id", s->id, sizeof s->id);
		rj_str(it, "backend", s->backend, sizeof s->backend);
		rj_str(it, "domain", s->domain, sizeof s->domain);
		rj_str(it, "covers", s->covers, sizeof s->covers);
		rj_str(it, "kind", s->kind, sizeof s->kind);
		rj_str(it, "model", s->model, sizeof s->model);
		{
			const cJSON *set;
			size_t used = 0;

			cJSON_ArrayForEach(set, cJSON_GetObjectItemCaseSensitive(it, "range_sets"))
			{
				if (!cJSON_IsString(set) || used + 1 >= sizeof s->range_sets)
					continue;
				snprintf(s->range_sets + used, sizeof s->range_sets - used, "%s%s",
				         used ? "," : "", set->valuestring);
				used = strlen(s->range_sets);
			}
		}
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "model")) &&
		    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(it, "model"))) {
			char *txt =
			    cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(it, "model"));

			if (txt)
				snprintf(s->model, sizeof s->model, "%s", txt);
			free(txt);
		}
		if (!s->id[0]) {
			snprintf(err, errlen, "%s: field 'energy_sources[%d].id' must be a string",
			         r->path, i - 1);
			return -EINVAL;
		}
	}
	if (!cJSON_IsArray(cfgs)) {
		snprintf(err, errlen, "%s: field 'configs' %s", r->path,
		         cfgs ? "must be an array" : "is missing");
		return -EINVAL;
	}
	(void)m;
	r->n_configs = cJSON_GetArraySize(cfgs);
	if (r->n_configs > 0) {
		r->configs = calloc((size_t)r->n_configs, sizeof *r->configs);
		if (!r->configs)
			return -ENOMEM;
	}
	i = 0;
	cJSON_ArrayForEach(it, cfgs)
	{
		rc = read_config(it, i, r, &r->configs[i], err, errlen);
		if (rc)
			return rc;
		i++;
	}
	{
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "engine");

		rj_str(e, "name", r->engine, sizeof r->engine);
		if (!r->model_name[0])
			rj_str(e, "model_name", r->model_name, sizeof r->model_name);
		rj_str(e, "host", r->engine_host, sizeof r->engine_host);
		r->engine_remote = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "remote"));
		/* the served model's size, when the user gave it (--model-params) */
		if (!r->n_params.ok && rj_num(e, "n_params", &v) && v > 0) {
			r->n_params.ok = true;
			r->n_params.v = v;
		} else if (!r->n_params.ok && r->engine[0] && strcmp(r->engine, "builtin")) {
			snprintf(
			    r->n_params.reason, sizeof r->n_params.reason, "%s",
			    "an external engine's model: pass --model-params N to joulebench run");
		}
	}
	return read_sweep(r, root, err, errlen);
}

static int read_kernels(struct rpt_result *r, const cJSON *root, char *err, size_t errlen)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "kernels");
	const cJSON *bw = cJSON_GetObjectItemCaseSensitive(root, "membw");
	const cJSON *it;

	if (!cJSON_IsArray(k)) {
		snprintf(err, errlen, "%s: field 'kernels' %s", r->path,
		         k ? "must be an array" : "is missing");
		return -EINVAL;
	}
	r->n_kernels = cJSON_GetArraySize(k);
	r->complete = true;
	snprintf(r->membw_gbs.reason, sizeof r->membw_gbs.reason, "membw not recorded");
	cJSON_ArrayForEach(it, bw)
	{
		if (cJSON_IsNumber(it) && (!r->membw_gbs.ok || it->valuedouble > r->membw_gbs.v)) {
			r->membw_gbs.ok = true;
			r->membw_gbs.v = it->valuedouble;
		}
	}
	return 0;
}

int rpt_result_parse(const char *text, const char *path, struct rpt_result **out, char *err,
                     size_t errlen)
{
	struct rpt_result *r = NULL;
	cJSON *root = NULL;
	const cJSON *m;
	const char *end = NULL;
	double v;
	int rc = 0;

	*out = NULL;
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		int line, col;

		end = cJSON_GetErrorPtr();
		position_of(text, end ? end : text, &line, &col);
		snprintf(err, errlen, "%s:%d:%d: not valid JSON", path, line, col);
		rc = -EINVAL;
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: a result file must hold a JSON object", path);
		rc = -EINVAL;
		goto out;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	snprintf(r->path, sizeof r->path, "%s", path);
	r->json = root;
	root = NULL;
	if (!rj_num(r->json, "schema_version", &v) || v != (int)v) {
		snprintf(err, errlen, "%s: field 'schema_version' %s", path,
		         cJSON_GetObjectItemCaseSensitive(r->json, "schema_version")
		             ? "must be an integer"
		             : "is missing (not a joulebench result?)");
		rc = -EINVAL;
		goto out;
	}
	r->schema_version = (int)v;
	if (r->schema_version != RPT_SCHEMA_VERSION) {
		snprintf(
		    err, errlen,
		    "%s: schema_version %d is not supported (this joulebench reads version %d%s)",
		    path, r->schema_version, RPT_SCHEMA_VERSION,
		    r->schema_version > RPT_SCHEMA_VERSION ? "; upgrade joulebench" : "");
		rc = -EINVAL;
		goto out;
	}
	rj_str(r->json, "kind", r->kind, sizeof r->kind);
	if (strcmp(r->kind, "run") && strcmp(r->kind, "kernels")) {
		snprintf(err, errlen,
		         "%s: field 'kind' must be \"run\" or \"kernels\" (got %s%s%s)", path,
		         r->kind[0] ? "\"" : "", r->kind[0] ? r->kind : "nothing",
		         r->kind[0] ? "\"" : "");
		rc = -EINVAL;
		goto out;
	}
	if ((rc = need_object(r->json, "machine", path, err, errlen)))
		goto out;
	rj_str(r->json, "created_utc", r->created_utc, sizeof r->created_utc);
	m = cJSON_GetObjectItemCaseSensitive(r->json, "joulebench");
	rj_str(m, "version", r->jb_version, sizeof r->jb_version);
	rj_str(m, "commit", r->jb_commit, sizeof r->jb_commit);
	rj_str(m, "simd", r->jb_simd, sizeof r->jb_simd);
	m = cJSON_GetObjectItemCaseSensitive(r->json, "machine");
	rj_str(m, "hostname", r->hostname, sizeof r->hostname);
	rj_str(m, "cpu_model", r->cpu_model, sizeof r->cpu_model);
	rj_str(m, "os", r->os, sizeof r->os);
	rj_str(m, "kernel", r->kernel, sizeof r->kernel);
	rj_str(m, "virtualized", r->virtualized, sizeof r->virtualized);
	if (rj_num(m, "cores", &v))
		r->cores = (int)v;
	if (rj_num(m, "threads", &v))
		r->threads = (int)v;
	rj_rnum(m, "mem_bytes", &r->mem_bytes);
	rj_rnum(m, "freq_max_mhz", &r->freq_max_mhz);
	if (!strcmp(r->kind, "run"))
		rc = read_run(r, r->json, err, errlen);
	else
		rc = read_kernels(r, r->json, err, errlen);
out:
	if (rc) {
		rpt_result_free(r);
		r = NULL;
	}
	cJSON_Delete(root);
	*out = r;
	return rc;
}


int rpt_result_load(const char *path, struct rpt_result **out, char *err, size_t errlen)
{
	char *text = rj_slurp(path, NULL);
	int rc;

	*out = NULL;
	if (!text) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return rc;
	}
	rc = rpt_result_parse(text, path, out, err, errlen);
	free(text);
	return rc;
}

void rpt_result_free(struct rpt_result *r)
{
	if (!r)
		return;
	cJSON_Delete(r->json);
	free(r->sources);
	free(r->configs);
	free(r);
}

const struct rpt_config *rpt_headline_config(const struct rpt_result *r)
{
	const struct rpt_config *best = NULL;

	for (int i = 0; i < r->n_configs; i++) {
		const struct rpt_config *c = &r->configs[i];

		if (!best ||
		    (c->decode_tok_s.ok && (!best->decode_tok_s.ok ||
		                            c->decode_tok_s.median > best->decode_tok_s.median)))
			best = c;
	}
	return best;
}

const struct rpt_source *rpt_find_source(const struct rpt_result *r, const char *id)
{
	for (int i = 0; i < r->n_sources; i++)
		if (!strcmp(r->sources[i].id, id))
			return &r->sources[i];
	return NULL;
}
