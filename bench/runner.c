/*
 * bench/runner.c — one benchmark run: probes, idle, warm-up, repetitions, cool-down; see
 * runner.h. Everything measured goes into struct bench_run; result.c prints it.
 */
#include "bench/runner.h"

#include "bench/sha256.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- stop flag ------------------------------------------------------------------------------ */

static volatile sig_atomic_t g_stop_sig;

static void on_signal(int sig)
{
	g_stop_sig = sig;
}

void bench_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* SA_RESETHAND: a second Ctrl-C, e.g. during a long prefill, ends the process at once */
	sa.sa_flags = SA_RESTART | SA_RESETHAND;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void bench_stop_request(int sig)
{
	g_stop_sig = sig ? sig : SIGINT;
}

void bench_stop_clear(void)
{
	g_stop_sig = 0;
}

int bench_stop_signal(void)
{
	return g_stop_sig;
}

volatile const sig_atomic_t *bench_stop_flag(void)
{
	return &g_stop_sig;
}

/* ---- run state -------------------------------------------------------------------------------- */

struct runner {
	const struct bench_run_opts *o;
	const struct bench_workload *w;
	struct bench_run *r;
	struct pwr_set *pwr;
	struct pwr_counters *ctr;
	struct eng_model *model;
	char model_spec[1100];     /* spec of the open model */
	int64_t model_open_ns;
	int32_t *prompt;           /* prompt token ids */
	int n_prompt_max;
	float *logits;
	int logits_n;
	int64_t last_progress_ns;
	double watts_now;
	bool watts_valid;
	char stop_where[96];       /* "decode of rep 3/5" when the stop flag was seen */
};

static const char *sig_name(int sig)
{
	return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal";
}

static void logf_(struct runner *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct runner *R, const char *fmt, ...)
{
	va_list ap;

	if (!R->o->log)
		return;
	if (R->o->progress)
		fputs("\r\033[K", R->o->log);
	fputs("joulebench run: ", R->o->log);
	va_start(ap, fmt);
	vfprintf(R->o->log, fmt, ap);
	va_end(ap);
	fputc('\n', R->o->log);
}

static int phase_add(struct runner *R, int config, int rep, const char *name, int64_t t0, int64_t t1)
{
	return bench_run_phase_add(R->r, config, rep, name, t0, t1);
}

int bench_run_phase_add(struct bench_run *r, int config, int rep, const char *name, int64_t t0,
			int64_t t1)
{
	if (r->n_phases == r->cap_phases) {
		int cap = r->cap_phases ? 2 * r->cap_phases : 64;
		struct bench_phase *p = realloc(r->phases, (size_t)cap * sizeof *p);

		if (!p)
			return -ENOMEM;
		r->phases = p;
		r->cap_phases = cap;
	}
	r->phases[r->n_phases].config = config;
	r->phases[r->n_phases].rep = rep;
	snprintf(r->phases[r->n_phases].phase, sizeof r->phases[0].phase, "%s", name);
	r->phases[r->n_phases].t_start_ns = t0;
	r->phases[r->n_phases].t_end_ns = t1;
	r->n_phases++;
	return 0;
}

static void hook(struct runner *R, const char *phase, int config, int rep)
{
	if (R->o->on_phase)
		R->o->on_phase(R->o->ud, phase, config, rep);
}

/* Power of the primary domain over about the last second, for the progress line: a window that
 * ends two intervals ago, so samples surely cover it (a binary search, no copy of the samples,
 * so the progress line barely disturbs the latencies it reports). */
static void update_watts(struct runner *R)
{
	int p = R->r->primary;
	int64_t lag = 2LL * R->w->interval_ms * 1000000LL, t1 = pwr_now_ns() - lag;
	struct pwr_energy e;

	R->watts_valid = false;
	if (p < 0)
		return;
	if (pwr_energy_window(R->pwr, p, t1 - 1000000000LL, t1, &e) == 0 && e.valid) {
		R->watts_now = e.avg_power_w;
		R->watts_valid = true;
	}
}

static void progress(struct runner *R, const char *phase, int config, int rep, int n_reps,
		     double tok_s, bool force)
{
	int64_t t = pwr_now_ns();
	char cfg[96] = "", rp[32] = "", ts[32] = "", wt[64] = "";

	if (!R->o->progress || !R->o->log)
		return;
	if (!force && t - R->last_progress_ns < 250000000LL)
		return;
	R->last_progress_ns = t;
	update_watts(R);
	if (config >= 0) {
		const struct bench_config_run *c = &R->r->configs[config];

		snprintf(cfg, sizeof cfg, " config %d/%d (%.40s, %d thr, pp%d)", config + 1,
			 R->r->n_configs, c->type >= 0 ? eng_synth_type_name(c->type) : c->spec, c->threads,
			 c->prompt_tokens);
	}
	if (rep >= 0)
		snprintf(rp, sizeof rp, " rep %d/%d", rep + 1, n_reps);
	if (tok_s > 0)
		snprintf(ts, sizeof ts, " %.1f tok/s", tok_s);
	if (R->watts_valid)
		snprintf(wt, sizeof wt, " %.1f W%s", R->watts_now,
			 R->r->domains[R->r->primary].kind == PWR_ESTIMATED ? " (estimated)" : "");
	fprintf(R->o->log, "\r\033[K[%s]%s%s%s%s", phase, cfg, rp, ts, wt);
	fflush(R->o->log);
}

static void progress_end(struct runner *R)
{
	if (R->o->progress && R->o->log) {
		fputs("\r\033[K", R->o->log);
		fflush(R->o->log);
	}
}

/* Sleeps up to seconds in short slices; returns false when stopped by a signal. */
static bool idle_sleep(struct runner *R, const char *phase, int config, double seconds)
{
	int64_t end = pwr_now_ns() + (int64_t)(seconds * 1e9);

	for (;;) {
		int64_t left = end - pwr_now_ns();
		struct timespec ts;

		if (g_stop_sig)
			return false;
		if (left <= 0)
			return true;
		if (left > 20000000)
			left = 20000000;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left;
		nanosleep(&ts, NULL);
		progress(R, phase, config, -1, 0, 0, false);
	}
}

/* ---- configurations ----------------------------------------------------------------------- */

/* The spec for weight type `type` (-1: as given): synth:SHAPE[:T] → synth:SHAPE:type. */
static void spec_for_type(const char *model, int type, char *out, size_t len)
{
	const char *colon;

	if (type < 0 || strncmp(model, "synth:", 6) != 0) {
		snprintf(out, len, "%s", model);
		return;
	}
	colon = strchr(model + 6, ':');
	snprintf(out, len, "%.*s:%s", (int)(colon ? colon - model : (long)strlen(model)), model,
		 eng_synth_type_name(type));
}

static int build_configs(struct runner *R)
{
	const struct bench_workload *w = R->w;
	struct bench_run *r = R->r;
	int nt = w->n_types ? w->n_types : 1;
	int np = w->prompt_text ? 1 : w->n_prompt_tokens;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int k = 0;

	r->n_configs = nt * np * w->n_threads;
	r->configs = calloc((size_t)r->n_configs, sizeof *r->configs);
	if (!r->configs)
		return -ENOMEM;
	for (int t = 0; t < nt; t++)
		for (int p = 0; p < np; p++)
			for (int h = 0; h < w->n_threads; h++, k++) {
				struct bench_config_run *c = &r->configs[k];

				c->type = w->n_types ? w->types[t] : -1;
				c->threads = w->threads[h];
				c->prompt_tokens = w->prompt_text ? 0 : w->prompt_tokens[p];
				c->oversubscribed = ncpu > 0 && c->threads > ncpu;
				spec_for_type(w->model, c->type, c->spec, sizeof c->spec);
				snprintf(c->sha_reason, sizeof c->sha_reason, "%s", "not measured");
			}
	return 0;
}

/* Opens the model of configuration ci unless the open one has that spec. */
static int open_model(struct runner *R, int ci, char *err, size_t errlen)
{
	struct bench_config_run *c = &R->r->configs[ci];
	struct eng_open_opts oo = { .seed = R->w->seed, .vocab_path = R->w->vocab[0] ? R->w->vocab : NULL };
	int64_t t0, t1;
	int rc;

	if (R->model && !strcmp(R->model_spec, c->spec))
		return 0;
	if (R->model) {
		eng_model_close(R->model);
		R->model = NULL;
	}
	hook(R, "load", ci, -1);
	progress(R, "load", ci, -1, 0, 0, true);
	t0 = pwr_now_ns();
	rc = eng_model_open(c->spec, &oo, &R->model, err, errlen);
	t1 = pwr_now_ns();
	phase_add(R, ci, -1, "load", t0, t1);
	if (rc < 0) {
		R->model = NULL;
		return rc;
	}
	R->model_open_ns = t1 - t0;
	snprintf(R->model_spec, sizeof R->model_spec, "%s", c->spec);
	return 0;
}

/* Prompt token ids for the open model: the tokenized text, or prompt_tokens ids drawn from the
 * seed (the same ids for every repetition and configuration). */
static int make_prompt(struct runner *R, int n_tokens, char *err, size_t errlen)
{
	const struct eng_config *mc = eng_model_config(R->model);
	int need = n_tokens;

	if (R->w->prompt_text) {
		if (!eng_has_vocab(R->model)) {
			snprintf(err, errlen,
				 "a prompt text needs a vocabulary: model '%.200s' has none (set \"vocab\" in the "
				 "workload to a GGUF vocabulary, or use --prompt-tokens N)",
				 R->w->model);
			return -EINVAL;
		}
		need = eng_tokenize(R->model, R->w->prompt_text, true, NULL, 0, err, errlen);
		if (need < 0)
			return need;
	}
	if (need > R->n_prompt_max) {
		int32_t *p = realloc(R->prompt, (size_t)need * sizeof *p);

		if (!p) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		R->prompt = p;
		R->n_prompt_max = need;
	}
	if (R->w->prompt_text) {
		int n = eng_tokenize(R->model, R->w->prompt_text, true, R->prompt, need, err, errlen);

		if (n < 0)
			return n;
		R->r->prompt_text_tokens = n;
		return n;
	} else {
		bench_workload_prompt_ids(R->w->seed, need, mc->vocab_size, eng_token_bos(R->model),
					  R->prompt);
	}
	return need;
}

static void describe_config_model(struct runner *R, struct bench_config_run *c)
{
	char why[512];

	eng_model_describe(R->model, &c->model);
	c->model_valid = true;
	c->type = c->model.wtype;
	c->sha256[0] = '\0';
	if (c->model.synthetic && !c->model.path[0]) {
		snprintf(c->sha_reason, sizeof c->sha_reason, "%s",
			 "in-memory synthetic model (no file): its weights are a function of the spec and "
			 "the seed");
	} else if (c->model.path[0]) {
		/* hash each file once */
		for (int i = 0; i < R->r->n_configs; i++) {
			struct bench_config_run *o = &R->r->configs[i];

			if (o != c && o->model_valid && o->sha256[0] && !strcmp(o->model.path, c->model.path)) {
				memcpy(c->sha256, o->sha256, sizeof c->sha256);
				return;
			}
		}
		progress(R, "sha256", -1, -1, 0, 0, true);
		if (bench_sha256_file(c->model.path, c->sha256, why, sizeof why) < 0) {
			c->sha256[0] = '\0';
			snprintf(c->sha_reason, sizeof c->sha_reason, "%.250s", why);
		}
	} else {
		snprintf(c->sha_reason, sizeof c->sha_reason, "%s", "the model has no file path");
	}
}

/* ---- one repetition -------------------------------------------------------------------------- */

static void counters_diff(const struct pwr_counter_read *a, const struct pwr_counter_read *b,
			  struct pwr_counter_read *d, bool *multiplexed)
{
	*d = *b;
	for (int i = 0; i < b->n && i < a->n; i++) {
		d->v[i].valid = a->v[i].valid && b->v[i].valid;
		d->v[i].value = b->v[i].value - a->v[i].value;
		if (b->v[i].enabled_ratio < 0.999)
			*multiplexed = true;
	}
}

/*
 * One prompt + answer. rep_out NULL: a warm-up (only phases recorded). Returns 0, 1 when
 * stopped by a signal part-way (rep_out->complete false), or -errno with a message.
 */
static int run_once(struct runner *R, struct eng_ctx *ctx, struct eng_sampler *smp, int ci,
		    int rep_i, int n_reps, int n_prompt, struct bench_rep *rep, char *err,
		    size_t errlen)
{
	const struct bench_workload *w = R->w;
	/* counters at the phase edges: c0 prefill c1 ... c1b decode c2 (the boundary sample and
	 * the hook between c1 and c1b belong to neither phase) */
	struct pwr_counter_read c0, c1, c1b, c2;
	bool have_ctr = R->ctr != NULL;
	int64_t t_start, t_first, t_dec, t_prev, t;
	int32_t tok;
	int rc, n_gen = 1;

	eng_ctx_reset(ctx);
	if (rep) {
		rep->itl_ns = malloc((size_t)(w->gen_tokens > 1 ? w->gen_tokens - 1 : 1) * sizeof *rep->itl_ns);
		if (!rep->itl_ns) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		rep->prompt_tokens = n_prompt;
	}
	hook(R, rep ? "prefill" : "warmup", ci, rep_i);
	progress(R, rep ? "prefill" : "warmup", ci, rep_i, n_reps, 0, true);
	pwr_sample_now(R->pwr);
	if (have_ctr && pwr_counters_read(R->ctr, &c0) < 0)
		have_ctr = false;
	t_start = pwr_now_ns();
	rc = eng_prefill(ctx, R->prompt, n_prompt, R->logits, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "prefill of %d tokens failed: %s", n_prompt, eng_ctx_error(ctx));
		return rc;
	}
	tok = eng_sample(smp, R->logits);
	t_first = pwr_now_ns();
	if (have_ctr && pwr_counters_read(R->ctr, &c1) < 0)
		have_ctr = false;
	pwr_sample_now(R->pwr);
	if (rep)
		hook(R, "decode", ci, rep_i);
	if (have_ctr && pwr_counters_read(R->ctr, &c1b) < 0)
		have_ctr = false;
	t_dec = t_prev = pwr_now_ns();
	for (int i = 1; i < w->gen_tokens; i++) {
		if (g_stop_sig)
			break;
		rc = eng_decode(ctx, tok, R->logits);
		if (rc < 0) {
			snprintf(err, errlen, "decode at position %d failed: %s", eng_ctx_pos(ctx),
				 eng_ctx_error(ctx));
			return rc;
		}
		tok = eng_sample(smp, R->logits);
		t = pwr_now_ns();
		if (rep)
			rep->itl_ns[rep->n_itl++] = t - t_prev;
		t_prev = t;
		n_gen++;
		if (rep)
			progress(R, "decode", ci, rep_i, n_reps, (n_gen - 1) / ((double)(t - t_dec) / 1e9), false);
	}
	if (have_ctr && pwr_counters_read(R->ctr, &c2) < 0)
		have_ctr = false;
	pwr_sample_now(R->pwr);
	if (!rep) {
		phase_add(R, ci, rep_i, "warmup", t_start, t_prev);
		return g_stop_sig ? 1 : 0;
	}
	phase_add(R, ci, rep_i, "prefill", t_start, t_first);
	phase_add(R, ci, rep_i, "decode", t_dec, t_prev);
	rep->gen_tokens = n_gen;
	rep->t_start_ns = t_start;
	rep->t_prefill_end_ns = t_first;
	rep->t_decode_start_ns = t_dec;
	rep->t_end_ns = t_prev;
	rep->ttft_ns = t_first - t_start;
	rep->prefill_ns = t_first - t_start;
	rep->decode_ns = t_prev - t_dec;
	rep->complete = n_gen == w->gen_tokens;
	if (have_ctr) {
		rep->counters_valid = true;
		counters_diff(&c0, &c1, &rep->c_prefill, &rep->multiplexed);
		counters_diff(&c1b, &c2, &rep->c_decode, &rep->multiplexed);
	} else {
		snprintf(rep->counters_reason, sizeof rep->counters_reason, "%s",
			 R->r->counters_reason[0] ? R->r->counters_reason : "reading the counters failed");
	}
	return rep->complete ? 0 : 1;
}

static struct bench_rep *new_rep(struct bench_config_run *c)
{
	if (c->n_reps == c->cap_reps) {
		int cap = c->cap_reps ? 2 * c->cap_reps : 8;
		struct bench_rep *p = realloc(c->reps, (size_t)cap * sizeof *p);

		if (!p)
			return NULL;
		c->reps = p;
		c->cap_reps = cap;
	}
	memset(&c->reps[c->n_reps], 0, sizeof c->reps[0]);
	c->reps[c->n_reps].index = c->n_reps;
	return &c->reps[c->n_reps++];
}

static double decode_tok_s(const struct bench_rep *p)
{
	return p->decode_ns > 0 ? (p->gen_tokens - 1) / ((double)p->decode_ns / 1e9) : 0;
}

/* Warm-up, repetitions (with the stop rule), cool-down of configuration ci. Returns 0, 1 when
 * stopped by a signal, -errno on failure (message in err). */
static int run_config(struct runner *R, int ci, char *err, size_t errlen)
{
	const struct bench_workload *w = R->w;
	struct bench_config_run *c = &R->r->configs[ci];
	struct eng_ctx_opts co = { .n_threads = c->threads };
	struct eng_sampler_opts so = { .temp = 0, .top_k = 0, .top_p = 1, .seed = w->seed };
	struct eng_sampler *smp = NULL;
	struct eng_ctx *ctx = NULL;
	const struct eng_config *mc;
	int64_t t0, t1;
	int rc = 0, n_prompt, target, want_type;
	double *tps = NULL;

	c->started = true;
	rc = open_model(R, ci, err, errlen);
	if (rc < 0)
		goto out;
	mc = eng_model_config(R->model);
	want_type = c->type;
	describe_config_model(R, c);
	if (want_type >= 0 && eng_type_name(want_type) == NULL) {
		/* a llama.cpp mix (q4_k_m): the synthetic model was written with it; the config keeps
		 * the mix's name (the model's dominant type is in model_type) */
		if (!c->model.synthetic) {
			snprintf(err, errlen, "%.300s: the type %s (a llama.cpp mix) applies to synth: models only",
				 c->spec, eng_synth_type_name(want_type));
			rc = -EINVAL;
			goto out;
		}
		c->type = want_type;
	} else if (want_type >= 0 && c->model.wtype != want_type) {
		snprintf(err, errlen, "%.300s holds %s weights, not %s (a type sweep needs a synth: model)",
			 c->spec, eng_type_name(c->model.wtype) ? eng_type_name(c->model.wtype) : "?",
			 eng_type_name(want_type));
		rc = -EINVAL;
		goto out;
	}
	n_prompt = make_prompt(R, c->prompt_tokens, err, errlen);
	if (n_prompt < 0) {
		rc = n_prompt;
		goto out;
	}
	if (!c->prompt_tokens)
		c->prompt_tokens = n_prompt;
	if (n_prompt + w->gen_tokens > mc->seq_len) {
		snprintf(err, errlen,
			 "prompt (%d tokens) + generated tokens (%d) exceed the model's context of %d",
			 n_prompt, w->gen_tokens, mc->seq_len);
		rc = -EINVAL;
		goto out;
	}
	if (R->logits_n < mc->vocab_size) {
		float *l = realloc(R->logits, (size_t)mc->vocab_size * sizeof *l);

		if (!l) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		R->logits = l;
		R->logits_n = mc->vocab_size;
	}
	if (c->oversubscribed)
		logf_(R, "warning: %d threads on %ld online CPUs: the configuration is oversubscribed",
		      c->threads, sysconf(_SC_NPROCESSORS_ONLN));
	co.n_ctx = n_prompt + w->gen_tokens;
	t0 = pwr_now_ns();
	ctx = eng_ctx_new(R->model, &co, err, errlen);
	t1 = pwr_now_ns();
	if (!ctx) {
		rc = -EINVAL;
		goto out;
	}
	c->load_ns = R->model_open_ns + (t1 - t0);
	smp = eng_sampler_new(&so, mc->vocab_size);
	if (!smp) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < w->warmup; i++) {
		rc = run_once(R, ctx, smp, ci, i, w->warmup, n_prompt, NULL, err, errlen);
		if (rc) {
			if (rc > 0)
				snprintf(R->stop_where, sizeof R->stop_where, "warm-up %d/%d of config %d/%d",
					 i + 1, w->warmup, ci + 1, R->r->n_configs);
			goto out;
		}
	}
	target = w->stop_rule ? w->max_reps : w->reps;
	tps = malloc((size_t)target * sizeof *tps);
	if (!tps) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < target; i++) {
		struct bench_rep *rep = new_rep(c);

		if (!rep) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		rc = run_once(R, ctx, smp, ci, i, w->stop_rule ? w->max_reps : w->reps, n_prompt, rep,
			      err, errlen);
		if (rc) {
			if (rc > 0)
				snprintf(R->stop_where, sizeof R->stop_where, "decode of rep %d/%d", i + 1,
					 target);
			goto out;
		}
		tps[i] = decode_tok_s(rep);
		if (w->stop_rule && i + 1 >= w->reps &&
		    rpt_stop_rule_met(tps, i + 1, w->reps, w->stop_rsd_pct)) {
			c->stop_rule_met = true;
			break;
		}
	}
	if (w->cooldown_s > 0) {
		hook(R, "cooldown", ci, -1);
		t0 = pwr_now_ns();
		pwr_sample_now(R->pwr);
		if (!idle_sleep(R, "cooldown", ci, w->cooldown_s))
			rc = 1;
		pwr_sample_now(R->pwr);
		phase_add(R, ci, -1, "cooldown", t0, pwr_now_ns());
		if (rc)
			snprintf(R->stop_where, sizeof R->stop_where, "cool-down of config %d/%d", ci + 1,
				 R->r->n_configs);
	}
out:
	free(tps);
	eng_sampler_free(smp);
	eng_ctx_free(ctx);
	if (rc < 0)
		snprintf(c->error, sizeof c->error, "%s", err);
	return rc;
}

/* ---- idle ------------------------------------------------------------------------------------ */

static bool measure_idle(struct runner *R, struct bench_idle *id, const char *phase)
{
	bool ok;

	id->measured = false;
	if (R->w->idle_s <= 0) {
		snprintf(id->reason, sizeof id->reason, "%s", "idle_s is 0: no idle measurement");
		return true;
	}
	hook(R, phase, -1, -1);
	progress(R, phase, -1, -1, 0, 0, true);
	pwr_sample_now(R->pwr);
	id->t_start_ns = pwr_now_ns();
	ok = idle_sleep(R, phase, -1, R->w->idle_s);
	id->t_end_ns = pwr_now_ns();
	pwr_sample_now(R->pwr);
	phase_add(R, -1, -1, phase, id->t_start_ns, id->t_end_ns);
	id->duration_s = (double)(id->t_end_ns - id->t_start_ns) / 1e9;
	if (!ok) {
		snprintf(id->reason, sizeof id->reason, "interrupted by %s after %.1f s of %g s",
			 sig_name(g_stop_sig), id->duration_s, R->w->idle_s);
		return false;
	}
	id->measured = true;
	return true;
}

/* Energy windows of everything recorded, once the sampler has stopped. */
static void compute_energy(struct runner *R)
{
	struct bench_run *r = R->r;
	struct bench_idle *ids[2] = { &r->idle_before, &r->idle_after };

	for (int k = 0; k < 2; k++) {
		struct bench_idle *id = ids[k];

		id->power_w = calloc((size_t)r->n_domains + 1, sizeof *id->power_w);
		id->power_valid = calloc((size_t)r->n_domains + 1, sizeof *id->power_valid);
		if (!id->measured || !id->power_w || !id->power_valid)
			continue;
		for (int d = 0; d < r->n_domains; d++) {
			struct pwr_energy e;

			if (pwr_energy_window(R->pwr, d, id->t_start_ns, id->t_end_ns, &e) == 0 && e.valid &&
			    id->t_end_ns > id->t_start_ns) {
				id->power_w[d] = e.energy_j / ((double)(id->t_end_ns - id->t_start_ns) / 1e9);
				id->power_valid[d] = true;
			}
		}
	}
	for (int ci = 0; ci < r->n_configs; ci++) {
		struct bench_config_run *c = &r->configs[ci];

		for (int i = 0; i < c->n_reps; i++) {
			struct bench_rep *p = &c->reps[i];

			p->energy = calloc((size_t)r->n_domains + 1, sizeof *p->energy);
			if (!p->energy)
				continue;
			for (int d = 0; d < r->n_domains; d++) {
				struct bench_rep_energy *e = &p->energy[d];
				struct pwr_energy pe, de;

				if (!p->t_start_ns) {
					snprintf(e->prefill_reason, sizeof e->prefill_reason, "%s",
						 "the repetition did not start");
					snprintf(e->decode_reason, sizeof e->decode_reason, "%s",
						 "the repetition did not start");
					continue;
				}
				if (pwr_energy_window(R->pwr, d, p->t_start_ns, p->t_prefill_end_ns, &pe) == 0 &&
				    pe.valid) {
					e->prefill_valid = true;
					e->prefill_j = pe.energy_j;
					e->prefill_avg_w = pe.avg_power_w;
					e->wrap_suspect |= pe.wrap_suspect;
				} else {
					snprintf(e->prefill_reason, sizeof e->prefill_reason, "%s", pe.reason);
				}
				if (pwr_energy_window(R->pwr, d, p->t_decode_start_ns, p->t_end_ns, &de) == 0 &&
				    de.valid && p->t_end_ns > p->t_decode_start_ns) {
					e->decode_valid = true;
					e->decode_j = de.energy_j;
					e->decode_avg_w = de.avg_power_w;
					e->wrap_suspect |= de.wrap_suspect;
				} else {
					snprintf(e->decode_reason, sizeof e->decode_reason, "%s",
						 p->t_end_ns > p->t_decode_start_ns ? de.reason
										      : "no decode step ran");
				}
			}
		}
	}
}

static int copy_power(struct runner *R)
{
	struct bench_run *r = R->r;

	r->samples = calloc((size_t)r->n_domains + 1, sizeof *r->samples);
	if (!r->samples)
		return -ENOMEM;
	for (int d = 0; d < r->n_domains; d++) {
		struct pwr_sample *s = NULL;
		size_t n = pwr_samples(R->pwr, d, &s);

		r->samples[d].t_ns = malloc((n + 1) * sizeof(int64_t));
		r->samples[d].energy_j = malloc((n + 1) * sizeof(double));
		if (!r->samples[d].t_ns || !r->samples[d].energy_j) {
			free(s);
			return -ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			r->samples[d].t_ns[i] = s[i].t_ns;
			r->samples[d].energy_j[i] = s[i].energy_j;
		}
		r->samples[d].n = n;
		free(s);
		pwr_update_period(R->pwr, d, &r->samples[d].update);
	}
	r->sampler_count = pwr_sampler_count(R->pwr);
	r->sampler_cpu_ns = pwr_sampler_cpu_ns_per_sample(R->pwr);
	return 0;
}

/* ---- the run ----------------------------------------------------------------------------- */

static int open_power(struct runner *R, const char *sysfs_root, char *err, size_t errlen)
{
	const struct bench_workload *w = R->w;
	struct bench_run *r = R->r;
	const char *probes[BENCH_MAX_PROBES + 1];
	struct pwr_opts po;
	char cerr[256] = "";
	int rc;

	memset(&po, 0, sizeof po);
	for (int i = 0; i < w->n_probes; i++)
		probes[i] = w->probes[i];
	probes[w->n_probes] = NULL;
	po.sysfs_root = sysfs_root;
	po.probes = w->n_probes ? probes : NULL;
	po.interval_ms = w->interval_ms;
	po.tdp_w = w->tdp_w;
	rc = pwr_open(&po, &R->pwr, err, errlen);
	if (rc < 0)
		return rc;
	r->interval_ms = w->interval_ms;
	r->n_domains = pwr_n_domains(R->pwr);
	r->domains = calloc((size_t)r->n_domains + 1, sizeof *r->domains);
	r->n_unavail = pwr_n_unavailable(R->pwr);
	r->unavail = calloc((size_t)r->n_unavail + 1, sizeof *r->unavail);
	if (!r->domains || !r->unavail) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < r->n_domains; i++)
		r->domains[i] = *pwr_domain(R->pwr, i);
	for (int i = 0; i < r->n_unavail; i++)
		r->unavail[i] = *pwr_unavailable(R->pwr, i);
	r->primary = pwr_primary_domain(R->pwr);
	snprintf(r->primary_reason, sizeof r->primary_reason, "%s", pwr_primary_why(R->pwr));
	/* probes asked for by name that cannot run: say why, on stderr and in the reason */
	for (int i = 0; i < w->n_probes; i++) {
		size_t blen = strcspn(w->probes[i], ":");

		for (int k = 0; k < r->n_unavail; k++) {
			const struct pwr_unavailable *u = &r->unavail[k];
			size_t used = strlen(r->primary_reason);

			if (strncmp(u->what, w->probes[i], blen) || (u->what[blen] && u->what[blen] != ':'))
				continue;
			logf_(R, "warning: --probe %s: %s unavailable: %s", w->probes[i], u->what, u->reason);
			if (r->primary < 0 && used + 1 < sizeof r->primary_reason)
				snprintf(r->primary_reason + used, sizeof r->primary_reason - used,
					 "; %s unavailable: %s", u->what, u->reason);
		}
	}
	/* counters are opened before any engine thread exists, so they follow them all */
	if (pwr_counters_open(NULL, 0, &R->ctr, cerr, sizeof cerr) == 0) {
		snprintf(r->counters_source, sizeof r->counters_source, "%s",
			 pwr_counters_source(R->ctr));
	} else {
		R->ctr = NULL;
		snprintf(r->counters_reason, sizeof r->counters_reason, "%s",
			 cerr[0] ? cerr : "hardware counters could not be opened");
	}
	return 0;
}

static void utc_now(char *out, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void mark_incomplete(struct bench_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mark_incomplete(struct bench_run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->complete)
		return; /* keep the first reason */
	r->complete = false;
	va_start(ap, fmt);
	vsnprintf(r->incomplete_reason, sizeof r->incomplete_reason, fmt, ap);
	va_end(ap);
}

static void http_event(void *ud, const char *phase, int level, const char *line)
{
	struct runner *R = ud;

	if (phase)
		hook(R, phase, -1, level);
	if (line)
		logf_(R, "%s", line);
}

/* An external engine over HTTP: idle before, then the concurrency sweep (idle after is the
 * common tail's). Returns 0, or -errno when the sweep could not start (message in err); sets
 * *stopped on a signal. Failed requests make the run incomplete, with the first error. */
static int run_http(struct runner *R, bool *stopped, char *err, size_t errlen)
{
	struct bench_run *r = R->r;
	int rc, failed = 0, total = 0;
	const char *first = NULL;

	snprintf(r->model_reason, sizeof r->model_reason,
		 "an external engine (%s at %.150s) serves '%.150s': joulebench does not see its file",
		 bench_engine_name(R->o->http->engine), R->o->http->url, R->o->http->model);
	/* a prompt format that cannot be used is an input error, found before idle is measured */
	rc = bench_http_sweep_prepare(r, R->o->http, err, errlen);
	if (rc < 0)
		return rc;
	if (!measure_idle(R, &r->idle_before, "idle_before")) {
		*stopped = true;
		return 0;
	}
	rc = bench_http_sweep_run(r, R->o->http, R->pwr, &g_stop_sig, http_event, R, err, errlen);
	if (rc < 0)
		return rc;
	if (rc > 0 || g_stop_sig) {
		*stopped = true;
		snprintf(R->stop_where, sizeof R->stop_where, "%s", "the concurrency sweep");
		return 0;
	}
	for (int li = 0; r->http && li < r->http->n_levels; li++)
		for (int i = 0; i < r->http->levels[li].n_req; i++, total++)
			if (!r->http->levels[li].req[i].ok) {
				if (!first)
					first = r->http->levels[li].req[i].error;
				failed++;
			}
	if (failed)
		mark_incomplete(r, "%d of %d requests failed; first: %.200s", failed, total, first);
	return 0;
}

int bench_run(const struct bench_run_opts *o, struct bench_run **out, char *err, size_t errlen)
{
	struct runner R;
	struct bench_run *r = NULL;
	char cerr[512];
	bool stopped = false;
	int rc;

	*out = NULL;
	memset(&R, 0, sizeof R);
	R.o = o;
	R.w = o->w;
	r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	R.r = r;
	r->w = o->w;
	r->build = o->build;
	r->complete = true;
	r->primary = -1;
	utc_now(r->created_utc, sizeof r->created_utc);
	r->machine = bench_machine_json(o->sysfs_root);
	snprintf(r->model_spec, sizeof r->model_spec, "%s", o->w->model);
	rc = o->http ? 0 : build_configs(&R);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = open_power(&R, o->sysfs_root, err, errlen);
	if (rc < 0)
		goto fail;
	rc = pwr_sampler_start(R.pwr, err, errlen);
	if (rc < 0)
		goto fail;
	if (o->http) {
		rc = run_http(&R, &stopped, err, errlen);
		if (rc < 0) {
			pwr_sampler_stop(R.pwr);
			goto fail;
		}
		goto tail;
	}

	/* The first model is opened before the idle measurement: a bad spec fails at once, and the
	 * idle window sees the machine with the model resident. */
	rc = open_model(&R, 0, err, errlen);
	if (rc < 0) {
		pwr_sampler_stop(R.pwr);
		goto fail;
	}
	eng_model_describe(R.model, &r->model);
	r->mcfg = *eng_model_config(R.model);
	r->model_valid = true;
	/* every configuration shares the shape: a prompt that does not fit is an input error now,
	 * not a failure after the idle measurement */
	for (int ci = 0; ci < r->n_configs; ci++) {
		int np = r->configs[ci].prompt_tokens;

		if (!np) {
			np = make_prompt(&R, 0, err, errlen);
			if (np < 0) {
				rc = np;
				pwr_sampler_stop(R.pwr);
				goto fail;
			}
		}
		if (np + o->w->gen_tokens > r->mcfg.seq_len) {
			snprintf(err, errlen,
				 "prompt (%d tokens) + generated tokens (%d) exceed the context of %.200s (%d "
				 "tokens)",
				 np, o->w->gen_tokens, r->model_spec, r->mcfg.seq_len);
			rc = -EINVAL;
			pwr_sampler_stop(R.pwr);
			goto fail;
		}
		/* a file holds one weight type: asking for another is an input error, found now */
		if (strncmp(o->w->model, "synth:", 6) != 0 && r->configs[ci].type >= 0 &&
		    r->configs[ci].type != r->model.wtype) {
			snprintf(err, errlen, "%.300s holds %s weights, not %s (--type converts synth: models only)",
				 r->model_spec,
				 eng_type_name(r->model.wtype) ? eng_type_name(r->model.wtype) : "?",
				 eng_type_name(r->configs[ci].type));
			rc = -EINVAL;
			pwr_sampler_stop(R.pwr);
			goto fail;
		}
	}
	if (!measure_idle(&R, &r->idle_before, "idle_before"))
		stopped = true;
	for (int ci = 0; ci < r->n_configs && !stopped; ci++) {
		rc = run_config(&R, ci, cerr, sizeof cerr);
		if (ci == 0 && r->configs[0].model_valid) {
			memcpy(r->sha256, r->configs[0].sha256, sizeof r->sha256);
			snprintf(r->sha_reason, sizeof r->sha_reason, "%s", r->configs[0].sha_reason);
		}
		if (rc > 0 || g_stop_sig) {
			stopped = true;
		} else if (rc < 0) {
			struct bench_config_run *c = &r->configs[ci];

			logf_(&R, "config %d/%d (%s, %d threads) failed: %s", ci + 1, r->n_configs,
			      c->spec, c->threads, cerr);
			mark_incomplete(r, "config %d/%d (%s, %d threads) failed: %s", ci + 1,
					r->n_configs, c->spec, c->threads, cerr);
		}
	}
tail:
	if (R.model) {
		eng_model_close(R.model);
		R.model = NULL;
	}
	if (!stopped && !measure_idle(&R, &r->idle_after, "idle_after"))
		stopped = true;
	if (stopped) {
		if (!r->idle_after.measured && !r->idle_after.reason[0])
			snprintf(r->idle_after.reason, sizeof r->idle_after.reason,
				 "not measured: the run was interrupted by %s", sig_name(g_stop_sig));
		if (!r->idle_before.measured && !r->idle_before.reason[0])
			snprintf(r->idle_before.reason, sizeof r->idle_before.reason, "%s", "interrupted");
		logf_(&R, "interrupted by %s: writing what was measured", sig_name(g_stop_sig));
		r->complete = true; /* the interruption is the reason that counts */
		mark_incomplete(r, "interrupted by %s during %s", sig_name(g_stop_sig),
				R.stop_where[0] ? R.stop_where
					       : (r->idle_before.measured ? "the run" : "idle before"));
	}
	progress_end(&R);
	pwr_sampler_stop(R.pwr);
	compute_energy(&R);
	bench_http_sweep_energy(r, R.pwr);
	if (copy_power(&R) < 0)
		mark_incomplete(r, "%s", "out of memory copying the energy samples");
	pwr_counters_close(R.ctr);
	pwr_close(R.pwr);
	free(R.prompt);
	free(R.logits);
	*out = r;
	return 0;
fail:
	progress_end(&R);
	if (R.model)
		eng_model_close(R.model);
	pwr_counters_close(R.ctr);
	pwr_close(R.pwr);
	free(R.prompt);
	free(R.logits);
	bench_run_free(r);
	return rc < 0 ? rc : -EINVAL;
}

void bench_run_free(struct bench_run *r)
{
	if (!r)
		return;
	cJSON_Delete(r->machine);
	for (int ci = 0; ci < r->n_configs; ci++) {
		for (int i = 0; i < r->configs[ci].n_reps; i++) {
			free(r->configs[ci].reps[i].itl_ns);
			free(r->configs[ci].reps[i].energy);
		}
		free(r->configs[ci].reps);
	}
	free(r->configs);
	if (r->samples)
		for (int d = 0; d < r->n_domains; d++) {
			free(r->samples[d].t_ns);
			free(r->samples[d].energy_j);
		}
	free(r->samples);
	free(r->domains);
	free(r->unavail);
	free(r->phases);
	free(r->idle_before.power_w);
	free(r->idle_before.power_valid);
	free(r->idle_after.power_w);
	free(r->idle_after.power_valid);
	bench_http_sweep_free(r->http);
	free(r);
}

/* ---- summary ------------------------------------------------------------------------------------ */

/* Idle power of domain d for net figures: mean of before and after when both exist. */
static bool idle_power(const struct bench_run *r, int d, double *w)
{
	const struct bench_idle *b = &r->idle_before, *a = &r->idle_after;
	bool hb = b->measured && b->power_valid && b->power_valid[d];
	bool ha = a->measured && a->power_valid && a->power_valid[d];

	if (hb && ha)
		*w = (b->power_w[d] + a->power_w[d]) / 2;
	else if (hb)
		*w = b->power_w[d];
	else if (ha)
		*w = a->power_w[d];
	return hb || ha;
}

void bench_config_summarize(const struct bench_run *r, int ci, struct bench_config_summary *s)
{
	bench_config_summarize_source(r, ci, r->primary, s);
}

void bench_config_summarize_source(const struct bench_run *r, int ci, int source,
				   struct bench_config_summary *s)
{
	const struct bench_config_run *c = &r->configs[ci];
	int n = c->n_reps, k = 0, ke = 0, kt = 0, kp = 0, n_itl = 0;
	double *pf = calloc((size_t)n + 1, sizeof *pf), *dc = calloc((size_t)n + 1, sizeof *dc);
	double *tt = calloc((size_t)n + 1, sizeof *tt);
	double *pg = calloc((size_t)n + 1, sizeof *pg), *pn = calloc((size_t)n + 1, sizeof *pn);
	double *dg = calloc((size_t)n + 1, sizeof *dg), *dn = calloc((size_t)n + 1, sizeof *dn);
	double *tpj = calloc((size_t)n + 1, sizeof *tpj), *aw = calloc((size_t)n + 1, sizeof *aw);
	double *ptpj = calloc((size_t)n + 1, sizeof *ptpj);
	double *wh = calloc((size_t)n + 1, sizeof *wh), *itl = NULL;
	double idle_w = 0;
	uint64_t seed = r->w->seed;

	memset(s, 0, sizeof *s);
	s->source = source >= 0 && source < r->n_domains ? source : -1;
	for (int i = 0; i < n; i++)
		if (c->reps[i].complete)
			n_itl += c->reps[i].n_itl;
	itl = calloc((size_t)n_itl + 1, sizeof *itl);
	if (!pf || !dc || !tt || !pg || !pn || !dg || !dn || !tpj || !ptpj || !aw || !wh || !itl) {
		snprintf(s->energy_reason, sizeof s->energy_reason, "out of memory");
		goto out;
	}
	s->net_valid = s->source >= 0 && idle_power(r, s->source, &idle_w);
	if (s->source < 0)
		snprintf(s->energy_reason, sizeof s->energy_reason, "no energy source: %.1000s",
			 r->primary_reason);
	else if (!s->net_valid)
		snprintf(s->net_reason, sizeof s->net_reason, "no idle power for %.60s: %.160s",
			 r->domains[s->source].id,
			 r->idle_before.reason[0] ? r->idle_before.reason : "the idle window had no samples");
	n_itl = 0;
	for (int i = 0; i < n; i++) {
		const struct bench_rep *p = &c->reps[i];
		double pt, dt;

		if (!p->complete)
			continue;
		pt = (double)p->prefill_ns / 1e9;
		dt = (double)p->decode_ns / 1e9;
		pf[k] = pt > 0 ? p->prompt_tokens / pt : 0;
		dc[k] = decode_tok_s(p);
		tt[k] = (double)p->ttft_ns / 1e6;
		k++;
		for (int j = 0; j < p->n_itl; j++)
			itl[n_itl++] = (double)p->itl_ns[j] / 1e6;
		if (s->source >= 0 && p->energy) {
			const struct bench_rep_energy *e = &p->energy[s->source];
			int dtok = p->gen_tokens - 1;

			if (!e->prefill_valid || !e->decode_valid || dtok < 1) {
				snprintf(s->energy_reason, sizeof s->energy_reason, "rep %d: %.200s", i,
					 !e->prefill_valid ? e->prefill_reason
					 : !e->decode_valid ? e->decode_reason
							    : "no decode tokens");
				continue;
			}
			pg[ke] = e->prefill_j / p->prompt_tokens;
			dg[ke] = e->decode_j / dtok;
			aw[ke] = (pt + dt) > 0 ? (e->prefill_j + e->decode_j) / (pt + dt) : 0;
			if (s->net_valid) {
				double pnet = e->prefill_j - idle_w * pt, dnet = e->decode_j - idle_w * dt;

				pn[ke] = pnet / p->prompt_tokens;
				dn[ke] = dnet / dtok;
				wh[ke] = (pnet + dnet) / 3600.0;
				if (dnet > 0)
					tpj[kt++] = dtok / dnet;
				if (pnet > 0)
					ptpj[kp++] = p->prompt_tokens / pnet;
			}
			ke++;
		}
	}
	s->n = k;
	rpt_summarize(pf, k, seed, &s->prefill_tok_s);
	rpt_summarize(dc, k, seed, &s->decode_tok_s);
	rpt_summarize(tt, k, seed, &s->ttft_ms);
	s->rsd_decode_pct = rpt_rsd_pct(dc, k);
	if (n_itl > 0) {
		s->itl_valid = true;
		s->itl_p50_ms = rpt_percentile(itl, n_itl, 50);
		s->itl_p90_ms = rpt_percentile(itl, n_itl, 90);
		s->itl_p99_ms = rpt_percentile(itl, n_itl, 99);
	}
	if (ke > 0) {
		s->energy_valid = true;
		s->energy_reason[0] = '\0';
		rpt_summarize(pg, ke, seed, &s->prefill_jpt_gross);
		rpt_summarize(dg, ke, seed, &s->decode_jpt_gross);
		rpt_summarize(aw, ke, seed, &s->avg_power_w);
		if (s->net_valid) {
			rpt_summarize(pn, ke, seed, &s->prefill_jpt_net);
			rpt_summarize(dn, ke, seed, &s->decode_jpt_net);
			rpt_summarize(wh, ke, seed, &s->wh_per_query);
			rpt_summarize(tpj, kt, seed, &s->tokens_per_j);
			rpt_summarize(ptpj, kp, seed, &s->prefill_tokens_per_j);
		}
	} else if (s->source >= 0 && !s->energy_reason[0]) {
		snprintf(s->energy_reason, sizeof s->energy_reason, "%s", "no complete repetition");
	}
out:
	free(pf);
	free(dc);
	free(tt);
	free(pg);
	free(pn);
	free(dg);
	free(dn);
	free(tpj);
	free(ptpj);
	free(aw);
	free(wh);
	free(itl);
}
