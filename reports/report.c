/*
 * reports/report.c — `report.md` and `report.html` for one or more results.
 *
 * The Markdown is the record; the HTML is rendered from it by a converter for the small subset
 * the report uses (headings, paragraphs, lists, pipe tables, images, **bold**, `code`), so both
 * always say the same thing. Images are embedded in the HTML as data: URIs, so the file reads
 * offline on its own.
 */
#include "reports/rpt_json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void md_stat(FILE *f, const struct rpt_stat *s, int sig)
{
	char a[32], b[32], c[32];

	if (!s->ok) {
		fprintf(f, " n/a |");
		return;
	}
	rj_fmt(a, sizeof a, s->median, sig);
	rj_fmt(b, sizeof b, s->ci_low, sig);
	rj_fmt(c, sizeof c, s->ci_high, sig);
	fprintf(f, " %s [%s, %s] |", a, b, c);
}

static void md_num(FILE *f, const struct rpt_num *n)
{
	char a[32];

	if (!n->ok) {
		fprintf(f, " n/a |");
		return;
	}
	rj_fmt(a, sizeof a, n->v, 3);
	fprintf(f, " %s |", a);
}

/* The same machine (host, CPU, kernel) with the same list of unavailable probes: a report over
 * many runs on one machine lists the probes once and points back to that list afterwards. */
static bool same_probe_list(const struct rpt_result *a, const struct rpt_result *b)
{
	const cJSON *ua = cJSON_GetObjectItemCaseSensitive(a->json, "energy_unavailable");
	const cJSON *ub = cJSON_GetObjectItemCaseSensitive(b->json, "energy_unavailable");

	return !strcmp(a->hostname, b->hostname) && !strcmp(a->cpu_model, b->cpu_model) &&
	       !strcmp(a->kernel, b->kernel) && ua && ub && cJSON_Compare(ua, ub, true);
}

/* Writes one result's section. `earlier` is the result whose section already listed the same
 * machine's unavailable probes (NULL: list them here). */
static void md_result(FILE *f, const struct rpt_result *r, const struct rpt_result *earlier)
{
	const cJSON *un = cJSON_GetObjectItemCaseSensitive(r->json, "energy_unavailable"), *it;

	fprintf(f, "### %s\n\n", rj_label(r->path));
	fprintf(f, "- **Machine:** %s, %d cores / %d threads",
	        r->cpu_model[0] ? r->cpu_model : "unknown CPU", r->cores, r->threads);
	if (r->mem_bytes.ok)
		fprintf(f, ", %.1f GiB RAM", r->mem_bytes.v / (1024.0 * 1024 * 1024));
	fprintf(f, "; %s, kernel %s%s%s%s (host `%s`)\n", r->os[0] ? r->os : "unknown OS",
	        r->kernel[0] ? r->kernel : "?", r->virtualized[0] ? "; virtual machine (" : "",
	        r->virtualized[0] ? r->virtualized : "", r->virtualized[0] ? ")" : "",
	        r->hostname[0] ? r->hostname : "?");
	fprintf(f, "- **joulebench:** %s, commit `%s`, SIMD %s; run started %s\n",
	        r->jb_version[0] ? r->jb_version : "?", r->jb_commit[0] ? r->jb_commit : "?",
	        r->jb_simd[0] ? r->jb_simd : "?", r->created_utc[0] ? r->created_utc : "?");
	if (!strcmp(r->kind, "kernels")) {
		fprintf(f,
		        "- **Kind:** kernel microbenchmarks, %d kernels; highest measured memory "
		        "bandwidth ",
		        r->n_kernels);
		if (r->membw_gbs.ok)
			fprintf(f, "%.3g GB/s\n\n", r->membw_gbs.v);
		else
			fprintf(f, "not measured (%s)\n\n", r->membw_gbs.reason);
		return;
	}
	fprintf(f, "- **Workload:** %s: %d prompt tokens, %d generated tokens, %d repetitions\n",
	        r->workload[0] ? r->workload : "?", r->prompt_tokens, r->gen_tokens, r->reps);
	fprintf(f, "- **Model:** %s (`%s`)%s", r->model_name[0] ? r->model_name : "?",
	        r->model_spec[0] ? r->model_spec : "?",
	        r->model_synthetic ? ", synthetic weights" : "");
	if (r->n_params.ok)
		fprintf(f, ", %.4g parameters\n", r->n_params.v);
	else
		fprintf(f, ", parameter count not recorded (%s)\n", r->n_params.reason);
	if (r->complete)
		fprintf(f, "- **Status:** complete\n");
	else
		fprintf(f, "- **Status:** **INCOMPLETE**: %s; the figures cover what finished\n",
		        r->incomplete_reason);
	if (r->primary_source[0])
		fprintf(f, "- **Headline energy source:** `%s`\n", r->primary_source);
	else
		fprintf(f, "- **Headline energy source:** none (%s)\n",
		        r->primary_reason[0] ? r->primary_reason : "not recorded");
	fputc('\n', f);
	if (r->n_sources > 0) {
		fprintf(f,
		        "| energy source | backend | domain | covers | kind | model (estimates) |\n"
		        "|---|---|---|---|---|---|\n");
		for (int i = 0; i < r->n_sources; i++) {
			const struct rpt_source *s = &r->sources[i];

			fprintf(f, "| `%s` | %s | %s | %s | %s | %s |\n", s->id, s->backend,
			        s->domain, s->covers,
			        !strcmp(s->kind, "estimated") ? "**ESTIMATED**" : s->kind,
			        s->model[0] ? s->model : "-");
		}
		fputc('\n', f);
	}
	if (cJSON_GetArraySize(un) > 0 && earlier) {
		fprintf(f, "Probes not used: the same as for `%s` (same machine).\n\n",
		        rj_label(earlier->path));
	} else if (cJSON_GetArraySize(un) > 0) {
		fprintf(f, "Probes not used:\n\n");
		cJSON_ArrayForEach(it, un)
		{
			char what[128], why[1024];

			rj_str(it, "what", what, sizeof what);
			rj_str(it, "reason", why, sizeof why);
			fprintf(f, "- %s: %s\n", what, why);
		}
		fputc('\n', f);
	}
	fprintf(f,
	        "| threads (cN: streams) | type | reps | prefill tok/s | decode tok/s | TTFT ms | "
	        "ITL p50 ms | ITL p99 ms | J/token decode (gross) | J/token decode (net) | "
	        "tokens/J | avg W | Wh/query (net) | energy |\n"
	        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < r->n_configs; i++) {
		const struct rpt_config *c = &r->configs[i];

		/* a sweep level: cN streams, reps = successful requests */
		if (c->concurrency > 0)
			fprintf(f, "| c%d | %s | %d |", c->concurrency, c->type, c->n_reps);
		else
			fprintf(f, "| %d | %s | %d |", c->threads, c->type, c->n_reps);
		md_stat(f, &c->prefill_tok_s, 3);
		md_stat(f, &c->decode_tok_s, 3);
		md_stat(f, &c->ttft_ms, 3);
		md_num(f, &c->itl_p50_ms);
		md_num(f, &c->itl_p99_ms);
		md_stat(f, &c->decode_jpt_gross, 3);
		md_stat(f, &c->decode_jpt_net, 3);
		md_stat(f, &c->tokens_per_j, 3);
		md_stat(f, &c->avg_power_w, 3);
		md_stat(f, &c->wh_per_query, 3);
		if (c->energy_source[0] && c->est_range) {
			const char *sets = "";

			for (int k = 0; k < r->n_sources; k++)
				if (!strcmp(r->sources[k].id, c->energy_source))
					sets = r->sources[k].range_sets;
			fprintf(f,
			        " **ESTIMATED** `%s`, range at the model's low/high coefficients%s%s%s: "
			        "J/token net %.3g-%.3g, gross %.3g-%.3g; avg W %.3g-%.3g |\n",
			        c->energy_source, *sets ? " (" : "", sets, *sets ? ")" : "",
			        c->est_decode_jpt_net.ok ? c->est_decode_jpt_net.lo : 0,
			        c->est_decode_jpt_net.ok ? c->est_decode_jpt_net.hi : 0,
			        c->est_decode_jpt_gross.lo, c->est_decode_jpt_gross.hi,
			        c->est_avg_power_w.ok ? c->est_avg_power_w.lo : 0,
			        c->est_avg_power_w.ok ? c->est_avg_power_w.hi : 0);
		}
		else if (c->energy_source[0])
			fprintf(f, " %s `%s` |\n",
			        !strcmp(c->energy_kind, "estimated") ? "**ESTIMATED**" : "measured",
			        c->energy_source);
		else
			fprintf(f, " none: %s |\n", c->energy_reason);
	}
	fprintf(
	    f, "\nMedians with 95%% bootstrap CIs of the median over repetitions. Net = idle power "
	       "subtracted. n/a = not measured on this machine (reason in the energy column or "
	       "the result file).\n\n");
}

static int write_md(FILE *f, struct rpt_result *const *rs, int n, const struct rpt_report_opts *o,
                    const struct rpt_plot *plots, int nplots, const char *plot_note, char *err,
                    size_t errlen)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;
	int runs = 0, rc, left_out;
	struct rpt_claim claims[RPT_N_CLAIMS];

	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(f, "# %s\n\n", o->title ? o->title : "joulebench report");
	fprintf(f, "Generated %s from %d result file%s:", when, n, n == 1 ? "" : "s");
	for (int i = 0; i < n; i++)
		fprintf(f, " `%s`%s", rj_label(rs[i]->path), i + 1 < n ? "," : ".");
	fprintf(f, " Every energy figure is marked **measured** (with its probe and domain) or "
	           "**ESTIMATED** (with its model); cloud figures are estimates from the cited "
	           "profiles in `configs/cloud`.\n\n");
	fprintf(f, "## Results\n\n");
	for (int i = 0; i < n; i++) {
		const struct rpt_result *earlier = NULL;

		for (int j = 0; j < i && !earlier; j++)
			if (!strcmp(rs[j]->kind, "run") && same_probe_list(rs[j], rs[i]))
				earlier = rs[j];
		md_result(f, rs[i], earlier);
		runs += !strcmp(rs[i]->kind, "run");
	}
	if (runs >= 2) {
		struct rpt_result **only = calloc((size_t)runs, sizeof *only);
		int k = 0;

		if (!only)
			return -ENOMEM;
		for (int i = 0; i < n; i++)
			if (!strcmp(rs[i]->kind, "run"))
				only[k++] = rs[i];
		fprintf(f, "## Comparison\n\nBaseline: the first result.\n\n");
		rc = rpt_compare(f, only, k, RPT_FMT_MD, err, errlen);
		free(only);
		if (rc)
			return rc;
		fputc('\n', f);
	}
	fprintf(f, "## Plots\n\n");
	if (plot_note && plot_note[0])
		fprintf(f, "%s.\n\n", plot_note);
	else if (nplots == 0)
		fprintf(f, "No plot applies to these results.\n\n");
	for (int i = 0; i < nplots; i++) {
		if (plots[i].left_out[0])
			continue;
		fprintf(f, "![%s](%s)\n\n**%s.** %s%s ([SVG](%s))\n\n", plots[i].title,
		        plots[i].png, plots[i].title, plots[i].caption,
		        plots[i].estimated ? " Contains ESTIMATED energy figures." : "",
		        plots[i].svg);
	}
	left_out = 0;
	for (int i = 0; i < nplots; i++) {
		if (!plots[i].left_out[0])
			continue;
		if (left_out++ == 0)
			fprintf(f, "| view not drawn | why, or its one data point |\n|---|---|\n");
		fprintf(f, "| %s | %s |\n", plots[i].title, plots[i].left_out);
	}
	if (left_out)
		fputc('\n', f);
	if (runs > 0) {
		struct rpt_cloud_opts co = {.dir = o->cloud_dir ? o->cloud_dir : "configs/cloud",
		                            .grid = o->grid,
		                            .md = true};

		fprintf(f, "## Local vs cloud\n\n");
		for (int i = 0; i < n; i++) {
			if (strcmp(rs[i]->kind, "run"))
				continue;
			rc = rpt_cloud_table(f, rs[i], &co, err, errlen);
			if (rc)
				return rc;
			fputc('\n', f);
		}
		fprintf(f, "## Claims\n\n");
		rc = rpt_claims_check(rs, n, co.dir, claims, err, errlen);
		if (rc)
			return rc;
		rpt_claims_print(f, claims, RPT_N_CLAIMS, true);
	}
	if (runs > 0) {
		struct rpt_cloud_profile *ps = NULL;
		int np = rpt_cloud_profiles_load(o->cloud_dir ? o->cloud_dir : "configs/cloud", &ps,
		                                 err, errlen);

		if (np < 0)
			return np;
		fprintf(f, "## Cloud model constants\n\n"
		           "| profile | constant | default | low | high | unit | source |\n"
		           "|---|---|---|---|---|---|---|\n");
		for (int i = 0; i < np; i++)
			for (int k = 0; k < ps[i].n_consts; k++) {
				const struct rpt_const *c = &ps[i].consts[k];

				fprintf(f, "| `%s` | `%s` | %.6g | %.6g | %.6g | %s | %s |\n",
				        ps[i].name, c->name, c->def, c->low, c->high, c->unit,
				        c->source);
			}
		fputc('\n', f);
		free(ps);
	}
	fprintf(f,
	        "## Sources of the figures\n\n"
	        "- Local speed and latency: measured by joulebench on the machine named in each "
	        "result (CLOCK_MONOTONIC).\n"
	        "- Local energy: per configuration, the `energy` column names the source; "
	        "**ESTIMATED** sources carry their model in the energy source table.\n"
	        "- Cloud figures: `configs/cloud/*.json`, every constant with its citation; ranges "
	        "from evaluating each model at every low/high corner of its constants.\n"
	        "- Carbon: `configs/cloud/grid.json` (region, intensity and source in the cloud "
	        "section).\n");
	return ferror(f) ? -EIO : 0;
}

/* ---- Markdown subset → HTML ------------------------------------------------------------- */

static void html_text(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(s[i], f);
		}
	}
}

/* Inline markup: **bold**, `code`, [text](href). */
static void html_inline(FILE *f, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *end;

		if (s[i] == '*' && i + 1 < n && s[i + 1] == '*' &&
		    (end = strstr(s + i + 2, "**")) && (size_t)(end - s) < n) {
			/* warnings (estimated figures, incomplete runs) in red, other bold text not */
			fputs(!strncmp(s + i + 2, "ESTIMATED", 9) || !strncmp(s + i + 2, "INCOMPLETE", 10)
			          ? "<strong class=\"warn\">"
			          : "<strong>",
			      f);
			html_text(f, s + i + 2, (size_t)(end - s - i - 2));
			fputs("</strong>", f);
			i = (size_t)(end - s) + 2;
		} else if (s[i] == '`' && (end = memchr(s + i + 1, '`', n - i - 1))) {
			fputs("<code>", f);
			html_text(f, s + i + 1, (size_t)(end - s - i - 1));
			fputs("</code>", f);
			i = (size_t)(end - s) + 1;
		} else if (s[i] == '[' && (end = memchr(s + i, ']', n - i)) &&
		           (size_t)(end - s) + 1 < n && end[1] == '(' &&
		           memchr(end, ')', n - (size_t)(end - s))) {
			const char *close = memchr(end, ')', n - (size_t)(end - s));

			fputs("<a href=\"", f);
			html_text(f, end + 2, (size_t)(close - end - 2));
			fputs("\">", f);
			html_text(f, s + i + 1, (size_t)(end - s - i - 1));
			fputs("</a>", f);
			i = (size_t)(close - s) + 1;
		} else {
			html_text(f, s + i, 1);
			i++;
		}
	}
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int html_image(FILE *f, const char *dir, const char *alt, size_t alt_n, const char *src,
                      size_t src_n)
{
	char path[1400];
	unsigned char *data;
	size_t len = 0;

	snprintf(path, sizeof path, "%s/%.*s", dir, (int)src_n, src);
	data = (unsigned char *)rj_slurp(path, &len);
	if (!data) {
		fputs("<p><em>image missing: ", f);
		html_text(f, src, src_n);
		fputs("</em></p>\n", f);
		return 0;
	}
	fputs("<figure><img alt=\"", f);
	html_text(f, alt, alt_n);
	fputs("\" src=\"data:image/png;base64,", f);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)data[i] << 16 |
		             (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0) |
		             (i + 2 < len ? data[i + 2] : 0);

		fputc(b64[v >> 18 & 63], f);
		fputc(b64[v >> 12 & 63], f);
		fputc(i + 1 < len ? b64[v >> 6 & 63] : '=', f);
		fputc(i + 2 < len ? b64[v & 63] : '=', f);
	}
	fputs("\" /></figure>\n", f);
	free(data);
	return 0;
}

static void html_row(FILE *f, const char *line, bool header)
{
	const char *p = line + 1;

	fputs("<tr>", f);
	while (*p && *p != '\n') {
		const char *e = strchr(p, '|');
		size_t n;

		if (!e)
			break;
		while (*p == ' ')
			p++;
		n = (size_t)(e - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		fputs(header ? "<th>" : "<td>", f);
		html_inline(f, p, n);
		fputs(header ? "</th>" : "</td>", f);
		p = e + 1;
	}
	fputs("</tr>\n", f);
}

static int write_html(FILE *f, const char *md, const char *dir, const char *title)
{
	const char *p = md;
	bool in_list = false, in_table = false, in_para = false;
	int table_rows = 0;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n<title>",
	      f);
	html_text(f, title, strlen(title));
	fputs(
	    "</title>\n<style>\n"
	    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;"
	    "line-height:1.45;color:#222}\n"
	    "table{border-collapse:collapse;margin:1em 0;font-size:0.88em}\n"
	    "th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:left;vertical-align:top}\n"
	    "th{background:#f2f2f2}\ncode{background:#f4f4f4;padding:0 0.2em}\n"
	    "figure{margin:1em 0}\nimg{max-width:100%}\nstrong.warn{color:#b00000}\n"
	    "</style>\n</head>\n<body>\n",
	    f);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		bool table_line = n > 0 && p[0] == '|';
		bool list_line = n > 1 && p[0] == '-' && p[1] == ' ';

		if (in_para && (n == 0 || table_line || list_line || p[0] == '#' || p[0] == '!')) {
			fputs("</p>\n", f);
			in_para = false;
		}
		if (in_list && !list_line) {
			fputs("</ul>\n", f);
			in_list = false;
		}
		if (in_table && !table_line) {
			fputs("</tbody></table>\n", f);
			in_table = false;
		}
		if (n == 0) {
			/* blank line: closes blocks (done above) */
		} else if (p[0] == '#') {
			int level = 0;

			while (level < (int)n && p[level] == '#')
				level++;
			fprintf(f, "<h%d>", level);
			html_inline(f, p + level + 1, n - (size_t)level - 1);
			fprintf(f, "</h%d>\n", level);
		} else if (table_line) {
			if (!in_table) {
				fputs("<table><thead>\n", f);
				in_table = true;
				table_rows = 0;
			}
			if (strncmp(p, "|---", 4) == 0) {
				fputs("</thead><tbody>\n", f);
			} else {
				html_row(f, p, table_rows == 0);
				table_rows++;
			}
		} else if (list_line) {
			if (!in_list) {
				fputs("<ul>\n", f);
				in_list = true;
			}
			fputs("<li>", f);
			html_inline(f, p + 2, n - 2);
			fputs("</li>\n", f);
		} else if (p[0] == '!' && n > 4 && p[1] == '[') {
			const char *a = p + 2, *ae = memchr(p, ']', n);
			const char *s = ae ? ae + 2 : NULL,
			           *se = ae ? memchr(ae, ')', n - (size_t)(ae - p)) : NULL;

			if (ae && se && ae[1] == '(')
				html_image(f, dir, a, (size_t)(ae - a), s, (size_t)(se - s));
		} else {
			if (!in_para) {
				fputs("<p>", f);
				in_para = true;
			} else {
				fputc('\n', f);
			}
			html_inline(f, p, n);
		}
		p += n + (nl ? 1 : 0);
	}
	if (in_para)
		fputs("</p>\n", f);
	if (in_list)
		fputs("</ul>\n", f);
	if (in_table)
		fputs("</tbody></table>\n", f);
	fputs("</body>\n</html>\n", f);
	return ferror(f) ? -EIO : 0;
}

int rpt_report_write(struct rpt_result *const *rs, int n, const struct rpt_report_opts *o,
                     char *note, size_t note_len, char *err, size_t errlen)
{
	struct rpt_plot plots[RPT_MAX_PLOTS];
	char path[1200], skipped[RPT_ERR_LEN] = "";
	char *md = NULL;
	size_t md_len = 0;
	FILE *mem = NULL, *f = NULL;
	int nplots = 0, rc = 0;

	if (note && note_len)
		note[0] = '\0';
	if (mkdir(o->out_dir, 0755) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot create: %s", o->out_dir, strerror(errno));
		return rc;
	}
	if (o->no_plots) {
		snprintf(skipped, sizeof skipped, "Plots not drawn (--no-plots)");
	} else {
		nplots = rpt_plots_write(rs, n, o->out_dir, o->scripts_dir, o->cloud_dir, plots,
		                         skipped, sizeof skipped, err, errlen);
		if (nplots < 0)
			return nplots;
		if (skipped[0] && note)
			snprintf(note, note_len, "%s", skipped);
	}
	mem = open_memstream(&md, &md_len);
	if (!mem)
		return -ENOMEM;
	rc = write_md(mem, rs, n, o, plots, nplots, skipped, err, errlen);
	fclose(mem);
	if (rc)
		goto out;
	snprintf(path, sizeof path, "%s/report.md", o->out_dir);
	f = fopen(path, "w");
	if (!f || fwrite(md, 1, md_len, f) != md_len) {
		rc = -(errno ? errno : EIO);
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
		goto out;
	}
	if (fclose(f)) {
		f = NULL;
		rc = -EIO;
		snprintf(err, errlen, "%s: write failed", path);
		goto out;
	}
	snprintf(path, sizeof path, "%s/report.html", o->out_dir);
	f = fopen(path, "w");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		goto out;
	}
	rc = write_html(f, md, o->out_dir, o->title ? o->title : "joulebench report");
	if (fclose(f) || rc) {
		rc = -EIO;
		snprintf(err, errlen, "%s: write failed", path);
		f = NULL;
		goto out;
	}
	f = NULL;
	rc = rpt_page_write(rs, n, o, plots, nplots, skipped, err, errlen);
	if (rc > 0)
		rc = 0;
out:
	free(md);
	return rc;
}
