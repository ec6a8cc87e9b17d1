/*
 * bench/cmd_regress.c — `joulebench regress BASELINE.json CURRENT.json`: the CI gate. The
 * statistics and the table live in reports/ (rpt_regress_*); this file parses options and maps
 * the outcome to the exit code: 0 no regression, 1 a regression, 2 a usage or input error.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "reports/reports.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_METRICS 16

static void regress_help(void)
{
	printf("Usage: joulebench regress BASELINE.json CURRENT.json [OPTIONS]\n"
	       "       joulebench regress --baseline db:LABEL [--db DB] CURRENT.json [OPTIONS]\n"
	       "\n"
	       "Compares two result files of the same kind (`run` results or `kernels` results) metric by\n"
	       "metric and fails when something got worse by more than the threshold.\n"
	       "\n"
	       "  --metric LIST              comma list; default: decode_tok_s,prefill_tok_s,j_per_token for\n"
	       "                             run results, agg_tok_s,decode_tok_s,ttft_ns,j_per_token for\n"
	       "                             sweeps, ns_per_call,instructions for kernels results\n"
	       "                             (known: %s)\n"
	       "  --threshold PCT            relative change that matters, in percent (default 5%%; '5' and '5%%'\n"
	       "                             are the same)\n"
	       "  --alpha A                  significance level of the U test (default 0.05)\n"
	       "  --format md|term|csv       output (default: term on a terminal, md otherwise)\n"
	       "  --allow-different-machine  compare results from different machines or models anyway\n"
	       "  --fail-on-inconclusive     exit 1 also when a comparison is inconclusive\n"
	       "  --seed N                   bootstrap seed (default 1)\n"
	       "  --baseline db:LABEL        the baseline from the results database: the latest run stored\n"
	       "                             with --label LABEL (or whose joulebench commit is or starts\n"
	       "                             with LABEL; a git tag or branch names its commit) of the same\n"
	       "                             machine and model as CURRENT.json\n"
	       "                             (--baseline FILE is the two-file form)\n"
	       "  --db DB                    SQLite file or postgresql://... URL (default: $JOULEBENCH_DB,\n"
	       "                             else " RPT_STORE_DEFAULT ")\n"
	       "\n"
	       "Timing and energy (repeated measurements): a two-sided Mann-Whitney U test across the\n"
	       "repetitions and a bootstrap CI of the ratio of medians (current / baseline). Regressed only\n"
	       "if the test is significant (p < alpha) AND the whole CI lies beyond the threshold on the\n"
	       "worse side; improved likewise on the better side; unchanged when the whole CI lies within\n"
	       "the threshold; inconclusive otherwise (too few repetitions, or the CI straddles it).\n"
	       "Instruction counts are deterministic: a plain threshold on the ratio.\n"
	       "\n"
	       "Two concurrency sweeps (run --engine openai|ollama --concurrency LIST) are compared level by\n"
	       "level; both must have swept the same levels. Per stream (U test across the requests):\n"
	       "decode_tok_s (the stream's inter-token rate) and ttft_ns; per level (one window each):\n"
	       "agg_tok_s and j_per_token, beyond the threshold only when the requests' own time per\n"
	       "token moved the same way (p < alpha), else inconclusive. A verdict per level and an overall one\n"
	       "follow the table: regressed if any row is, else inconclusive if any is, else improved if\n"
	       "any is, else unchanged.\n"
	       "\n"
	       "Results from different machines (cpu_model, cores, threads) or models (sha256, shape, name,\n"
	       "sizes) are refused with what differs, unless --allow-different-machine.\n"
	       "\n"
	       "Exit status: 0 no regression, 1 regression found, 2 usage or input error.\n",
	       rpt_regress_metric_names());
}

/* Splits a comma list in place into out[]; returns the count or -1 on an empty item. */
static int split_list(char *s, char **out, int max)
{
	int n = 0;

	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (n == max)
			return -1;
		out[n++] = tok;
	}
	return n;
}

/* The commit a git tag or branch names, as the 12 hex digits `joulebench --version` records:
 * `git rev-parse --verify --quiet REF^{commit}` run without a shell. Returns 0 or -1. */
static int git_commit_of(const char *ref, char out[13])
{
	char arg[200], buf[64] = "";
	int fd[2], status = 0;
	ssize_t n = 0;
	pid_t pid;

	if (strlen(ref) > 150 || ref[0] == '-' || pipe(fd))
		return -1;
	snprintf(arg, sizeof arg, "%s^{commit}", ref);
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(fd[1], 1);
		if (devnull >= 0)
			dup2(devnull, 2);
		close(fd[0]);
		execlp("git", "git", "rev-parse", "--verify", "--quiet", arg, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	for (ssize_t r; (r = read(fd[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0;)
		n += r;
	close(fd[0]);
	waitpid(pid, &status, 0);
	buf[n > 0 ? n : 0] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strlen(buf) < 12)
		return -1;
	snprintf(out, 13, "%.12s", buf);
	return 0;
}

/* The baseline from the results store: the latest run labelled `label` of the current result's
 * machine and model (any machine with --allow-different-machine), compared exactly as the
 * two-file form compares files. */
static int regress_db(const char *label, const char *db, const char *cur_path, const struct rpt_regress_opts *o,
		      struct rpt_regress **out, char *err, size_t errlen)
{
	struct rpt_result *cur = NULL, *base = NULL;
	struct rpt_store *st = NULL;
	char name[160];
	int64_t id = 0;
	int rc;

	if ((rc = rpt_result_load(cur_path, &cur, err, errlen)))
		return rc;
	if ((rc = rpt_store_open(rpt_store_location(db), &st, err, errlen)))
		goto out;
	rc = rpt_store_find_labelled(st, label, cur, o->allow_different_machine, &id, err, errlen);
	if (rc == -ENOENT) {
		/* not a stored label: a git tag or branch names the commit the runs recorded */
		char commit[13];

		if (git_commit_of(label, commit) == 0) {
			char first[RPT_ERR_LEN];

			snprintf(first, sizeof first, "%s", err);
			rc = rpt_store_find_labelled(st, commit, cur, o->allow_different_machine, &id, err,
						     errlen);
			if (rc == -ENOENT) {
				char msg[RPT_ERR_LEN + 128];

				snprintf(msg, sizeof msg, "%.300s (git: %.64s is commit %s, and no run of it is stored either)",
					 first, label, commit);
				snprintf(err, errlen, "%.500s", msg);
			}
		}
	}
	if (rc)
		goto out;
	snprintf(name, sizeof name, "db:%.64s (run %lld)", label, (long long)id);
	if ((rc = rpt_store_load_run(st, id, name, &base, err, errlen)))
		goto out;
	rc = rpt_regress_results(base, cur, o, out, err, errlen);
out:
	rpt_result_free(base);
	rpt_result_free(cur);
	rpt_store_close(st);
	return rc;
}

int cmd_regress(int argc, char **argv)
{
	enum { O_METRIC = 256, O_THRESHOLD, O_ALPHA, O_FORMAT, O_ALLOW, O_FAIL_INC, O_SEED, O_BASELINE, O_DB };
	static const struct option opts[] = {
		{ "metric", required_argument, NULL, O_METRIC },
		{ "threshold", required_argument, NULL, O_THRESHOLD },
		{ "alpha", required_argument, NULL, O_ALPHA },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "allow-different-machine", no_argument, NULL, O_ALLOW },
		{ "fail-on-inconclusive", no_argument, NULL, O_FAIL_INC },
		{ "seed", required_argument, NULL, O_SEED },
		{ "baseline", required_argument, NULL, O_BASELINE },
		{ "db", required_argument, NULL, O_DB },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rpt_regress_opts o = { .gate = { .threshold = 0.05, .alpha = 0.05, .resamples = 2000, .seed = 1 } };
	char metric_buf[512] = "", *metric_list[MAX_METRICS];
	enum rpt_format fmt = isatty(STDOUT_FILENO) ? RPT_FMT_TERM : RPT_FMT_MD;
	struct rpt_regress *r = NULL;
	bool fail_inconclusive = false;
	const char *baseline = NULL, *db = NULL;
	char err[RPT_ERR_LEN] = "";
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			regress_help();
			return 0;
		case O_METRIC: {
			int n;

			if (strlen(optarg) >= sizeof metric_buf)
				return bench_usage_error("regress", "--metric list is too long");
			snprintf(metric_buf, sizeof metric_buf, "%s", optarg);
			n = split_list(metric_buf, metric_list, MAX_METRICS);
			if (n <= 0)
				return bench_usage_error("regress", "--metric needs a comma list of metrics (known: %s)",
							 rpt_regress_metric_names());
			o.metrics = (const char *const *)metric_list;
			o.n_metrics = n;
			break;
		}
		case O_THRESHOLD: {
			char buf[64];
			size_t len = strlen(optarg);
			double v;

			snprintf(buf, sizeof buf, "%s", optarg);
			if (len && len < sizeof buf && buf[len - 1] == '%')
				buf[len - 1] = '\0';
			if (bench_parse_double(buf, 0, 1000, &v) || v <= 0)
				return bench_usage_error("regress", "--threshold '%s' must be a percentage above 0 "
								    "(e.g. 5%% or 2.5)", optarg);
			o.gate.threshold = v / 100;
			break;
		}
		case O_ALPHA:
			if (bench_parse_double(optarg, 0, 1, &o.gate.alpha) || o.gate.alpha <= 0 || o.gate.alpha >= 0.5)
				return bench_usage_error("regress", "--alpha '%s' must be a number in (0, 0.5)", optarg);
			break;
		case O_FORMAT:
			if (!strcmp(optarg, "md") || !strcmp(optarg, "markdown"))
				fmt = RPT_FMT_MD;
			else if (!strcmp(optarg, "term"))
				fmt = RPT_FMT_TERM;
			else if (!strcmp(optarg, "csv"))
				fmt = RPT_FMT_CSV;
			else
				return bench_usage_error("regress", "--format '%s': expected md, term or csv", optarg);
			break;
		case O_ALLOW:
			o.allow_different_machine = true;
			break;
		case O_FAIL_INC:
			fail_inconclusive = true;
			break;
		case O_SEED: {
			long v;

			if (bench_parse_long(optarg, 0, 0x7fffffffL, &v))
				return bench_usage_error("regress", "--seed '%s' must be a non-negative integer", optarg);
			o.gate.seed = (uint64_t)v;
			break;
		}
		case O_BASELINE:
			baseline = optarg;
			break;
		case O_DB:
			db = optarg;
			break;
		default:
			return bench_bad_option("regress", argv, optind - 1);
		}
	}
	if (baseline && argc - optind != 1)
		return bench_usage_error("regress", "expected one result file (CURRENT.json) with --baseline, got %d",
					 argc - optind);
	if (!baseline && argc - optind != 2)
		return bench_usage_error("regress", "expected two result files (BASELINE.json CURRENT.json), got %d",
					 argc - optind);
	if (baseline && !strncmp(baseline, "db:", 3)) {
		if (!baseline[3])
			return bench_usage_error("regress", "--baseline db:LABEL needs a label (e.g. db:main)");
		rc = regress_db(baseline + 3, db, argv[optind], &o, &r, err, sizeof err);
	} else {
		rc = rpt_regress_files(baseline ? baseline : argv[optind], argv[baseline ? optind : optind + 1], &o,
				       &r, err, sizeof err);
	}
	if (rc) {
		fprintf(stderr, "joulebench regress: %s\n", err);
		return 2;
	}
	if (r->differences[0])
		fprintf(stderr, "joulebench regress: warning: comparing different machines or models: %s\n",
			r->differences);
	rpt_regress_print(stdout, r, &o, fmt);
	rc = r->n_regressed || (fail_inconclusive && r->n_inconclusive) ? 1 : 0;
	if (r->n_regressed)
		fprintf(stderr, "joulebench regress: %d regression%s beyond %g%%\n", r->n_regressed,
			r->n_regressed == 1 ? "" : "s", o.gate.threshold * 100);
	rpt_regress_free(r);
	return rc;
}
