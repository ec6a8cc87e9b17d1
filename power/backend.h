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
};

/* Joins "<root>/<rel>" into buf (root "" or "/" gives "/<rel>"). Returns buf. */
char *pwr_path(char *buf, size_t len, const char *root, const char *rel);

/*
 * Unfolds counter readings: given the previous and current raw values of a counter with range
 * `range` (0 = 2^64), returns the increase assuming at most one wrap. The sampler keeps reads
 * closer together than one wrap period; pwr_wrap_period_s() says how close that must be.
 */
uint64_t pwr_counter_delta(uint64_t prev, uint64_t cur, uint64_t range);

#endif
