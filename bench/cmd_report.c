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
	    "                         [--no-plots] [--scripts DIR] [--cloud-dir DIR]\n\n"
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
	    "  --cloud-dir DIR    cloud profiles (default: configs/cloud, found like every shipped file)\n");
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},  {"title", required_argument, NULL, 't'},
	    {"grid", required_argument, NULL, 'g'},    {"no-plots", no_argument, NULL, 'n'},
	    {"scripts", required_argument, NULL, 's'}, {"cloud-dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
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
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bench_bad_option("report", argv, optind - 1);
		}
	}
	if (!o.out_dir)
		return bench_usage_error("report", "missing -o DIR (where to write the report)");
	if (argc - optind < 1)
		return bench_usage_error("report", "expected at least one RESULT.json file");
	if (rpt_grid_load(o.cloud_dir, o.grid, &g, err, sizeof err))
		return bench_usage_error("report", "--grid: %s", err);
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
