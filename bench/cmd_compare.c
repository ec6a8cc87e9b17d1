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
	    "                          [--all-configs]\n"
	    "       joulebench compare --machines A,B... [--db DB] [--model X] [OPTIONS]\n\n"
	    "One table across results: prefill and decode tok/s, TTFT, p99 inter-token latency,\n"
	    "J/token, tokens/J, average W and perf-per-watt, each as median [95%% CI], with the\n"
	    "ratio against the first file and a geometric-mean summary. Estimated energy is\n"
	    "marked 'est.'; incomplete runs are marked; missing figures show n/a with the "
	    "reason.\n\n"
	    "  --format FMT     term (default), md (Markdown) or csv (one row per metric)\n"
	    "  --all-configs    a row for every thread/type configuration (default: the fastest\n"
	    "                   decode configuration of each file)\n"
	    "  --machines A,B   from the results database: the latest run of machine A (hostname or\n"
	    "                   fingerprint), then the latest run of each other machine with the\n"
	    "                   same model\n"
	    "  --model X        with --machines: only runs of this model (name, shape, spec or key)\n"
	    "  --db DB          SQLite file or postgresql://... URL (default: $JOULEBENCH_DB, else\n"
	    "                   " RPT_STORE_DEFAULT ")\n");
}

#define MAX_MACHINES 16

/* `compare --machines A,B`: the latest stored run of A, then of each other machine the latest
 * run of the same model, through the same table as files. Returns the exit code. */
static int compare_db(const char *machines, const char *model, const char *db, bool all,
		      enum rpt_format fmt)
{
	struct rpt_result *rs[MAX_MACHINES] = { NULL };
	struct rpt_store *st = NULL;
	char list[1024], *names[MAX_MACHINES], *save = NULL, err[RPT_ERR_LEN];
	int64_t model_id = 0;
	int n = 0, rc = 0;

	if (strlen(machines) >= sizeof list)
		return bench_usage_error("compare", "--machines: list too long");
	snprintf(list, sizeof list, "%s", machines);
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == MAX_MACHINES)
			return bench_usage_error("compare", "--machines: at most %d machines", MAX_MACHINES);
		names[n++] = t;
	}
	if (n < 1)
		return bench_usage_error("compare", "--machines: expected machine names separated by commas");
	if (rpt_store_open(rpt_store_location(db), &st, err, sizeof err))
		return bench_fail("compare", "%s", err);
	for (int i = 0; i < n; i++) {
		char name[200];
		int64_t id = 0;

		if (rpt_store_latest_of_machine(st, names[i], i == 0 ? model : NULL, model_id, &id,
						i == 0 ? &model_id : NULL, err, sizeof err)) {
			rc = bench_usage_error("compare", "%s", err);
			goto out;
		}
		snprintf(name, sizeof name, "db:%.100s (run %lld)", names[i], (long long)id);
		if (rpt_store_load_run(st, id, name, &rs[i], err, sizeof err)) {
			rc = bench_fail("compare", "%s", err);
			goto out;
		}
	}
	if (rpt_compare_rows(stdout, rs, n, all, fmt, err, sizeof err))
		rc = bench_usage_error("compare", "%s", err);
out:
	for (int i = 0; i < n; i++)
		rpt_result_free(rs[i]);
	rpt_store_close(st);
	return rc;
}

int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"all-configs", no_argument, NULL, 'a'},
	    {"machines", required_argument, NULL, 'M'},
	    {"model", required_argument, NULL, 'm'},
	    {"db", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum rpt_format fmt = RPT_FMT_TERM;
	const char *machines = NULL, *model = NULL, *db = NULL;
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
		case 'M':
			machines = optarg;
			break;
		case 'm':
			model = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bench_bad_option("compare", argv, optind - 1);
		}
	}
	if (machines) {
		if (argc - optind > 0)
			return bench_usage_error("compare", "--machines compares stored runs: no RESULT.json "
							    "files with it (got '%s')",
						 argv[optind]);
		return compare_db(machines, model, db, all, fmt);
	}
	if (model || db)
		return bench_usage_error("compare", "--model and --db go with --machines");
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
