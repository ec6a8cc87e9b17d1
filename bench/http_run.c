/*
 * bench/http_run.c — the concurrency sweep against an external engine: one level per
 * concurrency, its energy over the level's window from the local probes (or null with the
 * reason when the engine runs elsewhere), and its part of result.json. See engine_http.h.
 */
#include "bench/engine_http.h"
#include "bench/runner.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Filler text of about `words` words (a server's tokenizer gives at least as many tokens). */
static char *filler_prompt(int words)
{
	static const char *const w[] = {"the",    "energy",   "of",     "a",      "token",
	                                "is",     "measured", "while",  "the",    "model",
	                                "writes", "one",      "word",   "after",  "another",
	                                "and",    "power",    "probes", "sample", "watts"};
	size_t cap = (size_t)words * 12 + 16, n = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = '\0';
	for (int i = 0; i < words; i++)
		n += (size_t)snprintf(s + n, cap - n, "%s%s", i ? " " : "", w[i % 20]);
	return s;
}

/*
 * Decides how the prompt is sent (see enum bench_prompt_format) and, for ids, builds the
 * workload's ids as the built-in engine would feed them. Returns 0, or -EINVAL with a message
 * when ids were asked for and cannot be sent.
 */
static int choose_format(struct bench_http_sweep *s, const struct bench_http_opts *o,
                         const struct bench_workload *w, char *err, size_t errlen)
{
	struct bench_http_server_info si;
	const char *no_ids = o->engine == BENCH_ENGINE_OLLAMA ? "Ollama's API takes text prompts only"
	                     : o->chat         ? "the chat endpoint takes messages, not token ids"
	                     : w->prompt_text ? "the workload's prompt is a text (--prompt)"
	                                      : NULL;
	char bos_s[32];
	bool known;

	s->prompt_format = BENCH_PROMPT_TEXT;
	s->bos = -1;
	if (o->prompt_format == BENCH_PROMPT_TEXT) {
		snprintf(s->prompt_format_reason, sizeof s->prompt_format_reason, "%s",
		         "asked for (--prompt-format text)");
		return 0;
	}
	if (no_ids) {
		if (o->prompt_format == BENCH_PROMPT_IDS) {
			snprintf(err, errlen, "--prompt-format ids: %s", no_ids);
			return -EINVAL;
		}
		snprintf(s->prompt_format_reason, sizeof s->prompt_format_reason, "auto: %s", no_ids);
		return 0;
	}
	bench_http_server_info(o, &si);
	snprintf(s->server_owned_by, sizeof s->server_owned_by, "%s", si.owned_by);
	known = !strcmp(si.owned_by, "joulebench") || !strcmp(si.owned_by, "llamacpp");
	if (!si.n_vocab || !si.bos_known) {
		if (o->prompt_format == BENCH_PROMPT_IDS) {
			snprintf(err, errlen,
			         "--prompt-format ids: the ids depend on the server's vocabulary size and "
			         "BOS token, and %.300s (use --prompt-format text)",
			         si.why);
			return -EINVAL;
		}
		snprintf(s->prompt_format_reason, sizeof s->prompt_format_reason,
		         "auto: text, since %.360s", si.why);
		return 0;
	}
	if (o->prompt_format == BENCH_PROMPT_AUTO && !known) {
		snprintf(s->prompt_format_reason, sizeof s->prompt_format_reason,
		         "auto: text, since the server (owned_by \"%.60s\") is not one known to take "
		         "token-id prompts (llama-server: \"llamacpp\", joulebench serve: \"joulebench\")",
		         si.owned_by);
		return 0;
	}
	s->n_prompt_ids = w->prompt_tokens[0];
	s->prompt_ids = malloc((size_t)s->n_prompt_ids * sizeof *s->prompt_ids);
	if (!s->prompt_ids) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->prompt_format = BENCH_PROMPT_IDS;
	s->bos = si.bos;
	snprintf(s->bos_source, sizeof s->bos_source, "%s", si.bos_source);
	bench_workload_prompt_ids(w->seed, s->n_prompt_ids, si.n_vocab, si.bos, s->prompt_ids);
	if (si.bos >= 0)
		snprintf(bos_s, sizeof bos_s, "id %d", si.bos);
	else
		snprintf(bos_s, sizeof bos_s, "%s", "none");
	snprintf(s->prompt_format_reason, sizeof s->prompt_format_reason,
	         "%s: owned_by \"%.60s\", meta.n_vocab %d, BOS %s (from %s)",
	         o->prompt_format == BENCH_PROMPT_IDS ? "asked for (--prompt-format ids)" : "auto",
	         si.owned_by, si.n_vocab, bos_s, si.bos_source);
	s->n_vocab = si.n_vocab;
	return 0;
}

static void sleep_ms(int ms, volatile const sig_atomic_t *stop)
{
	for (int i = 0; i < ms && !(stop && *stop); i += 10) {
		struct timespec ts = {0, 10000000};

		nanosleep(&ts, NULL);
	}
}

int bench_http_sweep_prepare(struct bench_run *r, const struct bench_http_opts *o, char *err,
                             size_t errlen)
{
	const struct bench_workload *w = r->w;
	struct bench_http_sweep *s;
	int local, rc;

	if (r->http)
		return 0;
	s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->http = s;
	s->opts = *o;
	bench_http_endpoint(o, s->endpoint, sizeof s->endpoint);
	local = bench_url_is_local(o->url, true, s->host, sizeof s->host);
	if (local < 0) {
		snprintf(err, errlen, "--url %s: no host in the URL", o->url);
		return -EINVAL;
	}
	s->remote = local == 0 || o->remote;
	if (s->remote)
		snprintf(s->remote_reason, sizeof s->remote_reason,
		         "remote engine at %.200s%s: the local probes do not see its power",
		         s->host, local ? " (--remote)" : "");
	s->max_tokens = w->gen_tokens;
	rc = choose_format(s, o, w, err, errlen);
	if (rc < 0)
		return rc;
	if (s->prompt_format == BENCH_PROMPT_TEXT) {
		if (w->prompt_text) {
			s->prompt = strdup(w->prompt_text);
		} else {
			s->prompt_words = w->prompt_tokens[0];
			s->prompt = filler_prompt(s->prompt_words);
		}
		if (!s->prompt) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

int bench_http_sweep_run(struct bench_run *r, const struct bench_http_opts *o, struct pwr_set *pwr,
                         volatile const sig_atomic_t *stop,
                         void (*event)(void *ud, const char *phase, int level, const char *line),
                         void *ud, char *err, size_t errlen)
{
	const struct bench_workload *w = r->w;
	struct bench_http_sweep *s;
	struct bench_http_prompt prompts[1];
	char line[700];
	int rc0 = bench_http_sweep_prepare(r, o, err, errlen);

	if (rc0 < 0)
		return rc0;
	s = r->http;
	memset(prompts, 0, sizeof prompts);
	if (s->prompt_format == BENCH_PROMPT_IDS) {
		prompts[0].ids = s->prompt_ids;
		prompts[0].n_ids = s->n_prompt_ids;
		prompts[0].n_vocab = s->n_vocab;
		prompts[0].vary_at = s->bos >= 0 ? 1 : 0;
	} else {
		prompts[0].text = s->prompt;
	}
	/* warm-up: the server loads the model and fills its caches outside the measured levels */
	if (w->warmup > 0 && !(stop && *stop)) {
		struct bench_http_req *q = calloc((size_t)w->warmup, sizeof *q);
		int64_t t0 = pwr_now_ns();
		int rc;

		if (!q) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (event)
			event(ud, "warmup", -1, NULL);
		rc = bench_http_batch(o, prompts, 1, s->max_tokens, w->warmup, 1, q, stop, err,
		                      errlen);
		bench_run_phase_add(r, -1, -1, "warmup", t0, pwr_now_ns());
		for (int i = 0; i < w->warmup; i++)
			bench_http_req_free(&q[i]);
		free(q);
		if (rc < 0)
			return rc;
	}
	for (int li = 0; li < o->n_levels && !(stop && *stop); li++) {
		struct bench_http_level *L = &s->levels[li];
		int rc, ok = 0;

		s->n_levels = li + 1;
		L->concurrency = o->concurrency[li];
		L->n_req = o->requests > 0 ? o->requests
		                           : (2 * L->concurrency > 8 ? 2 * L->concurrency : 8);
		L->req = calloc((size_t)L->n_req + 1, sizeof *L->req);
		if (!L->req) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		L->started = true;
		if (event)
			event(ud, "level", li, NULL);
		pwr_sample_now(pwr);
		L->t_start_ns = pwr_now_ns();
		rc = bench_http_batch(o, prompts, 1, s->max_tokens, L->n_req, L->concurrency,
		                      L->req, stop, err, errlen);
		L->t_end_ns = pwr_now_ns();
		pwr_sample_now(pwr);
		bench_run_phase_add(r, -1, li, "level", L->t_start_ns, L->t_end_ns);
		if (rc < 0)
			return rc;
		for (int i = 0; i < L->n_req; i++)
			ok += L->req[i].ok;
		snprintf(line, sizeof line, "concurrency %d: %d/%d requests ok in %.2f s",
		         L->concurrency, ok, L->n_req, (double)(L->t_end_ns - L->t_start_ns) / 1e9);
		for (int i = 0; i < L->n_req; i++)
			if (!L->req[i].ok) {
				size_t u = strlen(line);

				snprintf(line + u, sizeof line - u, "; first failure: %.300s",
				         L->req[i].error);
				break;
			}
		if (event)
			event(ud, NULL, li, line);
		if (event && w->cooldown_s > 0 && li + 1 < o->n_levels)
			event(ud, "cooldown", li, NULL);
		if (w->cooldown_s > 0 && li + 1 < o->n_levels)
			sleep_ms((int)(w->cooldown_s * 1000), stop);
	}
	return stop && *stop ? 1 : 0;
}

/* Idle power of domain d (the mean of before and after when both exist). */
static bool idle_w(const struct bench_run *r, int d, double *wt)
{
	const struct bench_idle *b = &r->idle_before, *a = &r->idle_after;
	bool hb = b->measured && b->power_valid && b->power_valid[d];
	bool ha = a->measured && a->power_valid && a->power_valid[d];

	if (hb && ha)
		*wt = (b->power_w[d] + a->power_w[d]) / 2;
	else if (hb || ha)
		*wt = hb ? b->power_w[d] : a->power_w[d];
	return hb || ha;
}

void bench_http_sweep_energy(struct bench_run *r, struct pwr_set *pwr)
{
	struct bench_http_sweep *s = r->http;

	if (!s)
		return;
	/* what the headline figure covers: the primary (whole-system or CPU) domain plus every
	 * GPU NVML measures; those are different devices, so adding them counts nothing twice */
	s->n_covers = 0;
	if (r->primary >= 0)
		s->covers[s->n_covers++] = r->primary;
	/* A primary that gives nothing over the sweep (a counter the VM exposes but never advances)
	 * hands over to the next host source that does: measured first, then an estimate. */
	if (r->primary >= 0 && s->n_levels > 0) {
		struct pwr_energy e;
		int64_t t0 = s->levels[0].t_start_ns, t1 = s->levels[s->n_levels - 1].t_end_ns;

		if (pwr_energy_window(pwr, r->primary, t0, t1, &e) == 0 && !e.valid) {
			int pick = -1;

			for (int pass = 0; pass < 2 && pick < 0; pass++)
				for (int d = 0; d < r->n_domains && pick < 0; d++) {
					const struct pwr_domain_desc *dd = &r->domains[d];
					const char *id = dd->id;
					size_t n = strlen(id);
					struct pwr_energy ed;

					if (d == r->primary || !strcmp(dd->backend, "nvml") ||
					    (n > 4 && (!strcmp(id + n - 4, "-low") ||
					               (n > 5 && !strcmp(id + n - 5, "-high")))) ||
					    !strcmp(id, "vm:machine") ||
					    (pass == 0) != (dd->kind == PWR_MEASURED))
						continue;
					if (pwr_energy_window(pwr, d, t0, t1, &ed) == 0 && ed.valid)
						pick = d;
				}
			snprintf(s->covers_reason, sizeof s->covers_reason,
			         "%.90s gave no figure (%.200s)%s%.90s", r->domains[r->primary].id, e.reason,
			         pick >= 0 ? "; the host figure is " : "",
			         pick >= 0 ? r->domains[pick].id : "");
			if (pick >= 0)
				s->covers[0] = pick;
		}
	}
	for (int d = 0; d < r->n_domains && s->n_covers < 8; d++)
		if (d != r->primary && !strcmp(r->domains[d].backend, "nvml"))
			s->covers[s->n_covers++] = d;
	if (s->remote)
		snprintf(s->covers_reason, sizeof s->covers_reason, "%s", s->remote_reason);
	else if (s->covers_reason[0])
		; /* the primary handed over (above) */
	else if (s->n_covers == 0)
		snprintf(s->covers_reason, sizeof s->covers_reason, "no energy source: %.360s",
		         r->primary_reason);
	else if (r->primary < 0)
		snprintf(s->covers_reason, sizeof s->covers_reason, "%s",
		         "GPUs only: no CPU package or system domain was available");
	for (int li = 0; li < s->n_levels; li++) {
		struct bench_http_level *L = &s->levels[li];

		L->by_domain_j = calloc((size_t)r->n_domains + 1, sizeof *L->by_domain_j);
		if (!L->by_domain_j) {
			snprintf(L->energy_reason, sizeof L->energy_reason, "out of memory");
			continue;
		}
		for (int d = 0; d < r->n_domains; d++) {
			struct pwr_energy e;

			L->by_domain_j[d] = NAN;
			if (pwr_energy_window(pwr, d, L->t_start_ns, L->t_end_ns, &e) == 0 &&
			    e.valid)
				L->by_domain_j[d] = e.energy_j;
		}
		if (s->remote) {
			snprintf(L->energy_reason, sizeof L->energy_reason, "%s", s->remote_reason);
			continue;
		}
		if (s->n_covers == 0) {
			snprintf(L->energy_reason, sizeof L->energy_reason, "%s", s->covers_reason);
			continue;
		}
		L->energy_valid = true;
		L->energy_j = 0;
		for (int k = 0; k < s->n_covers; k++) {
			int d = s->covers[k];
			struct pwr_energy e;

			if (isnan(L->by_domain_j[d])) {
				L->energy_valid = false;
				pwr_energy_window(pwr, d, L->t_start_ns, L->t_end_ns, &e);
				snprintf(L->energy_reason, sizeof L->energy_reason, "%.90s: %.300s",
				         r->domains[d].id,
				         e.reason[0] ? e.reason : "no samples in the window");
				break;
			}
			L->energy_j += L->by_domain_j[d];
			L->energy_estimated |= r->domains[d].kind == PWR_ESTIMATED;
		}
	}
}

void bench_http_sweep_free(struct bench_http_sweep *s)
{
	if (!s)
		return;
	for (int li = 0; li < s->n_levels; li++) {
		for (int i = 0; i < s->levels[li].n_req && s->levels[li].req; i++)
			bench_http_req_free(&s->levels[li].req[i]);
		free(s->levels[li].req);
		free(s->levels[li].by_domain_j);
	}
	free(s->prompt);
	free(s->prompt_ids);
	free(s);
}

/* ---- summaries -------------------------------------------------------------------------- */

void bench_http_level_summarize(const struct bench_run *r, int li,
                                struct bench_http_level_summary *s)
{
	const struct bench_http_sweep *h = r->http;
	const struct bench_http_level *L = &h->levels[li];
	double *tt = NULL, *itl = NULL, *srv = NULL, idle = 0;
	int n_itl = 0, k = 0, ki = 0, ks = 0;
	bool all_usage = true, any = false, net_ok = true;

	memset(s, 0, sizeof *s);
	for (int i = 0; i < L->n_req; i++)
		n_itl += L->req[i].ok ? L->req[i].n_itl : 0;
	tt = calloc((size_t)L->n_req + 1, sizeof *tt);
	itl = calloc((size_t)n_itl + 1, sizeof *itl);
	srv = calloc((size_t)L->n_req + 1, sizeof *srv);
	s->duration_s = (double)(L->t_end_ns - L->t_start_ns) / 1e9;
	for (int i = 0; i < L->n_req; i++) {
		const struct bench_http_req *q = &L->req[i];

		if (q->completion_tokens > 0)
			s->output_tokens += q->completion_tokens;
		if (q->prompt_tokens > 0)
			s->prompt_tokens += q->prompt_tokens;
		if (!q->ok) {
			s->n_failed++;
			s->n_timed_out += q->timed_out;
			if (!s->first_error[0])
				snprintf(s->first_error, sizeof s->first_error,
				         "request %d: %.490s", i, q->error);
			continue;
		}
		s->n_ok++;
		any = true;
		if (strcmp(q->token_count_source, "usage") &&
		    strcmp(q->token_count_source, "eval_count"))
			all_usage = false;
		if (tt && q->t_first_ns)
			tt[k++] = (double)(q->t_first_ns - q->t_start_ns) / 1e6;
		for (int j = 0; itl && j < q->n_itl; j++)
			itl[ki++] = (double)q->itl_ns[j] / 1e6;
		if (srv && q->has_ollama && q->ollama_eval_count > 0 &&
		    q->ollama_eval_duration_ns > 0)
			srv[ks++] = (double)q->ollama_eval_count /
			            ((double)q->ollama_eval_duration_ns / 1e9);
	}
	if (ks > 0) {
		s->server_tok_s_valid = true;
		s->server_decode_tok_s = rpt_median(srv, ks);
	}
	free(srv);
	snprintf(s->token_count_source, sizeof s->token_count_source, "%s",
	         !any        ? "none"
	         : all_usage ? (h->opts.engine == BENCH_ENGINE_OLLAMA ? "eval_count" : "usage")
	                     : "streamed_chunks");
	if (s->duration_s > 0) {
		s->agg_tok_s = (double)s->output_tokens / s->duration_s;
		s->req_s = s->n_ok / s->duration_s;
	}
	if (k > 0) {
		s->ttft_valid = true;
		s->ttft_p50_ms = rpt_percentile(tt, k, 50);
		s->ttft_p90_ms = rpt_percentile(tt, k, 90);
		s->ttft_p99_ms = rpt_percentile(tt, k, 99);
	}
	if (ki > 0) {
		s->itl_valid = true;
		s->itl_p50_ms = rpt_percentile(itl, ki, 50);
		s->itl_p90_ms = rpt_percentile(itl, ki, 90);
		s->itl_p99_ms = rpt_percentile(itl, ki, 99);
	}
	free(tt);
	free(itl);
	if (!L->energy_valid) {
		snprintf(s->jpt_reason, sizeof s->jpt_reason, "%s",
		         L->energy_reason[0] ? L->energy_reason : "energy not computed");
		snprintf(s->net_reason, sizeof s->net_reason, "%.250s", s->jpt_reason);
		return;
	}
	if (s->output_tokens <= 0) {
		snprintf(s->jpt_reason, sizeof s->jpt_reason, "%s",
		         "no token was generated in this level");
		snprintf(s->net_reason, sizeof s->net_reason, "%.250s", s->jpt_reason);
		return;
	}
	s->jpt_valid = true;
	s->j_per_token = L->energy_j / (double)s->output_tokens;
	s->avg_power_w = s->duration_s > 0 ? L->energy_j / s->duration_s : 0;
	for (int c = 0; c < h->n_covers; c++) {
		double wt;

		if (!idle_w(r, h->covers[c], &wt)) {
			net_ok = false;
			snprintf(s->net_reason, sizeof s->net_reason,
			         "no idle power for %.60s: %.160s", r->domains[h->covers[c]].id,
			         r->idle_before.reason[0] ? r->idle_before.reason
			                                  : "the idle window had no samples");
			break;
		}
		idle += wt;
	}
	if (net_ok) {
		double net = L->energy_j - idle * s->duration_s;

		s->net_valid = true;
		s->j_per_token_net = net / (double)s->output_tokens;
		if (net > 0)
			s->tokens_per_j = (double)s->output_tokens / net;
	}
}

/* ---- result.json ------------------------------------------------------------------------- */

static void null_r(cJSON *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void null_r(cJSON *o, const char *key, const char *fmt, ...)
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

static void pct(cJSON *o, const char *key, bool valid, double p50, double p90, double p99,
                const char *why)
{
	cJSON *x;

	if (!valid) {
		null_r(o, key, "%s", why);
		return;
	}
	x = cJSON_AddObjectToObject(o, key);
	cJSON_AddNumberToObject(x, "p50", p50);
	cJSON_AddNumberToObject(x, "p90", p90);
	cJSON_AddNumberToObject(x, "p99", p99);
}

static void add_request(cJSON *a, const struct bench_http_req *q)
{
	cJSON *j = cJSON_CreateObject(), *x;

	cJSON_AddItemToArray(a, j);
	cJSON_AddNumberToObject(j, "index", q->index);
	cJSON_AddBoolToObject(j, "ok", q->ok);
	if (q->ok)
		null_r(j, "error", "%s", "no error");
	else
		cJSON_AddStringToObject(j, "error", q->error);
	cJSON_AddBoolToObject(j, "timed_out", q->timed_out);
	if (q->http_status)
		cJSON_AddNumberToObject(j, "http_status", q->http_status);
	else
		null_r(j, "http_status", "%s", "no HTTP response arrived");
	cJSON_AddNumberToObject(j, "t_start_ns", (double)q->t_start_ns);
	if (q->t_first_ns) {
		cJSON_AddNumberToObject(j, "t_first_token_ns", (double)q->t_first_ns);
		cJSON_AddNumberToObject(j, "ttft_ns", (double)(q->t_first_ns - q->t_start_ns));
	} else {
		null_r(j, "t_first_token_ns", "%s", "no token arrived");
		null_r(j, "ttft_ns", "%s", "no token arrived");
	}
	cJSON_AddNumberToObject(j, "t_end_ns", (double)q->t_end_ns);
	cJSON_AddNumberToObject(j, "chunks", q->n_chunks);
	x = cJSON_AddArrayToObject(j, "itl_ns");
	for (int i = 0; i < q->n_itl; i++)
		cJSON_AddItemToArray(x, cJSON_CreateNumber((double)q->itl_ns[i]));
	if (q->prompt_tokens >= 0)
		cJSON_AddNumberToObject(j, "prompt_tokens", q->prompt_tokens);
	else
		null_r(j, "prompt_tokens", "%s", "the server did not report it");
	cJSON_AddNumberToObject(j, "completion_tokens",
	                        q->completion_tokens > 0 ? q->completion_tokens : 0);
	cJSON_AddStringToObject(j, "token_count_source",
	                        q->token_count_source[0] ? q->token_count_source : "none");
	if (q->finish_reason[0])
		cJSON_AddStringToObject(j, "finish_reason", q->finish_reason);
	else
		null_r(j, "finish_reason", "%s", "the server did not report it");
	if (q->has_ollama) {
		x = cJSON_AddObjectToObject(j, "ollama");
		cJSON_AddNumberToObject(x, "eval_count", (double)q->ollama_eval_count);
		cJSON_AddNumberToObject(x, "eval_duration_ns", (double)q->ollama_eval_duration_ns);
		cJSON_AddNumberToObject(x, "prompt_eval_count",
		                        (double)q->ollama_prompt_eval_count);
		cJSON_AddNumberToObject(x, "prompt_eval_duration_ns",
		                        (double)q->ollama_prompt_eval_duration_ns);
	} else {
		null_r(j, "ollama", "%s", "not an Ollama stream, or it did not finish");
	}
}

static void add_level(cJSON *a, const struct bench_run *r, int li)
{
	const struct bench_http_sweep *h = r->http;
	const struct bench_http_level *L = &h->levels[li];
	struct bench_http_level_summary s;
	cJSON *j = cJSON_CreateObject(), *x;

	cJSON_AddItemToArray(a, j);
	bench_http_level_summarize(r, li, &s);
	cJSON_AddNumberToObject(j, "concurrency", L->concurrency);
	cJSON_AddNumberToObject(j, "n_requests", L->n_req);
	cJSON_AddNumberToObject(j, "n_ok", s.n_ok);
	cJSON_AddNumberToObject(j, "n_failed", s.n_failed);
	cJSON_AddNumberToObject(j, "n_timed_out", s.n_timed_out);
	if (s.first_error[0])
		cJSON_AddStringToObject(j, "first_error", s.first_error);
	else
		null_r(j, "first_error", "%s", "every request succeeded");
	cJSON_AddNumberToObject(j, "t_start_ns", (double)L->t_start_ns);
	cJSON_AddNumberToObject(j, "t_end_ns", (double)L->t_end_ns);
	cJSON_AddNumberToObject(j, "duration_s", s.duration_s);
	cJSON_AddNumberToObject(j, "output_tokens", (double)s.output_tokens);
	cJSON_AddNumberToObject(j, "prompt_tokens", (double)s.prompt_tokens);
	cJSON_AddStringToObject(j, "token_count_source", s.token_count_source);
	cJSON_AddNumberToObject(j, "agg_tok_s", s.agg_tok_s);
	cJSON_AddNumberToObject(j, "req_s", s.req_s);
	pct(j, "ttft_ms", s.ttft_valid, s.ttft_p50_ms, s.ttft_p90_ms, s.ttft_p99_ms,
	    "no request succeeded");
	pct(j, "itl_ms", s.itl_valid, s.itl_p50_ms, s.itl_p90_ms, s.itl_p99_ms,
	    "no successful request streamed two token chunks");
	if (s.server_tok_s_valid)
		cJSON_AddNumberToObject(j, "server_decode_tok_s", s.server_decode_tok_s);
	else
		null_r(j, "server_decode_tok_s", "%s",
		       "the server reports no decode timing of its own (Ollama's "
		       "eval_count/eval_duration)");
	if (L->energy_valid) {
		cJSON_AddNumberToObject(j, "energy_j", L->energy_j);
		cJSON_AddStringToObject(j, "energy_kind",
		                        L->energy_estimated ? "estimated" : "measured");
	} else {
		null_r(j, "energy_j", "%s", L->energy_reason);
		null_r(j, "energy_kind", "%s", L->energy_reason);
	}
	if (s.jpt_valid) {
		cJSON_AddNumberToObject(j, "j_per_token", s.j_per_token);
		cJSON_AddNumberToObject(j, "avg_power_w", s.avg_power_w);
	} else {
		null_r(j, "j_per_token", "%s", s.jpt_reason);
		null_r(j, "avg_power_w", "%s", s.jpt_reason);
	}
	if (s.net_valid)
		cJSON_AddNumberToObject(j, "j_per_token_net", s.j_per_token_net);
	else
		null_r(j, "j_per_token_net", "%s", s.jpt_valid ? s.net_reason : s.jpt_reason);
	if (s.net_valid && s.tokens_per_j > 0)
		cJSON_AddNumberToObject(j, "tokens_per_j", s.tokens_per_j);
	else
		null_r(j, "tokens_per_j", "%s",
		       s.net_valid
		           ? "net energy was not positive: idle power at least the level's power"
		       : s.jpt_valid ? s.net_reason
		                     : s.jpt_reason);
	x = cJSON_AddObjectToObject(j, "energy_by_source");
	for (int d = 0; d < r->n_domains; d++)
		if (L->by_domain_j && !isnan(L->by_domain_j[d]))
			cJSON_AddNumberToObject(x, r->domains[d].id, L->by_domain_j[d]);
		else
			cJSON_AddNullToObject(x, r->domains[d].id);
	x = cJSON_AddArrayToObject(j, "requests");
	for (int i = 0; i < L->n_req; i++)
		add_request(x, &L->req[i]);
}

/*
 * sweep.server_added_bos for an ids prompt: usage.prompt_tokens of every request that reported
 * one equals the ids sent (false: nothing added), or the ids sent + 1 (true: a second BOS, or
 * whatever the server put in front); null + reason otherwise.
 */
static void server_bos(cJSON *s, const struct bench_http_sweep *h)
{
	int same = 0, plus1 = 0, other = 0, other_v = 0;

	for (int li = 0; li < h->n_levels; li++)
		for (int i = 0; i < h->levels[li].n_req; i++) {
			const struct bench_http_req *q = &h->levels[li].req[i];

			if (!q->ok || q->prompt_tokens < 0)
				continue;
			if (q->prompt_tokens == h->n_prompt_ids)
				same++;
			else if (q->prompt_tokens == h->n_prompt_ids + 1)
				plus1++;
			else if (!other++)
				other_v = q->prompt_tokens;
		}
	if (same && !plus1 && !other)
		cJSON_AddBoolToObject(s, "server_added_bos", 0);
	else if (plus1 && !same && !other)
		cJSON_AddBoolToObject(s, "server_added_bos", 1);
	else if (!same && !plus1 && !other)
		null_r(s, "server_added_bos", "%s",
		       "no successful request reported usage.prompt_tokens");
	else
		null_r(s, "server_added_bos",
		       "usage.prompt_tokens was the %d ids sent in %d requests, one more in %d, "
		       "something else in %d (first %d)",
		       h->n_prompt_ids, same, plus1, other, other_v);
}

void bench_http_json(cJSON *root, const struct bench_run *r)
{
	const struct bench_http_sweep *h = r->http;
	cJSON *e = cJSON_AddObjectToObject(root, "engine"), *s, *x;

	if (!h) {
		cJSON_AddStringToObject(e, "name", "builtin");
		cJSON_AddNullToObject(e, "url");
		cJSON_AddNullToObject(e, "endpoint");
		cJSON_AddNullToObject(e, "model_name");
		cJSON_AddBoolToObject(e, "chat", 0);
		cJSON_AddBoolToObject(e, "remote", 0);
		cJSON_AddNullToObject(e, "host");
		cJSON_AddNullToObject(e, "n_params");
		null_r(root, "sweep", "%s",
		       "the built-in engine runs one stream per configuration; a concurrency sweep "
		       "needs --engine openai or ollama");
		return;
	}
	cJSON_AddStringToObject(e, "name", bench_engine_name(h->opts.engine));
	cJSON_AddStringToObject(e, "url", h->opts.url);
	cJSON_AddStringToObject(e, "endpoint", h->endpoint);
	cJSON_AddStringToObject(e, "model_name", h->opts.model);
	cJSON_AddBoolToObject(e, "chat", h->opts.chat);
	cJSON_AddBoolToObject(e, "remote", h->remote);
	cJSON_AddStringToObject(e, "host", h->host);
	if (h->opts.n_params > 0)
		cJSON_AddNumberToObject(e, "n_params", h->opts.n_params);
	else
		cJSON_AddNullToObject(e, "n_params");
	s = cJSON_AddObjectToObject(root, "sweep");
	if (h->opts.requests > 0)
		cJSON_AddNumberToObject(s, "requests_per_level", h->opts.requests);
	else
		cJSON_AddNullToObject(s, "requests_per_level");
	cJSON_AddNumberToObject(s, "max_tokens", h->max_tokens);
	cJSON_AddBoolToObject(s, "ignore_eos", h->opts.ignore_eos);
	cJSON_AddBoolToObject(s, "unique_prompts", !h->opts.same_prompt);
	if (h->opts.timeout_s > 0)
		cJSON_AddNumberToObject(s, "timeout_s", h->opts.timeout_s);
	else
		cJSON_AddNullToObject(s, "timeout_s");
	if (h->prompt_words)
		cJSON_AddNumberToObject(s, "prompt_words", h->prompt_words);
	else
		cJSON_AddNullToObject(s, "prompt_words");
	cJSON_AddStringToObject(s, "prompt_format", bench_prompt_format_name(h->prompt_format));
	cJSON_AddStringToObject(s, "prompt_format_asked",
	                        bench_prompt_format_name(h->opts.prompt_format));
	cJSON_AddStringToObject(s, "prompt_format_reason", h->prompt_format_reason);
	if (h->server_owned_by[0])
		cJSON_AddStringToObject(s, "server_owned_by", h->server_owned_by);
	else
		null_r(s, "server_owned_by", "%s",
		       h->opts.prompt_format == BENCH_PROMPT_TEXT || h->opts.engine != BENCH_ENGINE_OPENAI
		           ? "not asked: the server's model list was not read"
		           : "the server's model list gave no owned_by");
	if (h->prompt_format == BENCH_PROMPT_IDS) {
		cJSON_AddNumberToObject(s, "prompt_ids_sent", h->n_prompt_ids);
		if (h->bos >= 0)
			cJSON_AddNumberToObject(s, "bos_token_id", h->bos);
		else
			null_r(s, "bos_token_id", "the server's vocabulary adds no BOS (%s)",
			       h->bos_source);
		server_bos(s, h);
	} else {
		null_r(s, "prompt_ids_sent", "%s", "the prompt was sent as text");
		null_r(s, "bos_token_id", "%s", "the prompt was sent as text: the server tokenizes it");
		null_r(s, "server_added_bos", "%s",
		       "the prompt was sent as text: the server tokenizes it, so its prompt_tokens "
		       "cannot tell");
	}
	x = cJSON_AddArrayToObject(s, "energy_covers");
	if (!h->remote)
		for (int k = 0; k < h->n_covers; k++) {
			cJSON *c = cJSON_CreateObject();
			const struct pwr_domain_desc *d = &r->domains[h->covers[k]];

			cJSON_AddItemToArray(x, c);
			cJSON_AddStringToObject(c, "id", d->id);
			cJSON_AddStringToObject(c, "covers", d->covers);
			cJSON_AddStringToObject(
			    c, "kind", d->kind == PWR_ESTIMATED ? "estimated" : "measured");
		}
	if (h->covers_reason[0])
		cJSON_AddStringToObject(s, "energy_note", h->covers_reason);
	else
		cJSON_AddNullToObject(s, "energy_note");
	x = cJSON_AddArrayToObject(s, "levels");
	for (int li = 0; li < h->n_levels; li++)
		add_level(x, r, li);
}

/* ---- summary.csv and the table ----------------------------------------------------------- */

static void csv_str(FILE *f, const char *s)
{
	fputc(',', f);
	if (strpbrk(s, ",\"\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			if (*s != '\n')
				fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
}

void bench_http_csv(const struct bench_run *r, FILE *f)
{
	const struct bench_http_sweep *h = r->http;

	fputs("level,engine,model,concurrency,requests,ok,failed,timed_out,agg_tok_s,req_s,"
	      "ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,itl_p50_ms,itl_p90_ms,itl_p99_ms,output_tokens,"
	      "token_count_source,energy_j,energy_kind,j_per_token,j_per_token_net,tokens_per_j,"
	      "avg_power_w,complete,energy_reason,first_error\n",
	      f);
	for (int li = 0; li < h->n_levels; li++) {
		const struct bench_http_level *L = &h->levels[li];
		struct bench_http_level_summary s;

		bench_http_level_summarize(r, li, &s);
		fprintf(f, "%d", li);
		csv_str(f, bench_engine_name(h->opts.engine));
		csv_str(f, h->opts.model);
		fprintf(f, ",%d,%d,%d,%d,%d", L->concurrency, L->n_req, s.n_ok, s.n_failed,
		        s.n_timed_out);
		bench_csv_num(f, true, s.agg_tok_s);
		bench_csv_num(f, true, s.req_s);
		bench_csv_num(f, s.ttft_valid, s.ttft_p50_ms);
		bench_csv_num(f, s.ttft_valid, s.ttft_p90_ms);
		bench_csv_num(f, s.ttft_valid, s.ttft_p99_ms);
		bench_csv_num(f, s.itl_valid, s.itl_p50_ms);
		bench_csv_num(f, s.itl_valid, s.itl_p90_ms);
		bench_csv_num(f, s.itl_valid, s.itl_p99_ms);
		fprintf(f, ",%lld", (long long)s.output_tokens);
		csv_str(f, s.token_count_source);
		bench_csv_num(f, L->energy_valid, L->energy_j);
		csv_str(f, L->energy_valid ? (L->energy_estimated ? "estimated" : "measured") : "");
		bench_csv_num(f, s.jpt_valid, s.j_per_token);
		bench_csv_num(f, s.net_valid, s.j_per_token_net);
		bench_csv_num(f, s.net_valid && s.tokens_per_j > 0, s.tokens_per_j);
		bench_csv_num(f, s.jpt_valid, s.avg_power_w);
		fprintf(f, ",%s", s.n_failed == 0 && r->complete ? "true" : "false");
		csv_str(f, s.jpt_valid ? "" : s.jpt_reason);
		csv_str(f, s.first_error);
		fputc('\n', f);
	}
}

static void cellf(char *buf, size_t len, bool valid, const char *fmt, double v)
{
	if (valid && isfinite(v))
		snprintf(buf, len, fmt, v);
	else
		snprintf(buf, len, "%s", "n/a");
}

void bench_http_table(const struct bench_run *r, FILE *f)
{
	const struct bench_http_sweep *h = r->http;
	bool said = false;

	fprintf(f, "%s %s at %s\n", bench_engine_name(h->opts.engine), h->opts.model, h->endpoint);
	if (h->prompt_format == BENCH_PROMPT_IDS)
		fprintf(f, "prompt: %d token ids, the built-in engine's (%s)\n", h->n_prompt_ids,
		        h->prompt_format_reason);
	else
		fprintf(f, "prompt: text (%s)\n", h->prompt_format_reason);
	fprintf(f, "%5s %9s %10s %10s %10s %10s %12s %12s\n", "conc", "ok/req", "agg tok/s",
	        "TTFT p50", "TTFT p99", "ITL p50", "J/token", "J/tok (net)");
	for (int li = 0; li < h->n_levels; li++) {
		const struct bench_http_level *L = &h->levels[li];
		struct bench_http_level_summary s;
		char okr[24], ag[24], t50[24], t99[24], i50[24], jt[24], jn[24];

		bench_http_level_summarize(r, li, &s);
		snprintf(okr, sizeof okr, "%d/%d", s.n_ok, L->n_req);
		cellf(ag, sizeof ag, true, "%.1f", s.agg_tok_s);
		cellf(t50, sizeof t50, s.ttft_valid, "%.1f ms", s.ttft_p50_ms);
		cellf(t99, sizeof t99, s.ttft_valid, "%.1f ms", s.ttft_p99_ms);
		cellf(i50, sizeof i50, s.itl_valid, "%.2f ms", s.itl_p50_ms);
		cellf(jt, sizeof jt, s.jpt_valid, "%.4g", s.j_per_token);
		cellf(jn, sizeof jn, s.net_valid, "%.4g", s.j_per_token_net);
		fprintf(f, "%5d %9s %10s %10s %10s %10s %12s %12s\n", L->concurrency, okr, ag, t50,
		        t99, i50, jt, jn);
		if (s.first_error[0])
			fprintf(f, "  failed: %s\n", s.first_error);
		if (!s.jpt_valid && !said) {
			fprintf(f, "  no energy: %s\n", s.jpt_reason);
			said = true;
		}
	}
	if (!h->remote && h->n_covers > 0) {
		fprintf(f, "Energy covers:");
		for (int k = 0; k < h->n_covers; k++)
			fprintf(f, "%s %s", k ? "," : "", r->domains[h->covers[k]].id);
		fprintf(f, " (the whole level's window: every request, prefill and decode)\n");
		if (h->covers_reason[0])
			fprintf(f, "  note: %s\n", h->covers_reason);
	}
	if (!r->complete)
		fprintf(f, "INCOMPLETE: %s\n", r->incomplete_reason);
}
