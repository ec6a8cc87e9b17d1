/*
 * bench/cmd_compare.c — `joulebench compare A.json B.json ... [--format md|csv|term]`: one table
 * across machines or configurations, ratios against the first file (reports/compare.c).
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "reports/reports.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: joulebench compare BASELINE.json OTHER.json... [--format term|md|csv]\n"
	    "                          [--all-configs]\n\n"
	    "One table across results: prefill and decode tok/s, TTFT, p99 inter-token latency,\n"
	    "J/token, tokens/J, average W and perf-per-watt, each as median [95%% CI], with the\n"
	    "ratio against the first file and a geometric-mean summary. Estimated energy is\n"
	    "marked 'est.'; incomplete runs are marked; missing figures show n/a with the "
	    "reason.\n\n"
	    "  --format FMT     term (default), md (Markdown) or csv (one row per metric)\n"
	    "  --all-configs    a row for every thread/type configuration (default: the fastest\n"
	    "                   decode configuration of each file)\n");
}

int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"all-configs", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum rpt_format fmt = RPT_FMT_TERM;
	bool all = false;
	struct rpt_result **rs = NULL;
	char err[RPT_ERR_LEN];
	int c, n = 0, rc = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "term"))
				fmt = RPT_FMT_TERM;
			else if (!strcmp(optarg, "md"))
				fmt = RPT_FMT_MD;
			else if (!strcmp(optarg, "csv"))
				fmt = RPT_FMT_CSV;
			else
				return bench_usage_error(
				    "compare", "--format: expected term, md or csv, got '%s'",
				    optarg);
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bench_bad_option("compare", argv, optind - 1);
		}
	}
	if (argc - optind < 1)
		return bench_usage_error("compare", "expected at least one RESULT.json file");
	rs = calloc((size_t)(argc - optind), sizeof *rs);
	if (!rs)
		return bench_fail("compare", "out of memory");
	for (int i = optind; i < argc; i++) {
		if (rpt_result_load(argv[i], &rs[n], err, sizeof err)) {
			rc = bench_usage_error("compare", "%s", err);
			goto out;
		}
		n++;
	}
	if (rpt_compare_rows(stdout, rs, n, all, fmt, err, sizeof err))
		rc = bench_usage_error("compare", "%s", err);
out:
	for (int i = 0; i < n; i++)
		rpt_result_free(rs[i]);
	free(rs);
	return rc;
}
