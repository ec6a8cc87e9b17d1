/*
 * bench/workload.h — private to bench/: a workload (configs/workloads/NAME.json) as the runner
 * uses it, after command-line overrides.
 *
 * Every field of the file is optional except `model` (which may also come from --model); unknown
 * fields are errors. Errors name the file, the JSON path of the bad field and what was expected:
 *   configs/workloads/x.json: .threads[1]: expected a positive integer, got "two"
 */
#ifndef JB_BENCH_WORKLOAD_H
#define JB_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_LIST 16
#define BENCH_MAX_PROBES 16

struct bench_workload {
	char name[64];            /* "default"; from the file name when the file has none */
	char description[256];
	char file[1024];          /* the file read, "" when none */
	char model[1024];         /* GGUF path or "synth:SHAPE[:TYPE]" */
	char vocab[1024];         /* optional vocabulary GGUF for synthetic models, "" = none */
	int n_prompt_tokens;      /* prompt lengths (a sweep when > 1); 0 with prompt_text */
	int prompt_tokens[BENCH_MAX_LIST];
	char *prompt_text;        /* malloc'd, NULL = use prompt_tokens */
	int gen_tokens;           /* generated tokens per repetition, the first one included (>= 2) */
	int n_threads;
	int threads[BENCH_MAX_LIST];
	int n_types;              /* 0 = the model's own type */
	int types[BENCH_MAX_LIST]; /* eng_synth_type_parse: a tensor type or a llama.cpp mix (q4_k_m) */
	int reps;                 /* repetitions (the minimum when the stop rule is on) */
	int warmup;               /* warm-up runs per configuration, not counted */
	double cooldown_s;        /* pause after each configuration's repetitions */
	double idle_s;            /* idle measurement before and after the workload */
	int interval_ms;          /* sampler interval */
	int n_probes;             /* 0 = automatic */
	char probes[BENCH_MAX_PROBES][96];
	uint64_t seed;
	double tdp_w;             /* CPU TDP for the estimate probe when the CPU is not in
				   * configs/hardware; 0 = from the table */
	bool stop_rule;           /* add reps until RSD(decode tok/s) < stop_rsd_pct or max_reps */
	double stop_rsd_pct;
	int max_reps;
};

/* Built-in defaults (no model). Free with bench_workload_free(). */
void bench_workload_init(struct bench_workload *w);
void bench_workload_free(struct bench_workload *w);
/* Replaces the prompt text (NULL clears it); returns 0 or -ENOMEM. */
int bench_workload_set_prompt(struct bench_workload *w, const char *text);

/*
 * Resolves a workload argument: a path (contains '/' or ends in ".json") is used as it is, a
 * bare NAME becomes configs/workloads/NAME.json. Writes the path into out.
 */
void bench_workload_path(const char *arg, char *out, size_t outlen);

/* Parses JSON text (`file` names it in messages) into w, starting from the defaults.
 * Returns 0, or -EINVAL with "FILE: .path: expected ..., got ..." in err. */
int bench_workload_parse(const char *file, const char *text, struct bench_workload *w, char *err,
			 size_t errlen);
/* Reads and parses a file; -errno with "FILE: <why>" in err when it cannot be read. */
int bench_workload_load(const char *path, struct bench_workload *w, char *err, size_t errlen);

/* Checks the effective workload (after overrides): a model is named, counts are sane, the stop
 * rule's max_reps >= reps, a type sweep has a synthetic model. 0 or -EINVAL with a message. */
int bench_workload_check(const struct bench_workload *w, char *err, size_t errlen);

/*
 * The prompt a workload without prompt text feeds the model: n token ids below vocab_size drawn
 * from seed, with bos first when bos >= 0. The built-in engine and the HTTP adapter's
 * --prompt-format ids both use it, so both send the same ids.
 */
void bench_workload_prompt_ids(uint64_t seed, int n, int vocab_size, int32_t bos, int32_t *out);

/* The effective workload as the result's `workload` object (caller owns it). */
struct cJSON;
struct cJSON *bench_workload_json(const struct bench_workload *w);

#endif
