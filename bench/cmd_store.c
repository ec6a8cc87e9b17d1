/*
 * bench/cmd_store.c — the results store from the command line: `joulebench import` (result
 * files into the database), `joulebench history` (a metric over time), and the hook that `run`
 * calls after writing result.json. The database itself is reports/store*.c.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "bench/sha256.h"
#include "reports/reports.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads a file whole (NUL-terminated, malloc'd) and its SHA-256; NULL with errno on failure. */
static char *read_hashed(const char *path, char hex[65])
{
	struct bench_sha256 h;
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f)
		return NULL;
	bench_sha256_init(&h);
	do {
		if (cap - len < 65536) {
			char *nb = realloc(buf, cap + 65536 + 1);

			if (!nb) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	bench_sha256_update(&h, buf, len);
	bench_sha256_final(&h, hex);
	return buf;
}

/* Stores one file. Returns 0 (stored or already there: *added says which), -EINVAL for a file
 * that is not a run result, another negative errno on a read or database error; err says why. */
static int store_file(struct rpt_store *st, const char *path, const char *label, bool *added,
                      int64_t *run_id, char *err, size_t errlen)
{
	char hex[65];
	char *text = read_hashed(path, hex);
	int rc;

	*added = false;
	if (!text) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return rc;
	}
	rc = rpt_store_put(st, text, hex, path, label, run_id, added, err, errlen);
	free(text);
	return rc;
}

int bench_store_result(const char *db, const char *path, const char *label, bool quiet)
{
	struct rpt_store *st = NULL;
	const char *loc = rpt_store_location(db);
	char err[RPT_ERR_LEN], masked[512];
	int64_t id = 0;
	bool added = false;
	int rc;

	rpt_store_mask(loc, masked, sizeof masked);
	rc = rpt_store_open(loc, &st, err, sizeof err);
	if (!rc)
		rc = store_file(st, path, label, &added, &id, err, sizeof err);
	rpt_store_close(st);
	if (rc)
		return bench_fail(
		    "run",
		    "the result was written but not stored in the database: %s "
		    "(store it later with `joulebench import --db %s %s`, or pass --no-db)",
		    err, masked, path);
	if (!quiet)
		fprintf(stderr, "stored in %s as run %" PRId64 "%s\n", masked, id,
		        added ? "" : " (already there)");
	return 0;
}

/* ---- import ----------------------------------------------------------------------------- */

struct import_counts {
	int added, present, skipped, failed;
};

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

/* Returns the store's answer: 0, -EINVAL (not a run result), a read or database error. */
static int import_one(struct rpt_store *st, const char *path, const char *label, bool from_dir,
                      bool quiet, struct import_counts *c)
{
	char err[RPT_ERR_LEN];
	int64_t id;
	bool added;
	int rc = store_file(st, path, label, &added, &id, err, sizeof err);

	if (rc == 0) {
		if (added)
			c->added++;
		else
			c->present++;
		return 0;
	}
	if (rc == -EINVAL && from_dir) {
		/* other JSON in a results folder (kernels results, reports' data): not a run */
		c->skipped++;
		if (!quiet)
			fprintf(stderr, "joulebench import: skipped %s\n", err);
		return 0;
	}
	c->failed++;
	fprintf(stderr, "joulebench import: %s\n", err);
	return rc;
}

/* Every *.json below dir, in name order. */
static void import_dir(struct rpt_store *st, const char *dir, const char *label, bool quiet,
                       struct import_counts *c, int depth)
{
	struct dirent **names = NULL;
	int n = depth > 16 ? -1 : scandir(dir, &names, NULL, alphasort);

	if (n < 0) {
		fprintf(stderr, "joulebench import: %s: %s\n", dir, strerror(errno));
		c->failed++;
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		char path[4096];
		struct stat sb;

		if (name[0] == '.') {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", dir, name);
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			import_dir(st, path, label, quiet, c, depth + 1);
		else if (ends_with(name, ".json"))
			import_one(st, path, label, true, quiet, c);
		free(names[i]);
	}
	free(names);
}

static const char import_usage[] =
    "Usage: joulebench import [--db DB] [--label LABEL] [-q] DIR|FILE...\n"
    "\n"
    "Stores existing result files in the results database: every run result named on the\n"
    "command line, and every *.json below a DIR (other JSON files there are skipped). A result\n"
    "already stored (the same SHA-256) is not stored twice, so importing again is harmless.\n"
    "\n"
    "  --db DB         SQLite file or postgresql://... URL (default: $JOULEBENCH_DB, else\n"
    "                  " RPT_STORE_DEFAULT ")\n"
    "  --label LABEL   record a label with each new run (e.g. main), for regress --baseline\n"
    "                  db:LABEL\n"
    "  -q, --quiet     no note per skipped file\n"
    "\n"
    "Exit status: 0 every named file stored, 1 a database error, 2 usage error or a named file\n"
    "that is not a run result.\n";

int cmd_import(int argc, char **argv)
{
	enum { O_DB = 256, O_LABEL };
	static const struct option opts[] = {
	    {"db", required_argument, NULL, O_DB},
	    {"label", required_argument, NULL, O_LABEL},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *db = NULL, *label = NULL;
	struct import_counts cnt = {0, 0, 0, 0};
	struct rpt_store *st = NULL;
	char err[RPT_ERR_LEN], masked[512];
	bool quiet = false, bad_input = false;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case O_DB:
			db = optarg;
			break;
		case O_LABEL:
			if (!*optarg || strlen(optarg) > 63)
				return bench_usage_error("import",
				                         "--label: expected 1 to 63 characters");
			label = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(import_usage, stdout);
			return 0;
		default:
			return bench_bad_option("import", argv, optind - 1);
		}
	}
	if (optind >= argc)
		return bench_usage_error("import", "expected result files or folders to import");
	db = rpt_store_location(db);
	rpt_store_mask(db, masked, sizeof masked);
	if (rpt_store_open(db, &st, err, sizeof err))
		return bench_fail("import", "%s", err);
	for (int i = optind; i < argc; i++) {
		struct stat sb;

		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			import_dir(st, argv[i], label, quiet, &cnt, 0);
		} else {
			int rc = import_one(st, argv[i], label, false, quiet, &cnt);

			/* a file that is missing or not a run result is the caller's mistake */
			if (rc && rc != -EIO && rc != -EBUSY && rc != -ENOMEM)
				bad_input = true;
		}
	}
	rpt_store_close(st);
	printf("%d stored, %d already there, %d skipped, %d failed (%s)\n", cnt.added, cnt.present,
	       cnt.skipped, cnt.failed, masked);
	if (cnt.failed)
		return bad_input ? 2 : 1;
	return 0;
}

/* ---- history ---------------------------------------------------------------------------- */

static const char history_usage[] =
    "Usage: joulebench history [--db DB] [--machine M] [--model X] [--metric METRIC]\n"
    "                          [--since DATE] [--label LABEL] [--format table|csv|json]\n"
    "                          [--plot FILE.png]\n"
    "\n"
    "A metric of every stored run over time, one row per configuration (oldest first).\n"
    "\n"
    "  --db DB         SQLite file or postgresql://... URL (default: $JOULEBENCH_DB, else\n"
    "                  " RPT_STORE_DEFAULT ")\n"
    "  --machine M     a hostname or a machine fingerprint (or its first hex digits)\n"
    "  --model X       a model name, shape, spec (synth:SHAPE:TYPE) or key (sha256:HEX)\n"
    "  --metric M      decode_tok_s (default), prefill_tok_s, j_per_token (decode, net), ttft_ms\n"
    "  --since DATE    runs created at or after DATE (2026-11-01 or 2026-11-01T12:00:00Z)\n"
    "  --label LABEL   only runs stored with this label\n"
    "  --format F      table (default), csv or json\n"
    "  --plot FILE.png also draw the trend (gnuplot; FILE.svg and FILE.dat next to it)\n";

int cmd_history(int argc, char **argv)
{
	enum { O_DB = 256, O_MACHINE, O_MODEL, O_METRIC, O_SINCE, O_LABEL, O_FORMAT, O_PLOT };
	static const struct option opts[] = {
	    {"db", required_argument, NULL, O_DB},
	    {"machine", required_argument, NULL, O_MACHINE},
	    {"model", required_argument, NULL, O_MODEL},
	    {"metric", required_argument, NULL, O_METRIC},
	    {"since", required_argument, NULL, O_SINCE},
	    {"label", required_argument, NULL, O_LABEL},
	    {"format", required_argument, NULL, O_FORMAT},
	    {"plot", required_argument, NULL, O_PLOT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rpt_history_query q = {.metric = RPT_H_DECODE_TOK_S};
	enum rpt_history_format fmt = RPT_HIST_TABLE;
	struct rpt_history_row *rows = NULL;
	struct rpt_store *st = NULL;
	const char *db = NULL, *plot = NULL;
	char err[RPT_ERR_LEN];
	int c, n = 0, rc = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_DB:
			db = optarg;
			break;
		case O_MACHINE:
			q.machine = optarg;
			break;
		case O_MODEL:
			q.model = optarg;
			break;
		case O_LABEL:
			q.label = optarg;
			break;
		case O_PLOT:
			plot = optarg;
			break;
		case O_METRIC:
			if (rpt_history_metric_parse(optarg, &q.metric))
				return bench_usage_error(
				    "history",
				    "--metric: expected decode_tok_s, prefill_tok_s, "
				    "j_per_token or ttft_ms, got '%s'",
				    optarg);
			break;
		case O_SINCE: {
			size_t len = strlen(optarg);
			bool ok = len >= 10 && len <= 25;

			for (size_t k = 0; ok && k < 10; k++)
				ok = k == 4 || k == 7 ? optarg[k] == '-'
				                      : (optarg[k] >= '0' && optarg[k] <= '9');
			if (!ok)
				return bench_usage_error(
				    "history",
				    "--since: expected a date YYYY-MM-DD (optionally "
				    "with a time, THH:MM:SSZ), got '%s'",
				    optarg);
			q.since = optarg;
			break;
		}
		case O_FORMAT:
			if (!strcmp(optarg, "table"))
				fmt = RPT_HIST_TABLE;
			else if (!strcmp(optarg, "csv"))
				fmt = RPT_HIST_CSV;
			else if (!strcmp(optarg, "json"))
				fmt = RPT_HIST_JSON;
			else
				return bench_usage_error(
				    "history", "--format: expected table, csv or json, got '%s'",
				    optarg);
			break;
		case 'h':
			fputs(history_usage, stdout);
			return 0;
		default:
			return bench_bad_option("history", argv, optind - 1);
		}
	}
	if (optind < argc)
		return bench_usage_error("history", "unexpected argument '%s'", argv[optind]);
	if (rpt_store_open(rpt_store_location(db), &st, err, sizeof err))
		return bench_fail("history", "%s", err);
	if (rpt_store_history(st, &q, &rows, &n, err, sizeof err)) {
		rc = bench_fail("history", "%s", err);
		goto out;
	}
	rpt_history_print(stdout, rows, n, q.metric, fmt);
	if (plot) {
		int prc = rpt_history_plot(rows, n, q.metric, plot, "scripts", err, sizeof err);

		if (prc == -EINVAL)
			rc = bench_usage_error("history", "%s", err);
		else if (prc)
			rc = bench_fail("history", "%s", err);
		else
			fprintf(stderr, "plot: %s\n", plot);
	}
out:
	free(rows);
	rpt_store_close(st);
	return rc;
}
