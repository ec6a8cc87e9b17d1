/*
 * reports/history.c — printers for `joulebench history` rows (reports/store.c queries them): one
 * row list feeds the table, CSV, JSON and the gnuplot trend plot.
 */
#include "reports/rpt_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *unit_of(enum rpt_history_metric m)
{
	switch (m) {
	case RPT_H_DECODE_TOK_S:
	case RPT_H_PREFILL_TOK_S:
		return "tok/s";
	case RPT_H_J_PER_TOKEN:
		return "J/token (decode, net)";
	default:
		return "ms";
	}
}

static void csv_field(FILE *f, const char *s)
{
	bool quote = strpbrk(s, ",\"\n\r") != NULL;

	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void short_commit(char *buf, size_t len, const char *commit)
{
	snprintf(buf, len, "%.12s", commit[0] ? commit : "-");
}

void rpt_history_print(FILE *f, const struct rpt_history_row *rows, int n,
                       enum rpt_history_metric m, enum rpt_history_format fmt)
{
	const char *name = rpt_history_metric_name(m);

	if (fmt == RPT_HIST_JSON) {
		cJSON *root = cJSON_CreateObject(), *arr;
		char *txt;

		if (!root)
			return;
		cJSON_AddStringToObject(root, "metric", name);
		cJSON_AddStringToObject(root, "unit", unit_of(m));
		arr = cJSON_AddArrayToObject(root, "rows");
		for (int i = 0; arr && i < n; i++) {
			const struct rpt_history_row *h = &rows[i];
			cJSON *o = cJSON_CreateObject();

			if (!o)
				break;
			cJSON_AddItemToArray(arr, o);
			cJSON_AddNumberToObject(o, "run_id", (double)h->run_id);
			cJSON_AddStringToObject(o, "created_utc", h->created_utc);
			cJSON_AddStringToObject(o, "machine", h->hostname);
			cJSON_AddStringToObject(o, "fingerprint", h->fingerprint);
			cJSON_AddStringToObject(o, "model", h->model);
			cJSON_AddNumberToObject(o, "threads", h->threads);
			cJSON_AddStringToObject(o, "type", h->type);
			if (h->label[0])
				cJSON_AddStringToObject(o, "label", h->label);
			else
				cJSON_AddNullToObject(o, "label");
			cJSON_AddStringToObject(o, "commit", h->commit);
			if (h->ok) {
				cJSON_AddNumberToObject(o, name, h->value);
			} else {
				char key[64];

				cJSON_AddNullToObject(o, name);
				snprintf(key, sizeof key, "%s_reason", name);
				cJSON_AddStringToObject(o, key, "not recorded in this run");
			}
			if (m == RPT_H_J_PER_TOKEN && h->energy_kind[0])
				cJSON_AddStringToObject(o, "energy_kind", h->energy_kind);
		}
		txt = cJSON_Print(root);
		if (txt)
			fprintf(f, "%s\n", txt);
		free(txt);
		cJSON_Delete(root);
		return;
	}
	if (fmt == RPT_HIST_CSV) {
		fprintf(
		    f,
		    "run_id,created_utc,machine,fingerprint,model,threads,type,label,commit,%s%s\n",
		    name, m == RPT_H_J_PER_TOKEN ? ",energy_kind" : "");
		for (int i = 0; i < n; i++) {
			const struct rpt_history_row *h = &rows[i];

			fprintf(f, "%lld,", (long long)h->run_id);
			csv_field(f, h->created_utc);
			fputc(',', f);
			csv_field(f, h->hostname);
			fprintf(f, ",%s,", h->fingerprint);
			csv_field(f, h->model);
			fprintf(f, ",%d,", h->threads);
			csv_field(f, h->type);
			fputc(',', f);
			csv_field(f, h->label);
			fputc(',', f);
			csv_field(f, h->commit);
			if (h->ok)
				fprintf(f, ",%.17g", h->value);
			else
				fputc(',', f);
			if (m == RPT_H_J_PER_TOKEN) {
				fputc(',', f);
				csv_field(f, h->energy_kind);
			}
			fputc('\n', f);
		}
		return;
	}
	fprintf(f, "%-20s  %-16s  %-24s  %-12s  %-12s  %-12s  %14s\n", "created (UTC)", "machine",
	        "model", "config", "label", "commit", name);
	for (int i = 0; i < n; i++) {
		const struct rpt_history_row *h = &rows[i];
		char cfg[48], val[48], commit[16];

		snprintf(cfg, sizeof cfg, "t%d %s", h->threads, h->type);
		short_commit(commit, sizeof commit, h->commit);
		if (h->ok) {
			rj_fmt(val, sizeof val, h->value, 4);
			if (m == RPT_H_J_PER_TOKEN && !strcmp(h->energy_kind, "estimated"))
				snprintf(val + strlen(val), sizeof val - strlen(val), " est.");
		} else {
			snprintf(val, sizeof val, "n/a");
		}
		fprintf(f, "%-20.20s  %-16.16s  %-24.24s  %-12.12s  %-12.12s  %-12s  %14s\n",
		        h->created_utc, h->hostname, h->model, cfg, h->label[0] ? h->label : "-",
		        commit, val);
	}
	fprintf(f, "%d configuration%s; %s in %s%s\n", n, n == 1 ? "" : "s", name, unit_of(m),
	        m == RPT_H_J_PER_TOKEN ? " (est. = estimated energy, not measured)" : "");
}

/* The series a row belongs to: machine, model and configuration. */
static void series_of(const struct rpt_history_row *h, char *buf, size_t len)
{
	snprintf(buf, len, "%.100s %.100s t%d %.15s", h->hostname, h->model, h->threads, h->type);
	for (char *p = buf; *p; p++)
		if (*p == '"' || *p == '\n')
			*p = '\'';
}

int rpt_history_plot(const struct rpt_history_row *rows, int n, enum rpt_history_metric m,
                     const char *png_path, const char *scripts_dir, char *err, size_t errlen)
{
	char base[1024], dat[1100], script[1100], title[160], why[256];
	char(*series)[300] = NULL;
	int n_series = 0, rc = 0;
	size_t len = strlen(png_path);
	FILE *f = NULL;

	if (len < 5 || strcmp(png_path + len - 4, ".png")) {
		snprintf(err, errlen, "--plot %s: the file name must end in .png", png_path);
		return -EINVAL;
	}
	if (!rpt_gnuplot_available(why, sizeof why)) {
		snprintf(err, errlen, "no plot: %s", why);
		return -ENOENT;
	}
	snprintf(base, sizeof base, "%.*s", (int)(len - 4), png_path);
	snprintf(dat, sizeof dat, "%s.dat", base);
	snprintf(script, sizeof script, "%s/plot-history.gp",
	         scripts_dir ? scripts_dir : "scripts");
	series = calloc((size_t)n + 1, sizeof *series);
	if (!series) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f = fopen(dat, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", dat, strerror(errno));
		rc = -errno;
		goto out;
	}
	/* one gnuplot data block per series ("index" in the script), two blank lines apart */
	for (int i = 0; i < n; i++) {
		char s[300];
		bool seen = false;

		series_of(&rows[i], s, sizeof s);
		for (int k = 0; k < n_series; k++)
			seen = seen || !strcmp(series[k], s);
		if (!seen)
			snprintf(series[n_series++], sizeof series[0], "%s", s);
	}
	for (int k = 0; k < n_series; k++) {
		fprintf(f, "\"%s\" \"value\"\n", series[k]);
		for (int i = 0; i < n; i++) {
			char s[300];

			series_of(&rows[i], s, sizeof s);
			if (strcmp(s, series[k]) || !rows[i].ok)
				continue;
			fprintf(f, "%.19s %.17g\n", rows[i].created_utc, rows[i].value);
		}
		fprintf(f, "\n\n");
	}
	if (fclose(f)) {
		f = NULL;
		snprintf(err, errlen, "%s: %s", dat, strerror(errno));
		rc = -EIO;
		goto out;
	}
	f = NULL;
	snprintf(title, sizeof title, "%s over time", rpt_history_metric_name(m));
	{
		char nser[16];
		const char *args[] = {dat, base, title, unit_of(m), nser, NULL};

		snprintf(nser, sizeof nser, "%d", n_series);
		rc = rpt_gnuplot_run(script, args, err, errlen);
	}
out:
	if (f)
		fclose(f);
	free(series);
	return rc;
}
