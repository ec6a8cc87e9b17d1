/*
 * bench/cmd_claims.c — `joulebench claims RESULT...`: popular local-vs-cloud energy statements
 * checked against the results and the cited cloud profiles (reports/claims.c).
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
	    "Usage: joulebench claims RESULT.json... [--md] [--cloud-dir DIR]\n\n"
	    "Checks popular statements against your own measurements and the cited cloud figures\n"
	    "(configs/cloud): \"a quantized 7B model on a laptop draws 20-50 W\", \"a cloud "
	    "chatbot\n"
	    "query uses 10-100x the energy of a local response\", \"local inference uses less\n"
	    "energy per token than the cloud for the same model\". Each verdict is supported,\n"
	    "contradicted or not testable with these results (with what to run), followed by the\n"
	    "numbers behind it. Verdicts that rest on estimated local energy say so.\n\n"
	    "  --md             Markdown output\n"
	    "  --cloud-dir DIR  cloud profile directory (default: configs/cloud)\n");
}

int cmd_claims(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"md", no_argument, NULL, 'm'},
	    {"cloud-dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char dir_found[1024];
	const char *dir = (pwr_data_path("configs/cloud", dir_found, sizeof dir_found), dir_found);
	struct rpt_claim claims[RPT_N_CLAIMS];
	struct rpt_result **rs = NULL;
	char err[RPT_ERR_LEN];
	bool md = false;
	int c, n = 0, rc = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			md = true;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bench_bad_option("claims", argv, optind - 1);
		}
	}
	if (argc - optind < 1)
		return bench_usage_error("claims", "expected at least one RESULT.json file");
	rs = calloc((size_t)(argc - optind), sizeof *rs);
	if (!rs)
		return bench_fail("claims", "out of memory");
	for (int i = optind; i < argc; i++) {
		if (rpt_result_load(argv[i], &rs[n], err, sizeof err)) {
			rc = bench_usage_error("claims", "%s", err);
			goto out;
		}
		n++;
	}
	if (rpt_claims_check(rs, n, dir, claims, err, sizeof err)) {
		rc = bench_usage_error("claims", "%s", err);
		goto out;
	}
	rpt_claims_print(stdout, claims, RPT_N_CLAIMS, md);
out:
	for (int i = 0; i < n; i++)
		rpt_result_free(rs[i]);
	free(rs);
	return rc;
}
