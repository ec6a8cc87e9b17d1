/*
 * bench/cmd_kernels.c — `joulebench kernels`: each hot kernel timed alone at the real sizes of a
 * model shape, with its `_ref` twin, achieved GB/s and GFLOP/s, the share of the measured memory
 * bandwidth, hardware counters and energy when this machine has them, and — with
 * `--count instructions` — instruction counts per call from callgrind, which do not drift on a
 * loaded machine.
 *
 * The cases and their buffers come from the engine (eng_kbench_* in engine/engine.h); this file
 * times them, summarises every sample (rpt_summarize) and writes the `kernels` result kind of
 * reports/SCHEMA.md.
 *
 * Instruction counts: the command re-executes itself as
 *     valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=DIR/cg.out \
 *         joulebench kernels --count-child ...
 * The child turns instrumentation on only around the measured calls
 * (CALLGRIND_START_INSTRUMENTATION / ZERO_STATS / STOP_INSTRUMENTATION) and dumps one profile per
 * case (CALLGRIND_DUMP_STATS_AT), which the parent reads back ("totals:" of each dump).
 */
#include "bench/bench.h"
#include "bench/cli.h"
#include "bench/commands.h"
#include "engine/engine.h"
#include "power/power.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define JB_HAVE_CALLGRIND_H 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define JB_ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JB_ASAN_BUILD 1
#endif
#endif

extern char **environ;

#define CMD "kernels"
#define MAX_TYPES 12
#define MAX_FILTERS 16

struct kopts {
	int types[MAX_TYPES];
	int n_types;
	char types_arg[64];
	char shape[64];
	int kv_len;        /* 0 = min(512, seq_len) */
	int batch;
	int reps;
	int ref_reps;
	int threads;
	double min_sample_ms;
	char filter_arg[256];  /* as given, passed on to the callgrind child */
	char filter_buf[256];  /* tokenised copy that filters[] point into */
	char *filters[MAX_FILTERS];
	int n_filters;
	bool json;
	const char *out_path;
	bool count_instr;
	bool count_child;
	int count_calls;
	uint64_t seed;
	bool list_only;
	const char *sysfs_root;
};

/* What one implementation (simd or ref) of one case measured. */
struct kresult {
	bool ran;
	bool timed;
	int calls_per_sample;
	int n;
	double *samples_ns;
	struct rpt_summary st;
	bool instr_ok;
	double instr;
	char instr_reason[200];
	char instr_source[16];
	bool counters_ok;
	struct pwr_counter_read counters; /* per call */
	char counters_reason[512];
	bool energy_ok;
	double energy_j;
	double energy_window_ms; /* the timed window the energy covers */
	char energy_source[96];
	char energy_reason[512];
};

struct kcase {
	struct eng_kbench_case c;
	struct kresult simd, ref;
};

static void kernels_help(void)
{
	printf("Usage: joulebench kernels [OPTIONS]\n"
	       "\n"
	       "Times each hot kernel of the engine alone at the real sizes of a model shape: matrix-vector\n"
	       "(decode) and matrix-matrix (prefill) products per weight type, activation quantization to\n"
	       "Q8_0, RMSNorm, RoPE, softmax, SwiGLU and attention over a KV cache. Each kernel runs in its\n"
	       "fast (SIMD, threaded) version and its plain-C _ref twin (single-threaded) so the speedup is\n"
	       "visible.\n"
	       "\n"
	       "  --type LIST           weight types of the matmul cases (default q4_0,q8_0,f16,f32)\n"
	       "  --shape NAME          model shape from configs/models (default bench-1b)\n"
	       "  --kv-len N            attention/softmax length and RoPE position (default min(512, context))\n"
	       "  --batch N             tokens of the matrix-matrix cases (default 64)\n"
	       "  --reps N              timed samples per kernel (default 10; 0 with --count: counts only)\n"
	       "  --ref-reps N          timed samples of each _ref twin (default 5; 0: skip the twins)\n"
	       "  --min-sample-ms MS    each sample repeats the call until it lasts this long (default 2)\n"
	       "  --filter SUBSTR       only kernels whose name contains SUBSTR (comma list: any of them)\n"
	       "  -t, --threads N       threads of the fast versions (default 1)\n"
	       "  --count instructions  also count instructions per call under valgrind's callgrind\n"
	       "  --count-calls N       calls counted per kernel under callgrind (default 2)\n"
	       "  --json                print the result JSON (kind \"kernels\", reports/SCHEMA.md) to stdout\n"
	       "  -o FILE               write the result JSON to FILE (the table still goes to stdout)\n"
	       "  --seed N              seed of the deterministic inputs (default 1)\n"
	       "  --list                list the kernel cases and exit\n"
	       "  --count-child         (internal) the process callgrind runs for --count instructions\n"
	       "  --sysfs-root DIR      read energy probes under DIR (default $JOULEBENCH_SYSFS_ROOT or /)\n"
	       "\n"
	       "Per kernel: time per call (median and 95%% bootstrap CI over the samples; every sample is\n"
	       "kept in the JSON), GB/s and GFLOP/s from the case's traffic and operation model, %% of the\n"
	       "measured memory-bandwidth bound, hardware counters and energy per call when this machine\n"
	       "has them (null with the reason otherwise), and the _ref twin's time.\n"
	       "\n"
	       "--count instructions re-runs the kernels under `valgrind --tool=callgrind` (50-200x slower;\n"
	       "instrumentation only around the measured calls, threads forced to 1). Instruction counts do\n"
	       "not drift with machine load, so `joulebench regress` can gate on them with a plain threshold.\n"
	       "They catch extra work (instructions); they do not see cache misses, memory bandwidth or\n"
	       "clock frequency: a memory-bound regression is invisible to them. $JOULEBENCH_VALGRIND\n"
	       "overrides the valgrind binary.\n");
}

/* ---- options ----------------------------------------------------------------------------- */

static int parse_types(const char *arg, struct kopts *o)
{
	char buf[64], *save = NULL;

	if (strlen(arg) >= sizeof buf)
		return -1;
	snprintf(buf, sizeof buf, "%s", arg);
	o->n_types = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		enum eng_type ty;

		if (eng_type_parse(t, &ty) || o->n_types == MAX_TYPES)
			return -1;
		for (int i = 0; i < o->n_types; i++)
			if (o->types[i] == (int)ty)
				return -1;
		o->types[o->n_types++] = (int)ty;
	}
	return o->n_types > 0 ? 0 : -1;
}

static bool case_selected(const struct kopts *o, const struct eng_kbench_case *c)
{
	if (o->n_filters == 0)
		return true;
	for (int i = 0; i < o->n_filters; i++)
		if (strstr(c->name, o->filters[i]))
			return true;
	return false;
}

/* ---- timing ------------------------------------------------------------------------------ */

static int64_t now_ns(void)
{
	return pwr_now_ns();
}

struct measure_env {
	struct pwr_counters *ctr;
	char ctr_reason[512];
	struct pwr_set *pwr;
	int primary;
	char energy_reason[512];
};

/* Times `reps` samples of one implementation; each sample repeats the call until it lasts at
 * least min_sample_ms. Returns 0 or -ENOMEM. */
static int measure(struct eng_kbench *k, bool ref, int reps, double min_sample_ms, struct measure_env *env,
		   struct kresult *r, uint64_t seed)
{
	struct pwr_counter_read c0, c1;
	int64_t t0, t1, w0, w1;
	double one_ns;
	long inner;
	bool ctr_ok = false;

	r->ran = true;
	/* Warm-up (page faults, caches, lazily started threads), then calibration: double the
	 * calls until they last a quarter of a sample, and scale to a whole sample. */
	eng_kbench_run(k, ref);
	inner = 1;
	for (;;) {
		t0 = now_ns();
		for (long i = 0; i < inner; i++)
			eng_kbench_run(k, ref);
		t1 = now_ns();
		if ((double)(t1 - t0) >= min_sample_ms * 1e6 / 4 || inner >= 10000000)
			break;
		inner *= 2;
	}
	/* The fastest of three such runs: a preempted one would shrink every sample. (A single
	 * call longer than a sample is a sample by itself; no need to run it again.) */
	one_ns = (double)(t1 - t0) / (double)inner;
	for (int rep = 0; rep < 2 && one_ns < min_sample_ms * 1e6; rep++) {
		t0 = now_ns();
		for (long i = 0; i < inner; i++)
			eng_kbench_run(k, ref);
		t1 = now_ns();
		one_ns = fmin(one_ns, (double)(t1 - t0) / (double)inner);
	}
	if (one_ns < 0.01)
		one_ns = 0.01;
	inner = (long)ceil(min_sample_ms * 1e6 / one_ns);
	if (inner < 1)
		inner = 1;
	if (inner > 10000000)
		inner = 10000000;
	r->calls_per_sample = (int)inner;
	r->samples_ns = malloc((size_t)(reps > 0 ? reps : 1) * sizeof *r->samples_ns);
	if (!r->samples_ns)
		return -ENOMEM;

	if (env->ctr)
		ctr_ok = pwr_counters_read(env->ctr, &c0) == 0;
	if (env->pwr && env->primary >= 0)
		pwr_sample_now(env->pwr);
	w0 = now_ns();
	for (int s = 0; s < reps; s++) {
		t0 = now_ns();
		for (long i = 0; i < inner; i++)
			eng_kbench_run(k, ref);
		t1 = now_ns();
		r->samples_ns[r->n++] = (double)(t1 - t0) / (double)inner;
	}
	w1 = now_ns();
	if (env->pwr && env->primary >= 0)
		pwr_sample_now(env->pwr);
	r->timed = r->n > 0;
	rpt_summarize(r->samples_ns, r->n, seed, &r->st);

	/* Hardware counters over all timed calls, per call. */
	if (!env->ctr) {
		snprintf(r->counters_reason, sizeof r->counters_reason, "%s", env->ctr_reason);
	} else if (ctr_ok && pwr_counters_read(env->ctr, &c1) == 0) {
		double calls = (double)inner * reps;

		r->counters_ok = true;
		r->counters = c1;
		for (int i = 0; i < c1.n; i++) {
			r->counters.v[i].valid = c0.v[i].valid && c1.v[i].valid;
			r->counters.v[i].value = (c1.v[i].value - c0.v[i].value) / calls;
		}
	} else {
		snprintf(r->counters_reason, sizeof r->counters_reason, "reading the counters failed");
	}

	/* Energy of the timed window from the primary measured domain. */
	if (!env->pwr || env->primary < 0) {
		snprintf(r->energy_reason, sizeof r->energy_reason, "%s", env->energy_reason);
	} else {
		struct pwr_energy e;
		const struct pwr_domain_desc *d = pwr_domain(env->pwr, env->primary);
		int wrc;

		memset(&e, 0, sizeof e);
		r->energy_window_ms = (double)(w1 - w0) / 1e6;
		wrc = pwr_energy_window(env->pwr, env->primary, w0, w1, &e);
		if (wrc || !e.valid || e.wrap_suspect) {
			snprintf(r->energy_reason, sizeof r->energy_reason, "%s: %s", d->id,
				 !wrc && e.wrap_suspect ? "a counter wrap may have been missed in the window"
				 : e.reason[0]	       ? e.reason
							: "the window could not be integrated");
		} else if (!(e.energy_j > 0)) {
			snprintf(r->energy_reason, sizeof r->energy_reason,
				 "%s did not advance during the %.1f ms window (a stale or too coarse counter); "
				 "not reported as 0 J",
				 d->id, r->energy_window_ms);
		} else {
			r->energy_ok = true;
			r->energy_j = e.energy_j / ((double)inner * reps);
			snprintf(r->energy_source, sizeof r->energy_source, "%s", d->id);
		}
	}
	return 0;
}

/* ---- callgrind --------------------------------------------------------------------------- */

/* The child under callgrind: count `calls` calls of every selected case, one dump per case and
 * implementation, labelled "jbk INDEX IMPL CALLS". */
static int count_child(struct kcase *cs, int n, const struct kopts *o)
{
#if defined(JB_HAVE_CALLGRIND_H)
	char err[256];

	for (int i = 0; i < n; i++) {
		struct eng_kbench *k = NULL;

		if (eng_kbench_prepare(&cs[i].c, 1, o->seed, &k, err, sizeof err))
			return bench_fail(CMD, "%s", err);
		for (int impl = 0; impl < 2; impl++) {
			char label[96];

			if (impl == 1 && (o->ref_reps == 0 || !cs[i].c.has_ref))
				continue;
			eng_kbench_run(k, impl == 1); /* warm-up outside the instrumented region */
			CALLGRIND_START_INSTRUMENTATION;
			CALLGRIND_ZERO_STATS;
			for (int c = 0; c < o->count_calls; c++)
				eng_kbench_run(k, impl == 1);
			CALLGRIND_STOP_INSTRUMENTATION;
			snprintf(label, sizeof label, "jbk %d %s %d", i, impl ? "ref" : "simd", o->count_calls);
			CALLGRIND_DUMP_STATS_AT(label);
		}
		eng_kbench_free(k);
	}
	return 0;
#else
	(void)cs;
	(void)n;
	(void)o;
	return bench_fail(CMD, "this joulebench was built without <valgrind/callgrind.h>; install valgrind "
			       "(apt install valgrind) and rebuild");
#endif
}

/* Reads every DIR/cg.out* dump and fills the instruction counts. Returns 0 or -1 with err set. */
static int read_dumps(const char *dir, struct kcase *cs, int n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (!d) {
		snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char path[1200], line[512], impl[8] = "";
		int idx = -1, calls = 0;
		double totals = -1;
		FILE *f;

		if (strncmp(e->d_name, "cg.out", 6))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof line, f)) {
			if (!strncmp(line, "desc: Trigger: Client Request: jbk ", 35))
				sscanf(line + 35, "%d %7s %d", &idx, impl, &calls);
			else if (!strncmp(line, "totals:", 7))
				totals = strtod(line + 7, NULL);
			else if (!strncmp(line, "summary:", 8) && totals < 0)
				totals = strtod(line + 8, NULL);
		}
		fclose(f);
		if (idx < 0 || idx >= n || calls <= 0 || totals < 0)
			continue;
		struct kresult *r = !strcmp(impl, "ref") ? &cs[idx].ref : &cs[idx].simd;
		r->instr_ok = true;
		r->instr = totals / calls;
		snprintf(r->instr_source, sizeof r->instr_source, "callgrind");
		found++;
	}
	closedir(d);
	if (!found) {
		snprintf(err, errlen, "callgrind wrote no profile of a kernel into %s", dir);
		return -1;
	}
	return 0;
}

static void rmtree_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			char path[1200];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* Why this binary cannot run under valgrind, or NULL when it can. */
static const char *count_unsupported(void)
{
#if defined(JB_ASAN_BUILD)
	return "this is an AddressSanitizer build, which valgrind cannot run; use a normal build (make)";
#elif defined(__AVX512F__)
	return "this joulebench was compiled with AVX-512 instructions (-march=native on an AVX-512 CPU), "
	       "which valgrind cannot execute; build a copy without them, e.g. make BUILD=build/x86-64-v3 "
	       "BIN=build/x86-64-v3/joulebench ARCH=x86-64-v3 build/x86-64-v3/joulebench";
#else
	return NULL;
#endif
}

/* Runs this binary again under callgrind with the same selection; fills instr_* of every case.
 * Returns 0, or 1 with the reason printed. */
static int count_instructions(struct kcase *cs, int n, const struct kopts *o)
{
	const char *vg = getenv("JOULEBENCH_VALGRIND"), *why = count_unsupported();
	char self[1024], dir[] = "/tmp/joulebench-cg-XXXXXX", outfile[1100], kv[32], batch[32], calls[32],
	     refreps[32], seed[32], err[512] = "";
	char *argv[40];
	int argc = 0, status = 0, rc;
	ssize_t len;
	pid_t pid;

	if (why)
		return bench_fail(CMD, "--count instructions: %s", why);
	if (!vg || !vg[0])
		vg = "valgrind";
	len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0)
		return bench_fail(CMD, "--count instructions: cannot find this executable: %s", strerror(errno));
	self[len] = '\0';
	if (!mkdtemp(dir))
		return bench_fail(CMD, "--count instructions: cannot create a temporary directory: %s", strerror(errno));
	snprintf(outfile, sizeof outfile, "--callgrind-out-file=%s/cg.out", dir);
	snprintf(kv, sizeof kv, "%d", o->kv_len);
	snprintf(batch, sizeof batch, "%d", o->batch);
	snprintf(calls, sizeof calls, "%d", o->count_calls);
	snprintf(refreps, sizeof refreps, "%d", o->ref_reps);
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
	argv[argc++] = (char *)vg;
	argv[argc++] = "--tool=callgrind";
	argv[argc++] = "--instr-atstart=no";
	argv[argc++] = "--quiet";
	argv[argc++] = outfile;
	argv[argc++] = self;
	argv[argc++] = "kernels";
	argv[argc++] = "--count-child";
	argv[argc++] = "--shape";
	argv[argc++] = (char *)o->shape;
	argv[argc++] = "--type";
	argv[argc++] = (char *)o->types_arg;
	argv[argc++] = "--kv-len";
	argv[argc++] = kv;
	argv[argc++] = "--batch";
	argv[argc++] = batch;
	argv[argc++] = "--count-calls";
	argv[argc++] = calls;
	argv[argc++] = "--ref-reps";
	argv[argc++] = refreps;
	argv[argc++] = "--seed";
	argv[argc++] = seed;
	if (o->n_filters) {
		argv[argc++] = "--filter";
		argv[argc++] = (char *)o->filter_arg;
	}
	argv[argc] = NULL;

	fprintf(stderr, "joulebench kernels: counting instructions of %d kernel(s) under callgrind "
			"(valgrind: 50-200x slower than native)...\n", n);
	rc = posix_spawnp(&pid, vg, NULL, NULL, argv, environ);
	if (rc) {
		rmtree_flat(dir);
		if (rc == ENOENT)
			return bench_fail(CMD, "--count instructions needs valgrind, which is not installed "
					       "(apt install valgrind / dnf install valgrind), or set JOULEBENCH_VALGRIND");
		return bench_fail(CMD, "--count instructions: cannot run %s: %s", vg, strerror(rc));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rmtree_flat(dir);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			return bench_fail(CMD, "--count instructions: %s could not be run (exit 127)", vg);
		return bench_fail(CMD, "--count instructions: the kernels under callgrind failed (%s %d)",
				  WIFEXITED(status) ? "exit" : "signal",
				  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	rc = read_dumps(dir, cs, n, err, sizeof err);
	rmtree_flat(dir);
	if (rc)
		return bench_fail(CMD, "--count instructions: %s", err);
	return 0;
}

/* ---- output ------------------------------------------------------------------------------ */

static void null_reason(cJSON *o, const char *name, const char *reason)
{
	char key[96];

	snprintf(key, sizeof key, "%s_reason", name);
	cJSON_AddNullToObject(o, name);
	cJSON_AddStringToObject(o, key, reason);
}

static cJSON *stat_json(const struct rpt_summary *s)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "n", s->n);
	cJSON_AddNumberToObject(o, "median", s->median);
	cJSON_AddNumberToObject(o, "mean", s->mean);
	cJSON_AddNumberToObject(o, "sd", s->sd);
	cJSON_AddNumberToObject(o, "ci95_low", s->ci_low);
	cJSON_AddNumberToObject(o, "ci95_high", s->ci_high);
	cJSON_AddNumberToObject(o, "min", s->min);
	cJSON_AddNumberToObject(o, "max", s->max);
	return o;
}

/* Measured read bandwidth: of the fast versions' thread count and of one thread (the twins). */
struct membw {
	double fast_gbs, ref_gbs; /* 0 when not measured */
	char reason[300];
};

static void add_kernel_json(cJSON *arr, const struct kcase *k, const struct kresult *r, bool ref,
			    const struct kopts *o, const struct membw *bwm)
{
	const double membw_gbs = ref ? bwm->ref_gbs : bwm->fast_gbs;
	const char *membw_reason = bwm->reason;
	const struct eng_kbench_case *c = &k->c;
	cJSON *e = cJSON_CreateObject(), *s;

	if (!e)
		return;
	cJSON_AddItemToArray(arr, e);
	cJSON_AddStringToObject(e, "name", c->name);
	cJSON_AddStringToObject(e, "op", c->op);
	cJSON_AddStringToObject(e, "type", eng_type_name(c->type));
	cJSON_AddStringToObject(e, "impl", ref ? "ref" : "simd");
	if (c->tensors[0])
		cJSON_AddStringToObject(e, "tensors", c->tensors);
	cJSON_AddNumberToObject(e, "rows", (double)c->rows);
	cJSON_AddNumberToObject(e, "cols", (double)c->cols);
	cJSON_AddNumberToObject(e, "n_tok", c->n_tok);
	cJSON_AddNumberToObject(e, "kv_len", c->kv_len);
	cJSON_AddNumberToObject(e, "threads", ref ? 1 : o->threads);
	cJSON_AddNumberToObject(e, "bytes_per_call", c->bytes_per_call);
	cJSON_AddNumberToObject(e, "flops_per_call", c->flops_per_call);
	cJSON_AddNumberToObject(e, "calls_per_sample", r->calls_per_sample);
	s = cJSON_AddArrayToObject(e, "samples_ns");
	for (int i = 0; s && i < r->n; i++)
		cJSON_AddItemToArray(s, cJSON_CreateNumber(r->samples_ns[i]));
	if (r->timed) {
		double ns = r->st.median;

		cJSON_AddItemToObject(e, "ns_per_call", stat_json(&r->st));
		cJSON_AddNumberToObject(e, "gbytes_s", c->bytes_per_call / ns);
		cJSON_AddNumberToObject(e, "gflop_s", c->flops_per_call / ns);
		if (membw_gbs > 0)
			cJSON_AddNumberToObject(e, "pct_bw_bound", c->bytes_per_call / ns / membw_gbs * 100);
		else
			null_reason(e, "pct_bw_bound", membw_reason);
	} else {
		const char *why = "not timed (--reps 0)";

		null_reason(e, "ns_per_call", why);
		null_reason(e, "gbytes_s", why);
		null_reason(e, "gflop_s", why);
		null_reason(e, "pct_bw_bound", why);
	}
	if (!ref && k->ref.timed && r->timed)
		cJSON_AddNumberToObject(e, "speedup_vs_ref", k->ref.st.median / r->st.median);
	if (r->instr_ok) {
		cJSON_AddNumberToObject(e, "instructions_per_call", r->instr);
		cJSON_AddStringToObject(e, "instructions_source", r->instr_source);
	} else {
		null_reason(e, "instructions_per_call", r->instr_reason[0] ? r->instr_reason
									 : "not counted: run with --count instructions");
		cJSON_AddNullToObject(e, "instructions_source");
	}
	if (r->counters_ok) {
		cJSON *ct = cJSON_AddObjectToObject(e, "counters");
		double ins = NAN, cyc = NAN, ratio_min = 1.0;

		for (int i = 0; ct && i < r->counters.n; i++) {
			const struct pwr_counter_value *v = &r->counters.v[i];

			if (v->valid)
				cJSON_AddNumberToObject(ct, v->name, v->value);
			else
				cJSON_AddNullToObject(ct, v->name);
			if (v->valid && v->enabled_ratio < ratio_min)
				ratio_min = v->enabled_ratio;
			if (v->valid && !strcmp(v->name, "instructions"))
				ins = v->value;
			if (v->valid && !strcmp(v->name, "cycles"))
				cyc = v->value;
		}
		if (ct && isfinite(ins) && isfinite(cyc) && cyc > 0)
			cJSON_AddNumberToObject(ct, "ipc", ins / cyc);
		/* Multiplexing is reported, not hidden: values above are scaled by time enabled /
		 * time running, and the smallest running share says how much was extrapolated. */
		if (ct) {
			cJSON_AddBoolToObject(ct, "multiplexed", ratio_min < 0.999);
			cJSON_AddNumberToObject(ct, "enabled_ratio_min", ratio_min);
		}
	} else {
		null_reason(e, "counters", r->timed ? r->counters_reason : "not timed (--reps 0)");
	}
	if (r->energy_ok) {
		cJSON_AddNumberToObject(e, "energy_j_per_call", r->energy_j);
		cJSON_AddStringToObject(e, "energy_source", r->energy_source);
		cJSON_AddNumberToObject(e, "energy_window_ms", r->energy_window_ms);
	} else {
		null_reason(e, "energy_j_per_call", r->timed ? r->energy_reason : "not timed (--reps 0)");
	}
}

static cJSON *result_json(const struct kcase *cs, int n, const struct kopts *o, const struct eng_shape *sh,
			  const struct membw *bwm, const char *created)
{
	cJSON *root = cJSON_CreateObject(), *j, *arr, *m;

	if (!root)
		return NULL;
	cJSON_AddNumberToObject(root, "schema_version", 1);
	cJSON_AddStringToObject(root, "kind", "kernels");
	cJSON_AddStringToObject(root, "created_utc", created);
	j = cJSON_AddObjectToObject(root, "joulebench");
	if (j) {
		cJSON_AddStringToObject(j, "version", bench_build.version);
		cJSON_AddStringToObject(j, "commit", bench_build.commit);
		cJSON_AddStringToObject(j, "compiler", bench_build.compiler);
		cJSON_AddStringToObject(j, "cflags", bench_build.cflags);
		cJSON_AddStringToObject(j, "simd", eng_simd_name());
		cJSON_AddStringToObject(j, "isa", eng_isa_name());
		cJSON_AddBoolToObject(j, "papi", bench_build.papi);
		cJSON_AddBoolToObject(j, "libpfm4", bench_build.libpfm4);
	}
	m = bench_machine_json(o->sysfs_root);
	if (m)
		cJSON_AddItemToObject(root, "machine", m);
	else
		cJSON_AddObjectToObject(root, "machine");
	cJSON_AddStringToObject(root, "shape", sh->name);
	cJSON_AddNumberToObject(root, "threads", o->threads);
	cJSON_AddNumberToObject(root, "kv_len", o->kv_len);
	cJSON_AddNumberToObject(root, "batch", o->batch);
	cJSON_AddNumberToObject(root, "seed", (double)o->seed);
	cJSON_AddNumberToObject(root, "min_sample_ms", o->min_sample_ms);
	if (bwm->fast_gbs > 0) {
		cJSON *bw = cJSON_AddObjectToObject(root, "membw");
		char key[16];

		if (bw && bwm->ref_gbs > 0 && o->threads != 1)
			cJSON_AddNumberToObject(bw, "1", bwm->ref_gbs);
		snprintf(key, sizeof key, "%d", o->threads);
		if (bw)
			cJSON_AddNumberToObject(bw, key, bwm->fast_gbs);
	} else {
		null_reason(root, "membw", bwm->reason);
	}
	cJSON_AddStringToObject(root, "count_mode", o->count_instr ? "callgrind" : "none");
	arr = cJSON_AddArrayToObject(root, "kernels");
	for (int i = 0; arr && i < n; i++) {
		if (cs[i].simd.ran || cs[i].simd.instr_ok)
			add_kernel_json(arr, &cs[i], &cs[i].simd, false, o, bwm);
		if (cs[i].ref.ran || cs[i].ref.instr_ok)
			add_kernel_json(arr, &cs[i], &cs[i].ref, true, o, bwm);
	}
	return root;
}

/* The unit a median is printed in: divisor and name. */
static double ns_unit(double ns, const char **name)
{
	if (ns >= 1e6) {
		*name = "ms";
		return 1e6;
	}
	if (ns >= 1e3) {
		*name = "us";
		return 1e3;
	}
	*name = "ns";
	return 1;
}

static void fmt_ns(char *buf, size_t len, const struct kresult *r)
{
	const char *u;
	double d;

	if (!r->timed) {
		snprintf(buf, len, "-");
		return;
	}
	d = ns_unit(r->st.median, &u);
	snprintf(buf, len, d > 1 ? "%.3f %s" : "%.0f %s", r->st.median / d, u);
}

static void print_table(FILE *f, const struct kcase *cs, int n, double membw_gbs)
{
	fprintf(f, "%-30s %-17s %11s %17s %8s %8s %6s %11s %8s %14s\n", "kernel", "size", "ns/call",
		"95% CI", "GB/s", "GFLOP/s", "%bw", "ref", "speedup", "instr/call");
	for (int i = 0; i < n; i++) {
		const struct kcase *k = &cs[i];
		const struct kresult *r = &k->simd;
		char size[40], t[32], ci[40] = "-", gbs[16] = "-", gfl[16] = "-", bw[16] = "-", rt[32], sp[16] = "-",
						       ins[24] = "-";

		if (k->c.kind == ENG_KB_ATTENTION || k->c.kind == ENG_KB_ROPE)
			snprintf(size, sizeof size, "%lldh x %lld", (long long)k->c.rows, (long long)k->c.cols);
		else
			snprintf(size, sizeof size, "%lldx%lld x%d", (long long)k->c.rows, (long long)k->c.cols, k->c.n_tok);
		fmt_ns(t, sizeof t, r);
		fmt_ns(rt, sizeof rt, &k->ref);
		if (r->timed) {
			double ns = r->st.median;

			const char *u;
			double d = ns_unit(ns, &u);

			snprintf(ci, sizeof ci, d > 1 ? "[%.3f, %.3f]" : "[%.0f, %.0f]", r->st.ci_low / d,
				 r->st.ci_high / d);
			snprintf(gbs, sizeof gbs, "%.2f", k->c.bytes_per_call / ns);
			snprintf(gfl, sizeof gfl, "%.2f", k->c.flops_per_call / ns);
			if (membw_gbs > 0)
				snprintf(bw, sizeof bw, "%.0f", k->c.bytes_per_call / ns / membw_gbs * 100);
			if (k->ref.timed)
				snprintf(sp, sizeof sp, "%.2fx", k->ref.st.median / ns);
		}
		if (r->instr_ok)
			snprintf(ins, sizeof ins, "%.0f", r->instr);
		fprintf(f, "%-30s %-17s %11s %17s %8s %8s %6s %11s %8s %14s\n", k->c.name, size, t, ci, gbs, gfl, bw,
			rt, sp, ins);
	}
}

static int write_atomic(const char *path, const char *text)
{
	char tmp[1100];
	FILE *f;
	int rc = 0;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fputs(text, f) < 0 || fputc('\n', f) == EOF)
		rc = -EIO;
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* ---- the command ------------------------------------------------------------------------- */

int cmd_kernels(int argc, char **argv)
{
	enum { O_TYPE = 256, O_SHAPE, O_KV, O_BATCH, O_REPS, O_REF_REPS, O_MIN_MS, O_FILTER, O_JSON, O_COUNT,
	       O_COUNT_CALLS, O_COUNT_CHILD, O_SEED, O_LIST, O_SYSFS };
	static const struct option lopts[] = {
		{ "type", required_argument, NULL, O_TYPE },
		{ "shape", required_argument, NULL, O_SHAPE },
		{ "kv-len", required_argument, NULL, O_KV },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "reps", required_argument, NULL, O_REPS },
		{ "ref-reps", required_argument, NULL, O_REF_REPS },
		{ "min-sample-ms", required_argument, NULL, O_MIN_MS },
		{ "filter", required_argument, NULL, O_FILTER },
		{ "json", no_argument, NULL, O_JSON },
		{ "count", required_argument, NULL, O_COUNT },
		{ "count-calls", required_argument, NULL, O_COUNT_CALLS },
		{ "count-child", no_argument, NULL, O_COUNT_CHILD },
		{ "seed", required_argument, NULL, O_SEED },
		{ "list", no_argument, NULL, O_LIST },
		{ "sysfs-root", required_argument, NULL, O_SYSFS },
		{ "threads", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct kopts o = { .batch = 64, .reps = 10, .ref_reps = 5, .threads = 1, .min_sample_ms = 2,
			   .count_calls = 2, .seed = 1 };
	struct eng_kbench_case *all = NULL;
	struct kcase *cs = NULL;
	struct eng_shape sh;
	struct eng_kbench_spec spec;
	struct measure_env env = { .primary = -1 };
	char err[512] = "", created[40];
	struct membw bwm = { 0 };
	int n_all, n = 0, c, rc = 0;
	long v;
	time_t now = time(NULL);
	struct tm tm;

	snprintf(o.shape, sizeof o.shape, "bench-1b");
	snprintf(o.types_arg, sizeof o.types_arg, "q4_0,q8_0,f16,f32");
	parse_types(o.types_arg, &o);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ht:o:", lopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			kernels_help();
			return 0;
		case O_TYPE:
			if (parse_types(optarg, &o))
				return bench_usage_error(CMD, "--type '%s': expected a comma list of distinct types from "
							      "q4_0, q8_0, f16, f32, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k",
						 optarg);
			snprintf(o.types_arg, sizeof o.types_arg, "%s", optarg);
			break;
		case O_SHAPE:
			if (!optarg[0] || strlen(optarg) >= sizeof o.shape)
				return bench_usage_error(CMD, "--shape '%s' is not a shape name", optarg);
			snprintf(o.shape, sizeof o.shape, "%s", optarg);
			break;
		case O_KV:
			if (bench_parse_long(optarg, 1, 1 << 20, &v))
				return bench_usage_error(CMD, "--kv-len '%s' must be an integer from 1", optarg);
			o.kv_len = (int)v;
			break;
		case O_BATCH:
			if (bench_parse_long(optarg, 2, 4096, &v))
				return bench_usage_error(CMD, "--batch '%s' must be an integer in 2..4096", optarg);
			o.batch = (int)v;
			break;
		case O_REPS:
			if (bench_parse_long(optarg, 0, 100000, &v))
				return bench_usage_error(CMD, "--reps '%s' must be an integer in 0..100000", optarg);
			o.reps = (int)v;
			break;
		case O_REF_REPS:
			if (bench_parse_long(optarg, 0, 100000, &v))
				return bench_usage_error(CMD, "--ref-reps '%s' must be an integer in 0..100000", optarg);
			o.ref_reps = (int)v;
			break;
		case O_MIN_MS:
			if (bench_parse_double(optarg, 0, 60000, &o.min_sample_ms))
				return bench_usage_error(CMD, "--min-sample-ms '%s' must be a number in 0..60000", optarg);
			break;
		case O_FILTER: {
			char *save = NULL;

			if (strlen(optarg) >= sizeof o.filter_arg)
				return bench_usage_error(CMD, "--filter is too long");
			snprintf(o.filter_arg, sizeof o.filter_arg, "%s", optarg);
			snprintf(o.filter_buf, sizeof o.filter_buf, "%s", optarg);
			o.n_filters = 0;
			for (char *t = strtok_r(o.filter_buf, ",", &save); t && o.n_filters < MAX_FILTERS;
			     t = strtok_r(NULL, ",", &save))
				o.filters[o.n_filters++] = t;
			if (!o.n_filters)
				return bench_usage_error(CMD, "--filter needs a non-empty substring");
			break;
		}
		case O_JSON:
			o.json = true;
			break;
		case O_COUNT:
			if (strcmp(optarg, "instructions"))
				return bench_usage_error(CMD, "--count '%s': only 'instructions' can be counted", optarg);
			o.count_instr = true;
			break;
		case O_COUNT_CALLS:
			if (bench_parse_long(optarg, 1, 1000, &v))
				return bench_usage_error(CMD, "--count-calls '%s' must be an integer in 1..1000", optarg);
			o.count_calls = (int)v;
			break;
		case O_COUNT_CHILD:
			o.count_child = true;
			break;
		case O_SEED:
			if (bench_parse_long(optarg, 0, 0x7fffffffL, &v))
				return bench_usage_error(CMD, "--seed '%s' must be a non-negative integer", optarg);
			o.seed = (uint64_t)v;
			break;
		case O_LIST:
			o.list_only = true;
			break;
		case O_SYSFS:
			o.sysfs_root = optarg;
			break;
		case 't':
			if (bench_parse_long(optarg, 1, 1024, &v))
				return bench_usage_error(CMD, "--threads '%s' must be an integer in 1..1024", optarg);
			o.threads = (int)v;
			break;
		case 'o':
			o.out_path = optarg;
			break;
		default:
			return bench_bad_option(CMD, argv, optind - 1);
		}
	}
	if (optind < argc)
		return bench_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (o.reps == 0 && !o.count_instr && !o.count_child && !o.list_only)
		return bench_usage_error(CMD, "--reps 0 times nothing; it is only useful with --count instructions");

	if (o.count_instr && count_unsupported())
		return bench_fail(CMD, "--count instructions: %s", count_unsupported());
	if (eng_shape_load(o.shape, &sh, err, sizeof err))
		return bench_usage_error(CMD, "%s", err);
	if (o.kv_len == 0)
		o.kv_len = sh.cfg.seq_len > 0 && sh.cfg.seq_len < 512 ? sh.cfg.seq_len : 512;
	spec = (struct eng_kbench_spec){ .types = o.types, .n_types = o.n_types, .n_tok = o.batch, .kv_len = o.kv_len };
	n_all = eng_kbench_cases(&sh.cfg, &spec, &all, err, sizeof err);
	if (n_all < 0)
		return bench_usage_error(CMD, "%s", err);
	cs = calloc((size_t)n_all, sizeof *cs);
	if (!cs) {
		free(all);
		return bench_fail(CMD, "out of memory");
	}
	for (int i = 0; i < n_all; i++)
		if (case_selected(&o, &all[i]))
			cs[n++].c = all[i];
	if (n == 0) {
		fprintf(stderr, "joulebench kernels: no kernel of shape %s matches --filter '%s'; the kernels are:\n",
			o.shape, o.filter_arg);
		for (int i = 0; i < n_all; i++)
			fprintf(stderr, "  %s\n", all[i].name);
		free(all);
		free(cs);
		return 2;
	}
	free(all);
	all = NULL;

	if (o.list_only) {
		for (int i = 0; i < n; i++)
			printf("%-30s %-10s %-20s rows %-6lld cols %-6lld n_tok %-4d bytes %.0f flops %.0f\n", cs[i].c.name,
			       cs[i].c.op, cs[i].c.tensors[0] ? cs[i].c.tensors : "-", (long long)cs[i].c.rows,
			       (long long)cs[i].c.cols, cs[i].c.n_tok, cs[i].c.bytes_per_call, cs[i].c.flops_per_call);
		goto out;
	}
	if (o.count_child) {
		rc = count_child(cs, n, &o);
		goto out;
	}

	gmtime_r(&now, &tm);
	strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(bwm.reason, sizeof bwm.reason, "not measured (--reps 0)");

	if (o.reps > 0) {
		/* Counters and energy: used when this machine has them, otherwise null + why. */
		if (pwr_counters_open(NULL, 0, &env.ctr, env.ctr_reason, sizeof env.ctr_reason) < 0) {
			env.ctr = NULL;
			if (!env.ctr_reason[0])
				snprintf(env.ctr_reason, sizeof env.ctr_reason, "hardware counters could not be opened");
		}
		{
			struct pwr_opts po = { .sysfs_root = o.sysfs_root };
			char perr[256] = "";

			if (pwr_open(&po, &env.pwr, perr, sizeof perr) < 0) {
				env.pwr = NULL;
				snprintf(env.energy_reason, sizeof env.energy_reason, "no energy probe: %s", perr);
			} else {
				int p = pwr_primary_domain(env.pwr);
				const struct pwr_domain_desc *d = p >= 0 ? pwr_domain(env.pwr, p) : NULL;

				if (!d) {
					snprintf(env.energy_reason, sizeof env.energy_reason, "no energy probe is available%s%s",
						 pwr_n_unavailable(env.pwr) ? ": " : "",
						 pwr_n_unavailable(env.pwr) ? pwr_unavailable(env.pwr, 0)->reason : "");
				} else if (d->kind != PWR_MEASURED) {
					snprintf(env.energy_reason, sizeof env.energy_reason,
						 "only an estimate is available (%s); per-kernel energy needs a measured probe",
						 d->id);
				} else if (pwr_sampler_start(env.pwr, perr, sizeof perr) < 0) {
					snprintf(env.energy_reason, sizeof env.energy_reason, "sampler: %s", perr);
				} else {
					env.primary = p;
				}
			}
		}

		/* The bandwidth bound: a streaming read far larger than the caches. */
		struct eng_cache_info ci;

		eng_cache_info(NULL, &ci);
		bwm.fast_gbs = eng_membw_read_gbs(o.threads, eng_membw_dram_bytes(&ci), err, sizeof err);
		if (bwm.fast_gbs > 0 && o.threads != 1 && o.ref_reps > 0)
			bwm.ref_gbs = eng_membw_read_gbs(1, eng_membw_dram_bytes(&ci), err, sizeof err);
		else if (o.threads == 1)
			bwm.ref_gbs = bwm.fast_gbs;
		if (bwm.fast_gbs <= 0) {
			bwm.fast_gbs = bwm.ref_gbs = 0;
			snprintf(bwm.reason, sizeof bwm.reason, "memory bandwidth could not be measured: %.250s", err);
		}
		err[0] = '\0';
		for (int i = 0; i < n; i++) {
			struct eng_kbench *k = NULL;

			if (isatty(STDERR_FILENO))
				fprintf(stderr, "\r[%d/%d] %-40s", i + 1, n, cs[i].c.name);
			if (eng_kbench_prepare(&cs[i].c, o.threads, o.seed, &k, err, sizeof err)) {
				rc = bench_fail(CMD, "%s", err);
				goto out;
			}
			if (measure(k, false, o.reps, o.min_sample_ms, &env, &cs[i].simd, o.seed + (uint64_t)i) ||
			    (o.ref_reps > 0 && cs[i].c.has_ref &&
			     measure(k, true, o.ref_reps, o.min_sample_ms, &env, &cs[i].ref, o.seed + (uint64_t)i))) {
				eng_kbench_free(k);
				rc = bench_fail(CMD, "out of memory");
				goto out;
			}
			eng_kbench_free(k);
		}
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "\r%60s\r", "");
	}
	if (o.count_instr) {
		rc = count_instructions(cs, n, &o);
		if (rc)
			goto out;
	}
	for (int i = 0; i < n; i++) {
		struct kresult *rs[2] = { &cs[i].simd, &cs[i].ref };

		for (int j = 0; j < 2; j++) {
			if (rs[j]->instr_ok)
				continue;
			if (env.ctr && rs[j]->counters_ok) {
				for (int q = 0; q < rs[j]->counters.n; q++) {
					if (rs[j]->counters.v[q].valid && !strcmp(rs[j]->counters.v[q].name, "instructions")) {
						rs[j]->instr_ok = true;
						rs[j]->instr = rs[j]->counters.v[q].value;
						snprintf(rs[j]->instr_source, sizeof rs[j]->instr_source, "%s",
							 pwr_counters_source(env.ctr));
					}
				}
			}
			if (!rs[j]->instr_ok)
				snprintf(rs[j]->instr_reason, sizeof rs[j]->instr_reason, "%s%s",
					 o.count_instr ? "not counted" : "not counted: run with --count instructions",
					 !o.count_instr && !env.ctr && env.ctr_reason[0] ? " (no hardware counters)" : "");
		}
		/* In count-only mode the twin exists only through its count. */
		if (o.reps == 0 && cs[i].ref.instr_ok)
			cs[i].ref.ran = false;
	}

	{
		cJSON *root = result_json(cs, n, &o, &sh, &bwm, created);
		char *text = root ? cJSON_Print(root) : NULL;

		cJSON_Delete(root);
		if (!text) {
			rc = bench_fail(CMD, "out of memory");
			goto out;
		}
		if (o.out_path) {
			int wrc = write_atomic(o.out_path, text);

			if (wrc) {
				free(text);
				rc = bench_fail(CMD, "cannot write %s: %s", o.out_path, strerror(-wrc));
				goto out;
			}
		}
		if (o.json)
			printf("%s\n", text);
		else
			print_table(stdout, cs, n, bwm.fast_gbs);
		free(text);
	}
	if (!o.json) {
		if (env.ctr == NULL && o.reps > 0)
			printf("\ncounters: %s\n", env.ctr_reason);
		if (o.reps > 0)
			printf("energy: %s\n", env.primary >= 0 ? "per call from the primary measured domain"
								 : env.energy_reason);
		if (bwm.fast_gbs > 0)
			printf("membw: %.2f GB/s read with %d thread(s) (the %%bw column's bound)\n", bwm.fast_gbs,
			       o.threads);
		else
			printf("membw: %s\n", bwm.reason);
		printf("simd: %s (ISA path %s; this CPU runs: %s), threads %d (the _ref twins run on 1 thread)\n",
		       eng_simd_name(), eng_isa_name(), eng_isa_available(), o.threads);
	}
out:
	if (env.pwr) {
		if (env.primary >= 0)
			pwr_sampler_stop(env.pwr);
		pwr_close(env.pwr);
	}
	if (env.ctr)
		pwr_counters_close(env.ctr);
	for (int i = 0; cs && i < n; i++) {
		free(cs[i].simd.samples_ns);
		free(cs[i].ref.samples_ns);
	}
	free(cs);
	return rc;
}
