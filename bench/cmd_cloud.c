/*
 * bench/cmd_cloud.c — `joulebench cloud RESULT [--profile NAME] [--grid REGION] ...`: the
 * cloud-equivalent table for one result (reports/cloud.c does the work).
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "power/power.h"
#include "reports/reports.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: joulebench cloud RESULT.json [--profile NAME] [--grid REGION] [--network-bytes "
	    "N]\n"
	    "                        [--cloud-dir DIR] [--md]\n\n"
	    "Sets the result's local J/token and Wh/query against cloud-equivalent estimates for\n"
	    "the same model size (EcoLogits bottom-up, Epoch FLOP model) and against published\n"
	    "per-prompt figures, with low-high ranges from each profile's cited constants, the\n"
	    "local/cloud ratio, carbon (gCO2e) for a grid region and on-site water.\n\n"
	    "  --profile NAME       only this profile (configs/cloud/NAME.json)\n"
	    "  --grid REGION        grid carbon intensity region (default: world; see grid.json)\n"
	    "  --network-bytes N    add network transfer energy for N bytes per query\n"
	    "  --cloud-dir DIR      profile directory (default: configs/cloud)\n"
	    "  --md                 Markdown instead of plain text\n");
}

int cmd_cloud(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"profile", required_argument, NULL, 'p'},
	    {"grid", required_argument, NULL, 'g'},
	    {"network-bytes", required_argument, NULL, 'n'},
	    {"cloud-dir", required_argument, NULL, 'd'},
	    {"md", no_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char dir_found[1024];
	struct rpt_cloud_opts o = {.dir = (pwr_data_path("configs/cloud", dir_found, sizeof dir_found), dir_found)};
	struct rpt_result *r = NULL;
	struct rpt_grid g;
	char err[RPT_ERR_LEN];
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.profile = optarg;
			break;
		case 'g':
			o.grid = optarg;
			break;
		case 'n':
			if (bench_parse_double(optarg, 0, 1e15, &o.network_bytes))
				return bench_usage_error("cloud",
				                         "--network-bytes: expected a byte "
				                         "count, got '%s'",
				                         optarg);
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 'm':
			o.md = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bench_bad_option("cloud", argv, optind - 1);
		}
	}
	if (optind != argc - 1)
		return bench_usage_error("cloud", optind >= argc
		                                      ? "expected a RESULT.json file"
		                                      : "expected exactly one RESULT.json file");
	if (rpt_grid_load(o.dir, o.grid, &g, err, sizeof err))
		return bench_usage_error("cloud", "--grid: %s", err);
	rc = rpt_result_load(argv[optind], &r, err, sizeof err);
	if (rc)
		return bench_usage_error("cloud", "%s", err);
	rc = rpt_cloud_table(stdout, r, &o, err, sizeof err);
	rpt_result_free(r);
	if (rc == -EINVAL || rc == -ENOENT)
		return bench_usage_error("cloud", "%s", err);
	if (rc)
		return bench_fail("cloud", "%s", err);
	return 0;
}
