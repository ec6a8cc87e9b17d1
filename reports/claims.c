/*
 * reports/claims.c — popular statements about local vs cloud LLM energy, checked against the
 * user's own results and the cited cloud profiles. Each verdict comes with the numbers behind it;
 * a claim the results cannot decide says what to run. A verdict resting on estimated (not
 * measured) local energy is flagged as such.
 *
 * Decision rule everywhere: a 95% CI (or low–high range) entirely inside the claimed range →
 * supported; entirely outside → contradicted; straddling an edge → not testable with these
 * results (the numbers are shown). When some results measured their energy, only those decide;
 * estimated ones are shown next to them for reference.
 */
#include "reports/rpt_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CLAIM_7B_LOW    6e9 /* "7B class": 6–9 B parameters (Llama-2-7B … Llama-3-8B) */
#define CLAIM_7B_HIGH   9e9
#define CHAT_MIN_PARAMS 1e9 /* below this a model is not a chatbot-scale LLM */
#define RUN_CLAIM_7B    "run `joulebench run configs/workloads/claim-7b.json` (llama-2-7b shape, Q4_0)"

const char *rpt_verdict_name(enum rpt_verdict v)
{
	switch (v) {
	case RPT_SUPPORTED:
		return "supported";
	case RPT_CONTRADICTED:
		return "contradicted";
	default:
		return "not testable with these results";
	}
}

static void addf(struct rpt_claim *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct rpt_claim *c, const char *fmt, ...)
{
	size_t n = strlen(c->evidence);
	va_list ap;

	if (n + 1 >= sizeof c->evidence)
		return;
	va_start(ap, fmt);
	vsnprintf(c->evidence + n, sizeof c->evidence - n, fmt, ap);
	va_end(ap);
}

/* Outcomes of one claim's comparisons: `yes` for the claim, `no` against it, of `tested`. */
struct tally {
	int tested, yes, no;
};

static void tally_add(struct tally *all, struct tally *measured, bool estimated, int outcome)
{
	all->tested++;
	all->yes += outcome > 0;
	all->no += outcome < 0;
	if (!estimated) {
		measured->tested++;
		measured->yes += outcome > 0;
		measured->no += outcome < 0;
	}
}

/* The tally that decides: the measured comparisons when there are any (the claim then no longer
 * rests on an estimate), else all of them. */
static const struct tally *tally_pick(const struct tally *all, const struct tally *measured,
                                      struct rpt_claim *c)
{
	if (measured->tested == 0 || measured->tested == all->tested)
		return all;
	c->estimated = false;
	addf(c,
	     "Verdict from the %d measured comparison%s only; the %d resting on ESTIMATED energy "
	     "are shown for reference.\n",
	     measured->tested, measured->tested == 1 ? "" : "s", all->tested - measured->tested);
	return measured;
}

static bool quantized(const char *type)
{
	return !strcmp(type, "q4_0") || !strcmp(type, "q8_0");
}

/* Where a CI [lo, hi] lies relative to [a, b]: +1 inside, -1 outside, 0 straddling. */
static int placement(double lo, double hi, double a, double b)
{
	if (lo >= a && hi <= b)
		return 1;
	if (hi < a || lo > b)
		return -1;
	return 0;
}

static void source_note(struct rpt_claim *c, const struct rpt_result *r, const struct rpt_config *k)
{
	const struct rpt_source *s = rpt_find_source(r, k->energy_source);

	if (!strcmp(k->energy_kind, "estimated")) {
		c->estimated = true;
		addf(c, "ESTIMATED by '%s'%s%s%s", k->energy_source, s && s->model[0] ? " (" : "",
		     s && s->model[0] ? s->model : "", s && s->model[0] ? ")" : "");
		if (k->est_range)
			addf(c, "; the estimate's range (low-high coefficients, '%s' and '%s'): decode "
			        "J/token gross %.3g-%.3g, average power %.3g-%.3g W; the verdict allows "
			        "for the whole range",
			     k->est_low_id, k->est_high_id, k->est_decode_jpt_gross.lo,
			     k->est_decode_jpt_gross.hi, k->est_avg_power_w.ok ? k->est_avg_power_w.lo : 0,
			     k->est_avg_power_w.ok ? k->est_avg_power_w.hi : 0);
	} else {
		addf(c, "measured by '%s'%s%s%s", k->energy_source,
		     s && s->covers[0] ? ", covers " : "", s && s->covers[0] ? s->covers : "", "");
	}
}

/* 1. "A quantized 7B model on a laptop draws 20–50 W." */
static void claim_laptop_watts(struct rpt_result *const *rs, int n, struct rpt_claim *c)
{
	struct tally all = {0}, measured = {0};
	const struct tally *t;

	c->id = "laptop-7b-watts";
	c->claim = "A quantized 7B model on a laptop draws 20-50 W";
	for (int i = 0; i < n; i++) {
		const struct rpt_result *r = rs[i];
		const struct rpt_config *best = NULL;

		if (strcmp(r->kind, "run") || !r->n_params.ok || r->n_params.v < CLAIM_7B_LOW ||
		    r->n_params.v >= CLAIM_7B_HIGH)
			continue;
		for (int k = 0; k < r->n_configs; k++) {
			const struct rpt_config *x = &r->configs[k];

			if (quantized(x->type) && x->avg_power_w.ok && x->energy_source[0] &&
			    (!best || (x->decode_tok_s.ok && best->decode_tok_s.ok &&
			               x->decode_tok_s.median > best->decode_tok_s.median)))
				best = x;
		}
		if (!best) {
			addf(c,
			     "%s: %.3g B params but no quantized configuration with an average "
			     "power "
			     "figure.\n",
			     rj_label(r->path), r->n_params.v / 1e9);
			continue;
		}
		const struct rpt_stat *w = &best->avg_power_w;
		double wlo = w->ci_low, whi = w->ci_high;

		/* an estimate with a range: its low/high coefficients widen the interval */
		if (best->est_avg_power_w.ok) {
			wlo = best->est_avg_power_w.lo < wlo ? best->est_avg_power_w.lo : wlo;
			whi = best->est_avg_power_w.hi > whi ? best->est_avg_power_w.hi : whi;
		}
		int p = placement(wlo, whi, 20, 50);

		tally_add(&all, &measured, !strcmp(best->energy_kind, "estimated"), p);
		addf(c,
		     "%s: %s, %.3g B params, %s, %d threads: average power %.1f W (95%% CI%s "
		     "%.1f-%.1f), ",
		     rj_label(r->path), r->model_name[0] ? r->model_name : r->model_spec,
		     r->n_params.v / 1e9, best->type, best->threads, w->median,
		     best->est_avg_power_w.ok ? " and estimate range" : "", wlo, whi);
		source_note(c, r, best);
		addf(c, "; %s the 20-50 W range.%s%s%s%s\n",
		     p == 1    ? "inside"
		     : p == -1 ? "outside"
		               : "straddles an edge of",
		     r->virtualized[0] ? " Machine is a virtual machine (" : "",
		     r->virtualized[0] ? r->virtualized : "", r->virtualized[0] ? ")." : "",
		     r->complete ? "" : " Run INCOMPLETE.");
	}
	if (all.tested == 0) {
		c->verdict = RPT_NOT_TESTABLE;
		addf(c,
		     "No result ran a quantized (Q4_0/Q8_0) model of 6-9 B parameters with an "
		     "energy "
		     "source. To test it, %s on a laptop with a power probe (RAPL psys or "
		     "battery).\n",
		     RUN_CLAIM_7B);
		return;
	}
	t = tally_pick(&all, &measured, c);
	c->verdict = t->yes == t->tested ? RPT_SUPPORTED
	             : t->no > 0         ? RPT_CONTRADICTED
	                                 : RPT_NOT_TESTABLE;
	addf(c,
	     "Result files do not record the form factor: this checks the power drawn by the "
	     "machine that ran, whatever it is. Package-only domains exclude display, memory and "
	     "board power.\n");
}

/* Local gross Wh for a response of `answer` tokens to the result's prompt. */
static struct rpt_range local_response(const struct rj_local *l, int answer)
{
	return rj_local_query_wh(l, l->cfg->prompt_tokens, answer);
}

/*
 * True when result r can test a claim that needs a chatbot-scale model: a run with a local
 * energy figure (filled into *l) and at least CHAT_MIN_PARAMS parameters. Otherwise adds a line
 * to c saying why not; `small_why` explains why a smaller model does not count.
 */
static bool chat_scale_local(const struct rpt_result *r, struct rj_local *l, struct rpt_claim *c,
                             const char *small_why)
{
	if (strcmp(r->kind, "run"))
		return false;
	rj_local(r, l);
	if (!l->ok) {
		addf(c, "%s: no local energy (%s).\n", rj_label(r->path), l->reason);
		return false;
	}
	if (!r->n_params.ok) {
		addf(c, "%s: the model's parameter count is not recorded (%s).\n", rj_label(r->path),
		     r->n_params.reason);
		return false;
	}
	if (r->n_params.v < CHAT_MIN_PARAMS) {
		addf(c, "%s: model has %.3g parameters; %s.\n", rj_label(r->path), r->n_params.v,
		     small_why);
		return false;
	}
	return true;
}

/* 2. "A cloud chatbot query uses 10–100× the energy of a local response." */
static void claim_cloud_multiple(struct rpt_result *const *rs, int n,
                                 const struct rpt_cloud_profile *ps, int np, struct rpt_claim *c)
{
	struct tally all = {0}, measured = {0};
	const struct tally *t;

	c->id = "cloud-query-10-100x";
	c->claim = "A cloud chatbot query uses 10-100x the energy of a local response";
	for (int i = 0; i < n; i++) {
		struct rj_local l;
		const struct rpt_result *r = rs[i];

		if (!chat_scale_local(r, &l, c,
		                      "a chatbot-like local response needs a model of at least 1 B "
		                      "parameters"))
			continue;
		for (int k = 0; k < np; k++) {
			const struct rpt_cloud_profile *p = &ps[k];
			struct rpt_cloud_estimate e;
			struct rpt_cloud_query q = {0};
			char why[RPT_ERR_LEN];
			const struct rpt_const *tq = rpt_cloud_const(p, "tokens_per_query");

			if (p->method != RPT_CLOUD_PER_PROMPT || !tq ||
			    rpt_cloud_estimate(p, &q, &e, why, sizeof why))
				continue;
			struct rpt_range mid = local_response(&l, (int)tq->def);
			struct rpt_range shortest = local_response(&l, (int)tq->low);
			struct rpt_range longest = local_response(&l, (int)tq->high);
			double ratio = e.wh_per_query.v / mid.v;
			double lo = e.wh_per_query.low / longest.high;
			double hi = e.wh_per_query.high / shortest.low;

			addf(c,
			     "%s vs %s: cloud %.3g Wh/query (%.3g-%.3g) / local %.3g Wh for a "
			     "%d-token answer = %.2fx (range %.2f-%.2fx over %d-%d tokens and the "
			     "local CI)%s\n",
			     rj_label(r->path), p->name, e.wh_per_query.v, e.wh_per_query.low,
			     e.wh_per_query.high, mid.v, (int)tq->def, ratio, lo, hi, (int)tq->low,
			     (int)tq->high,
			     p->superseded ? " [superseded 2023 figure, shown for reference only]"
			                   : "");
			if (p->superseded)
				continue;
			/* an estimate with a range decides only when its whole range agrees */
			tally_add(&all, &measured, !strcmp(l.cfg->energy_kind, "estimated"),
			          l.with_model_range
			              ? placement(e.wh_per_query.v / mid.high, e.wh_per_query.v / mid.low, 10, 100)
			          : ratio >= 10 && ratio <= 100 ? 1
			                                        : -1);
		}
		addf(c, "%s: local energy ", rj_label(r->path));
		source_note(c, r, l.cfg);
		addf(c, "; local J/token %.3g (95%% CI%s %.3g-%.3g), gross, %d threads %s.%s\n",
		     l.jpt.v, l.with_model_range ? " and estimate range" : "", l.jpt.low, l.jpt.high,
		     l.cfg->threads, l.cfg->type,
		     r->complete ? "" : " Run INCOMPLETE.");
	}
	if (all.tested == 0) {
		c->verdict = RPT_NOT_TESTABLE;
		addf(c,
		     "Needs a result with energy figures for a model of at least 1 B parameters; "
		     "%s.\n",
		     RUN_CLAIM_7B);
		return;
	}
	t = tally_pick(&all, &measured, c);
	c->verdict = t->yes == t->tested ? RPT_SUPPORTED
	             : t->no == t->tested ? RPT_CONTRADICTED
	                                  : RPT_NOT_TESTABLE;
	addf(c,
	     "Verdict uses the central ratio for each current published figure, or for an estimate "
	     "with a range the ratio over its whole range (%d of %d inside 10-100x). Published "
	     "figures are for frontier services, not the local model.\n",
	     t->yes, t->tested);
}

/*
 * A sweep of an external engine (result.json `sweep`): a data centre batches many requests, so
 * the local figure set against it is the sweep level with the lowest J/token, not one stream.
 * Points l at that level and lists every level in the evidence. Returns false when no level has
 * an energy figure (l is then unchanged).
 */
static bool best_sweep_level(const struct rpt_result *r, struct rj_local *l, struct rpt_claim *c)
{
	const struct rpt_config *best = NULL;

	for (int k = 0; k < r->n_configs; k++) {
		const struct rpt_config *x = &r->configs[k];

		if (x->concurrency > 0 && x->decode_jpt_gross.ok && x->energy_source[0] &&
		    (!best || x->decode_jpt_gross.median < best->decode_jpt_gross.median))
			best = x;
	}
	if (!best)
		return false;
	addf(c, "%s: %s server sweep, J/token by concurrency:", rj_label(r->path), best->type);
	for (int k = 0; k < r->n_configs; k++) {
		const struct rpt_config *x = &r->configs[k];

		if (x->concurrency <= 0)
			continue;
		if (x->decode_jpt_gross.ok)
			addf(c, " c%d %.3g", x->concurrency, x->decode_jpt_gross.median);
		else
			addf(c, " c%d n/a", x->concurrency);
	}
	addf(c, "; the lowest (c%d, %.4g aggregate tok/s) stands for local serving.\n",
	     best->concurrency, best->decode_tok_s.median);
	l->cfg = best;
	l->estimated = !strcmp(best->energy_kind, "estimated");
	snprintf(l->source, sizeof l->source, "%s", best->energy_source);
	l->with_model_range = false;
	l->jpt = (struct rpt_range){best->decode_jpt_gross.median, best->decode_jpt_gross.ci_low,
	                            best->decode_jpt_gross.ci_high};
	return true;
}

/* 3. "Local inference uses less energy per token than the cloud for the same model." */
static void claim_same_model(struct rpt_result *const *rs, int n,
                             const struct rpt_cloud_profile *ps, int np, struct rpt_claim *c)
{
	struct tally all = {0}, measured = {0};
	const struct tally *t;

	c->id = "local-less-per-token";
	c->claim = "Local inference uses less energy per token than the cloud for the same model";
	for (int i = 0; i < n; i++) {
		struct rj_local l;
		const struct rpt_result *r = rs[i];

		if (!chat_scale_local(r, &l, c,
		                      "data-centre serving models describe LLMs of 1 B parameters and "
		                      "more (below that the estimate is dominated by fixed per-token "
		                      "overheads)"))
			continue;
		if (r->n_sweep_levels > 0)
			best_sweep_level(r, &l, c);
		addf(c, "%s: local %.3g J/token (95%% CI%s %.3g-%.3g) gross", rj_label(r->path),
		     l.jpt.v, l.with_model_range ? " and estimate range" : "", l.jpt.low, l.jpt.high);
		if (l.cfg->decode_jpt_net.ok)
			addf(c, ", %.3g net of idle", l.cfg->decode_jpt_net.median);
		if (l.cfg->concurrency > 0)
			addf(c, ", %s at concurrency %d (prefill included), ", l.cfg->type,
			     l.cfg->concurrency);
		else
			addf(c, ", %d threads %s, ", l.cfg->threads, l.cfg->type);
		source_note(c, r, l.cfg);
		addf(c, "%s.\n", r->complete ? "" : "; run INCOMPLETE");
		for (int k = 0; k < np; k++) {
			const struct rpt_cloud_profile *p = &ps[k];
			struct rpt_cloud_estimate e;
			struct rpt_cloud_query q = {.n_params = r->n_params.v,
			                            .prompt_tokens = l.cfg->prompt_tokens,
			                            .gen_tokens = l.cfg->gen_tokens};
			char why[RPT_ERR_LEN];

			if (!p->same_model || rpt_cloud_estimate(p, &q, &e, why, sizeof why))
				continue;
			int side = l.jpt.high < e.j_per_token.low   ? -1
			           : l.jpt.low > e.j_per_token.high ? 1
			                                            : 0;

			tally_add(&all, &measured, !strcmp(l.cfg->energy_kind, "estimated"), -side);
			addf(c,
			     "  vs %s (same %.3g B model in a data centre): %.3g J/token "
			     "(%.3g-%.3g); "
			     "local/cloud = %.2fx → local uses %s\n",
			     p->name, r->n_params.v / 1e9, e.j_per_token.v, e.j_per_token.low,
			     e.j_per_token.high, l.jpt.v / e.j_per_token.v,
			     side == -1  ? "less"
			     : side == 1 ? "more"
			                 : "about the same (ranges overlap)");
		}
	}
	if (all.tested == 0) {
		c->verdict = RPT_NOT_TESTABLE;
		addf(c,
		     "Needs a result with energy figures and a model of at least 1 B parameters; "
		     "%s.\n",
		     RUN_CLAIM_7B);
		return;
	}
	t = tally_pick(&all, &measured, c);
	c->verdict = t->yes == t->tested ? RPT_SUPPORTED
	             : t->no == t->tested ? RPT_CONTRADICTED
	                                  : RPT_NOT_TESTABLE;
}

int rpt_claims_check(struct rpt_result *const *rs, int n, const char *cloud_dir,
                     struct rpt_claim out[RPT_N_CLAIMS], char *err, size_t errlen)
{
	struct rpt_cloud_profile *ps = NULL;
	int np = rpt_cloud_profiles_load(cloud_dir ? cloud_dir : "configs/cloud", &ps, err, errlen);

	if (np < 0)
		return np;
	memset(out, 0, RPT_N_CLAIMS * sizeof *out);
	claim_laptop_watts(rs, n, &out[0]);
	claim_cloud_multiple(rs, n, ps, np, &out[1]);
	claim_same_model(rs, n, ps, np, &out[2]);
	free(ps);
	return 0;
}

void rpt_claims_print(FILE *f, const struct rpt_claim *c, int n, bool md)
{
	for (int i = 0; i < n; i++) {
		const char *flag = c[i].estimated
		                       ? " (rests partly or wholly on ESTIMATED local energy, "
		                         "not measured)"
		                       : "";

		if (md)
			fprintf(f, "### \"%s\"\n\n**Verdict: %s**%s\n\n", c[i].claim,
			        rpt_verdict_name(c[i].verdict), flag);
		else
			fprintf(f, "Claim: \"%s\"\nVerdict: %s%s\n", c[i].claim,
			        rpt_verdict_name(c[i].verdict), flag);
		/* evidence, one line per item */
		const char *p = c[i].evidence;

		while (*p) {
			const char *e = strchr(p, '\n');
			int len = e ? (int)(e - p) : (int)strlen(p);

			fprintf(f, md ? "- %.*s\n" : "  %.*s\n", len, p);
			p += len + (e ? 1 : 0);
		}
		fputc('\n', f);
	}
}
