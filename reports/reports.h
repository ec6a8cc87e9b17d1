/*
 * reports/reports.h — turns result files (reports/SCHEMA.md) into answers: cloud-equivalent
 * estimates, claims checks, comparisons, Markdown/HTML reports, gnuplot plots and the regression
 * gate. Everything here reads result JSON, never engine or probe state.
 *
 * Conventions: functions return 0 on success and a negative errno on failure, leaving a message
 * in the caller's `err` buffer (which names the file, field or value at fault). Nothing here
 * exits or prints to stderr except where a function says it writes to a FILE *.
 */
#ifndef JB_REPORTS_H
#define JB_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The result schema version this build writes and reads. */
#define RPT_SCHEMA_VERSION 1

#define RPT_REASON_LEN 512
#define RPT_ERR_LEN    512

/* ---- statistics (reports/stats.c; the runner uses them too) ------------------------------------------------------------------------ */

/* A summary of repeated measurements: median with a 95% bootstrap confidence interval. */
struct rpt_summary {
	int n;
	double median;
	double mean;
	double sd;       /* sample standard deviation (n-1); 0 when n < 2 */
	double ci_low;   /* 95% bootstrap CI of the median; == median when n < 2 */
	double ci_high;
	double min, max;
};

double rpt_mean(const double *x, int n);
double rpt_sd(const double *x, int n);
double rpt_median(const double *x, int n);
/* p in [0, 100]; linear interpolation between order statistics (Hyndman–Fan type 7, as
 * numpy.percentile's default). n >= 1. */
double rpt_percentile(const double *x, int n, double p);
/* Percentile bootstrap CI of `stat` (NULL = median) with `resamples` resamples from a seeded
 * generator: the same inputs and seed give the same interval. conf e.g. 0.95. */
void rpt_bootstrap_ci(const double *x, int n, double (*stat)(const double *, int), double conf,
			int resamples, uint64_t seed, double *lo, double *hi);
/* Fills s from x[0..n): 1000 resamples, 95%, the given seed. n == 0 leaves s->n = 0. */
void rpt_summarize(const double *x, int n, uint64_t seed, struct rpt_summary *s);
/* Relative standard deviation in percent (sd / mean * 100); 0 when n < 2 or mean == 0. */
double rpt_rsd_pct(const double *x, int n);
/* The stop rule: true when n >= min_n, n >= 2 (one value says nothing about spread) and the
 * RSD is strictly below max_rsd_pct. */
bool rpt_stop_rule_met(const double *x, int n, int min_n, double max_rsd_pct);

/* Deterministic 64-bit generator (splitmix64 seeding a xoshiro-style state) for resampling. */
struct rpt_rng {
	uint64_t s[4];
};
void rpt_rng_seed(struct rpt_rng *r, uint64_t seed);
uint64_t rpt_rng_next(struct rpt_rng *r);
/* Uniform integer in [0, n). */
uint64_t rpt_rng_below(struct rpt_rng *r, uint64_t n);

/* ---- result files --------------------------------------------------------------------- */

/* A number that may be missing: when !ok, `reason` says why (from the file's `<name>_reason`). */
struct rpt_num {
	bool ok;
	double v;
	char reason[RPT_REASON_LEN];
};

/* A SCHEMA.md stat object (median with a 95% bootstrap CI of the median); !ok = null + reason. */
struct rpt_stat {
	bool ok;
	int n;
	double median, mean, sd, ci_low, ci_high, min, max;
	char reason[RPT_REASON_LEN];
};

/* One configs[] entry of a run result, with its summary. */
struct rpt_config {
	int threads;
	char type[16];
	int n_reps;
	int prompt_tokens, gen_tokens; /* of the first repetition (workload values otherwise) */
	struct rpt_stat prefill_tok_s, decode_tok_s, ttft_ms;
	struct rpt_num itl_p50_ms, itl_p90_ms, itl_p99_ms;
	char energy_source[64]; /* "" when no energy figure exists for this config */
	char energy_kind[16];   /* "measured", "estimated" or "" */
	char energy_reason[RPT_REASON_LEN];
	struct rpt_stat prefill_jpt_gross, prefill_jpt_net; /* J per prompt token */
	struct rpt_stat decode_jpt_gross, decode_jpt_net;   /* J per generated token */
	struct rpt_stat tokens_per_j;                       /* decode, net */
	struct rpt_stat avg_power_w;                        /* whole repetition, gross */
	struct rpt_stat wh_per_query;                       /* prompt + answer, net */
	struct rpt_num weight_bytes, decode_bytes_per_token;
	/* An estimated source with bound sources "<energy_source>-low" and "-high" in
	 * summary.by_source (SCHEMA.md; the vm model has them): the medians of the same figures
	 * at the model's low and high coefficients. est_range false when there are none. */
	bool est_range;
	char est_low_id[72], est_high_id[72];
	struct rpt_range_pair {
		double lo, hi;
		bool ok;
	} est_decode_jpt_gross, est_decode_jpt_net, est_prefill_jpt_gross, est_avg_power_w,
	    est_wh_per_query, est_tokens_per_j;
	/* > 0: a level of an external engine's concurrency sweep (SCHEMA.md `sweep.levels[]`):
	 * decode_tok_s is the aggregate tok/s, ttft_ms its p50 (n = 1 stats), the J/token figures
	 * are the whole window's (prefill included) and prefill figures are missing. */
	int concurrency;
};

/* One energy_sources[] entry. */
struct rpt_source {
	char id[64], backend[32], domain[32], covers[160], kind[16], model[320];
	char range_sets[128]; /* an estimate's coefficient sets, comma-separated; "" if none */
};

/* A loaded and validated result file (kind "run" or "kernels"). */
struct rpt_result {
	char path[1024];
	int schema_version;
	char kind[16]; /* "run" or "kernels" */
	bool complete;
	char incomplete_reason[RPT_REASON_LEN];
	char created_utc[40];
	char jb_version[32], jb_commit[64], jb_simd[32];
	/* machine */
	char hostname[128], cpu_model[160], os[128], kernel[96], virtualized[64];
	int cores, threads;
	struct rpt_num mem_bytes, freq_max_mhz;
	/* workload */
	char workload[96];
	int prompt_tokens, gen_tokens, reps;
	/* model */
	char model_name[128], model_spec[256], model_arch[32];
	bool model_synthetic;
	struct rpt_num n_params;
	/* energy */
	char primary_source[64];
	char primary_reason[RPT_REASON_LEN];
	int n_sources;
	struct rpt_source *sources;
	int n_configs;
	struct rpt_config *configs;
	/* external engine (`engine` object): "builtin", "openai", "ollama"; n_sweep_levels of the
	 * configs are sweep levels (concurrency > 0) */
	char engine[16], engine_host[128];
	bool engine_remote;
	int n_sweep_levels;
	/* kernels results */
	int n_kernels;
	struct rpt_num membw_gbs; /* highest measured read bandwidth (kernels kind) */
	void *json;               /* the parsed document (cJSON *), owned */
};

/* Loads and validates a result file. Unknown schema_version or kind, a missing required field or
 * a field of the wrong type fails with -EINVAL and a message naming the file and field; a file
 * that cannot be read fails with its errno. On success *out is owned by the caller. */
int rpt_result_load(const char *path, struct rpt_result **out, char *err, size_t errlen);
/* The same from a NUL-terminated text already in memory; `path` names it in messages. */
int rpt_result_parse(const char *text, const char *path, struct rpt_result **out, char *err,
		     size_t errlen);
void rpt_result_free(struct rpt_result *r);

/* The configuration used for headline figures: the one with the highest median decode tok/s
 * among those with a summary; NULL when the result has no configuration. */
const struct rpt_config *rpt_headline_config(const struct rpt_result *r);

/* The energy_sources entry with this id, or NULL. */
const struct rpt_source *rpt_find_source(const struct rpt_result *r, const char *id);

/* ---- cloud-equivalent estimates ------------------------------------------------------- */

/* A model constant with its range and citation (configs/cloud/NAME.json). */
struct rpt_const {
	char name[48];
	double def, low, high;
	char unit[32];
	char source[400];
};

#define RPT_MAX_CONSTS 16

enum rpt_cloud_method {
	RPT_CLOUD_ECOLOGITS,  /* bottom-up per-token GPU energy for the same model size */
	RPT_CLOUD_FLOPS,      /* 2*N*tokens / (peak FLOP/s * util) * power * PUE */
	RPT_CLOUD_PER_PROMPT, /* a published per-prompt figure of a frontier service */
};

struct rpt_cloud_profile {
	char name[64]; /* file stem: configs/cloud/NAME.json */
	char path[1024];
	enum rpt_cloud_method method;
	char title[160];
	char boundary[200]; /* what the figure covers */
	bool same_model;    /* estimates the user's model size (false: a frontier service) */
	bool superseded;    /* a historical figure shown for reference, not used in verdicts */
	int n_consts;
	struct rpt_const consts[RPT_MAX_CONSTS];
};

/* Loads one profile file; -EINVAL with a message naming the file and field on a bad file. */
int rpt_cloud_profile_load(const char *path, struct rpt_cloud_profile *p, char *err, size_t errlen);
/* Loads every *.json profile in dir (grid.json and network.json excluded), sorted by name.
 * *out is malloc'd. Returns the count or a negative errno. */
int rpt_cloud_profiles_load(const char *dir, struct rpt_cloud_profile **out, char *err,
			    size_t errlen);
/* The value of a named constant (default, low or high) or NULL when absent. */
const struct rpt_const *rpt_cloud_const(const struct rpt_cloud_profile *p, const char *name);

/* A value with a low–high range. */
struct rpt_range {
	double v, low, high;
};

struct rpt_cloud_query {
	double n_params;   /* total (= active) parameters of the model, e.g. 7e9 */
	int prompt_tokens; /* not used by the shipped methods; kept for the record */
	int gen_tokens;    /* output tokens of one query */
};

struct rpt_cloud_estimate {
	struct rpt_range j_per_token; /* J per output token */
	struct rpt_range wh_per_query;
	int gpus; /* ecologits: GPUs serving the model; 0 otherwise */
	int tokens_per_query; /* per_prompt: the assumed answer length behind j_per_token */
};

/* Evaluates a profile for a query. The range is found by evaluating the model at every corner
 * of the constants' [low, high] box and taking the minimum and maximum (exact for models that
 * are monotonic in each constant, which all shipped methods are). */
int rpt_cloud_estimate(const struct rpt_cloud_profile *p, const struct rpt_cloud_query *q,
		       struct rpt_cloud_estimate *e, char *err, size_t errlen);

/* Network transfer energy: kWh/GB × bytes, as Wh with a range (configs/cloud/network.json). */
int rpt_network_wh(const char *dir, double bytes, struct rpt_range *wh, char *source,
		   size_t source_len, char *err, size_t errlen);

/* A grid carbon intensity profile (configs/cloud/grid.json). */
struct rpt_grid {
	char id[32], name[96];
	struct rpt_range g_per_kwh;
	char source[400];
};
/* Loads region `id` (case-insensitive; NULL = the file's default) from dir/grid.json. */
int rpt_grid_load(const char *dir, const char *id, struct rpt_grid *g, char *err, size_t errlen);
/* Comma-separated list of known region ids (for error messages); static buffer. */
const char *rpt_grid_ids(const char *dir);

/* The cloud-equivalent table for one result: every profile, local vs cloud J/token and Wh/query,
 * ratios with ranges, carbon, optional water and network. Markdown when md, else plain text. */
struct rpt_cloud_opts {
	const char *dir;        /* configs/cloud */
	const char *profile;    /* only this profile, or NULL for all */
	const char *grid;       /* region id, or NULL for the default */
	double network_bytes;   /* per query; 0 = not counted */
	bool md;
};
int rpt_cloud_table(FILE *f, const struct rpt_result *r, const struct rpt_cloud_opts *o, char *err,
		    size_t errlen);

/* ---- claims -------------------------------------------------------------------------- */

enum rpt_verdict { RPT_SUPPORTED, RPT_CONTRADICTED, RPT_NOT_TESTABLE };
const char *rpt_verdict_name(enum rpt_verdict v);

struct rpt_claim {
	const char *id;    /* short id, e.g. "laptop-7b-watts" */
	const char *claim; /* the statement as popularly made */
	enum rpt_verdict verdict;
	bool estimated; /* some local energy behind the verdict is estimated, not measured */
	char evidence[6000]; /* the numbers behind the verdict, and what to run when not testable */
};

#define RPT_N_CLAIMS 3
/* Checks every claim against the results and the cloud profiles in cloud_dir. */
int rpt_claims_check(struct rpt_result *const *rs, int n, const char *cloud_dir,
		     struct rpt_claim out[RPT_N_CLAIMS], char *err, size_t errlen);
void rpt_claims_print(FILE *f, const struct rpt_claim *c, int n, bool md);

/* ---- compare ------------------------------------------------------------------------- */

enum rpt_format { RPT_FMT_TERM, RPT_FMT_MD, RPT_FMT_CSV };

/* One table across results (every config of every result is a row; the first row is the
 * baseline): metrics with CIs, ratios against the baseline with conservative intervals, and a
 * geometric-mean summary. Fails (-EINVAL) when the results mix schema versions or kinds. */
int rpt_compare(FILE *f, struct rpt_result *const *rs, int n, enum rpt_format fmt, char *err,
		size_t errlen);
/* The same with every configuration of every result as a row (a thread or type sweep). */
int rpt_compare_rows(FILE *f, struct rpt_result *const *rs, int n, bool all_configs,
		     enum rpt_format fmt, char *err, size_t errlen);

/* ---- plots and reports --------------------------------------------------------------- */

/* The gnuplot binary: $JOULEBENCH_GNUPLOT or "gnuplot". */
const char *rpt_gnuplot_path(void);
/* true when the gnuplot binary can be run; otherwise `why` says why. */
bool rpt_gnuplot_available(char *why, size_t why_len);
/* Runs `gnuplot -c script args...` (argv NULL-terminated); returns 0 or -EIO with a message. */
int rpt_gnuplot_run(const char *script, const char *const *args, char *err, size_t errlen);

/* A plot written by rpt_plots_write: the image files relative to the output directory. */
struct rpt_plot {
	char name[48];   /* e.g. "power-timeline" */
	char title[160]; /* short: it must fit the image */
	char caption[400]; /* the details the title leaves out: which result, ranges, sources */
	char png[128], svg[128]; /* empty when left_out is set */
	bool estimated;  /* shows estimated figures */
	/* Non-empty for a view that was not drawn: why (no bound measured), or the one data
	 * point it would have shown, in words (a plot with one point is a table row). */
	char left_out[400];
};
#define RPT_MAX_PLOTS 12

/* Writes .dat files into dir and renders each applicable plot with the scripts_dir .gp files.
 * When gnuplot is missing no image is made and `skipped` (if not NULL) says why; a script that
 * fails is named in `skipped` (messages in dir/gnuplot.log) and the other plots are drawn.
 * A view that applies but was not drawn (nothing to compare against, one data point) is an
 * entry with `left_out` set and no image. Returns the number of entries, or a negative errno
 * when a data file cannot be written. */
int rpt_plots_write(struct rpt_result *const *rs, int n, const char *dir, const char *scripts_dir,
		    const char *cloud_dir, struct rpt_plot plots[RPT_MAX_PLOTS], char *skipped,
		    size_t skipped_len, char *err, size_t errlen);

struct rpt_report_opts {
	const char *out_dir;
	const char *scripts_dir; /* default "scripts" */
	const char *cloud_dir;   /* default "configs/cloud" */
	const char *grid;        /* NULL = default region */
	const char *title;       /* NULL = "joulebench report" */
	bool no_plots;
};
/* Writes out_dir/report.md and out_dir/report.html (plots embedded as data: URIs) plus the
 * plots. A missing gnuplot is written to `note` (one line) and the report renders without
 * plots. */
int rpt_report_write(struct rpt_result *const *rs, int n, const struct rpt_report_opts *o,
		     char *note, size_t note_len, char *err, size_t errlen);

/* Writes out_dir/index.html (atomically): the results page across all of rs — a sortable,
 * filterable table of every run configuration and the plots (already written into out_dir) as
 * inline SVG; self-contained, no network. Returns the number of table rows, or a negative
 * errno with a message in err. rpt_report_write calls it. */
int rpt_page_write(struct rpt_result *const *rs, int n, const struct rpt_report_opts *o,
		   const struct rpt_plot *plots, int nplots, const char *plot_note, char *err,
		   size_t errlen);

/* ---- regression gate (reports/regress.c) --------------------------------------------- */

/* Two-sided Mann–Whitney U test of two independent samples. */
struct rpt_mwu {
	double u;    /* U of the first sample: pairs (a_i, b_j) with a_i > b_j, ties counting 1/2 */
	double p;    /* two-sided p-value */
	bool exact;  /* exact permutation distribution (no ties, na + nb <= 60); else the normal
		      * approximation with tie and continuity corrections */
};
/* Returns 0, or -EINVAL when either sample is empty. */
int rpt_mann_whitney(const double *a, int na, const double *b, int nb, struct rpt_mwu *out);
/* The smallest two-sided p-value the exact test can give for these sizes: 2 / C(na+nb, na). */
double rpt_mwu_min_p(int na, int nb);

/* Percentile bootstrap CI (level conf) of median(cur) / median(base), each sample resampled
 * independently, from a seeded generator: the same inputs give the same interval. */
void rpt_ratio_ci(const double *base, int nb, const double *cur, int nc, double conf, int resamples,
		  uint64_t seed, double *lo, double *hi);

/* Fewer repetitions than this on either side make a timing/energy comparison inconclusive. */
#define RPT_MIN_REPS 3

enum rpt_change { RPT_IMPROVED, RPT_UNCHANGED, RPT_REGRESSED, RPT_INCONCLUSIVE };
const char *rpt_change_name(enum rpt_change c);

struct rpt_gate_opts {
	double threshold; /* relative change that matters, e.g. 0.05 */
	double alpha;     /* significance level of the U test, e.g. 0.05 */
	int resamples;    /* bootstrap resamples (0 = 2000) */
	uint64_t seed;    /* bootstrap seed */
};

/* One compared figure: a metric of one configuration or kernel. */
struct rpt_gate_row {
	char metric[32];
	char item[128];        /* "t=2 q4_0", "matvec.q4_0.ffn_up [simd]" */
	bool higher_is_better;
	bool deterministic;    /* instruction counts: a plain threshold, no test */
	int n_base, n_cur;     /* samples (1 for deterministic values) */
	double base, cur;      /* medians, or the values */
	double ratio;          /* cur / base */
	bool has_ci;
	double ci_low, ci_high; /* bootstrap CI of the ratio */
	bool has_p;
	double p;
	bool exact;
	enum rpt_change verdict;
	char note[200];        /* why inconclusive, what was estimated, ... */
};

/*
 * The verdict for repeated measurements (timing, energy). Regressed: the U test is significant
 * (p < alpha) AND the whole CI of the ratio lies beyond the threshold on the worse side; improved
 * likewise on the better side; unchanged: the whole CI lies within the threshold; inconclusive:
 * fewer than RPT_MIN_REPS samples on a side, too few to ever reach p < alpha, or the CI
 * straddles the threshold.
 */
void rpt_gate_samples(const double *base, int nb, const double *cur, int nc, bool higher_is_better,
		      const struct rpt_gate_opts *o, struct rpt_gate_row *row);
/* The verdict for a deterministic count: a plain threshold on the ratio. */
void rpt_gate_value(double base, double cur, bool higher_is_better, const struct rpt_gate_opts *o,
		    struct rpt_gate_row *row);

struct rpt_regress_opts {
	const char *const *metrics; /* names (see rpt_regress_metric_names); NULL = the kind's defaults */
	int n_metrics;
	struct rpt_gate_opts gate;
	bool allow_different_machine;
};

/* One concurrency level of two sweeps: the verdict of its rows taken together. */
struct rpt_regress_level {
	int concurrency;
	enum rpt_change verdict;
};

struct rpt_regress {
	char kind[16];           /* "run" or "kernels" */
	bool sweep;              /* two concurrency sweeps, compared level by level (items "c=N") */
	int n_levels;
	struct rpt_regress_level *levels; /* sweeps: one per level, in the baseline's order */
	enum rpt_change overall; /* all rows: regressed if any is, else inconclusive if any is,
				  * else improved if any is, else unchanged */
	char differences[1024];  /* machine/model differences found ("" when none) */
	char warnings[1024];     /* lines about what was not compared */
	int n_rows;
	struct rpt_gate_row *rows;
	int n_regressed, n_improved, n_unchanged, n_inconclusive;
};

/* "decode_tok_s, prefill_tok_s, ttft_ns, j_per_token (run); ns_per_call, instructions (kernels)" */
const char *rpt_regress_metric_names(void);

/*
 * Compares two result files of the same kind metric by metric; two concurrency sweeps level by
 * level (defaults agg_tok_s, decode_tok_s and ttft_ns per stream, j_per_token). Returns 0 (then
 * *out is the caller's, freed with rpt_regress_free); -EINVAL for bad input (unreadable file,
 * unknown metric, a metric that does not apply, different kinds, a sweep against a run, sweeps
 * of different concurrency levels); -EXDEV when machines or models differ and
 * different machines are not allowed: the message says exactly what differs.
 */
int rpt_regress_files(const char *base_path, const char *cur_path, const struct rpt_regress_opts *o,
		      struct rpt_regress **out, char *err, size_t errlen);
/* The same on results already loaded (e.g. a baseline read back from the results store); the
 * results' `path` names them in messages. */
int rpt_regress_results(const struct rpt_result *base, const struct rpt_result *cur,
			const struct rpt_regress_opts *o, struct rpt_regress **out, char *err,
			size_t errlen);
void rpt_regress_free(struct rpt_regress *r);
/* The table (baseline, current, ratio, CI, p, verdict) and a summary line; RPT_FMT_MD for CI
 * job summaries, RPT_FMT_TERM for terminals, RPT_FMT_CSV for machines. */
void rpt_regress_print(FILE *f, const struct rpt_regress *r, const struct rpt_regress_opts *o,
		       enum rpt_format fmt);

/* ---- results store (reports/store.c, store_sqlite.c, store_pg.c) ------------------------ */

/*
 * A database of run results: SQLite (a file path, default RPT_STORE_DEFAULT) or PostgreSQL (a
 * postgresql:// or postgres:// URL; the password from the URL, PGPASSWORD or ~/.pgpass). Tables
 * for runs, machines, models, configurations, repetitions and energy by source; the schema is
 * versioned (schema_version) and migrated in order when a store is opened. Each result goes in
 * one transaction: a crash leaves either all of its rows or none.
 */
struct rpt_store;

#define RPT_STORE_DEFAULT "results/joulebench.sqlite"

/* The location to use: `arg` when not NULL, else $JOULEBENCH_DB, else RPT_STORE_DEFAULT. */
const char *rpt_store_location(const char *arg);
/* Copies a location into buf with any password replaced by "****", for messages. */
void rpt_store_mask(const char *location, char *buf, size_t len);

/* Opens (creating and migrating when needed) the store at `location`. Messages never contain
 * a password. */
int rpt_store_open(const char *location, struct rpt_store **out, char *err, size_t errlen);
void rpt_store_close(struct rpt_store *st);
/* "sqlite" or "postgresql". */
const char *rpt_store_backend(const struct rpt_store *st);
/* The schema version the store is at after opening. */
int rpt_store_schema_version(const struct rpt_store *st);

/*
 * Stores one run result (text: the result.json bytes, sha256: their SHA-256 in hex; path and
 * label are recorded, label may be NULL). Returns 0 with *run_id set and *inserted false when a
 * result with the same SHA-256 is already stored; -EINVAL when the text is not a run result
 * (the message says why); -EIO on a database error. Concurrent writers wait for each other.
 */
int rpt_store_put(struct rpt_store *st, const char *text, const char *sha256, const char *path,
		  const char *label, int64_t *run_id, bool *inserted, char *err, size_t errlen);

/* For tests: the process kills itself (SIGKILL) after `n_statements` statements of the next
 * rpt_store_put, inside its transaction (0 = never). */
void rpt_store_fault_after(struct rpt_store *st, int n_statements);

/* Reads a stored run back as a result (its document as stored: result.json without the raw
 * `samples` and `phases` timelines); `name` labels it in messages. Caller frees. */
int rpt_store_load_run(struct rpt_store *st, int64_t run_id, const char *name,
		       struct rpt_result **out, char *err, size_t errlen);

/* The latest run labelled `label` (run/import --label, or a joulebench commit or its prefix)
 * of the same machine and model as `like`; any machine when any_machine. -ENOENT with a message
 * when there is none. */
int rpt_store_find_labelled(struct rpt_store *st, const char *label, const struct rpt_result *like,
			    bool any_machine, int64_t *run_id, char *err, size_t errlen);

/* The latest run of machine `machine` (hostname or fingerprint prefix); with model_id > 0 only
 * runs of that model, with `model` (name, shape, spec or key) only matching models. Sets
 * *run_id and *model_id_out. -ENOENT with a message when there is none. */
int rpt_store_latest_of_machine(struct rpt_store *st, const char *machine, const char *model,
				int64_t model_id, int64_t *run_id, int64_t *model_id_out, char *err,
				size_t errlen);

enum rpt_history_metric { RPT_H_DECODE_TOK_S, RPT_H_PREFILL_TOK_S, RPT_H_J_PER_TOKEN, RPT_H_TTFT_MS };
/* "decode_tok_s" ... → the metric; -EINVAL for an unknown name. */
int rpt_history_metric_parse(const char *name, enum rpt_history_metric *m);
const char *rpt_history_metric_name(enum rpt_history_metric m);

struct rpt_history_query {
	const char *machine; /* hostname or fingerprint prefix; NULL = every machine */
	const char *model;   /* model name, shape, spec or key; NULL = every model */
	const char *since;   /* ISO 8601 date or time: runs created at or after it; NULL = all */
	const char *label;   /* only runs with this label; NULL = all */
	enum rpt_history_metric metric;
};

/* One configuration of one stored run. */
struct rpt_history_row {
	int64_t run_id;
	char created_utc[40], hostname[128], fingerprint[20], model[128], label[64], commit[64];
	int threads;
	char type[16];
	bool ok;      /* the metric has a value */
	double value; /* the configuration's median */
	char energy_kind[16]; /* j_per_token: "measured" or "estimated" */
};

/* Every matching configuration, oldest first. *rows is malloc'd (free()). */
int rpt_store_history(struct rpt_store *st, const struct rpt_history_query *q,
		      struct rpt_history_row **rows, int *n, char *err, size_t errlen);

enum rpt_history_format { RPT_HIST_TABLE, RPT_HIST_CSV, RPT_HIST_JSON };
void rpt_history_print(FILE *f, const struct rpt_history_row *rows, int n,
		       enum rpt_history_metric m, enum rpt_history_format fmt);
/* A trend plot (value over time, one line per machine/model/config) through
 * scripts/plot-history.gp; writes png_path (and the .dat and .svg next to it). */
int rpt_history_plot(const struct rpt_history_row *rows, int n, enum rpt_history_metric m,
		     const char *png_path, const char *scripts_dir, char *err, size_t errlen);

#endif
