/*
 * bench/cmd_probes.c — `joulebench probes`: every energy backend and domain, available or not and
 * why not, with units, counter range, what each covers, a live reading over --seconds for those
 * that work, the primary source and why, the hardware counters, and the sampler's own cost.
 */
#include "bench/cli.h"
#include "bench/commands.h"
#include "power/power.h"

#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_PROBES 32

static void usage(FILE *f)
{
	fprintf(f, "Usage: joulebench probes [OPTIONS]\n\n"
		   "Lists every energy probe backend and domain: available or not (and why not), units,\n"
		   "counter range, what it covers, and a live reading for those that work; then the\n"
		   "primary energy source, the hardware counters and the sampler's cost per sample.\n\n"
		   "Options:\n"
		   "  --json               machine-readable output on stdout\n"
		   "  --seconds S          length of the live reading (default 1; 0 = none; at most 60)\n"
		   "  --probe LIST         only these probes: BACKEND or BACKEND:DOMAIN, comma-separated\n"
		   "                       (e.g. powercap:package-0,estimate); repeatable. Meters are named:\n"
		   "                       shelly:HOST[:PORT], tasmota:HOST[:PORT], exec:CMD (prints 'W <watts>'\n"
		   "                       or 'J <joules>'; takes the rest of the value, commas included).\n"
		   "                       A Shelly with authentication: its password in\n"
		   "                       $JOULEBENCH_SHELLY_PASSWORD (never on the command line)\n"
		   "  --sysfs-root DIR     read sysfs and /proc under DIR (default $JOULEBENCH_SYSFS_ROOT or /)\n"
		   "  --dev-root DIR       read /dev/cpu/N/msr under DIR (default /)\n"
		   "  --interval-ms N      sampling interval for the live reading (default 100)\n"
		   "  --tdp-w W            CPU TDP for the estimate model (for CPUs not in configs/hardware)\n"
		   "  --idle-w W           CPU idle power for the estimate model\n"
		   "  --cpu-threads N      hardware threads of the CPU for the estimate model\n"
		   "  --hardware-db FILE   extra CPU table (JSON, configs/hardware format; default\n"
		   "                       $JOULEBENCH_HARDWARE_DB), searched before configs/hardware\n");
}

/* The backend a `what` of the unavailable list belongs to: the text before the first ':'. */
static bool belongs_to(const char *what, const char *backend)
{
	size_t n = strlen(backend);

	return !strncmp(what, backend, n) && (what[n] == '\0' || what[n] == ':');
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

struct live {
	bool have;
	double energy_j, power_w, seconds;
	int samples;
	bool wrap_suspect;
	char reason[256];
	struct pwr_update update; /* the probe's own update period over the live reading */
};

static void live_reading(struct pwr_set *s, int i, struct live *l)
{
	struct pwr_sample *v = NULL;
	struct pwr_energy e;
	size_t n = pwr_samples(s, i, &v);
	char why[256];

	memset(l, 0, sizeof *l);
	if (!pwr_domain_valid(s, i, why, sizeof why)) {
		snprintf(l->reason, sizeof l->reason, "read failed: %.230s", why);
	} else if (n < 2) {
		snprintf(l->reason, sizeof l->reason, "fewer than two samples");
	} else if (pwr_energy_window(s, i, v[0].t_ns, v[n - 1].t_ns, &e) == 0 && e.valid) {
		l->have = true;
		l->energy_j = e.energy_j;
		l->power_w = e.avg_power_w;
		l->seconds = (double)(v[n - 1].t_ns - v[0].t_ns) / 1e9;
		l->samples = (int)n;
		l->wrap_suspect = e.wrap_suspect;
		pwr_update_period(s, i, &l->update);
	} else {
		snprintf(l->reason, sizeof l->reason, "%s", e.reason);
	}
	free(v);
}

struct counters_info {
	bool available;
	char source[32];
	char reason[256];
	int n;
	char names[PWR_MAX_COUNTERS][64];
};

static void probe_counters(struct counters_info *ci)
{
	struct pwr_counters *c = NULL;
	struct pwr_counter_read r;

	memset(ci, 0, sizeof *ci);
	if (pwr_counters_open(NULL, 0, &c, ci->reason, sizeof ci->reason) != 0) {
		if (!ci->reason[0])
			snprintf(ci->reason, sizeof ci->reason, "hardware counters could not be opened");
		return;
	}
	ci->available = true;
	snprintf(ci->source, sizeof ci->source, "%s", pwr_counters_source(c));
	if (pwr_counters_read(c, &r) == 0) {
		ci->n = r.n;
		for (int k = 0; k < r.n && k < PWR_MAX_COUNTERS; k++)
			snprintf(ci->names[k], sizeof ci->names[k], "%s", r.v[k].name);
	}
	pwr_counters_close(c);
}

static void print_text(struct pwr_set *s, const char *root, double seconds, const struct live *lives,
		       const struct counters_info *ci)
{
	int n = pwr_n_domains(s), nu = pwr_n_unavailable(s), p = pwr_primary_domain(s);

	printf("Energy probes (sysfs root %s)\n\n", root);
	for (int b = 0; pwr_backend_name(b); b++) {
		const char *name = pwr_backend_name(b);
		int shown = 0;

		printf("%-9s %s\n", name, pwr_backend_summary(b));
		for (int i = 0; i < n; i++) {
			const struct pwr_domain_desc *d = pwr_domain(s, i);

			if (strcmp(d->backend, name))
				continue;
			shown++;
			printf("  %-12s %-9s %s", d->domain, d->kind == PWR_ESTIMATED ? "estimated" : "measured", d->unit);
			if (d->range_j > 0)
				printf(", wraps at %.12g J", d->range_j);
			printf("\n               covers: %s\n", d->covers);
			if (d->model[0])
				printf("               model: %s\n", d->model);
			if (seconds > 0) {
				const struct live *l = &lives[i];

				if (l->have)
					printf("               live: %.3f W (%.4f J over %.2f s, %d samples%s)\n", l->power_w,
					       l->energy_j, l->seconds, l->samples,
					       l->wrap_suspect ? "; a wrap may have been missed" : "");
				else
					printf("               live: none: %s\n", l->reason);
				if (l->have && l->update.known)
					printf("               updates: every %.3g s%s (median of %d changes; polled every "
					       "%.3g s)\n",
					       l->update.period_s,
					       l->update.at_poll_rate ? " or faster (as often as it was read)" : "",
					       l->update.n_changes, l->update.poll_s);
				else if (l->have)
					printf("               updates: unknown: %s\n", l->update.reason);
			}
		}
		for (int u = 0; u < nu; u++) {
			const struct pwr_unavailable *un = pwr_unavailable(s, u);

			if (!belongs_to(un->what, name))
				continue;
			shown++;
			if (!strcmp(un->what, name))
				printf("  unavailable: %s\n", un->reason);
			else
				printf("  %s unavailable: %s\n", un->what + strlen(name) + 1, un->reason);
		}
		if (!shown)
			printf("  not selected\n");
	}
	/* anything recorded under a name that is no backend's */
	for (int u = 0; u < nu; u++) {
		const struct pwr_unavailable *un = pwr_unavailable(s, u);
		bool known = false;

		for (int b = 0; pwr_backend_name(b); b++)
			known |= belongs_to(un->what, pwr_backend_name(b));
		if (!known)
			printf("%s unavailable: %s\n", un->what, un->reason);
	}
	printf("\nprimary energy source: %s\n  %s\n", p >= 0 ? pwr_domain(s, p)->id : "none", pwr_primary_why(s));
	if (ci->available) {
		printf("hardware counters: %s (", ci->source);
		for (int k = 0; k < ci->n; k++)
			printf("%s%s", k ? ", " : "", ci->names[k]);
		printf(")\n");
	} else {
		printf("hardware counters: unavailable: %s\n", ci->reason);
	}
	if (pwr_sampler_count(s) > 0)
		printf("sampler: %llu samples, %.1f us CPU per sample (all domains)\n",
		       (unsigned long long)pwr_sampler_count(s), pwr_sampler_cpu_ns_per_sample(s) / 1000);
}

static cJSON *num_or_null(double v, bool have)
{
	return have ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static int print_json(struct pwr_set *s, const char *root, double seconds, const struct live *lives,
		      const struct counters_info *ci)
{
	cJSON *top = cJSON_CreateObject(), *arr, *o, *x;
	int n = pwr_n_domains(s), p = pwr_primary_domain(s);
	char *text;

	if (!top)
		return -ENOMEM;
	cJSON_AddStringToObject(top, "sysfs_root", root);
	cJSON_AddNumberToObject(top, "live_seconds", seconds);
	arr = cJSON_AddArrayToObject(top, "backends");
	for (int b = 0; pwr_backend_name(b); b++) {
		const char *name = pwr_backend_name(b);
		int nd = 0;

		o = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddStringToObject(o, "summary", pwr_backend_summary(b));
		for (int i = 0; i < n; i++)
			nd += !strcmp(pwr_domain(s, i)->backend, name);
		cJSON_AddBoolToObject(o, "available", nd > 0);
		cJSON_AddNumberToObject(o, "domains", nd);
	}
	arr = cJSON_AddArrayToObject(top, "domains");
	for (int i = 0; i < n; i++) {
		const struct pwr_domain_desc *d = pwr_domain(s, i);
		const struct live *l = &lives[i];

		o = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "id", d->id);
		cJSON_AddStringToObject(o, "backend", d->backend);
		cJSON_AddStringToObject(o, "domain", d->domain);
		cJSON_AddStringToObject(o, "covers", d->covers);
		cJSON_AddStringToObject(o, "kind", d->kind == PWR_ESTIMATED ? "estimated" : "measured");
		if (d->model[0])
			cJSON_AddStringToObject(o, "model", d->model);
		else
			cJSON_AddNullToObject(o, "model");
		cJSON_AddStringToObject(o, "unit", d->unit);
		cJSON_AddItemToObject(o, "range_j", num_or_null(d->range_j, d->range_j > 0));
		cJSON_AddItemToObject(o, "resolution_j", num_or_null(d->resolution_j, d->resolution_j > 0));
		if (seconds > 0 && l->have) {
			x = cJSON_CreateObject();
			cJSON_AddItemToObject(o, "live", x);
			cJSON_AddNumberToObject(x, "seconds", l->seconds);
			cJSON_AddNumberToObject(x, "energy_j", l->energy_j);
			cJSON_AddNumberToObject(x, "avg_power_w", l->power_w);
			cJSON_AddNumberToObject(x, "samples", l->samples);
			cJSON_AddBoolToObject(x, "wrap_suspect", l->wrap_suspect);
			cJSON_AddItemToObject(x, "update_period_s",
					      num_or_null(l->update.period_s, l->update.known));
			if (!l->update.known)
				cJSON_AddStringToObject(x, "update_period_reason", l->update.reason);
			cJSON_AddNumberToObject(x, "update_changes", l->update.n_changes);
			cJSON_AddBoolToObject(x, "updates_at_poll_rate", l->update.at_poll_rate);
		} else {
			cJSON_AddNullToObject(o, "live");
			cJSON_AddStringToObject(o, "live_reason", seconds > 0 ? l->reason : "no live reading asked (--seconds 0)");
		}
	}
	arr = cJSON_AddArrayToObject(top, "unavailable");
	for (int u = 0; u < pwr_n_unavailable(s); u++) {
		o = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "what", pwr_unavailable(s, u)->what);
		cJSON_AddStringToObject(o, "reason", pwr_unavailable(s, u)->reason);
	}
	if (p >= 0)
		cJSON_AddStringToObject(top, "primary", pwr_domain(s, p)->id);
	else
		cJSON_AddNullToObject(top, "primary");
	cJSON_AddStringToObject(top, "primary_reason", pwr_primary_why(s));
	o = cJSON_AddObjectToObject(top, "counters");
	cJSON_AddBoolToObject(o, "available", ci->available);
	if (ci->available) {
		cJSON_AddStringToObject(o, "source", ci->source);
		arr = cJSON_AddArrayToObject(o, "events");
		for (int k = 0; k < ci->n; k++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(ci->names[k]));
	} else {
		cJSON_AddNullToObject(o, "source");
		cJSON_AddStringToObject(o, "reason", ci->reason);
	}
	o = cJSON_AddObjectToObject(top, "sampler");
	cJSON_AddNumberToObject(o, "interval_ms", pwr_sampler_interval_ms(s));
	cJSON_AddNumberToObject(o, "samples", (double)pwr_sampler_count(s));
	cJSON_AddItemToObject(o, "cpu_ns_per_sample",
			      num_or_null(pwr_sampler_cpu_ns_per_sample(s), pwr_sampler_count(s) > 0));
	text = cJSON_Print(top);
	cJSON_Delete(top);
	if (!text)
		return -ENOMEM;
	printf("%s\n", text);
	free(text);
	return 0;
}

/* Splits a comma-separated --probe value into probes[] (pointing into a strdup'd copy kept in
 * bufs[]). Returns 0, or a usage message in err. */
static int add_probes(const char *arg, const char **probes, int *n, char **bufs, int *nb, char *err, size_t len)
{
	char *copy = strdup(arg), *save = NULL, *tok;

	if (!copy) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	bufs[(*nb)++] = copy;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n >= MAX_PROBES) {
			snprintf(err, len, "--probe: at most %d probes", MAX_PROBES);
			return -E2BIG;
		}
		probes[(*n)++] = tok;
		if (!strncmp(tok, "exec:", 5)) {
			/* exec:CMD takes the rest of the value, commas included */
			memcpy(tok, arg + (tok - copy), strlen(arg + (tok - copy)) + 1);
			break;
		}
	}
	if (*n == 0) {
		snprintf(err, len, "--probe: expected BACKEND or BACKEND:DOMAIN, got '%s'", arg);
		return -EINVAL;
	}
	return 0;
}

static int check_dir(const char *opt, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return bench_usage_error("probes", "%s '%s': %s", opt, dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return bench_usage_error("probes", "%s '%s': not a directory", opt, dir);
	return 0;
}

int cmd_probes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "seconds", required_argument, NULL, 's' },
		{ "probe", required_argument, NULL, 'p' },
		{ "sysfs-root", required_argument, NULL, 'r' },
		{ "dev-root", required_argument, NULL, 'd' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "tdp-w", required_argument, NULL, 'T' },
		{ "idle-w", required_argument, NULL, 'I' },
		{ "cpu-threads", required_argument, NULL, 'C' },
		{ "hardware-db", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *probes[MAX_PROBES + 1] = { NULL };
	char *bufs[MAX_PROBES] = { NULL };
	struct pwr_opts po = { 0 };
	struct pwr_set *s = NULL;
	struct live *lives = NULL;
	struct counters_info ci;
	char err[512];
	const char *root;
	double seconds = 1.0;
	bool json = false;
	int c, rc = 0, n_probes = 0, n_bufs = 0;
	long v;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 's':
			if (bench_parse_double(optarg, 0, 60, &seconds)) {
				rc = bench_usage_error("probes", "--seconds: expected a number in [0, 60], got '%s'",
						       optarg);
				goto out;
			}
			break;
		case 'p':
			if (n_bufs >= MAX_PROBES || add_probes(optarg, probes, &n_probes, bufs, &n_bufs, err, sizeof err)) {
				rc = bench_usage_error("probes", "%s", n_bufs >= MAX_PROBES ? "too many --probe" : err);
				goto out;
			}
			break;
		case 'r':
			if ((rc = check_dir("--sysfs-root", optarg)))
				goto out;
			po.sysfs_root = optarg;
			break;
		case 'd':
			if ((rc = check_dir("--dev-root", optarg)))
				goto out;
			po.dev_root = optarg;
			break;
		case 'i':
			if (bench_parse_long(optarg, 1, 60000, &v)) {
				rc = bench_usage_error("probes", "--interval-ms: expected 1..60000, got '%s'", optarg);
				goto out;
			}
			po.interval_ms = (int)v;
			break;
		case 'T':
			if (bench_parse_double(optarg, 0.1, 5000, &po.tdp_w)) {
				rc = bench_usage_error("probes", "--tdp-w: expected watts in [0.1, 5000], got '%s'", optarg);
				goto out;
			}
			break;
		case 'I':
			if (bench_parse_double(optarg, 0, 5000, &po.idle_w)) {
				rc = bench_usage_error("probes", "--idle-w: expected watts in [0, 5000], got '%s'", optarg);
				goto out;
			}
			break;
		case 'C':
			if (bench_parse_long(optarg, 1, 8192, &v)) {
				rc = bench_usage_error("probes", "--cpu-threads: expected 1..8192, got '%s'", optarg);
				goto out;
			}
			po.cpu_threads = (int)v;
			break;
		case 'H':
			po.hardware_db = optarg;
			break;
		case 'h':
			usage(stdout);
			goto out;
		default:
			rc = bench_bad_option("probes", argv, optind - 1);
			goto out;
		}
	}
	if (optind < argc) {
		rc = bench_usage_error("probes", "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (n_probes)
		po.probes = probes;
	rc = pwr_open(&po, &s, err, sizeof err);
	if (rc == -EINVAL) {
		rc = bench_usage_error("probes", "%s", err);
		goto out;
	} else if (rc < 0) {
		rc = bench_fail("probes", "%s", err);
		goto out;
	}
	root = po.sysfs_root ? po.sysfs_root : getenv("JOULEBENCH_SYSFS_ROOT");
	if (!root || !*root)
		root = "/";
	lives = calloc((size_t)pwr_n_domains(s) + 1, sizeof *lives);
	if (!lives) {
		rc = bench_fail("probes", "out of memory");
		goto out;
	}
	if (seconds > 0 && pwr_n_domains(s) > 0) {
		if (pwr_sampler_start(s, err, sizeof err) != 0) {
			rc = bench_fail("probes", "%s", err);
			goto out;
		}
		if (!json)
			fprintf(stderr, "reading every domain for %.3g s...\n", seconds);
		sleep_s(seconds);
		pwr_sampler_stop(s);
		for (int i = 0; i < pwr_n_domains(s); i++)
			live_reading(s, i, &lives[i]);
	}
	probe_counters(&ci);
	if (json) {
		if (print_json(s, root, seconds, lives, &ci) != 0)
			rc = bench_fail("probes", "out of memory while writing JSON");
	} else {
		print_text(s, root, seconds, lives, &ci);
	}
out:
	free(lives);
	pwr_close(s);
	for (int k = 0; k < n_bufs; k++)
		free(bufs[k]);
	return rc;
}
