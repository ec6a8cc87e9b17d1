/*
 * reports/page.c — one self-contained HTML page across many results: a sortable, filterable
 * table of every configuration (machine, model, type, threads, speed, J/token with its CI,
 * energy source and kind) and the comparison plots as inline SVG.
 *
 * No network, no CDN, no library: the page is plain HTML, a little CSS (narrow screens scroll
 * the table sideways; print drops the controls) and a few lines of JavaScript for sorting and
 * filtering. Errors thrown by that script are kept in window.jbErrors so a browser test can
 * read them.
 */
#include "reports/reports.h"
#include "reports/rpt_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A numeric cell: data-v carries the value the sort uses ("" when not measured). */
static void num_cell(FILE *f, bool ok, double v, const char *fmt)
{
	if (!ok || !isfinite(v)) {
		fputs("<td class=\"num na\" data-v=\"\">n/a</td>", f);
		return;
	}
	fprintf(f, "<td class=\"num\" data-v=\"%.9g\">", v);
	fprintf(f, fmt, v);
	fputs("</td>", f);
}

/* J/token (net when measured net, else gross) with its 95% CI. */
static void jpt_cell(FILE *f, const struct rpt_config *c)
{
	const struct rpt_stat *s = c->decode_jpt_net.ok ? &c->decode_jpt_net : &c->decode_jpt_gross;

	if (!s->ok) {
		fputs("<td class=\"num na\" data-v=\"\" title=\"", f);
		esc(f, c->energy_reason[0] ? c->energy_reason : "no energy figure");
		fputs("\">n/a</td>", f);
		return;
	}
	fprintf(f, "<td class=\"num\" data-v=\"%.9g\">%.3g <small>[%.3g&ndash;%.3g]%s</small></td>",
	        s->median, s->median, s->ci_low, s->ci_high, s == &c->decode_jpt_net ? "" : " gross");
}

static const char *kind_of(const struct rpt_config *c)
{
	if (!c->energy_source[0])
		return "none";
	return !strcmp(c->energy_kind, "estimated") ? "ESTIMATED" : "measured";
}

static void write_rows(FILE *f, struct rpt_result *const *rs, int n, int *rows)
{
	for (int i = 0; i < n; i++) {
		const struct rpt_result *r = rs[i];

		if (strcmp(r->kind, "run"))
			continue;
		for (int k = 0; k < r->n_configs; k++) {
			const struct rpt_config *c = &r->configs[k];
			const char *kind = kind_of(c);

			fprintf(f, "<tr data-kind=\"%s\"><td>", kind);
			esc(f, r->hostname);
			fputs("<br><small>", f);
			esc(f, r->cpu_model);
			fputs("</small></td><td>", f);
			esc(f, r->model_name[0] ? r->model_name : r->model_spec);
			fputs("</td><td>", f);
			esc(f, c->type);
			fputs("</td>", f);
			num_cell(f, true, c->threads, "%.0f");
			num_cell(f, c->decode_tok_s.ok, c->decode_tok_s.median, "%.4g");
			jpt_cell(f, c);
			fprintf(f, "<td class=\"kind %s\">%s</td>", kind, kind);
			num_cell(f, c->prefill_tok_s.ok, c->prefill_tok_s.median, "%.4g");
			num_cell(f, c->prompt_tokens > 0, c->prompt_tokens, "%.0f");
			fputs("<td>", f);
			esc(f, c->energy_source[0] ? c->energy_source : "-");
			fputs("</td><td>", f);
			esc(f, r->created_utc);
			fputs("</td><td><small>", f);
			esc(f, rj_label(r->path));
			fputs("</small></td></tr>\n", f);
			(*rows)++;
		}
	}
}

/* Copies the <svg> element of dir/file into the page (the XML prolog and DOCTYPE dropped). */
static int inline_svg(FILE *f, const char *dir, const char *file)
{
	char path[1400], *data, *svg;
	size_t len = 0;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	data = rj_slurp(path, &len);
	if (!data)
		return -ENOENT;
	svg = strstr(data, "<svg");
	if (svg)
		fputs(svg, f);
	free(data);
	return svg ? 0 : -EINVAL;
}

static const char page_css[] =
    "body{font-family:system-ui,sans-serif;margin:1rem auto;max-width:1200px;padding:0 "
    "0.75rem;color:#222}\n"
    "h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}\n"
    ".controls{display:flex;flex-wrap:wrap;gap:0.75rem;align-items:center;margin:0.75rem 0}\n"
    ".controls input{min-width:14rem;padding:0.3rem}\n"
    ".tablewrap{overflow-x:auto}\n"
    "table{border-collapse:collapse;width:100%;font-size:0.9rem}\n"
    "th,td{border-bottom:1px solid #ddd;padding:0.35rem 0.5rem;text-align:left;vertical-align:top}\n"
    "th{cursor:pointer;background:#f4f4f4;position:sticky;top:0;white-space:nowrap}\n"
    "th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' "
    "\\25BC'}\n"
    "td.num{text-align:right;white-space:nowrap}td.na{color:#888}\n"
    "td.kind.ESTIMATED{color:#b00000;font-weight:bold}td.kind.none{color:#888}\n"
    "figure{margin:1rem 0}figure svg{max-width:100%;height:auto;display:block}\n"
    "figcaption{font-size:0.85rem;color:#444}\n"
    "@media print{.controls{display:none}th{position:static}a{color:inherit}}\n";

/* Sorting: click a header (numbers by data-v, missing values last either way); filtering: the
 * text box matches any cell, the select matches the energy kind. */
static const char page_js[] =
    "(function(){\n"
    "var t=document.getElementById('results'),tb=t.tBodies[0],rows=[].slice.call(tb.rows),\n"
    "    q=document.getElementById('filter'),k=document.getElementById('kind'),\n"
    "    c=document.getElementById('count'),hs=[].slice.call(t.tHead.rows[0].cells);\n"
    "function val(r,i){var v=r.cells[i].getAttribute('data-v');\n"
    "  return v===null?r.cells[i].textContent.toLowerCase():(v===''?NaN:parseFloat(v));}\n"
    "hs.forEach(function(th,i){th.tabIndex=0;\n"
    "  function sort(){var asc=th.getAttribute('aria-sort')!=='ascending';\n"
    "    hs.forEach(function(h){h.removeAttribute('aria-sort');});\n"
    "    th.setAttribute('aria-sort',asc?'ascending':'descending');\n"
    "    rows.sort(function(a,b){var x=val(a,i),y=val(b,i);\n"
    "      if(typeof x==='number'){if(isNaN(x))return isNaN(y)?0:1;if(isNaN(y))return -1;\n"
    "        return asc?x-y:y-x;}\n"
    "      return asc?x.localeCompare(y):y.localeCompare(x);});\n"
    "    rows.forEach(function(r){tb.appendChild(r);});}\n"
    "  th.addEventListener('click',sort);\n"
    "  th.addEventListener('keydown',function(e){if(e.key==='Enter')sort();});});\n"
    "function apply(){var s=q.value.toLowerCase(),kv=k.value,n=0;\n"
    "  rows.forEach(function(r){var show=(!s||r.textContent.toLowerCase().indexOf(s)>=0)&&\n"
    "    (!kv||r.getAttribute('data-kind')===kv);r.hidden=!show;if(show)n++;});\n"
    "  c.textContent=n+' of '+rows.length+' configurations';}\n"
    "q.addEventListener('input',apply);k.addEventListener('change',apply);apply();\n"
    "})();\n";

int rpt_page_write(struct rpt_result *const *rs, int n, const struct rpt_report_opts *o,
                   const struct rpt_plot *plots, int nplots, const char *plot_note, char *err,
                   size_t errlen)
{
	char path[1200], tmp[1300], when[64];
	const char *title = o->title ? o->title : "joulebench results";
	time_t now = time(NULL);
	struct tm tm;
	int rows = 0, runs = 0, rc = 0;
	FILE *f;

	for (int i = 0; i < n; i++)
		runs += !strcmp(rs[i]->kind, "run");
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
	snprintf(path, sizeof path, "%s/index.html", o->out_dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		return rc;
	}
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<script>window.jbErrors=[];window.addEventListener('error',function(e){"
	      "window.jbErrors.push(String(e.message));});</script>\n<title>",
	      f);
	esc(f, title);
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", page_css);
	esc(f, title);
	fprintf(f,
	        "</h1>\n<p>%d run result%s, generated %s. J/token is decode energy per generated "
	        "token, net of idle power where it was measured (otherwise marked gross), median "
	        "with its 95%% CI; <strong>ESTIMATED</strong> figures come from a model, not a "
	        "meter. Click a column to sort.</p>\n",
	        runs, runs == 1 ? "" : "s", when);
	fputs("<div class=\"controls\"><label>Filter <input id=\"filter\" type=\"search\" "
	      "placeholder=\"machine, model, type, source...\"></label>\n"
	      "<label>Energy <select id=\"kind\"><option value=\"\">any</option>"
	      "<option>measured</option><option>ESTIMATED</option><option>none</option>"
	      "</select></label> <span id=\"count\"></span></div>\n",
	      f);
	fputs("<div class=\"tablewrap\"><table id=\"results\"><thead><tr>"
	      "<th>machine</th><th>model</th><th>type</th><th>threads</th><th>decode tok/s</th>"
	      "<th>J/token [95% CI]</th><th>kind</th><th>prefill tok/s</th><th>prompt tokens</th>"
	      "<th>energy source</th><th>date</th><th>result</th></tr></thead>\n"
	      "<tbody>\n",
	      f);
	write_rows(f, rs, n, &rows);
	fputs("</tbody></table></div>\n<h2>Plots</h2>\n", f);
	if (plot_note && plot_note[0]) {
		fputs("<p>", f);
		esc(f, plot_note);
		fputs(".</p>\n", f);
	}
	for (int i = 0; i < nplots; i++) {
		if (plots[i].left_out[0]) {
			fputs("<p><strong>", f);
			esc(f, plots[i].title);
			fputs("</strong>: not drawn, ", f);
			esc(f, plots[i].left_out);
			fputs(".</p>\n", f);
			continue;
		}
		fputs("<figure>", f);
		if (inline_svg(f, o->out_dir, plots[i].svg)) {
			fputs("<p>image missing: ", f);
			esc(f, plots[i].svg);
			fputs("</p>", f);
		}
		fputs("<figcaption><strong>", f);
		esc(f, plots[i].title);
		fputs(".</strong> ", f);
		esc(f, plots[i].caption);
		if (plots[i].estimated)
			fputs(" Contains ESTIMATED energy figures.", f);
		fputs("</figcaption></figure>\n", f);
	}
	fprintf(f, "<script>\n%s</script>\n</body>\n</html>\n", page_js);
	if (ferror(f) | fclose(f)) {
		snprintf(err, errlen, "%s: write failed", tmp);
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path)) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot rename into place: %s", path, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return rows;
}
