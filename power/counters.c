/*
 * power/counters.c — hardware event counters for the calling process and every thread it
 * starts afterwards.
 *
 * Two layers, chosen at open:
 *  - PAPI, when it was built in and its perf_event component works: the presets PAPI_TOT_INS,
 *    PAPI_TOT_CYC, PAPI_L3_TCM (else PAPI_L2_TCM is NOT substituted: LLC misses are then
 *    reported invalid) and PAPI_BR_MSP, or any PAPI/native names the caller gives, with
 *    PAPI_INHERIT_ALL. PAPI is used only when every event fits on the hardware at once (no
 *    multiplexing), so its enabled_ratio is 1 by construction.
 *  - perf_event directly otherwise: generic events via PERF_TYPE_HARDWARE / HW_CACHE, and any
 *    other name ("INST_RETIRED:ANY", "amd64_fam19h_zen3::RETIRED_INSTRUCTIONS") encoded by
 *    libpfm4 (pfm_get_os_event_encoding, PFM_OS_PERF_EVENT_EXT). Each event is its own fd with
 *    read_format TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING, so when the kernel multiplexes, the
 *    value is scaled by enabled/running and enabled_ratio says by how much.
 *
 * Threads: every fd is opened with inherit = 1 on the calling thread (pid 0, any CPU). The kernel
 * then counts each thread created after the open, and reading the parent fd sums the live
 * threads and the ones that have exited. Threads that already exist when pwr_counters_open()
 * runs are NOT counted, so callers open counters before starting their worker threads. Counting
 * is user-space only (exclude_kernel), which works under perf_event_paranoid 2.
 */
#include "power/backend.h"
#include "power/hw_util.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef JB_HAVE_PFM
#include <perfmon/pfmlib_perf_event.h>
#endif
#ifdef JB_HAVE_PAPI
#include <papi.h>
#endif

struct pwr_counters {
	const char *source; /* "papi" or "perf_event" */
	int n;
	char names[PWR_MAX_COUNTERS][64];
	int fds[PWR_MAX_COUNTERS];       /* perf_event: -1 for an event that could not be opened */
	int papi_set;                    /* PAPI event set, or -1 */
	int papi_slot[PWR_MAX_COUNTERS]; /* PAPI: index in the event set, -1 if not added */
	int papi_n;
};

/* ---- raw perf_event access (injectable for tests) ---- */

static int real_open(void *attr, int cpu)
{
	long fd = syscall(SYS_perf_event_open, attr, 0, cpu, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

static ssize_t real_read(int fd, void *buf, size_t n)
{
	return read(fd, buf, n);
}

static const struct pwr_perf_ops real_ops = {real_open, real_read, close};
static const struct pwr_perf_ops *ops = &real_ops;

void pwr_counters_set_ops(const struct pwr_perf_ops *o)
{
	ops = o ? o : &real_ops;
}

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* The four defaults, under the names results carry whatever layer measures them. */
static const char *const default_names[] = {"instructions", "cycles", "llc-misses",
                                            "branch-misses"};
#define N_DEFAULTS 4

/* Generic names perf knows without libpfm4. */
static const struct {
	const char *name;
	uint32_t type;
	uint64_t config;
	const char *kernel_name; /* for messages */
} generic[] = {
    {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, "PERF_COUNT_HW_INSTRUCTIONS"},
    {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, "PERF_COUNT_HW_CPU_CYCLES"},
    {"llc-misses", PERF_TYPE_HW_CACHE,
     PERF_COUNT_HW_CACHE_LL | (PERF_COUNT_HW_CACHE_OP_READ << 8) |
         (PERF_COUNT_HW_CACHE_RESULT_MISS << 16),
     "PERF_COUNT_HW_CACHE_LL:READ:MISS"},
    {"cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES, "PERF_COUNT_HW_CACHE_MISSES"},
    {"branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES,
     "PERF_COUNT_HW_BRANCH_MISSES"},
    {"branches", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
     "PERF_COUNT_HW_BRANCH_INSTRUCTIONS"},
};

#ifdef JB_HAVE_PFM
static pthread_once_t pfm_once = PTHREAD_ONCE_INIT;
static int pfm_status = PFM_ERR_NOINIT;

static void pfm_init_once(void)
{
	pfm_status = pfm_initialize();
}
#endif

int pwr_counters_encode(const char *name, void *attr_out, char *err, size_t errlen)
{
	struct perf_event_attr *attr = attr_out;

	memset(attr, 0, sizeof *attr);
	for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
		if (!strcmp(name, generic[i].name)) {
			attr->type = generic[i].type;
			attr->config = generic[i].config;
			return 0;
		}
#ifdef JB_HAVE_PFM
	pfm_perf_encode_arg_t arg;
	int rc;

	pthread_once(&pfm_once, pfm_init_once);
	if (pfm_status != PFM_SUCCESS) {
		set_err(err, errlen,
		        "libpfm4 could not initialise (%s), so event '%s' cannot be encoded",
		        pfm_strerror(pfm_status), name);
		return -ENOSYS;
	}
	memset(&arg, 0, sizeof arg);
	arg.attr = attr;
	arg.size = sizeof arg;
	rc = pfm_get_os_event_encoding(name, PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg);
	if (rc != PFM_SUCCESS) {
		set_err(err, errlen,
		        "unknown event '%s': libpfm4 says \"%s\" for this CPU (list names with "
		        "`perf list` "
		        "or libpfm4's showevtinfo)",
		        name, pfm_strerror(rc));
		return -EINVAL;
	}
	free(arg.fstr);
	return 0;
#else
	set_err(err, errlen,
	        "event '%s' needs libpfm4 to be encoded (built without it); generic names: "
	        "instructions, "
	        "cycles, llc-misses, cache-misses, branch-misses, branches",
	        name);
	return -ENOSYS;
#endif
}

static const char *kernel_name(const char *name)
{
	for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
		if (!strcmp(name, generic[i].name))
			return generic[i].kernel_name;
	return name;
}

static bool in_vm(void)
{
	char line[2048];
	bool vm = false;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return false;
	while (!vm && fgets(line, sizeof line, f))
		if (!strncmp(line, "flags", 5))
			vm = strstr(line, " hypervisor") != NULL;
	fclose(f);
	return vm;
}

static int paranoid_level(void)
{
	int64_t v;

	return pwr_hw_read_i64("/proc/sys/kernel/perf_event_paranoid", &v) == 0 ? (int)v : 99;
}

/* The reason a perf_event_open of `name` failed with `e` (-errno), in words a user can act on. */
static void explain_open(const char *name, int e, char *err, size_t errlen)
{
	const char *k = kernel_name(name);

	if (e == -ENOENT || e == -EOPNOTSUPP || e == -ENODEV) {
		if (in_vm())
			set_err(err, errlen,
			        "no hardware counters in this VM: perf_event_open(%s) failed with "
			        "%s; the "
			        "hypervisor does not expose a PMU",
			        k, strerrorname_np(-e));
		else
			set_err(err, errlen,
			        "no hardware counter for %s on this CPU/kernel: perf_event_open "
			        "failed with "
			        "%s",
			        k, strerrorname_np(-e));
	} else if (e == -EACCES || e == -EPERM) {
		set_err(err, errlen,
		        "perf_event_open(%s) denied (%s): perf_event_paranoid is %d; counting this "
		        "process needs <= 2 or CAP_PERFMON",
		        k, strerrorname_np(-e), paranoid_level());
	} else if (e == -EMFILE || e == -ENFILE) {
		set_err(err, errlen, "perf_event_open(%s): out of file descriptors (%s)", k,
		        strerrorname_np(-e));
	} else {
		set_err(err, errlen, "perf_event_open(%s) failed: %s", k, pwr_hw_errstr(e));
	}
}

static void counters_free(struct pwr_counters *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		if (c->fds[i] >= 0)
			ops->close(c->fds[i]);
#ifdef JB_HAVE_PAPI
	if (c->papi_set != -1) {
		long long dummy[PWR_MAX_COUNTERS];

		PAPI_stop(c->papi_set, dummy);
		PAPI_cleanup_eventset(c->papi_set);
		PAPI_destroy_eventset(&c->papi_set);
	}
#endif
	free(c);
}

/*
 * perf_event layer. With defaults, instructions and cycles must open; llc-misses falls back to
 * cache-misses, and a missing llc/branch event is kept as invalid. With explicit names every
 * event must open.
 */
static int open_perf(struct pwr_counters *c, bool defaults, char *err, size_t errlen)
{
	for (int i = 0; i < c->n; i++) {
		struct perf_event_attr attr;
		int rc = pwr_counters_encode(c->names[i], &attr, err, errlen);

		if (rc < 0)
			return rc;
		attr.size = sizeof attr;
		attr.inherit = 1;
		attr.exclude_kernel = 1;
		attr.exclude_hv = 1;
		attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
		c->fds[i] = ops->perf_open(&attr, -1);
		if (c->fds[i] < 0 && defaults && !strcmp(c->names[i], "llc-misses")) {
			attr.type = PERF_TYPE_HARDWARE;
			attr.config = PERF_COUNT_HW_CACHE_MISSES;
			c->fds[i] = ops->perf_open(&attr, -1);
		}
		if (c->fds[i] < 0) {
			int e = c->fds[i];

			c->fds[i] = -1;
			if (defaults && i >= 2 && (e == -ENOENT || e == -EOPNOTSUPP))
				continue; /* optional default: reported as invalid */
			explain_open(c->names[i], e, err, errlen);
			return e;
		}
	}
	c->source = "perf_event";
	return 0;
}

#ifdef JB_HAVE_PAPI
static pthread_once_t papi_once = PTHREAD_ONCE_INIT;
static int papi_cid = -1;
static char papi_why[200];

static unsigned long papi_thread_id(void)
{
	return (unsigned long)pthread_self();
}

static void papi_init_once(void)
{
	const PAPI_component_info_t *ci;
	int rc = PAPI_library_init(PAPI_VER_CURRENT);

	if (rc != PAPI_VER_CURRENT) {
		snprintf(papi_why, sizeof papi_why, "PAPI_library_init failed: %s",
		         rc > 0 ? "version mismatch" : PAPI_strerror(rc));
		return;
	}
	PAPI_thread_init(papi_thread_id);
	papi_cid = PAPI_get_component_index("perf_event");
	ci = papi_cid >= 0 ? PAPI_get_component_info(papi_cid) : NULL;
	if (!ci) {
		snprintf(papi_why, sizeof papi_why, "PAPI has no perf_event component");
		papi_cid = -1;
	} else if (ci->disabled) {
		snprintf(papi_why, sizeof papi_why, "PAPI perf_event component disabled: %.150s",
		         ci->disabled_reason);
		papi_cid = -1;
	}
}

static const char *const papi_presets[N_DEFAULTS] = {"PAPI_TOT_INS", "PAPI_TOT_CYC", "PAPI_L3_TCM",
                                                     "PAPI_BR_MSP"};

/* PAPI layer: 0 when every required event is in a running event set; else -1 (try perf). */
static int open_papi(struct pwr_counters *c, bool defaults)
{
	PAPI_option_t opt;
	int es = PAPI_NULL;

	pthread_once(&papi_once, papi_init_once);
	if (papi_cid < 0)
		return -1;
	if (PAPI_create_eventset(&es) != PAPI_OK)
		return -1;
	c->papi_set = es;
	if (PAPI_assign_eventset_component(es, papi_cid) != PAPI_OK)
		return -1;
	memset(&opt, 0, sizeof opt);
	opt.inherit.eventset = es;
	opt.inherit.inherit = PAPI_INHERIT_ALL;
	if (PAPI_set_opt(PAPI_INHERIT, &opt) != PAPI_OK) {
		snprintf(papi_why, sizeof papi_why, "PAPI cannot inherit counters to threads");
		return -1;
	}
	c->papi_n = 0;
	for (int i = 0; i < c->n; i++) {
		const char *pname = defaults ? papi_presets[i] : c->names[i];
		int code;

		c->papi_slot[i] = -1;
		if (PAPI_event_name_to_code(pname, &code) != PAPI_OK ||
		    PAPI_add_event(es, code) != PAPI_OK) {
			if (defaults && i >= 2)
				continue; /* reported invalid */
			return -1;
		}
		c->papi_slot[i] = c->papi_n++;
	}
	if (PAPI_start(es) != PAPI_OK)
		return -1;
	/* One read to prove the set counts (else fall back to perf_event, which explains why). */
	{
		long long probe[PWR_MAX_COUNTERS];

		if (PAPI_read(es, probe) != PAPI_OK) {
			PAPI_stop(es, probe);
			return -1;
		}
	}
	c->source = "papi";
	return 0;
}

static void papi_discard(struct pwr_counters *c)
{
	if (c->papi_set != -1) {
		PAPI_cleanup_eventset(c->papi_set);
		PAPI_destroy_eventset(&c->papi_set);
		c->papi_set = -1;
	}
}
#endif

int pwr_counters_open(const char *const *events, int n_events, struct pwr_counters **out, char *err,
                      size_t errlen)
{
	struct pwr_counters *c;
	bool defaults = !events || n_events <= 0;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (n_events > PWR_MAX_COUNTERS) {
		set_err(err, errlen, "%d events requested; at most %d", n_events, PWR_MAX_COUNTERS);
		return -EINVAL;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->papi_set = -1;
	c->n = defaults ? N_DEFAULTS : n_events;
	for (int i = 0; i < c->n; i++) {
		const char *nm = defaults ? default_names[i] : events[i];

		c->fds[i] = -1;
		if (!nm || !*nm || strlen(nm) >= sizeof c->names[i]) {
			set_err(err, errlen, "event name %d is empty or longer than %zu characters",
			        i + 1, sizeof c->names[i] - 1);
			free(c);
			return -EINVAL;
		}
		snprintf(c->names[i], sizeof c->names[i], "%s", nm);
	}
#ifdef JB_HAVE_PAPI
	if (ops == &real_ops && !getenv("JOULEBENCH_NO_PAPI")) {
		if (open_papi(c, defaults) == 0) {
			*out = c;
			return 0;
		}
		papi_discard(c);
	}
#endif
	rc = open_perf(c, defaults, err, errlen);
	if (rc < 0) {
#ifdef JB_HAVE_PAPI
		if (papi_why[0] && err && errlen) {
			size_t used = strlen(err);

			snprintf(err + used, errlen - used, " (%s)", papi_why);
		}
#endif
		counters_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void pwr_counters_close(struct pwr_counters *c)
{
	counters_free(c);
}

int pwr_counters_read(struct pwr_counters *c, struct pwr_counter_read *r)
{
	if (!c || !r)
		return -EINVAL;
	memset(r, 0, sizeof *r);
	r->n = c->n;
	for (int i = 0; i < c->n; i++)
		snprintf(r->v[i].name, sizeof r->v[i].name, "%s", c->names[i]);
#ifdef JB_HAVE_PAPI
	if (c->papi_set != -1) {
		long long vals[PWR_MAX_COUNTERS];

		if (PAPI_read(c->papi_set, vals) != PAPI_OK)
			return -EIO;
		for (int i = 0; i < c->n; i++) {
			if (c->papi_slot[i] < 0)
				continue;
			r->v[i].valid = true;
			r->v[i].value = (double)vals[c->papi_slot[i]];
			/* not multiplexed: PAPI's perf_event component checks at PAPI_start that
			 * the whole group is scheduled on the hardware (else PAPI_ECNFLCT, and we
			 * use the perf_event layer instead) */
			r->v[i].enabled_ratio = 1.0;
		}
		return 0;
	}
#endif
	for (int i = 0; i < c->n; i++) {
		uint64_t rf[3]; /* value, time_enabled, time_running */
		ssize_t n;

		if (c->fds[i] < 0)
			continue;
		n = ops->read(c->fds[i], rf, sizeof rf);
		if (n < 0)
			return -errno;
		if (n != (ssize_t)sizeof rf)
			return -EIO;
		if (rf[2] == 0) {
			/* never scheduled on a counter: no figure (not zero) */
			r->v[i].valid = false;
			r->v[i].enabled_ratio = 0;
			continue;
		}
		r->v[i].valid = true;
		r->v[i].enabled_ratio = rf[1] ? (double)rf[2] / (double)rf[1] : 1.0;
		r->v[i].value =
		    rf[2] < rf[1] ? (double)rf[0] * ((double)rf[1] / (double)rf[2]) : (double)rf[0];
	}
	return 0;
}

const char *pwr_counters_source(const struct pwr_counters *c)
{
	return c ? c->source : NULL;
}
