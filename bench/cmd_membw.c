/*
 * bench/cmd_membw.c — `joulebench membw`: memory read bandwidth per thread count, the ceiling of
 * decode speed (tokens/s <= GB/s / bytes read per token). The measurement is the engine's
 * (eng_membw_measure: the engine's own thread pool streaming a buffer far larger than the
 * caches); this file parses options and prints every pass, the best and the median.
 *
 * Two figures per thread count: DRAM (a buffer of at least 4x the last-level cache this machine
 * reports, eng_membw_dram_bytes) and cache-resident (a buffer of half the last-level cache, at
 * most 16 MiB, eng_membw_cache_bytes). A model's roofline takes the one matching its size.
 *
 * With --matvec it also times the engine's decode matrix-vector kernel (eng_matmul, one token)
 * for each weight type at the matrix sizes of the bench-1b shape (ffn 5632x2048, attention
 * 2048x2048, output 32000x2048), streaming distinct copies of the weights so they come from
 * memory as in decode, and prints the weight GB/s reached as a share of the read bandwidth
 * measured at the same thread count. On a shared machine (a cloud VM) that bandwidth drifts by
 * tens of percent within a minute, so each kernel pass is also paired with a plain read pass over
 * the same weights straight after it, and "% paired" is the median of the per-pass ratios: the
 * share of the memory bandwidth of that moment the kernel reached.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "engine/engine.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "membw"
#define MAX_COUNTS 16
#define MAX_SHAPES 8
#define MAX_TYPES 8

struct mv_shape {
	long rows, cols;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: joulebench membw [-t N[,N...]] [--size-mib N] [--reps N] [--json]\n"
		   "                       [--matvec [--types LIST] [--shapes RxC,...]]\n\n"
		   "Measures memory read bandwidth with the engine's thread pool: each thread streams\n"
		   "its share of one buffer far larger than the caches (at least 4x the last-level\n"
		   "cache). Prints the best pass (the bandwidth figure), the median and the slowest, in\n"
		   "GB/s (1e9 bytes/s), and the best pass over a buffer that stays in the last-level\n"
		   "cache (half of it, at most 16 MiB): the bound for models that fit there.\n\n"
		   "  -t, --threads LIST  thread counts, comma separated (default: 1 and the CPU count)\n"
		   "      --size-mib N    DRAM buffer size in MiB, %u..65536 (default max(%zu, 4 x LLC))\n"
		   "      --reps N        timed passes per thread count, 1..%d (default %d)\n"
		   "      --json          one JSON object on stdout instead of the table\n"
		   "      --matvec        also time the decode matrix-vector kernel per weight type and\n"
		   "                      report its weight GB/s as a share of the read bandwidth, and\n"
		   "                      (\"%% paired\") the median share of a read pass over the same\n"
		   "                      weights right after each kernel pass\n"
		   "      --types LIST    matvec weight types, at most 8 (default f32,f16,q8_0,q4_0,q4_k)\n"
		   "      --shapes LIST   matvec sizes ROWSxCOLS (default 5632x2048,2048x2048,32000x2048)\n"
		   "  -h, --help          this help\n",
		ENG_MEMBW_MIN_BYTES >> 20, ENG_MEMBW_DEFAULT_BYTES >> 20, ENG_MEMBW_MAX_REPS,
		ENG_MEMBW_DEFAULT_REPS);
}

/* "f32,q4_0" -> types; returns the count or -1. */
static int parse_types(const char *s, int *out)
{
	char buf[128], *save = NULL, *tok;
	int n = 0;

	if (strlen(s) >= sizeof buf || !*s || s[strlen(s) - 1] == ',')
		return -1;
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum eng_type t;

		if (n >= MAX_TYPES || eng_type_parse(tok, &t) < 0)
			return -1;
		out[n++] = (int)t;
	}
	return n > 0 ? n : -1;
}

/* "5632x2048,2048x2048" -> shapes; returns the count or -1. */
static int parse_shapes(const char *s, struct mv_shape *out)
{
	char buf[256], *save = NULL, *tok;
	int n = 0;

	if (strlen(s) >= sizeof buf || !*s || s[strlen(s) - 1] == ',')
		return -1;
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *x = strchr(tok, 'x');

		if (n >= MAX_SHAPES || !x)
			return -1;
		*x = '\0';
		if (bench_parse_long(tok, 1, 1 << 20, &out[n].rows) < 0 ||
		    bench_parse_long(x + 1, 32, 1 << 20, &out[n].cols) < 0 || out[n].cols % 32)
			return -1;
		n++;
	}
	return n > 0 ? n : -1;
}

/* Times the matvec kernel for every type and shape at m's thread count; a JSON object per case
 * goes into arr (when not NULL), else a table row to stdout. Returns 0 or -1 (message printed). */
static int run_matvec(const struct eng_membw *bw, const int *types, int n_types, const struct mv_shape *shapes,
		      int n_shapes, size_t bytes, int reps, cJSON *arr)
{
	char err[512];

	if (!arr)
		printf("  %-6s %-12s %10s %12s %8s %11s %9s\n", "type", "matvec", "best GB/s", "median GB/s", "% of bw",
		       "paired read", "% paired");
	for (int ti = 0; ti < n_types; ti++) {
		for (int si = 0; si < n_shapes; si++) {
			struct eng_membw mv;
			double pct;

			if (eng_membw_matvec(types[ti], shapes[si].rows, shapes[si].cols, bw->n_threads, bytes, reps,
					     &mv, err, sizeof err) < 0) {
				bench_fail(CMD, "%s", err);
				return -1;
			}
			pct = bw->best_gbs > 0 ? 100.0 * mv.best_gbs / bw->best_gbs : 0.0;
			if (arr) {
				cJSON *o = cJSON_CreateObject();

				cJSON_AddItemToArray(arr, o);
				cJSON_AddStringToObject(o, "matvec_type", eng_type_name(types[ti]));
				cJSON_AddNumberToObject(o, "rows", (double)shapes[si].rows);
				cJSON_AddNumberToObject(o, "cols", (double)shapes[si].cols);
				cJSON_AddNumberToObject(o, "threads", bw->n_threads);
				cJSON_AddNumberToObject(o, "weight_gb_s", mv.best_gbs);
				cJSON_AddNumberToObject(o, "median_weight_gb_s", mv.median_gbs);
				cJSON_AddNumberToObject(o, "pct_of_read_bw", pct);
				cJSON_AddItemToObject(o, "samples_gb_s", cJSON_CreateDoubleArray(mv.samples_gbs, mv.n_samples));
				cJSON_AddNumberToObject(o, "paired_read_gb_s", mv.paired_read_best_gbs);
				cJSON_AddNumberToObject(o, "pct_of_paired_read_median", 100.0 * mv.paired_ratio_median);
				cJSON_AddItemToObject(o, "paired_read_samples_gb_s",
						      cJSON_CreateDoubleArray(mv.paired_read_gbs, mv.n_samples));
			} else {
				char shape[40];

				snprintf(shape, sizeof shape, "%ldx%ld", shapes[si].rows, shapes[si].cols);
				printf("  %-6s %-12s %10.1f %12.1f %7.0f%% %11.1f %8.0f%%\n", eng_type_name(types[ti]), shape,
				       mv.best_gbs, mv.median_gbs, pct, mv.paired_read_best_gbs, 100.0 * mv.paired_ratio_median);
				fflush(stdout);
			}
		}
	}
	return 0;
}

int cmd_membw(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "threads", required_argument, NULL, 't' }, { "size-mib", required_argument, NULL, 'S' },
		{ "reps", required_argument, NULL, 'R' },    { "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },          { "matvec", no_argument, NULL, 'M' },
		{ "types", required_argument, NULL, 'T' },   { "shapes", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int types[MAX_TYPES] = { ENG_TYPE_F32, ENG_TYPE_F16, ENG_TYPE_Q8_0, ENG_TYPE_Q4_0, ENG_TYPE_Q4_K }, n_types = 5;
	struct mv_shape shapes[MAX_SHAPES] = { { 5632, 2048 }, { 2048, 2048 }, { 32000, 2048 } };
	int n_shapes = 3;
	bool matvec = false;
	struct eng_cache_info ci;
	long counts[MAX_COUNTS], mib, reps = ENG_MEMBW_DEFAULT_REPS;
	size_t cache_bytes;
	int n_counts = 0, c, rc = 0;
	bool json = false;
	cJSON *root = NULL, *arr = NULL, *mv_arr = NULL;
	char err[512];

	eng_cache_info(NULL, &ci);
	mib = (long)(eng_membw_dram_bytes(&ci) >> 20);
	cache_bytes = eng_membw_cache_bytes(&ci);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			n_counts = bench_parse_long_list(optarg, 1, 1024, counts, MAX_COUNTS);
			if (n_counts < 0)
				return bench_usage_error(CMD, "bad thread list '%s' (numbers 1..1024, at most %d, comma separated)",
							 optarg, MAX_COUNTS);
			break;
		case 'S':
			if (bench_parse_long(optarg, ENG_MEMBW_MIN_BYTES >> 20, 65536, &mib) < 0)
				return bench_usage_error(CMD, "bad --size-mib '%s' (a whole number of MiB, %u..65536)",
							 optarg, ENG_MEMBW_MIN_BYTES >> 20);
			break;
		case 'R':
			if (bench_parse_long(optarg, 1, ENG_MEMBW_MAX_REPS, &reps) < 0)
				return bench_usage_error(CMD, "bad --reps '%s' (1..%d)", optarg, ENG_MEMBW_MAX_REPS);
			break;
		case 'J': json = true; break;
		case 'M': matvec = true; break;
		case 'T':
			n_types = parse_types(optarg, types);
			if (n_types < 0)
				return bench_usage_error(CMD, "bad --types '%s' (comma separated: f32 f16 q8_0 q4_0)", optarg);
			break;
		case 'P':
			n_shapes = parse_shapes(optarg, shapes);
			if (n_shapes < 0)
				return bench_usage_error(CMD, "bad --shapes '%s' (ROWSxCOLS, comma separated, at most %d; "
							 "COLS a multiple of 32)", optarg, MAX_SHAPES);
			break;
		case 'h': usage(stdout); return 0;
		default: return bench_bad_option(CMD, argv, optind - 1);
		}
	}
	if (optind < argc)
		return bench_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (n_counts == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		counts[n_counts++] = 1;
		if (ncpu > 1)
			counts[n_counts++] = ncpu > 1024 ? 1024 : ncpu;
	}

	if (json) {
		root = cJSON_CreateObject();
		if (!root)
			return bench_fail(CMD, "out of memory");
		cJSON_AddStringToObject(root, "kind", "membw");
		cJSON_AddStringToObject(root, "simd", eng_simd_name());
		cJSON_AddStringToObject(root, "isa", eng_isa_name());
		cJSON_AddNumberToObject(root, "bytes", (double)((size_t)mib << 20));
		cJSON_AddNumberToObject(root, "reps", (double)reps);
		if (ci.llc_bytes)
			cJSON_AddNumberToObject(root, "llc_bytes", (double)ci.llc_bytes);
		else
			cJSON_AddNullToObject(root, "llc_bytes");
		cJSON_AddStringToObject(root, "llc_source", ci.source);
		cJSON_AddNumberToObject(root, "cache_bytes", (double)cache_bytes);
		arr = cJSON_AddArrayToObject(root, "results");
		if (matvec)
			mv_arr = cJSON_AddArrayToObject(root, "matvec");
	} else {
		printf("memory read bandwidth: %ld MiB buffer, %ld passes per thread count, kernels %s\n", mib, reps,
		       eng_simd_name());
		if (ci.llc_bytes)
			printf("last-level cache: %zu KiB (L%d, from %s); cache-resident buffer %zu KiB\n",
			       ci.llc_bytes >> 10, ci.llc_level, ci.source, cache_bytes >> 10);
		else
			printf("last-level cache: %s; cache-resident buffer %zu KiB\n", ci.source, cache_bytes >> 10);
		printf("%-8s %10s %12s %10s %14s\n", "threads", "best GB/s", "median GB/s", "min GB/s", "cache GB/s");
	}
	for (int i = 0; i < n_counts; i++) {
		struct eng_membw m, mc;
		double min;

		if (eng_membw_measure((int)counts[i], (size_t)mib << 20, (int)reps, &m, err, sizeof err) < 0 ||
		    eng_membw_measure_cached((int)counts[i], cache_bytes, reps * 4 > ENG_MEMBW_MAX_REPS ? ENG_MEMBW_MAX_REPS : (int)reps * 4,
					     &mc, err, sizeof err) < 0) {
			rc = bench_fail(CMD, "%s", err);
			goto out;
		}
		min = m.samples_gbs[0];
		for (int k = 1; k < m.n_samples; k++)
			min = m.samples_gbs[k] < min ? m.samples_gbs[k] : min;
		if (json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddItemToArray(arr, o);
			cJSON_AddNumberToObject(o, "threads", m.n_threads);
			cJSON_AddNumberToObject(o, "read_gb_s", m.best_gbs);
			cJSON_AddNumberToObject(o, "median_gb_s", m.median_gbs);
			cJSON_AddNumberToObject(o, "min_gb_s", min);
			cJSON_AddItemToObject(o, "samples_gb_s", cJSON_CreateDoubleArray(m.samples_gbs, m.n_samples));
			cJSON_AddNumberToObject(o, "cache_gb_s", mc.best_gbs);
			cJSON_AddNumberToObject(o, "cache_median_gb_s", mc.median_gbs);
		} else {
			printf("%-8d %10.1f %12.1f %10.1f %14.1f\n", m.n_threads, m.best_gbs, m.median_gbs, min, mc.best_gbs);
			fflush(stdout);
		}
		if (matvec && run_matvec(&m, types, n_types, shapes, n_shapes, (size_t)mib << 20, (int)reps, mv_arr) < 0) {
			rc = 1;
			goto out;
		}
	}
	if (json) {
		char *s = cJSON_PrintUnformatted(root);

		if (!s) {
			rc = bench_fail(CMD, "out of memory");
			goto out;
		}
		printf("%s\n", s);
		free(s);
	}
out:
	cJSON_Delete(root);
	return rc;
}
