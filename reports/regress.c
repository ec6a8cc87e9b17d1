/*
 * reports/regress.c — the regression gate: two result files of the same kind, compared metric
 * by metric with a test that a noisy machine does not fool.
 *
 * Repeated measurements (timing, energy) get a two-sided Mann–Whitney U test across repetitions
 * and a bootstrap CI of the ratio of medians; a change is called only when it is significant AND
 * its whole CI lies beyond the threshold. Instruction counts are deterministic and get a plain
 * threshold. Machines (cpu_model, cores, threads) and models (sha256, shape, sizes) must match
 * unless the caller allows otherwise.
 */
#include "reports/reports.h"
#include "reports/rpt_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- Mann–Whitney U ---------------------------------------------------------------------- */

#define MWU_EXACT_MAX 60 /* na + nb up to which the exact distribution is used (no ties) */

struct ranked {
	double v;
	int group; /* 0: a, 1: b */
};

static int cmp_ranked(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;

	return (a->v > b->v) - (a->v < b->v);
}

/* Number of arrangements with U_a <= u (cum[u]) over all C(na+nb, na), by the recursion
 * f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u): the largest value is an a (beating all j b's) or
 * a b. Returns a malloc'd array of na*nb+1 counts (as doubles), or NULL. */
static double *mwu_counts(int na, int nb)
{
	const int umax = na * nb;
	const size_t stride = (size_t)umax + 1;
	double *prev = calloc((size_t)(nb + 1) * stride, sizeof *prev);
	double *cur = calloc((size_t)(nb + 1) * stride, sizeof *cur);
	double *out = NULL;

	if (!prev || !cur)
		goto done;
	for (int j = 0; j <= nb; j++)
		prev[(size_t)j * stride] = 1; /* i = 0: only U = 0 */
	for (int i = 1; i <= na; i++) {
		memset(cur, 0, (size_t)(nb + 1) * stride * sizeof *cur);
		cur[0] = 1; /* j = 0 */
		for (int j = 1; j <= nb; j++) {
			for (int u = 0; u <= i * j; u++) {
				double f = cur[(size_t)(j - 1) * stride + u];

				if (u >= j)
					f += prev[(size_t)j * stride + u - j];
				cur[(size_t)j * stride + u] = f;
			}
		}
		double *t = prev;
		prev = cur;
		cur = t;
	}
	out = malloc(stride * sizeof *out);
	if (out)
		memcpy(out, prev + (size_t)nb * stride, stride * sizeof *out);
done:
	free(prev);
	free(cur);
	return out;
}

double rpt_mwu_min_p(int na, int nb)
{
	/* C(na+nb, na) computed in floating point; 2 / C is tiny long before it overflows. */
	double c = 1;

	if (na < 1 || nb < 1)
		return 1;
	for (int k = 1; k <= na; k++)
		c = c * (nb + k) / k;
	return fmin(1.0, 2.0 / c);
}

int rpt_mann_whitney(const double *a, int na, const double *b, int nb, struct rpt_mwu *out)
{
	const int n = na + nb;
	struct ranked *r = NULL;
	double ra = 0, tie_sum = 0;
	bool ties = false;

	memset(out, 0, sizeof *out);
	out->p = 1;
	if (na < 1 || nb < 1)
		return -EINVAL;
	r = malloc((size_t)n * sizeof *r);
	if (!r)
		return -ENOMEM;
	for (int i = 0; i < na; i++)
		r[i] = (struct ranked){ a[i], 0 };
	for (int j = 0; j < nb; j++)
		r[na + j] = (struct ranked){ b[j], 1 };
	qsort(r, (size_t)n, sizeof *r, cmp_ranked);
	/* Mid-ranks for ties; the rank sum of a gives U_a = R_a - na(na+1)/2. */
	for (int i = 0; i < n;) {
		int j = i;

		while (j + 1 < n && r[j + 1].v == r[i].v)
			j++;
		double rank = (i + j) / 2.0 + 1, t = j - i + 1;

		if (t > 1) {
			ties = true;
			tie_sum += t * t * t - t;
		}
		for (int k = i; k <= j; k++)
			if (r[k].group == 0)
				ra += rank;
		i = j + 1;
	}
	free(r);
	out->u = ra - na * (na + 1) / 2.0;

	if (!ties && n <= MWU_EXACT_MAX) {
		double *cnt = mwu_counts(na, nb), total = 0, le = 0, ge = 0;
		int u = (int)llround(out->u);

		if (!cnt)
			return -ENOMEM;
		for (int k = 0; k <= na * nb; k++) {
			total += cnt[k];
			if (k <= u)
				le += cnt[k];
			if (k >= u)
				ge += cnt[k];
		}
		free(cnt);
		out->p = fmin(1.0, 2.0 * fmin(le, ge) / total);
		out->exact = true;
		return 0;
	}
	/* Normal approximation with the tie correction of the variance and a continuity correction. */
	double mu = na * (double)nb / 2;
	double var = na * (double)nb / 12.0 * ((n + 1) - tie_sum / ((double)n * (n - 1)));
	if (var <= 0) {
		out->p = 1; /* every value equal */
		return 0;
	}
	double z = (fabs(out->u - mu) - 0.5) / sqrt(var);
	out->p = z <= 0 ? 1.0 : fmin(1.0, erfc(z / sqrt(2.0)));
	return 0;
}

/* ---- bootstrap of the ratio of medians --------------------------------------------------- */

void rpt_ratio_ci(const double *base, int nb, const double *cur, int nc, double conf, int resamples,
		  uint64_t seed, double *lo, double *hi)
{
	double *ratios = NULL, *rb = NULL, *rc = NULL;
	struct rpt_rng g;

	*lo = *hi = NAN;
	if (nb < 1 || nc < 1)
		return;
	if (resamples < 1)
		resamples = 2000;
	ratios = malloc((size_t)resamples * sizeof *ratios);
	rb = malloc((size_t)nb * sizeof *rb);
	rc = malloc((size_t)nc * sizeof *rc);
	if (!ratios || !rb || !rc)
		goto out;
	rpt_rng_seed(&g, seed);
	for (int k = 0; k < resamples; k++) {
		for (int i = 0; i < nb; i++)
			rb[i] = base[rpt_rng_below(&g, (uint64_t)nb)];
		for (int i = 0; i < nc; i++)
			rc[i] = cur[rpt_rng_below(&g, (uint64_t)nc)];
		ratios[k] = rpt_median(rc, nc) / rpt_median(rb, nb);
	}
	*lo = rpt_percentile(ratios, resamples, 100.0 * (1 - conf) / 2);
	*hi = rpt_percentile(ratios, resamples, 100.0 * (1 + conf) / 2);
out:
	free(ratios);
	free(rb);
	free(rc);
}

/* ---- verdicts ---------------------------------------------------------------------------- */

const char *rpt_change_name(enum rpt_change c)
{
	switch (c) {
	case RPT_IMPROVED:
		return "improved";
	case RPT_UNCHANGED:
		return "unchanged";
	case RPT_REGRESSED:
		return "regressed";
	case RPT_INCONCLUSIVE:
		return "inconclusive";
	}
	return "?";
}

static void row_note(struct rpt_gate_row *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void row_note(struct rpt_gate_row *row, const char *fmt, ...)
{
	size_t len = strlen(row->note);
	va_list ap;

	if (len && len + 2 < sizeof row->note) {
		memcpy(row->note + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(row->note + len, sizeof row->note - len, fmt, ap);
	va_end(ap);
}

/* -1: the ratio is beyond the threshold on the better side, +1: on the worse side, 0: within. */
static int side(double ratio, double t, bool higher_is_better)
{
	double worse = higher_is_better ? -(ratio - 1) : ratio - 1;

	if (worse > t)
		return 1;
	if (worse < -t)
		return -1;
	return 0;
}

void rpt_gate_samples(const double *base, int nb, const double *cur, int nc, bool higher_is_better,
		      const struct rpt_gate_opts *o, struct rpt_gate_row *row)
{
	struct rpt_mwu m;
	double min_p;
	int s_lo, s_hi;

	row->higher_is_better = higher_is_better;
	row->deterministic = false;
	row->n_base = nb;
	row->n_cur = nc;
	row->has_ci = row->has_p = false;
	row->verdict = RPT_INCONCLUSIVE;
	row->base = nb > 0 ? rpt_median(base, nb) : NAN;
	row->cur = nc > 0 ? rpt_median(cur, nc) : NAN;
	row->ratio = row->base != 0 ? row->cur / row->base : NAN;
	if (nb < RPT_MIN_REPS || nc < RPT_MIN_REPS) {
		row_note(row, "too few samples (%d vs %d): need at least %d repetitions on each side", nb, nc,
			 RPT_MIN_REPS);
		return;
	}
	if (!(row->base > 0) || !(row->cur > 0) || !isfinite(row->ratio)) {
		row_note(row, "medians must be positive to form a ratio");
		return;
	}
	rpt_ratio_ci(base, nb, cur, nc, 1 - o->alpha, o->resamples, o->seed, &row->ci_low, &row->ci_high);
	row->has_ci = isfinite(row->ci_low) && isfinite(row->ci_high);
	if (rpt_mann_whitney(base, nb, cur, nc, &m) == 0) {
		row->has_p = true;
		row->p = m.p;
		row->exact = m.exact;
	}
	min_p = rpt_mwu_min_p(nb, nc);
	if (min_p >= o->alpha) {
		row_note(row, "too few samples (%d vs %d): the smallest possible p is %.3g, not below alpha %g",
			 nb, nc, min_p, o->alpha);
		return;
	}
	if (!row->has_ci || !row->has_p) {
		row_note(row, "statistics could not be computed");
		return;
	}
	/* With a lower-is-better metric the ratio's low end is its best case; flip otherwise. */
	s_lo = side(row->ci_low, o->threshold, higher_is_better);
	s_hi = side(row->ci_high, o->threshold, higher_is_better);
	if (s_lo == 0 && s_hi == 0) {
		row->verdict = RPT_UNCHANGED;
		if (row->p < o->alpha)
			row_note(row, "significant but within the threshold");
	} else if (s_lo == s_hi && row->p < o->alpha) {
		row->verdict = s_lo > 0 ? RPT_REGRESSED : RPT_IMPROVED;
	} else if (s_lo == s_hi) {
		row_note(row, "the CI lies beyond the threshold but p %.3g is not below alpha %g", row->p, o->alpha);
	} else {
		row_note(row, "the CI straddles the threshold: more repetitions or a quieter machine");
	}
}

void rpt_gate_value(double base, double cur, bool higher_is_better, const struct rpt_gate_opts *o,
		    struct rpt_gate_row *row)
{
	row->higher_is_better = higher_is_better;
	row->deterministic = true;
	row->n_base = row->n_cur = 1;
	row->has_ci = row->has_p = false;
	row->base = base;
	row->cur = cur;
	row->ratio = base != 0 ? cur / base : NAN;
	row->verdict = RPT_INCONCLUSIVE;
	if (!(base > 0) || !(cur > 0) || !isfinite(row->ratio)) {
		row_note(row, "values must be positive to form a ratio");
		return;
	}
	switch (side(row->ratio, o->threshold, higher_is_better)) {
	case 1:
		row->verdict = RPT_REGRESSED;
		break;
	case -1:
		row->verdict = RPT_IMPROVED;
		break;
	default:
		row->verdict = RPT_UNCHANGED;
	}
}

/* ---- metrics ----------------------------------------------------------------------------- */

enum metric_id { M_DECODE_TOK_S, M_PREFILL_TOK_S, M_TTFT_NS, M_J_PER_TOKEN, M_NS_PER_CALL, M_INSTRUCTIONS, M_AGG_TOK_S };

static const struct metric {
	const char *name;
	const char *kind; /* which result kind has it */
	bool higher_is_better;
	bool is_default;
} metrics[] = {
	[M_DECODE_TOK_S] = { "decode_tok_s", "run", true, true },
	[M_PREFILL_TOK_S] = { "prefill_tok_s", "run", true, true },
	[M_TTFT_NS] = { "ttft_ns", "run", false, false },
	[M_J_PER_TOKEN] = { "j_per_token", "run", false, true },
	[M_NS_PER_CALL] = { "ns_per_call", "kernels", false, true },
	[M_INSTRUCTIONS] = { "instructions", "kernels", false, true },
	[M_AGG_TOK_S] = { "agg_tok_s", "run", true, false }, /* concurrency sweeps: their default */
};
#define N_METRICS ((int)(sizeof metrics / sizeof metrics[0]))

const char *rpt_regress_metric_names(void)
{
	return "decode_tok_s, prefill_tok_s, ttft_ns, j_per_token (run results), agg_tok_s (run "
	       "results of concurrency sweeps); ns_per_call, instructions (kernels results)";
}

static int metric_find(const char *name)
{
	for (int i = 0; i < N_METRICS; i++)
		if (!strcmp(metrics[i].name, name))
			return i;
	return -1;
}

/* ---- comparing two files ----------------------------------------------------------------- */

struct regress_ctx {
	struct rpt_regress *r;
	const struct rpt_regress_opts *o;
	char *err;
	size_t errlen;
};

static int push_row(struct rpt_regress *r, const struct rpt_gate_row *row)
{
	struct rpt_gate_row *n = realloc(r->rows, (size_t)(r->n_rows + 1) * sizeof *n);

	if (!n)
		return -ENOMEM;
	r->rows = n;
	r->rows[r->n_rows++] = *row;
	return 0;
}

static void appendf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static const cJSON *get(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* Compares a string field of two objects; records "what 'a' vs 'b'" when both are strings and
 * differ (a field missing on either side is not a difference we can judge). */
static void diff_str(char *buf, size_t len, const cJSON *a, const cJSON *b, const char *field, const char *label)
{
	const cJSON *x = get(a, field), *y = get(b, field);

	if (cJSON_IsString(x) && cJSON_IsString(y) && strcmp(x->valuestring, y->valuestring))
		appendf(buf, len, "%s%s '%s' vs '%s'", buf[0] ? "; " : "", label, x->valuestring, y->valuestring);
}

static void diff_num(char *buf, size_t len, const cJSON *a, const cJSON *b, const char *field, const char *label)
{
	const cJSON *x = get(a, field), *y = get(b, field);

	if (cJSON_IsNumber(x) && cJSON_IsNumber(y) && x->valuedouble != y->valuedouble)
		appendf(buf, len, "%s%s %.15g vs %.15g", buf[0] ? "; " : "", label, x->valuedouble, y->valuedouble);
}

/* Collects every number of a JSON array (nulls and other values skipped). malloc'd; count in *n. */
static double *num_array(const cJSON *arr, int *n)
{
	double *v = NULL;
	const cJSON *it;
	int k = 0;

	*n = 0;
	if (!cJSON_IsArray(arr))
		return NULL;
	v = malloc((size_t)(cJSON_GetArraySize(arr) + 1) * sizeof *v);
	if (!v)
		return NULL;
	cJSON_ArrayForEach(it, arr)
	{
		if (cJSON_IsNumber(it) && isfinite(it->valuedouble))
			v[k++] = it->valuedouble;
	}
	*n = k;
	return v;
}

/* Per-repetition values of a run metric for one configs[] entry (malloc'd, count in *n); *note
 * says what was estimated or why values are missing. */
static double *run_samples(const cJSON *root, const cJSON *cfg, int m, int *n, char *note, size_t note_len)
{
	const cJSON *reps = get(cfg, "reps"), *rep;
	const char *primary = cJSON_GetStringValue(get(root, "primary_source"));
	double *v = malloc((size_t)(cJSON_GetArraySize(reps) + 1) * sizeof *v);
	int k = 0, missing = 0;
	bool estimated = false;

	*n = 0;
	if (!v)
		return NULL;
	cJSON_ArrayForEach(rep, reps)
	{
		const cJSON *x = NULL;
		double val = NAN;

		switch (m) {
		case M_DECODE_TOK_S:
			x = get(rep, "decode_tok_s");
			break;
		case M_PREFILL_TOK_S:
			x = get(rep, "prefill_tok_s");
			break;
		case M_TTFT_NS:
			x = get(rep, "ttft_ns");
			break;
		case M_J_PER_TOKEN: {
			const cJSON *e = primary ? get(get(rep, "energy"), primary) : NULL;
			const cJSON *dj = get(e, "decode_j"), *gt = get(rep, "gen_tokens");

			/* As the runner's decode_j_per_token: the first generated token comes from
			 * prefill, so decode ran gen_tokens - 1 steps. */
			if (cJSON_IsNumber(dj) && cJSON_IsNumber(gt) && gt->valuedouble > 1)
				val = dj->valuedouble / (gt->valuedouble - 1);
			break;
		}
		}
		if (x && cJSON_IsNumber(x))
			val = x->valuedouble;
		if (isfinite(val))
			v[k++] = val;
		else
			missing++;
	}
	if (m == M_J_PER_TOKEN && primary) {
		const cJSON *src;

		cJSON_ArrayForEach(src, get(root, "energy_sources"))
		{
			const char *id = cJSON_GetStringValue(get(src, "id")), *kind = cJSON_GetStringValue(get(src, "kind"));

			if (id && kind && !strcmp(id, primary) && !strcmp(kind, "estimated"))
				estimated = true;
		}
	}
	if (m == M_J_PER_TOKEN && !primary)
		snprintf(note, note_len, "no primary energy source in %s", "the result");
	else if (missing)
		snprintf(note, note_len, "%d repetition(s) without a value", missing);
	if (estimated)
		snprintf(note + strlen(note), note_len - strlen(note), "%sestimated energy (a model of CPU time, not a measurement)",
			 note[0] ? "; " : "");
	*n = k;
	return v;
}

static const cJSON *find_config(const cJSON *cfgs, const cJSON *like)
{
	const cJSON *it;
	const cJSON *t = get(like, "threads"), *ty = get(like, "type");

	cJSON_ArrayForEach(it, cfgs)
	{
		const cJSON *t2 = get(it, "threads"), *ty2 = get(it, "type");

		if (cJSON_IsNumber(t) && cJSON_IsNumber(t2) && t->valuedouble == t2->valuedouble &&
		    cJSON_IsString(ty) && cJSON_IsString(ty2) && !strcmp(ty->valuestring, ty2->valuestring))
			return it;
	}
	return NULL;
}

static int compare_runs(struct regress_ctx *x, const struct rpt_result *a, const struct rpt_result *b,
			const bool *want)
{
	const cJSON *ca = get(a->json, "configs"), *cb = get(b->json, "configs"), *cfg;
	struct rpt_regress *r = x->r;

	cJSON_ArrayForEach(cfg, ca)
	{
		const cJSON *other = find_config(cb, cfg);
		char item[128];

		snprintf(item, sizeof item, "t=%d %s", (int)cJSON_GetNumberValue(get(cfg, "threads")),
			 cJSON_GetStringValue(get(cfg, "type")) ? cJSON_GetStringValue(get(cfg, "type")) : "?");
		if (!other) {
			appendf(r->warnings, sizeof r->warnings, "%sconfig %s is only in the baseline", r->warnings[0] ? "\n" : "", item);
			continue;
		}
		for (int m = 0; m < N_METRICS; m++) {
			struct rpt_gate_row row;
			double *sa, *sb;
			int na, nb, rc;
			char note_a[128] = "", note_b[128] = "";

			if (!want[m])
				continue;
			if (m == M_AGG_TOK_S) {
				appendf(r->warnings, sizeof r->warnings, "%s%s agg_tok_s: only concurrency sweeps "
					"(--engine openai|ollama) have an aggregate rate", r->warnings[0] ? "\n" : "", item);
				continue;
			}
			memset(&row, 0, sizeof row);
			snprintf(row.metric, sizeof row.metric, "%s", metrics[m].name);
			snprintf(row.item, sizeof row.item, "%s", item);
			sa = run_samples(a->json, cfg, m, &na, note_a, sizeof note_a);
			sb = run_samples(b->json, other, m, &nb, note_b, sizeof note_b);
			if (!sa || !sb) {
				free(sa);
				free(sb);
				return -ENOMEM;
			}
			if (na == 0 && nb == 0 && m == M_J_PER_TOKEN) {
				/* No energy on either side: nothing to compare, not an inconclusive test. */
				free(sa);
				free(sb);
				appendf(r->warnings, sizeof r->warnings, "%s%s %s: no energy values in either file",
					r->warnings[0] ? "\n" : "", item, metrics[m].name);
				continue;
			}
			rpt_gate_samples(sa, na, sb, nb, metrics[m].higher_is_better, &x->o->gate, &row);
			if (note_a[0] && !strcmp(note_a, note_b))
				row_note(&row, "both: %s", note_a);
			else if (note_a[0])
				row_note(&row, "baseline: %s", note_a);
			if (note_b[0] && strcmp(note_a, note_b))
				row_note(&row, "current: %s", note_b);
			free(sa);
			free(sb);
			if ((rc = push_row(r, &row)))
				return rc;
		}
	}
	cJSON_ArrayForEach(cfg, cb)
	{
		if (!find_config(ca, cfg))
			appendf(r->warnings, sizeof r->warnings, "%sconfig t=%d %s is only in the current result",
				r->warnings[0] ? "\n" : "", (int)cJSON_GetNumberValue(get(cfg, "threads")),
				cJSON_GetStringValue(get(cfg, "type")) ? cJSON_GetStringValue(get(cfg, "type")) : "?");
	}
	return 0;
}

static const cJSON *find_kernel(const cJSON *arr, const char *name, const char *impl)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr)
	{
		const char *n = cJSON_GetStringValue(get(it, "name")), *i = cJSON_GetStringValue(get(it, "impl"));

		if (n && i && !strcmp(n, name) && !strcmp(i, impl))
			return it;
	}
	return NULL;
}

/* The reason string next to a null field ("<name>_reason"), or a default. */
static const char *reason_of(const cJSON *o, const char *name)
{
	char key[96];
	const char *s;

	snprintf(key, sizeof key, "%s_reason", name);
	s = cJSON_GetStringValue(get(o, key));
	return s ? s : "not recorded";
}

static int compare_kernels(struct regress_ctx *x, const struct rpt_result *a, const struct rpt_result *b,
			   const bool *want)
{
	const cJSON *ka = get(a->json, "kernels"), *kb = get(b->json, "kernels"), *k;
	struct rpt_regress *r = x->r;
	int idx = 0;

	cJSON_ArrayForEach(k, ka)
	{
		const char *name = cJSON_GetStringValue(get(k, "name")), *impl = cJSON_GetStringValue(get(k, "impl"));
		const cJSON *o;
		char item[128];

		if (!name || !impl) {
			snprintf(x->err, x->errlen, "%s: field 'kernels[%d]' needs string 'name' and 'impl'", a->path, idx);
			return -EINVAL;
		}
		idx++;
		snprintf(item, sizeof item, "%s [%s]", name, impl);
		o = find_kernel(kb, name, impl);
		if (!o) {
			appendf(r->warnings, sizeof r->warnings, "%skernel %s is only in the baseline", r->warnings[0] ? "\n" : "", item);
			continue;
		}
		for (int m = 0; m < N_METRICS; m++) {
			struct rpt_gate_row row;
			int rc;

			if (!want[m])
				continue;
			memset(&row, 0, sizeof row);
			snprintf(row.metric, sizeof row.metric, "%s", metrics[m].name);
			snprintf(row.item, sizeof row.item, "%s", item);
			if (m == M_NS_PER_CALL) {
				int na, nb;
				double *sa = num_array(get(k, "samples_ns"), &na);
				double *sb = num_array(get(o, "samples_ns"), &nb);

				if (na == 0 && nb == 0) {
					free(sa);
					free(sb);
					continue; /* not timed on either side (--reps 0) */
				}
				rpt_gate_samples(sa ? sa : (double[1]){ 0 }, na, sb ? sb : (double[1]){ 0 }, nb, false,
						 &x->o->gate, &row);
				free(sa);
				free(sb);
			} else if (m == M_INSTRUCTIONS) {
				const cJSON *ia = get(k, "instructions_per_call"), *ib = get(o, "instructions_per_call");

				if (!cJSON_IsNumber(ia) && !cJSON_IsNumber(ib))
					continue; /* counted on neither side */
				if (!cJSON_IsNumber(ia) || !cJSON_IsNumber(ib)) {
					row.deterministic = true;
					row.verdict = RPT_INCONCLUSIVE;
					row.base = cJSON_IsNumber(ia) ? ia->valuedouble : NAN;
					row.cur = cJSON_IsNumber(ib) ? ib->valuedouble : NAN;
					row.ratio = NAN;
					row_note(&row, "%s: %s", cJSON_IsNumber(ia) ? "current" : "baseline",
						 reason_of(cJSON_IsNumber(ia) ? o : k, "instructions_per_call"));
				} else {
					const char *sa = cJSON_GetStringValue(get(k, "instructions_source"));
					const char *sb = cJSON_GetStringValue(get(o, "instructions_source"));

					rpt_gate_value(ia->valuedouble, ib->valuedouble, false, &x->o->gate, &row);
					if (sa && sb && strcmp(sa, sb)) {
						/* callgrind counts one thread's exact work; hardware counters
						 * count every thread, spinning included: not comparable. */
						row.verdict = RPT_INCONCLUSIVE;
						row_note(&row, "counted by %s vs %s: not comparable", sa, sb);
					}
				}
			} else {
				continue;
			}
			if ((rc = push_row(r, &row)))
				return rc;
		}
	}
	cJSON_ArrayForEach(k, kb)
	{
		const char *name = cJSON_GetStringValue(get(k, "name")), *impl = cJSON_GetStringValue(get(k, "impl"));

		if (name && impl && !find_kernel(ka, name, impl))
			appendf(r->warnings, sizeof r->warnings, "%skernel %s [%s] is only in the current result",
				r->warnings[0] ? "\n" : "", name, impl);
	}
	return 0;
}

/* ---- concurrency sweeps ------------------------------------------------------------------ */

/* level_samples(): each request's seconds per output token, sent to last byte */
#define SAMPLE_S_PER_TOKEN (-1)

/* Per-request values of a sweep metric at one level, successful requests only (malloc'd, count
 * in *n): decode_tok_s = inter-token gaps / their sum (the stream's own rate, prefill excluded),
 * ttft_ns, prefill_tok_s = prompt_tokens / TTFT (queueing included, as the client sees it),
 * SAMPLE_S_PER_TOKEN = (t_end_ns - t_start_ns) / completion_tokens. */
static double *level_samples(const cJSON *lv, int m, int *n)
{
	const cJSON *reqs = get(lv, "requests"), *q;
	double *v = malloc((size_t)(cJSON_GetArraySize(reqs) + 1) * sizeof *v);
	int k = 0;

	*n = 0;
	if (!v)
		return NULL;
	cJSON_ArrayForEach(q, reqs)
	{
		const cJSON *tt = get(q, "ttft_ns"), *pt = get(q, "prompt_tokens"), *g;
		double val = NAN, sum = 0;
		int gaps = 0;

		if (!cJSON_IsTrue(get(q, "ok")))
			continue;
		switch (m) {
		case M_TTFT_NS:
			if (cJSON_IsNumber(tt))
				val = tt->valuedouble;
			break;
		case M_PREFILL_TOK_S:
			if (cJSON_IsNumber(tt) && cJSON_IsNumber(pt) && tt->valuedouble > 0)
				val = pt->valuedouble / (tt->valuedouble / 1e9);
			break;
		case SAMPLE_S_PER_TOKEN: {
			const cJSON *t0 = get(q, "t_start_ns"), *t1 = get(q, "t_end_ns"), *ct = get(q, "completion_tokens");

			if (cJSON_IsNumber(t0) && cJSON_IsNumber(t1) && cJSON_IsNumber(ct) && ct->valuedouble > 0)
				val = (t1->valuedouble - t0->valuedouble) / 1e9 / ct->valuedouble;
			break;
		}
		case M_DECODE_TOK_S:
			cJSON_ArrayForEach(g, get(q, "itl_ns"))
			{
				if (cJSON_IsNumber(g)) {
					sum += g->valuedouble;
					gaps++;
				}
			}
			if (gaps > 0 && sum > 0)
				val = gaps / (sum / 1e9);
			break;
		}
		if (isfinite(val))
			v[k++] = val;
	}
	*n = k;
	return v;
}

static const cJSON *find_level(const cJSON *levels, double concurrency)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, levels)
	{
		const cJSON *c = get(it, "concurrency");

		if (cJSON_IsNumber(c) && c->valuedouble == concurrency)
			return it;
	}
	return NULL;
}

/* One verdict for several rows: regressed if any is, else inconclusive if any is, else improved
 * if any is, else unchanged. */
static enum rpt_change combine(const struct rpt_gate_row *rows, int n)
{
	bool reg = false, inc = false, imp = false;

	for (int i = 0; i < n; i++) {
		reg |= rows[i].verdict == RPT_REGRESSED;
		inc |= rows[i].verdict == RPT_INCONCLUSIVE;
		imp |= rows[i].verdict == RPT_IMPROVED;
	}
	return reg ? RPT_REGRESSED : inc ? RPT_INCONCLUSIVE : imp ? RPT_IMPROVED : RPT_UNCHANGED;
}

/*
 * A figure a level has once (agg_tok_s, j_per_token: its whole window) has no repetitions to
 * test. A change beyond the threshold counts only when the level's requests bear it out: their
 * own time per output token (sent to last byte) moved the same way under the U test (p < alpha);
 * otherwise it is inconclusive (an energy change at unchanged speed then needs
 * --fail-on-inconclusive or a repeated sweep to be caught).
 */
static int single_window(struct regress_ctx *x, const cJSON *lv, const cJSON *other, double base, double cur,
			 int m, struct rpt_gate_row *row)
{
	struct rpt_gate_row t;
	double *sa, *sb;
	int na, nb;
	bool confirmed;

	rpt_gate_value(base, cur, metrics[m].higher_is_better, &x->o->gate, row);
	row->deterministic = false;
	if (row->verdict != RPT_REGRESSED && row->verdict != RPT_IMPROVED) {
		row_note(row, "one figure per level (its whole window): a plain threshold");
		return 0;
	}
	sa = level_samples(lv, SAMPLE_S_PER_TOKEN, &na);
	sb = level_samples(other, SAMPLE_S_PER_TOKEN, &nb);
	if (!sa || !sb) {
		free(sa);
		free(sb);
		return -ENOMEM;
	}
	memset(&t, 0, sizeof t);
	rpt_gate_samples(sa, na, sb, nb, false, &x->o->gate, &t);
	free(sa);
	free(sb);
	confirmed = t.has_p && t.p < x->o->gate.alpha && isfinite(t.ratio) &&
		    (row->verdict == RPT_REGRESSED ? t.ratio > 1 : t.ratio < 1);
	if (confirmed) {
		row_note(row, "one figure per level, borne out by the requests' time per token (ratio %.3f, p %.3g)",
			 t.ratio, t.p);
	} else {
		row_note(row, "one figure per level, %s not borne out by the requests' time per token (ratio %.3f, "
			 "p %.3g): could be noise", row->verdict == RPT_REGRESSED ? "worse," : "better,",
			 t.ratio, t.has_p ? t.p : 1.0);
		row->verdict = RPT_INCONCLUSIVE;
	}
	return 0;
}

/*
 * Two concurrency sweeps, level by level: the same levels on both sides or -EINVAL (the message
 * lists both). Per-request figures (decode_tok_s, ttft_ns, prefill_tok_s) get the U test; a
 * level's aggregate figures (agg_tok_s, j_per_token: one window each) a plain threshold.
 */
static int compare_sweeps(struct regress_ctx *x, const struct rpt_result *a, const struct rpt_result *b,
			  const bool *want)
{
	const cJSON *la = get(get(a->json, "sweep"), "levels"), *lb = get(get(b->json, "sweep"), "levels"), *lv;
	struct rpt_regress *r = x->r;
	char ca[256] = "", cb[256] = "";
	bool same = cJSON_GetArraySize(la) == cJSON_GetArraySize(lb) && cJSON_GetArraySize(la) > 0;

	cJSON_ArrayForEach(lv, la)
	{
		appendf(ca, sizeof ca, "%s%g", ca[0] ? "," : "", cJSON_GetNumberValue(get(lv, "concurrency")));
		if (!find_level(lb, cJSON_GetNumberValue(get(lv, "concurrency"))))
			same = false;
	}
	cJSON_ArrayForEach(lv, lb)
		appendf(cb, sizeof cb, "%s%g", cb[0] ? "," : "", cJSON_GetNumberValue(get(lv, "concurrency")));
	if (!same) {
		snprintf(x->err, x->errlen,
			 "%s and %s swept different concurrency levels (%s vs %s): sweeps are compared level "
			 "by level, so run both with the same --concurrency",
			 a->path, b->path, ca[0] ? ca : "none", cb[0] ? cb : "none");
		return -EINVAL;
	}
	r->levels = calloc((size_t)cJSON_GetArraySize(la), sizeof *r->levels);
	if (!r->levels)
		return -ENOMEM;
	cJSON_ArrayForEach(lv, la)
	{
		double c = cJSON_GetNumberValue(get(lv, "concurrency"));
		const cJSON *other = find_level(lb, c);
		int first = r->n_rows;
		char item[128];

		snprintf(item, sizeof item, "c=%g", c);
		for (int m = 0; m < N_METRICS; m++) {
			struct rpt_gate_row row;
			int rc;

			if (!want[m])
				continue;
			memset(&row, 0, sizeof row);
			snprintf(row.metric, sizeof row.metric, "%s", metrics[m].name);
			snprintf(row.item, sizeof row.item, "%s", item);
			if (m == M_J_PER_TOKEN || m == M_AGG_TOK_S) {
				const char *key = metrics[m].name;
				const cJSON *va = get(lv, key), *vb = get(other, key);

				if (!cJSON_IsNumber(va) && !cJSON_IsNumber(vb) && m == M_J_PER_TOKEN) {
					appendf(r->warnings, sizeof r->warnings, "%s%s j_per_token: no energy values in "
						"either file", r->warnings[0] ? "\n" : "", item);
					continue;
				}
				if (!cJSON_IsNumber(va) || !cJSON_IsNumber(vb)) {
					row.higher_is_better = metrics[m].higher_is_better;
					row.n_base = row.n_cur = 1;
					row.base = cJSON_IsNumber(va) ? va->valuedouble : NAN;
					row.cur = cJSON_IsNumber(vb) ? vb->valuedouble : NAN;
					row.ratio = NAN;
					row.verdict = RPT_INCONCLUSIVE;
					row_note(&row, "%s: %s", cJSON_IsNumber(va) ? "current" : "baseline",
						 reason_of(cJSON_IsNumber(va) ? other : lv, key));
				} else {
					rc = single_window(x, lv, other, va->valuedouble, vb->valuedouble, m, &row);
					if (rc)
						return rc;
				}
			} else {
				int na, nb;
				double *sa = level_samples(lv, m, &na), *sb = level_samples(other, m, &nb);

				if (!sa || !sb) {
					free(sa);
					free(sb);
					return -ENOMEM;
				}
				rpt_gate_samples(sa, na, sb, nb, metrics[m].higher_is_better, &x->o->gate, &row);
				free(sa);
				free(sb);
			}
			if ((rc = push_row(r, &row)))
				return rc;
		}
		r->levels[r->n_levels].concurrency = (int)c;
		r->levels[r->n_levels++].verdict = combine(r->rows + first, r->n_rows - first);
	}
	return 0;
}

/* What makes two results incomparable: the machine, and the model (run) or shape (kernels). */
static void find_differences(const struct rpt_result *a, const struct rpt_result *b, char *buf, size_t len)
{
	const cJSON *ma = get(a->json, "machine"), *mb = get(b->json, "machine");

	buf[0] = '\0';
	diff_str(buf, len, ma, mb, "cpu_model", "machine.cpu_model");
	diff_num(buf, len, ma, mb, "cores", "machine.cores");
	diff_num(buf, len, ma, mb, "threads", "machine.threads");
	if (!strcmp(a->kind, "run")) {
		const cJSON *oa = get(a->json, "model"), *ob = get(b->json, "model");

		diff_str(buf, len, oa, ob, "sha256", "model.sha256");
		diff_str(buf, len, oa, ob, "shape", "model.shape");
		diff_str(buf, len, oa, ob, "name", "model.name");
		diff_num(buf, len, oa, ob, "n_params", "model.n_params");
		diff_num(buf, len, oa, ob, "weight_bytes", "model.weight_bytes");
		/* an external engine: the model it serves, by the name the server knows it */
		diff_str(buf, len, get(a->json, "engine"), get(b->json, "engine"), "name", "engine.name");
		diff_str(buf, len, get(a->json, "engine"), get(b->json, "engine"), "model_name", "engine.model_name");
		/* Configurations are paired by (threads, type): with no pair in common the results
		 * measured different things (e.g. a q4_0 run against a q8_0 run). */
		{
			const cJSON *ca = get(a->json, "configs"), *cb = get(b->json, "configs"), *c;
			char la[256] = "", lb[256] = "";
			bool common = false;

			cJSON_ArrayForEach(c, ca)
			{
				common = common || find_config(cb, c);
				appendf(la, sizeof la, "%st=%d %s", la[0] ? ", " : "", (int)cJSON_GetNumberValue(get(c, "threads")),
					cJSON_GetStringValue(get(c, "type")) ? cJSON_GetStringValue(get(c, "type")) : "?");
			}
			cJSON_ArrayForEach(c, cb)
				appendf(lb, sizeof lb, "%st=%d %s", lb[0] ? ", " : "", (int)cJSON_GetNumberValue(get(c, "threads")),
					cJSON_GetStringValue(get(c, "type")) ? cJSON_GetStringValue(get(c, "type")) : "?");
			if (!common && la[0] && lb[0])
				appendf(buf, len, "%sconfigs (threads, type) '%s' vs '%s'", buf[0] ? "; " : "", la, lb);
		}
	} else {
		const cJSON *ka = get(a->json, "kernels"), *k;

		diff_str(buf, len, a->json, b->json, "shape", "shape");
		cJSON_ArrayForEach(k, ka)
		{
			const char *name = cJSON_GetStringValue(get(k, "name")), *impl = cJSON_GetStringValue(get(k, "impl"));
			const cJSON *o = name && impl ? find_kernel(get(b->json, "kernels"), name, impl) : NULL;
			char label[128];

			if (!o)
				continue;
			snprintf(label, sizeof label, "kernel %s rows", name);
			diff_num(buf, len, k, o, "rows", label);
			snprintf(label, sizeof label, "kernel %s cols", name);
			diff_num(buf, len, k, o, "cols", label);
			snprintf(label, sizeof label, "kernel %s n_tok", name);
			diff_num(buf, len, k, o, "n_tok", label);
		}
	}
}

int rpt_regress_files(const char *base_path, const char *cur_path, const struct rpt_regress_opts *o,
		      struct rpt_regress **out, char *err, size_t errlen)
{
	struct rpt_result *a = NULL, *b = NULL;
	int rc;

	*out = NULL;
	if ((rc = rpt_result_load(base_path, &a, err, errlen)) || (rc = rpt_result_load(cur_path, &b, err, errlen)))
		rc = -EINVAL;
	else
		rc = rpt_regress_results(a, b, o, out, err, errlen);
	rpt_result_free(a);
	rpt_result_free(b);
	return rc;
}

int rpt_regress_results(const struct rpt_result *a, const struct rpt_result *b, const struct rpt_regress_opts *o,
			struct rpt_regress **out, char *err, size_t errlen)
{
	const char *base_path = a->path, *cur_path = b->path;
	struct rpt_regress *r = NULL;
	bool want[N_METRICS] = { false };
	struct regress_ctx x;
	bool sweep;
	int rc;

	*out = NULL;
	if (strcmp(a->kind, b->kind)) {
		snprintf(err, errlen, "%s is a '%s' result but %s is a '%s' result: compare results of one kind",
			 base_path, a->kind, cur_path, b->kind);
		rc = -EINVAL;
		goto out;
	}
	for (int i = 0; o->metrics && i < o->n_metrics; i++) {
		int m = metric_find(o->metrics[i]);

		if (m < 0) {
			snprintf(err, errlen, "unknown metric '%s' (known: %s)", o->metrics[i], rpt_regress_metric_names());
			rc = -EINVAL;
			goto out;
		}
		if (strcmp(metrics[m].kind, a->kind)) {
			snprintf(err, errlen, "metric '%s' applies to '%s' results, but these are '%s' results (known: %s)",
				 o->metrics[i], metrics[m].kind, a->kind, rpt_regress_metric_names());
			rc = -EINVAL;
			goto out;
		}
		want[m] = true;
	}
	sweep = !strcmp(a->kind, "run") && cJSON_IsObject(get(a->json, "sweep"));
	if (!strcmp(a->kind, "run") && sweep != cJSON_IsObject(get(b->json, "sweep"))) {
		snprintf(err, errlen, "%s is %s and %s is %s: compare a sweep with a sweep", base_path,
			 sweep ? "a concurrency sweep of an external engine" : "a built-in engine run", cur_path,
			 sweep ? "a built-in engine run" : "a concurrency sweep of an external engine");
		rc = -EINVAL;
		goto out;
	}
	if (!o->metrics || o->n_metrics == 0) {
		for (int m = 0; m < N_METRICS; m++)
			want[m] = metrics[m].is_default && !strcmp(metrics[m].kind, a->kind);
		if (sweep) {
			/* per level: the aggregate rate and energy, each stream's decode rate and TTFT */
			want[M_PREFILL_TOK_S] = false;
			want[M_TTFT_NS] = want[M_AGG_TOK_S] = true;
		}
	}

	r = calloc(1, sizeof *r);
	if (!r) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(r->kind, sizeof r->kind, "%s", a->kind);
	find_differences(a, b, r->differences, sizeof r->differences);
	if (r->differences[0] && !o->allow_different_machine) {
		snprintf(err, errlen, "%s and %s come from different machines or models: %s "
			 "(pass --allow-different-machine to compare them anyway)",
			 base_path, cur_path, r->differences);
		rc = -EXDEV;
		goto out;
	}
	if (!a->complete)
		appendf(r->warnings, sizeof r->warnings, "%sbaseline is incomplete: %s", r->warnings[0] ? "\n" : "", a->incomplete_reason);
	if (!b->complete)
		appendf(r->warnings, sizeof r->warnings, "%scurrent is incomplete: %s", r->warnings[0] ? "\n" : "", b->incomplete_reason);
	x = (struct regress_ctx){ r, o, err, errlen };
	rc = sweep                      ? compare_sweeps(&x, a, b, want)
	     : !strcmp(a->kind, "run") ? compare_runs(&x, a, b, want)
				       : compare_kernels(&x, a, b, want);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		goto out;
	}
	r->sweep = sweep;
	r->overall = combine(r->rows, r->n_rows);
	for (int i = 0; i < r->n_rows; i++) {
		switch (r->rows[i].verdict) {
		case RPT_REGRESSED:
			r->n_regressed++;
			break;
		case RPT_IMPROVED:
			r->n_improved++;
			break;
		case RPT_UNCHANGED:
			r->n_unchanged++;
			break;
		case RPT_INCONCLUSIVE:
			r->n_inconclusive++;
			break;
		}
	}
	if (r->n_rows == 0) {
		snprintf(err, errlen, "%s and %s have nothing in common to compare for the chosen metrics%s%s",
			 base_path, cur_path, r->warnings[0] ? ": " : "", r->warnings);
		rc = -EINVAL;
		goto out;
	}
	*out = r;
	r = NULL;
out:
	rpt_regress_free(r);
	return rc;
}

void rpt_regress_free(struct rpt_regress *r)
{
	if (!r)
		return;
	free(r->rows);
	free(r->levels);
	free(r);
}

/* ---- printing ---------------------------------------------------------------------------- */

static void fmt_num(char *buf, size_t len, double v)
{
	if (!isfinite(v))
		snprintf(buf, len, "-");
	else if (fabs(v) >= 1e4 && fabs(v) < 1e12)
		snprintf(buf, len, "%.0f", v); /* counts and ns: all digits */
	else
		snprintf(buf, len, "%.4g", v);
}

struct cells {
	char base[40], cur[40], ratio[24], ci[48], p[24];
};

static void row_cells(const struct rpt_gate_row *w, struct cells *c)
{
	fmt_num(c->base, sizeof c->base, w->base);
	fmt_num(c->cur, sizeof c->cur, w->cur);
	if (w->n_base > 1 || w->n_cur > 1) {
		size_t l = strlen(c->base);
		snprintf(c->base + l, sizeof c->base - l, " (n=%d)", w->n_base);
		l = strlen(c->cur);
		snprintf(c->cur + l, sizeof c->cur - l, " (n=%d)", w->n_cur);
	}
	if (isfinite(w->ratio))
		snprintf(c->ratio, sizeof c->ratio, "%.3f", w->ratio);
	else
		snprintf(c->ratio, sizeof c->ratio, "-");
	if (w->has_ci)
		snprintf(c->ci, sizeof c->ci, "[%.3f, %.3f]", w->ci_low, w->ci_high);
	else
		snprintf(c->ci, sizeof c->ci, "%s", w->deterministic ? "exact count" : "-");
	if (w->has_p)
		snprintf(c->p, sizeof c->p, "%.3g%s", w->p, w->exact ? "" : " ~");
	else
		snprintf(c->p, sizeof c->p, "-");
}

void rpt_regress_print(FILE *f, const struct rpt_regress *r, const struct rpt_regress_opts *o,
		       enum rpt_format fmt)
{
	const double thr = o->gate.threshold * 100;

	if (fmt == RPT_FMT_CSV) {
		fprintf(f, "metric,item,baseline,current,n_baseline,n_current,ratio,ci_low,ci_high,p,verdict,note\n");
		for (int i = 0; i < r->n_rows; i++) {
			const struct rpt_gate_row *w = &r->rows[i];

			fprintf(f, "%s,\"%s\",%.9g,%.9g,%d,%d,%.6g,", w->metric, w->item, w->base, w->cur, w->n_base,
				w->n_cur, w->ratio);
			if (w->has_ci)
				fprintf(f, "%.6g,%.6g,", w->ci_low, w->ci_high);
			else
				fprintf(f, ",,");
			if (w->has_p)
				fprintf(f, "%.6g,", w->p);
			else
				fprintf(f, ",");
			fprintf(f, "%s,\"%s\"\n", rpt_change_name(w->verdict), w->note);
		}
		return;
	}
	if (fmt == RPT_FMT_MD) {
		fprintf(f, "### joulebench regress: %s\n\n",
			r->n_regressed ? "REGRESSION" : r->n_inconclusive ? "no regression found (some inconclusive)"
									  : "no regression");
		fprintf(f, "| metric | item | baseline | current | ratio | %g%% CI of ratio | p | verdict |\n",
			100 * (1 - o->gate.alpha));
		fprintf(f, "|---|---|---:|---:|---:|---|---:|---|\n");
		for (int i = 0; i < r->n_rows; i++) {
			const struct rpt_gate_row *w = &r->rows[i];
			struct cells c;

			row_cells(w, &c);
			fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s%s%s |\n", w->metric, w->item, c.base, c.cur,
				c.ratio, c.ci, c.p, w->verdict == RPT_REGRESSED ? "**" : "",
				rpt_change_name(w->verdict), w->verdict == RPT_REGRESSED ? "**" : "");
		}
		fprintf(f, "\n");
		for (int i = 0; i < r->n_rows; i++)
			if (r->rows[i].note[0])
				fprintf(f, "- %s %s: %s\n", r->rows[i].metric, r->rows[i].item, r->rows[i].note);
	} else {
		fprintf(f, "%-13s %-34s %16s %16s %7s %17s %8s  %s\n", "metric", "item", "baseline", "current",
			"ratio", "CI of ratio", "p", "verdict");
		for (int i = 0; i < r->n_rows; i++) {
			const struct rpt_gate_row *w = &r->rows[i];
			struct cells c;

			row_cells(w, &c);
			fprintf(f, "%-13s %-34s %16s %16s %7s %17s %8s  %s%s%s\n", w->metric, w->item, c.base, c.cur,
				c.ratio, c.ci, c.p, rpt_change_name(w->verdict), w->note[0] ? ": " : "", w->note);
		}
	}
	if (r->differences[0])
		fprintf(f, "%sdifferent machines or models (allowed): %s\n", fmt == RPT_FMT_MD ? "\n> " : "\n",
			r->differences);
	if (r->warnings[0]) {
		const char *p = r->warnings;

		fprintf(f, "\n");
		while (*p) {
			const char *e = strchr(p, '\n');
			int l = e ? (int)(e - p) : (int)strlen(p);

			fprintf(f, "%snot compared: %.*s\n", fmt == RPT_FMT_MD ? "- " : "", l, p);
			p += l + (e ? 1 : 0);
		}
	}
	if (r->sweep) {
		bool md = fmt == RPT_FMT_MD;

		fprintf(f, "\n%s\n", md ? "**per concurrency level:**\n" : "per concurrency level:");
		for (int i = 0; i < r->n_levels; i++)
			fprintf(f, "%sconcurrency %d: %s\n", md ? "- " : "  ", r->levels[i].concurrency,
				rpt_change_name(r->levels[i].verdict));
		fprintf(f, "%soverall: %s%s\n", md ? "\n**" : "", rpt_change_name(r->overall), md ? "**" : "");
	}
	fprintf(f, "\n%s%d regressed, %d improved, %d unchanged, %d inconclusive (threshold %g%%, alpha %g; "
		   "p: exact Mann-Whitney U, ~ normal approximation)%s\n",
		fmt == RPT_FMT_MD ? "**summary:** " : "summary: ", r->n_regressed, r->n_improved, r->n_unchanged,
		r->n_inconclusive, thr, o->gate.alpha, fmt == RPT_FMT_MD ? "" : "");
}
