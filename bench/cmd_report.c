/*
 * bench/cmd_report.c — `joulebench report RESULT... -o DIR`: report.md and report.html (plots
 * embedded) with the machine, workload, tables, plots, cloud comparison and claims.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "power/power.h"
#include "reports/reports.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: joulebench report RESULT.json... -o DIR [--title TEXT] [--grid REGION]\n"
	    "                         [--no-plots] [--scripts DIR] [--cloud-dir DIR]\n"
	    "       joulebench report --db DB [--machine M] [--model X] [--since DATE]\n"
	    "                         [--label L] [--limit N] -o DIR [...]\n\n"
	    "Writes DIR/report.md and DIR/report.html (the same content, plots embedded so the\n"
	    "HTML reads offline) plus the plots (PNG, SVG) and their gnuplot .dat files: machine,\n"
	    "workload, per-configuration tables, a comparison when several results are given,\n"
	    "local vs cloud-equivalent energy, the claims check, and the source of every figure.\n"
	    "Without gnuplot (or with JOULEBENCH_GNUPLOT pointing nowhere) the plots are skipped\n"
	    "with one line on stderr and the rest of the report is written.\n\n"
	    "  -o, --output DIR   output directory (created if missing)\n"
	    "  --title TEXT       report title\n"
	    "  --grid REGION      grid carbon intensity region (default: world)\n"
	    "  --no-plots         do not draw plots\n"
	    "  --scripts DIR      gnuplot scripts (default: scripts, found like every shipped file)\n"
	    "  --cloud-dir DIR    cloud profiles (default: configs/cloud, found like every shipped file)\n"
	    "  --db DB            the results of a results database (an SQLite file or postgresql://...\n"
	    "                     URL) instead of files, filtered by --machine, --model, --since and\n"
	    "                     --label as `history` filters them; the newest --limit runs (default 200)\n\n"
	    "DIR/index.html is the results page across all of them: a sortable, filterable table of\n"
	    "every configuration and the plots, self-contained.\n");
}

/* The runs of the database at `db` that match q (newest `limit`, oldest first) as results in
 * *out (malloc'd, *n of them). Returns 0, or the command's exit status after a message. */
static int load_from_db(const char *db, const struct rpt_history_query *q, int limit,
                        struct rpt_result ***out, int *n)
{
	struct rpt_store *st = NULL;
	struct rpt_history_row *rows = NULL;
	struct rpt_result **rs = NULL;
	int64_t *ids = NULL;
	int nrows = 0, nids = 0, rc = 0, first;
	char err[RPT_ERR_LEN], where[512];

	*out = NULL;
	*n = 0;
	rpt_store_mask(rpt_store_location(db), where, sizeof where);
	if (rpt_store_open(rpt_store_location(db), &st, err, sizeof err))
		return bench_fail("report", "%s", err);
	if (rpt_store_history(st, q, &rows, &nrows, err, sizeof err)) {
		rc = bench_fail("report", "%s", err);
		goto out;
	}
	ids = calloc((size_t)nrows + 1, sizeof *ids);
	if (!ids) {
		rc = bench_fail("report", "out of memory");
		goto out;
	}
	for (int i = 0; i < nrows; i++) /* rows are per configuration, oldest first */
		if (nids == 0 || ids[nids - 1] != rows[i].run_id) {
			bool seen = false;

			for (int k = 0; k < nids && !seen; k++)
				seen = ids[k] == rows[i].run_id;
			if (!seen)
				ids[nids++] = rows[i].run_id;
		}
	if (nids == 0) {
		rc = bench_usage_error("report", "%s: no stored run matches", where);
		goto out;
	}
	first = nids > limit ? nids - limit : 0;
	rs = calloc((size_t)(nids - first), sizeof *rs);
	if (!rs) {
		rc = bench_fail("report", "out of memory");
		goto out;
	}
	for (int i = first; i < nids; i++) {
		char name[96];

		snprintf(name, sizeof name, "db:run/%lld", (long long)ids[i]);
		if (rpt_store_load_run(st, ids[i], name, &rs[*n], err, sizeof err)) {
			rc = bench_fail("report", "%s", err);
			goto out;
		}
		(*n)++;
	}
	*out = rs;
	rs = NULL;
out:
	if (rs) {
		for (int i = 0; i < *n; i++)
			rpt_result_free(rs[i]);
		free(rs);
		*n = 0;
	}
	free(ids);
	free(rows);
	rpt_store_close(st);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},  {"title", required_argument, NULL, 't'},
	    {"grid", required_argument, NULL, 'g'},    {"no-plots", no_argument, NULL, 'n'},
	    {"scripts", required_argument, NULL, 's'}, {"cloud-dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},          {"db", required_argument, NULL, 'D'},
	    {"machine", required_argument, NULL, 'M'}, {"model", required_argument, NULL, 'X'},
	    {"since", required_argument, NULL, 'S'},   {"label", required_argument, NULL, 'L'},
	    {"limit", required_argument, NULL, 'N'},   {NULL, 0, NULL, 0},
	};
	const char *db = NULL;
	struct rpt_history_query q = {.metric = RPT_H_DECODE_TOK_S};
	long limit = 200;
	char scripts_found[1024], cloud_found[1024];
	struct rpt_report_opts o = {
	    .scripts_dir = (pwr_data_path("scripts", scripts_found, sizeof scripts_found), scripts_found),
	    .cloud_dir = (pwr_data_path("configs/cloud", cloud_found, sizeof cloud_found), cloud_found)};
	struct rpt_result **rs = NULL;
	struct rpt_grid g;
	char err[RPT_ERR_LEN], note[RPT_ERR_LEN];
	int c, n = 0, rc = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o.out_dir = optarg;
			break;
		case 't':
			o.title = optarg;
			break;
		case 'g':
			o.grid = optarg;
			break;
		case 'n':
			o.no_plots = true;
			break;
		case 's':
			o.scripts_dir = optarg;
			break;
		case 'd':
			o.cloud_dir = optarg;
			break;
		case 'D':
			db = optarg;
			break;
		case 'M':
			q.machine = optarg;
			break;
		case 'X':
			q.model = optarg;
			break;
		case 'S':
			q.since = optarg;
			break;
		case 'L':
			q.label = optarg;
			break;
		case 'N': {
			char *end;

			limit = strtol(optarg, &end, 10);
			if (*end || limit < 1 || limit > 100000)
				return bench_usage_error("report", "--limit: expected 1..100000, got '%s'",
				                         optarg);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bench_bad_option("report", argv, optind - 1);
		}
	}
	if (!o.out_dir)
		return bench_usage_error("report", "missing -o DIR (where to write the report)");
	if (db && argc - optind > 0)
		return bench_usage_error("report", "give RESULT.json files or --db, not both");
	if (!db && (q.machine || q.model || q.since || q.label))
		return bench_usage_error("report", "--machine, --model, --since and --label need --db");
	if (!db && argc - optind < 1)
		return bench_usage_error("report", "expected at least one RESULT.json file (or --db DB)");
	if (rpt_grid_load(o.cloud_dir, o.grid, &g, err, sizeof err))
		return bench_usage_error("report", "--grid: %s", err);
	if (db) {
		rc = load_from_db(db, &q, (int)limit, &rs, &n);
		if (rc)
			return rc;
		goto write;
	}
	rs = calloc((size_t)(argc - optind), sizeof *rs);
	if (!rs)
		return bench_fail("report", "out of memory");
	for (int i = optind; i < argc; i++) {
		if (rpt_result_load(argv[i], &rs[n], err, sizeof err)) {
			rc = bench_usage_error("report", "%s", err);
			goto out;
		}
		n++;
	}
write:
	if (rpt_report_write(rs, n, &o, note, sizeof note, err, sizeof err)) {
		rc = bench_fail("report", "%s", err);
		goto out;
	}
	if (note[0])
		fprintf(stderr, "joulebench report: %s\n", note);
	fprintf(stderr,
	        "joulebench report: wrote %s/report.md, %s/report.html and the results page "
	        "%s/index.html\n",
	        o.out_dir, o.out_dir, o.out_dir);
out:
	for (int i = 0; i < n; i++)
		rpt_result_free(rs[i]);
	free(rs);
	return rc;
}
