/*
 * bench/runner.h — private to bench/: one benchmark run (issue 7) as data, the runner that
 * fills it, and the printers (result.c) that turn it into result.json, summary.csv and the
 * terminal table.
 *
 * A run: open the probes and start the sampler → load the first model → idle before → for each
 * configuration (type × prompt length × threads): warm-up runs, repetitions (prefill as one batch,
 * then decode token by token, every inter-token latency kept), cool-down → idle after. Phase
 * boundaries force a probe sample, so energy windows are interpolated between close samples.
 * SIGINT/SIGTERM (see bench_signals_install) stop the run at the next token; what was measured
 * is kept and the run is marked incomplete.
 */
#ifndef JB_BENCH_RUNNER_H
#define JB_BENCH_RUNNER_H

#include "bench/bench.h"
#include "bench/cli.h"
#include "bench/engine_http.h"
#include "bench/workload.h"
#include "engine/engine.h"
#include "power/power.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Energy of one repetition in one domain. */
struct bench_rep_energy {
	bool prefill_valid, decode_valid;
	double prefill_j, decode_j;
	double prefill_avg_w, decode_avg_w;
	bool wrap_suspect;
	char prefill_reason[160]; /* why prefill_j is missing */
	char decode_reason[160];  /* why decode_j is missing */
};

struct bench_rep {
	int index;                 /* 0-based among counted repetitions */
	bool complete;             /* false: interrupted inside this repetition */
	int prompt_tokens;
	int gen_tokens;            /* tokens generated, the first (from prefill logits) included */
	int64_t t_start_ns;        /* prompt submitted */
	int64_t t_prefill_end_ns;  /* first token sampled */
	int64_t t_decode_start_ns; /* after the boundary sample */
	int64_t t_end_ns;          /* last token sampled */
	int64_t ttft_ns, prefill_ns, decode_ns;
	int64_t *itl_ns;           /* gen_tokens - 1 latencies */
	int n_itl;
	struct bench_rep_energy *energy; /* one per domain */
	bool counters_valid;
	char counters_reason[256];
	struct pwr_counter_read c_prefill, c_decode;
	bool multiplexed;
};

struct bench_config_run {
	int threads;
	int type;                  /* enum eng_type, or -1 before the model is open */
	int prompt_tokens;
	char spec[1100];           /* the model spec this configuration opened */
	bool model_valid;
	struct eng_model_desc model;
	char sha256[65];           /* "" → sha_reason */
	char sha_reason[256];
	int64_t load_ns;           /* model open (or reuse: its original open time) + context */
	bool oversubscribed;       /* more threads than online CPUs */
	struct bench_rep *reps;
	int n_reps, cap_reps;
	bool stop_rule_met;
	bool started;
	char error[512];           /* a failure that stopped this configuration, "" = none */
};

struct bench_phase {
	int config;                /* -1 for idle phases */
	int rep;                   /* repetition or warm-up index, -1 when not per repetition */
	char phase[16];            /* idle_before, load, warmup, prefill, decode, cooldown, idle_after */
	int64_t t_start_ns, t_end_ns;
};

struct bench_idle {
	bool measured;
	char reason[256];          /* why not measured */
	double duration_s;
	int64_t t_start_ns, t_end_ns;
	double *power_w;           /* per domain */
	bool *power_valid;
};

struct bench_domain_samples {
	int64_t *t_ns;
	double *energy_j;
	size_t n;
	struct pwr_update update; /* the probe's own update period, from these samples */
};

struct bench_run {
	const struct bench_workload *w;
	const struct bench_build_info *build; /* NULL: not recorded */
	char created_utc[32];
	struct cJSON *machine;
	bool complete;
	char incomplete_reason[256];

	/* the top-level model: the first configuration's */
	bool model_valid;
	char model_reason[512];
	struct eng_model_desc model;
	struct eng_config mcfg;
	char model_spec[1100];
	char sha256[65];
	char sha_reason[256];
	int prompt_text_tokens;    /* tokens of the prompt text, 0 when prompt_tokens is used */

	int n_domains;
	struct pwr_domain_desc *domains;
	int primary;               /* -1: none, see primary_reason */
	char primary_reason[1024];
	int n_unavail;
	struct pwr_unavailable *unavail;
	struct bench_domain_samples *samples;
	int interval_ms;
	uint64_t sampler_count;
	double sampler_cpu_ns;

	struct bench_idle idle_before, idle_after;
	struct bench_phase *phases;
	int n_phases, cap_phases;
	struct bench_config_run *configs;
	int n_configs;

	char counters_source[32];  /* "" → counters_reason */
	char counters_reason[256];

	struct bench_http_sweep *http; /* an external engine's sweep (engine_http.h), NULL: builtin */
};

/* Statistics of one configuration, shared by the JSON, the CSV and the terminal table. */
struct bench_config_summary {
	int n;                         /* complete repetitions */
	struct rpt_summary prefill_tok_s, decode_tok_s, ttft_ms;
	bool itl_valid;
	double itl_p50_ms, itl_p90_ms, itl_p99_ms;
	int source;                    /* domain index, -1 none */
	bool energy_valid;             /* gross figures for the source exist */
	char energy_reason[1100];
	bool net_valid;                /* idle power known */
	char net_reason[256];
	struct rpt_summary prefill_jpt_gross, prefill_jpt_net, decode_jpt_gross, decode_jpt_net;
	struct rpt_summary tokens_per_j, prefill_tokens_per_j, avg_power_w, wh_per_query;
	double rsd_decode_pct;
};

struct bench_run_opts {
	const struct bench_workload *w;
	const char *sysfs_root;        /* NULL: $JOULEBENCH_SYSFS_ROOT or "/" */
	const struct bench_build_info *build;
	bool progress;                 /* a progress line on stderr */
	FILE *log;                     /* warnings (oversubscription, failed configs); NULL = none */
	/* Test hook: called at every phase start (phase name as in bench_phase), may be NULL. */
	void (*on_phase)(void *ud, const char *phase, int config, int rep);
	void *ud;
	/* An external engine over HTTP (engine_http.h) instead of the built-in one; NULL: built-in. */
	const struct bench_http_opts *http;
};

/*
 * Runs the workload. Returns 0 with *out set (complete or not: check (*out)->complete), or
 * -errno with a message in err when nothing could be started (bad model spec, prompt that does
 * not fit, probes failed to open) and *out NULL. The caller frees *out with bench_run_free().
 */
int bench_run(const struct bench_run_opts *o, struct bench_run **out, char *err, size_t errlen);
void bench_run_free(struct bench_run *r);
/* Appends a phase to r->phases (engine_http's levels use it too). 0 or -ENOMEM. */
int bench_run_phase_add(struct bench_run *r, int config, int rep, const char *name, int64_t t0,
			int64_t t1);

/* SIGINT/SIGTERM set a flag (the handler does nothing else); the runner stops at the next token
 * or sleep slice. bench_stop_request() does the same from code (tests). */
void bench_signals_install(void);
void bench_stop_request(int sig);
void bench_stop_clear(void);
int bench_stop_signal(void);
/* The flag itself, for loops that poll it (engine_http's transfers). */
volatile const sig_atomic_t *bench_stop_flag(void);

/* Fills s for configuration c of run r, energy from the primary source. */
void bench_config_summarize(const struct bench_run *r, int c, struct bench_config_summary *s);
/* The same with the energy figures of source (domain index) `source`. */
void bench_config_summarize_source(const struct bench_run *r, int c, int source,
				   struct bench_config_summary *s);

/* ---- result.c ------------------------------------------------------------------------------ */

/* The whole result document (reports/SCHEMA.md, kind "run"); the caller owns it. */
struct cJSON *bench_result_json(const struct bench_run *r);
/* Writes DIR/result.json and DIR/summary.csv atomically (temp file in DIR, fsync, rename),
 * creating DIR (and parents). 0 or -errno with a message. */
int bench_result_write(const struct bench_run *r, const char *dir, char *err, size_t errlen);
/* Creates DIR (and parents) and checks a file can be created in it, so a run does not end with
 * nowhere to write its result. 0 or -errno with a message. */
int bench_result_dir_prepare(const char *dir, char *err, size_t errlen);
/* One numeric CSV cell with its leading comma: %.6g, or empty when not valid or not finite (an
 * empty cell is never zero). Shared by summary.csv's printers (result.c, http_run.c). */
void bench_csv_num(FILE *f, bool valid, double v);

/* The summary rows as CSV (header + one row per configuration). */
void bench_summary_csv(const struct bench_run *r, FILE *f);
/* The short table printed after a run. */
void bench_print_table(const struct bench_run *r, FILE *f);

#endif
