/*
 * tests/test_runner.c — whole runs of a tiny synthetic model (synth:stories260k:f32).
 *
 * The energy test copies the powercap fixture tests/fixtures/sysfs/amd-zen to a temporary
 * directory; a writer thread rewrites its energy_uj at the wattage the test sets, and the
 * backend's reads (hooked) return the counter at the moment of the read, as the kernel's would,
 * so the test does not depend on how the scheduler treats the writer on a loaded machine. The wattage follows the runner's phases through the on_phase
 * hook: 5 W while idle, 40 W in prefill, 20 W in decode, 30 W otherwise. Different wattages per
 * phase make a wrong window, a wrong token count or a wrong idle subtraction show up.
 */
#include "helpers/testutil.h"

#include "bench/runner.h"
#include "power/backend.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MODEL "synth:stories260k:f32"
#define W_IDLE 5.0
#define W_PREFILL 40.0
#define W_DECODE 20.0
#define W_OTHER 30.0

/* ---- the fake package zone ----------------------------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	char path[PATH_MAX];
	uint64_t range_uj;
	double watts, base_j;
	int64_t base_ns;
	pthread_t thread;
	bool stop, running;
	int energy_fd;       /* the backend's fd of energy_uj */
} fz = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The counter value now, as energy_uj would read. Caller holds fz.lock (held only for this
 * arithmetic, so a reader never waits behind file I/O). */
static uint64_t raw_locked(void)
{
	double j = fz.base_j + fz.watts * (double)(pwr_now_ns() - fz.base_ns) / 1e9;

	return (uint64_t)llround(j * 1e6) % fz.range_uj;
}

static void write_file(uint64_t raw)
{
	char buf[32];
	int fd = open(fz.path, O_WRONLY | O_TRUNC), len;

	if (fd < 0)
		return;
	len = snprintf(buf, sizeof buf, "%llu\n", (unsigned long long)raw);
	if (write(fd, buf, (size_t)len) != len)
		fprintf(stderr, "fake writer: short write\n");
	close(fd);
}

/* The test thread: keeps energy_uj on disk current at the driven wattage. */
static void *writer_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = { 0, 2000000 };
		uint64_t raw;

		pthread_mutex_lock(&fz.lock);
		if (fz.stop) {
			pthread_mutex_unlock(&fz.lock);
			return NULL;
		}
		raw = raw_locked();
		pthread_mutex_unlock(&fz.lock);
		write_file(raw);
		nanosleep(&ts, NULL);
	}
}

static void set_watts(double w)
{
	int64_t now;

	pthread_mutex_lock(&fz.lock);
	now = pwr_now_ns();
	fz.base_j += fz.watts * (double)(now - fz.base_ns) / 1e9;
	fz.base_ns = now;
	fz.watts = w;
	pthread_mutex_unlock(&fz.lock);
}

static int hook_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	size_t n = strlen(path), k = strlen("intel-rapl:0/energy_uj");

	if (fd >= 0 && n >= k && !strcmp(path + n - k, "intel-rapl:0/energy_uj"))
		fz.energy_fd = fd;
	return fd < 0 ? -errno : fd;
}

/* A read returns the counter at the moment of the read (what the kernel does), instead of
 * whatever the writer last put on disk: the sampler's timestamps then match its values. */
static ssize_t hook_pread(int fd, void *buf, size_t n, off_t off)
{
	char text[32];
	uint64_t raw;
	int len;

	if (fd != fz.energy_fd) {
		ssize_t r = pread(fd, buf, n, off);

		return r < 0 ? -errno : r;
	}
	pthread_mutex_lock(&fz.lock);
	raw = raw_locked();
	pthread_mutex_unlock(&fz.lock);
	len = snprintf(text, sizeof text, "%llu\n", (unsigned long long)raw);
	if (off >= len)
		return 0;
	if ((size_t)(len - off) < n)
		n = (size_t)(len - off);
	memcpy(buf, text + off, n);
	return (ssize_t)n;
}

static const struct pwr_powercap_io hook_io = { hook_open, hook_pread };

/* Copies the fixture and starts the writer; returns the root (malloc'd). */
static char *fake_start(void)
{
	char *dir = tu_mkdtemp(), cmd[PATH_MAX + 128], *out = NULL, *err = NULL;
	int rc;

	assert_non_null(dir);
	snprintf(cmd, sizeof cmd, "cp -a tests/fixtures/sysfs/amd-zen/. '%s'/", dir);
	rc = tu_run(cmd, 30, &out, &err);
	free(out);
	free(err);
	if (rc != 0)
		fail_msg("%s failed", cmd);
	snprintf(fz.path, sizeof fz.path,
		 "%s/sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/energy_uj", dir);
	fz.range_uj = 65532610987ULL;
	fz.base_j = 1000.0;
	fz.base_ns = pwr_now_ns();
	fz.watts = W_OTHER;
	fz.stop = false;
	fz.energy_fd = -1;
	write_file(raw_locked());
	pwr_powercap_set_io(&hook_io);
	assert_int_equal(pthread_create(&fz.thread, NULL, writer_main, NULL), 0);
	fz.running = true;
	return dir;
}

static void fake_stop(char *dir)
{
	if (fz.running) {
		pthread_mutex_lock(&fz.lock);
		fz.stop = true;
		pthread_mutex_unlock(&fz.lock);
		pthread_join(fz.thread, NULL);
		fz.running = false;
	}
	pwr_powercap_set_io(NULL);
	if (dir) {
		tu_rmtree(dir);
		free(dir);
	}
}

static void on_phase_watts(void *ud, const char *phase, int config, int rep)
{
	(void)ud;
	(void)config;
	(void)rep;
	if (!strncmp(phase, "idle", 4))
		set_watts(W_IDLE);
	else if (!strcmp(phase, "prefill"))
		set_watts(W_PREFILL);
	else if (!strcmp(phase, "decode"))
		set_watts(W_DECODE);
	else
		set_watts(W_OTHER);
}

static void small_workload(struct bench_workload *w)
{
	bench_workload_init(w);
	snprintf(w->model, sizeof w->model, "%s", MODEL);
	w->prompt_tokens[0] = 64;
	w->gen_tokens = 128;
	w->reps = 3;
	w->warmup = 1;
	w->idle_s = 0.3;
	w->cooldown_s = 0.05;
	w->interval_ms = 10;
	w->seed = 5;
}

static void near(double got, double want, double rel, const char *what)
{
	if (!(fabs(got - want) <= rel * fabs(want)))
		fail_msg("%s: got %.9g, expected %.9g (%.2f%% off, allowed %.1f%%)", what, got, want,
			 100 * (got - want) / want, 100 * rel);
}

static int find_source(const struct bench_run *r, const char *id)
{
	for (int i = 0; i < r->n_domains; i++)
		if (!strcmp(r->domains[i].id, id))
			return i;
	fail_msg("no energy source %s", id);
	return -1;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_known_wattage(void **state)
{
	struct bench_workload w;
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	struct bench_config_summary s;
	char err[512] = "", *root, *outdir;
	int pc, n;
	double want_pf[16], want_dg[16], want_dn[16], want_pn[16];

	(void)state;
	root = fake_start();
	small_workload(&w);
	/* stories15m: phases of tens of ms, and few enough tokens that counting one token too many
	 * or too few (24 vs 23 decode steps) is off by more than the 2% allowed */
	snprintf(w.model, sizeof w.model, "%s", "synth:stories15m:f32");
	w.prompt_tokens[0] = 32;
	w.gen_tokens = 24;
	w.n_probes = 1;
	snprintf(w.probes[0], sizeof w.probes[0], "%s", "powercap");
	memset(&o, 0, sizeof o);
	o.w = &w;
	o.sysfs_root = root;
	o.on_phase = on_phase_watts;
	if (bench_run(&o, &r, err, sizeof err) != 0)
		fail_msg("bench_run: %s", err);
	fake_stop(NULL);
	assert_true(r->complete);
	if (getenv("KEEP_RESULT"))
		bench_result_write(r, getenv("KEEP_RESULT"), err, sizeof err);
	pc = find_source(r, "powercap:package-0");
	assert_int_equal(r->primary, pc);

	/* idle power: what the writer drove while idle */
	assert_true(r->idle_before.measured && r->idle_after.measured);
	near(r->idle_before.power_w[pc], W_IDLE, 0.02, "idle power before");
	near(r->idle_after.power_w[pc], W_IDLE, 0.02, "idle power after");

	/* every repetition: energy = wattage of the phase × the phase's measured time */
	assert_int_equal(r->n_configs, 1);
	n = r->configs[0].n_reps;
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++) {
		const struct bench_rep *p = &r->configs[0].reps[i];
		double pt = (double)p->prefill_ns / 1e9, dt = (double)p->decode_ns / 1e9;

		assert_true(p->complete);
		assert_int_equal(p->prompt_tokens, 32);
		assert_int_equal(p->gen_tokens, 24);
		assert_int_equal(p->n_itl, 23);
		assert_true(p->energy[pc].prefill_valid && p->energy[pc].decode_valid);
		near(p->energy[pc].prefill_j, W_PREFILL * pt, 0.02, "prefill energy");
		near(p->energy[pc].decode_j, W_DECODE * dt, 0.02, "decode energy");
		want_pf[i] = W_PREFILL * pt / 32;
		want_pn[i] = (W_PREFILL - W_IDLE) * pt / 32;
		want_dg[i] = W_DECODE * dt / 23;
		want_dn[i] = (W_DECODE - W_IDLE) * dt / 23;
	}
	bench_config_summarize(r, 0, &s);
	assert_int_equal(s.n, 3);
	assert_true(s.energy_valid && s.net_valid);
	near(s.prefill_jpt_gross.median, rpt_median(want_pf, n), 0.02, "prefill J/token gross");
	near(s.prefill_jpt_net.median, rpt_median(want_pn, n), 0.02, "prefill J/token net");
	near(s.decode_jpt_gross.median, rpt_median(want_dg, n), 0.02, "decode J/token gross");
	near(s.decode_jpt_net.median, rpt_median(want_dn, n), 0.02, "decode J/token net");
	for (int i = 0; i < n; i++)
		want_dn[i] = 1.0 / want_dn[i];
	near(s.tokens_per_j.median, rpt_median(want_dn, n), 0.02, "tokens per joule (net)");
	for (int i = 0; i < n; i++)
		want_pn[i] = 1.0 / want_pn[i];
	near(s.prefill_tokens_per_j.median, rpt_median(want_pn, n), 0.02,
	     "prefill tokens per joule (net)");
	assert_true(s.decode_jpt_net.ci_low <= s.decode_jpt_net.median &&
		    s.decode_jpt_net.median <= s.decode_jpt_net.ci_high);

	/* the same figures survive into result.json */
	outdir = tu_mkdtemp();
	assert_int_equal(bench_result_write(r, outdir, err, sizeof err), 0);
	{
		char path[PATH_MAX];
		char *text;
		cJSON *j, *c, *reps, *sum;
		double dn[16];
		int k = 0;
		const cJSON *rep;

		snprintf(path, sizeof path, "%s/result.json", outdir);
		text = tu_read_file(path, NULL);
		assert_non_null(text);
		j = cJSON_Parse(text);
		assert_non_null(j);
		assert_string_equal(cJSON_GetObjectItem(j, "primary_source")->valuestring,
				    "powercap:package-0");
		near(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "idle"), "power_w"),
					 "powercap:package-0")
			     ->valuedouble,
		     W_IDLE, 0.02, "idle.power_w in the JSON");
		c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "configs"), 0);
		reps = cJSON_GetObjectItem(c, "reps");
		cJSON_ArrayForEach(rep, reps) {
			double dns = cJSON_GetObjectItem(rep, "decode_ns")->valuedouble;

			assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(rep, "itl_ns")), 23);
			dn[k++] = (W_DECODE - W_IDLE) * dns / 1e9 / 23;
		}
		sum = cJSON_GetObjectItem(c, "summary");
		near(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "decode_j_per_token"),
							     "net"),
					 "median")
			     ->valuedouble,
		     rpt_median(dn, k), 0.02, "summary.decode_j_per_token.net.median in the JSON");
		assert_string_equal(cJSON_GetObjectItem(sum, "energy_kind")->valuestring, "measured");
		cJSON_Delete(j);
		free(text);
	}
	tu_rmtree(outdir);
	free(outdir);
	bench_run_free(r);
	tu_rmtree(root);
	free(root);
}


/* ---- fake hardware counters ------------------------------------------------------------------ */

/* Every fake counter counts at `rate` events per ns (times its index + 1), set per phase. */
static struct {
	pthread_mutex_t lock;
	double rate, base;
	int64_t base_ns;
	int n_open;
} fc = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void fc_set_rate(double rate)
{
	int64_t now;

	pthread_mutex_lock(&fc.lock);
	now = pwr_now_ns();
	fc.base += fc.rate * (double)(now - fc.base_ns);
	fc.base_ns = now;
	fc.rate = rate;
	pthread_mutex_unlock(&fc.lock);
}

static int fc_open(void *attr, int cpu)
{
	(void)attr;
	(void)cpu;
	return 300 + fc.n_open++;
}

static ssize_t fc_read(int fd, void *buf, size_t n)
{
	uint64_t rf[3];
	int64_t now = pwr_now_ns();
	double v;

	if (n != sizeof rf)
		return -EINVAL;
	pthread_mutex_lock(&fc.lock);
	v = fc.base + fc.rate * (double)(now - fc.base_ns);
	pthread_mutex_unlock(&fc.lock);
	rf[0] = (uint64_t)(v * (fd - 299));
	rf[1] = rf[2] = (uint64_t)now; /* enabled == running: not multiplexed */
	memcpy(buf, rf, sizeof rf);
	return (ssize_t)sizeof rf;
}

static int fc_close(int fd)
{
	(void)fd;
	return 0;
}

static const struct pwr_perf_ops fc_ops = { fc_open, fc_read, fc_close };

static void on_phase_counters(void *ud, const char *phase, int config, int rep)
{
	(void)ud;
	(void)config;
	(void)rep;
	fc_set_rate(!strcmp(phase, "prefill") ? 3.0 : !strcmp(phase, "decode") ? 1.0 : 0.5);
}

/* Counters are read at the phase boundaries and differenced per phase: with fake counters that
 * count 3/ns in prefill and 1/ns in decode, each phase's count is its rate × its time. */
static void test_counters_per_phase(void **state)
{
	struct bench_workload w;
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "";
	cJSON *j, *k;
	char *text;

	(void)state;
	small_workload(&w);
	snprintf(w.model, sizeof w.model, "%s", "synth:stories15m:f32");
	w.prompt_tokens[0] = 32;
	w.gen_tokens = 16;
	w.reps = 2;
	w.idle_s = 0;
	w.cooldown_s = 0;
	memset(&o, 0, sizeof o);
	o.w = &w;
	o.on_phase = on_phase_counters;
	fc.n_open = 0;
	fc.base = 0;
	fc.base_ns = pwr_now_ns();
	fc.rate = 0.5;
	pwr_counters_set_ops(&fc_ops);
	if (bench_run(&o, &r, err, sizeof err) != 0) {
		pwr_counters_set_ops(NULL);
		fail_msg("bench_run: %s", err);
	}
	pwr_counters_set_ops(NULL);
	assert_string_equal(r->counters_source, "perf_event");
	for (int i = 0; i < r->configs[0].n_reps; i++) {
		const struct bench_rep *p = &r->configs[0].reps[i];

		assert_true(p->counters_valid);
		assert_false(p->multiplexed);
		assert_true(p->c_prefill.n >= 1);
		near(p->c_prefill.v[0].value, 3.0 * (double)p->prefill_ns, 0.02, "prefill count");
		near(p->c_decode.v[0].value, 1.0 * (double)p->decode_ns, 0.02, "decode count");
		if (p->c_prefill.n >= 2)
			near(p->c_prefill.v[1].value, 2 * p->c_prefill.v[0].value, 0.001, "second counter");
	}
	j = bench_result_json(r);
	text = cJSON_PrintUnformatted(j);
	k = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
				cJSON_GetArrayItem(cJSON_GetObjectItem(j, "configs"), 0), "reps"), 0),
				"counters");
	assert_true(cJSON_IsObject(k));
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(k, "prefill"),
						       r->configs[0].reps[0].c_prefill.v[0].name)));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(k, "multiplexed")));
	assert_string_equal(cJSON_GetObjectItem(j, "counters_source")->valuestring, "perf_event");
	free(text);
	cJSON_Delete(j);
	bench_run_free(r);
}

static pthread_t main_thread;
static pthread_t killer;
static bool killer_started;

static void *killer_main(void *arg)
{
	(void)arg;
	pthread_kill(main_thread, SIGINT);
	return NULL;
}

/* On the decode of the second repetition, a thread sends SIGINT to the running thread. */
static void on_phase_interrupt(void *ud, const char *phase, int config, int rep)
{
	(void)ud;
	if (config == 0 && rep == 1 && !strcmp(phase, "decode") && !killer_started) {
		killer_started = pthread_create(&killer, NULL, killer_main, NULL) == 0;
	}
}

static void test_interrupted(void **state)
{
	struct bench_workload w;
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "", path[PATH_MAX], *outdir, *text;
	cJSON *j;
	const struct bench_config_run *c;

	(void)state;
	small_workload(&w);
	w.gen_tokens = 400; /* a decode long enough for the signal to land inside it */
	w.reps = 5;
	w.idle_s = 0.1;
	memset(&o, 0, sizeof o);
	o.w = &w;
	o.on_phase = on_phase_interrupt;
	main_thread = pthread_self();
	killer_started = false;
	bench_stop_clear();
	bench_signals_install();
	if (bench_run(&o, &r, err, sizeof err) != 0)
		fail_msg("bench_run: %s", err);
	if (killer_started)
		pthread_join(killer, NULL);
	assert_true(killer_started);
	assert_int_equal(bench_stop_signal(), SIGINT);
	bench_stop_clear();
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);

	assert_false(r->complete);
	assert_non_null(strstr(r->incomplete_reason, "interrupted by SIGINT during decode of rep 2/5"));
	c = &r->configs[0];
	assert_int_equal(c->n_reps, 2);
	assert_true(c->reps[0].complete);
	assert_false(c->reps[1].complete);
	assert_true(c->reps[1].n_itl < 399);
	assert_false(r->idle_after.measured);

	outdir = tu_mkdtemp();
	assert_int_equal(bench_result_write(r, outdir, err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/result.json", outdir);
	text = tu_read_file(path, NULL);
	assert_non_null(text);
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "complete")));
	assert_non_null(strstr(cJSON_GetObjectItem(j, "incomplete_reason")->valuestring, "SIGINT"));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "idle"), "after")));
	assert_true(cJSON_IsString(
		cJSON_GetObjectItem(cJSON_GetObjectItem(j, "idle"), "after_reason")));
	/* the summary uses only the complete repetition */
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
								     cJSON_GetObjectItem(j, "configs"), 0),
							     "summary"),
					     "n")
				 ->valueint,
			 1);
	cJSON_Delete(j);
	free(text);
	tu_rmtree(outdir);
	free(outdir);
	bench_run_free(r);
}

static void test_stop_rule(void **state)
{
	struct bench_workload w;
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "";

	(void)state;
	small_workload(&w);
	w.gen_tokens = 16;
	w.idle_s = 0;
	w.cooldown_s = 0;
	w.warmup = 0;
	w.reps = 2;
	w.stop_rule = true;
	w.max_reps = 6;
	w.stop_rsd_pct = 150; /* the RSD of two positive values is at most sqrt(2) × 100% */
	memset(&o, 0, sizeof o);
	o.w = &w;
	assert_int_equal(bench_run(&o, &r, err, sizeof err), 0);
	assert_int_equal(r->configs[0].n_reps, 2);
	assert_true(r->configs[0].stop_rule_met);
	bench_run_free(r);

	w.stop_rsd_pct = 1e-9; /* never met: runs to max_reps */
	assert_int_equal(bench_run(&o, &r, err, sizeof err), 0);
	assert_int_equal(r->configs[0].n_reps, 6);
	assert_false(r->configs[0].stop_rule_met);
	/* no idle measurement: no net figures, and the reason says so */
	{
		struct bench_config_summary s;

		bench_config_summarize(r, 0, &s);
		assert_int_equal(s.n, 6);
		assert_false(s.net_valid);
		assert_int_equal(s.decode_jpt_net.n, 0);
	}
	bench_run_free(r);
}

static void test_sweep(void **state)
{
	struct bench_workload w;
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "";

	(void)state;
	small_workload(&w);
	snprintf(w.model, sizeof w.model, "%s", "synth:stories260k");
	w.gen_tokens = 8;
	w.idle_s = 0;
	w.cooldown_s = 0;
	w.warmup = 0;
	w.reps = 1;
	w.n_threads = 2;
	w.threads[0] = 1;
	w.threads[1] = 2;
	w.n_types = 2;
	w.types[0] = ENG_TYPE_F32;
	w.types[1] = ENG_TYPE_F16;
	memset(&o, 0, sizeof o);
	o.w = &w;
	if (bench_run(&o, &r, err, sizeof err) != 0)
		fail_msg("bench_run: %s", err);
	assert_int_equal(r->n_configs, 4);
	assert_int_equal(r->configs[0].type, ENG_TYPE_F32);
	assert_int_equal(r->configs[0].threads, 1);
	assert_int_equal(r->configs[1].type, ENG_TYPE_F32);
	assert_int_equal(r->configs[1].threads, 2);
	assert_int_equal(r->configs[2].type, ENG_TYPE_F16);
	assert_int_equal(r->configs[3].threads, 2);
	assert_string_equal(r->configs[2].spec, "synth:stories260k:f16");
	assert_true(r->configs[2].model.weight_bytes < r->configs[0].model.weight_bytes);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r->configs[i].n_reps, 1);
	assert_true(r->complete);
	bench_run_free(r);
}

static void test_bad_input(void **state)
{
	struct bench_workload w;
	struct bench_run_opts o;
	struct bench_run *r = NULL;
	char err[512] = "";

	(void)state;
	small_workload(&w);
	w.idle_s = 0;
	snprintf(w.model, sizeof w.model, "%s", "synth:no-such-shape:f32");
	memset(&o, 0, sizeof o);
	o.w = &w;
	assert_true(bench_run(&o, &r, err, sizeof err) < 0);
	assert_null(r);
	assert_non_null(strstr(err, "no-such-shape"));

	/* prompt + answer longer than the context */
	small_workload(&w);
	w.idle_s = 0;
	w.prompt_tokens[0] = 500;
	w.gen_tokens = 100;
	assert_true(bench_run(&o, &r, err, sizeof err) < 0);
	assert_null(r);
	assert_non_null(strstr(err, "prompt (500 tokens) + generated tokens (100) exceed the context of "
				    "synth:stories260k:f32 (512 tokens)"));

	/* a configuration that fails (here: a thread count the engine refuses) is recorded with
	 * its error while the others run */
	small_workload(&w);
	w.idle_s = 0;
	w.reps = 1;
	w.n_threads = 2;
	w.threads[0] = 1;
	w.threads[1] = 600;
	assert_int_equal(bench_run(&o, &r, err, sizeof err), 0);
	assert_false(r->complete);
	assert_int_equal(r->configs[0].n_reps, 1);
	assert_true(r->configs[0].reps[0].complete);
	assert_int_equal(r->configs[1].n_reps, 0);
	assert_non_null(strstr(r->configs[1].error, "thread count 600"));
	assert_non_null(strstr(r->incomplete_reason, "config 2/2"));
	bench_run_free(r);

	/* a model file holds one weight type: another --type is an input error before anything runs */
	{
		char *dir = tu_mkdtemp(), path[512];

		snprintf(path, sizeof path, "%.400s/m.gguf", dir);
		if (eng_synth_write("stories260k", ENG_TYPE_F32, 1, NULL, path, err, sizeof err) != 0)
			fail_msg("eng_synth_write: %s", err);
		small_workload(&w);
		w.idle_s = 0;
		snprintf(w.model, sizeof w.model, "%s", path);
		w.n_types = 1;
		w.types[0] = ENG_TYPE_Q8_0;
		r = NULL;
		assert_true(bench_run(&o, &r, err, sizeof err) < 0);
		assert_null(r);
		assert_non_null(strstr(err, "holds f32 weights, not q8_0"));
		w.types[0] = ENG_TYPE_F32;
		assert_int_equal(bench_run(&o, &r, err, sizeof err), 0);
		assert_true(r->complete);
		bench_run_free(r);
		unlink(path);
		rmdir(dir);
		free(dir);
	}

	/* a prompt text is tokenized with the model's vocabulary */
	small_workload(&w);
	w.idle_s = 0;
	w.reps = 1;
	assert_int_equal(bench_workload_set_prompt(&w, "Once upon a time"), 0);
	w.n_prompt_tokens = 0;
	assert_int_equal(bench_run(&o, &r, err, sizeof err), 0);
	if (r->configs[0].error[0]) {
		/* a model without a vocabulary must say so */
		assert_non_null(strstr(r->configs[0].error, "a prompt text needs a vocabulary"));
	} else {
		assert_true(r->complete);
		assert_true(r->prompt_text_tokens > 1);
		assert_int_equal(r->configs[0].prompt_tokens, r->prompt_text_tokens);
		assert_int_equal(r->configs[0].reps[0].prompt_tokens, r->prompt_text_tokens);
	}
	bench_run_free(r);
	bench_workload_free(&w);
}

/* The binary: SIGINT during the idle measurement still leaves a valid, incomplete result. */
static void test_binary_sigint(void **state)
{
	char *dir = tu_mkdtemp(), cmd[PATH_MAX * 2], path[PATH_MAX], *out = NULL, *err = NULL, *text;
	cJSON *j;
	int rc;

	(void)state;
	rc = tu_run("\"$JB\" run --help", 30, &out, &err);
	free(out);
	free(err);
	if (rc != 0) {
		tu_rmtree(dir);
		free(dir);
		TU_SKIP("this joulebench has no 'run' command yet");
	}
	snprintf(cmd, sizeof cmd,
		 "\"$JB\" run --model " MODEL " --prompt-tokens 8 --gen-tokens 8 --idle-seconds 30 "
		 "--quiet -o '%s' & pid=$!; sleep 2; kill -INT $pid; wait $pid",
		 dir);
	rc = tu_run(cmd, 60, &out, &err);
	if (rc != 1)
		fail_msg("exit %d, stderr: %s", rc, err);
	assert_non_null(strstr(err, "interrupted by SIGINT"));
	free(out);
	free(err);
	snprintf(path, sizeof path, "%s/result.json", dir);
	text = tu_read_file(path, NULL);
	assert_non_null(text);
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "complete")));
	assert_non_null(strstr(cJSON_GetObjectItem(j, "incomplete_reason")->valuestring,
			       "interrupted by SIGINT during idle before"));
	cJSON_Delete(j);
	free(text);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_wattage), cmocka_unit_test(test_interrupted),
		cmocka_unit_test(test_stop_rule),     cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_bad_input),     cmocka_unit_test(test_binary_sigint),
		cmocka_unit_test(test_counters_per_phase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
