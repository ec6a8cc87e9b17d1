/*
 * power/backend.h — private to power/: the interface every probe backend implements.
 *
 * A backend is a `const struct pwr_backend` table in its own file (powercap.c, perf_power.c,
 * msr.c, papi_energy.c, nvml.c, battery.c, hwmon.c, estimate.c). At pwr_open() each backend's
 * discover() adds the domains it can read, or records why it cannot run, and the sampler then
 * calls read() on each domain. Backends never sum or convert across domains: they hand back raw
 * values; the sampler differences counters modulo their range and converts to joules once.
 */
#ifndef JB_POWER_BACKEND_H
#define JB_POWER_BACKEND_H

#include "power/power.h"

#include <sys/types.h>

/* How a domain's raw reading is to be interpreted. */
enum pwr_value_kind {
	PWR_VALUE_COUNTER = 0, /* monotonically increasing energy counter, wraps at range_raw */
	PWR_VALUE_POWER = 1,   /* instantaneous power; the sampler integrates (trapezoid) */
};

struct pwr_dom {
	struct pwr_domain_desc desc;
	enum pwr_value_kind value_kind;
	uint64_t range_raw;     /* COUNTER: counter wraps modulo this (0 = 2^64) */
	double joules_per_unit; /* COUNTER: raw unit in joules (1e-6 for energy_uj) */
	double watts_per_unit;  /* POWER: raw unit in watts (1e-6 for power_now in µW) */
	const struct pwr_backend *backend;
	void *priv;             /* backend's own state (fd, path, ...) */
	bool not_primary;       /* a bound of another domain's range (vm:process-low), or a second
				 * view of a meter: never the figure that stands for the run */
	/* POWER domains of a meter that also keeps an energy counter: that counter's domain. A window
	 * uses the counter when its resolution is finer than the error of the power integral. */
	const struct pwr_dom *counter;
	/* A meter that refreshes its reading slower than it may be polled: a reading equal to the
	 * previous one is stale. COUNTER domains spread the energy between two distinct readings
	 * over the time between them (not all into the last poll); windows count distinct
	 * readings only. */
	bool stale_repeats;
	/* Set by a backend's read when its value belongs to an instant it chose (a model's domain and
	 * its bounds computed from one shared sample, see pwr_shared_sample); 0: the sampler stamps
	 * the reading with the middle of the read call. */
	int64_t sample_t_ns;
};

/* What discover() works with: where to look, and where to put what it finds. */
struct pwr_discover {
	const char *sysfs_root;  /* already resolved; "" or "/" means the real root */
	const char *dev_root;
	const char *hardware_db;
	/* Adds a domain (copied); returns the stored one so the backend can set priv, or NULL. */
	struct pwr_dom *(*add)(struct pwr_discover *d, const struct pwr_dom *dom);
	/* Records why `what` cannot be used. */
	void (*unavailable)(struct pwr_discover *d, const char *what, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	void *set;               /* the pwr_set being built (opaque to backends) */
	const struct pwr_opts *opts; /* the caller's options (estimate overrides); never NULL */
};

struct pwr_backend {
	const char *name;        /* "powercap", "perf", "msr", "papi", "nvml", "battery", "hwmon", "estimate" */
	const char *summary;     /* one line for `joulebench probes` */
	/* Finds domains; returns 0 even when it finds none (having recorded why), -errno only on
	 * an internal error such as out of memory. */
	int (*discover)(struct pwr_discover *d);
	/* Reads one domain's raw value (counter units or power units). 0 or -errno; never a fake 0. */
	int (*read)(struct pwr_dom *dom, uint64_t *raw);
	/* Frees dom->priv. May be NULL. */
	void (*close)(struct pwr_dom *dom);
	/* Optional: writes into buf why read() failed with `err` (-errno), in words a user can act
	 * on. NULL: the sampler writes "<id>: read failed: <errno text>". */
	void (*explain)(struct pwr_dom *dom, int err, char *buf, size_t len);
	/* Read failures are temporary (a meter on the network that stalls or answers garbage): the
	 * sampler records a gap with the reason and carries on; windows that touch a gap have no
	 * energy. false: a failed read ends the domain. */
	bool transient;
	/* The probe's ":DOMAIN" part names what to open ("shelly:HOST:PORT", "exec:CMD"), not one of
	 * the domains found: discover() reads it from opts->probes and every domain it adds is kept. */
	bool target_probe;
	/* Whole-system meters (a wall plug): their domains stand for the run before psys. */
	bool wall;
};

/* Backends owned by the probe core (powercap.c, estimate.c). */
extern const struct pwr_backend pwr_backend_powercap;
extern const struct pwr_backend pwr_backend_estimate;
/* vm.c: the CCF per-vCPU model for VMs and CI runners (vm.h). */
extern const struct pwr_backend pwr_backend_vm;

/*
 * Test hook: the file access of the powercap backend, so tests can inject permission errors
 * (tests run as root, where chmod 000 does not deny reads) and serialise reads with a fake
 * writer. open returns an fd or -errno; pread returns bytes or -errno. NULL restores the real
 * system calls.
 */
struct pwr_powercap_io {
	int (*open)(const char *path);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
};
void pwr_powercap_set_io(const struct pwr_powercap_io *io);

/* snprintf for messages and paths: cuts what does not fit (never overflows, never warns). */
void pwr_strf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Joins "<root>/<rel>" into buf (root "" or "/" gives "/<rel>"). Returns buf. */
char *pwr_path(char *buf, size_t len, const char *root, const char *rel);

/*
 * Unfolds counter readings: given the previous and current raw values of a counter with range
 * `range` (0 = 2^64), returns the increase assuming at most one wrap. The sampler keeps reads
 * closer together than one wrap period (see sampler.c).
 */
uint64_t pwr_counter_delta(uint64_t prev, uint64_t cur, uint64_t range);

/*
 * One sample of (time, this process's CPU seconds) shared by an estimated domain and the bounds
 * of its range. Read one by one, each would see the process's CPU time a few microseconds later;
 * while the process keeps several CPUs busy the three figures then disagree by more than the
 * bounds differ where the coefficient sets agree, and a range can come out inverted. Each domain
 * keeps `seen`, the last sample it used: a domain that has used the current sample takes a new
 * one, the others use the current one. So in every sampling round the first of them to be read
 * takes the sample and the rest reuse it, whichever of them are open.
 */
struct pwr_shared_sample {
	int refs; /* domains holding it; the last to close frees it */
	uint64_t seq;
	int64_t t_ns;
	double cpu_s;
	int rc; /* the sample's read error, or 0 */
};

/* Returns sh's sample for a domain that last used sample *seen, taking a new one with
 * cpu(ctx, &seconds) when needed; sets *t_ns and *cpu_s, and returns 0 or the read's -errno. */
int pwr_shared_sample(struct pwr_shared_sample *sh, uint64_t *seen, int (*cpu)(const void *ctx, double *s),
		      const void *ctx, int64_t *t_ns, double *cpu_s);

/* ---- hardware probe backends (perf_power.c, msr.c, papi_energy.c, nvml.c, battery.c, hwmon.c) */

extern const struct pwr_backend pwr_backend_perf;
extern const struct pwr_backend pwr_backend_msr;
extern const struct pwr_backend pwr_backend_papi;
extern const struct pwr_backend pwr_backend_nvml;
extern const struct pwr_backend pwr_backend_battery;
extern const struct pwr_backend pwr_backend_hwmon;

/* ---- external meters (meter.c): wall plugs over HTTP and any command that prints watts ------ */

extern const struct pwr_backend pwr_backend_shelly;
extern const struct pwr_backend pwr_backend_tasmota;
extern const struct pwr_backend pwr_backend_exec;

/*
 * Test hooks: the raw-access layer of the perf and MSR backends, so tests drive them with fake
 * counter values on machines without the hardware. NULL restores the real system calls.
 * perf_open gets a perf_event_attr (as void *) and a CPU, and returns an fd or -errno.
 */
struct pwr_perf_ops {
	int (*perf_open)(void *attr, int cpu);
	ssize_t (*read)(int fd, void *buf, size_t n);
	int (*close)(int fd);
};
void pwr_perf_set_ops(const struct pwr_perf_ops *ops);
typedef ssize_t (*pwr_pread_fn)(int fd, void *buf, size_t n, off_t off);
void pwr_msr_set_pread(pwr_pread_fn fn);
/* open(path, flags) for /dev/cpu/N/msr, returning an fd or -1 with errno (tests fake EACCES). */
typedef int (*pwr_open_fn)(const char *path, int flags);
void pwr_msr_set_open(pwr_open_fn fn);
/* counters.c: perf_open(attr, -1) counts the calling thread and its future threads. Replacing
 * the ops also skips PAPI, so tests exercise the perf_event layer with fake counts. */
void pwr_counters_set_ops(const struct pwr_perf_ops *ops);
/* counters.c: encodes an event name ("instructions", "INST_RETIRED:ANY") into the struct
 * perf_event_attr at attr (type and config fields), via libpfm4 for non-generic names.
 * 0, or -EINVAL (unknown name) / -ENOSYS (no libpfm4) with the reason in err. */
int pwr_counters_encode(const char *name, void *attr, char *err, size_t errlen);
/* papi_energy.c: whether PAPI native event `event` of `component` ("powercap", "rapl",
 * "perf_event_uncore") is an energy counter, and if so its domain, coverage and unit. */
bool pwr_papi_classify(const char *component, const char *event, char *domain, size_t dlen,
		       char *covers, size_t clen, double *joules_per_unit);

#endif
