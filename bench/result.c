/*
 * bench/result.c — a struct bench_run as result.json (reports/SCHEMA.md, kind "run"), as
 * summary.csv, and as the short table printed after a run. One record, three printers: the
 * summary numbers come from bench_config_summarize() for all of them.
 */
#include "bench/engine_http.h"
#include "bench/runner.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA_VERSION 1

/* ---- JSON helpers ----------------------------------------------------------------------------- */

static void add_null(cJSON *o, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_null(cJSON *o, const char *key, const char *fmt, ...)
{
	char k[128], reason[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	cJSON_AddNullToObject(o, key);
	snprintf(k, sizeof k, "%s_reason", key);
	cJSON_AddStringToObject(o, k, reason);
}

static cJSON *obj(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_CreateObject();

	if (key)
		cJSON_AddItemToObject(parent, key, o);
	else
		cJSON_AddItemToArray(parent, o);
	return o;
}

static cJSON *arr(cJSON *parent, const char *key)
{
	cJSON *a = cJSON_CreateArray();

	cJSON_AddItemToObject(parent, key, a);
	return a;
}

static void add_str_or_null(cJSON *o, const char *key, const char *v, const char *reason)
{
	if (v && v[0])
		cJSON_AddStringToObject(o, key, v);
	else
		add_null(o, key, "%s", reason && reason[0] ? reason : "unknown");
}

static void add_stat(cJSON *o, const char *key, const struct rpt_summary *s, const char *reason)
{
	cJSON *j;

	if (s->n < 1) {
		add_null(o, key, "%s", reason && reason[0] ? reason : "no complete repetition");
		return;
	}
	j = obj(o, key);
	cJSON_AddNumberToObject(j, "n", s->n);
	cJSON_AddNumberToObject(j, "median", s->median);
	cJSON_AddNumberToObject(j, "mean", s->mean);
	cJSON_AddNumberToObject(j, "sd", s->sd);
	cJSON_AddNumberToObject(j, "ci95_low", s->ci_low);
	cJSON_AddNumberToObject(j, "ci95_high", s->ci_high);
	cJSON_AddNumberToObject(j, "min", s->min);
	cJSON_AddNumberToObject(j, "max", s->max);
}

static const char *kind_name(enum pwr_kind k)
{
	return k == PWR_ESTIMATED ? "estimated" : "measured";
}

/* ---- sections ---------------------------------------------------------------------------------- */

static void add_build(cJSON *root, const struct bench_run *r)
{
	cJSON *j = obj(root, "joulebench");
	const char *why = "not recorded: the run was started through the library, not the joulebench binary";

	if (r->build) {
		cJSON_AddStringToObject(j, "version", r->build->version);
		cJSON_AddStringToObject(j, "commit", r->build->commit);
		cJSON_AddStringToObject(j, "compiler", r->build->compiler);
		cJSON_AddStringToObject(j, "cflags", r->build->cflags);
		cJSON_AddBoolToObject(j, "papi", r->build->papi);
		cJSON_AddBoolToObject(j, "libpfm4", r->build->libpfm4);
	} else {
		add_null(j, "version", "%s", why);
		add_null(j, "commit", "%s", why);
		add_null(j, "compiler", "%s", why);
		add_null(j, "cflags", "%s", why);
		add_null(j, "papi", "%s", why);
		add_null(j, "libpfm4", "%s", why);
	}
	cJSON_AddStringToObject(j, "simd", eng_simd_name());
	cJSON_AddStringToObject(j, "isa", eng_isa_name());
}

static void add_model_facts(cJSON *m, const struct eng_model_desc *d, const char *sha,
			    const char *sha_reason)
{
	cJSON_AddStringToObject(m, "type", eng_type_name(d->wtype) ? eng_type_name(d->wtype) : "?");
	cJSON_AddNumberToObject(m, "weight_bytes", (double)d->weight_bytes);
	cJSON_AddNumberToObject(m, "decode_bytes_per_token", (double)d->decode_bytes_per_token);
	cJSON_AddNumberToObject(m, "relaid_bytes", (double)d->relaid_bytes);
	cJSON_AddNumberToObject(m, "hugepage_bytes", (double)d->hugepage_bytes);
	add_str_or_null(m, "sha256", sha, sha_reason);
}

static void add_model(cJSON *root, const struct bench_run *r)
{
	const struct eng_model_desc *d = &r->model;
	const struct eng_config *c = &r->mcfg;
	cJSON *m;

	if (!r->model_valid) {
		add_null(root, "model", "%s", r->model_reason[0] ? r->model_reason : "the model was not opened");
		return;
	}
	m = obj(root, "model");
	cJSON_AddStringToObject(m, "spec", r->model_spec);
	add_str_or_null(m, "path", d->path, "in-memory synthetic model (no file)");
	cJSON_AddStringToObject(m, "arch", d->arch);
	cJSON_AddStringToObject(m, "name", d->name);
	cJSON_AddStringToObject(m, "shape", d->shape);
	cJSON_AddBoolToObject(m, "synthetic", d->synthetic);
	cJSON_AddNumberToObject(m, "n_params", (double)d->n_params);
	if (d->file_bytes)
		cJSON_AddNumberToObject(m, "file_bytes", (double)d->file_bytes);
	else
		add_null(m, "file_bytes", "%s", "in-memory synthetic model (no file)");
	add_model_facts(m, d, r->sha256, r->sha_reason);
	cJSON_AddNumberToObject(m, "dim", c->dim);
	cJSON_AddNumberToObject(m, "hidden_dim", c->hidden_dim);
	cJSON_AddNumberToObject(m, "n_layers", c->n_layers);
	cJSON_AddNumberToObject(m, "n_heads", c->n_heads);
	cJSON_AddNumberToObject(m, "n_kv_heads", c->n_kv_heads);
	cJSON_AddNumberToObject(m, "vocab_size", c->vocab_size);
	cJSON_AddNumberToObject(m, "seq_len", c->seq_len);
}

static void add_sources(cJSON *root, const struct bench_run *r)
{
	cJSON *a = arr(root, "energy_sources"), *u;

	for (int i = 0; i < r->n_domains; i++) {
		const struct pwr_domain_desc *d = &r->domains[i];
		cJSON *s = obj(a, NULL);

		cJSON_AddStringToObject(s, "id", d->id);
		cJSON_AddStringToObject(s, "backend", d->backend);
		cJSON_AddStringToObject(s, "domain", d->domain);
		cJSON_AddStringToObject(s, "covers", d->covers);
		cJSON_AddStringToObject(s, "kind", kind_name(d->kind));
		if (d->kind == PWR_ESTIMATED)
			cJSON_AddStringToObject(s, "model", d->model);
		else
			add_null(s, "model", "%s", "measured, not estimated");
		if (d->range_j > 0)
			cJSON_AddNumberToObject(s, "range_j", d->range_j);
		else
			add_null(s, "range_j", "%s", "not a wrapping counter");
		if (d->range_sets[0]) {
			cJSON *rs = arr(s, "range_sets");
			char buf[sizeof d->range_sets], *save = NULL;

			snprintf(buf, sizeof buf, "%s", d->range_sets);
			for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
				cJSON_AddItemToArray(rs, cJSON_CreateString(t));
		} else {
			add_null(s, "range_sets", "%s",
				 d->kind == PWR_ESTIMATED ? "this estimate has no range" : "measured, not estimated");
		}
		if (r->samples && r->samples[i].update.known) {
			cJSON_AddNumberToObject(s, "update_period_s", r->samples[i].update.period_s);
			cJSON_AddNumberToObject(s, "update_changes", r->samples[i].update.n_changes);
		} else {
			add_null(s, "update_period_s", "%s",
				 r->samples ? r->samples[i].update.reason : "no samples were kept");
		}
	}
	u = arr(root, "energy_unavailable");
	for (int i = 0; i < r->n_unavail; i++) {
		cJSON *x = obj(u, NULL);

		cJSON_AddStringToObject(x, "what", r->unavail[i].what);
		cJSON_AddStringToObject(x, "reason", r->unavail[i].reason);
	}
	if (r->primary >= 0)
		cJSON_AddStringToObject(root, "primary_source", r->domains[r->primary].id);
	else
		add_null(root, "primary_source", "%s", r->primary_reason);
}

static void add_idle_one(cJSON *idle, const char *key, const struct bench_run *r,
			 const struct bench_idle *id)
{
	cJSON *o, *p;

	if (!id->measured) {
		add_null(idle, key, "%s", id->reason[0] ? id->reason : "not measured");
		return;
	}
	o = obj(idle, key);
	cJSON_AddNumberToObject(o, "duration_s", id->duration_s);
	p = obj(o, "power_w");
	for (int d = 0; d < r->n_domains; d++)
		if (id->power_valid && id->power_valid[d])
			cJSON_AddNumberToObject(p, r->domains[d].id, id->power_w[d]);
		else
			cJSON_AddNullToObject(p, r->domains[d].id);
	cJSON_AddNumberToObject(o, "t_start_ns", (double)id->t_start_ns);
	cJSON_AddNumberToObject(o, "t_end_ns", (double)id->t_end_ns);
}

static void add_idle(cJSON *root, const struct bench_run *r)
{
	const struct bench_idle *b = &r->idle_before, *a = &r->idle_after;
	cJSON *idle = obj(root, "idle"), *p;
	int pr = r->primary;

	add_idle_one(idle, "before", r, b);
	add_idle_one(idle, "after", r, a);
	p = obj(idle, "power_w");
	for (int d = 0; d < r->n_domains; d++) {
		bool hb = b->measured && b->power_valid && b->power_valid[d];
		bool ha = a->measured && a->power_valid && a->power_valid[d];

		if (hb && ha)
			cJSON_AddNumberToObject(p, r->domains[d].id, (b->power_w[d] + a->power_w[d]) / 2);
		else if (hb || ha)
			cJSON_AddNumberToObject(p, r->domains[d].id, hb ? b->power_w[d] : a->power_w[d]);
		else
			cJSON_AddNullToObject(p, r->domains[d].id);
	}
	if (pr >= 0 && b->measured && a->measured && b->power_valid && a->power_valid &&
	    b->power_valid[pr] && a->power_valid[pr] && b->power_w[pr] != 0)
		cJSON_AddNumberToObject(idle, "drift_pct",
					(a->power_w[pr] - b->power_w[pr]) / b->power_w[pr] * 100.0);
	else
		add_null(idle, "drift_pct", "%s",
			 pr < 0 ? "no primary energy source"
				: "needs idle power both before and after the workload");
}

static void add_counters(cJSON *o, const char *key, const struct pwr_counter_read *c)
{
	cJSON *j = obj(o, key);

	for (int i = 0; i < c->n; i++)
		if (c->v[i].valid)
			cJSON_AddNumberToObject(j, c->v[i].name, c->v[i].value);
		else
			cJSON_AddNullToObject(j, c->v[i].name);
}

static void add_rep(cJSON *a, const struct bench_run *r, const struct bench_config_run *c,
		    const struct bench_rep *p)
{
	cJSON *j = obj(a, NULL), *e, *itl;
	double pt = (double)p->prefill_ns / 1e9, dt = (double)p->decode_ns / 1e9;

	cJSON_AddNumberToObject(j, "index", p->index);
	cJSON_AddBoolToObject(j, "complete", p->complete);
	cJSON_AddNumberToObject(j, "load_ns", (double)c->load_ns);
	cJSON_AddNumberToObject(j, "prompt_tokens", p->prompt_tokens);
	cJSON_AddNumberToObject(j, "gen_tokens", p->gen_tokens);
	cJSON_AddNumberToObject(j, "ttft_ns", (double)p->ttft_ns);
	cJSON_AddNumberToObject(j, "prefill_ns", (double)p->prefill_ns);
	cJSON_AddNumberToObject(j, "decode_ns", (double)p->decode_ns);
	if (pt > 0)
		cJSON_AddNumberToObject(j, "prefill_tok_s", p->prompt_tokens / pt);
	else
		add_null(j, "prefill_tok_s", "%s", "prefill did not run");
	if (dt > 0 && p->gen_tokens > 1)
		cJSON_AddNumberToObject(j, "decode_tok_s", (p->gen_tokens - 1) / dt);
	else
		add_null(j, "decode_tok_s", "%s", "no decode step ran");
	itl = arr(j, "itl_ns");
	for (int i = 0; i < p->n_itl; i++)
		cJSON_AddItemToArray(itl, cJSON_CreateNumber((double)p->itl_ns[i]));
	cJSON_AddNumberToObject(j, "t_start_ns", (double)p->t_start_ns);
	cJSON_AddNumberToObject(j, "t_prefill_end_ns", (double)p->t_prefill_end_ns);
	cJSON_AddNumberToObject(j, "t_decode_start_ns", (double)p->t_decode_start_ns);
	cJSON_AddNumberToObject(j, "t_end_ns", (double)p->t_end_ns);
	e = obj(j, "energy");
	for (int d = 0; d < r->n_domains; d++) {
		const struct bench_rep_energy *x = p->energy ? &p->energy[d] : NULL;
		cJSON *o = obj(e, r->domains[d].id);
		const char *pwhy = x && x->prefill_reason[0] ? x->prefill_reason : "energy not computed";
		const char *dwhy = x && x->decode_reason[0] ? x->decode_reason : "energy not computed";

		if (x && x->prefill_valid) {
			cJSON_AddNumberToObject(o, "prefill_j", x->prefill_j);
			cJSON_AddNumberToObject(o, "prefill_avg_w", x->prefill_avg_w);
		} else {
			add_null(o, "prefill_j", "%s", pwhy);
			add_null(o, "prefill_avg_w", "%s", pwhy);
		}
		if (x && x->decode_valid) {
			cJSON_AddNumberToObject(o, "decode_j", x->decode_j);
			cJSON_AddNumberToObject(o, "decode_avg_w", x->decode_avg_w);
		} else {
			add_null(o, "decode_j", "%s", dwhy);
			add_null(o, "decode_avg_w", "%s", dwhy);
		}
		cJSON_AddBoolToObject(o, "wrap_suspect", x && x->wrap_suspect);
		cJSON_AddStringToObject(o, "kind", kind_name(r->domains[d].kind));
	}
	if (p->counters_valid) {
		cJSON *k = obj(j, "counters");

		add_counters(k, "prefill", &p->c_prefill);
		add_counters(k, "decode", &p->c_decode);
		cJSON_AddBoolToObject(k, "multiplexed", p->multiplexed);
	} else {
		add_null(j, "counters", "%s", p->counters_reason[0] ? p->counters_reason : "not measured");
	}
}

/* The energy figures of every source, not only the primary one (package and dram, say, are
 * different things and are never added up). */
static void add_by_source(cJSON *j, const struct bench_run *r, int ci)
{
	cJSON *all = obj(j, "by_source");

	for (int d = 0; d < r->n_domains; d++) {
		struct bench_config_summary s;
		cJSON *o = obj(all, r->domains[d].id), *x;
		const char *ereason, *nreason;

		bench_config_summarize_source(r, ci, d, &s);
		ereason = s.energy_reason;
		nreason = !s.energy_valid ? s.energy_reason : s.net_reason;
		cJSON_AddStringToObject(o, "energy_kind", kind_name(r->domains[d].kind));
		x = obj(o, "prefill_j_per_token");
		add_stat(x, "gross", &s.prefill_jpt_gross, ereason);
		add_stat(x, "net", &s.prefill_jpt_net, nreason);
		x = obj(o, "decode_j_per_token");
		add_stat(x, "gross", &s.decode_jpt_gross, ereason);
		add_stat(x, "net", &s.decode_jpt_net, nreason);
		add_stat(o, "avg_power_w", &s.avg_power_w, ereason);
		add_stat(o, "wh_per_query", &s.wh_per_query, nreason);
	}
}

static void add_summary(cJSON *o, const struct bench_run *r, int ci)
{
	struct bench_config_summary s;
	cJSON *j = obj(o, "summary"), *x;
	const char *ereason, *nreason;

	bench_config_summarize(r, ci, &s);
	ereason = s.energy_reason;
	nreason = !s.energy_valid ? s.energy_reason : s.net_reason;
	cJSON_AddNumberToObject(j, "n", s.n);
	add_stat(j, "prefill_tok_s", &s.prefill_tok_s, NULL);
	add_stat(j, "decode_tok_s", &s.decode_tok_s, NULL);
	add_stat(j, "ttft_ms", &s.ttft_ms, NULL);
	if (s.itl_valid) {
		x = obj(j, "itl_ms");
		cJSON_AddNumberToObject(x, "p50", s.itl_p50_ms);
		cJSON_AddNumberToObject(x, "p90", s.itl_p90_ms);
		cJSON_AddNumberToObject(x, "p99", s.itl_p99_ms);
	} else {
		add_null(j, "itl_ms", "%s", "no inter-token latency recorded");
	}
	if (s.source >= 0) {
		cJSON_AddStringToObject(j, "energy_source", r->domains[s.source].id);
		cJSON_AddStringToObject(j, "energy_kind", kind_name(r->domains[s.source].kind));
	} else {
		add_null(j, "energy_source", "%s", ereason);
		add_null(j, "energy_kind", "%s", ereason);
	}
	x = obj(j, "prefill_j_per_token");
	add_stat(x, "gross", &s.prefill_jpt_gross, ereason);
	add_stat(x, "net", &s.prefill_jpt_net, nreason);
	x = obj(j, "decode_j_per_token");
	add_stat(x, "gross", &s.decode_jpt_gross, ereason);
	add_stat(x, "net", &s.decode_jpt_net, nreason);
	add_stat(j, "tokens_per_j", &s.tokens_per_j,
		 s.energy_valid && s.net_valid
			 ? "net decode energy was not positive: idle power at least the run's power"
			 : nreason);
	add_stat(j, "prefill_tokens_per_j", &s.prefill_tokens_per_j,
		 s.energy_valid && s.net_valid
			 ? "net prefill energy was not positive: idle power at least the run's power"
			 : nreason);
	add_stat(j, "avg_power_w", &s.avg_power_w, ereason);
	add_stat(j, "wh_per_query", &s.wh_per_query, nreason);
	if (s.n >= 2)
		cJSON_AddNumberToObject(j, "rsd_decode_pct", s.rsd_decode_pct);
	else
		add_null(j, "rsd_decode_pct", "%s", "needs at least 2 complete repetitions");
	if (r->w->stop_rule)
		cJSON_AddBoolToObject(j, "stop_rule_met", r->configs[ci].stop_rule_met);
	else
		add_null(j, "stop_rule_met", "%s", "no stop rule in this workload");
	add_by_source(j, r, ci);
}

static void add_configs(cJSON *root, const struct bench_run *r)
{
	cJSON *a = arr(root, "configs");

	for (int ci = 0; ci < r->n_configs; ci++) {
		const struct bench_config_run *c = &r->configs[ci];
		cJSON *j = obj(a, NULL), *reps, *m;

		cJSON_AddNumberToObject(j, "threads", c->threads);
		if (c->type >= 0)
			cJSON_AddStringToObject(j, "type", eng_synth_type_name(c->type));
		else
			add_null(j, "type", "%s", "the model was not opened");
		cJSON_AddNumberToObject(j, "prompt_tokens", c->prompt_tokens);
		cJSON_AddNumberToObject(j, "gen_tokens", r->w->gen_tokens);
		cJSON_AddBoolToObject(j, "oversubscribed", c->oversubscribed);
		cJSON_AddBoolToObject(j, "started", c->started);
		add_str_or_null(j, "error", c->error, "no error");
		if (c->model_valid) {
			m = obj(j, "model");
			cJSON_AddStringToObject(m, "spec", c->spec);
			add_model_facts(m, &c->model, c->sha256, c->sha_reason);
			cJSON_AddStringToObject(j, "model_type", eng_type_name(c->model.wtype));
		} else {
			add_null(j, "model", "%s", c->started ? "the model could not be opened" : "not reached");
			add_null(j, "model_type", "%s", c->started ? "the model could not be opened" : "not reached");
		}
		reps = arr(j, "reps");
		for (int i = 0; i < c->n_reps; i++)
			add_rep(reps, r, c, &c->reps[i]);
		add_summary(j, r, ci);
	}
}

static void add_samples(cJSON *root, const struct bench_run *r)
{
	cJSON *s = obj(root, "samples");

	for (int d = 0; d < r->n_domains; d++) {
		cJSON *o = obj(s, r->domains[d].id), *t, *e;
		const struct bench_domain_samples *x = r->samples ? &r->samples[d] : NULL;

		t = arr(o, "t_ns");
		e = arr(o, "energy_j");
		for (size_t i = 0; x && i < x->n; i++) {
			cJSON_AddItemToArray(t, cJSON_CreateNumber((double)x->t_ns[i]));
			cJSON_AddItemToArray(e, cJSON_CreateNumber(x->energy_j[i]));
		}
	}
}

static void add_phases(cJSON *root, const struct bench_run *r)
{
	cJSON *a = arr(root, "phases");

	for (int i = 0; i < r->n_phases; i++) {
		const struct bench_phase *p = &r->phases[i];
		cJSON *j = obj(a, NULL);

		if (p->rep >= 0)
			cJSON_AddNumberToObject(j, "rep", p->rep);
		else
			cJSON_AddNullToObject(j, "rep");
		if (p->config >= 0)
			cJSON_AddNumberToObject(j, "config", p->config);
		else
			cJSON_AddNullToObject(j, "config");
		cJSON_AddStringToObject(j, "phase", p->phase);
		cJSON_AddNumberToObject(j, "t_start_ns", (double)p->t_start_ns);
		cJSON_AddNumberToObject(j, "t_end_ns", (double)p->t_end_ns);
	}
}

cJSON *bench_result_json(const struct bench_run *r)
{
	cJSON *root = cJSON_CreateObject(), *x;

	if (!root)
		return NULL;
	cJSON_AddNumberToObject(root, "schema_version", SCHEMA_VERSION);
	cJSON_AddStringToObject(root, "kind", "run");
	cJSON_AddBoolToObject(root, "complete", r->complete);
	if (r->complete)
		cJSON_AddNullToObject(root, "incomplete_reason");
	else
		cJSON_AddStringToObject(root, "incomplete_reason", r->incomplete_reason);
	cJSON_AddStringToObject(root, "created_utc", r->created_utc);
	add_build(root, r);
	if (r->machine)
		cJSON_AddItemToObject(root, "machine", cJSON_Duplicate(r->machine, true));
	else
		add_null(root, "machine", "%s", "out of memory");
	x = bench_workload_json(r->w);
	cJSON_AddItemToObject(root, "workload", x);
	add_model(root, r);
	add_sources(root, r);
	add_idle(root, r);
	add_configs(root, r);
	bench_http_json(root, r);
	add_samples(root, r);
	add_phases(root, r);
	if (r->counters_source[0])
		cJSON_AddStringToObject(root, "counters_source", r->counters_source);
	else
		add_null(root, "counters_source", "%s", r->counters_reason);
	x = obj(root, "sampler");
	cJSON_AddNumberToObject(x, "interval_ms", r->interval_ms);
	cJSON_AddNumberToObject(x, "samples", (double)r->sampler_count);
	if (r->sampler_count > 0)
		cJSON_AddNumberToObject(x, "cpu_ns_per_sample", r->sampler_cpu_ns);
	else
		add_null(x, "cpu_ns_per_sample", "%s", "no sample was taken");
	return root;
}

/* ---- CSV ------------------------------------------------------------------------------------------ */

void bench_csv_num(FILE *f, bool valid, double v)
{
	if (valid && isfinite(v))
		fprintf(f, ",%.6g", v);
	else
		fputs(",", f);
}

static void csv_str(FILE *f, const char *s)
{
	fputc(',', f);
	if (strpbrk(s, ",\"\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
}

/* The domains that bound an estimated source's range ("vm:process" -> "vm:process-low" and
 * "vm:process-high"), or -1. */
static void range_domains(const struct bench_run *r, int src, int *lo, int *hi)
{
	char want[128];

	*lo = *hi = -1;
	if (src < 0 || r->domains[src].kind != PWR_ESTIMATED)
		return;
	for (int d = 0; d < r->n_domains; d++) {
		snprintf(want, sizeof want, "%s-low", r->domains[src].id);
		if (!strcmp(r->domains[d].id, want))
			*lo = d;
		snprintf(want, sizeof want, "%s-high", r->domains[src].id);
		if (!strcmp(r->domains[d].id, want))
			*hi = d;
	}
}

void bench_summary_csv(const struct bench_run *r, FILE *f)
{
	if (r->http) {
		bench_http_csv(r, f);
		return;
	}
	fputs("config,threads,type,prompt_tokens,gen_tokens,reps,prefill_tok_s,decode_tok_s,"
	      "decode_tok_s_ci95_low,decode_tok_s_ci95_high,ttft_ms,itl_p50_ms,itl_p90_ms,itl_p99_ms,"
	      "energy_source,energy_kind,prefill_j_per_token_gross,prefill_j_per_token_net,"
	      "decode_j_per_token_gross,decode_j_per_token_net,decode_j_per_token_net_ci95_low,"
	      "decode_j_per_token_net_ci95_high,tokens_per_j,avg_power_w,wh_per_query,rsd_decode_pct,"
	      "complete,energy_reason,net_reason,estimate_decode_j_per_token_net_low,"
	      "estimate_decode_j_per_token_net_high,estimate_range_sets\n",
	      f);
	for (int ci = 0; ci < r->n_configs; ci++) {
		const struct bench_config_run *c = &r->configs[ci];
		struct bench_config_summary s;
		bool complete = c->started && !c->error[0];

		bench_config_summarize(r, ci, &s);
		for (int i = 0; i < c->n_reps; i++)
			complete &= c->reps[i].complete;
		fprintf(f, "%d,%d,%s,%d,%d,%d", ci, c->threads,
			c->type >= 0 ? eng_synth_type_name(c->type) : "", c->prompt_tokens, r->w->gen_tokens, s.n);
		bench_csv_num(f, s.n > 0, s.prefill_tok_s.median);
		bench_csv_num(f, s.n > 0, s.decode_tok_s.median);
		bench_csv_num(f, s.n > 0, s.decode_tok_s.ci_low);
		bench_csv_num(f, s.n > 0, s.decode_tok_s.ci_high);
		bench_csv_num(f, s.n > 0, s.ttft_ms.median);
		bench_csv_num(f, s.itl_valid, s.itl_p50_ms);
		bench_csv_num(f, s.itl_valid, s.itl_p90_ms);
		bench_csv_num(f, s.itl_valid, s.itl_p99_ms);
		csv_str(f, s.source >= 0 ? r->domains[s.source].id : "");
		csv_str(f, s.source >= 0 ? kind_name(r->domains[s.source].kind) : "");
		bench_csv_num(f, s.prefill_jpt_gross.n > 0, s.prefill_jpt_gross.median);
		bench_csv_num(f, s.prefill_jpt_net.n > 0, s.prefill_jpt_net.median);
		bench_csv_num(f, s.decode_jpt_gross.n > 0, s.decode_jpt_gross.median);
		bench_csv_num(f, s.decode_jpt_net.n > 0, s.decode_jpt_net.median);
		bench_csv_num(f, s.decode_jpt_net.n > 0, s.decode_jpt_net.ci_low);
		bench_csv_num(f, s.decode_jpt_net.n > 0, s.decode_jpt_net.ci_high);
		bench_csv_num(f, s.tokens_per_j.n > 0, s.tokens_per_j.median);
		bench_csv_num(f, s.avg_power_w.n > 0, s.avg_power_w.median);
		bench_csv_num(f, s.wh_per_query.n > 0, s.wh_per_query.median);
		bench_csv_num(f, s.n >= 2, s.rsd_decode_pct);
		fprintf(f, ",%s", complete && r->complete ? "true" : "false");
		/* An empty energy cell is never "zero": these say why it is empty. */
		csv_str(f, s.energy_valid ? "" : s.energy_reason);
		csv_str(f, !s.energy_valid || s.net_valid ? "" : s.net_reason);
		/* an estimate's range: the same figure at the model's low and high coefficients */
		{
			struct bench_config_summary lo, hi;
			int dl, dh;
			bool ok = false;

			range_domains(r, s.source, &dl, &dh);
			if (dl >= 0 && dh >= 0) {
				bench_config_summarize_source(r, ci, dl, &lo);
				bench_config_summarize_source(r, ci, dh, &hi);
				ok = lo.decode_jpt_net.n > 0 && hi.decode_jpt_net.n > 0;
			}
			bench_csv_num(f, ok, ok ? lo.decode_jpt_net.median : 0);
			bench_csv_num(f, ok, ok ? hi.decode_jpt_net.median : 0);
			/* the coefficient sets the range spans, ';'-separated in one cell */
			{
				char sets[128];

				snprintf(sets, sizeof sets, "%s", ok ? r->domains[s.source].range_sets : "");
				for (char *p = sets; *p; p++)
					if (*p == ',')
						*p = ';';
				csv_str(f, sets);
			}
		}
		fputc('\n', f);
	}
}

/* ---- terminal table --------------------------------------------------------------------------- */

static void cell(char *buf, size_t len, bool valid, const char *fmt, double v)
{
	if (valid && isfinite(v))
		snprintf(buf, len, fmt, v);
	else
		snprintf(buf, len, "%s", "n/a");
}

/* Under an estimated figure: its range (from the bound domains) and the model it comes from. */
static void print_estimate_note(const struct bench_run *r, int ci, const struct bench_config_summary *s,
				bool with_model, FILE *f)
{
	struct bench_config_summary lo, hi;
	int dl, dh;

	range_domains(r, s->source, &dl, &dh);
	if (dl >= 0 && dh >= 0) {
		bench_config_summarize_source(r, ci, dl, &lo);
		bench_config_summarize_source(r, ci, dh, &hi);
	}
	if (dl >= 0 && dh >= 0 && s->decode_jpt_net.n > 0 && lo.decode_jpt_net.n > 0 && hi.decode_jpt_net.n > 0) {
		char a[32], b[32];

		/* sets that differ only in terms the net figure subtracts (CCF's low and high for
		 * first-generation EPYC differ in memory watts alone) give no spread: say so rather
		 * than print a range of one number */
		snprintf(a, sizeof a, "%.4g", lo.decode_jpt_net.median);
		snprintf(b, sizeof b, "%.4g", hi.decode_jpt_net.median);
		if (!strcmp(a, b))
			fprintf(f, "  ESTIMATED J/token (net) %.4g, no spread: the low and high coefficients (%s) give "
				   "the same net figure here\n",
				s->decode_jpt_net.median,
				r->domains[s->source].range_sets[0] ? r->domains[s->source].range_sets : "of the model");
		else
			fprintf(f, "  ESTIMATED J/token (net) %.4g, range %s-%s (low/high coefficients%s%s)\n",
				s->decode_jpt_net.median, a, b, r->domains[s->source].range_sets[0] ? ": " : "",
				r->domains[s->source].range_sets);
	} else if (s->decode_jpt_net.n > 0)
		fprintf(f, "  ESTIMATED J/token (net) %.4g (this model gives no range)\n", s->decode_jpt_net.median);
	if (with_model)
		fprintf(f, "  model: %s\n", r->domains[s->source].model);
}

void bench_print_table(const struct bench_run *r, FILE *f)
{
	bool any_reason = false, any_estimate = false;

	if (r->http) {
		bench_http_table(r, f);
		return;
	}

	fprintf(f, "%-26s %9s %9s %9s %15s  %-24s %10s\n", "config", "pp tok/s", "tg tok/s", "TTFT ms",
		"J/token (net)", "energy source", "Wh/query");
	for (int ci = 0; ci < r->n_configs; ci++) {
		const struct bench_config_run *c = &r->configs[ci];
		struct bench_config_summary s;
		char name[64], pp[24], tg[24], tt[24], jt[32], wh[24], src[128];

		bench_config_summarize(r, ci, &s);
		snprintf(name, sizeof name, "%s t%d pp%d tg%d", c->type >= 0 ? eng_synth_type_name(c->type) : "?",
			 c->threads, c->prompt_tokens, r->w->gen_tokens);
		cell(pp, sizeof pp, s.n > 0, "%.1f", s.prefill_tok_s.median);
		cell(tg, sizeof tg, s.n > 0, "%.2f", s.decode_tok_s.median);
		cell(tt, sizeof tt, s.n > 0, "%.1f", s.ttft_ms.median);
		cell(jt, sizeof jt, s.decode_jpt_net.n > 0, "%.4g", s.decode_jpt_net.median);
		cell(wh, sizeof wh, s.wh_per_query.n > 0, "%.3g", s.wh_per_query.median);
		if (s.source < 0)
			snprintf(src, sizeof src, "%s", "none");
		else if (r->domains[s.source].kind == PWR_ESTIMATED)
			snprintf(src, sizeof src, "ESTIMATED (%.60s)", r->domains[s.source].id);
		else
			snprintf(src, sizeof src, "%.100s", r->domains[s.source].id);
		fprintf(f, "%-26s %9s %9s %9s %15s  %-24s %10s\n", name, pp, tg, tt, jt, src, wh);
		if (c->error[0])
			fprintf(f, "  failed: %s\n", c->error);
		else if (s.n > 0 && !s.energy_valid && s.energy_reason[0] && !any_reason)
			fprintf(f, "  no energy: %s\n", s.energy_reason), any_reason = true;
		else if (s.energy_valid && !s.net_valid && !any_reason)
			fprintf(f, "  no net figures: %s\n", s.net_reason), any_reason = true;
		if (s.source >= 0 && r->domains[s.source].kind == PWR_ESTIMATED && s.energy_valid) {
			print_estimate_note(r, ci, &s, !any_estimate, f);
			any_estimate = true;
		}
	}
	fprintf(f, "J/token (net) is decode energy per generated token minus idle power; pp = prompt "
		   "(prefill), tg = generated tokens.\n");
	{
		const struct bench_idle *b = &r->idle_before, *a = &r->idle_after;
		int p = r->primary;

		if (p >= 0 && b->measured && a->measured && b->power_valid && a->power_valid &&
		    b->power_valid[p] && a->power_valid[p] && b->power_w[p] > 0) {
			double drift = (a->power_w[p] - b->power_w[p]) / b->power_w[p] * 100.0;

			fprintf(f, "Idle power %.2f W before, %.2f W after (%+.1f%%)%s\n", b->power_w[p],
				a->power_w[p], drift,
				fabs(drift) > 10 ? ": the machine was not equally quiet; net figures are "
						   "less certain"
						 : "");
		}
	}
	if (!r->complete)
		fprintf(f, "INCOMPLETE: %s\n", r->incomplete_reason);
}

/* ---- files ------------------------------------------------------------------------------------- */

static int mkdir_p(const char *dir, char *err, size_t errlen)
{
	char p[PATH_MAX];
	size_t n;

	if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	n = strlen(p);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] == '/' || p[i] == '\0') {
			char c = p[i];

			p[i] = '\0';
			if (mkdir(p, 0777) < 0 && errno != EEXIST) {
				int e = errno;

				snprintf(err, errlen, "%s: cannot create directory: %s", p, strerror(e));
				return -e;
			}
			p[i] = c;
		}
	}
	return 0;
}

int bench_result_dir_prepare(const char *dir, char *err, size_t errlen)
{
	char probe[PATH_MAX];
	int rc = mkdir_p(dir, err, errlen), fd;

	if (rc < 0)
		return rc;
	if (snprintf(probe, sizeof probe, "%s/.joulebench-probe.XXXXXX", dir) >= (int)sizeof probe) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(probe);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot write there: %s", dir, strerror(errno));
		return rc;
	}
	close(fd);
	unlink(probe);
	return 0;
}

/* Writes text to DIR/NAME through DIR/.NAME.XXXXXX + fsync + rename, so readers see the old
 * file or the new one, never a part. */
static int write_atomic(const char *dir, const char *name, const char *text, char *err,
			size_t errlen)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	size_t len = strlen(text), off = 0;
	int fd = -1, rc = 0, dfd;

	snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name);
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot create a temporary file: %s", dir, strerror(errno));
		return rc;
	}
	if (fchmod(fd, 0644) < 0)
		goto fail_errno;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno;
		off += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail_errno;
	if (close(fd) < 0) {
		fd = -1;
		goto fail_errno;
	}
	fd = -1;
	if (rename(tmp, dst) < 0)
		goto fail_errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail_errno:
	rc = -errno;
	snprintf(err, errlen, "%s: cannot write: %s", dst, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int bench_result_write(const struct bench_run *r, const char *dir, char *err, size_t errlen)
{
	cJSON *j = NULL;
	char *json = NULL, *csv = NULL;
	size_t csv_len = 0;
	FILE *mf;
	int rc = mkdir_p(dir, err, errlen);

	if (rc < 0)
		return rc;
	j = bench_result_json(r);
	json = j ? cJSON_Print(j) : NULL;
	mf = open_memstream(&csv, &csv_len);
	if (!json || !mf) {
		if (mf)
			fclose(mf);
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory building the result");
		goto out;
	}
	bench_summary_csv(r, mf);
	fclose(mf);
	{
		size_t n = strlen(json);
		char *withnl = realloc(json, n + 2);

		if (withnl) {
			json = withnl;
			json[n] = '\n';
			json[n + 1] = '\0';
		}
	}
	rc = write_atomic(dir, "result.json", json, err, errlen);
	if (rc == 0)
		rc = write_atomic(dir, "summary.csv", csv, err, errlen);
out:
	free(json);
	free(csv);
	cJSON_Delete(j);
	return rc;
}
