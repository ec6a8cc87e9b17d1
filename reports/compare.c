/*
 * reports/compare.c — one table across results: each metric with its median and 95% CI, the
 * ratio against the first (baseline) row with a conservative interval, and geometric means.
 *
 * Ratio intervals combine the two CIs at their extremes (b.low / a.high … b.high / a.low): wider
 * than a bootstrap of the ratio, never narrower, and computable from the summaries alone.
 */
#include "reports/rpt_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum better { HIGHER, LOWER, NEITHER };

struct metric {
	const char *name; /* CSV / Markdown label */
	const char *unit;
	enum better better;
	bool energy; /* derived from an energy figure (measured or estimated) */
	int group;   /* 0: speed geomean, 1: efficiency geomean, -1: none */
};

static const struct metric metrics[] = {
    {"prefill tok/s", "tok/s", HIGHER, false, 0},
    {"decode tok/s", "tok/s", HIGHER, false, 0},
    {"TTFT", "ms", LOWER, false, 0},
    {"p99 inter-token latency", "ms", LOWER, false, 0},
    {"J/token (decode, net)", "J", LOWER, true, -1},
    {"tokens/J (decode, net)", "tok/J", HIGHER, true, 1},
    {"average power", "W", NEITHER, true, -1},
    {"perf-per-watt", "tok/s/W", HIGHER, true, 1},
};
#define N_METRICS (int)(sizeof metrics / sizeof metrics[0])

/* One value: median with CI, or missing with a reason. */
struct val {
	bool ok;
	double v, lo, hi;
	const char *reason;
};

static struct val from_stat(const struct rpt_stat *s)
{
	if (!s->ok)
		return (struct val){.ok = false, .reason = s->reason};
	return (struct val){true, s->median, s->ci_low, s->ci_high, NULL};
}

static struct val metric_value(const struct rpt_config *c, int m)
{
	switch (m) {
	case 0:
		return from_stat(&c->prefill_tok_s);
	case 1:
		return from_stat(&c->decode_tok_s);
	case 2:
		return from_stat(&c->ttft_ms);
	case 3:
		if (!c->itl_p99_ms.ok)
			return (struct val){.ok = false, .reason = c->itl_p99_ms.reason};
		return (struct val){true, c->itl_p99_ms.v, c->itl_p99_ms.v, c->itl_p99_ms.v, NULL};
	case 4:
		return from_stat(&c->decode_jpt_net);
	case 5:
		return from_stat(&c->tokens_per_j);
	case 6:
		return from_stat(&c->avg_power_w);
	default: {
		struct val t = from_stat(&c->decode_tok_s), w = from_stat(&c->avg_power_w);

		if (!t.ok || !w.ok || w.v <= 0 || w.lo <= 0)
			return (struct val){.ok = false, .reason = !t.ok ? t.reason : w.reason};
		return (struct val){true, t.v / w.v, t.lo / w.hi, t.hi / w.lo, NULL};
	}
	}
}

struct row {
	const struct rpt_result *r;
	const struct rpt_config *c;
	char label[160];
	struct val v[N_METRICS];
	struct val ratio[N_METRICS];
	double geo[2];
	int geo_n[2];
};

static struct val ratio_of(struct val b, struct val a)
{
	if (!a.ok || !b.ok || a.v <= 0 || a.lo <= 0)
		return (struct val){.ok = false};
	return (struct val){true, b.v / a.v, b.lo / a.hi, b.hi / a.lo, NULL};
}

static void fmt_val(char *buf, size_t len, struct val v, bool ci)
{
	char a[32], b[32], c[32];

	if (!v.ok) {
		snprintf(buf, len, "n/a");
		return;
	}
	rj_fmt(a, sizeof a, v.v, 3);
	if (!ci || (v.lo == v.v && v.hi == v.v)) {
		snprintf(buf, len, "%s", a);
		return;
	}
	rj_fmt(b, sizeof b, v.lo, 3);
	rj_fmt(c, sizeof c, v.hi, 3);
	snprintf(buf, len, "%.31s [%.31s, %.31s]", a, b, c);
}

static void fmt_ratio(char *buf, size_t len, struct val r)
{
	char a[32], b[32], c[32];

	if (!r.ok) {
		snprintf(buf, len, "-");
		return;
	}
	rj_fmt(a, sizeof a, r.v, 3);
	rj_fmt(b, sizeof b, r.lo, 3);
	rj_fmt(c, sizeof c, r.hi, 3);
	if (r.lo == r.v && r.hi == r.v)
		snprintf(buf, len, "×%s", a);
	else
		snprintf(buf, len, "×%.31s (%.31s–%.31s)", a, b, c);
}

static const char *energy_tag(const struct rpt_config *c)
{
	if (!c->energy_source[0])
		return "none";
	return !strcmp(c->energy_kind, "estimated") ? "estimated" : "measured";
}

static int text_width(const char *s)
{
	int w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void pad(FILE *f, const char *s, int width)
{
	int n = width - text_width(s);

	fprintf(f, "%s%*s", s, n > 0 ? n : 0, "");
}

static void csv_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_num(FILE *f, bool ok, double v)
{
	if (ok)
		fprintf(f, ",%.6g", v);
	else
		fprintf(f, ",");
}

static void print_csv(FILE *f, const struct row *rows, int n)
{
	fprintf(f, "result,threads,type,complete,energy,metric,unit,median,ci95_low,ci95_high,"
	           "ratio,ratio_low,ratio_high,reason\n");
	for (int i = 0; i < n; i++)
		for (int m = 0; m < N_METRICS; m++) {
			const struct row *r = &rows[i];
			struct val v = r->v[m], q = r->ratio[m];

			csv_str(f, r->r->path);
			fprintf(f, ",%d,%s,%s,%s,", r->c->threads, r->c->type,
			        r->r->complete ? "true" : "false",
			        metrics[m].energy ? energy_tag(r->c) : "");
			csv_str(f, metrics[m].name);
			fprintf(f, ",%s", metrics[m].unit);
			csv_num(f, v.ok, v.v);
			csv_num(f, v.ok, v.lo);
			csv_num(f, v.ok, v.hi);
			csv_num(f, q.ok, q.v);
			csv_num(f, q.ok, q.lo);
			csv_num(f, q.ok, q.hi);
			fputc(',', f);
			csv_str(f, v.ok ? "" : v.reason ? v.reason : "");
			fputc('\n', f);
		}
}

#define CELL 200

/* Prints a grid of cells: Markdown pipes, or columns padded to their widest cell. */
static void print_grid(FILE *f, char (*cells)[CELL], int nr, int nc, bool md)
{
	int *w = calloc((size_t)nc, sizeof *w);

	for (int j = 0; j < nc && w; j++)
		for (int i = 0; i < nr; i++)
			if (text_width(cells[i * nc + j]) > w[j])
				w[j] = text_width(cells[i * nc + j]);
	for (int i = 0; i < nr; i++) {
		for (int j = 0; j < nc; j++) {
			if (md)
				fprintf(f, "| %s ", cells[i * nc + j]);
			else
				pad(f, cells[i * nc + j], j == nc - 1 ? 0 : (w ? w[j] : 0) + 2);
		}
		fprintf(f, md ? "|\n" : "\n");
		if (md && i == 0) {
			for (int j = 0; j < nc; j++)
				fprintf(f, "|---");
			fprintf(f, "|\n");
		}
	}
	free(w);
}

static void print_table(FILE *f, const struct row *rows, int n, bool md)
{
	int nr = N_METRICS + 3, nc = n + 1;
	char(*cells)[CELL] = calloc((size_t)(nr * nc), sizeof *cells);

	if (!cells)
		return;
	snprintf(cells[0], CELL, "metric");
	for (int i = 0; i < n; i++)
		snprintf(cells[1 + i], CELL, "%.150s%s", rows[i].label,
		         i == 0 ? " (baseline)" : "");
	for (int m = 0; m < N_METRICS; m++) {
		char *c0 = cells[(m + 1) * nc];

		snprintf(c0, CELL, "%s (%s)", metrics[m].name, metrics[m].unit);
		for (int i = 0; i < n; i++) {
			char v[128], q[128];
			const char *mark = "";

			fmt_val(v, sizeof v, rows[i].v[m], true);
			fmt_ratio(q, sizeof q, rows[i].ratio[m]);
			if (metrics[m].energy && rows[i].v[m].ok &&
			    !strcmp(energy_tag(rows[i].c), "estimated"))
				mark = " est.";
			if (i == 0 || !rows[i].ratio[m].ok)
				snprintf(c0 + (size_t)(i + 1) * CELL, CELL, "%s%s", v, mark);
			else
				snprintf(c0 + (size_t)(i + 1) * CELL, CELL, "%.90s%s %.90s", v,
				         mark, q);
		}
	}
	for (int g = 0; g < 2; g++) {
		char *c0 = cells[(N_METRICS + 1 + g) * nc];

		snprintf(c0, CELL, "%s",
		         g == 0
		             ? (md ? "**geomean speed ratio**" : "geomean speed ratio")
		             : (md ? "**geomean efficiency ratio**" : "geomean efficiency ratio"));
		for (int i = 0; i < n; i++) {
			char r[32];

			rj_fmt(r, sizeof r, rows[i].geo[g], 3);
			if (i == 0)
				snprintf(c0 + (size_t)(i + 1) * CELL, CELL, "1");
			else if (rows[i].geo_n[g] == 0)
				snprintf(c0 + (size_t)(i + 1) * CELL, CELL, "n/a");
			else
				snprintf(c0 + (size_t)(i + 1) * CELL, CELL, "×%s (%d metrics)", r,
				         rows[i].geo_n[g]);
		}
	}
	print_grid(f, cells, nr, nc, md);
	free(cells);
	fprintf(f,
	        "\nValues: median [95%% CI]; ratios: value / baseline with a conservative interval "
	        "from both CIs. Speed geomean over prefill tok/s, decode tok/s, 1/TTFT, 1/p99; "
	        "efficiency geomean over tokens/J and perf-per-watt (>1 = better than baseline). "
	        "perf-per-watt = decode tok/s / average W.\n");
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		const char *bullet = md ? "- " : "  ";

		if (!r->r->complete)
			fprintf(f,
			        "%s%s: INCOMPLETE run (%s); figures cover the repetitions that "
			        "finished.\n",
			        bullet, r->label, r->r->incomplete_reason);
		if (!strcmp(energy_tag(r->c), "estimated")) {
			const struct rpt_source *s = rpt_find_source(r->r, r->c->energy_source);

			fprintf(f, "%s%s: energy ESTIMATED by '%s'%s%s%s, not measured.", bullet,
			        r->label, r->c->energy_source, s && s->model[0] ? " (" : "",
			        s && s->model[0] ? s->model : "", s && s->model[0] ? ")" : "");
			if (r->c->est_range && r->c->est_tokens_per_j.ok)
				fprintf(f,
				        " Its range at the model's low/high coefficients: tokens/J "
				        "%.3g-%.3g, J/token (decode, gross) %.3g-%.3g.",
				        r->c->est_tokens_per_j.lo, r->c->est_tokens_per_j.hi,
				        r->c->est_decode_jpt_gross.lo, r->c->est_decode_jpt_gross.hi);
			fputc('\n', f);
		} else if (!strcmp(energy_tag(r->c), "measured")) {
			const struct rpt_source *s = rpt_find_source(r->r, r->c->energy_source);

			fprintf(f, "%s%s: energy measured by '%s'%s%s%s.\n", bullet, r->label,
			        r->c->energy_source, s && s->covers[0] ? " (covers: " : "",
			        s && s->covers[0] ? s->covers : "", s && s->covers[0] ? ")" : "");
		} else {
			fprintf(f, "%s%s: no energy figures: %s.\n", bullet, r->label,
			        r->c->energy_reason);
		}
	}
}

int rpt_compare_rows(FILE *f, struct rpt_result *const *rs, int n, bool all_configs,
                     enum rpt_format fmt, char *err, size_t errlen)
{
	struct row *rows = NULL;
	int nrows = 0, cap = 0;

	if (n < 1) {
		snprintf(err, errlen, "nothing to compare");
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (rs[i]->schema_version != rs[0]->schema_version) {
			snprintf(
			    err, errlen,
			    "%s has schema_version %d but %s has %d: results of different schema "
			    "versions cannot be compared",
			    rs[i]->path, rs[i]->schema_version, rs[0]->path, rs[0]->schema_version);
			return -EINVAL;
		}
		if (strcmp(rs[i]->kind, "run")) {
			snprintf(err, errlen,
			         "%s: compare needs results of kind \"run\" (this is \"%s\"; use "
			         "'joulebench regress' for kernel results)",
			         rs[i]->path, rs[i]->kind);
			return -EINVAL;
		}
		if (rs[i]->n_configs == 0) {
			snprintf(err, errlen, "%s: the result has no configuration to compare",
			         rs[i]->path);
			return -EINVAL;
		}
	}
	for (int i = 0; i < n; i++) {
		const struct rpt_config *head = rpt_headline_config(rs[i]);

		for (int k = 0; k < rs[i]->n_configs; k++) {
			const struct rpt_config *c = &rs[i]->configs[k];

			if (!all_configs && c != head)
				continue;
			if (nrows == cap) {
				struct row *nr;

				cap = cap ? cap * 2 : 8;
				nr = realloc(rows, (size_t)cap * sizeof *rows);
				if (!nr) {
					free(rows);
					return -ENOMEM;
				}
				rows = nr;
			}
			struct row *r = &rows[nrows++];

			memset(r, 0, sizeof *r);
			r->r = rs[i];
			r->c = c;
			char pp[24] = "";

			/* every config: a prompt-length sweep repeats threads and type */
			if (all_configs)
				snprintf(pp, sizeof pp, " pp%d", c->prompt_tokens);
			if (c->concurrency > 0) /* a sweep level of an external engine */
				snprintf(r->label, sizeof r->label, "%.100s %.15s c%d%s",
				         rj_label(rs[i]->path), c->type, c->concurrency,
				         rs[i]->complete ? "" : " (incomplete)");
			else
				snprintf(r->label, sizeof r->label, "%.100s %dt %.15s%s%s",
				         rj_label(rs[i]->path), c->threads, c->type, pp,
				         rs[i]->complete ? "" : " (incomplete)");
			for (int m = 0; m < N_METRICS; m++)
				r->v[m] = metric_value(c, m);
		}
	}
	for (int i = 0; i < nrows; i++) {
		for (int m = 0; m < N_METRICS; m++) {
			struct val q = ratio_of(rows[i].v[m], rows[0].v[m]);
			int g = metrics[m].group;

			rows[i].ratio[m] = q;
			if (!q.ok || g < 0 || q.v <= 0)
				continue;
			rows[i].geo[g] += log(metrics[m].better == LOWER ? 1.0 / q.v : q.v);
			rows[i].geo_n[g]++;
		}
		for (int g = 0; g < 2; g++)
			if (rows[i].geo_n[g])
				rows[i].geo[g] = exp(rows[i].geo[g] / rows[i].geo_n[g]);
	}
	if (fmt == RPT_FMT_CSV)
		print_csv(f, rows, nrows);
	else
		print_table(f, rows, nrows, fmt == RPT_FMT_MD);
	free(rows);
	return 0;
}

int rpt_compare(FILE *f, struct rpt_result *const *rs, int n, enum rpt_format fmt, char *err,
                size_t errlen)
{
	return rpt_compare_rows(f, rs, n, false, fmt, err, errlen);
}
