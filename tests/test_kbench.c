/*
 * tests/test_kbench.c — kernel microbenchmarks: the case list at a shape's real sizes with its
 * traffic/operation model, deterministic inputs, every fast kernel against its `_ref` twin through
 * the benchmark harness, inputs that stay valid over many calls, and the end-to-end check that
 * `joulebench regress` on callgrind instruction counts catches a deliberately slowed kernel build
 * (-DJB_KERNEL_SLOWDOWN) and does not flag an unchanged one.
 */
#include "helpers/testutil.h"

#include "bench/cli.h"
#include "bench/commands.h"
#include "engine/engine.h"
#include "power/backend.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct eng_kbench_case *find_case(const struct eng_kbench_case *v, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	fail_msg("no kernel case %s", name);
	return NULL;
}

/* bench-1b: dim 2048, 32 heads, 8 kv heads (head_dim 64, kv_dim 512), ffn 5632, vocab 32000. */
static struct eng_config bench_1b(void)
{
	return (struct eng_config){ .dim = 2048, .hidden_dim = 5632, .n_layers = 16, .n_heads = 32, .n_kv_heads = 8,
				    .vocab_size = 32000, .seq_len = 2048, .head_dim = 64, .rope_dim = 64,
				    .rope_theta = 10000, .norm_eps = 1e-5f };
}

static void test_cases_bench_1b(void **state)
{
	const int types[] = { ENG_TYPE_Q4_0, ENG_TYPE_F16 };
	struct eng_config cfg = bench_1b();
	struct eng_kbench_spec s = { .types = types, .n_types = 2, .n_tok = 64, .kv_len = 512 };
	struct eng_kbench_case *v = NULL;
	const struct eng_kbench_case *c;
	char err[256] = "";
	int n;

	(void)state;
	n = eng_kbench_cases(&cfg, &s, &v, err, sizeof err);
	/* 2 types x (matvec, matmul) x 5 sizes + quantize, rmsnorm, rope, softmax, swiglu, attention */
	assert_int_equal(n, 2 * 2 * 5 + 6);

	c = find_case(v, n, "matvec.q4_0.attn_q");
	assert_int_equal(c->rows, 2048);
	assert_int_equal(c->cols, 2048);
	assert_int_equal(c->n_tok, 1);
	assert_string_equal(c->tensors, "attn_q,attn_output");
	/* 2048 rows x 64 blocks x 18 bytes + x and y as floats; 2 * 2048 * 2048 operations. */
	assert_float_equal(c->bytes_per_call, 2048.0 * 64 * 18 + 4.0 * (2048 + 2048), 0.5);
	assert_float_equal(c->flops_per_call, 2.0 * 2048 * 2048, 0.5);

	c = find_case(v, n, "matvec.q4_0.attn_k");
	assert_int_equal(c->rows, 512);
	assert_int_equal(c->cols, 2048);
	assert_string_equal(c->tensors, "attn_k,attn_v");
	c = find_case(v, n, "matmul.f16.ffn_up");
	assert_int_equal(c->rows, 5632);
	assert_int_equal(c->cols, 2048);
	assert_int_equal(c->n_tok, 64);
	assert_float_equal(c->bytes_per_call, 5632.0 * 2048 * 2 + 4.0 * 64 * (2048 + 5632), 0.5);
	assert_float_equal(c->flops_per_call, 2.0 * 5632 * 2048 * 64, 0.5);
	c = find_case(v, n, "matvec.f16.ffn_down");
	assert_int_equal(c->rows, 2048);
	assert_int_equal(c->cols, 5632);
	c = find_case(v, n, "matvec.q4_0.output");
	assert_int_equal(c->rows, 32000);

	c = find_case(v, n, "attention.f32.kv512");
	assert_int_equal(c->n_heads, 32);
	assert_int_equal(c->n_kv_heads, 8);
	assert_int_equal(c->head_dim, 64);
	/* K and V of one layer: 2 x 512 positions x 512 floats, plus q and out (2048 floats each). */
	assert_float_equal(c->bytes_per_call, 2.0 * 4 * 512 * 512 + 8.0 * 2048, 0.5);
	c = find_case(v, n, "quantize.q8_0");
	assert_false(c->has_ref);
	assert_float_equal(c->bytes_per_call, 4.0 * 2048 + 64 * 34, 0.5);
	c = find_case(v, n, "softmax.f32");
	assert_int_equal(c->cols, 512);
	free(v);
}

static void test_cases_errors(void **state)
{
	const int q4[] = { ENG_TYPE_Q4_0 }, bad[] = { 9 /* Q8_1 */ };
	struct eng_config cfg = bench_1b(), small;
	struct eng_kbench_spec s = { .types = q4, .n_types = 1, .n_tok = 64, .kv_len = 512 };
	struct eng_kbench_case *v = NULL;
	char err[256];

	(void)state;
	s.n_tok = 1;
	assert_int_equal(eng_kbench_cases(&cfg, &s, &v, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "batch 1"));
	s.n_tok = 64;
	s.kv_len = 4096;
	assert_int_equal(eng_kbench_cases(&cfg, &s, &v, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "KV length 4096"));
	s.kv_len = 512;
	s.types = bad;
	assert_int_equal(eng_kbench_cases(&cfg, &s, &v, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "type 9"));
	/* stories260k-like sizes cannot hold 32-element blocks. */
	small = cfg;
	small.dim = 64;
	small.hidden_dim = 172;
	small.n_heads = 8;
	small.n_kv_heads = 4;
	small.head_dim = 8;
	s.types = q4;
	assert_int_equal(eng_kbench_cases(&small, &s, &v, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "multiples of 32"));
	assert_null(v);
}

/* ||a - b|| / ||b|| */
static double rel_err(const float *a, const float *b, size_t n)
{
	double d = 0, r = 0;

	for (size_t i = 0; i < n; i++) {
		d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		r += (double)b[i] * b[i];
	}
	return r > 0 ? sqrt(d / r) : sqrt(d);
}

static void test_fast_matches_ref(void **state)
{
	const int types[] = { ENG_TYPE_Q4_0, ENG_TYPE_Q8_0, ENG_TYPE_F16, ENG_TYPE_F32 };
	struct eng_config cfg = { .dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6,
				  .vocab_size = 1024, .seq_len = 256, .head_dim = 48, .rope_dim = 48,
				  .rope_theta = 10000, .norm_eps = 1e-5f };
	struct eng_kbench_spec s = { .types = types, .n_types = 4, .n_tok = 4, .kv_len = 100 };
	struct eng_kbench_case *v = NULL;
	char err[256];
	int n;

	(void)state;
	n = eng_kbench_cases(&cfg, &s, &v, err, sizeof err);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		struct eng_kbench *fast = NULL, *ref = NULL;
		size_t cap = 1 << 20, nf, nr;
		float *yf = malloc(cap * sizeof *yf), *yr = malloc(cap * sizeof *yr), *y0 = malloc(cap * sizeof *y0);
		double e;

		assert_non_null(yf);
		assert_non_null(yr);
		assert_non_null(y0);
		assert_int_equal(eng_kbench_prepare(&v[i], 2, 42, &fast, err, sizeof err), 0);
		assert_int_equal(eng_kbench_prepare(&v[i], 2, 42, &ref, err, sizeof err), 0);
		/* Before the call the output is zero (or, for in-place kernels, the input): one call
		 * must change it, so a harness that does nothing cannot pass as "fast == ref". SwiGLU
		 * is exempt: its inputs sit on a fixed point by design (see engine/kbench.c). */
		nf = eng_kbench_output(fast, y0, cap);
		eng_kbench_run(fast, false);
		eng_kbench_run(ref, true);
		eng_kbench_output(fast, yf, cap);
		nr = eng_kbench_output(ref, yr, cap);
		assert_int_equal(nf, nr);
		if (v[i].kind != ENG_KB_SWIGLU && rel_err(yf, y0, nf) < 1e-3)
			fail_msg("%s: one call did not change the output", v[i].name);
		assert_true(nf > 0 && nf <= cap);
		for (size_t j = 0; j < nf; j++)
			assert_true(isfinite(yf[j]));
		e = rel_err(yf, yr, nf);
		if (e > 1e-3)
			fail_msg("%s: fast vs ref relative error %g > 1e-3", v[i].name, e);
		eng_kbench_free(fast);
		eng_kbench_free(ref);
		free(yf);
		free(yr);
		free(y0);
	}
	free(v);
}

static void test_deterministic_inputs(void **state)
{
	const int q8[] = { ENG_TYPE_Q8_0 };
	struct eng_config cfg = bench_1b();
	struct eng_kbench_spec s = { .types = q8, .n_types = 1, .n_tok = 2, .kv_len = 64 };
	struct eng_kbench_case *v = NULL;
	struct eng_kbench *a = NULL, *b = NULL, *c = NULL;
	static float ya[2048], yb[2048], yc[2048];
	char err[256];
	int n;

	(void)state;
	n = eng_kbench_cases(&cfg, &s, &v, err, sizeof err);
	assert_true(n > 0);
	const struct eng_kbench_case *k = find_case(v, n, "matvec.q8_0.attn_q");
	assert_int_equal(eng_kbench_prepare(k, 1, 5, &a, err, sizeof err), 0);
	assert_int_equal(eng_kbench_prepare(k, 1, 5, &b, err, sizeof err), 0);
	assert_int_equal(eng_kbench_prepare(k, 1, 6, &c, err, sizeof err), 0);
	eng_kbench_run(a, false);
	eng_kbench_run(b, false);
	eng_kbench_run(c, false);
	assert_int_equal(eng_kbench_output(a, ya, 2048), 2048);
	eng_kbench_output(b, yb, 2048);
	eng_kbench_output(c, yc, 2048);
	assert_memory_equal(ya, yb, sizeof ya);
	assert_true(memcmp(ya, yc, sizeof ya) != 0);
	eng_kbench_free(a);
	eng_kbench_free(b);
	eng_kbench_free(c);
	free(v);
}

/* In-place kernels are called thousands of times per sample: their data must not drift into
 * denormals, zeros or infinities. */
static void test_inplace_inputs_stay_valid(void **state)
{
	const int f32[] = { ENG_TYPE_F32 };
	struct eng_config cfg = bench_1b();
	struct eng_kbench_spec s = { .types = f32, .n_types = 1, .n_tok = 2, .kv_len = 256 };
	struct eng_kbench_case *v = NULL;
	static float y0[8192], y1[8192];
	const char *names[] = { "swiglu.f32", "softmax.f32", "rope.f32" };
	char err[256];
	int n;

	(void)state;
	n = eng_kbench_cases(&cfg, &s, &v, err, sizeof err);
	for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) {
		const struct eng_kbench_case *k = find_case(v, n, names[t]);
		struct eng_kbench *kb = NULL;
		size_t m;

		assert_int_equal(eng_kbench_prepare(k, 1, 3, &kb, err, sizeof err), 0);
		eng_kbench_run(kb, false);
		m = eng_kbench_output(kb, y0, 8192);
		for (int i = 0; i < 5000; i++)
			eng_kbench_run(kb, i & 1);
		eng_kbench_output(kb, y1, 8192);
		for (size_t j = 0; j < m; j++) {
			if (!isnormal(y1[j]))
				fail_msg("%s: value %zu became %g after 5000 calls", names[t], j, y1[j]);
		}
		if (!strcmp(names[t], "swiglu.f32"))
			assert_true(rel_err(y1, y0, m) < 1e-3); /* the stable fixed point holds */
		eng_kbench_free(kb);
	}
	free(v);
}

/* ---- hardware counters through `joulebench kernels` (fake perf_event fds) ---------------- */

/* The generated build/buildinfo.c is linked into joulebench only; cmd_kernels names it. */
const struct bench_build_info bench_build = { "test", "test", "cc", "", 0, 0 };

/* Each read of a fake counter advances it by a fixed step: instructions 3000, cycles 2000, the
 * rest 10, never multiplexed. Between the reads around the timed calls one step passes. */
static int fake_n;
static uint64_t fake_step[16], fake_value[16];
static int fake_mux; /* 1: each counter ran half the time it was enabled (multiplexed) */

static int fake_open(void *attr, int cpu)
{
	const struct perf_event_attr *a = attr;

	(void)cpu;
	if (fake_n == 16)
		return -EMFILE;
	fake_step[fake_n] = a->type == PERF_TYPE_HARDWARE && a->config == PERF_COUNT_HW_INSTRUCTIONS ? 3000
			    : a->type == PERF_TYPE_HARDWARE && a->config == PERF_COUNT_HW_CPU_CYCLES ? 2000
												    : 10;
	fake_value[fake_n] = 0;
	return 300 + fake_n++;
}

static ssize_t fake_read(int fd, void *buf, size_t n)
{
	int i = fd - 300;
	uint64_t rf[3];

	if (i < 0 || i >= fake_n || n != sizeof rf)
		return -1;
	fake_value[i] += fake_step[i];
	rf[0] = fake_value[i];
	rf[1] = rf[2] = fake_value[i]; /* enabled == running: not multiplexed */
	if (fake_mux)
		rf[2] = fake_value[i] / 2; /* running half the enabled time: values scale x2 */
	memcpy(buf, rf, sizeof rf);
	return (ssize_t)sizeof rf;
}

static int fake_close(int fd)
{
	(void)fd;
	return 0;
}

static void counters_per_call(int mux)
{
	static const struct pwr_perf_ops ops = { fake_open, fake_read, fake_close };
	char *dir = tu_mkdtemp(), path[512], *text;
	char *argv[] = { "kernels", "--shape", "stories15m", "--type", "q4_0", "--filter", "rmsnorm", "--reps", "3",
			 "--ref-reps", "0", "--min-sample-ms", "0.2", "-o", path, NULL };
	const cJSON *k, *ct;
	cJSON *root;
	double calls;
	int rc;

	assert_non_null(dir);
	snprintf(path, sizeof path, "%s/k.json", dir);
	fake_n = 0;
	fake_mux = mux;
	pwr_counters_set_ops(&ops);
	rc = cmd_kernels((int)(sizeof argv / sizeof argv[0]) - 1, argv);
	pwr_counters_set_ops(NULL);
	assert_int_equal(rc, 0);
	text = tu_read_file(path, NULL);
	assert_non_null(text);
	root = cJSON_Parse(text);
	free(text);
	assert_non_null(root);
	k = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "kernels"), 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "name")), "rmsnorm.f32");
	calls = cJSON_GetNumberValue(cJSON_GetObjectItem(k, "calls_per_sample")) * 3;
	ct = cJSON_GetObjectItem(k, "counters");
	assert_true(cJSON_IsObject(ct));
	/* One step of each counter over all timed calls, divided per call (scaled x2 when each
	 * counter ran half the enabled time); IPC = 3000 / 2000 either way. */
	double scale = mux ? 2.0 : 1.0;
	assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(ct, "instructions")), scale * 3000 / calls,
			   1e-9);
	assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(ct, "cycles")), scale * 2000 / calls, 1e-9);
	assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(ct, "ipc")), 1.5, 1e-9);
	assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(k, "instructions_per_call")),
			   scale * 3000 / calls, 1e-9);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "instructions_source")), "perf_event");
	/* Multiplexing is reported, not hidden. */
	assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(ct, "multiplexed")), mux);
	assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(ct, "enabled_ratio_min")), mux ? 0.5 : 1.0,
			   0.01);
	fake_mux = 0;
	cJSON_Delete(root);
	tu_rmtree(dir);
	free(dir);
}

static void test_counters_per_call(void **state)
{
	(void)state;
	counters_per_call(0);
}

static void test_counters_multiplexed(void **state)
{
	(void)state;
	counters_per_call(1);
}

/* ---- energy per call through `joulebench kernels` (a fake RAPL zone at a known wattage) --- */

#define FAKE_WATTS 20.0
static bool energy_fd[1024];
static int64_t energy_t0_ns;

static int hook_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t l = strlen(path);

	if (fd < 0)
		return -errno;
	if (fd < 1024)
		energy_fd[fd] = l >= 9 && !strcmp(path + l - 9, "energy_uj");
	return fd;
}

/* energy_uj answers 1 J + FAKE_WATTS x the time since the test began, read at this moment. */
static ssize_t hook_pread(int fd, void *buf, size_t n, off_t off)
{
	if (fd >= 0 && fd < 1024 && energy_fd[fd] && off == 0) {
		char text[32];
		double uj = 1e6 + FAKE_WATTS * (double)(pwr_now_ns() - energy_t0_ns) / 1e3;
		int len = snprintf(text, sizeof text, "%llu\n", (unsigned long long)uj);

		if ((size_t)len > n)
			len = (int)n;
		memcpy(buf, text, (size_t)len);
		return len;
	}
	return pread(fd, buf, n, off);
}

static void test_energy_per_call(void **state)
{
	static const struct pwr_powercap_io io = { hook_open, hook_pread };
	char *dir = tu_mkdtemp(), path[512], *text;
	char *argv[] = { "kernels", "--shape", "stories15m", "--type", "q4_0", "--filter", "rmsnorm", "--reps", "5",
			 "--ref-reps", "0", "--min-sample-ms", "4", "--sysfs-root", "tests/fixtures/sysfs/amd-zen",
			 "-o", path, NULL };
	const cJSON *k;
	cJSON *root;
	double calls, window_s, j;
	int rc;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof path, "%s/k.json", dir);
	energy_t0_ns = pwr_now_ns();
	pwr_powercap_set_io(&io);
	rc = cmd_kernels((int)(sizeof argv / sizeof argv[0]) - 1, argv);
	pwr_powercap_set_io(NULL);
	assert_int_equal(rc, 0);
	text = tu_read_file(path, NULL);
	assert_non_null(text);
	root = cJSON_Parse(text);
	free(text);
	assert_non_null(root);
	k = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "kernels"), 0);
	calls = cJSON_GetNumberValue(cJSON_GetObjectItem(k, "calls_per_sample")) * 5;
	window_s = cJSON_GetNumberValue(cJSON_GetObjectItem(k, "energy_window_ms")) / 1e3;
	j = cJSON_GetNumberValue(cJSON_GetObjectItem(k, "energy_j_per_call"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "energy_source")), "powercap:package-0");
	/* 20 W over the timed window, shared by its calls (the sampler interpolates linearly). */
	assert_true(window_s > 0.01);
	assert_float_equal(j * calls, FAKE_WATTS * window_s, 0.02 * FAKE_WATTS * window_s);
	cJSON_Delete(root);
	tu_rmtree(dir);
	free(dir);
}

/* ---- the slowed build is caught by instruction counts ------------------------------------ */

/* Runs a shell command; prints its output when the exit code is not `want`. Returns the code. */
static int run_logged(const char *cmd, int timeout_s, int want)
{
	char *out = NULL, *err = NULL;
	int rc = tu_run(cmd, timeout_s, &out, &err);

	if (rc != want)
		fprintf(stderr, "command: %s\nexit %d\nstdout: %.3000s\nstderr: %.3000s\n", cmd, rc, out ? out : "",
			err ? err : "");
	free(out);
	free(err);
	return rc;
}

static void test_slowdown_caught_by_instruction_counts(void **state)
{
	/* Two copies built without AVX-512 (valgrind cannot execute it), one with the slowdown. The
	 * builds live under build/ (ignored by git) and are incremental across test runs. */
	/* flock: test runs started side by side (make test next to make asan) share these builds. */
	const char *make = "mkdir -p build && flock build/.cg.lock env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "
			   "make -s -j2 OPT=-O2 ARCH=x86-64-v3 EXTRA_CFLAGS= EXTRA_LDFLAGS= ";
	const char *kern = "kernels --shape stories15m --type q4_0 --filter matvec.q4_0.attn_q,matmul.q4_0.attn_q "
			   "--batch 4 --reps 0 --ref-reps 0 --count instructions";
	char cmd[2048], *dir;
	int rc;

	(void)state;
#if !defined(__x86_64__)
	(void)make, (void)kern, (void)cmd, (void)dir, (void)rc, (void)run_logged;
	TU_SKIP("the callgrind build uses ARCH=x86-64-v3, an x86-64 target");
#else
	if (tu_run("valgrind --version", 30, NULL, NULL) != 0)
		TU_SKIP("valgrind is not installed (apt install valgrind): instruction counts need callgrind");
	if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
		TU_SKIP("this CPU lacks AVX2/FMA, which the x86-64-v3 build needs");
	snprintf(cmd, sizeof cmd, "%s BUILD=build/cg BIN=build/cg/joulebench build/cg/joulebench", make);
	assert_int_equal(run_logged(cmd, 600, 0), 0);
	snprintf(cmd, sizeof cmd,
		 "%s BUILD=build/cg-slow BIN=build/cg-slow/joulebench EXTRA_CFLAGS=-DJB_KERNEL_SLOWDOWN "
		 "build/cg-slow/joulebench",
		 make);
	assert_int_equal(run_logged(cmd, 600, 0), 0);

	dir = tu_mkdtemp();
	assert_non_null(dir);
	snprintf(cmd, sizeof cmd, "build/cg/joulebench %s -o %s/a.json >/dev/null", kern, dir);
	assert_int_equal(run_logged(cmd, 300, 0), 0);
	snprintf(cmd, sizeof cmd, "build/cg/joulebench %s -o %s/b.json >/dev/null", kern, dir);
	assert_int_equal(run_logged(cmd, 300, 0), 0);
	snprintf(cmd, sizeof cmd, "build/cg-slow/joulebench %s -o %s/slow.json >/dev/null", kern, dir);
	assert_int_equal(run_logged(cmd, 300, 0), 0);

	/* Normal vs normal: identical counts, exit 0. Slowed vs normal: exit 1. */
	snprintf(cmd, sizeof cmd, "\"$JB\" regress --metric instructions %s/a.json %s/b.json", dir, dir);
	assert_int_equal(run_logged(cmd, 60, 0), 0);
	snprintf(cmd, sizeof cmd, "\"$JB\" regress --metric instructions --format term %s/a.json %s/slow.json "
		 "| grep -q 'matvec.q4_0.attn_q \\[simd\\].*regressed'", dir, dir);
	assert_int_equal(run_logged(cmd, 60, 0), 0);
	snprintf(cmd, sizeof cmd, "\"$JB\" regress --metric instructions %s/a.json %s/slow.json", dir, dir);
	rc = run_logged(cmd, 60, 1);
	assert_int_equal(rc, 1);
	tu_rmtree(dir);
	free(dir);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases_bench_1b),
		cmocka_unit_test(test_cases_errors),
		cmocka_unit_test(test_fast_matches_ref),
		cmocka_unit_test(test_deterministic_inputs),
		cmocka_unit_test(test_inplace_inputs_stay_valid),
		cmocka_unit_test(test_counters_per_call),
		cmocka_unit_test(test_counters_multiplexed),
		cmocka_unit_test(test_energy_per_call),
		cmocka_unit_test(test_slowdown_caught_by_instruction_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
