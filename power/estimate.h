/*
 * power/estimate.h — private to power/: the CPU power model behind the `estimate` backend, split
 * out so tests can check it against hand-computed values.
 *
 * Model: P(t) = idle_w * share + per_cpu_w * busy(t), where busy(t) is the number of this
 * process's busy hardware threads, per_cpu_w = (tdp_w - idle_w) / threads, and share =
 * min(1, online CPUs / threads) charges a VM only its slice of the host CPU's idle power. Over a
 * run: E = idle_w * share * elapsed_s + per_cpu_w * process_cpu_s. At every thread busy on a
 * bare-metal machine this gives the TDP.
 */
#ifndef JB_POWER_ESTIMATE_H
#define JB_POWER_ESTIMATE_H

#include "power/power.h"

/* The share of TDP assumed to be drawn at idle when neither the table nor the user gives an
 * idle power. An assumption of the model, stated in every estimate's `model` text. */
#define PWR_DEFAULT_IDLE_FRACTION 0.10

/* One row of a configs/hardware/NAME.json table. */
struct pwr_cpu_entry {
	char match[64];      /* matched as a whole word, case-insensitively, in the CPU name */
	char name[96];       /* the full marketing name */
	double tdp_w;        /* vendor TDP / base power */
	double idle_w;       /* 0 = idle_fraction * tdp_w */
	double idle_fraction;/* the file's assumption (0 = PWR_DEFAULT_IDLE_FRACTION) */
	int cores, threads;
	char source[200];    /* where tdp_w comes from */
	char file[128];      /* the JSON file it came from */
};

/* Loads one table file and appends its rows to *v (count *n, capacity handled inside; caller
 * frees *v). Returns 0, or -errno / -EINVAL with "FILE: what is wrong" in err. */
int pwr_hwdb_load(const char *path, struct pwr_cpu_entry **v, int *n, char *err, size_t errlen);

/* Index of the best (longest) whole-word match of any row in `cpu_name`, or -1. */
int pwr_hwdb_match(const struct pwr_cpu_entry *v, int n, const char *cpu_name);

/* Loads every configs/hardware/NAME.json under dir (sorted by name). */
int pwr_hwdb_load_dir(const char *dir, struct pwr_cpu_entry **v, int *n, char *err, size_t errlen);

struct pwr_estimate_model {
	double tdp_w, idle_w, per_cpu_w, idle_share;
	int threads, online_cpus;
	bool idle_given;   /* idle power from the user or a table row, not a fraction of TDP */
	char text[320]; /* the `model` string: formula and inputs */
	/* the range (pwr_estimate_range): [0] low, [1] high; has_range false without one */
	bool has_range;
	double idle_lh_w[2], full_lh_w[2], per_cpu_lh_w[2];
	char range_text[320];
	char range_sets[128]; /* "default,teads-boavizta,ccf-specpower" */
};

/*
 * Published idle and full-load powers as fractions of TDP (configs/hardware/ranges/
 * tdp-fractions.json): the lowest and highest over every set in the file, and the sets' ids.
 */
struct pwr_tdp_fractions {
	double idle[2], full[2]; /* [0] low, [1] high */
	char sets[96];           /* comma-separated ids */
};

/* Loads the fractions file. 0, or -errno / -EINVAL with "FILE: field: what is wrong" in err. */
int pwr_tdp_fractions_load(const char *path, struct pwr_tdp_fractions *f, char *err, size_t errlen);

/*
 * The range of a built model: idle and full-load power at the lowest and highest of the
 * model's own values (idle_w, the TDP) and the fractions' (an idle power that was given, not
 * assumed, stays as given); per busy CPU at the corners, (full low - idle high) / threads and
 * (full high - idle low) / threads, so that net figures (idle subtracted) are bounded as well as
 * gross ones. Fills has_range, the _lh_ fields, range_text and range_sets.
 */
void pwr_estimate_range(struct pwr_estimate_model *m, const struct pwr_tdp_fractions *f);

/* The model's energy with its low (which 0) or high (1) idle and full-load power; never above
 * (low) or below (high) pwr_estimate_energy_j. */
double pwr_estimate_bound_j(const struct pwr_estimate_model *m, int which, double elapsed_s,
			    double cpu_s);

/* The configs/hardware file a row for cpu_name belongs in ("amd-epyc.json" for "AMD EPYC"), or
 * "<vendor>.json (a new file)" when no shipped file fits. Never NULL; a static string. */
const char *pwr_hwdb_file_for(const char *cpu_name);

/*
 * Builds the model from a table row (NULL if the CPU is not in the table) and the user's
 * overrides in o (tdp_w, idle_w, cpu_threads). online_cpus is what this OS sees. Returns 0, or
 * -ENOENT with "CPU '<name>' is not in configs/hardware, so nothing is estimated: pass
 * --tdp-w W ... or add the CPU to configs/hardware/<file>" in err when neither gives a TDP, -EINVAL for impossible values.
 */
int pwr_estimate_build(const char *cpu_name, const struct pwr_cpu_entry *row, const struct pwr_opts *o,
		       int online_cpus, struct pwr_estimate_model *m, char *err, size_t errlen);

/* E = idle_w * share * elapsed_s + per_cpu_w * cpu_s, in joules. */
double pwr_estimate_energy_j(const struct pwr_estimate_model *m, double elapsed_s, double cpu_s);

/* The CPU's name as this OS reports it (model name, or the board model on ARM), read from
 * ROOT/proc/cpuinfo and ROOT/proc/device-tree/model; "" if none. */
void pwr_estimate_cpu_name(const char *root, char *name, size_t len, char *alt, size_t alt_len);

#endif
