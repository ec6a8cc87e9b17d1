/*
 * power/power.h — energy probes, the sampling thread and hardware counters.
 *
 * Backends (powercap, perf_event power PMU, MSR, PAPI, NVML, battery/hwmon, estimate) sit behind
 * one interface. pwr_open() discovers every backend, keeps the domains that are available and
 * selected, and records for every backend or domain that is not why not, in words a user can act
 * on. A sampler thread then reads the chosen domains at an interval and keeps every sample with
 * its CLOCK_MONOTONIC timestamp, so callers can integrate any window [t0, t1].
 *
 * Energy is kept as raw counter values and differenced modulo each counter's range; overlapping
 * domains (package ⊇ core + uncore; psys broadest; dram separate) are never summed. Nothing here
 * knows about the engine or the runner. Functions return 0 / negative errno and leave a message
 * in the caller's `err` buffer.
 */
#ifndef JB_POWER_H
#define JB_POWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Finds joulebench's shipped data (rel = "configs/hardware", "configs/cloud", "scripts", ...):
 * $JOULEBENCH_DATA/rel, else rel in the working directory, else next to the executable, else
 * <executable's dir>/../share/joulebench/rel (what `make install` lays out), else the data
 * directory compiled in (JB_DATADIR, $(PREFIX)/share/joulebench). 0 with the path in buf, or
 * -ENOENT with buf = rel.
 */
int pwr_data_path(const char *rel, char *buf, size_t len);

/* CLOCK_MONOTONIC in nanoseconds: the one clock of samples, phases and latencies. */
int64_t pwr_now_ns(void);

enum pwr_kind {
	PWR_MEASURED = 0,
	PWR_ESTIMATED = 1,
};

struct pwr_opts {
	const char *sysfs_root;   /* NULL: $JOULEBENCH_SYSFS_ROOT or "/" (sysfs at ROOT/sys) */
	const char *dev_root;     /* NULL: "/" (MSR at ROOT/dev/cpu/N/msr) */
	const char *const *probes; /* NULL-terminated "backend" or "backend:domain"; NULL = auto */
	int interval_ms;          /* sampler interval; 0 = 100 */
	const char *hardware_db;  /* configs/hardware JSON for the estimate model; NULL = default */
	/* Estimate model overrides (0 = from the hardware table): the CPU's TDP in watts, its idle
	 * power in watts, and its number of hardware threads. With tdp_w set, a CPU missing from the
	 * table can still be estimated. */
	double tdp_w;
	double idle_w;
	int cpu_threads;
};

/* One energy domain that can be sampled. */
struct pwr_domain_desc {
	char id[96];          /* "backend:domain", e.g. "powercap:package-0", unique in a set */
	char backend[24];     /* "powercap", "perf", "msr", "papi", "nvml", "battery", "hwmon", "estimate" */
	char domain[64];      /* "package-0", "core", "dram", "psys", "gpu0", "BAT0", ... */
	char covers[160];     /* what it covers, in words ("CPU package 0: cores, caches, uncore") */
	enum pwr_kind kind;
	char model[512];      /* for estimates: the model and its inputs; "" when measured */
	/* for estimates with a range (ID-low / ID-high domains): the coefficient sets the range
	 * spans, comma-separated ("ccf-vcpu,boavizta-vcpu"); "" when it has none */
	char range_sets[128];
	double range_j;       /* counter range before wrap, 0 if it does not wrap / not a counter */
	double resolution_j;  /* smallest step, 0 if unknown */
	char unit[32];        /* what a raw reading counts: "uJ counter", "uW power", ... */
};

/* A backend or domain that could not be used, and why. */
struct pwr_unavailable {
	char what[96];        /* "powercap", "msr", "nvml:gpu0", ... */
	char reason[256];     /* "no RAPL in this VM: /sys/class/powercap has no intel-rapl zones" */
};

struct pwr_set;

int pwr_open(const struct pwr_opts *o, struct pwr_set **out, char *err, size_t errlen);
void pwr_close(struct pwr_set *s);

int pwr_n_domains(const struct pwr_set *s);
const struct pwr_domain_desc *pwr_domain(const struct pwr_set *s, int i);
/* The domain reports should use for "energy of this run": the broadest measured one that does
 * not double count (psys > battery > "<backend>:packages", the derived sum of two or more disjoint
 * package-N domains > a single package), else the estimate; -1 if none (pwr_primary_why says). */
int pwr_primary_domain(const struct pwr_set *s);
/* Why pwr_primary_domain() chose what it chose, or why there is none (never NULL). */
const char *pwr_primary_why(const struct pwr_set *s);
int pwr_n_unavailable(const struct pwr_set *s);
const struct pwr_unavailable *pwr_unavailable(const struct pwr_set *s, int i);

/* Sampler thread: start takes a first sample of every domain immediately. */
int pwr_sampler_start(struct pwr_set *s, char *err, size_t errlen);
/* Takes a last sample and joins the thread. Safe to call twice. */
void pwr_sampler_stop(struct pwr_set *s);
/* Forces one sample now (e.g. at a phase boundary); safe while the sampler runs. */
void pwr_sample_now(struct pwr_set *s);

struct pwr_sample {
	int64_t t_ns;
	double energy_j;  /* cumulative since the first sample, wraps already unfolded */
	uint64_t raw;     /* the backend's raw reading (counter units, or power units) */
};

/* Every sample of domain i so far (a snapshot the caller frees with free()). Returns count. */
size_t pwr_samples(struct pwr_set *s, int i, struct pwr_sample **out);
/* Whether domain i still reads; false after a read failed, with the reason (never NULL). */
bool pwr_domain_valid(struct pwr_set *s, int i, char *reason, size_t len);

struct pwr_energy {
	double energy_j;      /* energy in [t0, t1], interpolated linearly at the window edges */
	double avg_power_w;
	int n_samples;        /* samples inside the window; for a meter, distinct readings only
			       * (a repeated, stale value is not a new sample) */
	bool wrap_suspect;    /* a gap long enough that a whole wrap could have been missed */
	bool valid;           /* false: no samples cover the window (reason in `reason`) */
	bool from_counter;    /* a meter's power domain: taken from its energy counter, whose
			       * resolution was finer than the estimated error of the power integral */
	char reason[128];
};
int pwr_energy_window(struct pwr_set *s, int i, int64_t t0_ns, int64_t t1_ns, struct pwr_energy *e);

/*
 * A probe's own update period. Wall plugs refresh their reading about once a second (or slower)
 * while the sampler may poll faster; the period is the median interval between readings that
 * differ from the one before (a repeated value is the plug's stale reading, not news). With
 * period_s close to poll_s the probe updates at least as often as it is read and the figure is
 * only a bound.
 */
struct pwr_update {
	bool known;        /* false: too few changes to tell (reason says) */
	double period_s;   /* median interval between distinct readings */
	double poll_s;     /* median interval between samples */
	int n_changes;     /* readings that differed from the previous one */
	bool at_poll_rate; /* period_s <= 1.5 x poll_s: it may update faster than it is read */
	char reason[160];
};
/* Fills u for domain i from its samples so far. 0, or -EINVAL for no such domain. */
int pwr_update_period(struct pwr_set *s, int i, struct pwr_update *u);

/* Sampler cost: CPU time spent reading probes per sample, in ns (mean so far), and the count. */
double pwr_sampler_cpu_ns_per_sample(const struct pwr_set *s);
uint64_t pwr_sampler_count(const struct pwr_set *s);
/* The interval the sampler was configured with, in ms. */
int pwr_sampler_interval_ms(const struct pwr_set *s);

/* Every backend compiled in, in registry order (for `joulebench probes`). NULL past the end. */
const char *pwr_backend_name(int i);
const char *pwr_backend_summary(int i);

/* ---- hardware counters ------------------------------------------------------------------- */

#define PWR_MAX_COUNTERS 8

struct pwr_counter_value {
	char name[64];        /* "instructions", "cycles", "INST_RETIRED:ANY", ... */
	bool valid;
	double value;         /* scaled for multiplexing */
	double enabled_ratio; /* time_running / time_enabled; < 1 means multiplexed */
};

struct pwr_counter_read {
	int n;
	struct pwr_counter_value v[PWR_MAX_COUNTERS];
};

struct pwr_counters;
/*
 * Opens counters for the calling thread and every thread it creates afterwards (inherit):
 * open them before starting worker threads; threads that already exist are not counted.
 * User-space only. `events` NULL = the defaults "instructions", "cycles", "llc-misses",
 * "branch-misses" (PAPI presets if PAPI's perf_event component works, else perf_event), or up
 * to PWR_MAX_COUNTERS names: generic ones, or any libpfm4 name ("INST_RETIRED:ANY"). Returns 0,
 * or -errno with the reason in err (e.g. "no hardware counters in this VM:
 * perf_event_open(PERF_COUNT_HW_INSTRUCTIONS) failed with ENOENT; ..."); -EINVAL for an
 * unknown event name.
 */
int pwr_counters_open(const char *const *events, int n_events, struct pwr_counters **out, char *err,
		      size_t errlen);
void pwr_counters_close(struct pwr_counters *c);
/* Read the running totals; callers difference two reads for a region. */
int pwr_counters_read(struct pwr_counters *c, struct pwr_counter_read *r);
/* Which layer supplies them: "papi", "perf_event". */
const char *pwr_counters_source(const struct pwr_counters *c);

#endif
